//! The agent directory is public and never shows credits, webhooks or
//! suspended agents; search, reputation filter, sorting and paging work.

use serde_json::json;

use crate::{
    cycle::approved_task,
    support::{ADMIN_KEY, TestApp},
};

#[tokio::test]
async fn public_profile_hides_credits_and_webhook() {
    let app = TestApp::spawn().await;
    let agent = app
        .register_with(json!({"name": "hooked", "good_at": "Rust, SQL",
            "webhook_url": "https://example.com/hook", "webhook_secret": "s3cret"}))
        .await;
    let profile = app
        .get(&format!("/v1/agents/{}", agent.id), None)
        .await
        .expect(200);
    let body = profile.body.as_object().unwrap();
    assert_eq!(body["id"], agent.id.as_str());
    assert_eq!(body["name"], "hooked");
    assert_eq!(body["good_at"], "Rust, SQL");
    for hidden in [
        "credits",
        "webhook_url",
        "webhook_secret",
        "webhook_secret_set",
        "suspended",
        "tasks_posted",
    ] {
        assert!(!body.contains_key(hidden), "profile shows {hidden}");
    }
    let text = profile.body.to_string();
    assert!(!text.contains("example.com") && !text.contains("s3cret"));

    let listed = app.get("/v1/agents?search=rust", None).await.expect(200);
    let row = &listed.body["agents"][0];
    assert_eq!(row["id"], agent.id.as_str());
    assert!(row.get("credits").is_none() && row.get("webhook_url").is_none());

    let missing = app.get("/v1/agents/ag-unknown", None).await.expect(404);
    assert_eq!(missing.error(), "Agent not found");
}

#[tokio::test]
async fn search_filters_sorts_and_pages() {
    let app = TestApp::spawn().await;
    let poster = app.register("poster").await;
    let ml = app
        .register_with(json!({"name": "ml", "good_at": "Machine learning, PyTorch"}))
        .await;
    let busy = app
        .register_with(json!({"name": "busy", "good_at": "machine translation"}))
        .await;
    let idle = app
        .register_with(json!({"name": "idle", "good_at": "poetry"}))
        .await;
    approved_task(&app, &poster, &ml, 5, &[], json!({"rating": 5})).await;
    for _ in 0..2 {
        approved_task(&app, &poster, &busy, 5, &[], json!({"rating": 3})).await;
    }

    let found = app
        .get("/v1/agents?search=machine+learning", None)
        .await
        .expect(200);
    assert_eq!(found.body["total"], 1);
    assert_eq!(found.body["agents"][0]["id"], ml.id.as_str());

    let good = app
        .get("/v1/agents?min_reputation=4.0", None)
        .await
        .expect(200);
    let ids: Vec<&str> = good.body["agents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![ml.id.as_str()]);

    let by_rep = app.get("/v1/agents?search=machine", None).await.expect(200);
    assert_eq!(by_rep.body["agents"][0]["id"], ml.id.as_str());
    let by_work = app
        .get(
            "/v1/agents?search=machine&sort_by=tasks_completed&limit=1",
            None,
        )
        .await
        .expect(200);
    assert_eq!(by_work.body["total"], 2);
    assert_eq!(by_work.body["agents"].as_array().unwrap().len(), 1);
    assert_eq!(by_work.body["agents"][0]["id"], busy.id.as_str());
    assert_eq!(by_work.body["agents"][0]["tasks_completed"], 2);
    let second = app
        .get(
            "/v1/agents?search=machine&sort_by=tasks_completed&limit=1&offset=1",
            None,
        )
        .await
        .expect(200);
    assert_eq!(second.body["agents"][0]["id"], ml.id.as_str());

    // The platform agent is never listed; everyone else is.
    let all = app.get("/v1/agents?limit=100", None).await.expect(200);
    assert_eq!(all.body["total"], 4);
    assert!(
        !all.body
            .to_string()
            .contains(app.config.platform_agent_id.as_str())
    );
    assert!(all.body.to_string().contains(&idle.id));

    for bad in [
        "limit=0",
        "limit=101",
        "offset=-1",
        "sort_by=credits",
        "min_reputation=abc",
    ] {
        let resp = app
            .get(&format!("/v1/agents?{bad}"), None)
            .await
            .expect(400);
        assert!(!resp.error().is_empty());
    }
    app.assert_conservation().await;
}

#[tokio::test]
async fn suspended_agents_leave_the_directory_but_keep_a_profile() {
    let app = TestApp::spawn().await;
    let agent = app
        .register_with(json!({"name": "gone", "good_at": "spam"}))
        .await;
    app.post(
        "/v1/admin/agents/suspend",
        Some(ADMIN_KEY),
        json!({"agent_id": agent.id, "suspended": true}),
    )
    .await
    .expect(200);
    let listed = app.get("/v1/agents?search=spam", None).await.expect(200);
    assert_eq!(listed.body["total"], 0);
    app.get(&format!("/v1/agents/{}", agent.id), None)
        .await
        .expect(200);
}

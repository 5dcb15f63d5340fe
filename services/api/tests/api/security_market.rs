//! Nobody reads other posters' work without an operator's say-so, system work
//! never mints credits, outsiders cannot tell a hidden task from a missing
//! one, and every state-changing route has a limit.

use pinchwork_common::market::{Market, MatchOutcome};
use pinchwork_testkit::Agent;
use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{ADMIN_KEY, TestApp};

fn market(app: &TestApp) -> Market {
    Market::new(app.pool.clone(), app.config.clone())
}

/// Registers an agent that asks for system tasks; `approve` has an operator approve it.
async fn infra(app: &TestApp, name: &str, approve: bool) -> Agent {
    let agent = app
        .register_with(json!({ "name": name, "accepts_system_tasks": true }))
        .await;
    if approve {
        let r = app
            .post(
                "/v1/admin/agents/infra",
                Some(ADMIN_KEY),
                json!({ "agent_id": agent.id, "approved": true }),
            )
            .await
            .expect(200);
        assert_eq!(r.body["infra_approved"], true);
    }
    agent
}

async fn pickup_next(app: &TestApp, agent: &Agent) -> Value {
    app.post("/v1/tasks/pickup", Some(&agent.key), json!({}))
        .await
        .body
}

async fn grants(app: &TestApp) -> (i64, i64) {
    sqlx::query_as(
        "SELECT COALESCE(sum(amount), 0)::bigint, count(*) FILTER (WHERE task_id IS NOT NULL)
         FROM ledger WHERE kind = 'grant'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn opting_in_alone_shows_no_one_else_s_tasks() {
    let app = TestApp::spawn().await;
    let snoop = infra(&app, "snoop", false).await;
    let poster = app.register("poster").await;
    let worker = app.register("worker").await;
    let task = app
        .post(
            "/v1/tasks",
            Some(&poster.key),
            json!({"need": "Review the merger", "context": "SECRET terms", "max_credits": 10}),
        )
        .await
        .expect(201)
        .body["task_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(
        market(&app)
            .handle_task_created(&task.as_str().into())
            .await
            .unwrap(),
        MatchOutcome::SystemTaskSpawned,
        "no approved infra agent: the built-in matcher routes"
    );
    app.pickup(&worker, &task).await.expect(200);
    app.deliver(&worker, &task, json!({"result": "SECRET findings"}))
        .await
        .expect(200);
    let got = pickup_next(&app, &snoop).await;
    assert!(
        !got.to_string().contains("SECRET"),
        "an unapproved agent got {got}"
    );
    app.assert_conservation().await;
}

#[tokio::test]
async fn private_tasks_never_reach_approved_infra_agents() {
    let app = TestApp::spawn().await;
    let infra = infra(&app, "infra", true).await;
    let poster = app.register("poster").await;
    let worker = app.register("worker").await;
    let created = app
        .post(
            "/v1/tasks",
            Some(&poster.key),
            json!({"need": "Audit", "context": "SECRET", "max_credits": 10, "private": true}),
        )
        .await
        .expect(201);
    let task = created.body["task_id"].as_str().unwrap().to_string();
    let shown = app
        .get(&format!("/v1/tasks/{task}"), Some(&poster.key))
        .await
        .expect(200);
    assert_eq!(shown.body["private"], true);
    assert_ne!(
        market(&app)
            .handle_task_created(&task.as_str().into())
            .await
            .unwrap(),
        MatchOutcome::SystemTaskSpawned
    );
    app.pickup(&worker, &task).await.expect(200);
    app.deliver(&worker, &task, json!({"result": "SECRET result"}))
        .await
        .expect(200);
    let got = pickup_next(&app, &infra).await;
    assert!(got["system_task_type"].is_null(), "got {got}");

    // The same task without `private` goes to the approved infra agent.
    let open = app.post_task(&poster, "Audit in the open", 10).await;
    assert_eq!(
        market(&app)
            .handle_task_created(&open.as_str().into())
            .await
            .unwrap(),
        MatchOutcome::SystemTaskSpawned
    );
    assert_eq!(
        pickup_next(&app, &infra).await["system_task_type"],
        "match_agents"
    );
    app.assert_conservation().await;
}

#[tokio::test]
async fn system_work_is_paid_by_the_platform_and_cancelling_repays_it() {
    let app = TestApp::spawn().await;
    let infra = infra(&app, "infra", true).await;
    let poster = app.register("poster").await;
    let before = grants(&app).await;
    let platform_before = platform_balance(&app).await;
    for i in 0..3 {
        let task = app.post_task(&poster, &format!("Job {i}"), 10).await;
        market(&app)
            .handle_task_created(&task.as_str().into())
            .await
            .unwrap();
        let matching = pickup_next(&app, &infra).await;
        assert_eq!(matching["system_task_type"], "match_agents");
        app.deliver(
            &infra,
            matching["task_id"].as_str().unwrap(),
            json!({"result": json!({"ranked_agents": []}).to_string()}),
        )
        .await
        .expect(200);
        app.act(&poster, &task, "cancel", Value::Null)
            .await
            .expect(200);
    }
    assert_eq!(app.balance(&infra).await, 100 + 3 * 3);
    assert_eq!(
        app.balance(&poster).await,
        100 - 3 * 3,
        "a task that never completed pays its own matching"
    );
    assert_eq!(platform_balance(&app).await, platform_before);
    assert_eq!(
        grants(&app).await,
        before,
        "no credits minted for system work"
    );
    app.assert_conservation().await;
}

async fn platform_balance(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT credits FROM agents WHERE id = 'ag-platform'")
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn profile_changes_and_task_actions_are_rate_limited() {
    let app = TestApp::spawn_with(&[
        "--rate-limit-enabled",
        "true",
        "--rate-limit-profile",
        "2/hour",
        "--rate-limit-write",
        "3/day",
    ])
    .await;
    let poster = app.register("poster").await;
    let worker = app.register("worker").await;
    let patch = |i: usize| {
        app.call(
            Method::PATCH,
            "/v1/me",
            Some(&poster.key),
            json!({ "good_at": format!("skill {i}") }),
        )
    };
    assert_eq!(patch(0).await.status, 200);
    assert_eq!(patch(1).await.status, 200);
    assert_eq!(patch(2).await.status, 429);

    let task = app.post_task(&poster, "Chat", 10).await;
    app.pickup(&worker, &task).await.expect(200);
    let path = format!("/v1/tasks/{task}/messages");
    let mut statuses = Vec::new();
    for _ in 0..4 {
        let r = app
            .post(
                &path,
                Some(&worker.key),
                json!({"message": "x".repeat(5000)}),
            )
            .await;
        statuses.push(r.status.as_u16());
    }
    assert_eq!(statuses, vec![201, 201, 201, 429]);
}

#[tokio::test]
async fn an_identical_report_is_filed_once() {
    let app = TestApp::spawn().await;
    let poster = app.register("poster").await;
    let reporter = app.register("reporter").await;
    let task = app.post_task(&poster, "Spammy", 5).await;
    app.act(&reporter, &task, "report", json!({"reason": "spam"}))
        .await
        .expect(201);
    for _ in 0..3 {
        let r = app
            .act(&reporter, &task, "report", json!({"reason": "spam"}))
            .await
            .expect(409);
        assert_eq!(r.error(), "You already filed this report");
    }
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM reports WHERE task_id = $1")
        .bind(&task)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(stored, 1);
}

#[tokio::test]
async fn a_task_the_caller_may_not_see_is_a_404_on_every_route() {
    let app = TestApp::spawn().await;
    let poster = app.register("poster").await;
    let worker = app.register("worker").await;
    let outsider = app.register("outsider").await;
    let task = app.post_task(&poster, "Hidden once claimed", 10).await;
    app.pickup(&worker, &task).await.expect(200);
    for id in [task.as_str(), "tk-doesnotexist"] {
        let answers = [
            app.get(&format!("/v1/tasks/{id}"), Some(&outsider.key))
                .await,
            app.get(&format!("/v1/tasks/{id}/messages"), Some(&outsider.key))
                .await,
            app.post(
                &format!("/v1/tasks/{id}/messages"),
                Some(&outsider.key),
                json!({"message": "hi"}),
            )
            .await,
            app.act(&outsider, id, "abandon", Value::Null).await,
            app.act(&outsider, id, "deliver", json!({"result": "x"}))
                .await,
            app.act(&outsider, id, "approve", Value::Null).await,
            app.act(&outsider, id, "reject", json!({"reason": "no"}))
                .await,
            app.act(&outsider, id, "cancel", Value::Null).await,
            app.act(&outsider, id, "rate", json!({"rating": 3})).await,
            app.act(&outsider, id, "report", json!({"reason": "x"}))
                .await,
        ];
        for r in answers {
            assert_eq!(r.status, 404, "{id}: {}", r.body);
            assert_eq!(r.error(), "Task not found");
        }
    }
}

//! Posting and reading tasks: limits are enforced, escrow is taken at create,
//! and a task is visible only to its poster and worker.

use serde_json::{Value, json};

use crate::support::TestApp;

#[tokio::test]
async fn create_escrows_max_credits_and_sets_headers() {
    let app = TestApp::spawn().await;
    let poster = app.register("poster").await;
    let resp = app
        .post(
            "/v1/tasks",
            Some(&poster.key),
            json!({"need": "Send an SMS", "context": "ci", "max_credits": 10, "tags": ["sms", "notification"],
                   "deadline_minutes": 30}),
        )
        .await
        .expect(201);
    let task_id = resp.body["task_id"].as_str().unwrap();
    assert!(task_id.starts_with("tk-"));
    assert_eq!(resp.header("x-task-id"), Some(task_id));
    assert_eq!(resp.header("x-status"), Some("posted"));
    assert_eq!(resp.body["status"], "posted");
    assert!(resp.body["deadline"].is_string());
    assert_eq!(app.balance(&poster).await, 90);

    let credits = app
        .get("/v1/me/credits", Some(&poster.key))
        .await
        .expect(200);
    assert_eq!(credits.body["balance"], 90);
    assert_eq!(credits.body["escrowed"], 10);
    assert_eq!(credits.body["total"], 2);
    assert_eq!(credits.body["ledger"][0]["reason"], "escrow");
    assert_eq!(credits.body["ledger"][0]["amount"], -10);
    assert_eq!(credits.body["ledger"][0]["task_id"], task_id);
    assert_eq!(credits.body["ledger"][1]["reason"], "signup_bonus");

    let got = app
        .get(&format!("/v1/tasks/{task_id}"), Some(&poster.key))
        .await
        .expect(200);
    assert_eq!(got.body["need"], "Send an SMS");
    assert_eq!(got.body["context"], "ci");
    assert_eq!(got.body["max_credits"], 10);
    assert_eq!(got.body["tags"], json!(["sms", "notification"]));
    assert!(got.body["deadline"].is_string());
    assert!(got.body["result"].is_null());
    app.assert_conservation().await;
}

#[tokio::test]
async fn create_defaults_to_50_credits() {
    let app = TestApp::spawn().await;
    let poster = app.register("poster").await;
    app.post("/v1/tasks", Some(&poster.key), json!({"need": "x"}))
        .await
        .expect(201);
    assert_eq!(app.balance(&poster).await, 50);
}

#[tokio::test]
async fn create_refuses_invalid_input_without_taking_credits() {
    let app = TestApp::spawn().await;
    let poster = app.register("poster").await;
    let cases = [
        (json!({}), "Missing 'need' field"),
        (json!({"need": ""}), "Missing 'need' field"),
        (json!({"need": "x".repeat(50_001)}), "need"),
        (
            json!({"need": "x", "context": "c".repeat(100_001)}),
            "context",
        ),
        (json!({"need": "x", "max_credits": 0}), "max_credits"),
        (json!({"need": "x", "max_credits": 100_001}), "max_credits"),
        (json!({"need": "x", "max_credits": "lots"}), "max_credits"),
        (json!({"need": "x", "tags": vec!["a"; 11]}), "tags"),
        (json!({"need": "x", "tags": ["bad tag"]}), "tag"),
        (json!({"need": "x", "tags": ["-lead"]}), "tag"),
        (json!({"need": "x", "tags": ["a".repeat(51)]}), "tag"),
        (
            json!({"need": "x", "deadline_minutes": 0}),
            "deadline_minutes",
        ),
        (
            json!({"need": "x", "deadline_minutes": 525_601}),
            "deadline_minutes",
        ),
        (json!({"need": "x", "wait": 301}), "wait"),
        (
            json!({"need": "x", "claim_timeout_minutes": 1441}),
            "claim_timeout_minutes",
        ),
    ];
    for (body, message) in cases {
        let resp = app.post("/v1/tasks", Some(&poster.key), body.clone()).await;
        assert_eq!(resp.status, 400, "{body}: {}", resp.body);
        assert!(resp.error().contains(message), "{body}: {}", resp.error());
    }
    // Limits themselves are accepted.
    app.post(
        "/v1/tasks",
        Some(&poster.key),
        json!({"need": "x".repeat(50_000), "max_credits": 1, "tags": vec!["a"; 10], "deadline_minutes": 525_600}),
    )
    .await
    .expect(201);
    assert_eq!(app.balance(&poster).await, 99);
    app.assert_conservation().await;
}

#[tokio::test]
async fn create_without_enough_credits_is_402_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let poster = app.register("poster").await;
    let resp = app
        .post(
            "/v1/tasks",
            Some(&poster.key),
            json!({"need": "x", "max_credits": 101}),
        )
        .await
        .expect(402);
    assert_eq!(resp.error(), "Insufficient credits. Have 100, need 101");
    assert_eq!(app.balance(&poster).await, 100);
    let mine = app
        .get("/v1/tasks/mine", Some(&poster.key))
        .await
        .expect(200);
    assert_eq!(mine.body["total"], 0);
    let me = app.get("/v1/me", Some(&poster.key)).await.expect(200);
    assert_eq!(me.body["tasks_posted"], 0);
    app.assert_conservation().await;
}

#[tokio::test]
async fn tasks_are_visible_only_to_their_parties() {
    let app = TestApp::spawn().await;
    let poster = app.register("poster").await;
    let worker = app.register("worker").await;
    let stranger = app.register("stranger").await;
    let task = app.post_task(&poster, "job", 5).await;
    let path = format!("/v1/tasks/{task}");
    app.get(&path, Some(&stranger.key)).await.expect(404);
    app.get(&path, Some(&worker.key)).await.expect(404);
    app.pickup(&worker, &task).await.expect(200);
    let seen = app.get(&path, Some(&worker.key)).await.expect(200);
    assert_eq!(seen.body["status"], "claimed");
    assert_eq!(seen.body["worker_id"], worker.id);
    app.get(&path, Some(&stranger.key)).await.expect(404);
    let resp = app
        .get("/v1/tasks/tk-doesnotexist", Some(&poster.key))
        .await
        .expect(404);
    assert_eq!(resp.error(), "Task not found");
    app.get(&path, None).await.expect(401);
}

#[tokio::test]
async fn mine_filters_by_role_and_status_and_pages() {
    let app = TestApp::spawn().await;
    let poster = app.register("poster").await;
    let worker = app.register("worker").await;
    let t1 = app.post_task(&poster, "one", 1).await;
    let _t2 = app.post_task(&poster, "two", 1).await;
    let t3 = app.post_task(&worker, "three", 1).await;
    app.pickup(&worker, &t1).await.expect(200);

    let all = app
        .get("/v1/tasks/mine", Some(&worker.key))
        .await
        .expect(200);
    assert_eq!(all.body["total"], 2);
    let as_worker = app
        .get("/v1/tasks/mine?role=worker", Some(&worker.key))
        .await
        .expect(200);
    assert_eq!(as_worker.body["total"], 1);
    assert_eq!(as_worker.body["tasks"][0]["task_id"], t1.as_str());
    let as_poster = app
        .get("/v1/tasks/mine?role=poster", Some(&worker.key))
        .await
        .expect(200);
    assert_eq!(as_poster.body["tasks"][0]["task_id"], t3.as_str());
    let claimed = app
        .get(
            "/v1/tasks/mine?role=worker&status=claimed",
            Some(&worker.key),
        )
        .await
        .expect(200);
    assert_eq!(claimed.body["total"], 1);
    let posted = app
        .get("/v1/tasks/mine?status=posted", Some(&poster.key))
        .await
        .expect(200);
    assert_eq!(posted.body["total"], 1);
    let page = app
        .get("/v1/tasks/mine?limit=1&offset=1", Some(&poster.key))
        .await
        .expect(200);
    assert_eq!(page.body["total"], 2);
    assert_eq!(page.body["tasks"].as_array().unwrap().len(), 1);
    assert_eq!(
        page.body["tasks"][0]["task_id"],
        t1.as_str(),
        "newest first"
    );

    let bad = app
        .get("/v1/tasks/mine?role=boss", Some(&poster.key))
        .await
        .expect(400);
    assert_eq!(bad.error(), "Invalid role: boss");
    let bad = app
        .get("/v1/tasks/mine?status=rejected", Some(&poster.key))
        .await
        .expect(400);
    assert_eq!(bad.error(), "Invalid status: rejected");
    app.get("/v1/tasks/mine?limit=0", Some(&poster.key))
        .await
        .expect(400);
    app.get("/v1/tasks/mine?limit=101", Some(&poster.key))
        .await
        .expect(400);
    app.get("/v1/tasks/mine?offset=-1", Some(&poster.key))
        .await
        .expect(400);
    app.get("/v1/tasks/mine?limit=abc", Some(&poster.key))
        .await
        .expect(400);
}

#[tokio::test]
async fn available_lists_open_tasks_with_filters_and_rejection_count() {
    let app = TestApp::spawn().await;
    let poster = app.register("poster").await;
    let browser = app.register("browser").await;
    let post = |body| app.post("/v1/tasks", Some(&poster.key), body);
    let k8s = post(
        json!({"need": "Fix my Kubernetes ingress", "max_credits": 5, "tags": ["k8s", "Ops"]}),
    )
    .await
    .expect(201)
    .body["task_id"]
        .clone();
    post(json!({"need": "Write a poem", "context": "about KUBERNETES", "max_credits": 5}))
        .await
        .expect(201);
    post(json!({"need": "Audit python code", "max_credits": 5, "tags": ["python"]}))
        .await
        .expect(201);

    let all = app
        .get("/v1/tasks/available", Some(&browser.key))
        .await
        .expect(200);
    assert_eq!(all.body["total"], 3);
    let first = &all.body["tasks"][0];
    assert_eq!(
        first["task_id"], k8s,
        "oldest first without capability tags"
    );
    assert_eq!(first["rejection_count"], 0);
    assert_eq!(first["is_matched"], false);
    assert!(first["match_rank"].is_null());
    assert_eq!(first["poster_id"], poster.id);

    let search = app
        .get("/v1/tasks/available?search=kubernetes", Some(&browser.key))
        .await
        .expect(200);
    assert_eq!(search.body["total"], 2, "need or context, case-insensitive");
    let tags = app
        .get("/v1/tasks/available?tags=ops,K8S", Some(&browser.key))
        .await
        .expect(200);
    assert_eq!(tags.body["total"], 1);
    let both = app
        .get(
            "/v1/tasks/available?search=poem&tags=python",
            Some(&browser.key),
        )
        .await
        .expect(200);
    assert_eq!(both.body["total"], 0);
    let page = app
        .get("/v1/tasks/available?limit=2&offset=2", Some(&browser.key))
        .await
        .expect(200);
    assert_eq!(page.body["tasks"].as_array().unwrap().len(), 1);
    assert_eq!(page.body["total"], 3);
    // Never one's own tasks.
    let own = app
        .get("/v1/tasks/available", Some(&poster.key))
        .await
        .expect(200);
    assert_eq!(own.body["total"], 0);
    // Wildcards in search are literal.
    let wild = app
        .get("/v1/tasks/available?search=%25", Some(&browser.key))
        .await
        .expect(200);
    assert_eq!(wild.body["total"], 0);
}

/// Browse order: tasks matched to the caller by rank (those still marked
/// matched first), then the open pool by capability-tag overlap, then age;
/// tasks matched to someone else are not listed; a capability tag counts once
/// whatever its case. Every page is the matching slice of that order, and the
/// total does not depend on the page.
#[tokio::test]
async fn available_orders_matched_then_tag_overlap_then_age_across_pages() {
    let app = TestApp::spawn().await;
    let poster = app.register("poster").await;
    let worker = app.register("worker").await;
    let other = app.register("other").await;
    sqlx::query("UPDATE agents SET capability_tags = ARRAY['Rust','ops','RUST'] WHERE id = $1")
        .bind(&worker.id)
        .execute(&app.pool)
        .await
        .unwrap();
    let (app_ref, key) = (&app, &poster.key);
    let post = |need: &str, tags: Value| {
        let body = json!({"need": need, "max_credits": 1, "tags": tags});
        async move {
            app_ref
                .post("/v1/tasks", Some(key), body)
                .await
                .expect(201)
                .body["task_id"]
                .as_str()
                .unwrap()
                .to_string()
        }
    };
    let oldest = post("oldest, no tags", json!([])).await;
    let one_tag = post("one shared tag", json!(["RUST", "go"])).await;
    let both_tags = post("two shared tags", json!(["rust", "Ops"])).await;
    let newest = post("newest, no tags", json!([])).await;
    let matched_second = post("matched, rank 2", json!([])).await;
    let matched_first = post("matched, rank 1", json!(["rust"])).await;
    let was_matched = post("broadcast after a match window", json!([])).await;
    let elsewhere = post("matched to someone else", json!(["rust"])).await;
    for (task, agent, rank, status) in [
        (&matched_first, &worker.id, 1, "matched"),
        (&matched_second, &worker.id, 2, "matched"),
        (&was_matched, &worker.id, 1, "broadcast"),
        (&elsewhere, &other.id, 1, "matched"),
    ] {
        sqlx::query(
            "WITH m AS (INSERT INTO task_matches (id, task_id, agent_id, rank)
                        VALUES ('tm-' || $1, $1, $2, $3))
             UPDATE tasks SET match_status = $4 WHERE id = $1",
        )
        .bind(task)
        .bind(agent)
        .bind(rank)
        .bind(status)
        .execute(&app.pool)
        .await
        .unwrap();
    }
    let expected = [
        &matched_first,
        &matched_second,
        &was_matched,
        &both_tags,
        &one_tag,
        &oldest,
        &newest,
    ];

    let all = app
        .get("/v1/tasks/available?limit=100", Some(&worker.key))
        .await
        .expect(200);
    let ids: Vec<&str> = all.body["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["task_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, expected.map(String::as_str));
    assert_eq!(all.body["total"], 7);
    assert_eq!(all.body["tasks"][0]["is_matched"], true);
    assert_eq!(all.body["tasks"][0]["match_rank"], 1);
    assert_eq!(all.body["tasks"][2]["is_matched"], false);
    for (offset, id) in expected.iter().enumerate() {
        let page = app
            .get(
                &format!("/v1/tasks/available?limit=1&offset={offset}"),
                Some(&worker.key),
            )
            .await
            .expect(200);
        assert_eq!(
            page.body["tasks"][0]["task_id"],
            id.as_str(),
            "offset {offset}"
        );
        assert_eq!(page.body["total"], 7);
    }
    let past_the_end = app
        .get("/v1/tasks/available?offset=50", Some(&worker.key))
        .await
        .expect(200);
    assert_eq!(past_the_end.body["tasks"], json!([]));
    assert_eq!(past_the_end.body["total"], 7);
    // The other agent sees its own match first and the tasks still matched to
    // the worker not at all (the broadcast one is open to anyone).
    let theirs = app
        .get("/v1/tasks/available?limit=100", Some(&other.key))
        .await
        .expect(200);
    assert_eq!(theirs.body["tasks"][0]["task_id"], elsewhere.as_str());
    assert_eq!(theirs.body["total"], 6);
}

/// In a large pool the total is counted only so far past the page (exact
/// below that), so a browse costs the same whatever the size of the market.
#[tokio::test]
async fn available_counts_a_large_pool_only_past_the_page() {
    let app = TestApp::spawn().await;
    let poster = app.register("poster").await;
    let browser = app.register("browser").await;
    let open = 1_050;
    sqlx::query(
        "INSERT INTO tasks (id, poster_id, need, max_credits, escrowed, match_status, expires_at)
         SELECT 'bulk-' || i, $1, 'bulk task ' || i, 1, false, 'broadcast', now() + interval '1 day'
         FROM generate_series(1, $2) i",
    )
    .bind(&poster.id)
    .bind(open)
    .execute(&app.pool)
    .await
    .unwrap();
    let first = app
        .get("/v1/tasks/available", Some(&browser.key))
        .await
        .expect(200);
    assert_eq!(first.body["tasks"].as_array().unwrap().len(), 20);
    assert_eq!(
        first.body["total"],
        20 + 1_000,
        "counted 1,000 past the page"
    );
    let deep = app
        .get(
            "/v1/tasks/available?offset=1000&limit=100",
            Some(&browser.key),
        )
        .await
        .expect(200);
    assert_eq!(deep.body["tasks"].as_array().unwrap().len(), 50);
    assert_eq!(
        deep.body["total"], open,
        "exact when the pool ends within the count"
    );
}

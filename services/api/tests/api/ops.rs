//! The api node's ops routes: `/health` and `/ready` answer in their
//! documented shape, and `/metrics` counts requests by route template (never a
//! raw path), claims, empty pickups, task actions and published outbox rows.

use std::time::Duration;

use pinchwork_testkit::metrics::wait_for;
use serde_json::json;

use crate::support::TestApp;

#[tokio::test]
async fn health_and_ready_report_each_dependency() {
    let app = TestApp::spawn().await;
    let health = app.get("/health", None).await.expect(200);
    assert_eq!(health.body, json!({ "status": "ok" }));
    let ready = app.get("/ready", None).await.expect(200);
    assert_eq!(
        ready.body,
        json!({ "status": "ready", "database": "ok", "nats": "ok" })
    );
}

#[tokio::test]
async fn metrics_count_requests_by_route_claims_and_published_events() {
    let app = TestApp::spawn().await;
    let poster = app.register("poster").await;
    let worker = app.register("worker").await;
    let task = app.post_task(&poster, "count me", 5).await;
    app.pickup(&worker, &task).await.expect(200);
    app.deliver(&worker, &task, json!({ "result": "done" }))
        .await
        .expect(200);
    app.act(&poster, &task, "approve", json!({}))
        .await
        .expect(200);
    let empty = app
        .post("/v1/tasks/pickup", Some(&worker.key), json!({}))
        .await;
    assert!(empty.status.is_success(), "empty pickup: {}", empty.status);

    let base = &app.base;
    let deliver = [
        ("method", "POST"),
        ("route", "/v1/tasks/{task_id}/deliver"),
        ("status", "200"),
    ];
    let scrape = wait_for(base, "pinchwork_http_requests_total", &deliver, 1.0).await;
    assert!(
        !scrape.text.contains(&task),
        "a raw path with a task id leaked into a label"
    );
    let latency = "pinchwork_http_request_duration_seconds_count";
    assert!(scrape.value(latency, &deliver).is_some_and(|n| n >= 1.0));
    assert!(
        scrape
            .value("pinchwork_claims_total", &[])
            .is_some_and(|n| n >= 1.0)
    );
    assert!(
        scrape
            .value("pinchwork_pickups_empty_total", &[])
            .is_some_and(|n| n >= 1.0)
    );
    for action in ["create", "deliver", "approve"] {
        let n = scrape.value("pinchwork_task_actions_total", &[("action", action)]);
        assert!(n.is_some_and(|n| n >= 1.0), "{action}: {n:?}");
    }
    // The approval's events go out through the outbox relay; the backlog is sampled.
    wait_for(base, "pinchwork_outbox_published_total", &[], 1.0).await;
    wait_for(base, "pinchwork_outbox_backlog", &[], 0.0).await;
    // An unknown path is one series, whatever the path.
    app.get("/no/such/path", None).await.expect(404);
    let unmatched = [("route", "unmatched"), ("status", "404")];
    let later = wait_for(base, "pinchwork_http_requests_total", &unmatched, 1.0).await;
    assert!(!later.text.contains("/no/such/path"));
}

#[tokio::test]
async fn shutdown_answers_a_waiting_create_instead_of_sitting_out_its_wait() {
    let app = TestApp::spawn().await;
    let poster = app.register("poster").await;
    let (client, key) = (app.client.clone(), poster.key.clone());
    let body = json!({ "need": "wait for me", "max_credits": 5, "wait": 300 });
    let waiting = tokio::spawn(async move { client.post("/v1/tasks", Some(&key), body).await });
    // Once the task exists the request is waiting for its delivery.
    for _ in 0..1000 {
        let tasks: i64 = sqlx::query_scalar("SELECT count(*) FROM tasks WHERE poster_id = $1")
            .bind(&poster.id)
            .fetch_one(&app.pool)
            .await
            .expect("count");
        if tasks == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(app); // shuts the node down
    let resp = tokio::time::timeout(Duration::from_secs(120), waiting)
        .await
        .expect("answered long before its 300 s wait")
        .expect("request task");
    resp.expect(201);
}

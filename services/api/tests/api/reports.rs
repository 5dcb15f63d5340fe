//! Reports: any agent that can see a task may report it (parties always, and
//! anyone while it is open); a report is stored as `open` and changes nothing else.

use serde_json::json;

use crate::{cycle::post_tagged, support::TestApp};

#[tokio::test]
async fn a_browsing_agent_reports_an_open_task() {
    let app = TestApp::spawn().await;
    let poster = app.register("poster").await;
    let browser = app.register("browser").await;
    let task = post_tagged(&app, &poster, 10, &[]).await;
    let before = app.balance(&poster).await;

    let filed = app
        .act(&browser, &task, "report", json!({"reason": "spam"}))
        .await
        .expect(201);
    assert!(filed.body["report_id"].as_str().unwrap().starts_with("rp-"));
    assert_eq!(filed.body["task_id"], task.as_str());
    assert_eq!(filed.body["reason"], "spam");
    assert_eq!(filed.body["status"], "open");
    // Repeat reports are kept; nothing else changes.
    app.act(&browser, &task, "report", json!({"reason": "still spam"}))
        .await
        .expect(201);
    let stored: i64 =
        sqlx::query_scalar("SELECT count(*) FROM reports WHERE task_id = $1 AND status = 'open'")
            .bind(&task)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(stored, 2);
    assert_eq!(app.balance(&poster).await, before);
    let status = app
        .get(&format!("/v1/tasks/{task}"), Some(&poster.key))
        .await
        .expect(200);
    assert_eq!(status.body["status"], "posted");
    app.get("/v1/me", Some(&poster.key)).await.expect(200);
    app.assert_conservation().await;
}

#[tokio::test]
async fn only_agents_who_can_see_the_task_report_it() {
    let app = TestApp::spawn().await;
    let poster = app.register("poster").await;
    let worker = app.register("worker").await;
    let outsider = app.register("outsider").await;
    let task = post_tagged(&app, &poster, 10, &[]).await;
    app.pickup(&worker, &task).await.expect(200);

    // Claimed: out of the pool, so an outsider cannot see (or report) it.
    let hidden = app
        .act(&outsider, &task, "report", json!({"reason": "spam"}))
        .await
        .expect(404);
    assert_eq!(hidden.error(), "Task not found");
    app.act(
        &worker,
        &task,
        "report",
        json!({"reason": "asks for credentials"}),
    )
    .await
    .expect(201);
    app.act(
        &poster,
        &task,
        "report",
        json!({"reason": "worker is abusive"}),
    )
    .await
    .expect(201);

    let missing = app
        .act(&worker, &task, "report", json!({}))
        .await
        .expect(400);
    assert_eq!(missing.error(), "Missing reason");
    app.act(
        &worker,
        &task,
        "report",
        json!({"reason": "r".repeat(5001)}),
    )
    .await
    .expect(400);
    app.act(&worker, "tk-nope", "report", json!({"reason": "spam"}))
        .await
        .expect(404);
    app.post(
        &format!("/v1/tasks/{task}/report"),
        None,
        json!({"reason": "spam"}),
    )
    .await
    .expect(401);
    app.assert_conservation().await;
}

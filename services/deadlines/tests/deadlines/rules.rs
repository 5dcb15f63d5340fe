//! Every timed rule applies its transition once, with the credits, ledger rows
//! and events the API document lists, and leaves tasks in other states alone.

use pinchwork_common::{
    db::tasks::{self, NewTask},
    domain::{Credits, MatchStatus, SystemTaskType},
    ids::TaskId,
};
use pinchwork_testkit::Agent;
use serde_json::json;

use crate::support::{TestApp, ev};

/// Poster, worker (both with webhooks at `/poster`, `/worker`); the worker
/// holds a claim on a fresh task of `max_credits`.
async fn claimed_task(
    app: &TestApp,
    max_credits: i64,
    extra: serde_json::Value,
) -> (Agent, Agent, String) {
    let poster = app.register_hooked("poster").await;
    let worker = app.register_hooked("worker").await;
    let mut body = json!({ "need": "summarise a paper", "max_credits": max_credits });
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        body.extend(extra.clone());
    }
    let task = app.post_task_with(&poster, body).await;
    app.pickup(&worker, &task).await.expect(200);
    (poster, worker, task)
}

/// Inserts a posted system task of `kind` (nothing escrowed), as the matcher would.
async fn system_task(app: &TestApp, kind: SystemTaskType, parent: Option<&str>) -> String {
    let id = TaskId::generate();
    let parent = parent.map(TaskId::from);
    let mut conn = app.pool.acquire().await.expect("connection");
    tasks::insert(
        &mut conn,
        &NewTask {
            id: &id,
            poster_id: &"ag-platform".into(),
            need: "system work",
            context: None,
            max_credits: Credits::new(3),
            tags: &[],
            escrowed: false,
            private: false,
            system_task_type: Some(kind),
            parent_task_id: parent.as_ref(),
            target_agent_id: None,
            match_status: None,
            match_timeout_seconds: 120,
            deadline_minutes: None,
            review_timeout_minutes: None,
            claim_timeout_minutes: None,
            expire_hours: 72,
        },
    )
    .await
    .expect("insert system task");
    id.into_string()
}

#[tokio::test]
async fn a_claim_not_delivered_in_time_returns_to_the_pool() {
    let app = TestApp::spawn().await;
    let (poster, worker, task) = claimed_task(&app, 10, json!({})).await;
    let mut worker_sse = app.sse(&worker).await;
    app.sql(
        "UPDATE tasks SET claim_deadline = now() - interval '1 second' WHERE id = $1",
        &task,
    )
    .await;
    app.wait_status(&task, "posted").await;
    worker_sse.expect(&task, "claim_timeout_expired").await;
    app.webhook("worker", &task, "claim_timeout_expired").await;

    let seen = app.task(&poster, &task).await;
    assert_eq!(seen["worker_id"], json!(null));
    assert_eq!(seen["claim_deadline"], json!(null));
    assert_eq!(
        app.events(&task).await,
        vec![ev(&worker, "claim_timeout_expired")]
    );
    // The worker lost the task; a new worker can claim it.
    let other = app.register("other").await;
    app.pickup(&other, &task).await.expect(200);
    assert_eq!(app.balance(&poster).await, 90);
    assert_eq!(app.balance(&worker).await, 100);
    app.assert_conservation().await;
}

#[tokio::test]
async fn an_unreviewed_delivery_is_approved_and_paid() {
    let app = TestApp::spawn().await;
    let (poster, worker, task) =
        claimed_task(&app, 30, json!({ "review_timeout_minutes": 1 })).await;
    app.deliver(
        &worker,
        &task,
        json!({ "result": "done", "credits_claimed": 20 }),
    )
    .await
    .expect(200);
    let mut worker_sse = app.sse(&worker).await;
    app.sql(
        "UPDATE tasks SET review_deadline = now() - interval '1 second' WHERE id = $1",
        &task,
    )
    .await;
    app.wait_status(&task, "approved").await;
    let approved = worker_sse.expect(&task, "task_approved").await;
    assert_eq!(approved["task_id"], json!(task));
    app.webhook("worker", &task, "task_approved").await;

    // 20 charged, 10 % fee (2) to the platform, 18 to the worker, 10 back to the poster.
    assert_eq!(app.balance(&worker).await, 118);
    assert_eq!(app.balance(&poster).await, 80);
    let ledger = app.ledger(&task).await;
    assert_eq!(
        ledger,
        vec![
            (poster.id.clone(), -30, "escrow".into()),
            (worker.id.clone(), 18, "payment".into()),
            ("ag-platform".into(), 2, "platform_fee".into()),
            (poster.id.clone(), 10, "refund".into()),
        ]
    );
    assert_eq!(
        app.events(&task).await,
        vec![ev(&poster, "task_delivered"), ev(&worker, "task_approved")]
    );
    app.assert_conservation().await;
}

#[tokio::test]
async fn auto_approval_can_be_switched_off() {
    let app = TestApp::spawn_with(&["--disable-auto-approve", "true"]).await;
    let (poster, worker, task) = claimed_task(&app, 10, json!({})).await;
    app.deliver(&worker, &task, json!({ "result": "done" }))
        .await
        .expect(200);
    app.sql(
        "UPDATE tasks SET review_deadline = now() - interval '1 second' WHERE id = $1",
        &task,
    )
    .await;
    app.sweep_barrier(&poster).await;

    assert_eq!(app.task(&poster, &task).await["status"], "delivered");
    assert_eq!(app.balance(&worker).await, 100);
    app.assert_conservation().await;
}

#[tokio::test]
async fn a_rejected_delivery_not_redelivered_within_the_grace_returns_to_the_pool() {
    let app = TestApp::spawn().await;
    let (poster, worker, task) = claimed_task(&app, 10, json!({})).await;
    app.deliver(&worker, &task, json!({ "result": "draft" }))
        .await
        .expect(200);
    app.act(&poster, &task, "reject", json!({ "reason": "too short" }))
        .await
        .expect(200);
    let mut worker_sse = app.sse(&worker).await;
    // The grace and the claim deadline end together after a rejection.
    app.sql(
        "UPDATE tasks SET rejection_grace_deadline = now() - interval '1 second',
                          claim_deadline = now() - interval '1 second' WHERE id = $1",
        &task,
    )
    .await;
    app.wait_status(&task, "posted").await;
    worker_sse.expect(&task, "rejection_grace_expired").await;
    app.webhook("worker", &task, "rejection_grace_expired")
        .await;

    let seen = app.task(&poster, &task).await;
    assert_eq!(seen["worker_id"], json!(null));
    assert_eq!(seen["rejection_grace_deadline"], json!(null));
    assert_eq!(seen["claim_deadline"], json!(null));
    assert_eq!(
        app.events(&task).await,
        vec![
            ev(&poster, "task_delivered"),
            ev(&worker, "task_rejected"),
            ev(&worker, "rejection_grace_expired"),
        ]
    );
    assert_eq!(app.balance(&poster).await, 90);
    app.assert_conservation().await;
}

#[tokio::test]
async fn a_posted_task_past_its_deadline_expires_with_a_refund() {
    let app = TestApp::spawn().await;
    let poster = app.register_hooked("poster").await;
    let matched = app.register_hooked("matched").await;
    let task = app
        .post_task_with(
            &poster,
            json!({ "need": "translate", "max_credits": 15, "deadline_minutes": 5 }),
        )
        .await;
    let mut conn = app.pool.acquire().await.expect("connection");
    tasks::insert_match(
        &mut conn,
        &task.as_str().into(),
        &matched.id.as_str().into(),
        0,
    )
    .await
    .expect("match row");
    drop(conn);
    assert_eq!(app.balance(&poster).await, 85);
    let mut poster_sse = app.sse(&poster).await;
    let mut matched_sse = app.sse(&matched).await;
    app.sql(
        "UPDATE tasks SET deadline = now() - interval '1 second' WHERE id = $1",
        &task,
    )
    .await;
    app.wait_status(&task, "expired").await;
    poster_sse.expect(&task, "task_expired").await;
    matched_sse.expect(&task, "task_expired").await;
    app.webhook("poster", &task, "task_expired").await;
    app.webhook("matched", &task, "task_expired").await;

    assert_eq!(app.balance(&poster).await, 100);
    assert_eq!(
        app.ledger(&task).await,
        vec![
            (poster.id.clone(), -15, "escrow".into()),
            (poster.id.clone(), 15, "refund".into())
        ]
    );
    assert_eq!(
        app.events(&task).await,
        vec![ev(&poster, "task_expired"), ev(&matched, "task_expired")]
    );
    app.assert_conservation().await;
}

#[tokio::test]
async fn a_claimed_task_past_its_deadline_returns_to_the_pool_without_it() {
    let app = TestApp::spawn().await;
    let (poster, worker, task) = claimed_task(&app, 10, json!({ "deadline_minutes": 5 })).await;
    let mut worker_sse = app.sse(&worker).await;
    app.sql(
        "UPDATE tasks SET deadline = now() - interval '1 second' WHERE id = $1",
        &task,
    )
    .await;
    app.wait_status(&task, "posted").await;
    worker_sse.expect(&task, "deadline_expired").await;
    app.webhook("worker", &task, "deadline_expired").await;
    // Later sweeps must not expire it: it no longer has a deadline.
    app.sweep_barrier(&poster).await;

    let seen = app.task(&poster, &task).await;
    assert_eq!(seen["status"], "posted");
    assert_eq!(seen["deadline"], json!(null));
    assert_eq!(seen["worker_id"], json!(null));
    assert_eq!(
        app.events(&task).await,
        vec![ev(&worker, "deadline_expired")]
    );
    // The sentinel tasks of the barrier were refunded in full.
    assert_eq!(app.balance(&poster).await, 90);
    app.assert_conservation().await;
}

#[tokio::test]
async fn an_unclaimed_task_expires_with_a_refund_and_a_delivered_one_does_not() {
    let app = TestApp::spawn().await;
    let (poster, worker, delivered) = claimed_task(&app, 10, json!({})).await;
    app.deliver(&worker, &delivered, json!({ "result": "done" }))
        .await
        .expect(200);
    let task = app.post_task(&poster, "never picked up", 20).await;
    assert_eq!(app.balance(&poster).await, 70);
    let mut poster_sse = app.sse(&poster).await;
    app.sql(
        "UPDATE tasks SET expires_at = now() - interval '1 second' WHERE id = $1",
        &task,
    )
    .await;
    app.sql(
        "UPDATE tasks SET expires_at = now() - interval '1 second', deadline = now() - interval '1 second'
         WHERE id = $1",
        &delivered,
    )
    .await;
    app.wait_status(&task, "expired").await;
    poster_sse.expect(&task, "task_expired").await;
    app.webhook("poster", &task, "task_expired").await;
    app.sweep_barrier(&poster).await;

    assert_eq!(app.task(&poster, &delivered).await["status"], "delivered");
    assert_eq!(app.balance(&poster).await, 90);
    assert_eq!(
        app.ledger(&task).await,
        vec![
            (poster.id.clone(), -20, "escrow".into()),
            (poster.id.clone(), 20, "refund".into())
        ]
    );
    assert_eq!(app.events(&task).await, vec![ev(&poster, "task_expired")]);
    app.assert_conservation().await;
}

#[tokio::test]
async fn an_expired_system_task_refunds_nothing() {
    let app = TestApp::spawn().await;
    let task = system_task(&app, SystemTaskType::ExtractCapabilities, None).await;
    app.sql(
        "UPDATE tasks SET expires_at = now() - interval '1 second' WHERE id = $1",
        &task,
    )
    .await;
    app.wait_status(&task, "expired").await;

    assert_eq!(app.ledger(&task).await, vec![]);
    assert_eq!(app.events(&task).await, vec![]);
    app.assert_conservation().await;
}

#[tokio::test]
async fn a_claimed_system_task_is_released_when_its_claim_times_out() {
    let app = TestApp::spawn().await;
    let infra = app
        .register_with(json!({ "name": "infra", "accepts_system_tasks": true }))
        .await;
    app.sql(
        "UPDATE agents SET infra_approved = true WHERE id = $1",
        &infra.id,
    )
    .await;
    let mut infra_sse = app.sse(&infra).await;
    let task = system_task(&app, SystemTaskType::ExtractCapabilities, None).await;
    let picked = app
        .post("/v1/tasks/pickup", Some(&infra.key), json!({}))
        .await
        .expect(200);
    assert_eq!(picked.body["task_id"], json!(task));
    app.sql(
        "UPDATE tasks SET claim_deadline = now() - interval '1 second' WHERE id = $1",
        &task,
    )
    .await;
    app.wait_status(&task, "posted").await;
    infra_sse.expect(&task, "claim_timeout_expired").await;

    assert_eq!(
        app.events(&task).await,
        vec![ev(&infra, "claim_timeout_expired")]
    );
    app.assert_conservation().await;
}

#[tokio::test]
async fn a_system_task_left_delivered_is_approved_and_paid_without_a_fee() {
    let app = TestApp::spawn().await;
    let infra = app
        .register_with(json!({ "name": "infra", "accepts_system_tasks": true }))
        .await;
    app.sql(
        "UPDATE agents SET infra_approved = true WHERE id = $1",
        &infra.id,
    )
    .await;
    let task = system_task(&app, SystemTaskType::ExtractCapabilities, None).await;
    // A delivery whose settlement never ran (the fallback's reason to exist).
    sqlx::query(
        "UPDATE tasks SET status = 'delivered', worker_id = $2, claimed_at = now(),
                result = '{}', credits_charged = 3, delivered_at = now() - interval '61 seconds'
         WHERE id = $1",
    )
    .bind(&task)
    .bind(&infra.id)
    .execute(&app.pool)
    .await
    .expect("deliver by SQL");
    app.wait_status(&task, "approved").await;

    assert_eq!(app.balance(&infra).await, 103);
    // Paid by the platform from its balance (a transfer), without a fee.
    assert_eq!(
        app.ledger(&task).await,
        vec![
            ("ag-platform".into(), -3, "system_payout".into()),
            (infra.id.clone(), 3, "payment".into())
        ]
    );
    app.assert_conservation().await;
}

#[tokio::test]
async fn a_closed_match_window_opens_the_task_to_everyone() {
    let app = TestApp::spawn().await;
    let poster = app.register("poster").await;
    let chosen = app.register("chosen").await;
    let outsider = app.register("outsider").await;
    let task = app.post_task(&poster, "label images", 5).await;
    let matching = system_task(&app, SystemTaskType::MatchAgents, Some(&task)).await;
    // A match that names one agent: hidden from everyone else until the window closes.
    let mut conn = app.pool.acquire().await.expect("connection");
    tasks::insert_match(
        &mut conn,
        &task.as_str().into(),
        &chosen.id.as_str().into(),
        0,
    )
    .await
    .expect("match row");
    drop(conn);
    sqlx::query("UPDATE tasks SET match_status = $2 WHERE id = $1")
        .bind(&task)
        .bind(MatchStatus::Matched)
        .execute(&app.pool)
        .await
        .expect("match");
    let visible = |body: serde_json::Value| {
        body["tasks"]
            .as_array()
            .is_some_and(|ts| ts.iter().any(|t| t["task_id"] == json!(task)))
    };
    let before = app
        .get("/v1/tasks/available", Some(&outsider.key))
        .await
        .expect(200);
    assert!(!visible(before.body));

    app.sql(
        "UPDATE tasks SET match_deadline = now() - interval '1 second' WHERE id = $1",
        &task,
    )
    .await;
    app.wait_status(&matching, "cancelled").await;
    let after = app
        .get("/v1/tasks/available", Some(&outsider.key))
        .await
        .expect(200);
    assert!(visible(after.body), "the task opened to everyone");
    let (status, deadline): (Option<String>, Option<chrono::DateTime<chrono::Utc>>) =
        sqlx::query_as("SELECT match_status, match_deadline FROM tasks WHERE id = $1")
            .bind(&task)
            .fetch_one(&app.pool)
            .await
            .expect("task");
    assert_eq!(status.as_deref(), Some("broadcast"));
    assert_eq!(deadline, None);
    assert_eq!(app.task(&poster, &task).await["status"], "posted");
    app.assert_conservation().await;
}

#[tokio::test]
async fn a_verification_not_done_in_time_is_given_up() {
    let app = TestApp::spawn().await;
    let (poster, worker, task) = claimed_task(&app, 10, json!({})).await;
    app.deliver(&worker, &task, json!({ "result": "done" }))
        .await
        .expect(200);
    let verify = system_task(&app, SystemTaskType::VerifyCompletion, Some(&task)).await;
    app.sql(
        "UPDATE tasks SET verification_status = 'pending',
                          verification_deadline = now() - interval '1 second' WHERE id = $1",
        &task,
    )
    .await;
    app.wait_status(&verify, "cancelled").await;

    let (status, deadline): (Option<String>, Option<chrono::DateTime<chrono::Utc>>) =
        sqlx::query_as(
            "SELECT verification_status, verification_deadline FROM tasks WHERE id = $1",
        )
        .bind(&task)
        .fetch_one(&app.pool)
        .await
        .expect("task");
    assert_eq!((status, deadline), (None, None));
    assert_eq!(app.task(&poster, &task).await["status"], "delivered");
    app.assert_conservation().await;
}

/// Rows of `table` about `task` (outbox rows by their payload's task id).
async fn rows_about(app: &TestApp, table: &str, task: &str) -> i64 {
    let sql = match table {
        "outbox" => "SELECT count(*) FROM outbox WHERE payload->>'task_id' = $1",
        _ => "SELECT count(*) FROM webhook_deliveries WHERE task_id = $1",
    };
    sqlx::query_scalar(sql)
        .bind(task)
        .fetch_one(&app.pool)
        .await
        .expect("count")
}

#[tokio::test]
async fn published_events_and_finished_deliveries_are_deleted_after_their_retention() {
    let app = TestApp::spawn_with(&[
        "--events-retention-hours",
        "1",
        "--outbox-retention-seconds",
        "3600",
    ])
    .await;
    let (poster, worker, old) = claimed_task(&app, 5, json!({})).await;
    let recent = app
        .post_task_with(&poster, json!({"need": "recent", "max_credits": 1}))
        .await;
    app.pickup(&worker, &recent).await.expect(200);
    for task in [&old, &recent] {
        app.deliver(&worker, task, json!({ "result": "done" }))
            .await
            .expect(200);
        app.webhook("poster", task, "task_delivered").await;
    }
    // Wait until both tasks' events are published and their deliveries finished.
    let settled = "SELECT count(*) FROM outbox WHERE published_at IS NULL
                   UNION ALL SELECT count(*) FROM webhook_deliveries WHERE status = 'pending'";
    pinchwork_testkit::eventually(
        "events published and deliveries finished",
        crate::support::PATIENCE,
        || async {
            let pending: Vec<i64> = sqlx::query_scalar(settled)
                .fetch_all(&app.pool)
                .await
                .expect("pending rows");
            pending.iter().all(|n| *n == 0)
        },
    )
    .await;
    assert!(rows_about(&app, "outbox", &old).await > 0);
    assert!(rows_about(&app, "webhook_deliveries", &old).await > 0);

    // Age the first task's rows past the retention.
    app.sql(
        "UPDATE outbox SET published_at = now() - interval '2 hours',
                           created_at = now() - interval '2 hours'
         WHERE payload->>'task_id' = $1",
        &old,
    )
    .await;
    app.sql(
        "UPDATE webhook_deliveries SET created_at = now() - interval '2 hours' WHERE task_id = $1",
        &old,
    )
    .await;
    app.sweep_barrier(&poster).await;
    assert_eq!(rows_about(&app, "outbox", &old).await, 0);
    assert_eq!(rows_about(&app, "webhook_deliveries", &old).await, 0);
    assert!(rows_about(&app, "outbox", &recent).await > 0);
    assert!(rows_about(&app, "webhook_deliveries", &recent).await > 0);
}

//! The task state machine and its money: escrow, payment minus the fee, the
//! refund of the unused budget, rejection with grace, cancel and abandon;
//! every refusal leaves state and credits unchanged.

use serde_json::{Value, json};

use crate::support::TestApp;

async fn claimed_task(
    app: &TestApp,
    max_credits: i64,
) -> (pinchwork_testkit::Agent, pinchwork_testkit::Agent, String) {
    let poster = app.register("poster").await;
    let worker = app.register("worker").await;
    let task = app
        .post_task(&poster, "Review this endpoint", max_credits)
        .await;
    app.pickup(&worker, &task).await.expect(200);
    (poster, worker, task)
}

async fn ledger_reasons(app: &TestApp, agent: &pinchwork_testkit::Agent) -> Vec<(String, i64)> {
    let credits = app
        .get("/v1/me/credits", Some(&agent.key))
        .await
        .expect(200);
    credits.body["ledger"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["reason"].as_str().unwrap().to_string(),
                e["amount"].as_i64().unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn full_cycle_pays_worker_minus_fee_and_refunds_the_rest() {
    let app = TestApp::spawn().await;
    let (poster, worker, task) = claimed_task(&app, 15).await;
    let delivered = app
        .deliver(
            &worker,
            &task,
            json!({"result": "Found 3 issues", "credits_claimed": 12}),
        )
        .await
        .expect(200);
    assert_eq!(delivered.body["status"], "delivered");
    assert_eq!(delivered.body["credits_charged"], 12);
    assert_eq!(delivered.header("x-credits-charged"), Some("12"));
    assert_eq!(delivered.body["result"], "Found 3 issues");

    let polled = app
        .get(&format!("/v1/tasks/{task}"), Some(&poster.key))
        .await
        .expect(200);
    assert_eq!(polled.body["status"], "delivered");
    assert_eq!(polled.body["result"], "Found 3 issues");

    let approved = app
        .act(&poster, &task, "approve", json!({"rating": 5}))
        .await
        .expect(200);
    assert_eq!(approved.body["status"], "approved");
    assert_eq!(approved.header("x-credits-charged"), Some("12"));

    // 12 charged: fee floor(1.2) = 1, worker 11, poster refunded 3.
    assert_eq!(app.balance(&worker).await, 111);
    assert_eq!(app.balance(&poster).await, 100 - 15 + 3);
    assert_eq!(
        ledger_reasons(&app, &worker).await[0],
        ("payment".into(), 11)
    );
    assert_eq!(ledger_reasons(&app, &poster).await[0], ("refund".into(), 3));
    let fee: i64 = sqlx::query_scalar(
        "SELECT amount FROM ledger WHERE reason = 'platform_fee' AND task_id = $1",
    )
    .bind(&task)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(fee, 1);
    let me = app.get("/v1/me", Some(&worker.key)).await.expect(200);
    assert_eq!(me.body["tasks_completed"], 1);
    assert_eq!(me.body["reputation"], 5.0);
    let escrow = app
        .get("/v1/me/credits", Some(&poster.key))
        .await
        .expect(200);
    assert_eq!(escrow.body["escrowed"], 0);

    // Events went to the outbox in the same transactions.
    let events: Vec<String> =
        sqlx::query_scalar("SELECT subject FROM outbox WHERE subject LIKE 'events.%' ORDER BY id")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(
        events,
        vec![
            format!("events.{}.task_delivered", poster.id),
            format!("events.{}.task_approved", worker.id)
        ]
    );
    app.assert_conservation().await;
}

#[tokio::test]
async fn credits_claimed_defaults_to_max_and_is_capped() {
    let app = TestApp::spawn().await;
    let (poster, worker, task) = claimed_task(&app, 50).await;
    let resp = app
        .deliver(
            &worker,
            &task,
            json!({"result": "done", "credits_claimed": 80}),
        )
        .await
        .expect(200);
    assert_eq!(resp.body["credits_charged"], 50);
    app.act(&poster, &task, "approve", Value::Null)
        .await
        .expect(200);
    assert_eq!(app.balance(&worker).await, 145, "50 minus a fee of 5");
    assert_eq!(app.balance(&poster).await, 50);

    let (_, worker2, task2) = claimed_task(&app, 9).await;
    let resp = app
        .deliver(&worker2, &task2, json!({"result": "done"}))
        .await
        .expect(200);
    assert_eq!(resp.body["credits_charged"], 9);
    app.assert_conservation().await;
}

#[tokio::test]
async fn deliver_refusals() {
    let app = TestApp::spawn().await;
    let (poster, worker, task) = claimed_task(&app, 10).await;
    let stranger = app.register("stranger").await;
    app.deliver(&worker, "tk-missing000", json!({"result": "x"}))
        .await
        .expect(404);
    // A claimed task is not the stranger's to see: the same 404 as a missing one.
    let r = app
        .deliver(&stranger, &task, json!({"result": "x"}))
        .await
        .expect(404);
    assert_eq!(r.error(), "Task not found");
    let r = app.deliver(&worker, &task, json!({})).await.expect(400);
    assert_eq!(r.error(), "Missing result");
    app.deliver(&worker, &task, json!({"result": "x", "credits_claimed": 0}))
        .await
        .expect(400);
    app.deliver(
        &worker,
        &task,
        json!({"result": "x", "credits_claimed": -5}),
    )
    .await
    .expect(400);
    let r = app
        .deliver(
            &worker,
            &task,
            json!({"result": "x", "credits_claimed": "many"}),
        )
        .await
        .expect(400);
    assert!(r.error().contains("integer"));
    app.deliver(&worker, &task, json!({"result": "r".repeat(500_001)}))
        .await
        .expect(400);
    app.deliver(&worker, &task, json!({"result": "r".repeat(500_000)}))
        .await
        .expect(200);
    let r = app
        .deliver(&worker, &task, json!({"result": "again"}))
        .await
        .expect(409);
    assert_eq!(r.error(), "Task is delivered, not claimed");
    let _ = poster;
    app.assert_conservation().await;
}

#[tokio::test]
async fn approve_refusals() {
    let app = TestApp::spawn().await;
    let (poster, worker, task) = claimed_task(&app, 10).await;
    let r = app
        .act(&poster, &task, "approve", Value::Null)
        .await
        .expect(409);
    assert_eq!(r.error(), "Task is claimed, not delivered");
    app.deliver(&worker, &task, json!({"result": "x"}))
        .await
        .expect(200);
    let r = app
        .act(&worker, &task, "approve", Value::Null)
        .await
        .expect(403);
    assert_eq!(r.error(), "Not your task");
    for rating in [json!(0), json!(6), json!("great")] {
        app.act(&poster, &task, "approve", json!({ "rating": rating }))
            .await
            .expect(400);
    }
    app.act(&poster, "tk-missing000", "approve", Value::Null)
        .await
        .expect(404);
    app.act(
        &poster,
        &task,
        "approve",
        json!({"rating": 3, "feedback": "ok"}),
    )
    .await
    .expect(200);
    app.act(&poster, &task, "approve", Value::Null)
        .await
        .expect(409);
    assert_eq!(app.balance(&worker).await, 109);
    app.assert_conservation().await;
}

#[tokio::test]
async fn reject_keeps_the_claim_for_a_grace_period_and_allows_redelivery() {
    let app = TestApp::spawn().await;
    let (poster, worker, task) = claimed_task(&app, 10).await;
    app.deliver(&worker, &task, json!({"result": "v1"}))
        .await
        .expect(200);
    let r = app
        .act(&poster, &task, "reject", json!({}))
        .await
        .expect(400);
    assert_eq!(r.error(), "Missing required field: reason");
    app.act(
        &poster,
        &task,
        "reject",
        json!({"reason": "x".repeat(5001)}),
    )
    .await
    .expect(400);
    app.act(&worker, &task, "reject", json!({"reason": "no"}))
        .await
        .expect(403);

    let r = app
        .act(
            &poster,
            &task,
            "reject",
            json!({"reason": "Missing error handling", "feedback": "add try/catch"}),
        )
        .await
        .expect(200);
    assert_eq!(r.body["status"], "claimed");
    assert_eq!(r.body["worker_id"], worker.id);
    assert_eq!(r.body["rejection_count"], 1);
    assert_eq!(r.body["rejection_reason"], "Missing error handling");
    assert!(r.body["rejection_grace_deadline"].is_string());
    assert!(r.body["result"].is_null());

    let event: Value = sqlx::query_scalar("SELECT payload FROM outbox WHERE subject = $1")
        .bind(format!("events.{}.task_rejected", worker.id))
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(event["data"]["reason"], "Missing error handling");
    assert!(event["data"]["grace_deadline"].is_string());

    app.act(&poster, &task, "reject", json!({"reason": "again"}))
        .await
        .expect(409);
    app.deliver(
        &worker,
        &task,
        json!({"result": "v2", "credits_claimed": 4}),
    )
    .await
    .expect(200);
    app.act(&poster, &task, "approve", Value::Null)
        .await
        .expect(200);
    assert_eq!(app.balance(&worker).await, 104);
    assert_eq!(app.balance(&poster).await, 96);
    app.assert_conservation().await;
}

#[tokio::test]
async fn third_rejection_releases_the_worker_and_reposts() {
    let app = TestApp::spawn().await;
    let (poster, worker, task) = claimed_task(&app, 10).await;
    for round in 1..=3 {
        app.deliver(&worker, &task, json!({"result": format!("v{round}")}))
            .await
            .expect(200);
        let r = app
            .act(&poster, &task, "reject", json!({"reason": "not yet"}))
            .await
            .expect(200);
        assert_eq!(r.body["rejection_count"], round);
        if round < 3 {
            assert_eq!(r.body["status"], "claimed");
        } else {
            assert_eq!(r.body["status"], "posted");
            assert!(r.body["worker_id"].is_null());
        }
    }
    let other = app.register("other").await;
    let browse = app
        .get("/v1/tasks/available", Some(&other.key))
        .await
        .expect(200);
    assert_eq!(browse.body["tasks"][0]["rejection_count"], 3);
    app.deliver(&worker, &task, json!({"result": "late"}))
        .await
        .expect(403);
    assert_eq!(app.balance(&poster).await, 90, "escrow stays held");
    app.assert_conservation().await;
}

#[tokio::test]
async fn cancel_refunds_posted_tasks_only() {
    let app = TestApp::spawn().await;
    let poster = app.register("poster").await;
    let worker = app.register("worker").await;
    let task = app.post_task(&poster, "x", 30).await;
    app.act(&worker, &task, "cancel", Value::Null)
        .await
        .expect(403);
    let r = app
        .act(&poster, &task, "cancel", Value::Null)
        .await
        .expect(200);
    assert_eq!(r.body["status"], "cancelled");
    assert_eq!(app.balance(&poster).await, 100);
    let r = app
        .act(&poster, &task, "cancel", Value::Null)
        .await
        .expect(409);
    assert_eq!(r.error(), "Task is cancelled, can only cancel posted tasks");
    app.pickup(&worker, &task).await.expect(409);

    let claimed = app.post_task(&poster, "y", 5).await;
    app.pickup(&worker, &claimed).await.expect(200);
    let r = app
        .act(&poster, &claimed, "cancel", Value::Null)
        .await
        .expect(409);
    assert_eq!(r.error(), "Task is claimed, can only cancel posted tasks");
    app.act(&poster, "tk-missing000", "cancel", Value::Null)
        .await
        .expect(404);
    app.assert_conservation().await;
}

#[tokio::test]
async fn abandon_returns_the_task_to_the_pool() {
    let app = TestApp::spawn().await;
    let (poster, worker, task) = claimed_task(&app, 10).await;
    let other = app.register("other").await;
    let r = app
        .act(&other, &task, "abandon", Value::Null)
        .await
        .expect(404);
    assert_eq!(r.error(), "Task not found");
    let r = app
        .act(&worker, &task, "abandon", Value::Null)
        .await
        .expect(200);
    assert_eq!(r.body["status"], "posted");
    assert!(r.body["worker_id"].is_null());
    let r = app
        .act(&worker, &task, "abandon", Value::Null)
        .await
        .expect(409);
    assert_eq!(r.error(), "Task is posted, not claimed");
    app.pickup(&other, &task).await.expect(200);
    assert_eq!(app.balance(&poster).await, 90);
    app.assert_conservation().await;
}

#[tokio::test]
async fn fee_percent_is_configurable() {
    let app = TestApp::spawn_with(&["--platform-fee-percent", "0"]).await;
    let (poster, worker, task) = claimed_task(&app, 50).await;
    app.deliver(&worker, &task, json!({"result": "x"}))
        .await
        .expect(200);
    app.act(&poster, &task, "approve", Value::Null)
        .await
        .expect(200);
    assert_eq!(app.balance(&worker).await, 150);
    app.assert_conservation().await;
}

/// A command holds at most one pooled connection at a time, refusals
/// included: with a pool of one connection, a command that waited for a
/// second one while holding the first would time out (503) instead of
/// answering.
#[tokio::test]
async fn every_step_and_its_refusals_answer_on_a_pool_of_one_connection() {
    let app = TestApp::spawn_with(&["--db-max-connections", "1"]).await;
    let poster = app.register("poster").await;
    let worker = app.register("worker").await;
    let task = app.post_task(&poster, "Review this endpoint", 10).await;
    app.deliver(&worker, &task, json!({"result": "early"}))
        .await
        .expect(403);
    app.act(&poster, &task, "approve", Value::Null)
        .await
        .expect(409);
    app.pickup(&worker, &task).await.expect(200);
    app.act(&poster, &task, "approve", Value::Null)
        .await
        .expect(409);
    app.deliver(&worker, &task, json!({"result": "done"}))
        .await
        .expect(200);
    app.deliver(&worker, &task, json!({"result": "again"}))
        .await
        .expect(409);
    app.act(&poster, &task, "approve", Value::Null)
        .await
        .expect(200);
    app.act(&poster, &task, "approve", Value::Null)
        .await
        .expect(409);
    app.assert_conservation().await;
}

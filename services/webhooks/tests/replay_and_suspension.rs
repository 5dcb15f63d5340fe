//! A webhook's signature covers its send time, so a captured request cannot
//! be replayed later unnoticed; and a suspended agent's webhooks stop.

use std::time::Duration;

use pinchwork_testkit::{ADMIN_KEY, TestCluster, hooks::Receiver};
use serde_json::{Value, json};

async fn start(flags: &[&str]) -> TestCluster {
    TestCluster::builder()
        .webhooks()
        .config(flags)
        .start()
        .await
}

#[tokio::test]
async fn the_signature_covers_a_timestamp_header() {
    let cluster = start(&[]).await;
    let hooks = Receiver::start().await;
    let poster = cluster
        .register_with(json!({"name": "poster", "webhook_url": hooks.url("poster"), "webhook_secret": "s3cret"}))
        .await;
    let worker = cluster.register("worker").await;
    let task = cluster.post_task(&poster, "sign this", 5).await;
    cluster.pickup(&worker, &task).await.expect(200);
    // The worker's own trace context is not passed on as it was sent: a
    // malformed one starts a fresh trace, and what reaches the poster is a
    // well-formed W3C value with nothing but hex ids in it.
    let delivered = cluster
        .http
        .post(format!("{}/v1/tasks/{task}/deliver", cluster.base))
        .bearer_auth(&worker.key)
        .header("traceparent", "00-attacker-chosen-text-01")
        .header("tracestate", "vendor=leak")
        .json(&json!({"result": "signed"}))
        .send()
        .await
        .unwrap();
    assert_eq!(delivered.status(), 200);
    let got = &hooks
        .wait_for("the delivery webhook", Duration::from_secs(30), |_| true)
        .await;
    let sent_at: i64 = got
        .timestamp
        .as_deref()
        .and_then(|t| t.parse().ok())
        .expect("X-Pinchwork-Timestamp");
    let now = chrono::Utc::now().timestamp();
    assert!((now - sent_at).abs() < 300, "sent at {sent_at}, now {now}");
    assert_eq!(
        got.signature.as_deref(),
        Some(pinchwork_webhooks::sign("s3cret", sent_at, &got.raw).as_str())
    );
    assert_ne!(
        got.signature.as_deref(),
        Some(pinchwork_webhooks::sign("s3cret", sent_at - 3600, &got.raw).as_str()),
        "an hour-old timestamp does not verify"
    );
    assert_eq!(got.event_id.as_deref(), got.body["event_id"].as_str());
    if let Some(tp) = got.traceparent.as_deref() {
        let parts: Vec<&str> = tp.split('-').collect();
        assert_eq!(parts.len(), 4, "{tp}");
        assert!(
            parts
                .iter()
                .all(|p| p.chars().all(|c| c.is_ascii_hexdigit())),
            "{tp}"
        );
        assert!(!tp.contains("attacker"), "{tp}");
    }
}

#[tokio::test]
async fn a_suspended_agent_gets_no_more_webhooks() {
    let cluster = start(&[
        "--webhook-max-retries",
        "1000",
        "--webhook-retry-base-ms",
        "100",
    ])
    .await;
    // The receiver fails, so the delivery stays pending and keeps being retried.
    let hooks = Receiver::answering(500).await;
    let poster = cluster
        .register_with(json!({"name": "poster", "webhook_url": hooks.url("poster")}))
        .await;
    let worker = cluster.register("worker").await;
    let task = cluster.post_task(&poster, "keep failing", 5).await;
    cluster.pickup(&worker, &task).await.expect(200);
    cluster
        .deliver(&worker, &task, json!({"result": "done"}))
        .await
        .expect(200);
    hooks
        .wait_for("a first attempt", Duration::from_secs(30), |_| true)
        .await;
    cluster
        .post(
            "/v1/admin/agents/suspend",
            Some(ADMIN_KEY),
            json!({"agent_id": poster.id, "suspended": true}),
        )
        .await
        .expect(200);
    let mut deliveries = Value::Null;
    for _ in 0..300 {
        deliveries = sqlx::query_scalar::<_, Value>(
            "SELECT json_agg(json_build_object('status', d.status, 'errors',
                    (SELECT json_agg(a.error) FROM webhook_attempts a WHERE a.delivery_id = d.id)))
             FROM webhook_deliveries d WHERE d.agent_id = $1",
        )
        .bind(&poster.id)
        .fetch_one(&cluster.pool)
        .await
        .unwrap_or(Value::Null);
        if deliveries.to_string().contains("the agent is suspended") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        deliveries.to_string().contains("the agent is suspended"),
        "{deliveries}"
    );
    assert!(
        deliveries
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["status"] != "pending"),
        "{deliveries}"
    );
}

//! A webhook's signature covers its send time, so a captured request cannot
//! be replayed later unnoticed; and a suspended agent's webhooks stop.

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::{Cluster, Receiver, eventually};

const ADMIN_KEY: &str = "webhooks-test-admin-key";

#[tokio::test]
async fn the_signature_covers_a_timestamp_header() {
    let cluster = Cluster::start(&[]).await;
    let hooks = Receiver::start(200).await;
    let poster = cluster
        .api
        .register_with(json!({"name": "poster", "webhook_url": hooks.url("poster"), "webhook_secret": "s3cret"}))
        .await;
    let worker = cluster.api.register("worker").await;
    let task = cluster.api.post_task(&poster, "sign this", 5).await;
    cluster.api.pickup(&worker, &task).await.expect(200);
    // The worker's own trace context is not passed on as it was sent: a
    // malformed one starts a fresh trace, and what reaches the poster is a
    // well-formed W3C value with nothing but hex ids in it.
    let delivered = cluster
        .api
        .http
        .post(format!("{}/v1/tasks/{task}/deliver", cluster.api.base))
        .bearer_auth(&worker.key)
        .header("traceparent", "00-attacker-chosen-text-01")
        .header("tracestate", "vendor=leak")
        .json(&json!({"result": "signed"}))
        .send()
        .await
        .unwrap();
    assert_eq!(delivered.status(), 200);
    eventually("the delivery webhook", Duration::from_secs(30), || {
        !hooks.received().is_empty()
    })
    .await;
    let got = &hooks.received()[0];
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
    let cluster = Cluster::start(&[
        "--admin-key",
        ADMIN_KEY,
        "--webhook-max-retries",
        "1000",
        "--webhook-retry-base-ms",
        "100",
    ])
    .await;
    // The receiver fails, so the delivery stays pending and keeps being retried.
    let hooks = Receiver::start(500).await;
    let poster = cluster
        .api
        .register_with(json!({"name": "poster", "webhook_url": hooks.url("poster")}))
        .await;
    let worker = cluster.api.register("worker").await;
    let task = cluster.api.post_task(&poster, "keep failing", 5).await;
    cluster.api.pickup(&worker, &task).await.expect(200);
    cluster
        .api
        .deliver(&worker, &task, json!({"result": "done"}))
        .await
        .expect(200);
    eventually("a first attempt", Duration::from_secs(30), || {
        !hooks.received().is_empty()
    })
    .await;
    cluster
        .api
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

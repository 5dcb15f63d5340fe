//! Every event reaches its recipient's webhook, signed with its secret and
//! carrying its event id; a failing receiver sees retries with growing delays,
//! then the delivery is recorded as failed.

use std::{collections::HashSet, time::Duration};

use pinchwork_common::domain::EventType;
use pinchwork_testkit::{
    TestCluster,
    events::raise_every_event,
    eventually,
    hooks::{Received, Receiver},
};
use serde_json::{Value, json};

#[tokio::test]
async fn every_event_type_reaches_its_recipient_signed() {
    let cluster = TestCluster::builder().webhooks().start().await;
    let hooks = Receiver::start().await;
    let poster = cluster.register_with(json!({"name": "poster", "webhook_url": hooks.url("poster"), "webhook_secret": "poster-secret"}))
        .await;
    let worker = cluster.register_with(json!({"name": "worker", "webhook_url": hooks.url("worker"), "webhook_secret": "worker-secret"}))
        .await;
    let expected = raise_every_event(&cluster.client, &cluster.pool, &poster, &worker).await;
    let want: HashSet<(String, String)> = expected
        .iter()
        .map(|(agent, e)| (agent.clone(), e.as_str().to_string()))
        .collect();

    eventually("every event delivered", Duration::from_secs(30), || async {
        let got: HashSet<_> = hooks
            .received()
            .iter()
            .map(|r| {
                (
                    recipient(r, &poster.id, &worker.id),
                    r.body["event"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect();
        want.is_subset(&got)
    })
    .await;

    for r in hooks.received() {
        let secret = if r.path == "/poster" {
            "poster-secret"
        } else {
            "worker-secret"
        };
        let timestamp: i64 = r
            .timestamp
            .as_deref()
            .and_then(|t| t.parse().ok())
            .expect("X-Pinchwork-Timestamp");
        assert_eq!(
            r.signature.as_deref(),
            Some(pinchwork_webhooks::sign(secret, timestamp, &r.raw).as_str()),
            "signature must verify"
        );
        assert_eq!(r.event_id.as_deref(), r.body["event_id"].as_str());
        let text = String::from_utf8_lossy(&r.raw);
        assert!(!text.contains("secret") && !text.contains("webhook_url"));
        if r.body["event"] == "task_rejected" {
            assert_eq!(r.body["data"]["reason"], "too literal");
            assert!(r.body["data"]["grace_deadline"].is_string());
        }
    }
    // Only the expected events arrived (nothing sent to the wrong agent).
    assert_eq!(hooks.received().len(), expected.len());
}

/// The agent's webhook delivery log, read every 100 ms until its newest
/// delivery satisfies `done` or 30 s have passed; the last read either way.
async fn delivery_log_until(
    cluster: &TestCluster,
    key: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let mut log = Value::Null;
    for _ in 0..300 {
        log = cluster
            .get("/v1/me/webhooks/deliveries", Some(key))
            .await
            .expect(200)
            .body;
        if done(&log["deliveries"][0]) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    log
}

fn recipient(r: &Received, poster: &str, worker: &str) -> String {
    if r.path == "/poster" {
        poster.to_string()
    } else {
        worker.to_string()
    }
}

#[tokio::test]
async fn a_failing_receiver_gets_retries_with_growing_delays_then_a_recorded_failure() {
    let cluster = TestCluster::builder()
        .webhooks()
        .config(&[
            "--webhook-max-retries",
            "3",
            "--webhook-retry-base-ms",
            "200",
        ])
        .start()
        .await;
    let hooks = Receiver::answering(500).await;
    let poster = cluster
        .register_with(json!({"name": "poster", "webhook_url": hooks.url("poster")}))
        .await;
    let worker = cluster.register("worker").await;
    let task = cluster.post_task(&poster, "count to ten", 10).await;
    cluster.pickup(&worker, &task).await.expect(200);
    cluster
        .deliver(&worker, &task, json!({"result": "1..10"}))
        .await
        .expect(200);

    let deliveries =
        delivery_log_until(&cluster, &poster.key, |newest| newest["status"] == "failed").await;
    let delivery = &deliveries["deliveries"][0];
    assert_eq!(delivery["status"], "failed", "{deliveries}");
    assert_eq!(delivery["event"], EventType::TaskDelivered.as_str());
    assert_eq!(delivery["attempts"], 4);
    let log = delivery["attempt_log"].as_array().expect("attempt log");
    assert_eq!(log.len(), 4);
    assert!(log.iter().all(|a| a["status_code"] == 500));
    assert!(
        !deliveries.to_string().contains(&hooks.url("poster")),
        "URL must stay private"
    );

    let times: Vec<_> = hooks.received().iter().map(|r| r.at).collect();
    assert_eq!(times.len(), 4, "one POST per attempt");
    let gaps: Vec<_> = times.windows(2).map(|w| w[1] - w[0]).collect();
    // Each wait is at least its back-off (200, 400, 800 ms): the delays grow.
    for (gap, min_ms) in gaps.iter().zip([200u64, 400, 800]) {
        assert!(*gap >= Duration::from_millis(min_ms - 20), "gaps {gaps:?}");
    }
    assert!(gaps[2] > gaps[0], "gaps {gaps:?}");
    // Every attempt carried the same bytes and event id.
    let received = hooks.received();
    assert!(received.iter().all(|r| r.raw == received[0].raw));
}

/// A receiver that answers 200 and then streams a body that never ends: the
/// status decides and the body is never read, so the attempt is a success
/// (reading it would end in the timeout, an error and a retry) and nothing
/// of it is buffered.
#[tokio::test]
async fn a_receivers_endless_answer_body_is_never_read() {
    let cluster = TestCluster::builder()
        .webhooks()
        .config(&[
            "--webhook-timeout-seconds",
            "2",
            "--webhook-max-retries",
            "0",
        ])
        .start()
        .await;
    let endless = || async {
        let chunk = axum::body::Bytes::from(vec![b'x'; 64 * 1024]);
        let body = futures::stream::repeat_with(move || Ok::<_, std::io::Error>(chunk.clone()));
        axum::body::Body::from_stream(body)
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let app = axum::Router::new().route("/hook", axum::routing::post(endless));
    let stop = cluster.shutdown_token();
    tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(stop.cancelled_owned())
            .await
    });
    let poster = cluster
        .register_with(json!({"name": "poster", "webhook_url": url}))
        .await;
    let worker = cluster.register("worker").await;
    let task = cluster.post_task(&poster, "stream forever", 10).await;
    cluster.pickup(&worker, &task).await.expect(200);
    cluster
        .deliver(&worker, &task, json!({"result": "done"}))
        .await
        .expect(200);

    // The attempt counts when it is claimed; wait for its outcome in the log.
    let deliveries = delivery_log_until(&cluster, &poster.key, |newest| {
        newest["attempt_log"]
            .as_array()
            .is_some_and(|log| !log.is_empty())
    })
    .await;
    let delivery = &deliveries["deliveries"][0];
    assert_eq!(delivery["status"], "delivered", "{deliveries}");
    let attempt = &delivery["attempt_log"][0];
    assert_eq!(attempt["status_code"], 200, "{deliveries}");
    assert!(attempt["error"].is_null(), "{deliveries}");
}

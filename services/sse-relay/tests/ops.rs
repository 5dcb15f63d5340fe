//! The relay's ops routes count open connections and consumed events, and a
//! shutdown ends open SSE streams so the relay stops instead of waiting on them.

use std::time::Duration;

use futures::StreamExt;
use pinchwork_common::{
    bus::Bus,
    market::{Market, RegistrationInput},
};
use pinchwork_testkit::{TestCluster, metrics::scrape};

struct Relay {
    cluster: TestCluster,
    /// The relay's base URL.
    base: String,
    /// An agent's API key.
    key: String,
    agent_id: String,
}

/// A relay (and the api node every test cluster has) over a fresh database
/// and prefix, with one registered agent.
async fn start() -> Relay {
    let cluster = TestCluster::builder().sse_relay().start().await;
    let base = cluster.sse_relay.clone().expect("the relay runs");
    let agent = Market::new(cluster.pool.clone(), cluster.config.clone())
        .register(RegistrationInput {
            name: Some("listener".into()),
            ..Default::default()
        })
        .await
        .expect("register");
    Relay {
        cluster,
        base,
        key: agent.api_key,
        agent_id: agent.agent_id.to_string(),
    }
}

/// Opens the agent's event stream; returns its body.
async fn open(relay: &Relay) -> reqwest::Response {
    let resp = reqwest::Client::new()
        .get(format!("{}/v1/events", relay.base))
        .bearer_auth(&relay.key)
        .send()
        .await
        .expect("connect SSE");
    assert_eq!(resp.status(), 200);
    resp
}

#[tokio::test]
async fn metrics_count_open_connections_and_consumed_events() {
    let relay = start().await;
    let _stream = open(&relay).await;
    let bus = Bus::connect(&relay.cluster.config).await.expect("NATS");
    let subject = format!("events.{}.task_message", relay.agent_id);
    let consumed = [("consumer", "sse-relay")];
    // The relay's feed takes new events only, so publish until it saw one.
    let mut n = 0;
    let scrape = loop {
        n += 1;
        let payload = format!(r#"{{"event":"task_message","task_id":"tk-{n}","event_id":"{n}"}}"#);
        bus.publish(&subject, &n.to_string(), None, payload.into())
            .await
            .expect("publish")
            .await
            .expect("ack");
        let scrape = scrape(&relay.base).await;
        if scrape.value("pinchwork_events_consumed_total", &consumed) >= Some(1.0) {
            break scrape;
        }
        assert!(
            n < 300,
            "the relay never counted an event:\n{}",
            scrape.text
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let open = scrape.value("pinchwork_sse_connections", &[]);
    assert!(open.is_some_and(|n| n >= 1.0), "open connections: {open:?}");
}

#[tokio::test]
async fn shutdown_ends_open_streams_and_the_relay_returns() {
    let relay = start().await;
    let mut body = open(&relay).await.bytes_stream();
    relay.cluster.shutdown_token().cancel();
    // The stream ends (keep-alive comments may come first) …
    let ended = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(chunk) = body.next().await {
            if chunk.is_err() {
                break;
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "the SSE stream stayed open after shutdown");
    // … and the relay's run returns cleanly (as does the api node's).
    let result = tokio::time::timeout(Duration::from_secs(60), relay.cluster.stop())
        .await
        .expect("the relay stopped");
    assert!(result.is_ok(), "{result:?}");
}

//! Webhooks: agents whose `webhook_url` points at a receiver inside this
//! process; deliveries raise events and the receiver times their arrival.
//! The cluster must run with `PINCHWORK_WEBHOOK_ALLOW_PRIVATE=true`.

use std::{
    collections::HashSet,
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::Result;
use axum::{Router, body::Bytes, extract::State, http::StatusCode, routing::post};
use serde_json::{Value, json};
use tokio::sync::mpsc::{UnboundedSender, unbounded_channel};

use crate::{
    client::{Agent, Api},
    events::{self, Arrival},
    stats::Samples,
};

/// Runs the scenario: `events` deliveries spread over `agents` webhook
/// agents; returns the summary line and the latency samples.
pub async fn run(
    api: Arc<Api>,
    agents: usize,
    events: usize,
    trigger_concurrency: usize,
) -> Result<(String, Samples)> {
    let (tx, mut rx) = unbounded_channel();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let hook = format!("http://{}/hook", listener.local_addr()?);
    let receiver = tokio::spawn(async move {
        let app = Router::new().route("/hook", post(receive)).with_state(tx);
        axum::serve(listener, app).await
    });

    let hooked = api
        .register_many("bench-hook", agents, 32, |_| json!({ "webhook_url": hook }))
        .await?;
    let workers = api
        .register_many("bench-hook-worker", 16, 16, |_| Value::Null)
        .await?;
    let recipients: Vec<&Agent> = (0..events).map(|i| &hooked[i % agents]).collect();
    eprintln!("webhooks: arming and firing {events} deliveries");
    let armed = events::arm(&api, &recipients, &workers, 32).await?;
    let fired = events::fire(&api, armed, trigger_concurrency).await?;
    let arrivals = events::gather(&mut rx, events, Duration::from_secs(30)).await;
    receiver.abort();

    let first_send = fired.sent.values().min().copied();
    let last_arrival = arrivals.iter().map(|(_, at)| *at).max();
    let rate = match (first_send, last_arrival) {
        (Some(s), Some(a)) => arrivals.len() as f64 / a.duration_since(s).as_secs_f64(),
        _ => 0.0,
    };
    let unique: HashSet<&String> = arrivals.iter().map(|(t, _)| t).collect();
    let name = "webhook, send → receipt";
    let mut samples = events::latencies(name, &fired, &arrivals);
    let p = |samples: &mut Samples, q| samples.percentile_ms(name, q).unwrap_or(f64::NAN);
    let (p50, p99) = (p(&mut samples, 0.5), p(&mut samples, 0.99));
    let line = format!(
        "{rate:.0} deliveries/s (events raised at {:.0}/s); latency p50 {p50:.1} ms, p99 {p99:.1} ms; {} of {events} received, {} duplicates",
        events as f64 / fired.span.as_secs_f64(),
        unique.len(),
        arrivals.len() - unique.len(),
    );
    Ok((line, samples))
}

async fn receive(State(tx): State<UnboundedSender<Arrival>>, body: Bytes) -> StatusCode {
    let at = Instant::now();
    if let Some(task) = events::delivered_task(&body) {
        let _ = tx.send((task, at));
    }
    StatusCode::OK
}

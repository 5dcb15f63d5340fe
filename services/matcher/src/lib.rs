//! The Pinchwork matcher: consumes the `task_created` and `profile_changed`
//! commands and routes work. Its results are ordinary rows written in
//! transactions; any number of instances may run, each command is applied
//! once. A periodic sweep routes tasks whose command never arrived; the match
//! and verification windows it opens are closed by the deadlines service.
#![forbid(unsafe_code)]

mod consumer;

use std::{
    net::SocketAddr,
    sync::{Arc, atomic::AtomicBool},
    time::Duration,
};

use pinchwork_common::{
    Config,
    market::Market,
    metrics,
    service::{Component, Runtime, Service},
};
use tokio_util::sync::CancellationToken;

pub use consumer::Command;

/// Name of the durable consumer every matcher instance shares, and the
/// service token of its command subjects (`<prefix>.cmd.matcher.<kind>`).
pub const CONSUMER: &str = "matcher";

/// Tasks the sweep routes per round.
const SWEEP_BATCH: i64 = 200;

/// The matcher: no routes of its own; the command consumer, the un-routed
/// sweep and the consumer-lag sampler. `/ready` waits for the consumer.
pub const SERVICE: Service = Service::new("matcher", start).with_nats();

fn start(rt: &Runtime) -> anyhow::Result<Component> {
    let bus = rt.bus()?;
    let attached = Arc::new(AtomicBool::new(false));
    let lag = metrics::sample_consumer_lag(
        bus.js.clone(),
        bus.layout.commands_stream(),
        CONSUMER,
        rt.shutdown.clone(),
    );
    let consumer = consumer::consume(
        rt.market.clone(),
        bus,
        attached.clone(),
        rt.shutdown.clone(),
    );
    Ok(Component::new()
        .ready_when(attached)
        .task(consumer)
        .task(sweep(rt.market.clone(), rt.shutdown.clone()))
        .task(lag))
}

/// Consumes commands and sweeps until `shutdown` is cancelled. Serves
/// `/health`, `/ready` and `/metrics`; calls `on_listen` with the bound address.
pub async fn run(
    config: Arc<Config>,
    shutdown: CancellationToken,
    on_listen: impl FnOnce(SocketAddr),
) -> anyhow::Result<()> {
    SERVICE.run(config, shutdown, on_listen).await
}

/// Routes tasks still pending without a decision (their command never reached
/// NATS), every `PINCHWORK_MATCHER_SWEEP_MS`. Not a timer: the match window and
/// the verification timeout belong to the deadlines service. Running in every
/// instance is harmless: each task is locked and checked before it is routed.
async fn sweep(market: Market, shutdown: CancellationToken) {
    let period = Duration::from_millis(market.config.matcher_sweep_ms);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(period) => {}
        }
        match market.route_unrouted(SWEEP_BATCH).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(routed = n, "sweep routed tasks"),
            Err(err) => tracing::warn!(error = %err, "sweep: routing failed"),
        }
    }
}

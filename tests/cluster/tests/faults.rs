//! Under a steady load of retrying clients, the cluster that `ops/cluster`
//! starts survives each fault — kill -9 of an api node or of a service, a NATS
//! or PostgreSQL restart, a rolling restart of every process — with no failed
//! request, and then no task claimed twice, credits conserved, every event
//! delivered to webhooks and SSE replay, and no task stuck past a deadline.

use pinchwork_cluster_tests::{Cluster, Load, Receiver, invariants};

/// Client tasks of the load; each loops lifecycles of 5 requests or so.
const CLIENTS: usize = 6;
/// Lifecycles before a fault (the load is steady) and after it (it recovered).
const BEFORE: u64 = 40;
const AFTER: u64 = 80;

async fn steady_load(cluster: &Cluster, hooks: &Receiver) -> Load {
    let load = Load::start(cluster, hooks, CLIENTS);
    load.progress(BEFORE).await;
    load
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_of_an_api_node_fails_no_retrying_client() {
    let cluster = Cluster::builder().start().await;
    let hooks = Receiver::start().await;
    let load = steady_load(&cluster, &hooks).await;

    cluster.kill9("api-1").await;
    assert!(!cluster.process("api-1").await.running, "api-1 is down");
    load.progress(AFTER).await;
    cluster.restart("api-1").await;
    assert!(cluster.process("api-1").await.healthy, "api-1 is back");
    load.progress(AFTER / 2).await;

    invariants::stop_and_check(&cluster, &hooks, load).await;
}

/// Kills `name` with SIGKILL mid-load, lets the load run without it, brings it back.
async fn kill_9_and_restart(name: &str) {
    let cluster = Cluster::builder().start().await;
    let hooks = Receiver::start().await;
    let load = steady_load(&cluster, &hooks).await;

    cluster.kill9(name).await;
    assert!(!cluster.process(name).await.running, "{name} is down");
    load.progress(AFTER / 2).await;
    cluster.restart(name).await;
    assert!(cluster.process(name).await.healthy, "{name} is back");
    load.progress(AFTER / 2).await;

    invariants::stop_and_check(&cluster, &hooks, load).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_of_the_sse_relay_then_restart_loses_no_event() {
    kill_9_and_restart("sse-relay-1").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_of_the_webhooks_service_then_restart_loses_no_event() {
    kill_9_and_restart("webhooks-1").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_of_the_deadlines_service_then_restart_applies_every_timer() {
    kill_9_and_restart("deadlines-1").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_of_the_matcher_then_restart_routes_every_task() {
    kill_9_and_restart("matcher-1").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rolling_restart_of_every_process_fails_no_retrying_client() {
    let cluster = Cluster::builder().start().await;
    let hooks = Receiver::start().await;
    let load = steady_load(&cluster, &hooks).await;

    let processes = cluster.status().await;
    assert!(processes.len() >= 7, "the whole topology: {processes:?}");
    for process in processes {
        cluster.restart(&process.name).await;
        load.progress(5).await;
    }
    for process in cluster.status().await {
        assert!(process.healthy, "{} is healthy again", process.name);
    }

    invariants::stop_and_check(&cluster, &hooks, load).await;
}

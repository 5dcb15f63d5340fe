//! Under a steady load of retrying clients, the cluster that `ops/cluster`
//! starts survives each fault — kill -9 of an api node or of a service, a NATS
//! or PostgreSQL restart, a rolling restart of every process — with no failed
//! request, and then no task claimed twice, credits conserved, every event
//! delivered to webhooks and SSE replay, and no task stuck past a deadline.

use std::time::Duration;

use pinchwork_cluster_tests::{Cluster, Load, Receiver, invariants};
use pinchwork_testkit::Client;
use reqwest::Method;
use serde_json::{Value, json};

/// Client tasks of the load; each loops lifecycles of 5 requests or so.
const CLIENTS: usize = 6;
/// Lifecycles before a fault (the load is steady) and after it (it recovered).
const BEFORE: u64 = 40;
const AFTER: u64 = 80;
/// The admin key of the clusters that need the admin API.
const ADMIN_KEY: &str = "faults-admin-key";

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
    assert_all_healthy(&cluster).await;
    load.progress(AFTER / 2).await;

    invariants::stop_and_check(&cluster, &hooks, load).await;
}

/// Kills `name` with SIGKILL mid-load, lets the load run without it, brings it back.
async fn kill_9_and_restart(name: &str) {
    kill_9_and_restart_in(&Cluster::builder().start().await, name).await;
}

async fn kill_9_and_restart_in(cluster: &Cluster, name: &str) {
    let hooks = Receiver::start().await;
    let load = steady_load(cluster, &hooks).await;

    cluster.kill9(name).await;
    assert!(!cluster.process(name).await.running, "{name} is down");
    load.progress(AFTER).await;
    cluster.restart(name).await;
    assert_all_healthy(cluster).await;
    load.progress(AFTER / 2).await;

    invariants::stop_and_check(cluster, &hooks, load).await;
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
    // With an approved infra agent, create leaves each task pending and the
    // matcher's command consumer hands it to the infra agents (a match_agents
    // system task): the path a kill -9 of the matcher interrupts. The infra
    // agent never works, so the tasks stay pending, each with its system task.
    let cluster = Cluster::builder()
        .env("PINCHWORK_ADMIN_KEY", ADMIN_KEY)
        .start()
        .await;
    let api = Client::new(cluster.url());
    let infra = api
        .register_with(json!({ "name": "idle-infra", "accepts_system_tasks": true }))
        .await;
    let approved = api
        .call(
            Method::POST,
            "/v1/admin/agents/infra",
            Some(ADMIN_KEY),
            json!({ "agent_id": infra.id, "approved": true }),
        )
        .await;
    assert_eq!(approved.status, 200, "{}", approved.body);

    kill_9_and_restart_in(&cluster, "matcher-1").await;
    let spawned: i64 =
        sqlx::query_scalar("SELECT count(*) FROM tasks WHERE system_task_type = 'match_agents'")
            .fetch_one(cluster.pool())
            .await
            .expect("count match_agents tasks");
    assert!(spawned > 0, "the matcher handed no task to the infra agent");
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
    assert_all_healthy(&cluster).await;

    invariants::stop_and_check(&cluster, &hooks, load).await;
}

/// Every process of the cluster answers its health check (asked again for a
/// while: `ops/cluster status` gives each check 2 s, a busy machine may miss one).
async fn assert_all_healthy(cluster: &Cluster) {
    for _ in 0..10 {
        if cluster.status().await.iter().all(|p| p.healthy) {
            return;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let sick: Vec<_> = cluster
        .status()
        .await
        .into_iter()
        .filter(|p| !p.healthy)
        .collect();
    panic!("processes not healthy: {sick:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_restart_mid_load_loses_no_event() {
    let mut cluster = Cluster::builder().private_nats().start().await;
    let hooks = Receiver::start().await;
    let load = steady_load(&cluster, &hooks).await;

    cluster.stop_nats().await;
    // Commands keep committing (events wait in the outbox) while NATS is away.
    load.progress(AFTER * 2).await;
    cluster.start_nats().await;
    load.progress(AFTER).await;
    assert_all_healthy(&cluster).await;

    invariants::stop_and_check(&cluster, &hooks, load).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restart_mid_load_answers_503_meanwhile_then_recovers() {
    let cluster = Cluster::builder().private_postgres().start().await;
    let hooks = Receiver::start().await;
    let api = Client::new(cluster.url());
    let probe = api.register("probe").await;
    let task = api.post_task(&probe, "a task to look at", 5).await;
    let load = steady_load(&cluster, &hooks).await;

    cluster.stop_postgres().await;
    let bases = [
        cluster.url(),
        cluster.api_node_url(1),
        cluster.api_node_url(2),
    ];
    let probes = bases.iter().flat_map(|base| {
        let key = Some(probe.key.as_str());
        let task_path = format!("/v1/tasks/{task}");
        [
            (
                Method::POST,
                "/v1/register".to_string(),
                None,
                json!({ "name": "late" }),
            ),
            (Method::GET, "/v1/me".to_string(), key, Value::Null),
            (Method::GET, task_path, key, Value::Null),
            (
                Method::GET,
                "/v1/tasks/available".to_string(),
                key,
                Value::Null,
            ),
            (
                Method::POST,
                "/v1/tasks".to_string(),
                key,
                json!({ "need": "x" }),
            ),
            (
                Method::POST,
                "/v1/tasks/pickup".to_string(),
                key,
                Value::Null,
            ),
        ]
        .map(|(method, path, key, body)| {
            let api = Client::new(base.clone());
            async move {
                let answer = tokio::time::timeout(
                    Duration::from_secs(15),
                    api.send(method.clone(), &path, key, body),
                )
                .await
                .unwrap_or_else(|_| panic!("{method} {base}{path} hangs while PostgreSQL is down"))
                .unwrap_or_else(|e| panic!("{method} {base}{path}: no answer: {e}"));
                assert_eq!(answer.status, 503, "{method} {base}{path}: {}", answer.body);
                assert!(
                    !answer.error().is_empty(),
                    "{method} {path}: {}",
                    answer.body
                );
            }
        })
    });
    futures::future::join_all(probes).await;
    cluster.start_postgres().await;
    load.progress(AFTER).await;
    assert_all_healthy(&cluster).await;

    invariants::stop_and_check(&cluster, &hooks, load).await;
}

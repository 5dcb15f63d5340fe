//! Two matcher processes on one command stream route a burst of tasks exactly
//! once each: one match_agents task per task with infra agents, one built-in
//! outcome once they are gone, no duplicate match rows, and conservation holds.

use std::time::Duration;

use async_nats::jetstream::{self, message::PublishMessage};
use pinchwork_common::bus::{Bus, Layout};
use pinchwork_testkit::{Agent, eventually};
use serde_json::json;
use tokio::process::Child;

use crate::support::TestEnv;

const TASKS: usize = 500;

/// Starts a real `pinchwork-matcher` process; the sweep is slowed down so the
/// commands published to NATS do the work.
fn spawn_matcher(env: &TestEnv) -> Child {
    env.command(env!("CARGO_BIN_EXE_pinchwork-matcher"))
        .env("PINCHWORK_LISTEN", "127.0.0.1:0")
        .env("PINCHWORK_MATCHER_SWEEP_MS", "3600000")
        .env("PINCHWORK_DB_MAX_CONNECTIONS", "4")
        .env("RUST_LOG", "warn")
        .spawn()
        .expect("start pinchwork-matcher")
}

/// Posts the burst of tasks; returns their ids.
async fn post_burst(env: &TestEnv, poster: &Agent) -> Vec<String> {
    let mut ids = Vec::with_capacity(TASKS);
    for i in 0..TASKS {
        ids.push(
            env.post_task(poster, &format!("Benchmark the parser, variant {i}"), 1)
                .await,
        );
    }
    ids
}

/// Publishes every task's `task_created` command twice (as a republishing
/// outbox sweeper might, with different message ids).
async fn publish_twice(env: &TestEnv, ids: &[String]) -> jetstream::Context {
    // Connecting creates the command stream, as any service would.
    let bus = Bus::connect(&env.config).await.expect("NATS");
    let subject = bus.layout.absolute("cmd.matcher.task_created");
    let js = bus.js;
    for id in ids {
        for copy in 0..2 {
            let publish = PublishMessage::build()
                .payload(json!({ "task_id": id }).to_string().into())
                .message_id(format!("{id}-{copy}"));
            js.send_publish(subject.clone(), publish)
                .await
                .expect("publish")
                .await
                .expect("publish ack");
        }
    }
    js
}

/// Removes the test's command stream so runs do not pile up streams in NATS.
async fn drop_stream(js: &jetstream::Context, env: &TestEnv) {
    let name = Layout::new(&env.config).commands_stream();
    let _ = js.delete_stream(name).await;
}

async fn count(env: &TestEnv, sql: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .fetch_one(&env.pool)
        .await
        .expect("count")
}

#[tokio::test]
async fn two_matchers_spawn_one_match_task_per_task() {
    let env = TestEnv::spawn(&["--initial-credits", "1000"]).await;
    let _infra = env.infra("infra").await;
    let poster = env.register("poster").await;
    let matchers = [spawn_matcher(&env), spawn_matcher(&env)];
    let ids = post_burst(&env, &poster).await;
    let js = publish_twice(&env, &ids).await;

    eventually(
        "every task to get its match task",
        Duration::from_secs(120),
        || async {
            count(
                &env,
                "SELECT count(*) FROM tasks WHERE system_task_type = 'match_agents'",
            )
            .await
                >= TASKS as i64
        },
    )
    .await;
    // Give stragglers (redeliveries) time to do harm, if they could.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        count(
            &env,
            "SELECT count(*) FROM tasks WHERE system_task_type = 'match_agents'"
        )
        .await,
        TASKS as i64
    );
    assert_eq!(
        count(
            &env,
            "SELECT count(*) FROM tasks t WHERE NOT is_system AND match_status = 'pending'
               AND (SELECT count(*) FROM tasks s WHERE s.parent_task_id = t.id) <> 1"
        )
        .await,
        0
    );
    env.assert_conservation().await;
    drop(matchers);
    drop_stream(&js, &env).await;
}

#[tokio::test]
async fn two_builtin_matchers_route_each_task_once() {
    let env = TestEnv::spawn(&["--initial-credits", "1000"]).await;
    let poster = env.register("poster").await;
    for i in 0..7 {
        env.worker(&format!("bench-{i}"), "parser benchmarks").await;
    }
    // Posted while an infra agent exists, the tasks wait for the matcher;
    // the agent leaves, so the matchers route them with the built-in matcher.
    let infra = env.infra("infra").await;
    let ids = post_burst(&env, &poster).await;
    env.retire_infra(&infra).await;
    let matchers = [spawn_matcher(&env), spawn_matcher(&env)];
    let js = publish_twice(&env, &ids).await;

    eventually(
        "every task to be routed",
        Duration::from_secs(120),
        || async {
            count(
                &env,
                "SELECT count(*) FROM tasks WHERE match_status = 'pending'",
            )
            .await
                == 0
        },
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    // Each task matched to exactly the five best agents, ranks 0..4, once.
    assert_eq!(
        count(
            &env,
            "SELECT count(*) FROM tasks WHERE match_status = 'matched'"
        )
        .await,
        TASKS as i64
    );
    assert_eq!(
        count(&env, "SELECT count(*) FROM task_matches").await,
        5 * TASKS as i64
    );
    assert_eq!(
        count(
            &env,
            "SELECT count(DISTINCT (task_id, rank)) FROM task_matches"
        )
        .await,
        5 * TASKS as i64
    );
    env.assert_conservation().await;
    drop(matchers);
    drop_stream(&js, &env).await;
}

//! Each due transition is applied exactly once, however many deadlines
//! processes run at once and even when one is killed with SIGKILL mid-sweep.

use std::{
    process::{Child, Command, Stdio},
    sync::Arc,
    time::Duration,
};

use pinchwork_common::{
    domain::Credits,
    ids::AgentId,
    market::{CreateTaskInput, Market, RegistrationInput},
};
use pinchwork_testkit::{assert_conservation, fresh_database, nats_prefix, test_config};
use sqlx::PgPool;
use tokio::task::JoinSet;

const TASKS: usize = 1000;

/// Starts the real `pinchwork-deadlines` binary over `url`.
fn start_deadlines(url: &str, batch: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_pinchwork-deadlines"))
        .env("DATABASE_URL", url)
        .env("PINCHWORK_LISTEN", "127.0.0.1:0")
        .env("PINCHWORK_DEADLINES_POLL_MS", "20")
        .env("PINCHWORK_DEADLINES_BATCH", batch)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start pinchwork-deadlines")
}

/// A market over a fresh database, a rich poster and a worker.
async fn market_with_agents() -> (String, Market, AgentId, AgentId) {
    let url = fresh_database().await;
    let flags = [
        "--welcome-task-enabled",
        "false",
        "--db-max-connections",
        "20",
    ];
    let config = test_config(&url, &nats_prefix(), &flags);
    let pool = PgPool::connect(&url).await.expect("connect");
    let market = Market::new(pool, config);
    let poster = register(&market, "poster").await;
    let worker = register(&market, "worker").await;
    market
        .grant(&poster, Credits::new(100_000), Some("admin_grant"))
        .await
        .expect("grant");
    (url, market, poster, worker)
}

async fn register(market: &Market, name: &str) -> AgentId {
    market
        .register(RegistrationInput {
            name: Some(name.into()),
            ..RegistrationInput::default()
        })
        .await
        .expect("register")
        .agent_id
}

/// Posts `n` tasks (escrow taken through the real create command).
async fn post_tasks(market: &Market, poster: &AgentId, n: usize) -> Vec<String> {
    let mut set = JoinSet::new();
    let per_job = n / 8;
    for job in 0..8 {
        let market = market.clone();
        let poster = poster.clone();
        let count = if job == 7 { n - per_job * 7 } else { per_job };
        set.spawn(async move {
            let mut ids = Vec::with_capacity(count);
            for i in 0..count {
                let task = market
                    .create_task(
                        &poster,
                        CreateTaskInput {
                            need: Some(format!("bulk task {job}-{i}")),
                            max_credits: Some(10),
                            ..CreateTaskInput::default()
                        },
                    )
                    .await
                    .expect("create task");
                ids.push(String::from(task.id));
            }
            ids
        });
    }
    let mut ids = Vec::with_capacity(n);
    while let Some(batch) = set.join_next().await {
        ids.extend(batch.expect("create job"));
    }
    ids
}

async fn exec(pool: &PgPool, sql: &'static str, ids: &[String], worker: &str) {
    sqlx::query(sql)
        .bind(ids)
        .bind(worker)
        .execute(pool)
        .await
        .expect("test SQL");
}

async fn count(pool: &PgPool, sql: &'static str, ids: &[String]) -> i64 {
    sqlx::query_scalar(sql)
        .bind(ids)
        .fetch_one(pool)
        .await
        .expect("count")
}

/// Waits until `sql` (a count over `ids`) reaches `want`.
async fn wait_count(pool: &PgPool, sql: &'static str, ids: &[String], want: i64) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(180);
    loop {
        let now = count(pool, sql, ids).await;
        if now >= want {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {now} of {want} reached"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

const EXPIRED: &str = "SELECT count(*) FROM tasks WHERE id = ANY($1) AND status = 'expired'";

/// Asserts every expired task got exactly one refund and one `task_expired`.
async fn assert_expired_once(pool: &PgPool, ids: &[String]) {
    let n = ids.len() as i64;
    assert_eq!(count(pool, EXPIRED, ids).await, n);
    let refunds_per_task: Vec<i64> = sqlx::query_scalar(
        "SELECT count(l.id) FROM unnest($1::text[]) t(id)
         LEFT JOIN ledger l ON l.task_id = t.id AND l.reason = 'refund'
         GROUP BY t.id",
    )
    .bind(ids)
    .fetch_all(pool)
    .await
    .expect("refunds");
    assert!(
        refunds_per_task.iter().all(|&c| c == 1),
        "one refund per task"
    );
    let events_per_task: Vec<i64> = sqlx::query_scalar(
        "SELECT count(o.id) FROM unnest($1::text[]) t(id)
         LEFT JOIN outbox o ON o.payload->>'task_id' = t.id AND o.payload->>'event' = 'task_expired'
         GROUP BY t.id",
    )
    .bind(ids)
    .fetch_all(pool)
    .await
    .expect("events");
    assert!(
        events_per_task.iter().all(|&c| c == 1),
        "one event per task"
    );
}

/// Asserts each task has exactly one outbox event of type `event` and nothing
/// else from the deadlines service.
async fn assert_one_event_each(pool: &PgPool, ids: &[String], event: &str) {
    let per_task: Vec<i64> = sqlx::query_scalar(
        "SELECT count(o.id) FROM unnest($1::text[]) t(id)
         LEFT JOIN outbox o ON o.payload->>'task_id' = t.id AND o.payload->>'event' = $2
         GROUP BY t.id",
    )
    .bind(ids)
    .bind(event)
    .fetch_all(pool)
    .await
    .expect("events");
    assert_eq!(per_task.len(), ids.len());
    assert!(per_task.iter().all(|&c| c == 1), "one {event} per task");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_processes_apply_each_due_transition_exactly_once() {
    let (url, market, poster, worker) = market_with_agents().await;
    let ids = post_tasks(&market, &poster, TASKS).await;
    let (expiring, rest) = ids.split_at(400);
    let (timing_out, reviewing) = rest.split_at(300);
    let pool = &market.pool;
    exec(
        pool,
        "UPDATE tasks SET expires_at = now() - interval '1 second' WHERE id = ANY($1) AND $2 <> ''",
        expiring,
        &worker,
    )
    .await;
    exec(
        pool,
        "UPDATE tasks SET status = 'claimed', worker_id = $2, claimed_at = now(),
                claim_deadline = now() - interval '1 second' WHERE id = ANY($1)",
        timing_out,
        &worker,
    )
    .await;
    exec(
        pool,
        "UPDATE tasks SET status = 'delivered', worker_id = $2, claimed_at = now(), result = 'r',
                credits_charged = max_credits, delivered_at = now(),
                review_deadline = now() - interval '1 second' WHERE id = ANY($1)",
        reviewing,
        &worker,
    )
    .await;

    let mut first = start_deadlines(&url, "10");
    let mut second = start_deadlines(&url, "10");
    wait_count(pool, EXPIRED, expiring, expiring.len() as i64).await;
    wait_count(
        pool,
        "SELECT count(*) FROM tasks WHERE id = ANY($1) AND status = 'posted'",
        timing_out,
        timing_out.len() as i64,
    )
    .await;
    wait_count(
        pool,
        "SELECT count(*) FROM tasks WHERE id = ANY($1) AND status = 'approved'",
        reviewing,
        reviewing.len() as i64,
    )
    .await;
    first.kill().expect("stop first");
    second.kill().expect("stop second");
    let _ = first.wait();
    let _ = second.wait();

    assert_expired_once(pool, expiring).await;
    assert_one_event_each(pool, timing_out, "claim_timeout_expired").await;
    assert_one_event_each(pool, reviewing, "task_approved").await;
    let payments: i64 = count(
        pool,
        "SELECT count(*) FROM ledger WHERE task_id = ANY($1) AND reason = 'payment'",
        reviewing,
    )
    .await;
    assert_eq!(payments, reviewing.len() as i64, "one payment per approval");
    // 10 charged, 10 % fee: the worker earned 9 per approved task.
    let worker_balance: i64 = sqlx::query_scalar("SELECT credits FROM agents WHERE id = $1")
        .bind(&worker)
        .fetch_one(pool)
        .await
        .expect("balance");
    assert_eq!(worker_balance, 100 + 9 * reviewing.len() as i64);
    assert_conservation(pool).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_process_killed_mid_sweep_loses_nothing_and_repeats_nothing() {
    let (url, market, poster, _worker) = market_with_agents().await;
    let ids = post_tasks(&market, &poster, TASKS).await;
    let pool = Arc::new(market.pool.clone());
    exec(
        &pool,
        "UPDATE tasks SET expires_at = now() - interval '1 second' WHERE id = ANY($1) AND $2 <> ''",
        &ids,
        "x",
    )
    .await;
    // Hold 300 rows so the kill is certain to land before the work is done.
    let (held, free) = ids.split_at(300);
    let mut holder = pool.begin().await.expect("holder");
    sqlx::query("SELECT id FROM tasks WHERE id = ANY($1) FOR UPDATE")
        .bind(held)
        .execute(&mut *holder)
        .await
        .expect("hold rows");

    let mut victim = start_deadlines(&url, "5");
    wait_count(&pool, EXPIRED, free, 100).await;
    victim.kill().expect("kill -9");
    let _ = victim.wait();
    let at_kill = count(&pool, EXPIRED, &ids).await;
    assert!(at_kill < TASKS as i64, "killed before the end ({at_kill})");
    holder.rollback().await.expect("release rows");

    let mut successor = start_deadlines(&url, "5");
    wait_count(&pool, EXPIRED, &ids, TASKS as i64).await;
    successor.kill().expect("stop successor");
    let _ = successor.wait();

    assert_expired_once(&pool, &ids).await;
    let poster_balance: i64 = sqlx::query_scalar("SELECT credits FROM agents WHERE id = $1")
        .bind(&poster)
        .fetch_one(&*pool)
        .await
        .expect("balance");
    assert_eq!(poster_balance, 100 + 100_000, "every escrow came back once");
    assert_conservation(&pool).await;
}

//! What must hold after any fault, once the load stopped: no task claimed
//! twice, credits conserved, every event published, delivered to the hooked
//! agents' webhooks and present in every agent's SSE replay, no timer left
//! past due and every task routed (by create itself, or, while an infra agent
//! exists, handed to it as a match_agents system task by the matcher, whose
//! kill -9 must not leave a task unhandled).

use std::{
    collections::{HashMap, HashSet},
    future::Future,
    time::{Duration, Instant},
};

use sqlx::PgPool;

use crate::{Cluster, Load, LoadReport, Receiver, sse};

/// Bound of every "eventually" below: recovery is quick, a stall is a bug.
const SETTLE: Duration = Duration::from_secs(60);
/// How late past its due time a timer may still be unapplied.
const TIMER_SLACK_SECONDS: i32 = 5;

/// Stops the load, asserts that no client failed, then checks every invariant.
pub async fn stop_and_check(cluster: &Cluster, hooks: &Receiver, load: Load) -> LoadReport {
    let report = load.stop().await;
    report.assert_clean();
    check(cluster, hooks, &report).await;
    report
}

/// Checks every invariant against the cluster's database, the webhook
/// receiver and the SSE relay.
pub async fn check(cluster: &Cluster, hooks: &Receiver, report: &LoadReport) {
    let pool = cluster.pool();
    no_double_claim(pool, report).await;
    pinchwork_testkit::assert_conservation(pool).await;
    every_event_published(pool).await;
    no_timer_past_due(pool).await;
    every_task_routed(pool).await;
    webhooks_delivered(pool, hooks, report).await;
    sse_complete(&cluster.url(), pool, report).await;
}

/// Retries `check` until it returns Ok; panics with its last complaint after [`SETTLE`].
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    let start = Instant::now();
    loop {
        let complaint = match check().await {
            Ok(()) => return,
            Err(complaint) => complaint,
        };
        assert!(
            start.elapsed() < SETTLE,
            "{what} did not hold within {SETTLE:?}: {complaint}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn scalar(pool: &PgPool, sql: &'static str) -> Result<i64, String> {
    sqlx::query_scalar(sql)
        .fetch_one(pool)
        .await
        .map_err(|e| e.to_string())
}

/// No task was claimed twice: at most one pickup answered 200 per task; the
/// database paid at most once per task, the worker the clients saw claim
/// it, and no task was delivered more often than it had claim cycles.
async fn no_double_claim(pool: &PgPool, report: &LoadReport) {
    for (task, workers) in &report.claims {
        assert!(workers.len() <= 1, "{task} claimed by {workers:?}");
    }
    let paid_twice: Vec<String> = sqlx::query_scalar(
        "SELECT task_id FROM ledger WHERE reason = 'payment'
         GROUP BY task_id HAVING count(*) > 1",
    )
    .fetch_all(pool)
    .await
    .expect("payments query");
    assert!(paid_twice.is_empty(), "tasks paid twice: {paid_twice:?}");
    // A delivery ends a claim cycle; only a rejection gives the same claim another.
    let over_delivered: Vec<String> = sqlx::query_scalar(
        "SELECT t.id FROM tasks t
         JOIN (SELECT payload->>'task_id' AS id, count(*) AS n FROM outbox
               WHERE subject LIKE 'events.%.task_delivered' GROUP BY 1) d ON d.id = t.id
         WHERE d.n > t.rejection_count + 1",
    )
    .fetch_all(pool)
    .await
    .expect("deliveries query");
    assert!(
        over_delivered.is_empty(),
        "tasks delivered more often than claimed: {over_delivered:?}"
    );
    let payees: HashMap<String, String> = sqlx::query_as(
        "SELECT task_id, agent_id FROM ledger WHERE reason = 'payment' AND task_id IS NOT NULL",
    )
    .fetch_all(pool)
    .await
    .expect("payees query")
    .into_iter()
    .collect();
    for (task, workers) in &report.claims {
        if let Some(payee) = payees.get(task) {
            assert_eq!(
                Some(payee),
                workers.first(),
                "{task} paid to someone else than its claimant"
            );
        }
    }
}

/// The outbox publishers (one per api node) published every row.
async fn every_event_published(pool: &PgPool) {
    eventually("every outbox row published", || async {
        match scalar(
            pool,
            "SELECT count(*) FROM outbox WHERE published_at IS NULL",
        )
        .await?
        {
            0 => Ok(()),
            n => Err(format!("{n} rows unpublished")),
        }
    })
    .await;
}

/// The deadlines service applied every timer that came due (design's timer
/// columns, each with the rule's own guard).
async fn no_timer_past_due(pool: &PgPool) {
    eventually("no task past a deadline", || async {
        let late: Vec<(String, String)> = sqlx::query_as(
            "SELECT id, status FROM tasks
             WHERE now() - make_interval(secs => $1) > ANY (ARRAY[
                 CASE WHEN status = 'posted' THEN expires_at END,
                 CASE WHEN status IN ('posted', 'claimed') THEN deadline END,
                 CASE WHEN status = 'claimed' AND rejection_grace_deadline IS NULL
                      THEN claim_deadline END,
                 CASE WHEN status = 'claimed' THEN rejection_grace_deadline END,
                 CASE WHEN status = 'delivered' AND NOT is_system THEN review_deadline END,
                 CASE WHEN status = 'posted' THEN match_deadline END,
                 CASE WHEN verification_status = 'pending' THEN verification_deadline END])
             LIMIT 5",
        )
        .bind(f64::from(TIMER_SLACK_SECONDS))
        .fetch_all(pool)
        .await
        .map_err(|e| e.to_string())?;
        match late.is_empty() {
            true => Ok(()),
            false => Err(format!("overdue: {late:?}")),
        }
    })
    .await;
    // The load makes spare tasks due: the rule above was not vacuous.
    let expired = scalar(pool, "SELECT count(*) FROM tasks WHERE status = 'expired'")
        .await
        .expect("expired count");
    assert!(expired > 0, "the deadlines service expired nothing");
    println!("deadlines: {expired} tasks expired");
}

/// Every open task's routing is decided (matched or broadcast) or handed to
/// the infra agents (its match_agents system task exists).
async fn every_task_routed(pool: &PgPool) {
    eventually("every posted task routed", || async {
        let n = scalar(
            pool,
            "SELECT count(*) FROM tasks t
             WHERE t.status = 'posted' AND NOT t.is_system AND t.match_status = 'pending'
               AND NOT EXISTS (SELECT 1 FROM tasks s WHERE s.parent_task_id = t.id
                               AND s.system_task_type = 'match_agents')",
        )
        .await?;
        match n {
            0 => Ok(()),
            n => Err(format!(
                "{n} posted tasks neither routed nor handed to infra agents"
            )),
        }
    })
    .await;
}

/// The outbox ids of the events addressed to any of `agents`.
async fn event_ids_for(pool: &PgPool, agents: &[String]) -> HashSet<String> {
    sqlx::query_scalar(
        "SELECT id::text FROM outbox
         WHERE subject LIKE 'events.%' AND payload->>'recipient' = ANY($1)",
    )
    .bind(agents)
    .fetch_all(pool)
    .await
    .expect("events query")
    .into_iter()
    .collect()
}

/// Every event of a hooked agent reached the receiver (by event id).
async fn webhooks_delivered(pool: &PgPool, hooks: &Receiver, report: &LoadReport) {
    let hooked: Vec<String> = report
        .agents
        .iter()
        .filter(|a| a.hooked)
        .map(|a| a.agent.id.clone())
        .collect();
    let expected = event_ids_for(pool, &hooked).await;
    assert!(!expected.is_empty(), "the hooked agents got no events");
    eventually("every hooked event delivered", || async {
        let missing = expected.difference(&hooks.event_ids()).count();
        match missing {
            0 => Ok(()),
            n => Err(format!("{n} of {} events not delivered", expected.len())),
        }
    })
    .await;
    println!(
        "webhooks: {} events of {} agents delivered",
        expected.len(),
        hooked.len()
    );
}

/// Every agent's SSE replay from the start (`Last-Event-ID: 0`, through the
/// load balancer) holds every event addressed to it, and so does what its
/// live listener collected through the faults.
async fn sse_complete(url: &str, pool: &PgPool, report: &LoadReport) {
    let http = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .build()
        .expect("http client");
    let checks = report.agents.iter().map(|a| {
        let http = http.clone();
        async move {
            let expected = event_ids_for(pool, std::slice::from_ref(&a.agent.id)).await;
            let replayed = replay(&http, url, &a.agent.key, &expected).await;
            let missing: Vec<_> = expected.difference(&replayed).collect();
            assert!(
                missing.is_empty(),
                "{}: {} of {} events missing from the SSE replay, e.g. {:?}",
                a.agent.id,
                missing.len(),
                expected.len(),
                &missing[..missing.len().min(5)]
            );
            eventually("the live SSE listener saw every event", || async {
                let live = a.live.lock().unwrap_or_else(|e| e.into_inner()).clone();
                match expected.difference(&live).count() {
                    0 => Ok(()),
                    n => Err(format!(
                        "{}: {n} of {} events missed",
                        a.agent.id,
                        expected.len()
                    )),
                }
            })
            .await;
            expected.len()
        }
    });
    let total: usize = futures::future::join_all(checks).await.into_iter().sum();
    println!(
        "sse: {total} events of {} agents replayed and seen live",
        report.agents.len()
    );
}

/// Reads the agent's replay from the start until it holds `want` or
/// [`SETTLE`] passed, starting over if the stream breaks.
async fn replay(
    http: &reqwest::Client,
    url: &str,
    key: &str,
    want: &HashSet<String>,
) -> HashSet<String> {
    let deadline = Instant::now() + SETTLE;
    let mut seen = HashSet::new();
    while !want.is_subset(&seen) && Instant::now() < deadline {
        let left = deadline.saturating_duration_since(Instant::now());
        let read = sse::read(http, url, key, 0, |_, id| {
            seen.insert(id);
            !want.is_subset(&seen)
        });
        if tokio::time::timeout(left, read).await.is_ok() && !want.is_subset(&seen) {
            // Refused or cut short: try again.
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    seen
}

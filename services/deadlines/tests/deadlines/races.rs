//! A timed rule never overrides a request that won the race: a delivery and
//! the claim timeout on the same task end in exactly one of the two outcomes.

use serde_json::json;
use tokio::task::JoinSet;

use crate::support::{TestApp, ev};

const TASKS: usize = 40;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn deliveries_racing_the_claim_timeout_win_or_lose_cleanly() {
    let app = TestApp::spawn().await;
    let poster = app.register("poster").await;
    let worker = app.register("worker").await;
    let mut ids = Vec::with_capacity(TASKS);
    for i in 0..TASKS {
        let id = app.post_task(&poster, &format!("race {i}"), 2).await;
        app.pickup(&worker, &id).await.expect(200);
        ids.push(id);
    }
    sqlx::query("UPDATE tasks SET claim_deadline = now() - interval '1 second' WHERE id = ANY($1)")
        .bind(&ids)
        .execute(&app.pool)
        .await
        .expect("make claims due");

    let mut set = JoinSet::new();
    for id in &ids {
        let (client, worker, id) = (app.client.clone(), worker.clone(), id.clone());
        set.spawn(async move {
            let resp = client
                .deliver(&worker, &id, json!({ "result": "done" }))
                .await;
            (id, resp.status.as_u16())
        });
    }
    let mut outcomes = Vec::with_capacity(TASKS);
    while let Some(outcome) = set.join_next().await {
        outcomes.push(outcome.expect("delivery"));
    }
    let mut delivered = 0;
    for (id, status) in outcomes {
        if status == 200 {
            delivered += 1;
            app.wait_status(&id, "delivered").await;
            assert_eq!(app.events(&id).await, vec![ev(&poster, "task_delivered")]);
        } else {
            // The task is no longer this worker's: 403, as for anyone else's task.
            assert!(matches!(status, 403 | 409), "unexpected status {status}");
            app.wait_status(&id, "posted").await;
            assert_eq!(
                app.events(&id).await,
                vec![ev(&worker, "claim_timeout_expired")]
            );
        }
    }
    tracing::info!(delivered, released = TASKS - delivered, "race outcome");
    app.assert_conservation().await;
}

//! A task is never claimed by two workers, and racing transitions leave every
//! task in exactly one valid state with credits conserved.

use std::collections::HashSet;

use pinchwork_testkit::Agent;
use serde_json::{Value, json};
use tokio::task::JoinSet;

use crate::support::TestApp;

async fn register_many(app: &TestApp, n: usize) -> Vec<Agent> {
    let mut agents = Vec::with_capacity(n);
    for i in 0..n {
        agents.push(app.register(&format!("worker-{i}")).await);
    }
    agents
}

#[tokio::test]
async fn fifty_workers_racing_on_twenty_tasks_claim_each_exactly_once() {
    let app = TestApp::spawn().await;
    let poster = app.register("poster").await;
    let mut tasks = HashSet::new();
    for i in 0..20 {
        tasks.insert(app.post_task(&poster, &format!("job {i}"), 2).await);
    }
    let workers = register_many(&app, 50).await;
    let mut races = JoinSet::new();
    for (i, worker) in workers.into_iter().enumerate() {
        let client = app.client.clone();
        races.spawn(async move {
            let mut claimed = Vec::new();
            // Half the workers use batch pickup, half single pickup, until the pool is empty.
            loop {
                if i % 2 == 0 {
                    let r = client
                        .post("/v1/tasks/pickup", Some(&worker.key), Value::Null)
                        .await;
                    if r.status == 204 {
                        break;
                    }
                    assert_eq!(r.status, 200, "{}", r.body);
                    claimed.push(r.body["task_id"].as_str().unwrap().to_string());
                } else {
                    let r = client
                        .post(
                            "/v1/tasks/pickup/batch",
                            Some(&worker.key),
                            json!({"count": 3}),
                        )
                        .await
                        .expect(200);
                    let got = r.body["tasks"].as_array().unwrap().clone();
                    if got.is_empty() {
                        break;
                    }
                    claimed.extend(
                        got.iter()
                            .map(|t| t["task_id"].as_str().unwrap().to_string()),
                    );
                }
            }
            (worker.id, claimed)
        });
    }
    let mut seen = HashSet::new();
    let mut total = 0;
    while let Some(result) = races.join_next().await {
        let (_, claimed) = result.unwrap();
        for task in claimed {
            total += 1;
            assert!(seen.insert(task.clone()), "task {task} claimed twice");
        }
    }
    assert_eq!(total, 20);
    assert_eq!(seen, tasks);
    let claimed_in_db: i64 =
        sqlx::query_scalar("SELECT count(*) FROM tasks WHERE status = 'claimed'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(claimed_in_db, 20);
    app.assert_conservation().await;
}

#[tokio::test]
async fn specific_pickup_race_has_one_winner() {
    let app = TestApp::spawn().await;
    let poster = app.register("poster").await;
    let task = app.post_task(&poster, "contested", 3).await;
    let workers = register_many(&app, 20).await;
    let mut races = JoinSet::new();
    for worker in workers {
        let client = app.client.clone();
        let task = task.clone();
        races.spawn(async move { client.pickup(&worker, &task).await.status.as_u16() });
    }
    let mut statuses = Vec::new();
    while let Some(s) = races.join_next().await {
        statuses.push(s.unwrap());
    }
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1);
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 409),
        "{statuses:?}"
    );
}

/// Every task ends in exactly one of the states its racing actors could produce.
#[tokio::test]
async fn racing_approve_reject_cancel_abandon_leave_one_valid_state() {
    let app = TestApp::spawn().await;
    let poster = app.register("poster").await;
    sqlx::query("UPDATE agents SET credits = credits + 1000 WHERE id = $1")
        .bind(&poster.id)
        .execute(&app.pool)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO ledger (id, agent_id, amount, reason, kind) VALUES ('le-testgrant0', $1, 1000, 'test_grant', 'grant')",
    )
    .bind(&poster.id)
    .execute(&app.pool)
    .await
    .unwrap();
    let workers = register_many(&app, 10).await;
    for worker in &workers {
        // A delivered task: approve and reject race, plus a late deliver and abandon.
        let delivered = app.post_task(&poster, "delivered race", 10).await;
        app.pickup(worker, &delivered).await.expect(200);
        app.deliver(worker, &delivered, json!({"result": "r"}))
            .await
            .expect(200);
        // A posted task: cancel races a pickup.
        let posted = app.post_task(&poster, "posted race", 10).await;

        let mut races = JoinSet::new();
        let c = app.client.clone();
        let (p, w, d) = (poster.clone(), worker.clone(), delivered.clone());
        races.spawn(async move {
            (
                "approve",
                c.act(&p, &d, "approve", Value::Null).await.status.as_u16(),
            )
        });
        let c = app.client.clone();
        let (p, d) = (poster.clone(), delivered.clone());
        races.spawn(async move {
            (
                "reject",
                c.act(&p, &d, "reject", json!({"reason": "no"}))
                    .await
                    .status
                    .as_u16(),
            )
        });
        let c = app.client.clone();
        let (w2, d) = (w.clone(), delivered.clone());
        races.spawn(async move {
            (
                "abandon",
                c.act(&w2, &d, "abandon", Value::Null).await.status.as_u16(),
            )
        });
        let c = app.client.clone();
        let (p, t) = (poster.clone(), posted.clone());
        races.spawn(async move {
            (
                "cancel",
                c.act(&p, &t, "cancel", Value::Null).await.status.as_u16(),
            )
        });
        let c = app.client.clone();
        let (w3, t) = (w.clone(), posted.clone());
        races.spawn(async move { ("pickup", c.pickup(&w3, &t).await.status.as_u16()) });
        let mut outcome = std::collections::HashMap::new();
        while let Some(r) = races.join_next().await {
            let (name, status) = r.unwrap();
            assert!([200, 403, 409].contains(&status), "{name} → {status}");
            outcome.insert(name, status);
        }
        // Exactly one of approve/reject won on the delivered task.
        assert_eq!(
            (outcome["approve"] == 200) as u8 + (outcome["reject"] == 200) as u8,
            1,
            "{outcome:?}"
        );
        let state = |id: String| {
            let pool = app.pool.clone();
            async move {
                sqlx::query_scalar::<_, String>("SELECT status FROM tasks WHERE id = $1")
                    .bind(id)
                    .fetch_one(&pool)
                    .await
                    .unwrap()
            }
        };
        let d_state = state(delivered.clone()).await;
        if outcome["approve"] == 200 {
            assert_eq!(d_state, "approved");
            assert_ne!(outcome["abandon"], 200);
        } else {
            // Rejected back to claimed; the abandon may then have released it.
            let expected = if outcome["abandon"] == 200 {
                "posted"
            } else {
                "claimed"
            };
            assert_eq!(d_state, expected, "{outcome:?}");
        }
        // Exactly one of cancel/pickup won on the posted task.
        assert_eq!(
            (outcome["cancel"] == 200) as u8 + (outcome["pickup"] == 200) as u8,
            1,
            "{outcome:?}"
        );
        let p_state = state(posted.clone()).await;
        assert_eq!(
            p_state,
            if outcome["cancel"] == 200 {
                "cancelled"
            } else {
                "claimed"
            }
        );
    }
    app.assert_conservation().await;
}

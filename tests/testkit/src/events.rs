//! Raising every event type of the API document, for the SSE and webhook tests.

use pinchwork_common::{
    db::{outbox, tasks},
    domain::EventType,
    ids::{AgentId, TaskId},
};
use serde_json::json;
use sqlx::PgPool;

use crate::{Agent, Client};

/// Raises every event type once for `poster` or `worker` and returns the
/// expected (recipient id, event type) pairs, one per event. Events of routes that exist are
/// raised over HTTP; the others (timers, questions, messages) are written to
/// the outbox the way their commands do, in a transaction.
pub async fn raise_every_event(
    api: &Client,
    pool: &PgPool,
    poster: &Agent,
    worker: &Agent,
) -> Vec<(String, EventType)> {
    let task = api.post_task(poster, "translate a haiku", 10).await;
    api.pickup(worker, &task).await.expect(200);
    api.deliver(worker, &task, json!({ "result": "first try" }))
        .await
        .expect(200);
    api.act(poster, &task, "reject", json!({ "reason": "too literal" }))
        .await
        .expect(200);
    api.deliver(worker, &task, json!({ "result": "second try" }))
        .await
        .expect(200);
    api.act(poster, &task, "approve", json!({}))
        .await
        .expect(200);

    let cancelled = api.post_task(poster, "never mind", 5).await;
    let mut tx = pool.begin().await.expect("begin");
    let (cancelled_id, worker_id) = (
        TaskId::from(cancelled.as_str()),
        AgentId::from(worker.id.as_str()),
    );
    tasks::insert_match(&mut tx, &cancelled_id, &worker_id, 1)
        .await
        .expect("match row");
    tx.commit().await.expect("commit");
    api.act(poster, &cancelled, "cancel", json!({}))
        .await
        .expect(200);

    let direct = [
        (&poster.id, EventType::TaskExpired),
        (&worker.id, EventType::DeadlineExpired),
        (&worker.id, EventType::RejectionGraceExpired),
        (&worker.id, EventType::ClaimTimeoutExpired),
        (&poster.id, EventType::TaskQuestion),
        (&worker.id, EventType::QuestionAnswered),
        (&worker.id, EventType::TaskMessage),
    ];
    let mut tx = pool.begin().await.expect("begin");
    for (recipient, event) in direct {
        outbox::enqueue_event(
            &mut tx,
            &AgentId::from(recipient.as_str()),
            event,
            &TaskId::from(task.as_str()),
            json!({ "note": "direct" }),
        )
        .await
        .expect("enqueue");
    }
    tx.commit().await.expect("commit");

    let mut expected = vec![
        (poster.id.clone(), EventType::TaskDelivered),
        (worker.id.clone(), EventType::TaskRejected),
        (poster.id.clone(), EventType::TaskDelivered),
        (worker.id.clone(), EventType::TaskApproved),
        (worker.id.clone(), EventType::TaskCancelled),
    ];
    expected.extend(direct.iter().map(|(r, e)| ((*r).clone(), *e)));
    expected
}

//! The transactional outbox: events and commands written with the state
//! change that causes them, published to NATS after commit.

use chrono::{SecondsFormat, Utc};
use serde_json::{Value, json};
use sqlx::PgConnection;

use crate::domain::EventType;

/// Queues an event for one recipient, in the caller's transaction. The payload
/// carries everything a subscriber needs; its event id is the outbox id.
pub async fn enqueue_event(
    conn: &mut PgConnection,
    recipient: &str,
    event: EventType,
    task_id: &str,
    data: Value,
) -> Result<i64, sqlx::Error> {
    let payload = json!({
        "event": event.as_str(),
        "recipient": recipient,
        "task_id": task_id,
        "data": data,
        "timestamp": Utc::now().to_rfc3339_opts(SecondsFormat::Micros, false),
    });
    insert(
        conn,
        &format!("events.{recipient}.{}", event.as_str()),
        &payload,
    )
    .await
}

/// Queues a command for a service (`cmd.<service>.<kind>`).
pub async fn enqueue_command(
    conn: &mut PgConnection,
    service: &str,
    kind: &str,
    payload: Value,
) -> Result<i64, sqlx::Error> {
    insert(conn, &format!("cmd.{service}.{kind}"), &payload).await
}

async fn insert(
    conn: &mut PgConnection,
    subject: &str,
    payload: &Value,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO outbox (subject, payload, traceparent) VALUES ($1, $2, $3) RETURNING id",
    )
    .bind(subject)
    .bind(payload)
    .bind(crate::telemetry::current_traceparent())
    .fetch_one(conn)
    .await
}

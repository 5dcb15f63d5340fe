//! Delivery rows → HTTP POSTs, with retries, back-off and an attempt log.

use std::{
    net::SocketAddr,
    sync::Arc,
    time::{Duration, Instant},
};

use hmac::{Hmac, KeyInit, Mac};
use pinchwork_common::{
    Config,
    db::webhooks::{self, Attempt, Due, Outcome},
    metrics, telemetry, webhook_url,
};
use reqwest::header::HeaderValue;
use sha2::Sha256;
use sqlx::PgPool;
use tokio::{
    sync::{Notify, mpsc},
    task::JoinSet,
};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

/// How often due rows are polled when nothing wakes the sender.
const POLL: Duration = Duration::from_millis(200);

/// `sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`, the
/// `X-Pinchwork-Signature` value; `timestamp` (Unix seconds) is sent as
/// `X-Pinchwork-Timestamp`. Signing the time with the body (the Standard
/// Webhooks layout) lets a receiver refuse a captured request replayed later.
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC accepts keys of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Why an attempt did not reach a receiver that accepted it.
#[derive(Debug, thiserror::Error)]
enum SendError {
    /// The URL may not be called (no retry).
    #[error("refused target: {0}")]
    Refused(String),
    /// Network failure or timeout.
    #[error("request failed: {0}")]
    Http(#[from] reqwest::Error),
}

/// Polls and sends due deliveries until `shutdown`, keeping up to
/// `PINCHWORK_WEBHOOK_CONCURRENCY` attempts in flight: free slots are filled
/// as soon as attempts end, so one slow receiver holds one slot (for at most
/// the timeout) and never the deliveries of other agents. Outcomes go to one
/// recorder that writes whatever has ended in one statement.
pub async fn run(
    pool: PgPool,
    config: Arc<Config>,
    wake: Arc<Notify>,
    shutdown: CancellationToken,
) {
    let client = match build_client(&config, None) {
        Ok(client) => client,
        Err(err) => {
            tracing::error!(error = %err, "cannot build the webhook HTTP client");
            return;
        }
    };
    // A claim outlives the longest attempt, so only a crashed sender's claim expires.
    let lease_ms = i64::try_from(config.webhook_timeout_seconds * 1000 + 5_000).unwrap_or(i64::MAX);
    // Bounded: when recording falls behind, attempts wait for it with their slot.
    let (outcomes, pending) = mpsc::channel(config.webhook_concurrency);
    let recorder = tokio::spawn(record_outcomes(pool.clone(), pending));
    let mut attempts = JoinSet::new();
    loop {
        if shutdown.is_cancelled() {
            // In-flight attempts finish, and their outcome is recorded.
            while attempts.join_next().await.is_some() {}
            drop(outcomes);
            let _ = recorder.await;
            return;
        }
        let free = config.webhook_concurrency.saturating_sub(attempts.len());
        let mut claimed = 0;
        if free > 0 {
            match webhooks::claim_due(&pool, free as i64, lease_ms).await {
                Ok(batch) => {
                    claimed = batch.len();
                    for due in batch {
                        let (config, client) = (config.clone(), client.clone());
                        let outcomes = outcomes.clone();
                        let span = attempt_span(&due);
                        attempts.spawn(
                            async move {
                                let done = attempt(&config, &client, due).await;
                                // Closed only at shutdown, after every attempt ended.
                                let _ = outcomes.send(done).await;
                            }
                            .instrument(span),
                        );
                    }
                }
                Err(err) => tracing::warn!(error = %err, "claiming webhook deliveries failed"),
            }
        }
        if claimed == free && free > 0 {
            continue; // There may be more due right now.
        }
        tokio::select! {
            Some(_) = attempts.join_next(), if !attempts.is_empty() => {
                // Every attempt that has ended frees its slot for the next claim.
                while attempts.try_join_next().is_some() {}
            }
            () = wake.notified(), if attempts.len() < config.webhook_concurrency => {}
            () = tokio::time::sleep(POLL) => {}
            () = shutdown.cancelled() => {}
        }
    }
}

/// Attempts recorded in one statement at most.
const RECORD_BATCH: usize = 256;

/// Records outcomes until the channel closes: whatever has arrived since the
/// last write goes in the next one. A failed write is logged; the claims'
/// leases then expire and those attempts are repeated (same event id).
async fn record_outcomes(pool: PgPool, mut pending: mpsc::Receiver<Attempt>) {
    let mut batch = Vec::with_capacity(RECORD_BATCH);
    while pending.recv_many(&mut batch, RECORD_BATCH).await > 0 {
        if let Err(err) = webhooks::record(&pool, &batch).await {
            tracing::warn!(error = %err, attempts = batch.len(), "recording webhook attempts failed");
        }
        batch.clear();
    }
}

fn build_client(
    config: &Config,
    pin: Option<(&str, SocketAddr)>,
) -> reqwest::Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder()
        .timeout(Duration::from_secs(config.webhook_timeout_seconds))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("pinchwork-webhooks/", env!("CARGO_PKG_VERSION")));
    if let Some((host, addr)) = pin {
        builder = builder.resolve(host, addr);
    }
    builder.build()
}

/// The span of one attempt: a child of the event's trace, stored with the row.
fn attempt_span(due: &Due) -> tracing::Span {
    let span = tracing::info_span!(
        "webhook attempt",
        otel.kind = "client",
        delivery_id = due.id,
        event_id = due.event_id,
        attempt = due.attempts,
    );
    telemetry::continue_trace(&span, due.traceparent.as_deref());
    span
}

/// One attempt of one delivery: send, then decide what happens next.
async fn attempt(config: &Config, client: &reqwest::Client, due: Due) -> Attempt {
    let started = Instant::now();
    let max_attempts = i32::try_from(config.webhook_max_retries)
        .unwrap_or(i32::MAX)
        .saturating_add(1);
    let result = match due.webhook_url.as_deref() {
        None => Err(SendError::Refused(
            "the agent has no webhook_url any more".into(),
        )),
        Some(_) if due.suspended => Err(SendError::Refused("the agent is suspended".into())),
        Some(_) if due.attempts > max_attempts => {
            Err(SendError::Refused("attempts exhausted".into()))
        }
        Some(url) => post(config, client, url, &due).await,
    };
    let duration_ms = i32::try_from(started.elapsed().as_millis()).unwrap_or(i32::MAX);
    let (status_code, error, accepted) = match &result {
        Ok(code) => (Some(i32::from(*code)), None, (200..300).contains(code)),
        Err(err) => (None, Some(err.to_string()), false),
    };
    let final_try = due.attempts >= max_attempts || matches!(result, Err(SendError::Refused(_)));
    let outcome = if accepted {
        Outcome::Delivered
    } else if final_try {
        tracing::warn!(agent = %due.agent_id, ?status_code, "webhook delivery failed for good");
        Outcome::Failed
    } else {
        Outcome::RetryInMs(backoff_ms(config.webhook_retry_base_ms, due.attempts))
    };
    let label = match outcome {
        Outcome::Delivered => "delivered",
        Outcome::RetryInMs(_) => "retry",
        Outcome::Failed => "failed",
    };
    metrics::counter!(metrics::WEBHOOK_ATTEMPTS, "outcome" => label).increment(1);
    Attempt {
        delivery_id: due.id,
        attempt: due.attempts,
        status_code,
        error,
        duration_ms,
        outcome,
    }
}

/// Delay after failed attempt `n` (1-based): base, 2×base, 4×base, …
fn backoff_ms(base_ms: u64, attempt: i32) -> i64 {
    let doublings = u32::try_from(attempt.saturating_sub(1))
        .unwrap_or(0)
        .min(20);
    i64::try_from(base_ms.saturating_mul(1 << doublings)).unwrap_or(i64::MAX)
}

/// POSTs the body; returns the status code.
async fn post(
    config: &Config,
    shared: &reqwest::Client,
    url: &str,
    due: &Due,
) -> Result<u16, SendError> {
    let pinned;
    let client = if config.webhook_allow_private {
        shared
    } else {
        let (host, addr) = vet_target(url).await?;
        pinned = build_client(config, Some((&host, addr)))?;
        &pinned
    };
    let timestamp = chrono::Utc::now().timestamp();
    let mut request = client
        .post(url)
        .header("content-type", "application/json")
        .header("x-pinchwork-event-id", due.event_id.to_string())
        .header("x-pinchwork-timestamp", timestamp.to_string())
        .body(due.body.clone());
    if let Some(secret) = due.webhook_secret.as_deref().filter(|s| !s.is_empty()) {
        request = request.header(
            "x-pinchwork-signature",
            sign(secret, timestamp, due.body.as_bytes()),
        );
    }
    // The attempt span's context, or the stored one when this process exports no spans.
    let traceparent = telemetry::current_traceparent().or_else(|| due.traceparent.clone());
    if let Some(value) = traceparent.and_then(|tp| HeaderValue::from_str(&tp).ok()) {
        request = request.header(telemetry::TRACEPARENT, value);
    }
    // Only the status is used: the answer's body is never read (dropping the
    // response closes its connection), so a receiver cannot make us buffer
    // anything, and the client's timeout bounds the whole exchange.
    let response = request.send().await?;
    Ok(response.status().as_u16())
}

/// Resolves the URL's host now and refuses it unless it is https and every
/// address is public; returns the address to connect to (no DNS rebinding).
async fn vet_target(raw: &str) -> Result<(String, SocketAddr), SendError> {
    let url = url::Url::parse(raw).map_err(|_| SendError::Refused("invalid URL".into()))?;
    if url.scheme() != "https" {
        return Err(SendError::Refused("only https targets are allowed".into()));
    }
    let host = url
        .host_str()
        .ok_or_else(|| SendError::Refused("no host".into()))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let port = url.port_or_known_default().unwrap_or(443);
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), port))
        .await
        .map_err(|e| SendError::Refused(format!("DNS lookup failed: {e}")))?
        .collect();
    let first = *addrs
        .first()
        .ok_or_else(|| SendError::Refused("host has no address".into()))?;
    if addrs.iter().any(|a| !webhook_url::is_public(a.ip())) {
        return Err(SendError::Refused(
            "host resolves to a private, loopback or link-local address".into(),
        ));
    }
    Ok((host, first))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles() {
        assert_eq!(
            (1..=4).map(|n| backoff_ms(1000, n)).collect::<Vec<_>>(),
            vec![1000, 2000, 4000, 8000]
        );
    }

    #[test]
    fn signature_is_hex_hmac_sha256_of_timestamp_dot_body() {
        let mut mac = Hmac::<Sha256>::new_from_slice(b"Jefe").unwrap();
        mac.update(b"1700000000.what do ya want for nothing?");
        let expected = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
        assert_eq!(
            sign("Jefe", 1_700_000_000, b"what do ya want for nothing?"),
            expected
        );
        assert_ne!(
            sign("Jefe", 1_700_000_001, b"what do ya want for nothing?"),
            expected,
            "another time, another signature"
        );
    }

    #[tokio::test]
    async fn loopback_targets_are_refused_at_send_time() {
        assert!(vet_target("https://localhost/x").await.is_err());
        assert!(vet_target("https://127.0.0.1/x").await.is_err());
        assert!(vet_target("http://example.com/x").await.is_err());
    }
}

//! `events`: follows `GET /v1/events`, printing one line per event and
//! reconnecting with `Last-Event-ID` and exponential backoff.

use std::time::Duration;

use futures::StreamExt;
use pinchwork_client::sse::{Event, Parser};
use serde_json::{Value, json};

use super::Ctx;
use crate::{error::CliError, output};

/// First reconnection delay when the server sent no `retry:`.
const FIRST_RETRY: Duration = Duration::from_secs(1);
/// Longest reconnection delay.
const MAX_RETRY: Duration = Duration::from_secs(30);
/// A stream silent this long is presumed dead (the server sends keepalives every 30 s).
const IDLE: Duration = Duration::from_secs(75);

/// Follows the stream until `max_events` were printed (forever when `None`).
pub async fn follow(ctx: &Ctx, max_events: Option<u64>) -> Result<(), CliError> {
    let api = ctx.api.streaming(IDLE)?;
    api.key()?;
    let mut parser = Parser::default();
    let mut printed = 0u64;
    let mut failures = 0u32;
    loop {
        let headers: Vec<(&str, String)> = parser
            .last_id()
            .map(|id| vec![("last-event-id", id.to_string())])
            .unwrap_or_default();
        let outcome = match api.open_stream("/v1/events", &headers).await {
            Ok(resp) => {
                failures = 0;
                let mut body = resp.bytes_stream();
                loop {
                    match body.next().await {
                        Some(Ok(chunk)) => {
                            for event in parser.feed(&chunk) {
                                output::line(&render(&event, ctx.json))?;
                                printed += 1;
                                if max_events.is_some_and(|max| printed >= max) {
                                    return Ok(());
                                }
                            }
                        }
                        Some(Err(e)) => break api.network(&e).to_string(),
                        None => break "the server closed the stream".to_string(),
                    }
                }
            }
            // Auth and missing-route errors will not heal by retrying.
            Err(CliError::Api { status, message })
                if (400..500).contains(&status) && status != 429 =>
            {
                return Err(CliError::Api { status, message });
            }
            Err(e) => {
                failures += 1;
                e.to_string()
            }
        };
        parser.reset_connection();
        let delay = backoff(parser.retry().unwrap_or(FIRST_RETRY), failures);
        eprintln!(
            "events: {}; reconnecting in {} ms",
            crate::output::printable(&outcome),
            delay.as_millis()
        );
        tokio::time::sleep(delay).await;
    }
}

/// `base` doubled per consecutive failure, capped at [`MAX_RETRY`].
fn backoff(base: Duration, failures: u32) -> Duration {
    base.saturating_mul(2u32.saturating_pow(failures.min(16)))
        .min(MAX_RETRY)
}

/// One line: `event data` for people, a JSON object per line with `--json`.
fn render(event: &Event, as_json: bool) -> String {
    let data: Value =
        serde_json::from_str(&event.data).unwrap_or_else(|_| Value::String(event.data.clone()));
    if as_json {
        return json!({ "id": event.id, "event": event.event, "data": data }).to_string();
    }
    let data = match &data {
        Value::String(s) => s.replace('\n', "\\n"),
        other => other.to_string(),
    };
    format!("{} {data}", event.event)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_the_server_retry_up_to_the_cap() {
        let base = Duration::from_millis(500);
        assert_eq!(backoff(base, 0), base);
        assert_eq!(backoff(base, 2), Duration::from_secs(2));
        assert_eq!(backoff(base, 30), MAX_RETRY);
    }

    #[test]
    fn events_render_as_one_line() {
        let e = Event {
            id: Some("4".into()),
            event: "task_message".into(),
            data: "{\"task_id\": \"tk-1\"}".into(),
        };
        assert_eq!(render(&e, false), "task_message {\"task_id\":\"tk-1\"}");
        assert_eq!(
            render(&e, true),
            "{\"data\":{\"task_id\":\"tk-1\"},\"event\":\"task_message\",\"id\":\"4\"}"
        );
    }
}

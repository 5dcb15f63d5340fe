//! An incremental `text/event-stream` parser (the WHATWG rules): `id:`,
//! `event:`, `data:` and `retry:` fields, `:` comments ignored, an event
//! dispatched at each blank line.

use std::time::Duration;

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// The last event id seen on the stream when this event was dispatched.
    pub id: Option<String>,
    /// The event type (`message` when the stream names none).
    pub event: String,
    /// The data lines joined with `\n`.
    pub data: String,
}

/// Parser state; the last event id and retry delay survive reconnects.
#[derive(Debug, Default)]
pub struct Parser {
    pending: Vec<u8>,
    event: String,
    data: String,
    has_data: bool,
    /// The id of the event being received.
    id_buffer: Option<String>,
    /// The id committed by the last blank line: what a reconnect sends.
    last_id: Option<String>,
    retry: Option<Duration>,
}

impl Parser {
    /// Feeds bytes from the stream and returns the events they complete.
    pub fn feed(&mut self, chunk: &[u8]) -> Vec<Event> {
        self.pending.extend_from_slice(chunk);
        let mut events = Vec::new();
        while let Some(pos) = self.pending.iter().position(|b| *b == b'\n') {
            let mut line: Vec<u8> = self.pending.drain(..=pos).collect();
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            if let Some(event) = self.line(&String::from_utf8_lossy(&line)) {
                events.push(event);
            }
        }
        events
    }

    /// Forgets a partly received event (the connection broke).
    pub fn reset_connection(&mut self) {
        self.pending.clear();
        self.event.clear();
        self.data.clear();
        self.has_data = false;
        self.id_buffer = self.last_id.clone();
    }

    /// The id to send as `Last-Event-ID` when reconnecting.
    pub fn last_id(&self) -> Option<&str> {
        self.last_id.as_deref().filter(|id| !id.is_empty())
    }

    /// The reconnection delay the server asked for with `retry:`.
    pub fn retry(&self) -> Option<Duration> {
        self.retry
    }

    fn line(&mut self, line: &str) -> Option<Event> {
        if line.is_empty() {
            return self.dispatch();
        }
        if line.starts_with(':') {
            return None;
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line, ""),
        };
        match field {
            "event" => self.event = value.to_string(),
            "data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
            }
            "id" if !value.contains('\0') => self.id_buffer = Some(value.to_string()),
            "retry" => {
                if let Ok(ms) = value.parse::<u64>() {
                    self.retry = Some(Duration::from_millis(ms));
                }
            }
            _ => {}
        }
        None
    }

    fn dispatch(&mut self) -> Option<Event> {
        self.last_id = self.id_buffer.clone();
        let event = std::mem::take(&mut self.event);
        if !std::mem::take(&mut self.has_data) {
            return None;
        }
        Some(Event {
            id: self.last_id().map(str::to_string),
            event: if event.is_empty() {
                "message".into()
            } else {
                event
            },
            data: std::mem::take(&mut self.data),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(id: Option<&str>, event: &str, data: &str) -> Event {
        Event {
            id: id.map(str::to_string),
            event: event.into(),
            data: data.into(),
        }
    }

    #[test]
    fn fields_comments_and_blank_lines_make_events() {
        let mut p = Parser::default();
        let events = p.feed(
            b": keepalive\n\nid: 7\nevent: task_delivered\ndata: {\"task_id\": \"tk-1\"}\n\n\
              data: first\ndata:second\n\n",
        );
        assert_eq!(
            events,
            vec![
                ev(Some("7"), "task_delivered", "{\"task_id\": \"tk-1\"}"),
                ev(Some("7"), "message", "first\nsecond"),
            ]
        );
        assert_eq!(p.last_id(), Some("7"));
    }

    #[test]
    fn events_split_across_chunks_and_crlf_are_joined() {
        let mut p = Parser::default();
        assert!(p.feed(b"id: 1\r\nevent: task_a").is_empty());
        assert!(p.feed(b"pproved\r\ndata: {}\r").is_empty());
        assert_eq!(
            p.feed(b"\n\r\n"),
            vec![ev(Some("1"), "task_approved", "{}")]
        );
    }

    #[test]
    fn an_event_without_data_is_not_dispatched_and_retry_is_kept() {
        let mut p = Parser::default();
        assert!(p.feed(b"retry: 250\nevent: ping\n\n").is_empty());
        assert_eq!(p.retry(), Some(Duration::from_millis(250)));
        // The ignored event's type does not leak into the next one.
        assert_eq!(p.feed(b"data: x\n\n"), vec![ev(None, "message", "x")]);
    }

    #[test]
    fn a_broken_connection_drops_the_partial_event_and_its_id() {
        let mut p = Parser::default();
        p.feed(b"id: 3\ndata: done\n\nid: 4\ndata: half");
        assert_eq!(p.last_id(), Some("3"));
        p.reset_connection();
        assert_eq!(p.last_id(), Some("3"));
        assert_eq!(
            p.feed(b"data: new\n\n"),
            vec![ev(Some("3"), "message", "new")]
        );
    }
}

//! A webhook receiver for tests: a real HTTP server on 127.0.0.1 (port 0)
//! that records every request and answers a settable status.

use std::{
    collections::HashSet,
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU16, Ordering},
    },
    time::{Duration, Instant},
};

use axum::{
    Router,
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode, Uri},
};
use serde_json::Value;

/// One request the receiver got.
#[derive(Clone, Debug)]
pub struct Received {
    pub path: String,
    pub raw: Vec<u8>,
    /// The body as JSON (Null when it is not).
    pub body: Value,
    /// `X-Pinchwork-Signature`, when sent.
    pub signature: Option<String>,
    /// `X-Pinchwork-Timestamp` (the signed send time), when sent.
    pub timestamp: Option<String>,
    /// `X-Pinchwork-Event-Id`, when sent.
    pub event_id: Option<String>,
    /// The W3C `traceparent` header, when sent.
    pub traceparent: Option<String>,
    /// The status the receiver answered.
    pub status: u16,
    pub at: Instant,
}

#[derive(Clone)]
struct Inner {
    got: Arc<Mutex<Vec<Received>>>,
    status: Arc<AtomicU16>,
}

impl Inner {
    fn got(&self) -> std::sync::MutexGuard<'_, Vec<Received>> {
        self.got.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The receiver; it serves until the test process ends.
pub struct Receiver {
    addr: SocketAddr,
    inner: Inner,
}

impl Receiver {
    /// A receiver answering 200.
    pub async fn start() -> Self {
        Self::answering(200).await
    }

    /// A receiver answering `status` (until [`Receiver::set_status`]).
    pub async fn answering(status: u16) -> Self {
        let inner = Inner {
            got: Arc::default(),
            status: Arc::new(AtomicU16::new(status)),
        };
        let app = Router::new().fallback(record).with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the webhook receiver");
        let addr = listener.local_addr().expect("receiver address");
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { addr, inner }
    }

    /// A webhook URL on this receiver (`http://127.0.0.1:PORT/<path>`).
    pub fn url(&self, path: &str) -> String {
        format!("http://{}/{path}", self.addr)
    }

    /// Changes the status answered from now on.
    pub fn set_status(&self, status: u16) {
        self.inner.status.store(status, Ordering::SeqCst);
    }

    /// Every request so far, in arrival order.
    pub fn received(&self) -> Vec<Received> {
        self.inner.got().clone()
    }

    /// The distinct event ids received so far.
    pub fn event_ids(&self) -> HashSet<String> {
        self.inner
            .got()
            .iter()
            .filter_map(|r| r.event_id.clone())
            .collect()
    }

    /// Waits until a request for which `wanted` holds has arrived; returns
    /// it. Panics after `limit`, naming `what`.
    pub async fn wait_for(
        &self,
        what: &str,
        limit: Duration,
        mut wanted: impl FnMut(&Received) -> bool,
    ) -> Received {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            if let Some(found) = self.inner.got().iter().find(|r| wanted(r)) {
                return found.clone();
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the webhook receiver never got {what}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

async fn record(
    State(inner): State<Inner>,
    uri: Uri,
    headers: HeaderMap,
    raw: Bytes,
) -> StatusCode {
    let header = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(String::from)
    };
    let status = inner.status.load(Ordering::SeqCst);
    inner.got().push(Received {
        path: uri.path().to_string(),
        body: serde_json::from_slice(&raw).unwrap_or(Value::Null),
        raw: raw.to_vec(),
        signature: header("x-pinchwork-signature"),
        timestamp: header("x-pinchwork-timestamp"),
        event_id: header("x-pinchwork-event-id"),
        traceparent: header("traceparent"),
        status,
        at: Instant::now(),
    });
    StatusCode::from_u16(status).unwrap_or(StatusCode::OK)
}

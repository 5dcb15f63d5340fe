//! A webhook receiver on 127.0.0.1 that answers 200 and records the event
//! id of every POST.

use std::{
    collections::HashSet,
    net::SocketAddr,
    sync::{Arc, Mutex},
};

use axum::{Router, extract::State, http::HeaderMap};

type Seen = Arc<Mutex<HashSet<String>>>;

/// The receiver; it serves until the test ends.
pub struct Receiver {
    addr: SocketAddr,
    seen: Seen,
}

impl Receiver {
    /// Binds a free port and starts serving.
    pub async fn start() -> Self {
        let seen = Seen::default();
        let app = Router::new().fallback(record).with_state(seen.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the webhook receiver");
        let addr = listener.local_addr().expect("receiver address");
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { addr, seen }
    }

    /// A webhook URL on this receiver.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}/{path}", self.addr)
    }

    /// The distinct event ids received so far.
    pub fn event_ids(&self) -> HashSet<String> {
        self.seen.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

async fn record(State(seen): State<Seen>, headers: HeaderMap) {
    if let Some(id) = headers
        .get("x-pinchwork-event-id")
        .and_then(|v| v.to_str().ok())
    {
        seen.lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id.to_string());
    }
}

//! `pinchwork-sse-relay`: the SSE relay.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    pinchwork_common::service::main("pinchwork-sse-relay", &[pinchwork_sse_relay::SERVICE]).await
}

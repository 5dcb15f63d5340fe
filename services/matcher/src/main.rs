//! `pinchwork-matcher`: one matcher instance (run as many as you like).

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    pinchwork_common::service::main("pinchwork-matcher", &[pinchwork_matcher::SERVICE]).await
}

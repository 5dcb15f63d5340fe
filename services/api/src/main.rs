//! `pinchwork-api`: one api node.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    pinchwork_common::service::main("pinchwork-api", &[pinchwork_api::SERVICE]).await
}

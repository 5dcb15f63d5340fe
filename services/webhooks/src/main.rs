//! `pinchwork-webhooks`: the webhook sender.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    pinchwork_common::service::main("pinchwork-webhooks", &[pinchwork_webhooks::SERVICE]).await
}

//! `pinchwork-deadlines`: one instance of the deadlines service.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    pinchwork_common::service::main("pinchwork-deadlines", &[pinchwork_deadlines::SERVICE]).await
}

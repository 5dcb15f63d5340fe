//! `pinchwork-server`: an api node and every service in one process on one port.

use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = pinchwork_server::Args::parse();
    let services = args.services();
    pinchwork_common::service::main_with("pinchwork-server", args.config(), &services).await
}

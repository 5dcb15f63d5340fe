//! One `pinchwork-server` process over the test PostgreSQL (a fresh
//! database) and NATS (a fresh prefix) serves the API document's curl
//! examples, the event stream included, and stops cleanly on SIGTERM.

use std::{process::Stdio, time::Duration};

use pinchwork_testkit::{free_port, fresh_database, metrics::wait_healthy, nats_prefix};

use crate::support::{Started, scratch, smoke, tail};

#[tokio::test]
async fn the_api_documents_examples_pass_through_one_server_process() {
    let dir = scratch("server");
    let log = dir.join("server.log");
    let output = std::fs::File::create(&log).expect("create the log");
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let nats = std::env::var("NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into());
    let server = std::process::Command::new(env!("CARGO_BIN_EXE_pinchwork-server"))
        .env("DATABASE_URL", fresh_database().await)
        .env("NATS_URL", nats)
        .env("PINCHWORK_NATS_PREFIX", nats_prefix())
        .env("PINCHWORK_LISTEN", format!("127.0.0.1:{port}"))
        .env("PINCHWORK_RATE_LIMIT_ENABLED", "false")
        .env_remove("PINCHWORK_COMPONENTS")
        .env_remove("PINCHWORK_CONSOLE_SERVICES")
        .stdin(Stdio::null())
        .stdout(output.try_clone().expect("log handle"))
        .stderr(output)
        .spawn()
        .expect("start pinchwork-server");
    let mut server = Started(server);

    wait_healthy(&base, Duration::from_secs(60)).await;
    smoke(&base, &log).await;

    let status = server.stop(Duration::from_secs(60)).await;
    assert!(status.success(), "exited with {status}:\n{}", tail(&log));
    let _ = std::fs::remove_dir_all(&dir);
}

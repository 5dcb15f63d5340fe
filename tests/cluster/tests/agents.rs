//! Agents connect the way they already work: the official Python MCP SDK
//! (over Streamable HTTP and over `pinchwork mcp`) and the official Python A2A
//! SDK, as clients of a whole cluster behind its load balancer. The scripts
//! live in `tests/agents`; `ops/pyenv` installs their pinned SDKs.

use std::{path::PathBuf, process::Stdio};

use pinchwork_cluster_tests::{Cluster, workspace_root};
use tokio::process::Command;

const ADMIN_KEY: &str = "admin-key-of-the-agent-protocol-tests";

/// The virtual environment's python, created by `ops/pyenv` when missing.
async fn python() -> PathBuf {
    tokio::task::spawn_blocking(pinchwork_testkit::python)
        .await
        .expect("ops/pyenv")
}

async fn cluster() -> Cluster {
    Cluster::builder()
        .env("PINCHWORK_ADMIN_KEY", ADMIN_KEY)
        .start()
        .await
}

/// Runs one script of `tests/agents` against `cluster`; fails with its output.
async fn run_script(cluster: &Cluster, script: &str) {
    let dir = workspace_root().join("tests/agents");
    let out = Command::new(python().await)
        .arg(dir.join(script))
        .current_dir(&dir)
        .env("PINCHWORK_URL", cluster.url())
        .env("PINCHWORK_ADMIN_KEY", ADMIN_KEY)
        .env("PINCHWORK_CLI", cluster.binary("pinchwork"))
        .env("PINCHWORK_TEST_DIR", cluster.scratch("agents"))
        .env("PYTHONUNBUFFERED", "1")
        .stdin(Stdio::null())
        .output()
        .await
        .expect("run python");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{script}:\n{stdout}");
    assert!(out.status.success(), "{script} failed:\n{stdout}\n{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_mcp_sdk_over_http_and_stdio() {
    let cluster = cluster().await;
    run_script(&cluster, "mcp_clients.py").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_a2a_sdk_and_raw_json_rpc() {
    let cluster = cluster().await;
    run_script(&cluster, "a2a_client.py").await;
    run_script(&cluster, "a2a_raw.py").await;
}

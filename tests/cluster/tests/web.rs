//! The web pages and the operator console work in a real browser against the
//! whole cluster behind its load balancer: live figures, task timeline,
//! directory search, console sign-in, suspend, grant, "deliver again", CSRF
//! refusal; every page has a title, a lang and labelled inputs, and no request
//! leaves the host. Playwright (npm `playwright-core`, locked in
//! `tests/cluster/browser`) drives Debian's Chromium; screenshots go to
//! `run/browser/`.

use std::{path::Path, process::Stdio};

use pinchwork_cluster_tests::Cluster;

const ADMIN_KEY: &str = "browser-test-admin-key";

fn workspace_root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

/// Installs Chromium, node and the locked npm packages when missing.
async fn browser_dependencies() {
    let status = tokio::process::Command::new("bash")
        .args(["-c", ". ops/lib.sh && ensure_chromium && ensure_playwright"])
        .current_dir(workspace_root())
        .stdin(Stdio::null())
        .status()
        .await
        .expect("run ops/lib.sh");
    assert!(
        status.success(),
        "installing the browser test's dependencies failed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_and_console_work_in_a_browser_through_the_load_balancer() {
    browser_dependencies().await;
    let cluster = Cluster::builder()
        .env("PINCHWORK_ADMIN_KEY", ADMIN_KEY)
        // A failed webhook fails for good at once, so the console can send it again.
        .env("PINCHWORK_WEBHOOK_MAX_RETRIES", "0")
        .start()
        .await;
    let artifacts = workspace_root().join("run/browser");
    let output = tokio::process::Command::new("node")
        .arg("tests/cluster/browser/web.mjs")
        .current_dir(workspace_root())
        .env("PINCHWORK_URL", cluster.url())
        .env("PINCHWORK_ADMIN_KEY", ADMIN_KEY)
        .env("ARTIFACTS", &artifacts)
        .stdin(Stdio::null())
        .output()
        .await
        .expect("run node");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    assert!(
        output.status.success(),
        "browser test failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
}

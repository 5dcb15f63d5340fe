//! Failures are one clear line on stderr with a distinct exit code, never a
//! panic: 3 auth, 4 not found, 5 other client errors, 6 unreachable, 2 usage.

use crate::support::{Cli, TestApp};

#[tokio::test]
async fn a_bad_key_is_an_auth_error() {
    let app = TestApp::spawn().await;
    let cli = app.cli().env("PINCHWORK_API_KEY", "pwk-not-a-real-key");
    let err = cli.run(&["me"]).await.fails(3);
    assert!(
        err.starts_with("error: ") && err.trim_end().ends_with("(HTTP 401)"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[tokio::test]
async fn no_key_at_all_says_how_to_get_one() {
    let app = TestApp::spawn().await;
    let err = app.cli().run(&["credits"]).await.fails(3);
    assert!(
        err.contains("no API key configured") && err.contains("pinchwork register"),
        "{err}"
    );
}

#[tokio::test]
async fn insufficient_credits_show_the_api_message() {
    let app = TestApp::spawn().await;
    let cli = app.cli();
    cli.register("default", "poor").await;
    let err = cli
        .run(&["tasks", "create", "something big", "--credits", "5000"])
        .await
        .fails(5);
    assert!(err.starts_with("error: Insufficient credits"), "{err}");
    assert!(err.trim_end().ends_with("(HTTP 402)"), "{err}");
    app.assert_conservation().await;
}

#[tokio::test]
async fn an_unknown_task_is_not_found() {
    let app = TestApp::spawn().await;
    let cli = app.cli();
    cli.register("default", "curious").await;
    let err = cli
        .run(&["tasks", "show", "tk-doesnotexist"])
        .await
        .fails(4);
    assert!(
        err.starts_with("error: ") && err.trim_end().ends_with("(HTTP 404)"),
        "{err}"
    );
    let err = cli
        .run(&["tasks", "approve", "tk-doesnotexist"])
        .await
        .fails(4);
    assert!(err.contains("(HTTP 404)"), "{err}");
}

#[tokio::test]
async fn a_conflict_is_a_client_error() {
    let app = TestApp::spawn().await;
    let cli = app.cli();
    cli.register("default", "self-dealer").await;
    let body = cli
        .run(&["--json", "tasks", "create", "mine", "--credits", "5"])
        .await
        .json();
    let id = body["task_id"].as_str().unwrap();
    // Approving a task nobody delivered.
    let err = cli.run(&["tasks", "approve", id]).await.fails(5);
    assert!(
        err.starts_with("error: ") && err.contains("(HTTP 409)"),
        "{err}"
    );
}

#[tokio::test]
async fn an_unreachable_server_is_a_network_error() {
    // Bind then drop a listener to get a port with nothing behind it.
    let port = pinchwork_testkit::free_port();
    let cli = Cli::new(&format!("http://127.0.0.1:{port}")).env("PINCHWORK_API_KEY", "pwk-x");
    let err = cli.run(&["me"]).await.fails(6);
    assert!(
        err.starts_with(&format!("error: cannot reach http://127.0.0.1:{port}")),
        "{err}"
    );
}

#[tokio::test]
async fn usage_errors_exit_2() {
    let cli = Cli::new("http://127.0.0.1:9");
    let err = cli
        .run(&["tasks", "create", "no credits given"])
        .await
        .fails(2);
    assert!(err.contains("--credits"), "{err}");
    let err = cli.run(&["tasks", "reject", "tk-1"]).await.fails(2);
    assert!(err.contains("--reason"), "{err}");
}

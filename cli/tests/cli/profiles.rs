//! Credentials: saved 0600 in the documented shape, named profiles, and the
//! precedence flag > environment > profile.

use std::os::unix::fs::PermissionsExt;

use serde_json::Value;

use crate::support::{Cli, TestApp};

fn credentials(cli: &Cli) -> (Value, u32) {
    let path = cli.config_dir().join("credentials.json");
    let text = std::fs::read_to_string(&path).expect("credentials.json written");
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    (serde_json::from_str(&text).unwrap(), mode)
}

#[tokio::test]
async fn register_saves_the_documented_shape_with_mode_0600() {
    let app = TestApp::spawn().await;
    let cli = app.cli();
    let out = cli
        .run(&[
            "register",
            "--name",
            "my-agent",
            "--good-at",
            "code review, Python",
        ])
        .await
        .ok();
    assert!(
        out.starts_with("Registered my-agent as ag-") && out.contains("100 credits"),
        "{out}"
    );
    assert!(
        !out.contains("pwk-"),
        "the key is saved, not printed: {out}"
    );
    let (file, mode) = credentials(&cli);
    assert_eq!(mode, 0o600);
    assert!(file["api_key"].as_str().unwrap().starts_with("pwk-"));
    assert!(file["agent_id"].as_str().unwrap().starts_with("ag-"));
    assert_eq!(file["agent_name"], "my-agent");

    // A second agent goes into a named profile; the default one is kept.
    cli.register("second", "other-agent").await;
    let (file2, _) = credentials(&cli);
    assert_eq!(file2["api_key"], file["api_key"]);
    assert_eq!(file2["profiles"]["second"]["agent_name"], "other-agent");
    let me = cli
        .run(&["--profile", "second", "--json", "me"])
        .await
        .json();
    assert_eq!(me["name"], "other-agent");

    // Registering over a profile with a key would lose it.
    let err = cli.run(&["register", "--name", "again"]).await.fails(2);
    assert!(err.contains("--force"), "{err}");
}

#[tokio::test]
async fn a_hand_written_credentials_file_is_the_default_profile() {
    let app = TestApp::spawn().await;
    let agent = app.client.register("handmade").await;
    let cli = app.cli();
    std::fs::write(
        cli.config_dir().join("credentials.json"),
        format!(
            r#"{{"api_key": "{}", "agent_id": "{}", "agent_name": "handmade"}}"#,
            agent.key, agent.id
        ),
    )
    .unwrap();
    let me = cli.run(&["--json", "me"]).await.json();
    assert_eq!(me["id"], agent.id.as_str());
}

#[tokio::test]
async fn the_environment_key_overrides_the_profile_and_the_url_flag_overrides_the_environment() {
    let app = TestApp::spawn().await;
    let cli = app.cli();
    cli.register("default", "from-profile").await;
    let other = app.client.register("from-env").await;

    let env_cli = Cli::new(&app.client.base).env("PINCHWORK_API_KEY", &other.key);
    std::fs::copy(
        cli.config_dir().join("credentials.json"),
        env_cli.config_dir().join("credentials.json"),
    )
    .unwrap();
    let me = env_cli.run(&["--json", "me"]).await.json();
    assert_eq!(me["name"], "from-env");

    // PINCHWORK_URL points nowhere; --url wins.
    let bad = Cli::new("http://127.0.0.1:9");
    std::fs::copy(
        cli.config_dir().join("credentials.json"),
        bad.config_dir().join("credentials.json"),
    )
    .unwrap();
    bad.run(&["me"]).await.fails(6);
    let me = bad
        .run(&["--url", &app.client.base, "--json", "me"])
        .await
        .json();
    assert_eq!(me["name"], "from-profile");
}

#[tokio::test]
async fn the_profile_remembers_the_server_it_was_registered_on() {
    let app = TestApp::spawn().await;
    let cli = app.cli();
    cli.register("default", "local").await;
    let (file, _) = credentials(&cli);
    assert_eq!(file["url"], app.client.base.as_str());
    // Without PINCHWORK_URL the profile's URL is used.
    let bare = Cli::new("");
    std::fs::copy(
        cli.config_dir().join("credentials.json"),
        bare.config_dir().join("credentials.json"),
    )
    .unwrap();
    let me = bare.run(&["--json", "me"]).await.json();
    assert_eq!(me["name"], "local");
}

#[tokio::test]
async fn rotate_key_saves_the_new_key_and_the_old_one_stops_working() {
    let app = TestApp::spawn().await;
    let cli = app.cli();
    let (id, old_key) = cli.register("default", "rotating").await;
    let out = cli.run(&["me", "rotate-key"]).await.ok();
    assert!(out.starts_with(&format!("Key of {id} replaced")), "{out}");
    assert!(
        !out.contains("pwk-"),
        "the key is saved, not printed: {out}"
    );
    let (file, mode) = credentials(&cli);
    assert_eq!(mode, 0o600);
    let new_key = file["api_key"].as_str().expect("saved key");
    assert!(new_key.starts_with("pwk-") && new_key != old_key);
    assert_eq!(file["agent_id"], id.as_str());
    assert_eq!(
        file["agent_name"], "rotating",
        "the rest of the profile is kept"
    );

    // The saved key works; the old one is refused.
    let me = cli.run(&["--json", "me"]).await.json();
    assert_eq!(me["id"], id.as_str());
    app.client.get("/v1/me", Some(&old_key)).await.expect(401);

    // A key given on the command line that is not the profile's is refused
    // before anything changes: saving would lose the profile's key.
    let other = app.client.register("other").await;
    let err = cli
        .run(&["--api-key", &other.key, "me", "rotate-key"])
        .await
        .fails(2);
    assert!(err.contains("--profile"), "{err}");
    app.client.get("/v1/me", Some(&other.key)).await.expect(200);
}

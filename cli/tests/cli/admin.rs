//! `admin grant|suspend|unsuspend` act with PINCHWORK_ADMIN_KEY and nothing else.

use crate::support::{ADMIN_KEY, TestApp};

#[tokio::test]
async fn admin_grants_credits_and_suspends_agents() {
    let app = TestApp::spawn().await;
    let cli = app.cli();
    let (id, _) = cli.register("default", "lucky").await;
    let admin = app.cli().env("PINCHWORK_ADMIN_KEY", ADMIN_KEY);

    let out = admin.run(&["admin", "grant", &id, "500"]).await.ok();
    assert_eq!(out.trim(), format!("Granted 500 credits to {id}."));
    let credits = cli.run(&["--json", "credits"]).await.json();
    assert_eq!(credits["balance"], 600);

    let out = admin
        .run(&["admin", "suspend", &id, "--reason", "spam"])
        .await
        .ok();
    assert_eq!(out.trim(), format!("Suspended {id}."));
    let err = cli.run(&["me"]).await.fails(3);
    assert!(err.contains("(HTTP 403)"), "{err}");

    let out = admin.run(&["admin", "unsuspend", &id]).await.ok();
    assert_eq!(out.trim(), format!("Unsuspended {id}."));
    cli.run(&["me"]).await.ok();
    app.assert_conservation().await;
}

#[tokio::test]
async fn admin_commands_need_the_admin_key() {
    let app = TestApp::spawn().await;
    let cli = app.cli();
    let (id, _) = cli.register("default", "agent").await;
    let err = cli.run(&["admin", "grant", &id, "5"]).await.fails(2);
    assert!(err.contains("PINCHWORK_ADMIN_KEY"), "{err}");
    // An agent key is not an admin key.
    let wrong = app.cli().env("PINCHWORK_ADMIN_KEY", "not-the-key");
    let err = wrong.run(&["admin", "grant", &id, "5"]).await.fails(3);
    assert!(err.contains("(HTTP 40"), "{err}");
    let err = app
        .cli()
        .env("PINCHWORK_ADMIN_KEY", ADMIN_KEY)
        .run(&["admin", "grant", "ag-nobody", "5"])
        .await
        .fails(4);
    assert!(err.contains("(HTTP 404)"), "{err}");
}

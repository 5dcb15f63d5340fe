//! The deadlines service's ops routes: ready when its database answers (it
//! uses no NATS), and `/metrics` counts the transitions applied per rule.

use pinchwork_testkit::metrics::{ready, wait_for};
use serde_json::json;

use crate::support::TestApp;

#[tokio::test]
async fn metrics_count_transitions_per_rule() {
    let app = TestApp::spawn().await;
    let poster = app.register("poster").await;
    // Expires two tasks through the deadlines service.
    app.sweep_barrier(&poster).await;

    let expiry = [("rule", "expiry")];
    wait_for(
        &app.deadlines,
        "pinchwork_deadline_transitions_total",
        &expiry,
        2.0,
    )
    .await;
    assert_eq!(
        ready(&app.deadlines).await,
        (200, json!({ "status": "ready", "database": "ok" }))
    );
}

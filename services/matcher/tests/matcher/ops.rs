//! The matcher's ops routes: ready once its consumer is attached, and
//! `/metrics` counts the commands it consumed and samples its consumer's lag.

use pinchwork_testkit::metrics::{ready, wait_for};
use serde_json::json;

use crate::support::TestEnv;

#[tokio::test]
async fn metrics_count_consumed_commands_and_sample_lag() {
    let env = TestEnv::spawn(&[]).await;
    let base = env.spawn_matcher().await;
    // With an infra agent, create leaves routing to the matcher: a command.
    let _infra = env.infra("infra").await;
    let poster = env.register("poster").await;
    env.post_tagged(&poster, "route me", &["rust"]).await;

    let matcher = [("consumer", "matcher")];
    wait_for(&base, "pinchwork_events_consumed_total", &matcher, 1.0).await;
    wait_for(&base, "pinchwork_consumer_pending", &matcher, 0.0).await;
    assert_eq!(
        ready(&base).await,
        (
            200,
            json!({ "status": "ready", "database": "ok", "nats": "ok" })
        )
    );
}

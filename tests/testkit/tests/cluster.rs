//! A test cluster runs every process it was asked for, each on its own port
//! over the same database and NATS prefix, and `stop` ends them all cleanly.

use std::time::Duration;

use pinchwork_testkit::{TestCluster, metrics::ready};

#[tokio::test]
async fn every_requested_process_is_ready_and_stops_cleanly() {
    let cluster = TestCluster::builder()
        .api_nodes(2)
        .sse_relay()
        .webhooks()
        .matcher()
        .deadlines()
        .config(&["--match-timeout-seconds", "7"])
        .start()
        .await;
    assert_eq!(
        cluster.config.match_timeout_seconds, 7,
        "flags reach the config"
    );

    let services = [
        &cluster.sse_relay,
        &cluster.webhooks,
        &cluster.matcher,
        &cluster.deadlines,
    ];
    let mut bases: Vec<String> = services
        .iter()
        .map(|base| base.as_ref().expect("started").clone())
        .collect();
    bases.extend(cluster.api_nodes.iter().map(|node| node.base.clone()));
    let distinct: std::collections::HashSet<_> = bases.iter().collect();
    assert_eq!(
        distinct.len(),
        6,
        "each process has its own port: {bases:?}"
    );
    for base in &bases {
        let (status, body) = ready(base).await;
        assert_eq!(status, 200, "{base}/ready: {body}");
    }

    // Both api nodes serve the same database.
    let agent = cluster.api_nodes[0].register("first").await;
    let me = cluster.api_nodes[1].get("/v1/me", Some(&agent.key)).await;
    assert_eq!(me.expect(200).body["name"], "first");

    let stopped = tokio::time::timeout(Duration::from_secs(60), cluster.stop())
        .await
        .expect("every process stops");
    assert!(stopped.is_ok(), "{stopped:?}");
}

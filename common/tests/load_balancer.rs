//! The public face of a deployment is the marketplace only: both load
//! balancer configurations (compose and `ops/cluster`) refuse the operations
//! routes that describe the deployment, cap open event streams per client,
//! and the tracing UI (no authentication) is not published beyond the host.

const COMPOSE: &str = include_str!("../../docker-compose.yml");
const COMPOSE_NGINX: &str = include_str!("../../ops/compose/nginx.conf");
const CLUSTER_SCRIPT: &str = include_str!("../../ops/cluster");

fn configs() -> [(&'static str, &'static str); 2] {
    [
        ("ops/compose/nginx.conf", COMPOSE_NGINX),
        ("ops/cluster", CLUSTER_SCRIPT),
    ]
}

/// The `location` block that starts with `start`, nested blocks included.
fn location<'a>(name: &str, conf: &'a str, start: &str) -> &'a str {
    let from = conf
        .find(start)
        .unwrap_or_else(|| panic!("{name}: no `{start}`"));
    let mut depth = 0;
    for (at, c) in conf[from..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 1 => return &conf[from..=from + at],
            '}' => depth -= 1,
            _ => {}
        }
    }
    panic!("{name}: `{start}` has no end")
}

#[test]
fn metrics_and_readiness_are_not_served_through_the_load_balancer() {
    for (name, conf) in configs() {
        let block = location(name, conf, "location ~ ^/(metrics|ready)");
        assert!(block.contains("return 404"), "{name}: {block}");
    }
}

#[test]
fn open_event_streams_are_capped_per_client_address() {
    for (name, conf) in configs() {
        assert!(
            conf.contains("limit_conn_zone"),
            "{name}: no limit_conn_zone"
        );
        let block = location(name, conf, "location /v1/events");
        assert!(block.contains("limit_conn streams"), "{name}: {block}");
    }
}

#[test]
fn jaeger_is_published_on_loopback_only() {
    let ports = COMPOSE
        .lines()
        .skip_while(|l| l.trim() != "jaeger:")
        .find(|l| l.trim().starts_with("ports:"))
        .expect("jaeger ports");
    assert!(ports.contains("\"127.0.0.1:16686:16686\""), "{ports}");
}

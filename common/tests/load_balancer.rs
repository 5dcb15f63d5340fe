//! The public face of a deployment is the marketplace only: both load
//! balancer configurations (compose and `ops/cluster`) refuse the operations
//! routes that describe the deployment, cap open event streams per client,
//! bound request sizes and slow clients with JSON refusals, and the tracing
//! UI (no authentication) is not published beyond the host.

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

/// The value of the `http`-level directive `name` (`None` when absent).
fn directive<'a>(conf: &'a str, name: &str) -> Option<&'a str> {
    conf.lines().find_map(|line| {
        let rest = line.trim().strip_prefix(name)?.strip_prefix(' ')?;
        Some(rest.trim().trim_end_matches(';'))
    })
}

#[test]
fn request_sizes_and_slow_clients_are_bounded() {
    for (name, conf) in configs() {
        for (setting, value) in [
            ("client_max_body_size", "5m"),
            ("client_header_timeout", "10s"),
            ("client_body_timeout", "30s"),
            ("send_timeout", "30s"),
            ("client_header_buffer_size", "1k"),
            ("large_client_header_buffers", "4 16k"),
        ] {
            assert_eq!(directive(conf, setting), Some(value), "{name}: {setting}");
        }
    }
}

#[test]
fn the_load_balancers_own_refusals_are_json() {
    for (name, conf) in configs() {
        for (code, status) in [
            ("400", "400"),
            ("408", "408"),
            ("413", "413"),
            ("414", "414"),
            ("494 =431", "431"),
        ] {
            assert!(
                conf.contains(&format!("error_page {code} /_errors/{status};")),
                "{name}: no error_page {code}"
            );
            let block = location(name, conf, &format!("location = /_errors/{status} "));
            assert!(
                block.contains("internal;")
                    && block.contains("default_type application/json;")
                    && block.contains(&format!("return {status} '{{\"error\": ")),
                "{name}: {block}"
            );
        }
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

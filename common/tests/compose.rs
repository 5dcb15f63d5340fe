//! `docker-compose.yml` runs the whole topology (ARCHITECTURE.md) with settings the
//! code accepts. No Docker engine runs on our machines, so the file, the load
//! balancer and collector configs it mounts, and the `Dockerfile` are checked
//! statically against the workspace's binaries and `Config`.

use std::collections::{BTreeMap, BTreeSet};

use clap::CommandFactory;
use pinchwork_common::Config;
use serde_json::Value;

const COMPOSE: &str = include_str!("../../docker-compose.yml");
const NGINX: &str = include_str!("../../ops/compose/nginx.conf");
const COLLECTOR: &str = include_str!("../../ops/compose/otel-collector.yaml");
const DOCKERFILE: &str = include_str!("../../Dockerfile");

/// Standard variables the services read besides `Config` (OpenTelemetry SDK, log filter).
fn is_standard_variable(name: &str) -> bool {
    name.starts_with("OTEL_") || name == "RUST_LOG"
}

fn parse_yaml(text: &str) -> Value {
    serde_saphyr::from_str(text).expect("valid YAML")
}

fn services() -> BTreeMap<String, Value> {
    let compose = parse_yaml(COMPOSE);
    let services = compose["services"].as_object().expect("services map");
    services
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// The long-running services built from our image, by name (not the one-shot `migrate`).
fn ours() -> BTreeMap<String, Value> {
    services()
        .into_iter()
        .filter(|(_, s)| s["image"].as_str() == Some("pinchwork:latest"))
        .filter(|(_, s)| s["restart"].as_str() != Some("no"))
        .collect()
}

fn command_binary(service: &Value) -> &str {
    service["command"][0].as_str().expect("command is a list")
}

/// A compose value with `${NAME:-default}` interpolation resolved to its default.
fn interpolated(value: &Value) -> String {
    let raw = match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let mut out = String::new();
    let mut rest = raw.as_str();
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}').expect("closed ${") + start;
        let inner = &rest[start + 2..end];
        out.push_str(inner.split_once(":-").map_or("", |(_, default)| default));
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

fn environment(service: &Value) -> BTreeMap<String, String> {
    service["environment"]
        .as_object()
        .expect("environment map")
        .iter()
        .map(|(k, v)| (k.clone(), interpolated(v)))
        .collect()
}

/// The port of a `host:port` or `scheme://host:port[/...]` string.
fn port_of(address: &str) -> u16 {
    let after_host = address.rsplit_once(':').expect("has a port").1;
    let digits: String = after_host
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().expect("numeric port")
}

fn workspace_binaries() -> BTreeSet<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = std::process::Command::new(cargo)
        .args([
            "metadata",
            "--no-deps",
            "--format-version",
            "1",
            "--offline",
        ])
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .output()
        .expect("cargo metadata runs");
    assert!(out.status.success(), "cargo metadata failed");
    let meta: Value = serde_json::from_slice(&out.stdout).expect("metadata JSON");
    meta["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|p| p["targets"].as_array().into_iter().flatten())
        .filter(|t| {
            t["kind"]
                .as_array()
                .is_some_and(|k| k.iter().any(|k| k == "bin"))
        })
        .filter_map(|t| t["name"].as_str().map(str::to_owned))
        .collect()
}

#[test]
fn every_component_of_the_design_is_a_service() {
    let services = services();
    for name in [
        "postgres",
        "nats",
        "migrate",
        "sse-relay",
        "webhooks",
        "deadlines",
        "matcher",
        "lb",
        "otel-collector",
        "jaeger",
    ] {
        assert!(services.contains_key(name), "service {name} missing");
    }
    let api_nodes = ours()
        .values()
        .filter(|s| command_binary(s) == "pinchwork-api")
        .count();
    assert!(api_nodes >= 2, "the load balancer needs several api nodes");
    for (name, service) in &services {
        for dep in service["depends_on"].as_object().into_iter().flatten() {
            assert!(
                services.contains_key(dep.0),
                "{name} depends on unknown {}",
                dep.0
            );
        }
    }
}

#[test]
fn our_services_run_binaries_the_workspace_builds() {
    let binaries = workspace_binaries();
    let mut ours = ours();
    ours.insert("migrate".into(), services()["migrate"].clone());
    for (name, service) in ours {
        let binary = command_binary(&service);
        assert!(
            binaries.contains(binary),
            "{name} runs {binary}, which no crate builds"
        );
    }
    assert_eq!(command_binary(&services()["migrate"]), "pinchwork-migrate");
    // Multi-stage: the build stage compiles every binary, the runtime stage copies them.
    assert!(
        DOCKERFILE.contains(" AS build"),
        "Dockerfile has no build stage"
    );
    assert!(
        DOCKERFILE.matches("\nFROM ").count() >= 1,
        "Dockerfile has no runtime stage"
    );
    assert!(DOCKERFILE.contains("cargo build --release --bins"));
    assert!(DOCKERFILE.contains("COPY --from=build"));
}

#[test]
fn migrations_run_once_before_any_service_starts() {
    // Services refuse an unmigrated database, so each waits for the one-shot
    // migrate container to finish successfully, and migrate waits for PostgreSQL.
    let migrate = &services()["migrate"];
    assert_eq!(
        migrate["restart"].as_str(),
        Some("no"),
        "migrate is one-shot"
    );
    assert_eq!(
        migrate["depends_on"]["postgres"]["condition"].as_str(),
        Some("service_healthy")
    );
    for (name, service) in ours() {
        assert_eq!(
            service["depends_on"]["migrate"]["condition"].as_str(),
            Some("service_completed_successfully"),
            "{name} may start before the migrations ran"
        );
    }
}

#[test]
fn the_environment_of_our_services_is_accepted_by_the_config() {
    let command = Config::command();
    let flag_of: BTreeMap<String, String> = command
        .get_arguments()
        .filter_map(|arg| {
            let env = arg.get_env()?.to_str()?.to_owned();
            Some((env, arg.get_long()?.to_owned()))
        })
        .collect();
    let mut services = ours();
    services.insert("migrate".into(), self::services()["migrate"].clone());
    for (name, service) in services {
        let mut args = vec!["compose-check".to_owned()];
        for (var, value) in environment(&service) {
            if is_standard_variable(&var) {
                continue;
            }
            let flag = flag_of
                .get(&var)
                .unwrap_or_else(|| panic!("{name} sets {var}, which no setting reads"));
            args.push(format!("--{flag}={value}"));
        }
        if let Err(err) = Config::from_args(&args) {
            panic!("{name}'s environment is refused: {err}");
        }
    }
}

#[test]
fn every_long_running_service_has_a_health_check_on_its_own_port() {
    for (name, service) in services() {
        if service["restart"].as_str() == Some("no") || name == "otel-collector" || name == "jaeger"
        {
            continue;
        }
        let test = service["healthcheck"]["test"]
            .as_array()
            .unwrap_or_else(|| panic!("{name} has no health check"));
        assert!(!test.is_empty());
    }
    for (name, service) in ours() {
        let env = environment(&service);
        let listen = env.get("PINCHWORK_LISTEN").expect("PINCHWORK_LISTEN set");
        let probe = service["healthcheck"]["test"]
            .as_array()
            .expect("health check")
            .iter()
            .filter_map(Value::as_str)
            .find(|part| part.starts_with("http://"))
            .unwrap_or_else(|| panic!("{name}'s health check probes no URL"));
        assert!(probe.ends_with("/health"), "{name} probes {probe}");
        assert_eq!(
            port_of(probe),
            port_of(listen),
            "{name} probes another port"
        );
    }
}

/// The `server host:port` lines of one nginx upstream block.
fn upstream_servers(name: &str) -> BTreeSet<String> {
    let open = format!("upstream {name} {{");
    let start = NGINX
        .find(&open)
        .unwrap_or_else(|| panic!("no upstream {name}"))
        + open.len();
    let block = &NGINX[start..start + NGINX[start..].find('}').expect("closed block")];
    block
        .split(';')
        .filter_map(|line| line.trim().strip_prefix("server "))
        .filter_map(|rest| rest.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_load_balancer_sends_events_to_the_relay_and_the_rest_to_the_api_nodes() {
    let services = services();
    let expected = |binary: &str| -> BTreeSet<String> {
        ours()
            .into_iter()
            .filter(|(_, s)| command_binary(s) == binary)
            .map(|(name, s)| format!("{name}:{}", port_of(&environment(&s)["PINCHWORK_LISTEN"])))
            .collect()
    };
    assert_eq!(upstream_servers("api"), expected("pinchwork-api"));
    assert_eq!(upstream_servers("sse"), expected("pinchwork-sse-relay"));
    let events = NGINX.find("location /v1/events").expect("events location");
    let rest = NGINX.find("location / ").expect("default location");
    assert!(NGINX[events..].contains("proxy_pass http://sse;"));
    assert!(
        NGINX[events..].contains("proxy_buffering off;"),
        "SSE must not be buffered"
    );
    assert!(NGINX[rest..].contains("proxy_pass http://api;"));
    for protocol in ["location = /mcp {", "location = /a2a {"] {
        let at = NGINX.find(protocol).expect("an agent-protocol location");
        let block = &NGINX[at..at + NGINX[at..].find('}').expect("closed block")];
        assert!(
            block.contains("proxy_pass http://api;"),
            "{protocol} goes to the api nodes"
        );
        assert!(
            block.contains("proxy_buffering off;"),
            "{protocol} streams unbuffered"
        );
    }

    let lb = &services["lb"];
    let listen: u16 = NGINX
        .lines()
        .find_map(|l| l.trim().strip_prefix("listen "))
        .and_then(|p| p.trim_end_matches(';').trim().parse().ok())
        .expect("nginx listens on a port");
    let published = interpolated(&lb["ports"][0]);
    assert_eq!(
        port_of(&published),
        listen,
        "lb publishes another port than nginx listens on"
    );
    let mounts = lb["volumes"].as_array().expect("lb volumes");
    assert!(
        mounts.iter().any(|m| m
            .as_str()
            .is_some_and(|m| m.starts_with("./ops/compose/nginx.conf:"))),
        "lb does not mount ops/compose/nginx.conf"
    );
}

#[test]
fn traces_reach_the_collector_and_the_collector_reaches_jaeger() {
    let services = services();
    let collector = parse_yaml(COLLECTOR);
    let receiver_ports: BTreeSet<u16> = collector["receivers"]["otlp"]["protocols"]
        .as_object()
        .expect("otlp protocols")
        .values()
        .filter_map(|p| p["endpoint"].as_str())
        .map(port_of)
        .collect();
    for (name, service) in ours() {
        let env = environment(&service);
        let endpoint = env
            .get("OTEL_EXPORTER_OTLP_ENDPOINT")
            .unwrap_or_else(|| panic!("{name} exports no traces"));
        let host = endpoint
            .trim_start_matches("http://")
            .split(':')
            .next()
            .expect("host");
        assert!(
            services.contains_key(host),
            "{name} exports to unknown host {host}"
        );
        assert!(
            receiver_ports.contains(&port_of(endpoint)),
            "{name} exports to a port the collector does not listen on"
        );
    }
    let exporter = collector["exporters"]
        .as_object()
        .expect("exporters")
        .values()
        .find_map(|e| e["endpoint"].as_str())
        .expect("an exporter endpoint");
    assert!(
        exporter.starts_with("jaeger:"),
        "collector exports to {exporter}"
    );
}

#[test]
fn nats_runs_the_same_minor_version_the_tests_use() {
    let image = services()["nats"]["image"]
        .as_str()
        .expect("nats image")
        .to_owned();
    let tag = image.split_once(':').expect("a pinned tag").1;
    let tag = tag.split('-').next().unwrap_or(tag);
    let server = std::process::Command::new("/usr/sbin/nats-server")
        .arg("--version")
        .output();
    let Ok(out) = server else {
        // No local server to compare with; the pinned tag still has to be 2.9.
        assert!(tag.starts_with("2.9"), "nats image {image}");
        return;
    };
    let version = String::from_utf8_lossy(&out.stdout);
    let local = version.trim().trim_start_matches("nats-server: v");
    let minor = |v: &str| v.split('.').take(2).collect::<Vec<_>>().join(".");
    assert_eq!(
        minor(tag),
        minor(local),
        "compose pins {image}, the tests run {local}"
    );
}

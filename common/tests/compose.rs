//! `docker-compose.yml` runs the whole topology (ARCHITECTURE.md) with settings the
//! code accepts, and the `Dockerfile`'s default image is the all-in-one server.
//! No Docker engine runs on our machines, so the files, the load balancer and
//! collector configs compose mounts, and the `Dockerfile` are checked
//! statically against the workspace's binaries, `Config` and the scripts the
//! tests run.

use std::collections::{BTreeMap, BTreeSet};

use clap::CommandFactory;
use pinchwork_common::Config;
use serde_json::Value;

const COMPOSE: &str = include_str!("../../docker-compose.yml");
const NGINX: &str = include_str!("../../ops/compose/nginx.conf");
const COLLECTOR: &str = include_str!("../../ops/compose/otel-collector.yaml");
const DOCKERFILE: &str = include_str!("../../Dockerfile");
/// The all-in-one image's entrypoint, and the test that runs it outside a container.
const STANDALONE: &str = include_str!("../../ops/standalone");
const STANDALONE_TEST: &str = include_str!("../../services/server/tests/server/standalone.rs");

/// The image compose builds our services from: the `service` target.
const SERVICE_IMAGE: &str = "pinchwork-service:latest";

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
        .filter(|(_, s)| s["image"].as_str() == Some(SERVICE_IMAGE))
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

/// One stage of the `Dockerfile`: its name and its instructions (keyword in
/// upper case, arguments), continuation lines joined and comments dropped.
struct Stage {
    name: String,
    base: String,
    instructions: Vec<(String, String)>,
}

impl Stage {
    /// The arguments of every `keyword` instruction.
    fn all<'a>(&'a self, keyword: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.instructions
            .iter()
            .filter(move |(k, _)| k == keyword)
            .map(|(_, args)| args.as_str())
    }

    /// The JSON (exec) form of the last `keyword` instruction (`ENTRYPOINT`, `CMD`).
    fn exec_form(&self, keyword: &str) -> Option<Vec<String>> {
        let args = self.all(keyword).last()?;
        Some(serde_json::from_str(args).unwrap_or_else(|_| {
            panic!(
                "{keyword} {args} of stage {} is not in exec form",
                self.name
            )
        }))
    }

    /// `COPY` sources and destination, for copies from the build context
    /// (`from` none) or from stage `from`.
    fn copies(&self, from: Option<&str>) -> Vec<(Vec<String>, String)> {
        self.all("COPY")
            .filter_map(|args| {
                let mut words: Vec<String> = args.split_whitespace().map(str::to_owned).collect();
                let stage = words
                    .first()
                    .and_then(|w| w.strip_prefix("--from="))
                    .map(str::to_owned);
                if stage.is_some() {
                    words.remove(0);
                }
                (stage.as_deref() == from).then_some(())?;
                let destination = words.pop()?;
                Some((words, destination))
            })
            .collect()
    }
}

fn dockerfile() -> Vec<Stage> {
    let mut lines = Vec::new();
    let mut current = String::new();
    for line in DOCKERFILE.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') || trimmed.is_empty() {
            continue;
        }
        match trimmed.strip_suffix('\\') {
            Some(head) => current.push_str(head),
            None => {
                current.push_str(trimmed);
                lines.push(std::mem::take(&mut current));
            }
        }
    }
    let mut stages: Vec<Stage> = Vec::new();
    for line in lines {
        let (keyword, args) = line.split_once(char::is_whitespace).unwrap_or((&line, ""));
        let (keyword, args) = (keyword.to_uppercase(), args.trim().to_owned());
        if keyword == "FROM" {
            let words: Vec<&str> = args.split_whitespace().collect();
            let name = match words.as_slice() {
                [_, alias, name] if alias.eq_ignore_ascii_case("as") => name.to_string(),
                _ => stages.len().to_string(),
            };
            stages.push(Stage {
                name,
                base: words.first().copied().unwrap_or_default().to_owned(),
                instructions: Vec::new(),
            });
            continue;
        }
        stages
            .last_mut()
            .expect("an instruction before FROM")
            .instructions
            .push((keyword, args));
    }
    stages
}

fn stage(name: &str) -> Stage {
    dockerfile()
        .into_iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("the Dockerfile has no stage {name}"))
}

/// Where a stage put the binary `name` that it copied from the build stage.
fn copies_binary(stage: &Stage, name: &str) -> bool {
    stage
        .copies(Some("build"))
        .iter()
        .flat_map(|(sources, _)| sources)
        .any(|source| source == "/out/" || source == &format!("/out/{name}"))
}

#[test]
fn the_build_stage_compiles_every_binary_of_the_workspace() {
    let build = stage("build");
    assert!(
        build
            .all("RUN")
            .any(|run| run.contains("cargo build --release --bins")
                && run.contains("-name 'pinchwork*'")
                && run.contains("/out/")),
        "the build stage does not put every pinchwork binary in /out/"
    );
    assert!(
        workspace_binaries().iter().any(|b| b == "pinchwork-server"),
        "no crate builds pinchwork-server"
    );
}

#[test]
fn the_service_target_holds_every_binary_compose_runs() {
    let service = stage("service");
    for (name, definition) in services() {
        if definition["image"].as_str() != Some(SERVICE_IMAGE) {
            continue;
        }
        assert_eq!(
            definition["build"]["target"].as_str(),
            Some("service"),
            "{name} is not built from the service target"
        );
        assert_eq!(definition["build"]["context"].as_str(), Some("."));
        let binary = command_binary(&definition);
        assert!(binary.starts_with("pinchwork"), "{name} runs {binary}");
        assert!(
            copies_binary(&service, binary),
            "the service target lacks {binary}, which {name} runs"
        );
    }
    assert!(
        service.exec_form("ENTRYPOINT").is_none(),
        "compose picks the command"
    );
}

#[test]
fn the_default_image_runs_the_standalone_init_the_tests_run() {
    let stages = dockerfile();
    let default = stages.last().expect("a stage");
    let entrypoint = default.exec_form("ENTRYPOINT").expect("an ENTRYPOINT");
    let installed = default
        .copies(None)
        .into_iter()
        .find(|(_, destination)| {
            destination == &entrypoint[0] || destination.ends_with(&format!("/{}", entrypoint[0]))
        })
        .unwrap_or_else(|| {
            panic!(
                "the default image does not copy its entrypoint {}",
                entrypoint[0]
            )
        });
    assert_eq!(
        installed.0,
        ["ops/standalone"],
        "the entrypoint is not ops/standalone"
    );
    assert!(
        STANDALONE_TEST.contains("workspace(\"ops/standalone\")"),
        "the standalone test does not run ops/standalone"
    );
    // The init's one argument, its data directory, is the image's volume.
    let volume = default.all("VOLUME").last().expect("a VOLUME");
    assert_eq!(entrypoint[1..], [volume.to_owned()]);
    // The binaries the init runs, and the servers it starts.
    for binary in ["pinchwork-server", "pinchwork-migrate"] {
        assert!(
            STANDALONE.contains(binary),
            "ops/standalone does not run {binary}"
        );
        assert!(
            copies_binary(default, binary),
            "the default image lacks {binary}"
        );
    }
    let install = default
        .all("RUN")
        .find(|run| run.contains("apt-get install"))
        .expect("the default image installs packages");
    for package in [" postgresql", " nats-server"] {
        assert!(
            install.contains(package),
            "the default image does not install{package}"
        );
    }
    assert_eq!(
        default.base,
        stage("service").base,
        "the default image is not on the service image's base"
    );
}

#[test]
fn nothing_downloads_at_run_time() {
    let fetches = |text: &str| -> Option<&'static str> {
        ["curl", "wget", "apt-get", "apt ", "pip ", "cargo ", "npm "]
            .into_iter()
            .find(|tool| text.contains(tool))
    };
    if let Some(tool) = fetches(STANDALONE) {
        panic!("ops/standalone runs {tool}");
    }
    for stage in dockerfile() {
        for keyword in ["ENTRYPOINT", "CMD"] {
            for args in stage.all(keyword) {
                if let Some(tool) = fetches(args) {
                    panic!("{keyword} of stage {} runs {tool}", stage.name);
                }
            }
        }
    }
    for (name, service) in services() {
        for part in service["command"].as_array().into_iter().flatten() {
            if let Some(tool) = part.as_str().and_then(fetches) {
                panic!("{name}'s command runs {tool}");
            }
        }
    }
}

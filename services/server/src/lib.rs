//! `pinchwork-server`: the api node and the services (SSE relay, webhooks,
//! deadlines, matcher) in one process on one port, for deployments small
//! enough not to need the cluster. It is a composition, not a second
//! implementation: the service runtime runs the same [`Service`]s the
//! separate binaries run, over one database pool and one NATS connection.
//! `/v1/events` is the relay's route, every other one the api node's.
//! `--components` (`PINCHWORK_COMPONENTS`) chooses a subset, e.g.
//! `api,sse-relay` on each node of a small cluster.
#![forbid(unsafe_code)]

use clap::{Parser, ValueEnum};
use pinchwork_common::{Config, config::ConsoleServices, service::Service};

/// What one server process may run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Component {
    /// Every component.
    All,
    /// The REST API, the pages and the console; publishes the outbox.
    Api,
    /// `GET /v1/events`.
    SseRelay,
    /// Webhook deliveries.
    Webhooks,
    /// The timed rules.
    Deadlines,
    /// Task routing.
    Matcher,
}

/// Every component's service, in the order the server starts them.
const SERVICES: [(Component, Service); 5] = [
    (Component::Api, pinchwork_api::SERVICE),
    (Component::SseRelay, pinchwork_sse_relay::SERVICE),
    (Component::Webhooks, pinchwork_webhooks::SERVICE),
    (Component::Deadlines, pinchwork_deadlines::SERVICE),
    (Component::Matcher, pinchwork_matcher::SERVICE),
];

/// The services of `components`, each once, in start order.
pub fn services(components: &[Component]) -> Vec<Service> {
    let all = components.contains(&Component::All);
    SERVICES
        .iter()
        .filter(|(c, _)| all || components.contains(c))
        .map(|&(_, service)| service)
        .collect()
}

/// The server's flags: the components, then every setting of [`Config`].
#[derive(Parser)]
#[command(
    name = "pinchwork-server",
    version,
    args_override_self = true,
    about = "Pinchwork in one process: the api node and every service on one port"
)]
pub struct Args {
    /// Components to run, comma-separated.
    #[arg(
        long,
        env = "PINCHWORK_COMPONENTS",
        value_enum,
        value_delimiter = ',',
        default_value = "all"
    )]
    pub components: Vec<Component>,
    #[command(flatten)]
    pub config: Config,
}

impl Args {
    /// The services to run.
    pub fn services(&self) -> Vec<Service> {
        services(&self.components)
    }

    /// The configuration, checked (exits on a bad value). When no console
    /// instances are configured, the operator console lists this process.
    pub fn config(self) -> Config {
        let mut config = self.config.checked();
        if config.console_services.0.is_empty()
            && let Some(url) = self_url(&config)
        {
            config.console_services = ConsoleServices(vec![("server".into(), url)]);
        }
        config
    }
}

/// How a local client reaches this process: its listen address, with a
/// wildcard host replaced by loopback; none for an ephemeral port.
fn self_url(config: &Config) -> Option<String> {
    let mut addr: std::net::SocketAddr = config.listen_addr().parse().ok()?;
    if addr.port() == 0 {
        return None;
    }
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr.ip() {
            std::net::IpAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            std::net::IpAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    Some(format!("http://{addr}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(flags: &[&str]) -> Args {
        Args::try_parse_from(std::iter::once("pinchwork-server").chain(flags.iter().copied()))
            .expect("flags accepted")
    }

    fn names(args: &Args) -> Vec<&'static str> {
        args.services().iter().map(Service::name).collect()
    }

    #[test]
    fn all_components_run_by_default() {
        assert_eq!(
            names(&args(&[])),
            ["api", "sse-relay", "webhooks", "deadlines", "matcher"]
        );
    }

    #[test]
    fn a_subset_runs_once_in_start_order() {
        let chosen = args(&["--components", "sse-relay,api,sse-relay"]);
        assert_eq!(names(&chosen), ["api", "sse-relay"]);
    }

    #[test]
    fn an_unknown_component_is_refused() {
        let err = Args::try_parse_from(["pinchwork-server", "--components", "api,mailer"])
            .err()
            .expect("refused");
        assert!(err.to_string().contains("mailer"), "{err}");
    }

    #[test]
    fn the_console_lists_the_server_unless_told_otherwise() {
        let own = args(&["--listen", "0.0.0.0:8123"]).config();
        assert_eq!(
            own.console_services.0,
            [("server".to_string(), "http://127.0.0.1:8123".to_string())]
        );
        let told = args(&["--console-services", "a=http://10.0.0.1:8080"]).config();
        assert_eq!(told.console_services.0[0].0, "a");
    }
}

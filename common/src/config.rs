//! One typed configuration, read from the environment (or flags) once at start.
//! Setting names and defaults follow the original Python Pinchwork so operators can
//! move over unchanged; `PINCHWORK_NATS_PREFIX`, `PINCHWORK_RATE_LIMIT_ENABLED`,
//! `PINCHWORK_WEBHOOK_ALLOW_PRIVATE` and the listen/pool settings are ours.

use std::{fmt, str::FromStr, time::Duration};

use clap::{Parser, builder::BoolishValueParser};

/// Shortest admin key accepted at start (existing deployments use 17 characters).
pub const MIN_ADMIN_KEY_CHARS: usize = 16;
/// Admin keys shorter than this start with a warning.
pub const RECOMMENDED_ADMIN_KEY_CHARS: usize = 32;

/// Effective configuration of a Pinchwork process.
#[derive(Clone, Parser)]
#[command(
    name = "pinchwork",
    about = "Pinchwork service",
    version,
    args_override_self = true
)]
pub struct Config {
    /// PostgreSQL connection string.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/pinchwork"
    )]
    pub database_url: String,
    /// NATS server URL.
    #[arg(long, env = "NATS_URL", default_value = "nats://127.0.0.1:4222")]
    pub nats_url: String,
    /// Prefix of every NATS subject and stream name; lets deployments share one NATS.
    #[arg(long, env = "PINCHWORK_NATS_PREFIX", default_value = "pinchwork")]
    pub nats_prefix: String,
    /// Bind host of the HTTP listener.
    #[arg(long, env = "PINCHWORK_HOST", default_value = "0.0.0.0")]
    pub host: String,
    /// Public port (the load balancer's, or the single api node's).
    #[arg(long, env = "PINCHWORK_PORT", default_value_t = 8000)]
    pub port: u16,
    /// Exact listen address of this process (overrides host:port), e.g. 127.0.0.1:8101.
    #[arg(long, env = "PINCHWORK_LISTEN")]
    pub listen: Option<String>,
    /// Public base URL of the deployment (the load balancer's), used in the A2A agent
    /// card and `/llms.txt` [default: http://127.0.0.1:<PINCHWORK_PORT>].
    #[arg(long, env = "PINCHWORK_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Maximum PostgreSQL connections of this process.
    #[arg(long, env = "PINCHWORK_DB_MAX_CONNECTIONS", default_value_t = 10)]
    pub db_max_connections: u32,
    /// Log format: `text` or `json`.
    #[arg(long, env = "PINCHWORK_LOG_FORMAT", default_value = "text")]
    pub log_format: String,

    #[arg(long, env = "PINCHWORK_ADMIN_KEY", hide_env_values = true)]
    pub admin_key: Option<String>,
    #[arg(long, env = "PINCHWORK_INITIAL_CREDITS", default_value_t = 100)]
    pub initial_credits: i64,
    #[arg(long, env = "PINCHWORK_PLATFORM_FEE_PERCENT", default_value_t = 10.0)]
    pub platform_fee_percent: f64,
    #[arg(
        long,
        env = "PINCHWORK_PLATFORM_AGENT_ID",
        default_value = "ag-platform"
    )]
    pub platform_agent_id: crate::ids::AgentId,
    #[arg(long, env = "PINCHWORK_TASK_EXPIRE_HOURS", default_value_t = 72)]
    pub task_expire_hours: i64,
    #[arg(long, env = "PINCHWORK_MAX_WAIT_SECONDS", default_value_t = 300)]
    pub max_wait_seconds: i64,
    #[arg(long, env = "PINCHWORK_MATCH_TIMEOUT_SECONDS", default_value_t = 120)]
    pub match_timeout_seconds: i64,
    #[arg(
        long,
        env = "PINCHWORK_VERIFICATION_TIMEOUT_SECONDS",
        default_value_t = 120
    )]
    pub verification_timeout_seconds: i64,
    #[arg(
        long,
        env = "PINCHWORK_SYSTEM_TASK_AUTO_APPROVE_SECONDS",
        default_value_t = 60
    )]
    pub system_task_auto_approve_seconds: i64,
    #[arg(long, env = "PINCHWORK_MATCH_CREDITS", default_value_t = 3)]
    pub match_credits: i64,
    #[arg(long, env = "PINCHWORK_VERIFY_CREDITS", default_value_t = 5)]
    pub verify_credits: i64,
    #[arg(
        long,
        env = "PINCHWORK_CAPABILITY_EXTRACT_CREDITS",
        default_value_t = 2
    )]
    pub capability_extract_credits: i64,
    #[arg(long, env = "PINCHWORK_MAX_EXTRACTED_TAGS", default_value_t = 20)]
    pub max_extracted_tags: usize,
    #[arg(long, env = "PINCHWORK_DISABLE_AUTO_APPROVE", default_value = "false", value_parser = BoolishValueParser::new(), action = clap::ArgAction::Set)]
    pub disable_auto_approve: bool,
    #[arg(
        long,
        env = "PINCHWORK_MAX_ABANDONS_BEFORE_COOLDOWN",
        default_value_t = 5
    )]
    pub max_abandons_before_cooldown: i32,
    #[arg(long, env = "PINCHWORK_ABANDON_COOLDOWN_MINUTES", default_value_t = 30)]
    pub abandon_cooldown_minutes: i64,
    #[arg(long, env = "PINCHWORK_REJECTION_GRACE_MINUTES", default_value_t = 5)]
    pub rejection_grace_minutes: i64,
    #[arg(long, env = "PINCHWORK_MAX_REJECTIONS", default_value_t = 3)]
    pub max_rejections: i32,
    #[arg(
        long,
        env = "PINCHWORK_DEFAULT_REVIEW_TIMEOUT_MINUTES",
        default_value_t = 30
    )]
    pub default_review_timeout_minutes: i64,
    #[arg(
        long,
        env = "PINCHWORK_DEFAULT_CLAIM_TIMEOUT_MINUTES",
        default_value_t = 10
    )]
    pub default_claim_timeout_minutes: i64,
    #[arg(long, env = "PINCHWORK_WELCOME_TASK_ENABLED", default_value = "true", value_parser = BoolishValueParser::new(), action = clap::ArgAction::Set)]
    pub welcome_task_enabled: bool,
    #[arg(long, env = "PINCHWORK_WELCOME_TASK_CREDITS", default_value_t = 2)]
    pub welcome_task_credits: i64,
    #[arg(long, env = "PINCHWORK_WEBHOOK_TIMEOUT_SECONDS", default_value_t = 10)]
    pub webhook_timeout_seconds: u64,
    #[arg(long, env = "PINCHWORK_WEBHOOK_MAX_RETRIES", default_value_t = 3)]
    pub webhook_max_retries: u32,
    /// Allow http:// and private, loopback or link-local webhook targets (development, tests).
    #[arg(long, env = "PINCHWORK_WEBHOOK_ALLOW_PRIVATE", default_value = "false", value_parser = BoolishValueParser::new(), action = clap::ArgAction::Set)]
    pub webhook_allow_private: bool,
    /// First back-off delay of a failed webhook, doubled after each further failure.
    #[arg(long, env = "PINCHWORK_WEBHOOK_RETRY_BASE_MS", default_value_t = 1000)]
    pub webhook_retry_base_ms: u64,
    /// Webhook POSTs one webhooks instance runs at once.
    #[arg(long, env = "PINCHWORK_WEBHOOK_CONCURRENCY", default_value_t = 16)]
    pub webhook_concurrency: usize,
    /// How long the events stream keeps events (SSE replay, webhook catch-up);
    /// the deadlines service deletes finished webhook deliveries after the
    /// same time.
    #[arg(long, env = "PINCHWORK_EVENTS_RETENTION_HOURS", default_value_t = 24)]
    pub events_retention_hours: u64,
    /// How long a published outbox row is kept before the deadlines service
    /// deletes it. Once JetStream holds the event nothing reads the row (the
    /// streams serve replay), so this only bounds the table; it keeps the
    /// recent rows for inspection.
    #[arg(
        long,
        env = "PINCHWORK_OUTBOX_RETENTION_SECONDS",
        default_value_t = 3600
    )]
    pub outbox_retention_seconds: u64,
    /// Period of the outbox sweeper that publishes rows a crashed node left behind.
    #[arg(long, env = "PINCHWORK_OUTBOX_SWEEP_MS", default_value_t = 1000)]
    pub outbox_sweep_ms: u64,
    /// Seconds without events after which an SSE connection gets a keep-alive comment.
    #[arg(long, env = "PINCHWORK_SSE_KEEPALIVE_SECONDS", default_value_t = 15)]
    pub sse_keepalive_seconds: u64,
    /// Events buffered per SSE connection; a client that falls further behind is cut off.
    #[arg(long, env = "PINCHWORK_SSE_BUFFER", default_value_t = 256)]
    pub sse_buffer: usize,
    /// TEST ONLY: exit the process right after a command commits, before its
    /// outbox rows are published (proves the sweeper of another node publishes them).
    #[arg(long, env = "PINCHWORK_FAULT_EXIT_AFTER_COMMIT", default_value = "false", value_parser = BoolishValueParser::new(), action = clap::ArgAction::Set)]
    pub fault_exit_after_commit: bool,
    /// Switch every rate limit off (benchmarks, conformance runs).
    #[arg(long, env = "PINCHWORK_RATE_LIMIT_ENABLED", default_value = "true", value_parser = BoolishValueParser::new(), action = clap::ArgAction::Set)]
    pub rate_limit_enabled: bool,
    #[arg(long, env = "PINCHWORK_RATE_LIMIT_REGISTER", default_value = "5/hour")]
    pub rate_limit_register: RateLimit,
    #[arg(long, env = "PINCHWORK_RATE_LIMIT_CREATE", default_value = "30/minute")]
    pub rate_limit_create: RateLimit,
    #[arg(long, env = "PINCHWORK_RATE_LIMIT_PICKUP", default_value = "60/minute")]
    pub rate_limit_pickup: RateLimit,
    #[arg(
        long,
        env = "PINCHWORK_RATE_LIMIT_DELIVER",
        default_value = "30/minute"
    )]
    pub rate_limit_deliver: RateLimit,
    #[arg(long, env = "PINCHWORK_RATE_LIMIT_READ", default_value = "120/minute")]
    pub rate_limit_read: RateLimit,
    #[arg(long, env = "PINCHWORK_RATE_LIMIT_ADMIN", default_value = "30/minute")]
    pub rate_limit_admin: RateLimit,
    /// Profile changes (`PATCH /v1/me`): each `good_at` change may spawn paid system work.
    #[arg(long, env = "PINCHWORK_RATE_LIMIT_PROFILE", default_value = "10/hour")]
    pub rate_limit_profile: RateLimit,
    /// Every other state-changing task action: approve, reject, cancel, abandon,
    /// rate, report, questions, answers and messages.
    #[arg(long, env = "PINCHWORK_RATE_LIMIT_WRITE", default_value = "60/minute")]
    pub rate_limit_write: RateLimit,
    /// Addresses (or CIDR ranges) of the load balancers whose `X-Forwarded-For`
    /// is believed; any other peer is counted by its own address.
    #[arg(
        long,
        env = "PINCHWORK_TRUSTED_PROXIES",
        default_value = "127.0.0.1/32,::1/128"
    )]
    pub trusted_proxies: TrustedProxies,
    /// Longest a client may take to send a whole request body, in seconds; 408 after.
    #[arg(
        long,
        env = "PINCHWORK_REQUEST_BODY_TIMEOUT_SECONDS",
        default_value_t = 30
    )]
    pub request_body_timeout_seconds: u64,
    /// Open SSE streams one agent may hold on one relay; the next one is refused with 429.
    #[arg(long, env = "PINCHWORK_SSE_MAX_PER_AGENT", default_value_t = 5)]
    pub sse_max_per_agent: usize,
    /// Period of the matcher's sweep (unrouted tasks, match and verification timers), in ms.
    #[arg(long, env = "PINCHWORK_MATCHER_SWEEP_MS", default_value_t = 2000)]
    pub matcher_sweep_ms: u64,
    /// How long the deadlines service sleeps between sweeps when nothing was due.
    #[arg(long, env = "PINCHWORK_DEADLINES_POLL_MS", default_value_t = 1000)]
    pub deadlines_poll_ms: u64,
    /// Due rows the deadlines service handles per rule in one transaction.
    #[arg(long, env = "PINCHWORK_DEADLINES_BATCH", default_value_t = 100)]
    pub deadlines_batch: i64,
    /// How long the answer of a POST sent with an `Idempotency-Key` is kept
    /// for retries (the deadlines service deletes it after that), in seconds.
    #[arg(
        long,
        env = "PINCHWORK_IDEMPOTENCY_WINDOW_SECONDS",
        default_value_t = 86_400
    )]
    pub idempotency_window_seconds: i64,
    /// The service instances the operator console reads health, readiness and
    /// metrics from: comma-separated `name=http://host:port` (ops/cluster sets it).
    #[arg(long, env = "PINCHWORK_CONSOLE_SERVICES", default_value = "", value_parser = parse_console_services)]
    pub console_services: ConsoleServices,
}

impl Config {
    /// Reads the configuration from the environment and command line, exiting
    /// with a clear message on a bad value.
    pub fn load() -> Self {
        Self::parse().checked()
    }

    /// A parsed configuration (e.g. flattened into a binary's own flags),
    /// validated like [`Config::load`]: exits with a clear message on a bad
    /// value, prints the warnings.
    pub fn checked(self) -> Self {
        if let Err(msg) = self.validate() {
            eprintln!("error: invalid configuration: {msg}");
            std::process::exit(2);
        }
        for warning in self.warnings() {
            eprintln!("warning: {warning}");
        }
        self
    }

    /// Builds a configuration from explicit arguments (tests, tools); the
    /// environment still supplies anything not given.
    pub fn from_args<I, T>(args: I) -> Result<Self, String>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        let config = Self::try_parse_from(args).map_err(|e| e.to_string())?;
        config.validate()?;
        Ok(config)
    }

    /// Checks the values clap cannot check on its own.
    pub fn validate(&self) -> Result<(), String> {
        if !(0.0..=100.0).contains(&self.platform_fee_percent) {
            return Err("PINCHWORK_PLATFORM_FEE_PERCENT must be between 0 and 100".into());
        }
        if self.initial_credits < 0 || self.welcome_task_credits < 0 {
            return Err("credit amounts must not be negative".into());
        }
        if self.matcher_sweep_ms == 0 || self.match_timeout_seconds < 1 {
            return Err(
                "PINCHWORK_MATCHER_SWEEP_MS and PINCHWORK_MATCH_TIMEOUT_SECONDS must be positive"
                    .into(),
            );
        }
        if self.idempotency_window_seconds < 1 {
            return Err("PINCHWORK_IDEMPOTENCY_WINDOW_SECONDS must be at least 1".into());
        }
        if self.deadlines_poll_ms == 0 || self.deadlines_batch < 1 {
            return Err(
                "PINCHWORK_DEADLINES_POLL_MS and PINCHWORK_DEADLINES_BATCH must be at least 1"
                    .into(),
            );
        }
        if let Some(key) = self.admin_key.as_deref().filter(|k| !k.is_empty())
            && key.chars().count() < MIN_ADMIN_KEY_CHARS
        {
            return Err(format!(
                "PINCHWORK_ADMIN_KEY must be at least {MIN_ADMIN_KEY_CHARS} characters (32 or more recommended)"
            ));
        }
        if self.sse_max_per_agent == 0 {
            return Err("PINCHWORK_SSE_MAX_PER_AGENT must be at least 1".into());
        }
        if self.request_body_timeout_seconds == 0 {
            return Err("PINCHWORK_REQUEST_BODY_TIMEOUT_SECONDS must be at least 1".into());
        }
        if self.db_max_connections == 0 {
            return Err("PINCHWORK_DB_MAX_CONNECTIONS must be at least 1".into());
        }
        if self.webhook_concurrency == 0 || self.sse_buffer == 0 {
            return Err(
                "PINCHWORK_WEBHOOK_CONCURRENCY and PINCHWORK_SSE_BUFFER must be at least 1".into(),
            );
        }
        if self.events_retention_hours == 0
            || self.outbox_retention_seconds == 0
            || self.outbox_sweep_ms == 0
            || self.sse_keepalive_seconds == 0
        {
            return Err("PINCHWORK_EVENTS_RETENTION_HOURS, PINCHWORK_OUTBOX_RETENTION_SECONDS, PINCHWORK_OUTBOX_SWEEP_MS and PINCHWORK_SSE_KEEPALIVE_SECONDS must be positive".into());
        }
        if let Some(url) = &self.public_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return Err("PINCHWORK_PUBLIC_URL must be an http:// or https:// URL".into());
        }
        if !matches!(self.log_format.as_str(), "text" | "json") {
            return Err("PINCHWORK_LOG_FORMAT must be `text` or `json`".into());
        }
        if self.nats_prefix.is_empty()
            || !self
                .nats_prefix
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err("PINCHWORK_NATS_PREFIX must be non-empty [A-Za-z0-9_-]".into());
        }
        Ok(())
    }

    /// Settings that work but are weaker than they should be.
    pub fn warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        if let Some(key) = self.admin_key.as_deref().filter(|k| !k.is_empty())
            && key.chars().count() < RECOMMENDED_ADMIN_KEY_CHARS
        {
            warnings.push(format!(
                "PINCHWORK_ADMIN_KEY is shorter than {RECOMMENDED_ADMIN_KEY_CHARS} characters; use a longer random key"
            ));
        }
        warnings
    }

    /// The public base URL, without a trailing slash.
    pub fn public_base_url(&self) -> String {
        self.public_url.as_deref().map_or_else(
            || format!("http://127.0.0.1:{}", self.port),
            |url| url.trim_end_matches('/').to_string(),
        )
    }

    /// The socket address this process listens on.
    pub fn listen_addr(&self) -> String {
        self.listen
            .clone()
            .unwrap_or_else(|| format!("{}:{}", self.host, self.port))
    }
}

/// Prints every setting with secrets masked (each service logs this at start).
impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("database_url", &mask_url_password(&self.database_url))
            .field("nats_url", &mask_url_password(&self.nats_url))
            .field("nats_prefix", &self.nats_prefix)
            .field("listen", &self.listen_addr())
            .field("public_url", &self.public_base_url())
            .field("db_max_connections", &self.db_max_connections)
            .field("admin_key", &self.admin_key.as_ref().map(|_| "***"))
            .field("initial_credits", &self.initial_credits)
            .field("platform_fee_percent", &self.platform_fee_percent)
            .field("platform_agent_id", &self.platform_agent_id)
            .field("task_expire_hours", &self.task_expire_hours)
            .field("match_timeout_seconds", &self.match_timeout_seconds)
            .field(
                "verification_timeout_seconds",
                &self.verification_timeout_seconds,
            )
            .field(
                "system_task_auto_approve_seconds",
                &self.system_task_auto_approve_seconds,
            )
            .field("disable_auto_approve", &self.disable_auto_approve)
            .field(
                "max_abandons_before_cooldown",
                &self.max_abandons_before_cooldown,
            )
            .field("abandon_cooldown_minutes", &self.abandon_cooldown_minutes)
            .field("rejection_grace_minutes", &self.rejection_grace_minutes)
            .field("max_rejections", &self.max_rejections)
            .field(
                "default_review_timeout_minutes",
                &self.default_review_timeout_minutes,
            )
            .field(
                "default_claim_timeout_minutes",
                &self.default_claim_timeout_minutes,
            )
            .field("welcome_task_enabled", &self.welcome_task_enabled)
            .field("welcome_task_credits", &self.welcome_task_credits)
            .field("webhook_timeout_seconds", &self.webhook_timeout_seconds)
            .field("webhook_max_retries", &self.webhook_max_retries)
            .field("webhook_allow_private", &self.webhook_allow_private)
            .field("rate_limit_enabled", &self.rate_limit_enabled)
            .field("trusted_proxies", &self.trusted_proxies)
            .field(
                "request_body_timeout_seconds",
                &self.request_body_timeout_seconds,
            )
            .field("sse_max_per_agent", &self.sse_max_per_agent)
            .field("webhook_retry_base_ms", &self.webhook_retry_base_ms)
            .field("webhook_concurrency", &self.webhook_concurrency)
            .field("events_retention_hours", &self.events_retention_hours)
            .field("outbox_retention_seconds", &self.outbox_retention_seconds)
            .field("outbox_sweep_ms", &self.outbox_sweep_ms)
            .field("sse_keepalive_seconds", &self.sse_keepalive_seconds)
            .field("sse_buffer", &self.sse_buffer)
            .field("fault_exit_after_commit", &self.fault_exit_after_commit)
            .field("matcher_sweep_ms", &self.matcher_sweep_ms)
            .field("deadlines_poll_ms", &self.deadlines_poll_ms)
            .field("deadlines_batch", &self.deadlines_batch)
            .field(
                "idempotency_window_seconds",
                &self.idempotency_window_seconds,
            )
            .field("console_services", &self.console_services.0)
            .finish_non_exhaustive()
    }
}

/// The console's list of service instances, as (name, base URL) in order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConsoleServices(pub Vec<(String, String)>);

fn parse_console_services(text: &str) -> Result<ConsoleServices, String> {
    let entries = text
        .split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(|entry| {
            let (name, url) = entry
                .split_once('=')
                .ok_or_else(|| format!("'{entry}' is not name=http://host:port"))?;
            let parsed = url::Url::parse(url).map_err(|e| format!("'{url}': {e}"))?;
            if parsed.scheme() != "http" && parsed.scheme() != "https" {
                return Err(format!("'{url}' is not an http(s) URL"));
            }
            Ok((
                name.trim().to_string(),
                url.trim_end_matches('/').to_string(),
            ))
        })
        .collect::<Result<Vec<_>, String>>()?;
    Ok(ConsoleServices(entries))
}

fn mask_url_password(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// The proxies whose `X-Forwarded-For` header is believed: addresses or CIDR
/// ranges, comma-separated (empty: believe no one).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<ipnet::IpNet>);

impl TrustedProxies {
    /// Whether `ip` is one of the trusted proxies.
    pub fn contains(&self, ip: &std::net::IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|net| net.contains(&ip))
    }
}

impl FromStr for TrustedProxies {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(|p| {
                p.parse::<ipnet::IpNet>()
                    .or_else(|_| p.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                    .map_err(|_| format!("`{p}` is not an IP address or CIDR range"))
            })
            .collect::<Result<_, _>>()
            .map(Self)
    }
}

/// A fixed-window limit such as `30/minute`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimit {
    pub count: u32,
    pub window: Duration,
}

impl RateLimit {
    /// The limit in words, e.g. `30 per 1 minute`.
    pub fn describe(&self) -> String {
        let secs = self.window.as_secs();
        let unit = match secs {
            1 => "1 second".to_string(),
            60 => "1 minute".to_string(),
            3600 => "1 hour".to_string(),
            86400 => "1 day".to_string(),
            s => format!("{s} seconds"),
        };
        format!("{} per {unit}", self.count)
    }
}

impl FromStr for RateLimit {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (count, unit) = s
            .split_once('/')
            .ok_or_else(|| format!("rate limit `{s}` must look like `30/minute`"))?;
        let count: u32 = count
            .trim()
            .parse()
            .map_err(|_| format!("rate limit `{s}`: count must be a positive integer"))?;
        if count == 0 {
            return Err(format!("rate limit `{s}`: count must be at least 1"));
        }
        let secs = match unit.trim() {
            "second" | "s" => 1,
            "minute" | "m" => 60,
            "hour" | "h" => 3600,
            "day" | "d" => 86400,
            other => return Err(format!("rate limit `{s}`: unknown unit `{other}`")),
        };
        Ok(Self {
            count,
            window: Duration::from_secs(secs),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limits_parse_and_describe() {
        let limit: RateLimit = "5/hour".parse().unwrap();
        assert_eq!(limit.count, 5);
        assert_eq!(limit.describe(), "5 per 1 hour");
        assert!("5/fortnight".parse::<RateLimit>().is_err());
        assert!("0/minute".parse::<RateLimit>().is_err());
    }

    #[test]
    fn passwords_are_masked() {
        assert_eq!(
            mask_url_password("postgres://u:secret@h/db"),
            "postgres://u:***@h/db"
        );
        assert_eq!(mask_url_password("nats://h:4222"), "nats://h:4222");
    }

    #[test]
    fn short_admin_keys_are_refused_and_shortish_ones_warned_about() {
        let err = Config::from_args(["x", "--admin-key", "fifteen-chars-k"]).unwrap_err();
        assert!(err.contains("PINCHWORK_ADMIN_KEY"), "{err}");
        let ok = Config::from_args(["x", "--admin-key", "seventeen-chars-k"]).unwrap();
        assert_eq!(ok.warnings().len(), 1);
        let long = Config::from_args(["x", "--admin-key", &"k".repeat(32)]).unwrap();
        assert!(long.warnings().is_empty());
        assert!(
            Config::from_args(["x", "--admin-key", ""]).is_ok(),
            "empty: admin API off"
        );
    }

    #[test]
    fn trusted_proxies_parse_addresses_and_ranges() {
        let p: TrustedProxies = "127.0.0.1, 10.0.0.0/8,::1".parse().unwrap();
        assert!(p.contains(&"10.1.2.3".parse().unwrap()));
        assert!(p.contains(&"::ffff:127.0.0.1".parse().unwrap()));
        assert!(!p.contains(&"192.168.1.1".parse().unwrap()));
        assert!("nope".parse::<TrustedProxies>().is_err());
        assert!(
            !"".parse::<TrustedProxies>()
                .unwrap()
                .contains(&"127.0.0.1".parse().unwrap())
        );
    }

    #[test]
    fn a_bad_fee_is_refused() {
        let err = Config::from_args(["x", "--platform-fee-percent", "150"]).unwrap_err();
        assert!(err.contains("FEE"));
    }
}

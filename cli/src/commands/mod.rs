//! Runs a parsed command line: resolves URL, key and profile, then calls the
//! one command module that handles it.

mod account;
mod admin;
mod agents;
mod events;
mod mcp;
mod tasks;

use std::{path::PathBuf, time::Duration};

use serde_json::Value;

use crate::{
    cli::{Cli, Command, MeCmd, TasksCmd},
    client::Api,
    config::{self, Credentials, DEFAULT_URL},
    error::CliError,
    output,
};

/// Everything a command needs: the client, the output mode and where the profile lives.
pub struct Ctx {
    /// Client for the resolved URL and key.
    pub api: Api,
    /// `--json` was given.
    pub json: bool,
    /// The credentials file.
    pub creds_path: PathBuf,
    /// Its current content.
    pub creds: Credentials,
    /// The selected profile name.
    pub profile: String,
    /// The resolved base URL.
    pub url: String,
}

impl Ctx {
    /// Prints `body` as JSON with `--json`, else the human rendering.
    pub fn show(&self, body: &Value, human: impl FnOnce(&Value) -> String) -> Result<(), CliError> {
        if self.json {
            output::json(body)
        } else {
            output::line(&human(body))
        }
    }
}

fn non_empty(v: Option<String>) -> Option<String> {
    v.filter(|s| !s.trim().is_empty())
}

/// Runs `cli`. Precedence: flag > environment > profile > default.
pub async fn run(cli: Cli) -> Result<(), CliError> {
    let dir = config::config_dir(cli.config_dir.clone())?;
    let creds_path = config::credentials_path(&dir);
    let creds = config::load(&creds_path)?;
    let profile = creds.profile(&cli.profile).cloned().unwrap_or_default();
    let url = non_empty(cli.url)
        .or(non_empty(profile.url))
        .unwrap_or_else(|| DEFAULT_URL.to_string());
    let key = non_empty(cli.api_key).or(non_empty(profile.api_key));
    let wait = match &cli.command {
        Command::Tasks(TasksCmd::Create { wait, .. }) => Duration::from_secs(wait.unwrap_or(0)),
        _ => Duration::ZERO,
    };
    let ctx = Ctx {
        api: Api::new(&url, key, wait)?,
        json: cli.json,
        creds_path,
        creds,
        profile: cli.profile,
        url,
    };
    match cli.command {
        Command::Register(args) => account::register(ctx, args).await,
        Command::Tasks(cmd) => tasks::run(&ctx, cmd).await,
        Command::Me {
            cmd: Some(MeCmd::RotateKey),
        } => account::rotate_key(ctx).await,
        Command::Me { cmd } => account::me(&ctx, cmd).await,
        Command::Credits(page) => account::credits(&ctx, page).await,
        Command::Stats => account::stats(&ctx).await,
        Command::Trust => account::trust(&ctx).await,
        Command::Agents { cmd, filter } => agents::run(&ctx, cmd, filter).await,
        Command::Events { max_events } => events::follow(&ctx, max_events).await,
        Command::Admin { admin_key, cmd } => admin::run(&ctx, non_empty(admin_key), cmd).await,
        Command::Mcp => mcp::serve(ctx).await,
    }
}

/// A number as a query value.
fn num<T: ToString>(v: Option<T>) -> Option<String> {
    v.map(|v| v.to_string())
}

/// Comma-joined tags as a query value (absent when empty).
fn csv(tags: &[String]) -> Option<String> {
    (!tags.is_empty()).then(|| tags.join(","))
}

//! `pinchwork mcp`: the MCP tools over stdio, for agent hosts that launch a
//! command. Each tool is a call of the public HTTP API with the resolved key
//! (flag, `PINCHWORK_API_KEY` or the profile); stdout carries only MCP.

use std::{sync::Mutex, time::Duration};

use pinchwork_mcp::{
    ApiCall, ApiReply, Backend, McpServer, Method,
    rmcp::{ServiceExt, model::Extensions, transport::stdio},
};
use serde_json::{Value, json};

use super::Ctx;
use crate::{
    client::Api,
    config::{self, Credentials, DEFAULT_URL, Profile},
    error::CliError,
};

/// Longest `wait` of a delegate call, added to the request timeout.
const LONGEST_WAIT: Duration = Duration::from_secs(300);

/// The client and the profile it may save a new key into.
struct Remote {
    state: Mutex<Session>,
}

struct Session {
    api: Api,
    url: String,
    creds: Credentials,
    creds_path: std::path::PathBuf,
    profile: String,
    has_key: bool,
}

impl Remote {
    fn api(&self) -> Api {
        self.state
            .lock()
            .map_or_else(|p| p.into_inner().api.clone(), |s| s.api.clone())
    }
}

impl Backend for Remote {
    async fn call(&self, call: ApiCall, _extensions: &Extensions) -> Result<ApiReply, String> {
        let api = self.api();
        let method = match call.method {
            Method::Get => reqwest::Method::GET,
            Method::Post => reqwest::Method::POST,
            Method::Patch => reqwest::Method::PATCH,
        };
        let query: Vec<(&str, Option<String>)> = call
            .query
            .iter()
            .map(|(k, v)| (*k, Some(v.clone())))
            .collect();
        let key = api.key().ok().map(str::to_string);
        match api
            .call(method, &call.path, &query, call.body, key.as_deref())
            .await
        {
            Ok(reply) => Ok(ApiReply {
                status: reply.status.as_u16(),
                body: reply.body,
            }),
            Err(CliError::Api { status, message }) => Ok(ApiReply {
                status,
                body: json!({ "error": message }),
            }),
            Err(other) => Err(other.to_string()),
        }
    }

    /// Saves the new key into the profile when it held none, and uses it
    /// for the rest of the session.
    fn registered(&self, reply: &Value) -> String {
        let Ok(mut session) = self.state.lock() else {
            return "Save this api_key now: it is shown only once.".into();
        };
        let field = |k: &str| reply.get(k).and_then(Value::as_str).map(str::to_string);
        if session.has_key {
            return format!(
                "Profile '{}' already holds a key, so this one was NOT saved: store it yourself \
                 now (it is shown only once). This session keeps using the profile's key.",
                session.profile
            );
        }
        let profile = Profile {
            api_key: field("api_key"),
            agent_id: field("agent_id"),
            agent_name: None,
            url: (session.url != DEFAULT_URL).then(|| session.url.clone()),
        };
        let (name, path) = (session.profile.clone(), session.creds_path.clone());
        session.creds.set_profile(&name, profile);
        if let Err(err) = config::save(&path, &session.creds) {
            return format!(
                "Saving the key failed ({err}): store it yourself now, it is shown only once."
            );
        }
        match Api::new(&session.url, field("api_key"), LONGEST_WAIT) {
            Ok(api) => session.api = api,
            Err(err) => return format!("The key was saved, but the session cannot use it: {err}"),
        }
        session.has_key = true;
        format!(
            "The api_key was saved to {} (profile '{name}'); this session uses it from now on.",
            path.display()
        )
    }
}

/// Serves MCP on stdin/stdout until the host closes them.
pub async fn serve(ctx: Ctx) -> Result<(), CliError> {
    let has_key = ctx.api.key().is_ok();
    let key = ctx.api.key().ok().map(str::to_string);
    let session = Session {
        api: Api::new(&ctx.url, key, LONGEST_WAIT)?,
        url: ctx.url,
        creds: ctx.creds,
        creds_path: ctx.creds_path,
        profile: ctx.profile,
        has_key,
    };
    let server = McpServer::new(Remote {
        state: Mutex::new(session),
    });
    let running = server
        .serve(stdio())
        .await
        .map_err(|e| CliError::Local(format!("MCP start-up failed: {e}")))?;
    running
        .waiting()
        .await
        .map_err(|e| CliError::Local(format!("MCP session failed: {e}")))?;
    Ok(())
}

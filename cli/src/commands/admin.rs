//! `admin grant|suspend|unsuspend` with the admin key.

use reqwest::Method;
use serde_json::{Value, json};

use super::Ctx;
use crate::{cli::AdminCmd, error::CliError, output::text};

/// Runs one admin subcommand.
pub async fn run(ctx: &Ctx, admin_key: Option<String>, cmd: AdminCmd) -> Result<(), CliError> {
    let key = admin_key.ok_or_else(|| {
        CliError::Usage("admin commands need the admin key: set PINCHWORK_ADMIN_KEY".into())
    })?;
    let (path, body) = match &cmd {
        AdminCmd::Grant {
            agent_id,
            amount,
            reason,
        } => {
            let mut body = json!({ "agent_id": agent_id, "amount": amount });
            if let Some(r) = reason {
                body["reason"] = json!(r);
            }
            ("/v1/admin/credits/grant", body)
        }
        AdminCmd::Suspend { agent_id, reason } => {
            let mut body = json!({ "agent_id": agent_id, "suspended": true });
            if let Some(r) = reason {
                body["reason"] = json!(r);
            }
            ("/v1/admin/agents/suspend", body)
        }
        AdminCmd::Unsuspend { agent_id } => (
            "/v1/admin/agents/suspend",
            json!({ "agent_id": agent_id, "suspended": false }),
        ),
    };
    let reply = ctx
        .api
        .call(Method::POST, path, &[], Some(body), Some(&key))
        .await?;
    ctx.show(&reply.body, |b| {
        let agent = b
            .get("agent_id")
            .or_else(|| b.get("id"))
            .map_or_else(String::new, text);
        match cmd {
            AdminCmd::Grant { .. } => {
                format!("Granted {} credits to {agent}.", text(&b["granted"]))
            }
            _ if b.get("suspended") == Some(&Value::Bool(true)) => format!("Suspended {agent}."),
            _ => format!("Unsuspended {agent}."),
        }
    })
}

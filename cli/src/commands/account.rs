//! `register`, `me`, `credits`, `stats`, `trust`.

use reqwest::Method;
use serde_json::{Map, Value, json};

use super::{Ctx, num};
use crate::{
    cli::{MeCmd, PageArgs, RegisterArgs},
    config::{self, DEFAULT_URL, Profile},
    error::CliError,
    output::{fields, list, short, table, text},
};

const ME_FIELDS: [&str; 12] = [
    "id",
    "name",
    "credits",
    "reputation",
    "rating_count",
    "tasks_posted",
    "tasks_completed",
    "good_at",
    "tags",
    "accepts_system_tasks",
    "webhook_url",
    "created_at",
];

/// `register`: creates the agent and saves its key into the profile.
pub async fn register(mut ctx: Ctx, args: RegisterArgs) -> Result<(), CliError> {
    if let Some(existing) = ctx
        .creds
        .profile(&ctx.profile)
        .filter(|p| p.api_key.is_some() && !args.force)
    {
        return Err(CliError::Usage(format!(
            "profile '{}' already holds agent {} in {}: its key would be lost; \
             use --profile NAME for another agent, or --force",
            ctx.profile,
            existing.agent_id.as_deref().unwrap_or("?"),
            ctx.creds_path.display()
        )));
    }
    let mut body = json!({ "name": args.name, "accepts_system_tasks": args.accepts_system_tasks });
    for (key, value) in [
        ("good_at", args.good_at),
        ("webhook_url", args.webhook_url),
        ("webhook_secret", args.webhook_secret),
    ] {
        if let Some(value) = value {
            body[key] = json!(value);
        }
    }
    let reply = ctx
        .api
        .call(Method::POST, "/v1/register", &[], Some(body), None)
        .await?;
    let field = |k: &str| {
        reply
            .body
            .get(k)
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let profile = Profile {
        api_key: field("api_key"),
        agent_id: field("agent_id"),
        agent_name: Some(args.name.clone()),
        url: (ctx.url != DEFAULT_URL).then(|| ctx.url.clone()),
    };
    if profile.api_key.is_none() {
        return Err(CliError::Api {
            status: reply.status.as_u16(),
            message: "the registration response holds no api_key".into(),
        });
    }
    ctx.creds.set_profile(&ctx.profile, profile);
    config::save(&ctx.creds_path, &ctx.creds)?;
    ctx.show(&reply.body, |b| {
        format!(
            "Registered {} as {} with {} credits.\nAPI key saved to {} (profile '{}'); it cannot be recovered.",
            args.name,
            text(&b["agent_id"]),
            text(&b["credits"]),
            ctx.creds_path.display(),
            ctx.profile
        )
    })
}

/// `me rotate-key`: replaces the key and saves the new one into the
/// profile. Refused before anything changes when the key in use came from
/// `--api-key` or the environment while the profile holds another key (saving
/// would lose that one). Never retried: a retry would carry the retired key.
pub async fn rotate_key(mut ctx: Ctx) -> Result<(), CliError> {
    let key = ctx.api.key()?.to_string();
    let mut profile = ctx.creds.profile(&ctx.profile).cloned().unwrap_or_default();
    if profile.api_key.as_deref().is_some_and(|saved| saved != key) {
        return Err(CliError::Usage(format!(
            "the key in use is not the one profile '{}' holds, and saving the new key there \
             would lose that one; use --profile NAME with a profile that holds this key or none",
            ctx.profile
        )));
    }
    let reply = ctx
        .api
        .call(Method::POST, "/v1/me/key/rotate", &[], None, Some(&key))
        .await?;
    let Some(new_key) = reply.body.get("api_key").and_then(Value::as_str) else {
        return Err(CliError::Api {
            status: reply.status.as_u16(),
            message: "the rotation response holds no api_key".into(),
        });
    };
    profile.api_key = Some(new_key.to_string());
    profile.agent_id = reply.body["agent_id"].as_str().map(str::to_string);
    if profile.url.is_none() && ctx.url != DEFAULT_URL {
        profile.url = Some(ctx.url.clone());
    }
    ctx.creds.set_profile(&ctx.profile, profile);
    config::save(&ctx.creds_path, &ctx.creds)?;
    ctx.show(&reply.body, |b| {
        format!(
            "Key of {} replaced; the old key no longer works.\nNew API key saved to {} (profile '{}'); it cannot be recovered.",
            text(&b["agent_id"]),
            ctx.creds_path.display(),
            ctx.profile
        )
    })
}

/// `me` and `me update`.
pub async fn me(ctx: &Ctx, cmd: Option<MeCmd>) -> Result<(), CliError> {
    let Some(MeCmd::Update {
        good_at,
        accepts_system_tasks,
        webhook_url,
        webhook_secret,
    }) = cmd
    else {
        // `rotate-key` is dispatched before `me` (it needs the context whole).
        let reply = ctx.api.get("/v1/me", &[]).await?;
        return ctx.show(&reply.body, |b| fields(b, &ME_FIELDS));
    };
    let mut body = Map::new();
    if let Some(v) = good_at {
        body.insert("good_at".into(), json!(v));
    }
    if let Some(v) = accepts_system_tasks {
        body.insert("accepts_system_tasks".into(), json!(v));
    }
    if let Some(v) = webhook_url {
        body.insert("webhook_url".into(), json!(v));
    }
    if let Some(v) = webhook_secret {
        body.insert("webhook_secret".into(), json!(v));
    }
    if body.is_empty() {
        return Err(CliError::Usage(
            "nothing to update: give --good-at, --accepts-system-tasks, --webhook-url or --webhook-secret"
                .into(),
        ));
    }
    let key = ctx.api.key()?.to_string();
    let reply = ctx
        .api
        .call(
            Method::PATCH,
            "/v1/me",
            &[],
            Some(Value::Object(body)),
            Some(&key),
        )
        .await?;
    ctx.show(&reply.body, |b| {
        format!("Profile updated.\n{}", fields(b, &ME_FIELDS))
    })
}

/// `credits`: balance, escrow and the ledger.
pub async fn credits(ctx: &Ctx, page: PageArgs) -> Result<(), CliError> {
    let reply = ctx
        .api
        .get(
            "/v1/me/credits",
            &[("limit", num(page.limit)), ("offset", num(page.offset))],
        )
        .await?;
    ctx.show(&reply.body, |b| {
        let rows: Vec<Vec<String>> = list(b, "ledger")
            .iter()
            .map(|e| {
                vec![
                    text(&e["created_at"]),
                    text(&e["amount"]),
                    text(&e["reason"]),
                    text(&e["task_id"]),
                ]
            })
            .collect();
        format!(
            "Balance: {} credits ({} in escrow)\n\n{}",
            text(&b["balance"]),
            text(&b["escrowed"]),
            table(&["WHEN", "AMOUNT", "REASON", "TASK"], &rows)
        )
    })
}

/// `stats`: the earnings dashboard.
pub async fn stats(ctx: &Ctx) -> Result<(), CliError> {
    let reply = ctx.api.get("/v1/me/stats", &[]).await?;
    ctx.show(&reply.body, |b| {
        let rows: Vec<Vec<String>> = list(b, "tasks_by_tag")
            .iter()
            .map(|t| vec![text(&t["tag"]), text(&t["count"]), text(&t["earned"])])
            .collect();
        let head = fields(
            b,
            &[
                "total_earned",
                "total_spent",
                "total_fees_paid",
                "approval_rate",
                "avg_task_value",
                "recent_7d_earned",
                "recent_30d_earned",
            ],
        );
        if rows.is_empty() {
            head
        } else {
            format!("{head}\n\n{}", table(&["TAG", "TASKS", "EARNED"], &rows))
        }
    })
}

/// `trust`: private trust scores.
pub async fn trust(ctx: &Ctx) -> Result<(), CliError> {
    let reply = ctx.api.get("/v1/me/trust", &[]).await?;
    ctx.show(&reply.body, |b| {
        let rows: Vec<Vec<String>> = list(b, "trust_scores")
            .iter()
            .map(|t| {
                vec![
                    text(&t["trusted_id"]),
                    text(&t["score"]),
                    text(&t["interactions"]),
                ]
            })
            .collect();
        if rows.is_empty() {
            return "no trust scores yet".into();
        }
        table(&["AGENT", "SCORE", "INTERACTIONS"], &rows)
    })
}

/// A one-line rendering of a free-text field for tables.
pub fn cell(v: &Value, max: usize) -> String {
    short(&text(v), max)
}

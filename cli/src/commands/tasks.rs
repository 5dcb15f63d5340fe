//! `tasks …`: post, browse, claim, deliver and settle.

use std::{io::Read, path::Path};

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{Ctx, account::cell, csv, num};
use crate::{
    cli::TasksCmd,
    error::CliError,
    output::{fields, list, table, text},
};

const TASK_FIELDS: [&str; 15] = [
    "task_id",
    "status",
    "max_credits",
    "credits_charged",
    "tags",
    "poster_id",
    "worker_id",
    "created_at",
    "deadline",
    "claim_deadline",
    "delivered_at",
    "rejection_count",
    "rejection_reason",
    "rejection_grace_deadline",
    "context",
];

/// Runs one `tasks` subcommand.
pub async fn run(ctx: &Ctx, cmd: TasksCmd) -> Result<(), CliError> {
    match cmd {
        TasksCmd::Create {
            need,
            credits,
            tags,
            context,
            deadline_minutes,
            wait,
        } => {
            let mut body = json!({ "need": text_arg(need)?, "max_credits": credits });
            if !tags.is_empty() {
                body["tags"] = json!(tags);
            }
            if let Some(c) = context {
                body["context"] = json!(c);
            }
            if let Some(m) = deadline_minutes {
                body["deadline_minutes"] = json!(m);
            }
            if let Some(w) = wait {
                body["wait"] = json!(w);
            }
            let reply = ctx.api.post("/v1/tasks", body).await?;
            ctx.show(&reply.body, |b| {
                let mut out = format!(
                    "Created {} ({}): {} credits in escrow.",
                    text(&b["task_id"]),
                    text(&b["status"]),
                    text(&b["max_credits"])
                );
                if let Some(result) = b.get("result").and_then(Value::as_str) {
                    out.push_str(&format!("\n\n{result}"));
                }
                out
            })
        }
        TasksCmd::List { pool, page } => {
            let query = [
                ("search", pool.search),
                ("tags", csv(&pool.tags)),
                ("limit", num(page.limit)),
                ("offset", num(page.offset)),
            ];
            let reply = ctx.api.get("/v1/tasks/available", &query).await?;
            ctx.show(&reply.body, |b| {
                let rows: Vec<Vec<String>> = list(b, "tasks")
                    .iter()
                    .map(|t| {
                        vec![
                            text(&t["task_id"]),
                            text(&t["max_credits"]),
                            text(&t["tags"]),
                            text(&t["poster_id"]),
                            cell(&t["need"], 50),
                        ]
                    })
                    .collect();
                if rows.is_empty() {
                    return "no tasks available".into();
                }
                format!(
                    "{}\n\n{} of {} shown",
                    table(&["ID", "CREDITS", "TAGS", "POSTER", "NEED"], &rows),
                    rows.len(),
                    text(&b["total"])
                )
            })
        }
        TasksCmd::Mine { role, status, page } => {
            let query = [
                ("role", role),
                ("status", status),
                ("limit", num(page.limit)),
                ("offset", num(page.offset)),
            ];
            let reply = ctx.api.get("/v1/tasks/mine", &query).await?;
            ctx.show(&reply.body, |b| {
                let rows: Vec<Vec<String>> = list(b, "tasks")
                    .iter()
                    .map(|t| {
                        vec![
                            text(&t["task_id"]),
                            text(&t["status"]),
                            text(&t["max_credits"]),
                            text(&t["worker_id"]),
                            cell(&t["need"], 50),
                        ]
                    })
                    .collect();
                if rows.is_empty() {
                    return "no tasks".into();
                }
                table(&["ID", "STATUS", "CREDITS", "WORKER", "NEED"], &rows)
            })
        }
        TasksCmd::Show { id } => {
            let reply = ctx.api.get(&task_path(&id, ""), &[]).await?;
            ctx.show(&reply.body, show_task)
        }
        TasksCmd::Pickup { id, pool, batch } => pickup(ctx, id, pool, batch).await,
        TasksCmd::Deliver {
            id,
            result,
            file,
            credits_claimed,
        } => {
            let result = match file {
                Some(path) => read_file(&path)?,
                None => text_arg(result.unwrap_or_else(|| "-".into()))?,
            };
            let mut body = json!({ "result": result });
            if let Some(c) = credits_claimed {
                body["credits_claimed"] = json!(c);
            }
            let reply = ctx.api.post(&task_path(&id, "/deliver"), body).await?;
            ctx.show(&reply.body, |b| {
                format!(
                    "Delivered {} (status {}).",
                    text(&b["task_id"]),
                    text(&b["status"])
                )
            })
        }
        TasksCmd::Approve {
            id,
            rating,
            feedback,
        } => {
            let body = optional(&[
                ("rating", rating.map(|r| json!(r))),
                ("feedback", feedback.map(Value::from)),
            ]);
            let reply = ctx.api.post(&task_path(&id, "/approve"), body).await?;
            ctx.show(&reply.body, |b| {
                format!(
                    "Approved {}: {} credits charged.",
                    text(&b["task_id"]),
                    text(&b["credits_charged"])
                )
            })
        }
        TasksCmd::Reject {
            id,
            reason,
            feedback,
        } => {
            let body = optional(&[
                ("reason", Some(json!(reason))),
                ("feedback", feedback.map(Value::from)),
            ]);
            let reply = ctx.api.post(&task_path(&id, "/reject"), body).await?;
            ctx.show(&reply.body, |b| {
                let mut out = format!(
                    "Rejected {} (status {}).",
                    text(&b["task_id"]),
                    text(&b["status"])
                );
                if let Some(grace) = b.get("rejection_grace_deadline").and_then(Value::as_str) {
                    out.push_str(&format!(" The worker may re-deliver until {grace}."));
                }
                out
            })
        }
        TasksCmd::Cancel { id } => transition(ctx, &id, "/cancel", "Cancelled").await,
        TasksCmd::Abandon { id } => transition(ctx, &id, "/abandon", "Abandoned").await,
        TasksCmd::Rate {
            id,
            rating,
            feedback,
        } => {
            let body = optional(&[
                ("rating", Some(json!(rating))),
                ("feedback", feedback.map(Value::from)),
            ]);
            let reply = ctx.api.post(&task_path(&id, "/rate"), body).await?;
            ctx.show(&reply.body, |b| {
                format!(
                    "Rated {} {} for task {id}.",
                    text(&b["rated_id"]),
                    text(&b["rating"])
                )
            })
        }
        TasksCmd::Report { id, reason } => {
            let reply = ctx
                .api
                .post(&task_path(&id, "/report"), json!({ "reason": reason }))
                .await?;
            ctx.show(&reply.body, |b| {
                format!(
                    "Reported {id} (report {}, {}).",
                    text(&b["report_id"]),
                    text(&b["status"])
                )
            })
        }
        TasksCmd::Questions { id } => {
            let reply = ctx.api.get(&task_path(&id, "/questions"), &[]).await?;
            ctx.show(&reply.body, |b| {
                let rows: Vec<Vec<String>> = list(b, "questions")
                    .iter()
                    .map(|q| {
                        vec![
                            text(&q["id"]),
                            text(&q["asker_id"]),
                            cell(&q["question"], 40),
                            cell(&q["answer"], 40),
                        ]
                    })
                    .collect();
                if rows.is_empty() {
                    return "no questions".into();
                }
                table(&["ID", "ASKER", "QUESTION", "ANSWER"], &rows)
            })
        }
        TasksCmd::Ask { id, question } => {
            let reply = ctx
                .api
                .post(
                    &task_path(&id, "/questions"),
                    json!({ "question": question }),
                )
                .await?;
            ctx.show(&reply.body, |b| {
                format!("Asked question {} on {id}.", text(&b["id"]))
            })
        }
        TasksCmd::Answer {
            id,
            question_id,
            answer,
        } => {
            let path = task_path(&id, &format!("/questions/{question_id}/answer"));
            let reply = ctx.api.post(&path, json!({ "answer": answer })).await?;
            ctx.show(&reply.body, |b| {
                format!("Answered question {}.", text(&b["id"]))
            })
        }
        TasksCmd::Messages { id } => {
            let reply = ctx.api.get(&task_path(&id, "/messages"), &[]).await?;
            ctx.show(&reply.body, |b| {
                let rows: Vec<Vec<String>> = list(b, "messages")
                    .iter()
                    .map(|m| {
                        vec![
                            text(&m["created_at"]),
                            text(&m["sender_id"]),
                            cell(&m["message"], 70),
                        ]
                    })
                    .collect();
                if rows.is_empty() {
                    return "no messages".into();
                }
                table(&["WHEN", "FROM", "MESSAGE"], &rows)
            })
        }
        TasksCmd::Message { id, message } => {
            let reply = ctx
                .api
                .post(&task_path(&id, "/messages"), json!({ "message": message }))
                .await?;
            ctx.show(&reply.body, |b| {
                format!("Sent message {} on {id}.", text(&b["id"]))
            })
        }
    }
}

async fn pickup(
    ctx: &Ctx,
    id: Option<String>,
    pool: crate::cli::PoolArgs,
    batch: Option<u32>,
) -> Result<(), CliError> {
    if let Some(count) = batch {
        let mut body = json!({ "count": count });
        if !pool.tags.is_empty() {
            body["tags"] = json!(pool.tags);
        }
        if let Some(s) = pool.search {
            body["search"] = json!(s);
        }
        let reply = ctx.api.post("/v1/tasks/pickup/batch", body).await?;
        return ctx.show(&reply.body, |b| {
            let rows: Vec<Vec<String>> = list(b, "tasks")
                .iter()
                .map(|t| {
                    vec![
                        text(&t["task_id"]),
                        text(&t["max_credits"]),
                        cell(&t["need"], 60),
                    ]
                })
                .collect();
            if rows.is_empty() {
                return "no tasks available".into();
            }
            format!(
                "Picked up {} tasks:\n{}",
                rows.len(),
                table(&["ID", "CREDITS", "NEED"], &rows)
            )
        });
    }
    let reply = match id {
        Some(id) => {
            ctx.api
                .post(&task_path(&id, "/pickup"), Value::Null)
                .await?
        }
        None => {
            let key = ctx.api.key()?.to_string();
            let query = [("search", pool.search), ("tags", csv(&pool.tags))];
            ctx.api
                .call(
                    reqwest::Method::POST,
                    "/v1/tasks/pickup",
                    &query,
                    None,
                    Some(&key),
                )
                .await?
        }
    };
    if reply.status == StatusCode::NO_CONTENT {
        // An empty pool is not an error; --json prints null for scripts.
        return ctx.show(&Value::Null, |_| "no tasks available".into());
    }
    ctx.show(&reply.body, |b| {
        let mut out = format!(
            "Picked up {} (budget {} credits).\n{}\n\n{}",
            text(&b["task_id"]),
            text(&b["max_credits"]),
            fields(
                b,
                &[
                    "poster_id",
                    "tags",
                    "claim_deadline",
                    "deadline",
                    "rejection_count"
                ]
            ),
            text(&b["need"])
        );
        if let Some(c) = b.get("context").and_then(Value::as_str) {
            out.push_str(&format!("\n\ncontext:\n{c}"));
        }
        out
    })
}

async fn transition(ctx: &Ctx, id: &str, action: &str, verb: &str) -> Result<(), CliError> {
    let reply = ctx.api.post(&task_path(id, action), Value::Null).await?;
    ctx.show(&reply.body, |b| {
        let id = b.get("task_id").map_or_else(|| id.to_string(), text);
        format!("{verb} {id} (status {}).", text(&b["status"]))
    })
}

fn show_task(b: &Value) -> String {
    let mut out = fields(b, &TASK_FIELDS);
    out.push_str(&format!("\n\nneed:\n{}", text(&b["need"])));
    if let Some(result) = b.get("result").and_then(Value::as_str) {
        out.push_str(&format!("\n\nresult:\n{result}"));
    }
    out
}

/// A JSON object of the keys whose values are set (Null when none is).
fn optional(pairs: &[(&str, Option<Value>)]) -> Value {
    let map: serde_json::Map<String, Value> = pairs
        .iter()
        .filter_map(|(k, v)| v.clone().map(|v| (k.to_string(), v)))
        .collect();
    if map.is_empty() {
        Value::Null
    } else {
        Value::Object(map)
    }
}

fn task_path(id: &str, action: &str) -> String {
    // Task ids are `tk-` + url-safe characters; anything else is left to the
    // server to reject, but a slash must not change the route.
    format!("/v1/tasks/{}{action}", id.replace('/', "%2F"))
}

/// An argument, or stdin when it is `-`.
fn text_arg(arg: String) -> Result<String, CliError> {
    if arg != "-" {
        return Ok(arg);
    }
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .map_err(|e| CliError::Local(format!("cannot read stdin: {e}")))?;
    Ok(text)
}

fn read_file(path: &Path) -> Result<String, CliError> {
    std::fs::read_to_string(path)
        .map_err(|e| CliError::Local(format!("cannot read {}: {e}", path.display())))
}

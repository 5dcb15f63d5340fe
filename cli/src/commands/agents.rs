//! `agents`: the public directory.

use super::{Ctx, account::cell, num};
use crate::{
    cli::{AgentFilter, AgentsCmd},
    error::CliError,
    output::{fields, list, table, text},
};

/// `agents [filters]` or `agents show ID`.
pub async fn run(ctx: &Ctx, cmd: Option<AgentsCmd>, filter: AgentFilter) -> Result<(), CliError> {
    if let Some(AgentsCmd::Show { id }) = cmd {
        let reply = ctx.api.get_public(&format!("/v1/agents/{id}"), &[]).await?;
        return ctx.show(&reply.body, |b| {
            let head = fields(
                b,
                &[
                    "id",
                    "name",
                    "reputation",
                    "rating_count",
                    "tasks_completed",
                    "good_at",
                    "tags",
                ],
            );
            let rows: Vec<Vec<String>> = list(b, "reputation_by_tag")
                .iter()
                .map(|r| vec![text(&r["tag"]), text(&r["avg_rating"]), text(&r["count"])])
                .collect();
            let feedback: Vec<Vec<String>> = list(b, "recent_feedback")
                .iter()
                .map(|f| {
                    vec![
                        text(&f["rating"]),
                        cell(&f["feedback"], 60),
                        text(&f["task_id"]),
                    ]
                })
                .collect();
            let mut shown = head;
            if !rows.is_empty() {
                let tags = table(&["TAG", "AVG RATING", "RATINGS"], &rows);
                shown = format!("{shown}\n\n{tags}");
            }
            if !feedback.is_empty() {
                let feedback = table(&["RATING", "FEEDBACK", "TASK"], &feedback);
                shown = format!("{shown}\n\n{feedback}");
            }
            shown
        });
    }
    let query = [
        ("search", filter.search),
        ("tags", filter.tags),
        ("min_reputation", num(filter.min_reputation)),
        ("sort_by", filter.sort_by),
        ("limit", num(filter.page.limit)),
        ("offset", num(filter.page.offset)),
    ];
    let reply = ctx.api.get_public("/v1/agents", &query).await?;
    ctx.show(&reply.body, |b| {
        let rows: Vec<Vec<String>> = list(b, "agents")
            .iter()
            .map(|a| {
                vec![
                    text(&a["id"]),
                    cell(&a["name"], 24),
                    text(&a["reputation"]),
                    text(&a["tasks_completed"]),
                    cell(&a["good_at"], 50),
                ]
            })
            .collect();
        if rows.is_empty() {
            return "no agents found".into();
        }
        table(&["ID", "NAME", "REPUTATION", "COMPLETED", "GOOD AT"], &rows)
    })
}

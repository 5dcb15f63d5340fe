//! The public pages: the front page with live figures, a task's public face,
//! the agent directory and an agent's profile. Nothing private is read: the
//! queries in `db::public` and `db::profiles` select public columns only.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use askama::Template;
use axum::{
    Extension, Json,
    extract::{Path, Query, State},
    http::{HeaderMap, header},
};
use chrono::{DateTime, Utc};
use pinchwork_common::{
    db::{
        profiles::{self, DirectoryQuery, PublicAgent, SortBy},
        public::{self, Figures, PublicTask},
        ratings,
    },
    domain::validate,
    ids::{AgentId, TaskId},
};
use serde::Deserialize;
use tokio::sync::Mutex;

use super::page::{WebError, WebResult, render};
use crate::AppState;

/// How long a node reuses the figures: every open front page polls them, so
/// the database answers at most once per node per period however many watch.
const FIGURES_TTL: Duration = Duration::from_secs(2);

/// The last figures this node read, with when.
#[derive(Default)]
pub struct FiguresCache(Mutex<Option<(Instant, Figures)>>);

impl FiguresCache {
    async fn get(&self, state: &AppState) -> Result<Figures, WebError> {
        let mut cached = self.0.lock().await;
        if let Some((at, figures)) = cached.as_ref()
            && at.elapsed() < FIGURES_TTL
        {
            return Ok(figures.clone());
        }
        let figures =
            public::figures(&state.market.pool, &state.market.config.platform_agent_id).await?;
        *cached = Some((Instant::now(), figures.clone()));
        Ok(figures)
    }
}

/// A date as pages show it.
pub(super) fn when(at: &DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// The first `max` characters of a text, with an ellipsis when cut.
pub(super) fn excerpt(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", text[..cut].trim_end()),
        None => text.to_string(),
    }
}

/// A task as the lists show it.
pub(super) struct TaskRow {
    pub id: String,
    pub need: String,
    pub tags: String,
    pub credits: i64,
    pub status: &'static str,
    pub posted: String,
}

impl From<&PublicTask> for TaskRow {
    fn from(t: &PublicTask) -> Self {
        Self {
            id: t.id.clone(),
            need: excerpt(&t.need, 140),
            tags: t.tags.join(", "),
            credits: t.max_credits,
            status: t.status.as_str(),
            posted: when(&t.created_at),
        }
    }
}

#[derive(Template)]
#[template(path = "public/home.html")]
struct HomePage {
    title: &'static str,
    base_url: String,
    figures: Figures,
    tasks: Vec<TaskRow>,
}

/// The address this page was reached at, for copy-paste commands.
fn base_url(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .filter(|h| {
            h.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
        })
        .unwrap_or("127.0.0.1:8000");
    let https = headers
        .get("x-forwarded-proto")
        .is_some_and(|v| v.as_bytes() == b"https");
    format!("{}://{host}", if https { "https" } else { "http" })
}

/// `GET /human`: what Pinchwork is, how to start, the live figures and the newest tasks.
pub async fn home(
    State(state): State<AppState>,
    Extension(cache): Extension<Arc<FiguresCache>>,
    headers: HeaderMap,
) -> WebResult {
    let figures = cache.get(&state).await?;
    let tasks = public::newest_tasks(
        &state.market.pool,
        &state.market.config.platform_agent_id,
        10,
    )
    .await?;
    Ok(render(&HomePage {
        title: "Pinchwork — a marketplace where AI agents hire each other",
        base_url: base_url(&headers),
        figures,
        tasks: tasks.iter().map(TaskRow::from).collect(),
    }))
}

/// `GET /human/figures.json`: the live figures the front page polls.
pub async fn figures(
    State(state): State<AppState>,
    Extension(cache): Extension<Arc<FiguresCache>>,
) -> WebResult<Json<Figures>> {
    Ok(Json(cache.get(&state).await?))
}

/// One step of a task's public timeline.
struct Step {
    label: String,
    at: String,
}

#[derive(Template)]
#[template(path = "public/task.html")]
struct TaskPage {
    title: String,
    task: PublicTask,
    status: &'static str,
    tags: Vec<String>,
    timeline: Vec<Step>,
}

/// The steps a task went through, from its own timestamps.
fn timeline(t: &PublicTask) -> Vec<Step> {
    let rejections = format!("Sent back {} time(s)", t.rejection_count);
    let steps: [(&str, Option<&DateTime<Utc>>, bool); 6] = [
        ("Posted", Some(&t.created_at), true),
        ("Claimed", t.claimed_at.as_ref(), t.claimed_at.is_some()),
        (
            "Delivered",
            t.delivered_at.as_ref(),
            t.delivered_at.is_some(),
        ),
        (&rejections, None, t.rejection_count > 0),
        ("Approved", t.approved_at.as_ref(), t.approved_at.is_some()),
        (
            if t.status.as_str() == "expired" {
                "Expired"
            } else {
                "Cancelled"
            },
            (t.status.as_str() == "expired").then_some(&t.expires_at),
            matches!(t.status.as_str(), "expired" | "cancelled"),
        ),
    ];
    steps
        .into_iter()
        .filter(|(_, _, shown)| *shown)
        .map(|(label, at, _)| Step {
            label: label.to_string(),
            at: at.map(when).unwrap_or_default(),
        })
        .collect()
}

/// `GET /human/tasks/{id}`: need, tags, budget, status and timeline; never
/// the result, context, messages or questions. One query.
pub async fn task(State(state): State<AppState>, Path(task_id): Path<TaskId>) -> WebResult {
    let task = public::task(
        &state.market.pool,
        &state.market.config.platform_agent_id,
        &task_id,
    )
    .await?
    .ok_or_else(|| WebError::NotFound("No such public task.".into()))?;
    Ok(render(&TaskPage {
        title: format!("Task {} — Pinchwork", task.id),
        status: task.status.as_str(),
        tags: task.tags.clone(),
        timeline: timeline(&task),
        task,
    }))
}

/// Query of `GET /human/agents`.
#[derive(Debug, Deserialize)]
pub struct DirectoryParams {
    q: Option<String>,
    sort: Option<String>,
    page: Option<i64>,
}

/// An agent as the directory lists it.
pub(super) struct AgentRow {
    pub id: String,
    pub name: String,
    pub reputation: String,
    pub rating_count: i32,
    pub tasks_completed: i32,
    pub good_at: String,
    pub tags: String,
}

impl From<&PublicAgent> for AgentRow {
    fn from(a: &PublicAgent) -> Self {
        Self {
            id: a.id.clone(),
            name: a.name.clone(),
            reputation: format!("{:.2}", a.reputation),
            rating_count: a.rating_count,
            tasks_completed: a.tasks_completed,
            good_at: excerpt(a.good_at.as_deref().unwrap_or(""), 120),
            tags: a.capability_tags.clone().unwrap_or_default().join(", "),
        }
    }
}

#[derive(Template)]
#[template(path = "public/agents.html")]
struct AgentsPage {
    title: &'static str,
    q: String,
    by_tasks: bool,
    agents: Vec<AgentRow>,
    total: i64,
    page: i64,
    pages: i64,
    sort_param: &'static str,
}

const DIRECTORY_PAGE: i64 = 25;

/// `GET /human/agents`: the directory, searchable by name or skills.
pub async fn agents(
    State(state): State<AppState>,
    Query(params): Query<DirectoryParams>,
) -> WebResult {
    let q = params.q.unwrap_or_default().trim().to_string();
    validate::max_chars("search", &q, validate::MAX_SEARCH)?;
    let by_tasks = params.sort.as_deref() == Some("tasks");
    let page = params.page.unwrap_or(1).clamp(1, 10_000);
    let query = DirectoryQuery {
        search: (!q.is_empty()).then(|| q.clone()),
        tags: Vec::new(),
        min_reputation: None,
        sort_by: if by_tasks {
            SortBy::TasksCompleted
        } else {
            SortBy::Reputation
        },
        limit: DIRECTORY_PAGE,
        offset: (page - 1) * DIRECTORY_PAGE,
    };
    let platform = &state.market.config.platform_agent_id;
    let found = profiles::search(&state.market.pool, platform, &query).await?;
    let total = profiles::count(&state.market.pool, platform, &query).await?;
    Ok(render(&AgentsPage {
        title: "Agents — Pinchwork",
        q,
        by_tasks,
        agents: found.iter().map(AgentRow::from).collect(),
        total,
        page,
        pages: (total + DIRECTORY_PAGE - 1) / DIRECTORY_PAGE,
        sort_param: if by_tasks { "tasks" } else { "reputation" },
    }))
}

struct TagRow {
    tag: String,
    avg: String,
    count: i64,
}

#[derive(Template)]
#[template(path = "public/agent.html")]
struct AgentPage {
    title: String,
    agent: AgentRow,
    since: String,
    tags: Vec<String>,
    by_tag: Vec<TagRow>,
    feedback: Vec<FeedbackRow>,
}

struct FeedbackRow {
    rating: i32,
    feedback: String,
    when: String,
}

/// `GET /human/agents/{id}`: an agent's public profile, per-tag reputation
/// and the newest feedback it received.
pub async fn agent(State(state): State<AppState>, Path(agent_id): Path<AgentId>) -> WebResult {
    let pool = &state.market.pool;
    let agent = profiles::get(pool, &agent_id)
        .await?
        .filter(|a| a.id != state.market.config.platform_agent_id)
        .ok_or_else(|| WebError::NotFound("No such agent.".into()))?;
    let by_tag = ratings::reputation_by_tag(pool, &agent_id).await?;
    let feedback = ratings::recent_feedback(pool, &agent_id, ratings::RECENT_FEEDBACK).await?;
    Ok(render(&AgentPage {
        title: format!("{} — Pinchwork agent", agent.name),
        since: when(&agent.created_at),
        tags: agent.capability_tags.clone().unwrap_or_default(),
        by_tag: by_tag
            .into_iter()
            .map(|t| TagRow {
                tag: t.tag,
                avg: format!("{:.2}", t.avg_rating),
                count: t.count,
            })
            .collect(),
        feedback: feedback
            .into_iter()
            .map(|f| FeedbackRow {
                rating: f.score,
                when: when(&f.created_at),
                feedback: f.feedback,
            })
            .collect(),
        agent: AgentRow::from(&agent),
    }))
}

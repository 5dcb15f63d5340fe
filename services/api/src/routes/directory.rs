//! The public agent directory: search and profiles, no authentication, never
//! credits or webhooks.

use axum::extract::{Path, State};
use pinchwork_common::{
    Error,
    db::{
        profiles::{self, DirectoryQuery, SortBy},
        ratings,
    },
    domain::validate,
};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{
    AppState,
    error::{ApiError, ApiResult},
    extract::{Page, Query},
    negotiate::Reply,
    views,
};

/// Query of `GET /v1/agents`.
#[derive(Debug, Deserialize)]
pub struct SearchQuery {
    search: Option<String>,
    tags: Option<String>,
    min_reputation: Option<f64>,
    sort_by: Option<String>,
    limit: Option<i64>,
    offset: Option<i64>,
}

impl SearchQuery {
    fn resolve(self) -> Result<DirectoryQuery, ApiError> {
        let (limit, offset) = Page {
            limit: self.limit,
            offset: self.offset,
        }
        .resolve(20)?;
        let sort_by = match self.sort_by.as_deref().filter(|s| !s.is_empty()) {
            None | Some("reputation") => SortBy::Reputation,
            Some("tasks_completed") => SortBy::TasksCompleted,
            Some(other) => {
                return Err(ApiError::bad_request(format!(
                    "Invalid sort_by: {other} (use reputation or tasks_completed)"
                )));
            }
        };
        if self.min_reputation.is_some_and(|r| !r.is_finite()) {
            return Err(ApiError::bad_request("min_reputation must be a number"));
        }
        let search = self.search.filter(|s| !s.trim().is_empty());
        if let Some(s) = &search {
            validate::max_chars("search", s, validate::MAX_SEARCH)?;
        }
        let tags = validate::split_csv(self.tags.as_deref());
        if tags.len() > validate::MAX_TAGS {
            return Err(ApiError::bad_request(format!(
                "at most {} tags may be filtered on",
                validate::MAX_TAGS
            )));
        }
        Ok(DirectoryQuery {
            search,
            tags,
            min_reputation: self.min_reputation,
            sort_by,
            limit,
            offset,
        })
    }
}

/// `GET /v1/agents`
pub async fn search(
    State(state): State<AppState>,
    Query(q): Query<SearchQuery>,
) -> ApiResult<Reply> {
    let q = q.resolve()?;
    let pool = &state.market.pool;
    let platform = &state.market.config.platform_agent_id;
    let agents = profiles::search(pool, platform, &q).await?;
    let total = profiles::count(pool, platform, &q).await?;
    Ok(Reply::ok(json!({
        "agents": agents.iter().map(views::public_agent).collect::<Vec<_>>(),
        "total": total,
    })))
}

/// `GET /v1/agents/{id}` — with the per-tag reputation breakdown.
pub async fn profile(
    State(state): State<AppState>,
    Path(agent_id): Path<String>,
) -> ApiResult<Reply> {
    let pool = &state.market.pool;
    let agent = profiles::get(pool, &agent_id)
        .await?
        .ok_or_else(|| Error::not_found("Agent not found"))?;
    let by_tag = ratings::reputation_by_tag(pool, &agent_id).await?;
    let mut out = views::public_agent(&agent);
    out["reputation_by_tag"] = if by_tag.is_empty() {
        Value::Null
    } else {
        by_tag
            .iter()
            .map(|t| json!({ "tag": t.tag, "avg_rating": t.avg_rating, "count": t.count }))
            .collect()
    };
    Ok(Reply::ok(out))
}

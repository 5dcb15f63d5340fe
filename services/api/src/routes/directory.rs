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
    ids::AgentId,
};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::{
    AppState,
    error::{ApiError, ApiResult},
    extract::{Page, Query},
    negotiate::Reply,
    views::{self, ErrorBody},
};

/// Query of `GET /v1/agents`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    /// Substring of good_at or name (≤ 500).
    #[param(max_length = 500)]
    search: Option<String>,
    /// Comma-separated, at most 10; all required.
    #[param(schema_with = crate::openapi::lists::filter_tags_text)]
    tags: Option<String>,
    /// Minimum reputation.
    min_reputation: Option<f64>,
    /// reputation (default) or tasks_completed.
    #[param(pattern = "^(reputation|tasks_completed)?$")]
    sort_by: Option<String>,
    /// 1–100, default 20.
    #[param(minimum = 1, maximum = 100)]
    limit: Option<i64>,
    /// ≥ 0.
    #[param(minimum = 0, maximum = 9_223_372_036_854_775_807_i64)]
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

/// Search the agent directory.
#[utoipa::path(get, path = "/v1/agents", tag = "agents",
    params(SearchQuery),
    responses((status = 200, description = "Matching public profiles", body = views::AgentList),
              (status = 400, description = "Bad query", body = ErrorBody)))]
pub async fn search(
    State(state): State<AppState>,
    Query(q): Query<SearchQuery>,
) -> ApiResult<Reply> {
    let q = q.resolve()?;
    let pool = &state.market.pool;
    let platform = &state.market.config.platform_agent_id;
    let agents = profiles::search(pool, platform, &q).await?;
    let total = profiles::count(pool, platform, &q).await?;
    Ok(Reply::ok(views::AgentList {
        agents: views::list(&agents),
        total,
    }))
}

/// An agent's public profile
///
/// With the per-tag reputation breakdown and the newest feedback received;
/// never credits or webhooks.
#[utoipa::path(get, path = "/v1/agents/{agent_id}", tag = "agents",
    params(("agent_id" = String, Path, description = "Agent id (ag-…)")),
    responses((status = 200, description = "Public profile", body = views::AgentProfile),
              (status = 404, description = "Agent not found", body = ErrorBody)))]
pub async fn profile(
    State(state): State<AppState>,
    Path(agent_id): Path<AgentId>,
) -> ApiResult<Reply> {
    let pool = &state.market.pool;
    let agent = profiles::get(pool, &agent_id)
        .await?
        .ok_or_else(|| Error::not_found("Agent not found"))?;
    let by_tag = ratings::reputation_by_tag(pool, &agent_id).await?;
    let feedback = ratings::recent_feedback(pool, &agent_id, ratings::RECENT_FEEDBACK).await?;
    Ok(Reply::ok(views::AgentProfile::new(
        &agent, &by_tag, &feedback,
    )))
}

//! The caller's webhook delivery log.

use axum::extract::State;
use pinchwork_common::db::webhooks;

use crate::{
    AppState,
    error::ApiResult,
    extract::{CurrentAgent, Page, Query},
    negotiate::Reply,
    views::{self, ErrorBody},
};

/// Your webhook deliveries and their attempts
///
/// Newest first. The endpoint URL and secret are never shown.
#[utoipa::path(get, path = "/v1/me/webhooks/deliveries", tag = "me", security(("bearer" = [])),
    params(Page),
    responses((status = 200, description = "Recent deliveries", body = views::WebhookDeliveryList),
              (status = 400, description = "Bad paging", body = ErrorBody)))]
pub async fn deliveries(
    State(state): State<AppState>,
    CurrentAgent(agent): CurrentAgent,
    Query(page): Query<Page>,
) -> ApiResult<Reply> {
    let (limit, offset) = page.resolve(20)?;
    let pool = &state.market.pool;
    let rows = webhooks::recent_for_agent(pool, &agent.id, limit, offset).await?;
    let total = webhooks::count_for_agent(pool, &agent.id).await?;
    Ok(Reply::ok(views::WebhookDeliveryList {
        deliveries: views::list(&rows),
        total,
    }))
}

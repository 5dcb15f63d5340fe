//! HTTP rendering of marketplace errors: a status and `{"error": "..."}`.

use axum::response::{IntoResponse, Response};
use pinchwork_common::{Error, http};

use crate::negotiate::Reply;

/// An error leaving a handler.
#[derive(Debug)]
pub struct ApiError(pub Error);

/// Result of a handler.
pub type ApiResult<T> = Result<T, ApiError>;

impl<E: Into<Error>> From<E> for ApiError {
    fn from(err: E) -> Self {
        Self(err.into())
    }
}

impl ApiError {
    pub fn bad_request(msg: impl Into<String>) -> Self {
        Self(Error::BadRequest(msg.into()))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        http::render_error(&self.0, |status, body| {
            Reply::new(status, body).into_response()
        })
    }
}

//! HTTP rendering of marketplace errors: a status and `{"error": "..."}`.

use axum::{
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use pinchwork_common::Error;
use serde_json::json;

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

    fn status(&self) -> StatusCode {
        match &self.0 {
            Error::BadRequest(_) => StatusCode::BAD_REQUEST,
            Error::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Error::PaymentRequired(_) => StatusCode::PAYMENT_REQUIRED,
            Error::Forbidden(_) => StatusCode::FORBIDDEN,
            Error::NotFound(_) => StatusCode::NOT_FOUND,
            Error::Conflict(_) => StatusCode::CONFLICT,
            Error::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Error::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Error::NotImplemented(_) => StatusCode::NOT_IMPLEMENTED,
            Error::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        match &self.0 {
            Error::Internal(err) => tracing::error!(error = ?err, "request failed"),
            Error::Unavailable(why) => tracing::warn!(%why, "dependency unavailable"),
            _ => {}
        }
        let mut response =
            Reply::new(status, json!({ "error": self.0.to_string() })).into_response();
        let retry_after = match &self.0 {
            Error::TooManyRequests {
                retry_after_secs, ..
            } => *retry_after_secs,
            Error::Unavailable(_) => Some(1),
            _ => None,
        };
        if let Some(secs) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

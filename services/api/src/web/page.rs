//! Rendering: a template to an HTML response, and errors as HTML pages.

use askama::Template;
use axum::{
    http::{StatusCode, header},
    response::{Html, IntoResponse, Response},
};
use pinchwork_common::Error;

/// Renders a template as a 200 page.
pub fn render<T: Template>(template: &T) -> Response {
    render_with(StatusCode::OK, template)
}

/// Renders a template with a status.
pub fn render_with<T: Template>(status: StatusCode, template: &T) -> Response {
    match template.render() {
        Ok(html) => (status, [(header::CACHE_CONTROL, "no-store")], Html(html)).into_response(),
        Err(err) => WebError::Internal(err.to_string()).into_response(),
    }
}

/// A page that could not be served, shown as an HTML page with its status.
#[derive(Debug)]
pub enum WebError {
    BadRequest(String),
    Forbidden(String),
    NotFound(String),
    TooManyRequests(String),
    Unavailable(String),
    Internal(String),
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    title: &'a str,
    message: &'a str,
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let (status, title, message) = match &self {
            Self::BadRequest(m) => (StatusCode::BAD_REQUEST, "Bad request", m.as_str()),
            Self::Forbidden(m) => (StatusCode::FORBIDDEN, "Forbidden", m.as_str()),
            Self::NotFound(m) => (StatusCode::NOT_FOUND, "Not found", m.as_str()),
            Self::TooManyRequests(m) => (
                StatusCode::TOO_MANY_REQUESTS,
                "Too many requests",
                m.as_str(),
            ),
            Self::Unavailable(m) => (StatusCode::SERVICE_UNAVAILABLE, "Unavailable", m.as_str()),
            Self::Internal(m) => {
                tracing::error!(error = %m, "page failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong",
                    "The page could not be built; try again.",
                )
            }
        };
        let page = ErrorPage { title, message };
        match page.render() {
            Ok(html) => (status, Html(html)).into_response(),
            Err(_) => (status, message.to_string()).into_response(),
        }
    }
}

impl From<sqlx::Error> for WebError {
    fn from(err: sqlx::Error) -> Self {
        Self::from(Error::from(err))
    }
}

impl From<Error> for WebError {
    fn from(err: Error) -> Self {
        match err {
            Error::BadRequest(m) => Self::BadRequest(m),
            Error::NotFound(m) => Self::NotFound(m),
            Error::Forbidden(m) | Error::Unauthorized(m) => Self::Forbidden(m),
            Error::TooManyRequests { message, .. } => Self::TooManyRequests(message),
            Error::Unavailable(m) => Self::Unavailable(m),
            Error::Conflict(m)
            | Error::PaymentRequired(m)
            | Error::RequestTimeout(m)
            | Error::PayloadTooLarge(m)
            | Error::HeadersTooLarge(m)
            | Error::NotImplemented(m) => Self::BadRequest(m),
            Error::Internal(err) => Self::Internal(format!("{err:#}")),
        }
    }
}

/// Result of a page handler.
pub type WebResult<T = Response> = Result<T, WebError>;

//! Characters no handler ever sees: PostgreSQL text cannot hold NUL (`\0`),
//! so a NUL anywhere in a request — path, query string, header, JSON or
//! markdown/YAML body — is a 400 naming the field, refused here once for
//! every route instead of surfacing as a database error.

use axum::{extract::Request, middleware::Next, response::Response};
use serde_json::{Map, Value};

use crate::error::{ApiError, ApiResult};

fn refused(place: &str, name: &str) -> ApiError {
    ApiError::bad_request(format!("{place}: {name} must not contain NUL characters"))
}

/// Most header bytes (names and values) a request may carry: far above any
/// real client's, so a request beyond it is refused (431) before any work.
/// The load balancer bounds each header line at 16 KiB before this.
pub const MAX_HEADER_BYTES: usize = 32 * 1024;

/// Middleware: refuses headers over [`MAX_HEADER_BYTES`] and a NUL in the
/// path, the query string or a header.
pub async fn layer(request: Request, next: Next) -> Response {
    match check_head(&request) {
        Ok(()) => next.run(request).await,
        Err(err) => axum::response::IntoResponse::into_response(err),
    }
}

fn check_head(request: &Request) -> ApiResult<()> {
    let size: usize = request
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum();
    if size > MAX_HEADER_BYTES {
        return Err(ApiError(pinchwork_common::Error::HeadersTooLarge(format!(
            "Request headers too large (limit {MAX_HEADER_BYTES} bytes)"
        ))));
    }
    let uri = request.uri();
    // A path segment decodes to NUL only from `%00`.
    if uri.path().contains("%00") {
        return Err(refused("Invalid path", "the path"));
    }
    if let Some(query) = uri.query() {
        for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
            if key.contains('\0') || value.contains('\0') {
                let name = key.replace('\0', "");
                return Err(refused("Invalid query string", &name));
            }
        }
    }
    for (name, value) in request.headers() {
        if value.as_bytes().contains(&0) {
            return Err(refused("Invalid header", name.as_str()));
        }
    }
    Ok(())
}

/// Refuses a NUL in any field of a parsed body (keys included, at any depth),
/// naming the top-level field; `text` is a markdown body.
pub fn check_body(fields: &Map<String, Value>, text: Option<&str>) -> ApiResult<()> {
    const PLACE: &str = "Invalid request body";
    for (key, value) in fields {
        if key.contains('\0') || has_nul(value) {
            return Err(refused(PLACE, &key.replace('\0', "")));
        }
    }
    if text.is_some_and(|t| t.contains('\0')) {
        return Err(refused(PLACE, "the markdown body"));
    }
    Ok(())
}

fn has_nul(value: &Value) -> bool {
    match value {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => items.iter().any(has_nul),
        Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || has_nul(v)),
        Value::Null | Value::Bool(_) | Value::Number(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_nul_at_any_depth_names_its_top_level_field() {
        let body = json!({"ok": "fine", "tags": ["a", "b\u{0}"]});
        let err = check_body(body.as_object().unwrap(), None).unwrap_err();
        assert!(err.0.to_string().contains("tags"), "{}", err.0);
        let clean = json!({"need": "x", "n": 1});
        assert!(check_body(clean.as_object().unwrap(), Some("text")).is_ok());
        assert!(check_body(&Map::new(), Some("a\u{0}b")).is_err());
    }
}

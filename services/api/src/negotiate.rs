//! Content negotiation, both ways. Requests may be JSON (with or without a
//! Content-Type) or markdown with YAML frontmatter; responses are markdown with
//! frontmatter unless the client's Accept header asks for JSON.

use axum::{
    extract::{FromRequest, Request},
    http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use bytes::Bytes;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::error::{ApiError, ApiResult};

tokio::task_local! {
    static WANTS_JSON: bool;
}

/// Largest body accepted (a 500,000-character result in 4-byte characters fits).
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// Longest a client may take to send a whole request body
/// (`PINCHWORK_REQUEST_BODY_TIMEOUT_SECONDS`, put in each request's
/// extensions by the router): a slow sender gets a 408 instead of holding a
/// connection and a worker indefinitely.
#[derive(Debug, Clone, Copy)]
pub struct BodyTimeout(pub std::time::Duration);

/// Middleware: remembers for the rest of the request whether the client wants JSON.
pub async fn layer(request: Request, next: Next) -> Response {
    let wants_json = request
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/json"));
    WANTS_JSON.scope(wants_json, next.run(request)).await
}

/// `work` with this request's negotiated format, for work a request hands
/// to a task of its own.
pub fn carry<F: Future>(work: F) -> impl Future<Output = F::Output> {
    WANTS_JSON.scope(wants_json(), work)
}

fn wants_json() -> bool {
    WANTS_JSON.try_with(|w| *w).unwrap_or(true)
}

/// A response body in the negotiated format, with its status and headers.
#[derive(Debug)]
pub struct Reply {
    status: StatusCode,
    body: Value,
    headers: HeaderMap,
}

impl Reply {
    /// A body of any view type. It goes through a `Value`, whose object keys
    /// are sorted: every body lists its keys in alphabetical order.
    pub fn new(status: StatusCode, body: impl Serialize) -> Self {
        let body = serde_json::to_value(body).unwrap_or_else(|err| {
            tracing::error!(error = %err, "a response body could not be rendered");
            Value::Null
        });
        Self {
            status,
            body,
            headers: HeaderMap::new(),
        }
    }

    pub fn ok(body: impl Serialize) -> Self {
        Self::new(StatusCode::OK, body)
    }

    pub fn created(body: impl Serialize) -> Self {
        Self::new(StatusCode::CREATED, body)
    }

    /// Adds a response header (values that are not valid header text are dropped).
    pub fn header(mut self, name: &'static str, value: impl ToString) -> Self {
        if let Ok(value) = HeaderValue::from_str(&value.to_string()) {
            self.headers.insert(HeaderName::from_static(name), value);
        }
        self
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        let (content_type, text) = if wants_json() {
            let text = serde_json::to_string_pretty(&self.body).unwrap_or_else(|_| "{}".into());
            ("application/json", text)
        } else {
            ("text/markdown; charset=utf-8", to_markdown(self.body))
        };
        let mut response =
            (self.status, [(header::CONTENT_TYPE, content_type)], text).into_response();
        response.headers_mut().extend(self.headers);
        response
    }
}

/// Keys that become the markdown body, in order of preference.
const BODY_KEYS: [&str; 3] = ["result", "need", "message"];

/// Renders an object as YAML frontmatter plus a markdown body: the first of
/// `result`, `need`, `message` present is the body, the other keys the frontmatter.
pub fn to_markdown(body: Value) -> String {
    let Value::Object(mut map) = body else {
        return text_of(&body);
    };
    let text = BODY_KEYS
        .iter()
        .find_map(|k| map.remove(*k))
        .map(|v| text_of(&v));
    let front = if map.is_empty() {
        None
    } else {
        Some(serde_saphyr::to_string(&map).unwrap_or_default())
    };
    match (front, text) {
        (Some(front), Some(text)) => format!("---\n{}---\n\n{text}\n", ensure_newline(front)),
        (Some(front), None) => format!("---\n{}---\n", ensure_newline(front)),
        (None, Some(text)) => format!("{text}\n"),
        (None, None) => String::new(),
    }
}

fn ensure_newline(mut s: String) -> String {
    if !s.ends_with('\n') {
        s.push('\n');
    }
    s
}

fn text_of(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// A parsed request body: its fields, and the markdown text body if the
/// request was markdown (it fills the route's main field: need, result, …).
#[derive(Debug, Default)]
pub struct Payload {
    pub fields: Map<String, Value>,
    pub text: Option<String>,
}

impl<S: Send + Sync> FromRequest<S> for Payload {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> ApiResult<Self> {
        let headers = req.headers().clone();
        let bytes = read_body(req, state).await?;
        // YAML is parsed on a blocking thread: a hostile document must not
        // hold up the async worker's other requests while it is refused.
        if bytes.trim_ascii_start().starts_with(b"---") {
            return tokio::task::spawn_blocking(move || parse(&headers, &bytes))
                .await
                .map_err(|err| ApiError(pinchwork_common::Error::Internal(err.into())))?;
        }
        parse(&headers, &bytes)
    }
}

/// A request's whole body, received within its [`BodyTimeout`] (else 408)
/// and at most [`MAX_BODY_BYTES`] (else 413).
pub async fn read_body<S: Send + Sync>(req: Request, state: &S) -> ApiResult<Bytes> {
    let limit = req
        .extensions()
        .get::<BodyTimeout>()
        .map_or(std::time::Duration::from_secs(30), |t| t.0);
    let read = tokio::time::timeout(limit, Bytes::from_request(req, state));
    let Ok(read) = read.await else {
        return Err(ApiError(pinchwork_common::Error::RequestTimeout(format!(
            "Request body not received within {} seconds",
            limit.as_secs()
        ))));
    };
    read.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError(pinchwork_common::Error::PayloadTooLarge(format!(
                "Request body too large (limit {MAX_BODY_BYTES} bytes)"
            )))
        } else {
            ApiError::bad_request(format!("Could not read request body: {rejection}"))
        }
    })
}

/// Parses a body per the negotiation rules; a NUL anywhere in it is a 400.
pub fn parse(headers: &HeaderMap, bytes: &[u8]) -> ApiResult<Payload> {
    let payload = parse_unchecked(headers, bytes)?;
    crate::input::check_body(&payload.fields, payload.text.as_deref())?;
    Ok(payload)
}

fn parse_unchecked(headers: &HeaderMap, bytes: &[u8]) -> ApiResult<Payload> {
    let text = std::str::from_utf8(bytes)
        .map_err(|_| ApiError::bad_request("Request body must be UTF-8 text"))?
        .trim();
    if text.is_empty() {
        return Ok(Payload::default());
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    if content_type.contains("application/json") {
        return json_object(text).map_err(ApiError::bad_request);
    }
    if text.starts_with('{')
        && !content_type.contains("text/markdown")
        && let Ok(payload) = json_object(text)
    {
        return Ok(payload);
    }
    markdown(text)
}

fn json_object(text: &str) -> Result<Payload, String> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(fields)) => Ok(Payload { fields, text: None }),
        // `null` is no body, as an empty one is.
        Ok(Value::Null) => Ok(Payload::default()),
        Ok(_) => Err("Request body must be a JSON object".into()),
        Err(err) => Err(format!("Invalid JSON body: {err}")),
    }
}

/// `---\n<yaml>\n---\n<markdown>`; without frontmatter the whole text is the body.
fn markdown(text: &str) -> ApiResult<Payload> {
    let (front, body) = split_frontmatter(text);
    let fields = match front {
        None => Map::new(),
        Some(yaml) if yaml.trim().is_empty() => Map::new(),
        Some(yaml) => match serde_saphyr::from_str_with_options::<Value>(yaml, yaml_options()) {
            Ok(Value::Object(map)) => map,
            Ok(Value::Null) => Map::new(),
            Ok(_) => return Err(ApiError::bad_request("YAML frontmatter must be a mapping")),
            Err(err) => {
                return Err(ApiError::bad_request(format!(
                    "Invalid YAML frontmatter: {err}"
                )));
            }
        },
    };
    let body = body.trim();
    Ok(Payload {
        fields,
        text: (!body.is_empty()).then(|| body.to_string()),
    })
}

/// Front matter is a few flat fields: anchors and aliases (the way to make a
/// small document expand into a huge one) are refused, and so is deep nesting.
fn yaml_options() -> serde_saphyr::Options {
    let mut budget = serde_saphyr::Budget::default();
    budget.max_anchors = 0;
    budget.max_aliases = 0;
    budget.max_depth = 16;
    budget.max_events = 100_000;
    let mut options = serde_saphyr::Options::default();
    options.budget = Some(budget);
    options
}

fn split_frontmatter(text: &str) -> (Option<&str>, &str) {
    let Some(rest) = text.strip_prefix("---") else {
        return (None, text);
    };
    let Some(rest) = rest
        .strip_prefix('\n')
        .or_else(|| rest.strip_prefix("\r\n"))
    else {
        return (None, text);
    };
    if let Some(body) = rest.strip_prefix("---") {
        return (Some(""), body);
    }
    match rest.find("\n---") {
        Some(end) => {
            let after = &rest[end + 4..];
            let body = after.split_once('\n').map_or("", |(_, b)| b);
            (Some(&rest[..end]), body)
        }
        None => (None, text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_text(content_type: Option<&str>, body: &str) -> Payload {
        let mut headers = HeaderMap::new();
        if let Some(ct) = content_type {
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_str(ct).unwrap());
        }
        parse(&headers, body.as_bytes()).unwrap()
    }

    #[test]
    fn json_without_content_type_is_json() {
        let p = parse_text(
            Some("application/x-www-form-urlencoded"),
            r#"{"name": "a"}"#,
        );
        assert_eq!(p.fields["name"], "a");
    }

    #[test]
    fn markdown_frontmatter_and_body() {
        let p = parse_text(None, "---\nmax_credits: 15\n---\nReview this.");
        assert_eq!(p.fields["max_credits"], 15);
        assert_eq!(p.text.as_deref(), Some("Review this."));
    }

    #[test]
    fn plain_text_is_the_body() {
        let p = parse_text(Some("text/markdown"), "just words");
        assert!(p.fields.is_empty());
        assert_eq!(p.text.as_deref(), Some("just words"));
    }

    #[test]
    fn malformed_json_with_json_content_type_is_a_400() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        let err = parse(&headers, b"{nope").unwrap_err();
        assert!(matches!(err.0, pinchwork_common::Error::BadRequest(_)));
    }

    #[test]
    fn yaml_anchors_and_aliases_are_refused() {
        let bomb = "---\na: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n---\nhi";
        let err = parse(&HeaderMap::new(), bomb.as_bytes()).unwrap_err();
        assert!(matches!(err.0, pinchwork_common::Error::BadRequest(_)));
        let plain = parse_text(None, "---\nname: x\ntags: [a, b]\n---\nbody");
        assert_eq!(plain.fields["name"], "x");
    }

    #[test]
    fn markdown_rendering_puts_need_in_the_body() {
        let md = to_markdown(
            serde_json::json!({"task_id": "tk-1", "status": "posted", "need": "Do it"}),
        );
        assert!(md.starts_with("---\n"));
        assert!(md.contains("task_id: tk-1"));
        assert!(md.ends_with("---\n\nDo it\n"));
        assert_eq!(
            to_markdown(serde_json::json!({"error": "x"})),
            "---\nerror: x\n---\n"
        );
    }
}

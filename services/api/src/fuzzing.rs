//! The request parsers as one pure function, for the fuzz target in
//! `services/api/fuzz` (run by `ops/fuzz`): content negotiation, JSON and
//! markdown bodies with YAML front matter, the NUL checks, the lenient field
//! readers of every route's body, and the markdown rendering of what was
//! read. Whatever the input, each step ends in a value or a 4xx error, never
//! a panic.

use axum::http::{HeaderMap, HeaderValue, header};
use serde_json::Value;

use crate::negotiate;

/// The `Content-Type` a request is parsed under: the input's first byte picks one.
const CONTENT_TYPES: [&str; 5] = [
    "",
    "application/json",
    "text/markdown",
    "text/plain; charset=utf-8",
    "application/x-www-form-urlencoded",
];

/// Parses `input` (a selector byte, then the body) the way a request body is.
pub fn request_body(input: &[u8]) {
    let Some((&selector, body)) = input.split_first() else {
        return;
    };
    let mut headers = HeaderMap::new();
    let content_type = CONTENT_TYPES[usize::from(selector) % CONTENT_TYPES.len()];
    if !content_type.is_empty() {
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    }
    let Ok(payload) = negotiate::parse(&headers, body) else {
        return;
    };
    crate::routes::read_every_body(&payload.fields);
    let mut fields = payload.fields;
    if let Some(text) = payload.text {
        fields.entry("result").or_insert(Value::String(text));
    }
    // The reply side: what was read, rendered as markdown, parses again.
    let rendered = negotiate::to_markdown(Value::Object(fields));
    let _ = negotiate::parse(&HeaderMap::new(), rendered.as_bytes());
}

#[cfg(test)]
mod tests {
    /// The committed corpus runs through the same entry point in the
    /// ordinary test suite (and any crash input added to it stays fixed).
    #[test]
    fn the_fuzz_corpus_parses_without_a_panic() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/corpus/request_parsers");
        let mut inputs = 0;
        for entry in std::fs::read_dir(dir).expect("the corpus") {
            super::request_body(&std::fs::read(entry.expect("entry").path()).expect("input"));
            inputs += 1;
        }
        assert!(inputs >= 10, "{inputs} corpus inputs");
    }
}

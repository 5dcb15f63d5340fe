//! The guide and the terms as pages: their markdown rendered to HTML, with
//! any raw HTML in the source shown as text, never passed through.

use askama::Template;
use axum::response::Response;
use pulldown_cmark::{Event, Options, Parser, html};

use super::page::{WebError, render};
use crate::routes::docs;

#[derive(Template)]
#[template(path = "public/document.html")]
struct DocumentPage {
    title: String,
    body: String,
}

/// Markdown to HTML; raw HTML blocks and inline HTML become escaped text.
pub fn to_html(markdown: &str) -> String {
    let parser = Parser::new_ext(markdown, Options::ENABLE_TABLES).map(|event| match event {
        Event::Html(text) | Event::InlineHtml(text) => Event::Text(text),
        other => other,
    });
    let mut out = String::with_capacity(markdown.len() * 3 / 2);
    html::push_html(&mut out, parser);
    out
}

/// The value of `section` in a query string, if any.
fn section_of(query: Option<&str>) -> Option<String> {
    url_param(query?, "section").filter(|s| !s.trim().is_empty())
}

/// One decoded parameter of a query string.
pub(super) fn url_param(query: &str, name: &str) -> Option<String> {
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// `GET /skill.md` for a browser (`?section=` for one section).
pub fn guide_page(query: Option<&str>) -> Response {
    let text = match section_of(query) {
        Some(wanted) => match docs::section(docs::SKILL_MD, wanted.trim()) {
            Some(text) => text,
            None => {
                return axum::response::IntoResponse::into_response(WebError::NotFound(format!(
                    "Section '{wanted}' not found"
                )));
            }
        },
        None => docs::SKILL_MD.to_string(),
    };
    render(&DocumentPage {
        title: "Pinchwork guide for agents".into(),
        body: to_html(&text),
    })
}

/// `GET /terms` for a browser.
pub fn terms_page() -> Response {
    render(&DocumentPage {
        title: "Pinchwork terms of use".into(),
        body: to_html(docs::TERMS),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_html_in_markdown_is_escaped() {
        let html =
            to_html("# Hi\n\n<script>alert(1)</script>\n\ntext <img src=x onerror=alert(1)>");
        assert!(
            !html.contains("<script>") && !html.contains("<img"),
            "{html}"
        );
        assert!(html.contains("&lt;script&gt;"));
        assert!(html.contains("<h1>Hi</h1>"));
    }

    #[test]
    fn query_parameters_are_decoded() {
        assert_eq!(
            url_param("a=1&section=post%20a+task", "section").as_deref(),
            Some("post a task")
        );
        assert_eq!(url_param("section=%zz", "section").as_deref(), Some("%zz"));
        assert_eq!(url_param("a=1", "section"), None);
    }
}

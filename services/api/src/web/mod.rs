//! The web face: public pages for people watching the marketplace (`/human`,
//! and `/`, `/skill.md`, `/terms` for browsers) and the operator console
//! (`/admin`). Server-rendered with askama (every value escaped), one
//! stylesheet and one small script compiled into the binary, a strict
//! Content-Security-Policy, nothing loaded from another host; every page works
//! without JavaScript.

mod cluster;
mod console;
mod markdown;
mod page;
mod public;
mod session;

use std::sync::{Arc, LazyLock};

use axum::{
    Router,
    extract::{Path, Request},
    http::{HeaderValue, Method, StatusCode, header},
    middleware::{self, Next},
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
};
use sha2::{Digest, Sha256};

use crate::AppState;

pub use page::WebError;

/// Every web route; merged into the api node's router.
pub fn routes() -> Router<AppState> {
    let figures = Arc::new(public::FiguresCache::default());
    Router::new()
        .route("/human", get(public::home))
        .route("/human/figures.json", get(public::figures))
        .route("/human/tasks/{task_id}", get(public::task))
        .route("/human/agents", get(public::agents))
        .route("/human/agents/{agent_id}", get(public::agent))
        .route("/assets/{name}", get(asset))
        .route("/admin", get(console::home))
        .route("/admin/sign-in", post(console::sign_in))
        .route("/admin/sign-out", post(console::sign_out))
        .route("/admin/agents", get(console::agents))
        .route("/admin/agents/{agent_id}", get(console::agent))
        .route("/admin/agents/{agent_id}/suspend", post(console::suspend))
        .route("/admin/agents/{agent_id}/grant", post(console::grant))
        .route("/admin/tasks", get(console::tasks))
        .route("/admin/tasks/{task_id}", get(console::task))
        .route("/admin/reports", get(console::reports))
        .route("/admin/webhooks", get(console::webhooks))
        .route(
            "/admin/webhooks/{delivery_id}/redeliver",
            post(console::redeliver),
        )
        .route("/admin/cluster", get(console::cluster))
        .layer(axum::Extension(figures))
        .layer(middleware::from_fn(security_headers))
}

/// The policy of every page: our own stylesheet, script and images only, no
/// inline code, no framing, forms post only to us.
const CSP: &str = "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; \
     connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Middleware: the security headers of every web response.
pub async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_SECURITY_POLICY, CSP),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

/// Whether a request comes from a browser (it asks for HTML).
fn wants_html(request: &Request) -> bool {
    request
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"))
}

/// Middleware on the api router: a browser's `GET /`, `/skill.md` and
/// `/terms` get pages; agents keep the redirect and the markdown.
pub async fn browser_pages(request: Request, next: Next) -> Response {
    if request.method() != Method::GET || !wants_html(&request) {
        return next.run(request).await;
    }
    let page = match request.uri().path() {
        "/" => Some(Redirect::to("/human").into_response()),
        "/skill.md" => Some(markdown::guide_page(request.uri().query())),
        "/terms" => Some(markdown::terms_page()),
        _ => None,
    };
    match page {
        Some(response) => {
            let mut response = response;
            let headers = response.headers_mut();
            headers.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(CSP),
            );
            headers.insert(
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            );
            headers.insert(header::VARY, HeaderValue::from_static("Accept"));
            response
        }
        None => next.run(request).await,
    }
}

/// A file compiled into the binary, named with a digest of its content so it
/// can be cached for a year.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static str,
}

const ASSETS: [Asset; 3] = [
    Asset {
        name: "site.css",
        content_type: "text/css; charset=utf-8",
        body: include_str!("assets/site.css"),
    },
    Asset {
        name: "site.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("assets/site.js"),
    },
    Asset {
        name: "icon.svg",
        content_type: "image/svg+xml",
        body: include_str!("assets/icon.svg"),
    },
];

/// `/assets/site.<digest>.css` and `/assets/site.<digest>.js`, computed once.
static ASSET_URLS: LazyLock<Vec<String>> = LazyLock::new(|| {
    ASSETS
        .iter()
        .map(|a| {
            let digest = hex::encode(&Sha256::digest(a.body.as_bytes())[..6]);
            let (stem, ext) = a.name.split_once('.').unwrap_or((a.name, ""));
            format!("/assets/{stem}.{digest}.{ext}")
        })
        .collect()
});

/// URL of the stylesheet.
pub(crate) fn css_url() -> &'static str {
    &ASSET_URLS[0]
}

/// URL of the script.
pub(crate) fn js_url() -> &'static str {
    &ASSET_URLS[1]
}

/// URL of the icon.
pub(crate) fn icon_url() -> &'static str {
    &ASSET_URLS[2]
}

/// `GET /assets/{name}`: only the current digest's names exist.
async fn asset(Path(name): Path<String>) -> Response {
    let wanted = format!("/assets/{name}");
    let Some(i) = ASSET_URLS.iter().position(|u| *u == wanted) else {
        return (StatusCode::NOT_FOUND, "Not found").into_response();
    };
    (
        [
            (header::CONTENT_TYPE, ASSETS[i].content_type),
            (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
        ],
        ASSETS[i].body,
    )
        .into_response()
}

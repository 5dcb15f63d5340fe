//! The documentation routes: `/openapi.json` lists every route of the API
//! document and validates as OpenAPI 3, `/docs` works with no internet
//! access, `/skill.md` (and its sections), `/` and `/terms` are served.

use std::process::Command;

use serde_json::Value;

use crate::support::TestApp;

/// The route table of the API document (method, path with `{id}`-style params).
const DOCUMENTED_ROUTES: &[(&str, &str)] = &[
    ("post", "/v1/register"),
    ("post", "/v1/tasks"),
    ("get", "/v1/tasks/available"),
    ("get", "/v1/tasks/mine"),
    ("get", "/v1/tasks/{id}"),
    ("post", "/v1/tasks/pickup"),
    ("post", "/v1/tasks/pickup/batch"),
    ("post", "/v1/tasks/{id}/pickup"),
    ("post", "/v1/tasks/{id}/deliver"),
    ("post", "/v1/tasks/{id}/approve"),
    ("post", "/v1/tasks/{id}/reject"),
    ("post", "/v1/tasks/{id}/cancel"),
    ("post", "/v1/tasks/{id}/abandon"),
    ("post", "/v1/tasks/{id}/rate"),
    ("post", "/v1/tasks/{id}/report"),
    ("get", "/v1/tasks/{id}/questions"),
    ("post", "/v1/tasks/{id}/questions"),
    ("post", "/v1/tasks/{id}/questions/{qid}/answer"),
    ("get", "/v1/me"),
    ("get", "/v1/me/credits"),
    ("get", "/v1/me/stats"),
    ("patch", "/v1/me"),
    ("get", "/v1/agents"),
    ("get", "/v1/agents/{id}"),
    ("post", "/v1/tasks/{id}/messages"),
    ("get", "/v1/tasks/{id}/messages"),
    ("get", "/v1/me/trust"),
    ("get", "/v1/events"),
    ("get", "/v1/capabilities"),
    ("post", "/v1/admin/credits/grant"),
    ("post", "/v1/admin/agents/suspend"),
];

/// `/v1/tasks/{task_id}` → `/v1/tasks/{}`.
fn shape(path: &str) -> String {
    let mut out = String::new();
    let mut in_param = false;
    for c in path.chars() {
        match c {
            '{' => {
                in_param = true;
                out.push_str("{}");
            }
            '}' => in_param = false,
            _ if in_param => {}
            _ => out.push(c),
        }
    }
    out
}

#[tokio::test]
async fn openapi_lists_every_documented_route_with_auth() {
    let app = TestApp::spawn().await;
    let doc = app.get("/openapi.json", None).await.expect(200).body;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().expect("paths");
    for (method, path) in DOCUMENTED_ROUTES {
        let op = paths
            .iter()
            .find(|(p, _)| shape(p) == shape(path))
            .and_then(|(_, item)| item.get(*method))
            .unwrap_or_else(|| panic!("{method} {path} missing from /openapi.json"));
        assert!(op["responses"].as_object().is_some_and(|r| !r.is_empty()));
        let public = matches!(
            *path,
            "/v1/register" | "/v1/agents" | "/v1/agents/{id}" | "/v1/capabilities"
        );
        assert_eq!(
            op.get("security").is_none(),
            public,
            "{method} {path} security"
        );
    }
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    // Request bodies are described.
    let rate = &paths["/v1/tasks/{task_id}/rate"]["post"];
    assert!(rate["requestBody"]["content"]["application/json"]["schema"].is_object());
    assert!(
        doc["components"]["schemas"]["AgentProfile"]["properties"]["reputation_by_tag"].is_object()
    );
    assert!(
        doc["components"]["schemas"]["AgentProfile"]["properties"]
            .get("credits")
            .is_none()
    );
}

/// Runs the PyPI `openapi-spec-validator` (installed by ops/test); a missing
/// validator fails the test instead of skipping it.
#[tokio::test]
async fn openapi_document_validates() {
    let app = TestApp::spawn().await;
    let doc: Value = app.get("/openapi.json", None).await.expect(200).body;
    let file = std::env::temp_dir().join(format!("pinchwork-openapi-{}.json", std::process::id()));
    std::fs::write(&file, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
    let out = Command::new("python3")
        .args(["-m", "openapi_spec_validator"])
        .arg(&file)
        .output()
        .expect("python3 must be installed to validate the OpenAPI document");
    let _ = std::fs::remove_file(&file);
    assert!(
        out.status.success(),
        "openapi-spec-validator failed (is it installed? ops/test installs it):\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn swagger_ui_is_served_from_this_server() {
    let app = TestApp::spawn().await;
    let http = reqwest::Client::new();
    let page = http
        .get(format!("{}/docs/", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("swagger-ui"));
    // Every script and stylesheet is relative: nothing is fetched from elsewhere.
    for attr in ["src=\"http", "href=\"http", "src=\"//", "href=\"//"] {
        assert!(!html.contains(attr), "external asset in /docs: {attr}");
    }
    for asset in [
        "swagger-ui-bundle.js",
        "swagger-ui.css",
        "swagger-initializer.js",
    ] {
        let resp = http
            .get(format!("{}/docs/{asset}", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{asset}");
    }
    let init = http
        .get(format!("{}/docs/swagger-initializer.js", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(init.contains("/openapi.json"));
    assert!(
        init.contains("\"validatorUrl\": \"none\"") || init.contains("\"validatorUrl\":\"none\""),
        "{init}"
    );
}

#[tokio::test]
async fn skill_md_sections_root_and_terms() {
    let app = TestApp::spawn().await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let root = http.get(format!("{}/", app.base)).send().await.unwrap();
    assert_eq!(root.status(), 307);
    assert_eq!(root.headers()["location"], "/skill.md");

    let full = http
        .get(format!("{}/skill.md", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(full.status(), 200);
    assert!(
        full.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/markdown")
    );
    let guide = full.text().await.unwrap();
    // Every documented route has an example in the guide.
    for (_, path) in DOCUMENTED_ROUTES {
        let example = path
            .replace("/v1/tasks/{id}", "/v1/tasks/TASK_ID")
            .replace("/v1/agents/{id}", "/v1/agents/AGENT_ID")
            .replace("{qid}", "QUESTION_ID");
        assert!(guide.contains(&example), "guide has no example of {path}");
    }

    let section = http
        .get(format!("{}/skill.md?section=MESSAGES", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(section.status(), 200);
    let text = section.text().await.unwrap();
    assert!(text.starts_with("## Messages"));
    assert!(
        !text.contains("\n## "),
        "section ran into the next one: {text}"
    );

    let missing = app
        .get("/skill.md?section=no-such-heading", None)
        .await
        .expect(404);
    assert_eq!(missing.error(), "Section 'no-such-heading' not found");

    let terms = http
        .get(format!("{}/terms", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(terms.status(), 200);
    assert!(terms.text().await.unwrap().contains("no monetary value"));
}

//! The contract: `/openapi.json` is generated from the handlers, validates as
//! OpenAPI 3, holds every route an api node serves (and nothing it does not)
//! and every status each operation answers; `/v1/capabilities` lists exactly
//! its operations; `/docs` works with no internet access; `/skill.md` (and its
//! sections), `/` and `/terms` are served.

use std::{
    collections::{BTreeMap, BTreeSet},
    process::Command,
};

use reqwest::{Method, header::CONTENT_TYPE};
use serde_json::{Value, json};

use crate::support::{ADMIN_KEY, TestApp};

/// One operation of the served document.
#[derive(Debug, Clone)]
struct Op {
    method: Method,
    path: String,
    item: Value,
}

impl Op {
    fn documented(&self) -> BTreeSet<u16> {
        self.item["responses"]
            .as_object()
            .map(|r| r.keys().filter_map(|k| k.parse().ok()).collect())
            .unwrap_or_default()
    }

    fn relayed(&self) -> bool {
        pinchwork_api::RELAYED.contains(&self.path.as_str())
    }

    fn has_body(&self) -> bool {
        self.item.get("requestBody").is_some()
    }

    /// The JSON schema of the request body, with `$ref`s resolved against `doc`.
    fn body_schema<'a>(&'a self, doc: &'a Value) -> Option<&'a Value> {
        let schema = &self.item["requestBody"]["content"]["application/json"]["schema"];
        resolve(doc, schema)
    }
}

fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> Option<&'a Value> {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(r) => doc.pointer(r.trim_start_matches('#')),
        None => (!schema.is_null()).then_some(schema),
    }
}

/// Every operation of a document, in its order.
fn operations(doc: &Value) -> Vec<Op> {
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            if let Ok(method) = method.to_uppercase().parse::<Method>() {
                ops.push(Op {
                    method,
                    path: path.clone(),
                    item: op.clone(),
                });
            }
        }
    }
    ops
}

/// `/v1/tasks/{task_id}` with its parameters filled in from `ids`.
fn fill(path: &str, ids: &BTreeMap<&str, String>) -> String {
    let mut out = path.to_string();
    for (param, id) in ids {
        out = out.replace(&format!("{{{param}}}"), id);
    }
    out
}

async fn served_document(app: &TestApp) -> Value {
    app.get("/openapi.json", None).await.expect(200).body
}

#[tokio::test]
async fn openapi_is_generated_from_the_handlers_with_auth() {
    let app = TestApp::spawn().await;
    let doc = served_document(&app).await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    // The served document is the one the route table generates.
    assert_eq!(
        doc,
        serde_json::to_value(pinchwork_api::document()).unwrap()
    );
    let ops = operations(&doc);
    assert!(ops.len() >= 38, "only {} operations", ops.len());
    for op in &ops {
        assert!(
            op.item["responses"]
                .as_object()
                .is_some_and(|r| !r.is_empty()),
            "{} {} has no responses",
            op.method,
            op.path
        );
        assert!(
            op.item["summary"].as_str().is_some_and(|s| !s.is_empty()),
            "{} {} has no summary",
            op.method,
            op.path
        );
        // The A2A endpoint takes the agents' keys like the API.
        let public = !(op.path.starts_with("/v1/") || op.path == "/a2a")
            || matches!(
                op.path.as_str(),
                "/v1/register" | "/v1/agents" | "/v1/agents/{agent_id}" | "/v1/capabilities"
            );
        assert_eq!(
            op.item.get("security").is_none(),
            public,
            "{} {} security",
            op.method,
            op.path
        );
    }
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    // Request bodies are described.
    let rate = &doc["paths"]["/v1/tasks/{task_id}/rate"]["post"];
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

/// Every operation of the document is served by an api node (or, for the
/// event stream, by the relay), with exactly the documented methods: any
/// other method on a documented path meets the router's method fallback. The
/// router is built from the same table as the document, so a route cannot be
/// served without being documented; this checks the two ends meet.
#[tokio::test]
async fn the_router_serves_exactly_the_documented_routes() {
    let app = TestApp::spawn().await;
    let doc = served_document(&app).await;
    let agent = app.register("prober").await;
    let ids = BTreeMap::from([
        ("task_id", "tk-missing".to_string()),
        ("question_id", "qa-missing".to_string()),
        ("agent_id", "ag-missing".to_string()),
    ]);
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut by_path: BTreeMap<String, BTreeSet<Method>> = BTreeMap::new();
    for op in operations(&doc) {
        by_path
            .entry(op.path.clone())
            .or_default()
            .insert(op.method.clone());
    }
    for (path, methods) in &by_path {
        let served = !pinchwork_api::RELAYED.contains(&path.as_str());
        for method in [
            Method::GET,
            Method::POST,
            Method::PATCH,
            Method::PUT,
            Method::DELETE,
        ] {
            let resp = http
                .request(method.clone(), format!("{}{}", app.base, fill(path, &ids)))
                .bearer_auth(&agent.key)
                .header("accept", "application/json")
                .send()
                .await
                .unwrap();
            let status = resp.status().as_u16();
            let allow = resp.headers().get("allow").cloned();
            let body: Value = resp.json().await.unwrap_or(Value::Null);
            // A wrong method is a 405 naming the path's methods in `Allow`.
            let fallback = (status == 404 && body["error"] == "Not found")
                || (status == 405
                    && body["error"] == "Method not allowed"
                    && allow.is_some_and(|a| !a.is_empty()));
            let documented = methods.contains(&method);
            assert_eq!(
                fallback,
                !(documented && served),
                "{method} {path}: {status} {body}"
            );
        }
    }
    // What an api node serves besides the document: pages for people only.
    assert_eq!(
        pinchwork_api::UNDOCUMENTED,
        ["/docs", "/human", "/assets", "/admin"]
    );
    for path in by_path.keys() {
        assert!(
            !pinchwork_api::UNDOCUMENTED
                .iter()
                .any(|prefix| path == prefix || path.starts_with(&format!("{prefix}/"))),
            "{path} is documented under an undocumented prefix"
        );
    }
}

/// Runs the PyPI `openapi-spec-validator`, pinned in `ops/requirements.txt`;
/// a missing validator fails the test instead of skipping it.
#[tokio::test]
async fn openapi_document_validates() {
    let app = TestApp::spawn().await;
    let doc = served_document(&app).await;
    let file = std::env::temp_dir().join(format!("pinchwork-openapi-{}.json", std::process::id()));
    std::fs::write(&file, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
    let out = Command::new(pinchwork_testkit::python())
        .args(["-m", "openapi_spec_validator"])
        .arg(&file)
        .output()
        .expect("run openapi-spec-validator");
    let _ = std::fs::remove_file(&file);
    assert!(
        out.status.success(),
        "openapi-spec-validator failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn capabilities_lists_exactly_the_documents_operations() {
    let app = TestApp::spawn().await;
    let doc = served_document(&app).await;
    let resp = app.get("/v1/capabilities", None).await.expect(200);
    assert!(
        resp.header("content-type")
            .unwrap()
            .starts_with("application/json")
    );
    let caps = resp.body;
    let listed: Vec<(String, String)> = caps["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["method"].as_str().unwrap().to_string(),
                e["path"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let ops = operations(&doc);
    let documented: Vec<(String, String)> = ops
        .iter()
        .map(|op| (op.method.to_string(), op.path.clone()))
        .collect();
    assert_eq!(
        listed.iter().collect::<BTreeSet<_>>(),
        documented.iter().collect::<BTreeSet<_>>()
    );
    assert_eq!(listed.len(), documented.len());
    for endpoint in caps["endpoints"].as_array().unwrap() {
        let auth = endpoint["auth"].as_str().unwrap();
        assert!(["none", "agent", "admin"].contains(&auth), "{endpoint}");
        assert!(endpoint["purpose"].as_str().is_some_and(|p| !p.is_empty()));
    }
    // The fields of the original Python Pinchwork's summary.
    assert!(caps["version"].is_string());
    assert_eq!(caps["docs_url"], "/skill.md");
    assert_eq!(caps["openapi_url"], "/openapi.json");
    let quick_start: Vec<&str> = caps["quick_start"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    assert_eq!(quick_start.first(), Some(&"POST /v1/register"));
    assert_eq!(quick_start.last(), Some(&"POST /v1/tasks/{id}/deliver"));
    for step in quick_start {
        let (method, path) = step.split_once(' ').unwrap();
        let path = path.replace("{id}", "{task_id}");
        assert!(
            documented.contains(&(method.to_string(), path.clone())),
            "quick_start {step} is not an operation"
        );
    }
}

/// The statuses seen while driving every operation through its error paths.
#[derive(Default)]
struct Observed(BTreeMap<(Method, String), BTreeSet<u16>>);

impl Observed {
    fn record(&mut self, op: &Op, status: u16) {
        self.0
            .entry((op.method.clone(), op.path.clone()))
            .or_default()
            .insert(status);
    }

    #[track_caller]
    fn assert_documented(&self, ops: &[Op]) {
        let mut undocumented = Vec::new();
        for op in ops {
            let documented = op.documented();
            for status in self
                .0
                .get(&(op.method.clone(), op.path.clone()))
                .into_iter()
                .flatten()
            {
                if !documented.contains(status) {
                    undocumented.push(format!(
                        "{} {} answered {status}, documented {documented:?}",
                        op.method, op.path
                    ));
                }
            }
        }
        assert!(
            undocumented.is_empty(),
            "undocumented statuses:\n{}",
            undocumented.join("\n")
        );
    }
}

/// A request body made from the operation's schema: each property gets a
/// value of its type (`big` takes the largest allowed budget, to cross
/// balances and the smaller limits).
fn body_from_schema(doc: &Value, op: &Op, big: bool) -> Value {
    let Some(schema) = op.body_schema(doc) else {
        return Value::Null;
    };
    let mut body = serde_json::Map::new();
    for (name, prop) in schema["properties"].as_object().into_iter().flatten() {
        let kind = prop["type"]
            .as_str()
            .map(str::to_string)
            .or_else(|| {
                prop["type"].as_array().and_then(|types| {
                    types
                        .iter()
                        .filter_map(Value::as_str)
                        .find(|t| *t != "null")
                        .map(str::to_string)
                })
            })
            .unwrap_or_default();
        let value = match kind.as_str() {
            "integer" if name == "wait" => continue,
            "integer" => json!(if big { 100_000 } else { 1 }),
            "boolean" => json!(true),
            "array" => json!(["python"]),
            _ => json!(format!("a {name}")),
        };
        body.insert(name.clone(), value);
    }
    Value::Object(body)
}

/// Sends one request; `body` is raw text with a content type.
async fn send(
    app: &TestApp,
    method: &Method,
    path: &str,
    key: Option<&str>,
    body: Option<(&str, String)>,
) -> u16 {
    let mut req = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .request(method.clone(), format!("{}{path}", app.base))
        .header("accept", "application/json");
    if let Some(key) = key {
        req = req.bearer_auth(key);
    }
    if let Some((content_type, text)) = body {
        req = req.header(CONTENT_TYPE, content_type).body(text);
    }
    req.send().await.unwrap().status().as_u16()
}

/// Bodies that cross every reader: none, empty, from the schema, with the
/// largest numbers, every field of the wrong type, not an object, broken JSON.
fn bodies(doc: &Value, op: &Op) -> Vec<Option<(&'static str, String)>> {
    if !op.has_body() {
        return vec![None];
    }
    let wrong: serde_json::Map<String, Value> = body_from_schema(doc, op, false)
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, _)| (k.clone(), json!({ "nested": [1] })))
        .collect();
    let json = "application/json";
    vec![
        None,
        Some((json, "{}".into())),
        Some((json, body_from_schema(doc, op, false).to_string())),
        Some((json, body_from_schema(doc, op, true).to_string())),
        Some((json, Value::Object(wrong).to_string())),
        Some((json, "[1]".into())),
        Some((json, "{\"broken".into())),
        Some(("text/markdown", "---\nmax_credits: [\n---\nbroken".into())),
    ]
}

/// A marketplace with a task in every state, and the ids to aim at.
struct Scene {
    poster: pinchwork_testkit::Agent,
    worker: pinchwork_testkit::Agent,
    other: pinchwork_testkit::Agent,
    suspended: pinchwork_testkit::Agent,
    tasks: Vec<String>,
    question: String,
}

async fn scene(app: &TestApp) -> Scene {
    let poster = app.register("poster").await;
    let worker = app.register("worker").await;
    let other = app.register("other").await;
    let suspended = app.register("suspended").await;
    app.post(
        "/v1/admin/agents/suspend",
        Some(ADMIN_KEY),
        json!({ "agent_id": suspended.id, "suspended": true }),
    )
    .await
    .expect(200);
    let posted = app.post_task(&poster, "posted", 5).await;
    let claimed = app.post_task(&poster, "claimed", 5).await;
    app.pickup(&worker, &claimed).await.expect(200);
    let delivered = app.post_task(&poster, "delivered", 5).await;
    app.pickup(&worker, &delivered).await.expect(200);
    app.deliver(&worker, &delivered, json!({ "result": "done" }))
        .await
        .expect(200);
    let approved = app.post_task(&poster, "approved", 5).await;
    app.pickup(&worker, &approved).await.expect(200);
    app.deliver(&worker, &approved, json!({ "result": "done" }))
        .await
        .expect(200);
    app.act(&poster, &approved, "approve", json!({}))
        .await
        .expect(200);
    let cancelled = app.post_task(&poster, "cancelled", 5).await;
    app.act(&poster, &cancelled, "cancel", Value::Null)
        .await
        .expect(200);
    let question = app
        .post(
            &format!("/v1/tasks/{posted}/questions"),
            Some(&other.key),
            json!({ "question": "Which format?" }),
        )
        .await
        .expect(201)
        .body["id"]
        .as_str()
        .unwrap()
        .to_string();
    Scene {
        poster,
        worker,
        other,
        suspended,
        tasks: vec![
            posted,
            claimed,
            delivered,
            approved,
            cancelled,
            "tk-missing".into(),
        ],
        question,
    }
}

/// The operations an api node serves, the key rotation last: it retires
/// the key it is sent with, which the other operations still need.
fn key_rotation_last(ops: Vec<Op>) -> Vec<Op> {
    let mut ops: Vec<Op> = ops.into_iter().filter(|op| !op.relayed()).collect();
    ops.sort_by_key(|op| op.path == "/v1/me/key/rotate");
    ops
}

/// Drives every operation through its error paths — no key, an unknown key,
/// a suspended agent, each party on a task in each state, every kind of bad
/// body, a body over the limit — and asserts that every status seen is
/// documented for that operation (a 500 never is).
#[tokio::test]
async fn every_status_an_operation_answers_is_documented() {
    let app = TestApp::spawn().await;
    let doc = served_document(&app).await;
    let ops = key_rotation_last(operations(&doc));
    let scene = scene(&app).await;
    let mut seen = Observed::default();
    for op in &ops {
        let first = BTreeMap::from([
            ("task_id", scene.tasks[0].clone()),
            ("question_id", scene.question.clone()),
            ("agent_id", scene.worker.id.clone()),
        ]);
        let key = if op.path.starts_with("/v1/admin/") {
            ADMIN_KEY
        } else {
            scene.poster.key.as_str()
        };
        for caller in [
            None,
            Some("pwk-unknown"),
            Some(scene.suspended.key.as_str()),
        ] {
            let status = send(&app, &op.method, &fill(&op.path, &first), caller, None).await;
            seen.record(op, status);
        }
        if op.has_body() {
            let huge = format!("{{\"x\": \"{}\"}}", "a".repeat(5 * 1024 * 1024));
            let status = send(
                &app,
                &op.method,
                &fill(&op.path, &first),
                Some(key),
                Some(("application/json", huge)),
            )
            .await;
            seen.record(op, status);
        }
        let task_ids: Vec<String> = if op.path.contains("{task_id}") {
            scene.tasks.clone()
        } else {
            vec![scene.tasks[0].clone()]
        };
        // A real and a missing id for the question and agent parameters.
        let others = if op.path.contains("{question_id}") || op.path.contains("{agent_id}") {
            vec![
                (scene.question.clone(), scene.worker.id.clone()),
                ("qa-missing".into(), "ag-missing".into()),
            ]
        } else {
            vec![(scene.question.clone(), scene.worker.id.clone())]
        };
        for task_id in &task_ids {
            for (question_id, agent_id) in &others {
                let ids = BTreeMap::from([
                    ("task_id", task_id.clone()),
                    ("question_id", question_id.clone()),
                    ("agent_id", agent_id.clone()),
                ]);
                let path = fill(&op.path, &ids);
                let callers = if op.path.starts_with("/v1/admin/") {
                    vec![ADMIN_KEY]
                } else {
                    vec![&*scene.poster.key, &*scene.worker.key, &*scene.other.key]
                };
                for caller in callers {
                    for body in bodies(&doc, op) {
                        let status = send(&app, &op.method, &path, Some(caller), body).await;
                        seen.record(op, status);
                    }
                }
            }
        }
    }
    seen.assert_documented(&ops);
}

/// With every rate limit at one request an hour, the second call of each
/// operation meets its limit (429) where it has one, and every status seen is
/// documented; without an admin key the admin operations answer 501.
#[tokio::test]
async fn rate_limited_and_unconfigured_statuses_are_documented() {
    let mut limits = Vec::new();
    for class in ["register", "create", "pickup", "deliver", "read", "admin"] {
        limits.push(format!("--rate-limit-{class}"));
        limits.push("1/hour".to_string());
    }
    let mut args: Vec<&str> = vec!["--rate-limit-enabled", "true"];
    args.extend(limits.iter().map(String::as_str));
    let app = TestApp::spawn_with(&args).await;
    let doc = served_document(&app).await;
    let ops = key_rotation_last(operations(&doc));
    let agent = app.register("limited").await;
    let ids = BTreeMap::from([
        ("task_id", "tk-missing".to_string()),
        ("question_id", "qa-missing".to_string()),
        ("agent_id", "ag-missing".to_string()),
    ]);
    let mut seen = Observed::default();
    for op in &ops {
        let key = if op.path.starts_with("/v1/admin/") {
            ADMIN_KEY
        } else {
            agent.key.as_str()
        };
        for _ in 0..2 {
            let body = op.has_body().then(|| {
                (
                    "application/json",
                    body_from_schema(&doc, op, false).to_string(),
                )
            });
            let status = send(&app, &op.method, &fill(&op.path, &ids), Some(key), body).await;
            seen.record(op, status);
        }
    }
    assert!(
        seen.0.values().any(|statuses| statuses.contains(&429)),
        "no rate limit was met"
    );
    seen.assert_documented(&ops);

    let unconfigured = TestApp::spawn_with(&["--admin-key", ""]).await;
    let mut seen = Observed::default();
    for op in ops.iter().filter(|op| op.path.starts_with("/v1/admin/")) {
        let status = send(&unconfigured, &op.method, &op.path, Some("anything"), None).await;
        assert_eq!(status, 501, "{} {}", op.method, op.path);
        seen.record(op, status);
    }
    seen.assert_documented(&ops);
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
    let doc = served_document(&app).await;
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
    // Every API route of the document has an example in the guide.
    for op in operations(&doc) {
        if !op.path.starts_with("/v1/") {
            continue;
        }
        let example = op
            .path
            .replace("{task_id}", "TASK_ID")
            .replace("{agent_id}", "AGENT_ID")
            .replace("{question_id}", "QUESTION_ID");
        assert!(
            guide.contains(&example),
            "guide has no example of {}",
            op.path
        );
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

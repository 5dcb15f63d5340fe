//! The web face: public pages never show anything private (results,
//! messages, context, keys, webhooks, system and welcome tasks) and escape
//! what agents wrote; the console needs the admin key, a session and a CSRF
//! token on every form, and acts through the same market operations as the
//! admin API.

use reqwest::{StatusCode, header};
use serde_json::json;

use crate::support::{ADMIN_KEY, TestApp};

/// A browser-like client: asks for HTML, follows no redirects.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

struct Page {
    status: StatusCode,
    headers: header::HeaderMap,
    body: String,
}

async fn page(app: &TestApp, path: &str, cookie: Option<&str>) -> Page {
    let mut req = browser()
        .get(format!("{}{path}", app.base))
        .header(header::ACCEPT, "text/html,application/xhtml+xml");
    if let Some(cookie) = cookie {
        req = req.header(header::COOKIE, cookie);
    }
    let resp = req.send().await.expect("GET");
    Page {
        status: resp.status(),
        headers: resp.headers().clone(),
        body: resp.text().await.expect("body"),
    }
}

async fn form(app: &TestApp, path: &str, cookie: &str, fields: &[(&str, &str)]) -> Page {
    let resp = browser()
        .post(format!("{}{path}", app.base))
        .header(header::COOKIE, cookie)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(
            url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(fields)
                .finish(),
        )
        .send()
        .await
        .expect("POST");
    Page {
        status: resp.status(),
        headers: resp.headers().clone(),
        body: resp.text().await.expect("body"),
    }
}

/// The `name=value` of a Set-Cookie header named `name`.
fn set_cookie(page: &Page, name: &str) -> Option<String> {
    page.headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(|v| v.split(';').next().unwrap_or_default().to_string())
}

/// The value of the first hidden `csrf` field of a page.
fn csrf_field(body: &str) -> String {
    let start = body.find("name=\"csrf\" value=\"").expect("csrf field") + 19;
    body[start..start + 64].to_string()
}

#[tokio::test]
async fn public_pages_show_nothing_private_and_escape_what_agents_wrote() {
    let app = TestApp::spawn_with(&[
        "--welcome-task-enabled",
        "true",
        "--webhook-allow-private",
        "true",
    ])
    .await;
    let poster_reg = app
        .post(
            "/v1/register",
            None,
            json!({"name": "<script>alert('poster')</script>", "good_at": "escaping tests"}),
        )
        .await
        .expect(201);
    let poster = pinchwork_testkit::Agent {
        id: poster_reg.body["agent_id"].as_str().unwrap().into(),
        key: poster_reg.body["api_key"].as_str().unwrap().into(),
    };
    let welcome = poster_reg.body["welcome_task_id"]
        .as_str()
        .expect("a welcome task")
        .to_string();
    let worker = app.register("worker <img src=x onerror=alert(1)>").await;
    app.call(
        reqwest::Method::PATCH,
        "/v1/me",
        Some(&worker.key),
        json!({"webhook_url": "http://127.0.0.1:9/private-hook", "webhook_secret": "whsec-PRIVATE"}),
    )
    .await
    .expect(200);
    let created = app
        .post(
            "/v1/tasks",
            Some(&poster.key),
            json!({"need": "Summarize <img src=x onerror=alert(2)> please",
                   "context": "PRIVATE-CONTEXT", "max_credits": 20, "tags": ["web-test"]}),
        )
        .await
        .expect(201);
    let task = created.body["task_id"].as_str().unwrap().to_string();
    app.pickup(&worker, &task).await.expect(200);
    app.post(
        &format!("/v1/tasks/{task}/messages"),
        Some(&worker.key),
        json!({"message": "PRIVATE-MESSAGE"}),
    )
    .await
    .expect(201);
    app.deliver(&worker, &task, json!({"result": "PRIVATE-RESULT"}))
        .await
        .expect(200);
    app.act(&poster, &task, "approve", json!({"rating": 5}))
        .await
        .expect(200);

    let system_task: String = sqlx::query_scalar("SELECT id FROM tasks WHERE is_system LIMIT 1")
        .fetch_optional(&app.pool)
        .await
        .unwrap()
        .unwrap_or_else(|| "tk-none".into());
    let paths = [
        "/human".to_string(),
        "/".to_string(),
        format!("/human/tasks/{task}"),
        "/human/agents".into(),
        "/human/agents?q=escaping".into(),
        format!("/human/agents/{}", poster.id),
        format!("/human/agents/{}", worker.id),
        "/human/figures.json".into(),
        "/skill.md".into(),
        "/terms".into(),
    ];
    for path in &paths {
        let p = page(&app, path, None).await;
        let p = match p.status {
            StatusCode::SEE_OTHER | StatusCode::TEMPORARY_REDIRECT => {
                let to = p.headers[header::LOCATION].to_str().unwrap().to_string();
                page(&app, &to, None).await
            }
            _ => p,
        };
        assert_eq!(p.status, StatusCode::OK, "{path}: {}", p.body);
        for private in [
            "PRIVATE-CONTEXT",
            "PRIVATE-MESSAGE",
            "PRIVATE-RESULT",
            "private-hook",
            "whsec-PRIVATE",
            poster.key.as_str(),
            worker.key.as_str(),
            welcome.as_str(),
        ] {
            assert!(!p.body.contains(private), "{path} shows {private}");
        }
        assert!(!p.body.contains("<script>alert"), "{path} has a raw script");
        assert!(!p.body.contains("<img src=x"), "{path} has a raw img");
        if !path.ends_with(".json") {
            let csp = p.headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
            assert!(csp.contains("default-src 'none'"), "{path}: {csp}");
            assert!(p.body.contains("<html lang=\"en\">"), "{path}");
            assert!(p.body.contains("<title>"), "{path}");
        }
    }
    let task_page = page(&app, &format!("/human/tasks/{task}"), None).await;
    assert!(
        task_page
            .body
            .contains("Summarize &#60;img src=x onerror=alert(2)&#62; please")
            || task_page
                .body
                .contains("Summarize &lt;img src=x onerror=alert(2)&gt; please"),
        "{}",
        task_page.body
    );
    for step in ["Posted", "Claimed", "Delivered", "Approved"] {
        assert!(task_page.body.contains(step), "timeline lacks {step}");
    }
    let poster_page = page(&app, &format!("/human/agents/{}", poster.id), None).await;
    assert!(
        poster_page.body.contains("alert(&#39;poster&#39;)")
            || poster_page.body.contains("alert(&#x27;poster&#x27;)"),
        "{}",
        poster_page.body
    );
    // The welcome task and system tasks have no public page.
    for hidden in [&welcome, &system_task] {
        assert_eq!(
            page(&app, &format!("/human/tasks/{hidden}"), None)
                .await
                .status,
            StatusCode::NOT_FOUND
        );
    }
    assert_eq!(
        page(&app, "/human/agents/ag-platform", None).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn agents_keep_the_redirect_and_the_markdown() {
    let app = TestApp::spawn().await;
    let root = browser()
        .get(format!("{}/", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(root.headers()[header::LOCATION], "/skill.md");
    let guide = browser()
        .get(format!("{}/skill.md", app.base))
        .send()
        .await
        .unwrap();
    assert!(
        guide.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/markdown")
    );
    let html = page(&app, "/skill.md?section=credits", None).await;
    assert_eq!(html.status, StatusCode::OK);
    assert!(
        html.body.contains("<h2>") || html.body.contains("<h3>"),
        "{}",
        html.body
    );
    assert_eq!(
        page(&app, "/skill.md?section=nowhere", None).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn front_page_figures_follow_completed_work() {
    let app = TestApp::spawn().await;
    let read = || async { app.get("/human/figures.json", None).await.expect(200).body };
    let before = read().await;
    let poster = app.register("poster").await;
    let worker = app.register("worker").await;
    let task = app.post_task(&poster, "Count the figures", 10).await;
    app.pickup(&worker, &task).await.expect(200);
    app.deliver(&worker, &task, json!({"result": "done"}))
        .await
        .expect(200);
    app.act(&poster, &task, "approve", json!({}))
        .await
        .expect(200);
    // The node reuses its figures for a moment; wait for the next read.
    let mut after = read().await;
    for _ in 0..100 {
        if after["completed"] != before["completed"] {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        after = read().await;
    }
    assert_eq!(
        after["completed"].as_i64(),
        Some(before["completed"].as_i64().unwrap() + 1)
    );
    assert_eq!(after["completed_last_hour"], after["completed"]);
    assert_eq!(after["credits_moved"], 10);
    assert_eq!(after["agents"], 2);
}

/// Signs in and returns the session cookie and the session's CSRF token.
async fn sign_in(app: &TestApp) -> (String, String) {
    let form_page = page(app, "/admin", None).await;
    assert_eq!(form_page.status, StatusCode::OK);
    assert!(form_page.body.contains("<label for=\"admin_key\">"));
    let pre = set_cookie(&form_page, "pw_sign_in").expect("sign-in cookie");
    let token = csrf_field(&form_page.body);
    let signed = form(
        app,
        "/admin/sign-in",
        &pre,
        &[("csrf", &token), ("admin_key", ADMIN_KEY)],
    )
    .await;
    assert_eq!(signed.status, StatusCode::SEE_OTHER, "{}", signed.body);
    let raw = signed
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|v| v.starts_with("pw_console="))
        .expect("session cookie");
    assert!(
        raw.contains("HttpOnly") && raw.contains("SameSite=Strict"),
        "{raw}"
    );
    assert!(!raw.contains("Secure"), "plain http: {raw}");
    let cookie = raw.split(';').next().unwrap().to_string();
    let home = page(app, "/admin", Some(&cookie)).await;
    assert_eq!(home.status, StatusCode::OK);
    assert!(home.body.contains("Sign out"));
    (cookie, csrf_field(&home.body))
}

#[tokio::test]
async fn the_console_acts_through_the_admin_operations_behind_a_session_and_csrf() {
    let app = TestApp::spawn().await;
    let agent = app.register("console-target").await;
    // Forms need a session: no cookie, no action.
    let anonymous = form(
        &app,
        &format!("/admin/agents/{}/grant", agent.id),
        "",
        &[("amount", "5")],
    )
    .await;
    assert_eq!(anonymous.status, StatusCode::FORBIDDEN);

    let (cookie, csrf) = sign_in(&app).await;
    let profile = page(&app, &format!("/admin/agents/{}", agent.id), Some(&cookie)).await;
    assert!(profile.body.contains("100 credits"), "{}", profile.body);

    let grant = format!("/admin/agents/{}/grant", agent.id);
    let no_token = form(&app, &grant, &cookie, &[("amount", "50")]).await;
    assert_eq!(no_token.status, StatusCode::FORBIDDEN);
    let wrong_token = form(&app, &grant, &cookie, &[("amount", "50"), ("csrf", "nope")]).await;
    assert_eq!(wrong_token.status, StatusCode::FORBIDDEN);
    assert_eq!(app.balance(&agent).await, 100);
    let bad = form(&app, &grant, &cookie, &[("amount", "0"), ("csrf", &csrf)]).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let granted = form(
        &app,
        &grant,
        &cookie,
        &[
            ("amount", "50"),
            ("reason", "console bonus"),
            ("csrf", &csrf),
        ],
    )
    .await;
    assert_eq!(granted.status, StatusCode::SEE_OTHER);
    assert_eq!(app.balance(&agent).await, 150);
    let ledger = app
        .get("/v1/me/credits", Some(&agent.key))
        .await
        .expect(200);
    assert_eq!(ledger.body["ledger"][0]["reason"], "console bonus");
    assert_eq!(ledger.body["ledger"][0]["amount"], 50);

    let suspend = format!("/admin/agents/{}/suspend", agent.id);
    form(
        &app,
        &suspend,
        &cookie,
        &[("suspended", "true"), ("reason", "spam"), ("csrf", &csrf)],
    )
    .await;
    app.get("/v1/me", Some(&agent.key)).await.expect(403);
    form(
        &app,
        &suspend,
        &cookie,
        &[("suspended", "false"), ("csrf", &csrf)],
    )
    .await;
    app.get("/v1/me", Some(&agent.key)).await.expect(200);
    app.assert_conservation().await;

    for path in [
        "/admin/agents?q=console",
        "/admin/tasks?status=posted",
        "/admin/reports",
        "/admin/webhooks",
        "/admin/cluster",
    ] {
        let p = page(&app, path, Some(&cookie)).await;
        assert_eq!(p.status, StatusCode::OK, "{path}: {}", p.body);
    }
    assert_eq!(
        page(&app, "/admin/tasks?status=bogus", Some(&cookie))
            .await
            .status,
        StatusCode::BAD_REQUEST
    );

    let out = form(&app, "/admin/sign-out", &cookie, &[("csrf", &csrf)]).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    let after = page(&app, "/admin", Some(&cookie)).await;
    assert!(
        after.body.contains("<label for=\"admin_key\">"),
        "signed out: {}",
        after.body
    );
}

#[tokio::test]
async fn failed_sign_ins_are_limited_and_a_missing_key_disables_the_console() {
    let app = TestApp::spawn().await;
    let form_page = page(&app, "/admin", None).await;
    let pre = set_cookie(&form_page, "pw_sign_in").unwrap();
    let token = csrf_field(&form_page.body);
    // No double-submit token: refused before the key is even looked at.
    let forged = form(
        &app,
        "/admin/sign-in",
        "",
        &[("csrf", &token), ("admin_key", ADMIN_KEY)],
    )
    .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    for _ in 0..10 {
        let wrong = form(
            &app,
            "/admin/sign-in",
            &pre,
            &[("csrf", &token), ("admin_key", "guess")],
        )
        .await;
        assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    }
    let limited = form(
        &app,
        "/admin/sign-in",
        &pre,
        &[("csrf", &token), ("admin_key", ADMIN_KEY)],
    )
    .await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);

    let disabled = TestApp::spawn_with(&["--admin-key", ""]).await;
    let p = page(&disabled, "/admin", None).await;
    assert_eq!(p.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(p.body.contains("disabled"));
}

#[tokio::test]
async fn an_agent_page_shows_the_feedback_it_received_escaped() {
    let app = TestApp::spawn().await;
    let poster = app.register("poster").await;
    let worker = app.register("worker").await;
    let plain = page(&app, &format!("/human/agents/{}", worker.id), None).await;
    assert_eq!(plain.status, StatusCode::OK);
    assert!(!plain.body.contains("Recent feedback"), "{}", plain.body);

    crate::cycle::approved_task(
        &app,
        &poster,
        &worker,
        10,
        &[],
        json!({"rating": 4, "feedback": "thorough <b>work</b>"}),
    )
    .await;
    let shown = page(&app, &format!("/human/agents/{}", worker.id), None).await;
    assert_eq!(shown.status, StatusCode::OK);
    assert!(shown.body.contains("Recent feedback"), "{}", shown.body);
    assert!(shown.body.contains("thorough "), "{}", shown.body);
    assert!(!shown.body.contains("<b>work</b>"), "{}", shown.body);
}

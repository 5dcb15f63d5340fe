//! Every curl example of the API document works as written against our
//! server: same method, path, headers and body (curl's defaults included),
//! with only the base URL, the key and the ids filled in.
//!
//! Not replayed here: `curl -N .../v1/events`. The SSE stream is not an api
//! route; it belongs to the sse-relay service (built in a separate issue),
//! whose tests must cover that example.

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::support::TestApp;

/// One curl command of the document.
struct Curl {
    method: Method,
    /// Path and query, with placeholders (TASK_ID, AGENT_ID, QA_ID).
    path: &'static str,
    /// `-H` headers as written (YOUR_API_KEY is replaced).
    headers: &'static [(&'static str, &'static str)],
    /// `-d` data, if any.
    data: Option<&'static str>,
}

/// What came back.
struct Outcome {
    status: StatusCode,
    content_type: String,
    text: String,
}

impl Outcome {
    /// A top-level field: from the JSON body, or from the markdown frontmatter.
    fn field(&self, key: &str) -> Option<String> {
        if let Ok(Value::Object(map)) = serde_json::from_str::<Value>(&self.text) {
            return map.get(key).map(|v| match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            });
        }
        let front = self.text.strip_prefix("---\n")?.split("\n---").next()?;
        front.lines().find_map(|line| {
            let (k, v) = line.split_once(':')?;
            (k == key).then(|| v.trim().trim_matches('\'').trim_matches('"').to_string())
        })
    }

    #[track_caller]
    fn expect(self, status: u16) -> Self {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.text);
        self
    }
}

/// Sends a curl example the way curl would: `-d` implies POST (unless `-X`
/// says otherwise) and `Content-Type: application/x-www-form-urlencoded`
/// unless a Content-Type header is given; Accept is curl's `*/*` unless given.
async fn run(app: &TestApp, curl: &Curl, key: &str, ids: &[(&str, &str)]) -> Outcome {
    let fill = |s: &str| {
        let mut s = s.replace("YOUR_API_KEY", key);
        for (placeholder, id) in ids {
            s = s.replace(placeholder, id);
        }
        s
    };
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut req = http.request(
        curl.method.clone(),
        format!("{}{}", app.base, fill(curl.path)),
    );
    let has = |name: &str| {
        curl.headers
            .iter()
            .any(|(h, _)| h.eq_ignore_ascii_case(name))
    };
    if !has("accept") {
        req = req.header("accept", "*/*");
    }
    for (name, value) in curl.headers {
        req = req.header(*name, fill(value));
    }
    if let Some(data) = curl.data {
        if !has("content-type") {
            req = req.header("content-type", "application/x-www-form-urlencoded");
        }
        req = req.body(data.to_string());
    }
    let resp = req.send().await.expect("send");
    let status = resp.status();
    let content_type = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    Outcome {
        status,
        content_type,
        text: resp.text().await.unwrap_or_default(),
    }
}

const AUTH: (&str, &str) = ("Authorization", "Bearer YOUR_API_KEY");
const JSON_CT: (&str, &str) = ("Content-Type", "application/json");
const ACCEPT_JSON: (&str, &str) = ("Accept", "application/json");

const fn curl(
    method: Method,
    path: &'static str,
    headers: &'static [(&'static str, &'static str)],
    data: Option<&'static str>,
) -> Curl {
    Curl {
        method,
        path,
        headers,
        data,
    }
}

const REGISTER: Curl = curl(
    Method::POST,
    "/v1/register",
    &[],
    Some(r###"{"name": "my-agent"}"###),
);
const REGISTER_SKILLS: Curl = curl(
    Method::POST,
    "/v1/register",
    &[],
    Some(
        r###"{"name": "my-agent", "good_at": "sandboxed code execution, Python, data analysis", "accepts_system_tasks": false}"###,
    ),
);
const CREATE: Curl = curl(
    Method::POST,
    "/v1/tasks",
    &[AUTH, JSON_CT],
    Some(concat!(
        r###"{"need": "Review this API endpoint for vulnerabilities:\n\n@app.post(\"/users/{user_id}/settings\")\nasync def update_settings(user_id: str, body: dict = Body(...)):\n query = f\"UPDATE users SET settings = '"###,
        r###"{json.dumps(body)}' WHERE id = '{user_id}'\"\n await db.execute(query)", "context": "This is a FastAPI endpoint in our user settings service. We need an independent security review before deploying to production.", "max_credits": 15}"###
    )),
);
const POLL: Curl = curl(Method::GET, "/v1/tasks/TASK_ID", &[AUTH], None);
const PICKUP: Curl = curl(Method::POST, "/v1/tasks/pickup", &[AUTH], None);
const DELIVER: Curl = curl(
    Method::POST,
    "/v1/tasks/TASK_ID/deliver",
    &[AUTH, JSON_CT],
    Some(
        r###"{"result": "## Security Review Results\n\n### CRITICAL: SQL Injection (CWE-89)\n**File:** app.py, line 4\n**Severity:** Critical\nRaw string interpolation of `user_id` and `body` into SQL query.\n\n### HIGH: Missing Authentication (CWE-306)\n**Severity:** High\nNo auth dependency — any caller can modify any user settings.\n\n### HIGH: No Input Validation (CWE-20)\n**Severity:** High\nAccepts arbitrary dict with no schema validation.", "credits_claimed": 12}"###,
    ),
);
const REGISTER_WEBHOOK: Curl = curl(
    Method::POST,
    "/v1/register",
    &[],
    Some(
        r###"{"name": "my-agent", "webhook_url": "https://myserver.com/hooks/pinchwork", "webhook_secret": "my-hmac-secret"}"###,
    ),
);
const PATCH_WEBHOOK: Curl = curl(
    Method::PATCH,
    "/v1/me",
    &[AUTH],
    Some(
        r###"{"webhook_url": "https://myserver.com/hooks/pinchwork", "webhook_secret": "new-secret"}"###,
    ),
);
const CREATE_DEADLINE: Curl = curl(
    Method::POST,
    "/v1/tasks",
    &[AUTH],
    Some(r###"{"need": "Urgent: check API health", "max_credits": 5, "deadline_minutes": 30}"###),
);
const SEND_MESSAGE: Curl = curl(
    Method::POST,
    "/v1/tasks/TASK_ID/messages",
    &[AUTH],
    Some(r###"{"message": "Can you focus on the auth module first?"}"###),
);
const LIST_MESSAGES: Curl = curl(Method::GET, "/v1/tasks/TASK_ID/messages", &[AUTH], None);
const TRUST: Curl = curl(Method::GET, "/v1/me/trust", &[AUTH], None);
const PATCH_GOOD_AT: Curl = curl(
    Method::PATCH,
    "/v1/me",
    &[AUTH],
    Some(r###"{"good_at": "security auditing, OWASP Top 10, Python, FastAPI"}"###),
);
const REGISTER_INFRA: Curl = curl(
    Method::POST,
    "/v1/register",
    &[],
    Some(r###"{"name": "my-infra-agent", "accepts_system_tasks": true}"###),
);
const PATCH_INFRA: Curl = curl(
    Method::PATCH,
    "/v1/me",
    &[AUTH],
    Some(r###"{"accepts_system_tasks": true}"###),
);
const MINE: Curl = curl(Method::GET, "/v1/tasks/mine", &[AUTH], None);
const MINE_FILTERED: Curl = curl(
    Method::GET,
    "/v1/tasks/mine?role=worker&status=claimed",
    &[AUTH],
    None,
);
const REJECT: Curl = curl(
    Method::POST,
    "/v1/tasks/TASK_ID/reject",
    &[AUTH],
    Some(
        r###"{"reason": "Missing error handling examples", "feedback": "Good structure, just add try/catch blocks"}"###,
    ),
);
const ASK: Curl = curl(
    Method::POST,
    "/v1/tasks/TASK_ID/questions",
    &[AUTH],
    Some(r###"{"question": "What input format should the parser handle?"}"###),
);
const ANSWER: Curl = curl(
    Method::POST,
    "/v1/tasks/TASK_ID/questions/QA_ID/answer",
    &[AUTH],
    Some(r###"{"answer": "JSON lines, one object per line"}"###),
);
const LIST_QUESTIONS: Curl = curl(Method::GET, "/v1/tasks/TASK_ID/questions", &[AUTH], None);
const BROWSE_SEARCH: Curl = curl(
    Method::GET,
    "/v1/tasks/available?search=kubernetes",
    &[AUTH],
    None,
);
const PICKUP_SEARCH: Curl = curl(
    Method::POST,
    "/v1/tasks/pickup?search=kubernetes",
    &[AUTH],
    None,
);
const BROWSE_BOTH: Curl = curl(
    Method::GET,
    "/v1/tasks/available?search=security&tags=python",
    &[AUTH],
    None,
);
const STATS: Curl = curl(Method::GET, "/v1/me/stats", &[AUTH], None);
const AGENTS_SEARCH: Curl = curl(
    Method::GET,
    "/v1/agents?search=machine+learning",
    &[ACCEPT_JSON],
    None,
);
const AGENTS_MIN_REP: Curl = curl(
    Method::GET,
    "/v1/agents?min_reputation=4.0",
    &[ACCEPT_JSON],
    None,
);
const AGENTS_SORTED: Curl = curl(
    Method::GET,
    "/v1/agents?sort_by=tasks_completed&limit=10",
    &[ACCEPT_JSON],
    None,
);
const AGENT_PROFILE: Curl = curl(Method::GET, "/v1/agents/AGENT_ID", &[ACCEPT_JSON], None);
const BATCH: Curl = curl(
    Method::POST,
    "/v1/tasks/pickup/batch",
    &[AUTH],
    Some(r###"{"count": 5, "tags": ["python"], "search": "data"}"###),
);
const CAPABILITIES: Curl = curl(Method::GET, "/v1/capabilities", &[], None);
const SKILL_SECTION: Curl = curl(Method::GET, "/skill.md?section=credits", &[], None);
// Inline examples of the text: approve with a rating, rate the poster, report.
const APPROVE_RATED: Curl = curl(
    Method::POST,
    "/v1/tasks/TASK_ID/approve",
    &[AUTH],
    Some(r###"{"rating": 5}"###),
);
const RATE: Curl = curl(
    Method::POST,
    "/v1/tasks/TASK_ID/rate",
    &[AUTH],
    Some(r###"{"rating": 4}"###),
);
const REPORT: Curl = curl(
    Method::POST,
    "/v1/tasks/TASK_ID/report",
    &[AUTH],
    Some(r###"{"reason": "spam"}"###),
);

async fn json_of(o: &Outcome) -> Value {
    serde_json::from_str(&o.text).unwrap_or_else(|_| panic!("not JSON: {}", o.text))
}

#[tokio::test]
async fn every_curl_example_of_the_api_document() {
    let app = TestApp::spawn().await;
    let none: &[(&str, &str)] = &[];

    // Registration (responses are markdown: curl sends Accept: */*).
    let reg = run(&app, &REGISTER, "", none).await.expect(201);
    assert!(reg.content_type.starts_with("text/markdown"));
    let poster_key = reg.field("api_key").expect("api_key");
    assert!(poster_key.starts_with("pwk-"));
    assert_eq!(reg.field("credits").as_deref(), Some("100"));
    let reg = run(&app, &REGISTER_SKILLS, "", none).await.expect(201);
    let worker_key = reg.field("api_key").unwrap();
    let worker_id = reg.field("agent_id").unwrap();

    // Delegate, poll, pick up.
    let created = run(&app, &CREATE, &poster_key, none).await.expect(201);
    let task = created.field("task_id").expect("task_id");
    assert_eq!(created.field("status").as_deref(), Some("posted"));
    let t: &[(&str, &str)] = &[("TASK_ID", &task)];
    let polled = run(&app, &POLL, &poster_key, t).await.expect(200);
    assert_eq!(polled.field("status").as_deref(), Some("posted"));
    let picked = run(&app, &PICKUP, &worker_key, none).await.expect(200);
    assert_eq!(picked.field("task_id").as_deref(), Some(task.as_str()));

    // Messages on the claimed task.
    run(&app, &SEND_MESSAGE, &poster_key, t).await.expect(201);
    let thread = run(&app, &LIST_MESSAGES, &worker_key, t).await.expect(200);
    assert!(
        thread
            .text
            .contains("Can you focus on the auth module first?")
    );
    let mine = run(&app, &MINE_FILTERED, &worker_key, none)
        .await
        .expect(200);
    assert!(mine.text.contains(&task));

    // Deliver, reject with a reason, deliver again, approve with a rating.
    let delivered = run(&app, &DELIVER, &worker_key, t).await.expect(200);
    assert_eq!(delivered.field("status").as_deref(), Some("delivered"));
    let rejected = run(&app, &REJECT, &poster_key, t).await.expect(200);
    assert_eq!(rejected.field("status").as_deref(), Some("claimed"));
    assert!(
        rejected
            .field("rejection_grace_deadline")
            .is_some_and(|d| d != "null")
    );
    run(&app, &DELIVER, &worker_key, t).await.expect(200);
    let approved = run(&app, &APPROVE_RATED, &poster_key, t).await.expect(200);
    assert_eq!(approved.field("credits_charged").as_deref(), Some("12"));
    run(&app, &RATE, &worker_key, t).await.expect(201);
    let trust = run(&app, &TRUST, &poster_key, none).await.expect(200);
    assert!(trust.text.contains("trust_scores") && trust.text.contains(&worker_id));
    let stats = run(&app, &STATS, &worker_key, none).await.expect(200);
    assert_eq!(stats.field("total_earned").as_deref(), Some("11"));
    run(&app, &MINE, &poster_key, none).await.expect(200);

    // A task with a deadline; questions and a report on it.
    let urgent = run(&app, &CREATE_DEADLINE, &poster_key, none)
        .await
        .expect(201);
    assert!(
        urgent
            .field("deadline")
            .is_some_and(|d| d.starts_with("20"))
    );
    let urgent_id = urgent.field("task_id").unwrap();
    let u: &[(&str, &str)] = &[("TASK_ID", &urgent_id)];
    let asked = run(&app, &ASK, &worker_key, u).await.expect(201);
    let qa = asked.field("id").unwrap();
    let uq: &[(&str, &str)] = &[("TASK_ID", &urgent_id), ("QA_ID", &qa)];
    let answered = run(&app, &ANSWER, &poster_key, uq).await.expect(200);
    assert_eq!(
        answered.field("answer").as_deref(),
        Some("JSON lines, one object per line")
    );
    let qas = run(&app, &LIST_QUESTIONS, &worker_key, u).await.expect(200);
    assert!(
        qas.text
            .contains("What input format should the parser handle?")
    );
    let report = run(&app, &REPORT, &worker_key, u).await.expect(201);
    assert_eq!(report.field("status").as_deref(), Some("open"));

    // Search and batch pickup.
    let browse = run(&app, &BROWSE_SEARCH, &worker_key, none)
        .await
        .expect(200);
    assert_eq!(browse.field("total").as_deref(), Some("0"));
    run(&app, &PICKUP_SEARCH, &worker_key, none)
        .await
        .expect(204);
    run(&app, &BROWSE_BOTH, &worker_key, none).await.expect(200);
    let batch = run(&app, &BATCH, &worker_key, none).await.expect(200);
    assert!(batch.text.contains("total: 0"));

    // Profiles and the directory (JSON, as the examples ask).
    run(&app, &PATCH_GOOD_AT, &worker_key, none)
        .await
        .expect(200);
    let found = run(&app, &AGENTS_SEARCH, "", none).await.expect(200);
    assert!(found.content_type.starts_with("application/json"));
    assert_eq!(json_of(&found).await["total"], 0);
    let good = json_of(&run(&app, &AGENTS_MIN_REP, "", none).await.expect(200)).await;
    // The worker got a 5 and the poster a 4: both qualify.
    assert_eq!(good["total"], 2);
    let sorted = json_of(&run(&app, &AGENTS_SORTED, "", none).await.expect(200)).await;
    assert_eq!(sorted["agents"][0]["id"], worker_id.as_str());
    let profile = run(
        &app,
        &AGENT_PROFILE,
        "",
        &[("AGENT_ID", worker_id.as_str())],
    )
    .await
    .expect(200);
    let profile = json_of(&profile).await;
    assert!(
        profile
            .as_object()
            .unwrap()
            .contains_key("reputation_by_tag")
    );
    assert!(profile.get("credits").is_none());

    // Webhooks and infra agents.
    let hooked = run(&app, &REGISTER_WEBHOOK, "", none).await.expect(201);
    let hooked_key = hooked.field("api_key").unwrap();
    let patched = run(&app, &PATCH_WEBHOOK, &hooked_key, none)
        .await
        .expect(200);
    assert_eq!(
        patched.field("webhook_url").as_deref(),
        Some("https://myserver.com/hooks/pinchwork")
    );
    let infra = run(&app, &PATCH_INFRA, &hooked_key, none).await.expect(200);
    assert_eq!(infra.field("accepts_system_tasks").as_deref(), Some("true"));
    run(&app, &REGISTER_INFRA, "", none).await.expect(201);

    // Discovery.
    let caps = run(&app, &CAPABILITIES, "", none).await.expect(200);
    assert!(caps.text.contains("/v1/register"));
    let section = run(&app, &SKILL_SECTION, "", none).await.expect(200);
    assert!(section.text.starts_with("## Credits"));
    app.assert_conservation().await;
}

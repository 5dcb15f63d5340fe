//! The operator console (`/admin`): agents (search, profile, balance and
//! ledger, suspend, grant), tasks (filters, one task in full, reports),
//! failed webhook deliveries with "deliver again", and the cluster's health.
//! Suspend and grant call the same market operations as the admin API.

use askama::Template;
use axum::{
    Form,
    extract::{Path, Query, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Redirect, Response},
};
use pinchwork_common::{
    db::{self, agents::Agent, console, ledger, messages, questions, rate_limits, tasks::Task},
    domain::{Credits, TaskStatus},
    ids::{AgentId, TaskId},
};
use serde::Deserialize;

use super::{
    cluster::{self, Instance},
    page::{WebError, WebResult, render, render_with},
    public::{excerpt, when},
    session::{self, Operator, SESSION_COOKIE, SESSION_HOURS, SIGN_IN_COOKIE, Session, SignedIn},
};
use crate::{AppState, rate_limit::client_ip};

/// Failed sign-ins allowed per client IP and window.
const SIGN_IN_FAILURES: i64 = 10;
/// The window of failed sign-ins, in seconds.
const SIGN_IN_WINDOW_SECS: i64 = 15 * 60;

#[derive(Template)]
#[template(path = "console/sign_in.html")]
struct SignInPage {
    title: &'static str,
    csrf: String,
    message: Option<&'static str>,
}

#[derive(Template)]
#[template(path = "console/disabled.html")]
struct DisabledPage {
    title: &'static str,
}

/// The sign-in form with a fresh double-submit token (cookie and field).
fn sign_in_form(
    headers: &HeaderMap,
    status: StatusCode,
    message: Option<&'static str>,
) -> Response {
    let csrf = session::new_token();
    let mut response = render_with(
        status,
        &SignInPage {
            title: "Sign in — Pinchwork console",
            csrf: csrf.clone(),
            message,
        },
    );
    response.headers_mut().append(
        header::SET_COOKIE,
        session::set_cookie(headers, SIGN_IN_COOKIE, &csrf, 3600),
    );
    response
}

/// The page for an operator who is not signed in (or a disabled console).
fn gate(operator: Operator, headers: &HeaderMap) -> Result<Session, Box<Response>> {
    match operator {
        Operator::SignedIn(session) => Ok(session),
        Operator::SignedOut => Err(Box::new(sign_in_form(headers, StatusCode::OK, None))),
        Operator::Disabled => Err(Box::new(render_with(
            StatusCode::SERVICE_UNAVAILABLE,
            &DisabledPage {
                title: "Console disabled — Pinchwork",
            },
        ))),
    }
}

/// Runs a console page for a signed-in operator, or shows the gate.
macro_rules! signed_in {
    ($operator:expr, $headers:expr) => {
        match gate($operator, &$headers) {
            Ok(session) => session,
            Err(response) => return Ok(*response),
        }
    };
}

/// Form of `POST /admin/sign-in`.
#[derive(Debug, Deserialize)]
pub struct SignInForm {
    admin_key: Option<String>,
    csrf: Option<String>,
}

/// `POST /admin/sign-in`: the admin key starts a session. Failed attempts
/// are counted per client IP; past the limit every attempt is refused.
pub async fn sign_in(
    State(state): State<AppState>,
    headers: HeaderMap,
    request_ext: axum::http::Extensions,
    Form(form): Form<SignInForm>,
) -> WebResult {
    let Some(expected) = session::admin_key(&state.market.config) else {
        return Err(session::disabled());
    };
    let double_submit = session::cookie(&headers, SIGN_IN_COOKIE);
    let csrf_ok = matches!((double_submit, form.csrf.as_deref()),
        (Some(cookie), Some(field)) if session::same_secret(field, cookie));
    if !csrf_ok {
        return Err(WebError::Forbidden(
            "The form's security token is missing or wrong; reload the page and try again.".into(),
        ));
    }
    let pool = &state.market.pool;
    let bucket = format!(
        "console_sign_in:{}",
        client_ip(&headers, &request_ext, &state.market.config.trusted_proxies,)
    );
    if rate_limits::current(pool, &bucket, SIGN_IN_WINDOW_SECS).await? >= SIGN_IN_FAILURES {
        return Ok(sign_in_form(
            &headers,
            StatusCode::TOO_MANY_REQUESTS,
            Some("Too many failed sign-ins from your address; wait 15 minutes."),
        ));
    }
    let given = form.admin_key.unwrap_or_default();
    if !session::same_secret(given.trim(), expected) {
        rate_limits::hit(pool, &bucket, SIGN_IN_WINDOW_SECS, 1).await?;
        tracing::warn!("console sign-in with a wrong admin key");
        return Ok(sign_in_form(
            &headers,
            StatusCode::FORBIDDEN,
            Some("That is not the admin key."),
        ));
    }
    let token = session::new_token();
    console::insert_session(
        pool,
        &pinchwork_common::ids::hash_api_key(&token),
        &session::new_token(),
        SESSION_HOURS,
    )
    .await?;
    let mut response = Redirect::to("/admin").into_response();
    let cookies = response.headers_mut();
    cookies.append(
        header::SET_COOKIE,
        session::set_cookie(
            &headers,
            SESSION_COOKIE,
            &token,
            i64::from(SESSION_HOURS) * 3600,
        ),
    );
    cookies.append(
        header::SET_COOKIE,
        session::set_cookie(&headers, SIGN_IN_COOKIE, "", 0),
    );
    Ok(response)
}

/// A form that only carries the CSRF token.
#[derive(Debug, Deserialize)]
pub struct CsrfForm {
    csrf: Option<String>,
}

/// `POST /admin/sign-out`: ends the session.
pub async fn sign_out(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> WebResult {
    session.check_csrf(form.csrf.as_deref())?;
    console::delete_session(&state.market.pool, &session.token_hash).await?;
    let mut response = Redirect::to("/admin").into_response();
    response.headers_mut().append(
        header::SET_COOKIE,
        session::set_cookie(&headers, SESSION_COOKIE, "", 0),
    );
    Ok(response)
}

/// A one-line confirmation after an action (`?done=`), from a fixed list.
fn flash(done: Option<&str>) -> Option<&'static str> {
    Some(match done? {
        "granted" => "Credits granted.",
        "suspended" => "Agent suspended.",
        "unsuspended" => "Agent reinstated.",
        "redelivered" => "Delivery queued again.",
        _ => return None,
    })
}

#[derive(Template)]
#[template(path = "console/home.html")]
struct HomePage {
    title: &'static str,
    csrf: String,
    figures: db::public::Figures,
    open_reports: usize,
    failed_deliveries: usize,
}

/// `GET /admin`: the overview.
pub async fn home(
    State(state): State<AppState>,
    operator: Operator,
    headers: HeaderMap,
) -> WebResult {
    let session = signed_in!(operator, headers);
    let pool = &state.market.pool;
    let figures = db::public::figures(pool, &state.market.config.platform_agent_id).await?;
    let open_reports = console::open_reports(pool, 100).await?.len();
    let failed_deliveries = console::failed_deliveries(pool, None, 100).await?.len();
    Ok(render(&HomePage {
        title: "Console — Pinchwork",
        csrf: session.csrf,
        figures,
        open_reports,
        failed_deliveries,
    }))
}

/// Query of the agent search.
#[derive(Debug, Deserialize)]
pub struct AgentSearch {
    q: Option<String>,
}

struct AgentLine {
    id: String,
    name: String,
    credits: i64,
    reputation: String,
    suspended: bool,
    created: String,
}

impl From<&Agent> for AgentLine {
    fn from(a: &Agent) -> Self {
        Self {
            id: a.id.to_string(),
            name: a.name.clone(),
            credits: a.credits.get(),
            reputation: format!("{:.2}", a.reputation),
            suspended: a.suspended,
            created: when(&a.created_at),
        }
    }
}

#[derive(Template)]
#[template(path = "console/agents.html")]
struct AgentsPage {
    title: &'static str,
    csrf: String,
    q: String,
    agents: Vec<AgentLine>,
}

/// `GET /admin/agents?q=`: search by id, name or skills.
pub async fn agents(
    State(state): State<AppState>,
    operator: Operator,
    headers: HeaderMap,
    Query(search): Query<AgentSearch>,
) -> WebResult {
    let session = signed_in!(operator, headers);
    let q = search.q.unwrap_or_default().trim().to_string();
    let found = console::search_agents(&state.market.pool, &q, 100).await?;
    Ok(render(&AgentsPage {
        title: "Agents — Pinchwork console",
        csrf: session.csrf,
        q,
        agents: found.iter().map(AgentLine::from).collect(),
    }))
}

struct LedgerLine {
    amount: i64,
    reason: String,
    task_id: String,
    at: String,
}

struct DeliveryLine {
    id: i64,
    agent_id: String,
    event_type: String,
    task_id: String,
    status: String,
    attempts: i32,
    last_error: String,
    at: String,
}

impl From<&console::Delivery> for DeliveryLine {
    fn from(d: &console::Delivery) -> Self {
        Self {
            id: d.id,
            agent_id: d.agent_id.clone(),
            event_type: d.event_type.clone(),
            task_id: d.task_id.clone().unwrap_or_default(),
            status: d.status.clone(),
            attempts: d.attempts,
            last_error: excerpt(d.last_error.as_deref().unwrap_or(""), 120),
            at: when(&d.created_at),
        }
    }
}

#[derive(Template)]
#[template(path = "console/agent.html")]
struct AgentPage {
    title: String,
    csrf: String,
    flash: Option<&'static str>,
    agent: Agent,
    created: String,
    escrow: i64,
    ledger_total: i64,
    ledger: Vec<LedgerLine>,
    deliveries: Vec<DeliveryLine>,
}

/// Query of pages that show a confirmation.
#[derive(Debug, Deserialize)]
pub struct Done {
    done: Option<String>,
}

/// `GET /admin/agents/{id}`: profile, balance, ledger, actions, failed deliveries.
pub async fn agent(
    State(state): State<AppState>,
    operator: Operator,
    headers: HeaderMap,
    Path(agent_id): Path<AgentId>,
    Query(done): Query<Done>,
) -> WebResult {
    let session = signed_in!(operator, headers);
    let pool = &state.market.pool;
    let agent = db::agents::get(pool, &agent_id)
        .await?
        .ok_or_else(|| WebError::NotFound("No such agent.".into()))?;
    let escrow = ledger::escrowed_by(pool, &agent.id).await?;
    let (entries, ledger_total) = ledger::page(pool, &agent.id, 50, 0).await?;
    let failed = console::failed_deliveries(pool, Some(&agent.id), 50).await?;
    Ok(render(&AgentPage {
        title: format!("{} — Pinchwork console", agent.name),
        csrf: session.csrf,
        flash: flash(done.done.as_deref()),
        created: when(&agent.created_at),
        escrow: escrow.get(),
        ledger_total,
        ledger: entries
            .iter()
            .map(|e| LedgerLine {
                amount: e.amount.get(),
                reason: e.reason.clone(),
                task_id: e.task_id.clone().unwrap_or_default(),
                at: when(&e.created_at),
            })
            .collect(),
        deliveries: failed.iter().map(DeliveryLine::from).collect(),
        agent,
    }))
}

/// Form of `POST /admin/agents/{id}/suspend`.
#[derive(Debug, Deserialize)]
pub struct SuspendForm {
    csrf: Option<String>,
    suspended: Option<String>,
    reason: Option<String>,
}

/// `POST /admin/agents/{id}/suspend`: suspend or reinstate (the admin API's operation).
pub async fn suspend(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    Path(agent_id): Path<AgentId>,
    Form(form): Form<SuspendForm>,
) -> WebResult {
    session.check_csrf(form.csrf.as_deref())?;
    let suspended = match form.suspended.as_deref() {
        Some("true") => true,
        Some("false") => false,
        _ => {
            return Err(WebError::BadRequest(
                "suspended must be true or false".into(),
            ));
        }
    };
    let reason = form.reason.filter(|r| !r.trim().is_empty());
    state
        .market
        .suspend(&agent_id, suspended, reason.as_deref())
        .await?;
    let done = if suspended {
        "suspended"
    } else {
        "unsuspended"
    };
    Ok(Redirect::to(&format!("/admin/agents/{agent_id}?done={done}")).into_response())
}

/// Form of `POST /admin/agents/{id}/grant`.
#[derive(Debug, Deserialize)]
pub struct GrantForm {
    csrf: Option<String>,
    amount: Option<String>,
    reason: Option<String>,
}

/// `POST /admin/agents/{id}/grant`: mint credits (the admin API's operation, same ledger row).
pub async fn grant(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    Path(agent_id): Path<AgentId>,
    Form(form): Form<GrantForm>,
) -> WebResult {
    session.check_csrf(form.csrf.as_deref())?;
    let amount: i64 = form
        .amount
        .as_deref()
        .map(str::trim)
        .and_then(|a| a.parse().ok())
        .ok_or_else(|| WebError::BadRequest("amount must be a whole number".into()))?;
    let reason = form.reason.as_deref().map(str::trim);
    state
        .market
        .grant(&agent_id, Credits::new(amount), reason)
        .await?;
    Ok(Redirect::to(&format!("/admin/agents/{agent_id}?done=granted")).into_response())
}

/// Query of the task list.
#[derive(Debug, Deserialize)]
pub struct TaskFilter {
    status: Option<String>,
    tag: Option<String>,
}

struct TaskLine {
    id: String,
    need: String,
    status: &'static str,
    kind: String,
    tags: String,
    credits: i64,
    poster_id: String,
    created: String,
}

impl From<&Task> for TaskLine {
    fn from(t: &Task) -> Self {
        Self {
            id: t.id.to_string(),
            need: excerpt(&t.need, 100),
            status: t.status.as_str(),
            kind: t
                .system_task_type
                .map_or_else(|| "regular".into(), |k| k.as_str().to_string()),
            tags: t.tags.join(", "),
            credits: t.max_credits.get(),
            poster_id: t.poster_id.to_string(),
            created: when(&t.created_at),
        }
    }
}

#[derive(Template)]
#[template(path = "console/tasks.html")]
struct TasksPage {
    title: &'static str,
    csrf: String,
    status: String,
    tag: String,
    statuses: Vec<&'static str>,
    tasks: Vec<TaskLine>,
}

/// `GET /admin/tasks?status=&tag=`: every task, newest first.
pub async fn tasks(
    State(state): State<AppState>,
    operator: Operator,
    headers: HeaderMap,
    Query(filter): Query<TaskFilter>,
) -> WebResult {
    let session = signed_in!(operator, headers);
    let status = filter.status.filter(|s| !s.is_empty());
    if let Some(s) = &status {
        s.parse::<TaskStatus>()
            .map_err(|_| WebError::BadRequest(format!("Unknown status: {s}")))?;
    }
    let tag = filter
        .tag
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty());
    let found =
        console::search_tasks(&state.market.pool, status.as_deref(), tag.as_deref(), 100).await?;
    Ok(render(&TasksPage {
        title: "Tasks — Pinchwork console",
        csrf: session.csrf,
        status: status.unwrap_or_default(),
        tag: tag.unwrap_or_default(),
        statuses: TaskStatus::ALL.iter().map(|s| s.as_str()).collect(),
        tasks: found.iter().map(TaskLine::from).collect(),
    }))
}

struct Line {
    who: String,
    text: String,
    at: String,
}

#[derive(Template)]
#[template(path = "console/task.html")]
struct TaskPage {
    title: String,
    csrf: String,
    task: Task,
    status: &'static str,
    kind: String,
    created: String,
    messages: Vec<Line>,
    questions: Vec<(Line, Option<String>)>,
    ledger: Vec<(String, LedgerLine)>,
    deliveries: Vec<DeliveryLine>,
}

/// `GET /admin/tasks/{id}`: everything about one task.
pub async fn task(
    State(state): State<AppState>,
    operator: Operator,
    headers: HeaderMap,
    Path(task_id): Path<TaskId>,
) -> WebResult {
    let session = signed_in!(operator, headers);
    let pool = &state.market.pool;
    let task = db::tasks::get(pool, &task_id)
        .await?
        .ok_or_else(|| WebError::NotFound("No such task.".into()))?;
    let thread = messages::list(pool, &task.id).await?;
    let asked = questions::list(pool, &task.id).await?;
    let rows = console::task_ledger(pool, &task.id).await?;
    let deliveries = console::task_deliveries(pool, &task.id).await?;
    Ok(render(&TaskPage {
        title: format!("Task {} — Pinchwork console", task.id),
        csrf: session.csrf,
        status: task.status.as_str(),
        kind: task
            .system_task_type
            .map_or_else(|| "regular".into(), |k| k.as_str().to_string()),
        created: when(&task.created_at),
        messages: thread
            .into_iter()
            .map(|m| Line {
                who: m.sender_id.into(),
                text: m.message,
                at: when(&m.created_at),
            })
            .collect(),
        questions: asked
            .into_iter()
            .map(|q| {
                (
                    Line {
                        who: q.asker_id.into(),
                        text: q.question,
                        at: when(&q.created_at),
                    },
                    q.answer,
                )
            })
            .collect(),
        ledger: rows
            .into_iter()
            .map(|(agent, e)| {
                (
                    agent,
                    LedgerLine {
                        amount: e.amount.get(),
                        reason: e.reason,
                        task_id: String::new(),
                        at: when(&e.created_at),
                    },
                )
            })
            .collect(),
        deliveries: deliveries.iter().map(DeliveryLine::from).collect(),
        task,
    }))
}

struct ReportLine {
    task_id: String,
    need: String,
    reporter_id: String,
    reason: String,
    at: String,
}

#[derive(Template)]
#[template(path = "console/reports.html")]
struct ReportsPage {
    title: &'static str,
    csrf: String,
    reports: Vec<ReportLine>,
}

/// `GET /admin/reports`: the open reports, oldest first.
pub async fn reports(
    State(state): State<AppState>,
    operator: Operator,
    headers: HeaderMap,
) -> WebResult {
    let session = signed_in!(operator, headers);
    let open = console::open_reports(&state.market.pool, 200).await?;
    Ok(render(&ReportsPage {
        title: "Reports — Pinchwork console",
        csrf: session.csrf,
        reports: open
            .into_iter()
            .map(|r| ReportLine {
                task_id: r.task_id,
                need: excerpt(&r.need, 100),
                reporter_id: r.reporter_id,
                reason: r.reason,
                at: when(&r.created_at),
            })
            .collect(),
    }))
}

/// Query of the failed deliveries page.
#[derive(Debug, Deserialize)]
pub struct WebhookFilter {
    agent: Option<String>,
    done: Option<String>,
}

#[derive(Template)]
#[template(path = "console/webhooks.html")]
struct WebhooksPage {
    title: &'static str,
    csrf: String,
    flash: Option<&'static str>,
    agent: String,
    deliveries: Vec<DeliveryLine>,
}

/// `GET /admin/webhooks?agent=`: failed deliveries, newest first.
pub async fn webhooks(
    State(state): State<AppState>,
    operator: Operator,
    headers: HeaderMap,
    Query(filter): Query<WebhookFilter>,
) -> WebResult {
    let session = signed_in!(operator, headers);
    let agent = filter
        .agent
        .map(|a| AgentId::from(a.trim()))
        .filter(|a| !a.is_empty());
    let failed = console::failed_deliveries(&state.market.pool, agent.as_ref(), 200).await?;
    Ok(render(&WebhooksPage {
        title: "Failed webhooks — Pinchwork console",
        csrf: session.csrf,
        flash: flash(filter.done.as_deref()),
        agent: agent.map(String::from).unwrap_or_default(),
        deliveries: failed.iter().map(DeliveryLine::from).collect(),
    }))
}

/// `POST /admin/webhooks/{id}/redeliver`: queue a failed delivery again.
pub async fn redeliver(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    Path(delivery_id): Path<i64>,
    Form(form): Form<CsrfForm>,
) -> WebResult {
    session.check_csrf(form.csrf.as_deref())?;
    if !console::redeliver(&state.market.pool, delivery_id).await? {
        return Err(WebError::BadRequest(
            "That delivery is not failed (already queued again or delivered).".into(),
        ));
    }
    Ok(Redirect::to("/admin/webhooks?done=redelivered").into_response())
}

#[derive(Template)]
#[template(path = "console/cluster.html")]
struct ClusterPage {
    title: &'static str,
    csrf: String,
    instances: Vec<Instance>,
}

/// `GET /admin/cluster`: every configured instance, read live.
pub async fn cluster(
    State(state): State<AppState>,
    operator: Operator,
    headers: HeaderMap,
) -> WebResult {
    let session = signed_in!(operator, headers);
    let instances = cluster::read_all(&state.market.config.console_services.0).await;
    Ok(render(&ClusterPage {
        title: "Cluster — Pinchwork console",
        csrf: session.csrf,
        instances,
    }))
}

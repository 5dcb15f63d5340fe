//! Routing work to agents: the matcher's command handlers, the built-in
//! matcher (run inside create when no infra agent routes the task, and by the
//! matcher for tasks left pending), system-task spawning and the processing
//! of infra agents' results.
//!
//! Every handler is idempotent: it locks the row it decides about and checks
//! that the decision is still open, and the unique indexes of migration 0005
//! refuse a second system task, so redelivered commands and concurrent matcher
//! instances change nothing the second time.

use std::collections::HashSet;

use serde_json::{Value, json};
use sqlx::PgConnection;

use super::Market;
use crate::{
    Config, Error, Result,
    db::{
        agents,
        matching::{self, Candidate, NewSystemTask, TermCandidate},
        tasks::{self, Task},
    },
    domain::{Credits, SystemTaskType},
    ids::{AgentId, TaskId},
};

/// Agents the built-in matcher keeps per task.
pub const BUILTIN_TOP: usize = 5;
/// Candidates listed in a match_agents prompt (best reputation first).
const PROMPT_CANDIDATES: i64 = 200;
/// Candidates the built-in matcher scores: the best-rated agents sharing a
/// term with the task, found through the `match_terms` index.
const BUILTIN_CANDIDATES: i64 = 200;
/// Agent ids read from a match result.
const MAX_RANKED: usize = 20;
/// Longest tag kept from a system-task result.
const MAX_RESULT_TAG_LEN: usize = 50;
/// Shortest word that counts for keyword overlap.
const MIN_KEYWORD_LEN: usize = 3;
/// Prefix of a match term made from a keyword (of good_at, or of a task's need and tags).
const WORD_TERM: &str = "w:";
/// Prefix of a match term made from a lower-cased tag.
const TAG_TERM: &str = "t:";
/// Agents whose match terms the sweep computes per transaction.
pub const TERMS_BATCH: i64 = 500;

/// Words too common to say anything about a skill.
const STOP_WORDS: &[&str] = &[
    "about", "after", "all", "also", "and", "any", "are", "but", "can", "could", "did", "does",
    "for", "from", "get", "good", "had", "has", "have", "help", "her", "his", "how", "into", "its",
    "just", "like", "make", "more", "most", "need", "not", "now", "off", "one", "only", "other",
    "our", "out", "please", "some", "such", "than", "that", "the", "their", "them", "then",
    "there", "these", "they", "this", "those", "too", "use", "using", "very", "want", "was", "way",
    "well", "were", "what", "when", "where", "which", "who", "why", "will", "with", "work",
    "would", "you", "your",
];

/// What the matcher did with a `task_created` command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MatchOutcome {
    /// The task was already routed (or is gone): nothing changed.
    AlreadyHandled,
    /// A match_agents system task was posted for infra agents.
    SystemTaskSpawned,
    /// The built-in matcher matched these agents, best first.
    Matched(Vec<AgentId>),
    /// Nobody fits: the task is open to everyone.
    Broadcast,
}

impl Market {
    /// Routes a pending task once: a match_agents system task when infra
    /// agents exist, otherwise the built-in matcher (≤5 match rows, or broadcast).
    /// Create routes a task itself when no infra agent exists, so this runs for
    /// tasks created while one did (the command) and for pending leftovers (the sweep).
    #[tracing::instrument(skip(self))]
    pub async fn handle_task_created(&self, task_id: &TaskId) -> Result<MatchOutcome> {
        let mut tx = self.pool.begin().await?;
        let Some(task) = matching::lock_unrouted(&mut tx, task_id).await? else {
            return Ok(MatchOutcome::AlreadyHandled);
        };
        let platform = &self.config.platform_agent_id;
        let outcome = if infra_matches(&mut tx, &self.config, task.private).await? {
            let candidates =
                matching::candidates(&mut *tx, platform, &task.poster_id, PROMPT_CANDIDATES)
                    .await?;
            let need = match_prompt(&task, &candidates);
            let spawned = matching::insert_system_task(
                &mut tx,
                &NewSystemTask {
                    id: &TaskId::generate(),
                    platform_id: platform,
                    kind: SystemTaskType::MatchAgents,
                    need: &need,
                    context: None,
                    credits: Credits::new(self.config.match_credits),
                    parent_task_id: Some(&task.id),
                    target_agent_id: None,
                    expire_hours: self.config.task_expire_hours,
                },
            )
            .await?;
            if !spawned {
                return Ok(MatchOutcome::AlreadyHandled);
            }
            MatchOutcome::SystemTaskSpawned
        } else {
            route_builtin(&mut tx, &self.config, &task).await?
        };
        tx.commit().await?;
        self.published_soon();
        Ok(outcome)
    }

    /// Spawns a capability extraction for an agent whose good_at changed, when
    /// infra agents exist and the agent is not one; an empty good_at clears the
    /// tags instead. Returns whether a system task was posted.
    #[tracing::instrument(skip(self))]
    pub async fn handle_profile_changed(&self, agent_id: &AgentId) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        // Serialises concurrent handlers for the same agent.
        let Some(agent) = matching::lock_agent(&mut tx, agent_id).await? else {
            return Ok(false);
        };
        let platform = &self.config.platform_agent_id;
        if agent.is_infra() || agent.id == *platform {
            return Ok(false);
        }
        let good_at = agent.good_at.as_deref().unwrap_or("").trim();
        if good_at.is_empty() {
            matching::set_capability_tags(&mut tx, &agent.id, None).await?;
            tx.commit().await?;
            self.published_soon();
            return Ok(false);
        }
        if !agents::infra_agents_exist(&mut *tx, platform).await? {
            return Ok(false);
        }
        let need = extract_prompt(&agent.id, good_at);
        matching::cancel_stale_extractions(&mut tx, &agent.id, &need).await?;
        let spawned = matching::insert_system_task(
            &mut tx,
            &NewSystemTask {
                id: &TaskId::generate(),
                platform_id: platform,
                kind: SystemTaskType::ExtractCapabilities,
                need: &need,
                context: Some(&json!({ "target_agent_id": agent.id }).to_string()),
                credits: Credits::new(self.config.capability_extract_credits),
                parent_task_id: None,
                target_agent_id: Some(&agent.id),
                expire_hours: self.config.task_expire_hours,
            },
        )
        .await?;
        tx.commit().await?;
        self.published_soon();
        Ok(spawned)
    }

    /// Computes the match terms of up to `batch` agents that have none yet
    /// (all of them after migration 0015, or after a write that bypassed
    /// [`agent_terms`]); returns how many were written.
    pub async fn index_match_terms(&self, batch: i64) -> Result<usize> {
        let mut tx = self.pool.begin().await?;
        let agents = matching::agents_without_terms(&mut tx, batch).await?;
        for agent in &agents {
            let terms = agent_terms(agent.good_at.as_deref(), agent.capability_tags.as_deref());
            matching::set_match_terms(&mut tx, &agent.id, &terms).await?;
        }
        tx.commit().await?;
        Ok(agents.len())
    }

    /// Handles every task still waiting for routing (the safety net for
    /// commands that never reached NATS); returns how many were routed now.
    pub async fn route_unrouted(&self, batch: i64) -> Result<usize> {
        let mut routed = 0;
        for id in matching::unrouted_tasks(&self.pool, batch).await? {
            if self.handle_task_created(&id).await? != MatchOutcome::AlreadyHandled {
                routed += 1;
            }
        }
        Ok(routed)
    }
}

/// Whether a pending regular task is routed by infra agents (a match_agents
/// system task) rather than by the built-in matcher: it is not private (no
/// infra agent reads a private task) and some infra agent exists.
pub(super) async fn infra_matches(
    conn: &mut PgConnection,
    config: &Config,
    private: bool,
) -> Result<bool> {
    Ok(!private && agents::infra_agents_exist(&mut *conn, &config.platform_agent_id).await?)
}

/// Routes a pending regular task with the built-in matcher in the caller's
/// transaction: match rows for the best-fitting agents and `matched`, or
/// `broadcast`. Run by the matcher for a task left pending (infra agents
/// gone, or a command that never arrived); create decides the same before it
/// inserts the task ([`builtin_match_new`]).
pub(super) async fn route_builtin(
    conn: &mut PgConnection,
    config: &Config,
    task: &Task,
) -> Result<MatchOutcome> {
    let ranked = builtin_match(conn, &config.platform_agent_id, task).await?;
    route(conn, config, &task.id, &ranked, None).await?;
    Ok(if ranked.is_empty() {
        MatchOutcome::Broadcast
    } else {
        MatchOutcome::Matched(ranked)
    })
}

/// Writes the routing decision for a locked pending task: match rows ranked
/// 0.. and `matched`, or `broadcast` when `ranked` is empty. Returns false
/// (and writes nothing) when the task is no longer pending.
async fn route(
    conn: &mut PgConnection,
    config: &Config,
    task_id: &TaskId,
    ranked: &[AgentId],
    extracted_tags: Option<&[String]>,
) -> Result<bool> {
    let applied = matching::set_routed(
        conn,
        task_id,
        !ranked.is_empty(),
        extracted_tags,
        config.match_timeout_seconds,
    )
    .await?;
    if applied {
        insert_matches(conn, task_id, ranked).await?;
    }
    Ok(applied)
}

/// The match rows of a routed task, ranked 0.. in `ranked`'s order.
pub(super) async fn insert_matches(
    conn: &mut PgConnection,
    task_id: &TaskId,
    ranked: &[AgentId],
) -> Result<()> {
    tasks::insert_matches(conn, task_id, ranked, 0).await?;
    Ok(())
}

/// Spawns the verification of a regular, non-private delivery, replacing a
/// stale one from an earlier delivery. Runs in the deliver transaction, which
/// calls it when infra agents exist (read by its delivery statement).
pub(super) async fn spawn_verification(
    conn: &mut PgConnection,
    config: &Config,
    task: &Task,
) -> Result<()> {
    if task.private {
        return Ok(());
    }
    matching::cancel_open_verifications(conn, &task.id).await?;
    matching::insert_system_task(
        conn,
        &NewSystemTask {
            id: &TaskId::generate(),
            platform_id: &config.platform_agent_id,
            kind: SystemTaskType::VerifyCompletion,
            need: &verify_prompt(task),
            context: None,
            credits: Credits::new(config.verify_credits),
            parent_task_id: Some(&task.id),
            target_agent_id: None,
            expire_hours: config.task_expire_hours,
        },
    )
    .await?;
    matching::set_verification_pending(conn, &task.id, config.verification_timeout_seconds).await?;
    Ok(())
}

/// Validates a delivered system task's result and applies it to its parent or
/// target, inside the deliver transaction and before the payout. A malformed
/// result is a 400 (the caller rolls back, so the task stays claimed); a
/// valid result for a parent that moved on is ignored, and still paid.
pub(super) async fn apply_system_result(
    conn: &mut PgConnection,
    config: &Config,
    task: &Task,
) -> Result<()> {
    let raw = task.result.as_deref().unwrap_or_default();
    let body = parse_object(raw)?;
    match task.system_task_type {
        Some(SystemTaskType::MatchAgents) => apply_match(conn, config, task, &body).await,
        Some(SystemTaskType::VerifyCompletion) => apply_verification(conn, task, &body).await,
        Some(SystemTaskType::ExtractCapabilities) => {
            apply_extraction(conn, config, task, &body).await
        }
        None => Ok(()),
    }
}

async fn apply_match(
    conn: &mut PgConnection,
    config: &Config,
    task: &Task,
    body: &Value,
) -> Result<()> {
    let ranked: Vec<AgentId> = string_list(body, "ranked_agents")?
        .into_iter()
        .map(AgentId::from)
        .collect();
    let tags = match body.get("extracted_tags") {
        None | Some(Value::Null) => None,
        Some(_) => Some(normalize_tags(
            &string_list(body, "extracted_tags")?,
            config.max_extracted_tags,
        )?),
    };
    let mut seen = HashSet::new();
    let ranked: Vec<AgentId> = ranked
        .into_iter()
        .filter(|id| seen.insert(id.clone()))
        .take(MAX_RANKED)
        .collect();
    let unknown = matching::unknown_agents(&mut *conn, &ranked, &config.platform_agent_id).await?;
    if !unknown.is_empty() {
        return Err(Error::bad_request(format!(
            "Invalid match result: unknown agent ids {}",
            unknown
                .iter()
                .map(AgentId::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let Some(parent_id) = task.parent_task_id.as_ref() else {
        return Ok(());
    };
    // Lock the parent, so the match timeout cannot interleave.
    let Some(parent) = matching::lock_task(conn, parent_id).await? else {
        return Ok(());
    };
    // Nobody can work on their own task, on one they did system work for, or while suspended.
    let suspended = matching::suspended_agents(&mut *conn, &ranked).await?;
    let worker = task.worker()?;
    let ranked: Vec<AgentId> = ranked
        .into_iter()
        .filter(|id| *id != parent.poster_id && id != worker && !suspended.contains(id))
        .collect();
    route(conn, config, &parent.id, &ranked, tags.as_deref()).await?;
    Ok(())
}

async fn apply_verification(conn: &mut PgConnection, task: &Task, body: &Value) -> Result<()> {
    let Some(passed) = body.get("meets_requirements").and_then(Value::as_bool) else {
        return Err(Error::bad_request(
            "Invalid verification result: 'meets_requirements' must be true or false",
        ));
    };
    let explanation = match body.get("explanation") {
        Some(Value::String(s)) => s.clone(),
        None | Some(Value::Null) => String::new(),
        Some(_) => {
            return Err(Error::bad_request(
                "Invalid verification result: 'explanation' must be a string",
            ));
        }
    };
    if let Some(parent) = task.parent_task_id.as_ref() {
        let verdict = json!({ "meets_requirements": passed, "explanation": explanation });
        matching::record_verification(conn, parent, passed, &verdict.to_string()).await?;
    }
    Ok(())
}

async fn apply_extraction(
    conn: &mut PgConnection,
    config: &Config,
    task: &Task,
    body: &Value,
) -> Result<()> {
    let Some(target) = task.target_agent_id.as_ref() else {
        return Ok(());
    };
    match body.get("agent_id") {
        None | Some(Value::Null) => {}
        Some(Value::String(id)) if id == target => {}
        Some(_) => {
            return Err(Error::bad_request(format!(
                "Invalid extraction result: 'agent_id' must be {target}, the agent this task is about"
            )));
        }
    }
    let tags = normalize_tags(&string_list(body, "tags")?, config.max_extracted_tags)?;
    matching::set_capability_tags(conn, target, Some(&tags)).await?;
    Ok(())
}

/// The result as a JSON object, or a 400 naming what is wrong.
fn parse_object(raw: &str) -> Result<Value> {
    match serde_json::from_str::<Value>(raw) {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(_) => Err(Error::bad_request(
            "Invalid system task result: expected a JSON object",
        )),
        Err(e) => Err(Error::bad_request(format!(
            "Invalid system task result: not valid JSON ({e})"
        ))),
    }
}

/// A required list of strings.
fn string_list(body: &Value, field: &str) -> Result<Vec<String>> {
    let bad = || {
        Error::bad_request(format!(
            "Invalid system task result: '{field}' must be a list of strings"
        ))
    };
    let list = body.get(field).and_then(Value::as_array).ok_or_else(bad)?;
    let strings = list
        .iter()
        .map(|v| v.as_str().map(str::to_string))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(bad)?;
    Ok(strings)
}

/// Lower-cases, trims, joins inner whitespace with '-', drops empties and
/// duplicates and keeps the first `max`; an over-long tag is a 400.
fn normalize_tags(tags: &[String], max: usize) -> Result<Vec<String>> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for tag in tags {
        let tag = tag
            .split_whitespace()
            .collect::<Vec<_>>()
            .join("-")
            .to_lowercase();
        if tag.is_empty() || !seen.insert(tag.clone()) {
            continue;
        }
        if tag.chars().count() > MAX_RESULT_TAG_LEN {
            return Err(Error::bad_request(format!(
                "Invalid system task result: tag longer than {MAX_RESULT_TAG_LEN} characters"
            )));
        }
        out.push(tag);
        if out.len() == max {
            break;
        }
    }
    Ok(out)
}

/// Meaningful lower-case words of a text: split on anything but letters and
/// digits, at least three characters, stop-words dropped.
pub fn keywords(text: &str) -> HashSet<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() >= MIN_KEYWORD_LEN)
        .map(str::to_lowercase)
        .filter(|w| !STOP_WORDS.contains(&w.as_str()))
        .collect()
}

/// What a task is compared with: its tags and extracted tags lower-cased, and
/// the keywords of its need and of those tags.
struct TaskTerms {
    tags: HashSet<String>,
    words: HashSet<String>,
}

impl TaskTerms {
    fn of(task: &Task) -> Self {
        Self::new(&task.need, task.tags.iter().chain(&task.extracted_tags))
    }

    fn new<'a>(need: &str, tags: impl IntoIterator<Item = &'a String>) -> Self {
        let tags: HashSet<String> = tags.into_iter().map(|t| t.to_lowercase()).collect();
        let mut words = keywords(need);
        words.extend(tags.iter().flat_map(|t| keywords(t)));
        Self { tags, words }
    }

    /// The index terms: an agent shares one exactly when its relevance is > 0.
    fn index_terms(&self) -> Vec<String> {
        let words = self.words.iter().map(|w| format!("{WORD_TERM}{w}"));
        let tags = self.tags.iter().map(|t| format!("{TAG_TERM}{t}"));
        words.chain(tags).collect()
    }
}

/// The match terms of an agent's good_at: `w:` and each keyword.
pub fn good_at_terms(good_at: Option<&str>) -> Vec<String> {
    let mut terms: Vec<String> = keywords(good_at.unwrap_or_default())
        .into_iter()
        .map(|w| format!("{WORD_TERM}{w}"))
        .collect();
    terms.sort();
    terms
}

/// The match terms of an agent's capability tags: `t:` and each tag lower-cased.
pub fn tag_terms(tags: &[String]) -> Vec<String> {
    let mut terms: Vec<String> = tags
        .iter()
        .map(|t| format!("{TAG_TERM}{}", t.to_lowercase()))
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    terms.sort();
    terms
}

/// All match terms of an agent (stored in `agents.match_terms`).
pub fn agent_terms(good_at: Option<&str>, capability_tags: Option<&[String]>) -> Vec<String> {
    let mut terms = good_at_terms(good_at);
    terms.extend(tag_terms(capability_tags.unwrap_or_default()));
    terms
}

/// The built-in matcher for a locked task: the agents sharing a term with it
/// (bounded, best reputation first) ranked by [`rank`].
async fn builtin_match(
    conn: &mut PgConnection,
    platform_id: &AgentId,
    task: &Task,
) -> Result<Vec<AgentId>> {
    builtin_match_terms(conn, platform_id, &task.poster_id, &TaskTerms::of(task)).await
}

/// The built-in matcher's choice for a task not inserted yet (create routes
/// before it inserts, so that the row is written once, already routed): the
/// agents to match, best first; empty means broadcast.
pub(super) async fn builtin_match_new(
    conn: &mut PgConnection,
    platform_id: &AgentId,
    poster_id: &AgentId,
    need: &str,
    tags: &[String],
) -> Result<Vec<AgentId>> {
    builtin_match_terms(conn, platform_id, poster_id, &TaskTerms::new(need, tags)).await
}

async fn builtin_match_terms(
    conn: &mut PgConnection,
    platform_id: &AgentId,
    poster_id: &AgentId,
    terms: &TaskTerms,
) -> Result<Vec<AgentId>> {
    let terms = terms.index_terms();
    let candidates =
        matching::builtin_candidates(conn, platform_id, poster_id, &terms, BUILTIN_CANDIDATES)
            .await?;
    Ok(rank(&terms, &candidates))
}

/// What a shared match term weighs in the relevance: a tag 2, a keyword 1.
fn term_weight(term: &str) -> usize {
    if term.starts_with(TAG_TERM) { 2 } else { 1 }
}

/// The built-in ranking: `2 × tag overlap + keyword overlap`, and only agents
/// with some overlap qualify; reputation (×0.5) then decides among them, so a
/// well-rated agent is not matched to work it never claimed to do. The
/// overlap is that of match terms ([`agent_terms`] and the task's
/// [`TaskTerms::index_terms`]): a shared `t:` term is a shared tag, a shared `w:` term a shared
/// keyword. The best [`BUILTIN_TOP`]; ties keep the candidates' order.
///
/// `candidates` are the best-rated agents sharing a term with the task
/// ([`matching::builtin_candidates`], at most [`BUILTIN_CANDIDATES`]), so the
/// result is exactly the best of all agents whenever fewer agents share a
/// term with the task. Beyond that it is an approximation: an agent rated
/// below the first [`BUILTIN_CANDIDATES`] sharing a term is never matched,
/// even when it shares more of the task (e.g. a tag) than the ones above it.
/// No bound on the candidates read by reputation can avoid that: with 1,000
/// agents rated 5 sharing only the keyword `a` and 1,000 others sharing only
/// `b`, an agent rated 4 sharing both scores 2 + 2 = 4 against their 3.5 and
/// comes after all 2,000 in reputation order.
fn rank(task_terms: &[String], candidates: &[TermCandidate]) -> Vec<AgentId> {
    let task_terms: HashSet<&String> = task_terms.iter().collect();
    let mut scored: Vec<(f64, &AgentId)> = candidates
        .iter()
        .filter_map(|c| {
            let computed;
            let shared: &[String] = match &c.shared_terms {
                Some(shared) => shared,
                None => {
                    computed = agent_terms(c.good_at.as_deref(), c.capability_tags.as_deref());
                    &computed
                }
            };
            let relevance: usize = shared
                .iter()
                .filter(|t| task_terms.contains(*t))
                .map(|t| term_weight(t))
                .sum();
            (relevance > 0).then_some((relevance as f64 + 0.5 * c.reputation, &c.id))
        })
        .collect();
    // Stable sort: ties keep the candidates' order (reputation, then age).
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    scored
        .into_iter()
        .take(BUILTIN_TOP)
        .map(|(_, id)| id.clone())
        .collect()
}

fn match_prompt(task: &Task, candidates: &[Candidate]) -> String {
    let agents: Vec<Value> = candidates
        .iter()
        .map(|c| json!({ "id": c.id, "good_at": c.good_at }))
        .collect();
    let mut prompt = format!(
        "Pick the agents best suited to the task below, best first.\n\nTask: {}\n",
        task.need
    );
    if let Some(context) = &task.context {
        prompt.push_str(&format!("Context: {context}\n"));
    }
    if !task.tags.is_empty() {
        prompt.push_str(&format!("Tags: {}\n", task.tags.join(", ")));
    }
    prompt.push_str(&format!(
        "\nCandidate agents (id and self-description):\n{}\n\n\
         Answer with one JSON object: {{\"ranked_agents\": [agent ids, best first, at most {MAX_RANKED}], \
         \"extracted_tags\": [a few short lower-case keywords describing the task]}}. \
         Use only ids from the list; an empty ranking opens the task to everyone.",
        Value::Array(agents)
    ));
    prompt
}

fn verify_prompt(task: &Task) -> String {
    let mut prompt = format!(
        "Check whether a delivery does what the task asked for.\n\nTask: {}\n",
        task.need
    );
    if let Some(context) = &task.context {
        prompt.push_str(&format!("Context: {context}\n"));
    }
    prompt.push_str(&format!(
        "Delivered result:\n{}\n\n\
         Answer with one JSON object: {{\"meets_requirements\": true or false, \
         \"explanation\": \"one or two sentences\"}}.",
        task.result.as_deref().unwrap_or_default()
    ));
    prompt
}

fn extract_prompt(agent_id: &AgentId, good_at: &str) -> String {
    format!(
        "Turn this agent's description of its skills into short capability tags.\n\n\
         Agent: {agent_id}\nDescription: {good_at}\n\n\
         Answer with one JSON object: {{\"agent_id\": \"{agent_id}\", \"tags\": [short lower-case \
         keywords such as \"python\" or \"code-review\"]}}."
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_words_and_short_words_do_not_count() {
        let words = keywords("Write a poem and a song, for the sea!");
        assert!(words.contains("poem") && words.contains("song") && words.contains("sea"));
        assert!(!words.contains("and") && !words.contains("the") && !words.contains("a"));
    }

    #[test]
    fn tags_are_normalized_and_capped() {
        let tags = vec![
            " Code Review ".into(),
            "code-review".into(),
            "".into(),
            "Rust".into(),
        ];
        assert_eq!(
            normalize_tags(&tags, 20).unwrap(),
            vec!["code-review", "rust"]
        );
        assert_eq!(normalize_tags(&tags, 1).unwrap(), vec!["code-review"]);
        assert!(normalize_tags(&["x".repeat(51)], 20).is_err());
    }

    /// A candidate read from the index: the task's terms it has.
    fn indexed(id: &str, reputation: f64, shared: &[&str]) -> TermCandidate {
        TermCandidate {
            id: id.into(),
            reputation,
            shared_terms: Some(shared.iter().map(|t| t.to_string()).collect()),
            good_at: None,
            capability_tags: None,
        }
    }

    /// A candidate whose match terms are not computed yet.
    fn unindexed(id: &str, reputation: f64, good_at: &str, tags: &[&str]) -> TermCandidate {
        TermCandidate {
            id: id.into(),
            reputation,
            shared_terms: None,
            good_at: Some(good_at.into()),
            capability_tags: Some(tags.iter().map(|t| t.to_string()).collect()),
        }
    }

    fn ranked(need: &str, tags: &[&str], candidates: &[TermCandidate]) -> Vec<String> {
        let tags: Vec<String> = tags.iter().map(|t| t.to_string()).collect();
        let terms = TaskTerms::new(need, &tags).index_terms();
        rank(&terms, candidates)
            .into_iter()
            .map(String::from)
            .collect()
    }

    #[test]
    fn ranking_is_twice_the_tags_plus_the_keywords_plus_half_the_reputation() {
        // In reputation order, as the candidates query returns them.
        let candidates = [
            // 1 keyword + 2.5 = 3.5
            indexed("famous", 5.0, &["w:rust"]),
            // 2 keywords + 2.0 = 4.0
            indexed("two-words", 4.0, &["w:rust", "w:compiler"]),
            // a tag (and its keyword): 2 + 1 + 1.0 = 4.0, after two-words (a tie keeps the order)
            indexed("tagged", 2.0, &["t:compiler", "w:compiler"]),
            // no overlap: never matched, whatever the reputation
            indexed("unrelated", 1.5, &[]),
            // terms not computed yet: from good_at and tags, 1 + 2 + 0.5 = 3.5 (after famous)
            unindexed("unindexed", 1.0, "Rust and poems", &["Lifetimes"]),
            // 1 keyword + 0 = 1
            indexed("newcomer", 0.0, &["w:lifetimes"]),
        ];
        assert_eq!(
            ranked(
                "Explain rust compiler lifetimes",
                &["compiler", "lifetimes"],
                &candidates
            ),
            vec!["two-words", "tagged", "famous", "unindexed", "newcomer"]
        );
        // Terms the task does not have do not count; the best five only.
        let many: Vec<TermCandidate> = (0..8)
            .map(|i| {
                indexed(
                    &format!("a{i}"),
                    5.0 - i as f64 / 10.0,
                    &["w:rust", "w:other"],
                )
            })
            .collect();
        assert_eq!(
            ranked("rust", &[], &many),
            vec!["a0", "a1", "a2", "a3", "a4"]
        );
    }

    #[test]
    fn only_json_objects_are_results() {
        assert!(parse_object("[1, 2]").is_err());
        assert!(parse_object("not json").is_err());
        assert!(parse_object("{\"a\": 1}").is_ok());
    }
}

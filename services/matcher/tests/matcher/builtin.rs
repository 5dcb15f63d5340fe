//! Without infra agents the built-in matcher routes each task once, inside
//! create: only relevant agents are matched, nobody fitting means broadcast,
//! and a match falls back to broadcast at the match timeout. The matcher
//! routes with it too, for a task left pending when infra agents went away.

use std::time::Duration;

use pinchwork_common::market::{MatchOutcome, Rule};
use pinchwork_testkit::eventually;
use serde_json::json;

use crate::support::TestEnv;

#[tokio::test]
async fn builtin_matcher_matches_only_relevant_agents() {
    let env = TestEnv::spawn(&[]).await;
    let poster = env.register("poster").await;
    let coder = env.worker("coder", "python code review and testing").await;
    let poet = env.worker("poet", "writing poems and songs").await;

    // No matcher runs: create routed the task.
    let review = env
        .post_task(&poster, "Review this python code please", 10)
        .await;
    assert_eq!(env.match_status(&review).await.as_deref(), Some("matched"));
    // A stray command for the task changes nothing.
    assert_eq!(
        env.market
            .handle_task_created(&review.as_str().into())
            .await
            .unwrap(),
        MatchOutcome::AlreadyHandled
    );

    let listed = env.browse(&coder).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["task_id"], review.as_str());
    assert_eq!(listed[0]["is_matched"], true);
    assert_eq!(listed[0]["match_rank"], 0);
    assert!(
        env.browse(&poet).await.is_empty(),
        "matched to someone else"
    );

    // Shared stop-words ("and", "a") are not a match.
    let song = env.post_task(&poster, "Write a poem and a song", 10).await;
    assert_eq!(env.match_status(&song).await.as_deref(), Some("broadcast"));
    let seen: Vec<_> = env.browse(&coder).await;
    assert!(
        seen.iter()
            .any(|t| t["task_id"] == song.as_str() && t["is_matched"] == false)
    );
    env.assert_conservation().await;
}

#[tokio::test]
async fn no_candidate_means_broadcast_to_everyone() {
    let env = TestEnv::spawn(&[]).await;
    let poster = env.register("poster").await;
    let idle = env.register("idle").await;
    let task = env
        .post_task(&poster, "Translate a letter to French", 5)
        .await;
    assert_eq!(env.match_status(&task).await.as_deref(), Some("broadcast"));
    let picked = env.pickup_next(&idle).await;
    assert_eq!(picked["task_id"], task.as_str());
    assert_eq!(picked["is_matched"], false);
}

#[tokio::test]
async fn builtin_match_falls_back_to_broadcast_at_the_timeout() {
    let env = TestEnv::spawn(&["--match-timeout-seconds", "1"]).await;
    let poster = env.register("poster").await;
    let _coder = env.worker("coder", "rust compiler internals").await;
    let other = env.register("other").await;
    let task = env.post_task(&poster, "Explain rust lifetimes", 5).await;
    assert_eq!(env.match_status(&task).await.as_deref(), Some("matched"));
    assert!(env.browse(&other).await.is_empty());

    eventually("the match timeout", Duration::from_secs(20), || async {
        env.market.apply_due(Rule::MatchTimeout).await.unwrap();
        env.match_status(&task).await.as_deref() == Some("broadcast")
    })
    .await;
    let picked = env.pickup_next(&other).await;
    assert_eq!(picked["task_id"], task.as_str());
}

#[tokio::test]
async fn the_matcher_routes_a_pending_task_with_the_builtin_matcher() {
    let env = TestEnv::spawn(&[]).await;
    let infra = env.infra("infra").await;
    let poster = env.register("poster").await;
    let coder = env.worker("coder", "graphql schema design").await;
    // Posted while an infra agent exists: pending, waiting for the matcher.
    let task = env.post_task(&poster, "Design a graphql schema", 5).await;
    assert_eq!(env.match_status(&task).await.as_deref(), Some("pending"));
    env.retire_infra(&infra).await;
    assert_eq!(
        env.market
            .handle_task_created(&task.as_str().into())
            .await
            .unwrap(),
        MatchOutcome::Matched(vec![coder.id.as_str().into()])
    );
    assert_eq!(
        env.market
            .handle_task_created(&task.as_str().into())
            .await
            .unwrap(),
        MatchOutcome::AlreadyHandled
    );
    let listed = env.browse(&coder).await;
    assert_eq!(listed[0]["task_id"], task.as_str());
    assert_eq!(listed[0]["match_rank"], 0);
}

#[tokio::test]
async fn the_matcher_service_routes_tasks_it_never_heard_about() {
    let env = TestEnv::spawn(&["--matcher-sweep-ms", "200"]).await;
    let infra = env.infra("infra").await;
    let poster = env.register("poster").await;
    let coder = env.worker("coder", "kubernetes operators").await;
    let task = env
        .post_task(&poster, "Write a kubernetes operator", 5)
        .await;
    // The infra agent left before any matcher ran, and no outbox publisher
    // runs here: the sweep finds the pending task and routes it built-in.
    env.retire_infra(&infra).await;
    env.spawn_matcher().await;
    eventually(
        "the sweep to route the task",
        Duration::from_secs(30),
        || async { env.match_status(&task).await.as_deref() == Some("matched") },
    )
    .await;
    let listed = env.browse(&coder).await;
    assert_eq!(listed[0]["task_id"], task.as_str());
    assert_eq!(listed[0]["match_rank"], 0);
}

#[tokio::test]
async fn a_matching_agent_far_down_the_reputation_order_is_still_matched() {
    let env = TestEnv::spawn(&[]).await;
    let poster = env.register("poster").await;
    let coder = env.worker("coder", "rust compiler internals").await;
    // More well-rated agents than the built-in matcher reads, none of them
    // sharing a word with the task; inserted by hand, so without match terms
    // until the sweep's step computes them.
    sqlx::query(
        "INSERT INTO agents (id, name, credits, good_at, reputation)
         SELECT 'filler-' || i, 'filler', 0, 'writing poems and songs', 5.0
         FROM generate_series(1, 600) i",
    )
    .execute(&env.pool)
    .await
    .unwrap();
    while env
        .market
        .index_match_terms(pinchwork_common::market::TERMS_BATCH)
        .await
        .unwrap()
        > 0
    {}
    let task = env.post_task(&poster, "Explain rust lifetimes", 5).await;
    assert_eq!(env.matched_agents(&task).await, vec![coder.id.clone()]);

    // A good_at written by hand leaves the terms stale: they are dropped, and
    // the agent stays a candidate until they are computed again.
    sqlx::query("UPDATE agents SET good_at = 'kubernetes operators' WHERE id = $1")
        .bind(&coder.id)
        .execute(&env.pool)
        .await
        .unwrap();
    let k8s = env
        .post_task(&poster, "Write a kubernetes operator", 5)
        .await;
    assert_eq!(env.matched_agents(&k8s).await, vec![coder.id.clone()]);
    env.assert_conservation().await;
}

/// Inserts `n` agents good at `word` alone, rated `reputation`, with their
/// match terms (as the API computes them).
async fn add_agents_good_at(env: &TestEnv, prefix: &str, word: &str, n: i32, reputation: f64) {
    sqlx::query(
        "INSERT INTO agents (id, name, credits, good_at, match_terms, reputation)
         SELECT $1 || '-' || i, $1, 0, $2, ARRAY['w:' || $2], $4
         FROM generate_series(1, $3) i",
    )
    .bind(prefix)
    .bind(word)
    .bind(n)
    .bind(reputation)
    .execute(&env.pool)
    .await
    .unwrap();
}

#[tokio::test]
async fn an_agent_sharing_more_of_the_task_is_ranked_first_from_far_down_the_reputation_order() {
    let env = TestEnv::spawn(&[]).await;
    let poster = env.register("poster").await;
    // 190 better-rated agents share one word of the task each.
    add_agents_good_at(&env, "quasar", "quasar", 150, 5.0).await;
    add_agents_good_at(&env, "nebula", "nebula", 40, 4.9).await;
    let both = env.worker("both", "quasar and nebula surveys").await;
    sqlx::query("UPDATE agents SET reputation = 4.5 WHERE id = $1")
        .bind(&both.id)
        .execute(&env.pool)
        .await
        .unwrap();
    // 191st by reputation among the agents sharing a word, 151st of those
    // sharing "quasar": its two words count (2 + 0.5 × 4.5 = 4.25 against
    // 1 + 0.5 × 5 = 3.5), then the best-rated (and oldest) of the others.
    let task = env
        .post_task(&poster, "Map a quasar inside a nebula", 5)
        .await;
    let matched = env.matched_agents(&task).await;
    assert_eq!(matched.len(), 5);
    assert_eq!(matched[0], both.id);
    assert!(matched[1..].iter().all(|id| id.starts_with("quasar-")));

    // The documented approximation: only the best-rated 200 agents sharing a
    // term are ranked. 20 more above it push it to 211th, and it is not seen.
    add_agents_good_at(&env, "quasar-late", "quasar", 20, 5.0).await;
    let task = env
        .post_task(&poster, "Map a quasar inside a nebula", 5)
        .await;
    let matched = env.matched_agents(&task).await;
    assert_eq!(matched.len(), 5);
    assert!(!matched.contains(&both.id));
    env.assert_conservation().await;
}

/// An agent's match terms, sorted.
async fn match_terms(env: &TestEnv, agent_id: &str) -> Option<Vec<String>> {
    let terms: Option<Vec<String>> =
        sqlx::query_scalar("SELECT match_terms FROM agents WHERE id = $1")
            .bind(agent_id)
            .fetch_one(&env.pool)
            .await
            .unwrap();
    terms.map(|mut t| {
        t.sort();
        t
    })
}

#[tokio::test]
async fn match_terms_follow_good_at_and_capability_tags() {
    let env = TestEnv::spawn(&[]).await;
    let poster = env.register("poster").await;
    let worker = env.worker("worker", "Writing poems, and the songs").await;
    let terms = |list: &[&str]| Some(list.iter().map(|s| s.to_string()).collect::<Vec<_>>());
    assert_eq!(
        match_terms(&env, &worker.id).await,
        terms(&["w:poems", "w:songs", "w:writing"])
    );

    let mut conn = env.pool.acquire().await.unwrap();
    let tags = vec!["code-review".to_string()];
    pinchwork_common::db::matching::set_capability_tags(
        &mut conn,
        &worker.id.as_str().into(),
        Some(&tags),
    )
    .await
    .unwrap();
    assert_eq!(
        match_terms(&env, &worker.id).await,
        terms(&["t:code-review", "w:poems", "w:songs", "w:writing"])
    );

    env.call(
        reqwest::Method::PATCH,
        "/v1/me",
        Some(&worker.key),
        json!({ "good_at": "Haskell" }),
    )
    .await
    .expect(200);
    assert_eq!(
        match_terms(&env, &worker.id).await,
        terms(&["t:code-review", "w:haskell"])
    );

    // The tag alone is enough to be a candidate.
    let task = env
        .post_tagged(&poster, "Plan a party", &["Code-Review"])
        .await;
    assert_eq!(env.matched_agents(&task).await, vec![worker.id.clone()]);
}

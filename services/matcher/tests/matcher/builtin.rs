//! Without infra agents the built-in matcher routes each task once, inside
//! create: only relevant agents are matched, nobody fitting means broadcast,
//! and a match falls back to broadcast at the match timeout. The matcher
//! routes with it too, for a task left pending when infra agents went away.

use std::time::Duration;

use pinchwork_common::market::{MatchOutcome, Rule};
use pinchwork_testkit::eventually;

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

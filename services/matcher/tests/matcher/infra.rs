//! With infra agents, routing and verification are system tasks: infra agents
//! see them first, bad results are refused with nothing applied, good ones
//! are applied and paid once by the platform, and conflicts are excluded.

use std::time::Duration;

use pinchwork_common::market::{MatchOutcome, Rule};
use pinchwork_testkit::eventually;
use serde_json::json;

use crate::support::TestEnv;

fn result(value: serde_json::Value) -> serde_json::Value {
    json!({ "result": value.to_string() })
}

#[tokio::test]
async fn match_and_verify_tasks_flow_through_infra_agents_and_are_paid() {
    let env = TestEnv::spawn(&[]).await;
    let infra = env.infra("infra").await;
    let poster = env.register("poster").await;
    let worker = env.register("worker").await;
    let task = env
        .post_task(&poster, "Audit this smart contract", 20)
        .await;
    assert_eq!(
        env.market
            .handle_task_created(&task.as_str().into())
            .await
            .unwrap(),
        MatchOutcome::SystemTaskSpawned
    );
    assert_eq!(
        env.market
            .handle_task_created(&task.as_str().into())
            .await
            .unwrap(),
        MatchOutcome::AlreadyHandled,
        "a redelivered command must not spawn a second match task"
    );
    // While matching is pending the task is open to everyone, unmatched.
    let listed = env.browse(&worker).await;
    assert_eq!(listed[0]["is_matched"], false);
    assert!(listed[0]["match_rank"].is_null());

    // Phase 0: the infra agent gets the system task before the regular one.
    let system = env.pickup_next(&infra).await;
    assert_eq!(system["system_task_type"], "match_agents");
    let match_task = system["task_id"].as_str().unwrap().to_string();

    // Invalid results: 400, nothing applied, the system task stays claimed.
    let bad = env
        .deliver(&infra, &match_task, json!({ "result": "not json" }))
        .await;
    assert!(bad.expect(400).error().contains("JSON"));
    let unknown = env
        .deliver(
            &infra,
            &match_task,
            result(json!({ "ranked_agents": ["ag-nobody"] })),
        )
        .await
        .expect(400);
    assert!(unknown.error().contains("ag-nobody"), "{}", unknown.error());
    assert_eq!(env.match_status(&task).await.as_deref(), Some("pending"));

    let ranked = json!({ "ranked_agents": [worker.id], "extracted_tags": ["Solidity", "audit"] });
    env.deliver(&infra, &match_task, result(ranked))
        .await
        .expect(200);
    assert_eq!(env.match_status(&task).await.as_deref(), Some("matched"));
    assert_eq!(env.ledger_sum(&infra, "payment").await, 3);
    let listed = env.browse(&worker).await;
    assert_eq!(listed[0]["task_id"], task.as_str());
    assert_eq!(listed[0]["is_matched"], true);
    assert_eq!(listed[0]["match_rank"], 0);

    // Conflict rule: the agent that matched the task cannot pick it up.
    env.pickup(&infra, &task).await.expect(409);

    // The matched worker delivers; a verification task appears for infra agents.
    let picked = env.pickup_next(&worker).await;
    assert_eq!(picked["task_id"], task.as_str());
    env.deliver(&worker, &task, json!({ "result": "No issues found." }))
        .await
        .expect(200);
    let verify = env.pickup_next(&infra).await;
    assert_eq!(verify["system_task_type"], "verify_completion");
    let verify_id = verify["task_id"].as_str().unwrap().to_string();
    env.deliver(
        &infra,
        &verify_id,
        result(json!({ "meets_requirements": "yes" })),
    )
    .await
    .expect(400);
    env.deliver(
        &infra,
        &verify_id,
        result(json!({ "meets_requirements": false, "explanation": "too short" })),
    )
    .await
    .expect(200);
    let status: Option<String> =
        sqlx::query_scalar("SELECT verification_status FROM tasks WHERE id = $1")
            .bind(&task)
            .fetch_one(&env.pool)
            .await
            .unwrap();
    assert_eq!(status.as_deref(), Some("failed"));
    // Advisory only: the poster still decides.
    env.act(&poster, &task, "approve", json!({}))
        .await
        .expect(200);
    assert_eq!(env.ledger_sum(&infra, "payment").await, 3 + 5);
    env.assert_conservation().await;
}

#[tokio::test]
async fn an_infra_agent_never_verifies_its_own_delivery_or_matches_its_own_task() {
    let env = TestEnv::spawn(&[]).await;
    let infra = env.infra("infra").await;
    let poster = env.register("poster").await;
    // The infra agent posts: it must not get the match task of its own task.
    let own = env.post_task(&infra, "Summarise a paper", 5).await;
    env.market
        .handle_task_created(&own.as_str().into())
        .await
        .unwrap();
    assert!(env.pickup_next(&infra).await.is_null());

    // The infra agent works a task: it must not verify its own delivery.
    let task = env.post_task(&poster, "Summarise another paper", 5).await;
    env.market
        .handle_task_created(&task.as_str().into())
        .await
        .unwrap();
    let other_infra = env.infra("infra-2").await;
    for _ in 0..2 {
        let matching = env.pickup_next(&other_infra).await;
        assert_eq!(matching["system_task_type"], "match_agents");
        env.deliver(
            &other_infra,
            matching["task_id"].as_str().unwrap(),
            result(json!({ "ranked_agents": [] })),
        )
        .await
        .expect(200);
    }
    assert_eq!(env.match_status(&task).await.as_deref(), Some("broadcast"));
    env.pickup(&infra, &task).await.expect(200);
    env.deliver(&infra, &task, json!({ "result": "done" }))
        .await
        .expect(200);
    let next = env.pickup_next(&infra).await;
    assert!(
        next.is_null() || next["system_task_type"] != "verify_completion",
        "got {next}"
    );
    let verify = env.pickup_next(&other_infra).await;
    assert_eq!(verify["system_task_type"], "verify_completion");
    env.assert_conservation().await;
}

#[tokio::test]
async fn extracted_capabilities_personalise_ordering() {
    let env = TestEnv::spawn(&[]).await;
    let infra = env.infra("infra").await;
    let poster = env.register("poster").await;
    let worker = env.register("worker").await;
    let victim = env.register("victim").await;
    env.call(
        reqwest::Method::PATCH,
        "/v1/me",
        Some(&worker.key),
        json!({ "good_at": "I review Rust and Go code" }),
    )
    .await
    .expect(200);
    assert!(
        env.market
            .handle_profile_changed(&worker.id.as_str().into())
            .await
            .unwrap()
    );
    assert!(
        !env.market
            .handle_profile_changed(&worker.id.as_str().into())
            .await
            .unwrap(),
        "a redelivered command must not spawn a second extraction"
    );

    let general = env.post_tagged(&poster, "Plan a party", &["events"]).await;
    let rust = env
        .post_tagged(&poster, "Fix a borrow error", &["rust"])
        .await;
    env.market
        .handle_task_created(&general.as_str().into())
        .await
        .unwrap();
    env.market
        .handle_task_created(&rust.as_str().into())
        .await
        .unwrap();

    // Oldest system task first: the extraction.
    let extract = env.pickup_next(&infra).await;
    assert_eq!(extract["system_task_type"], "extract_capabilities");
    let extract_id = extract["task_id"].as_str().unwrap().to_string();
    let hijack = json!({ "agent_id": victim.id, "tags": ["spam"] });
    env.deliver(&infra, &extract_id, result(hijack))
        .await
        .expect(400);
    let good = json!({ "agent_id": worker.id, "tags": ["Rust", "go", "code review"] });
    env.deliver(&infra, &extract_id, result(good))
        .await
        .expect(200);
    assert_eq!(env.ledger_sum(&infra, "payment").await, 2);
    let tags: Option<Vec<String>> =
        sqlx::query_scalar("SELECT capability_tags FROM agents WHERE id = $1")
            .bind(&worker.id)
            .fetch_one(&env.pool)
            .await
            .unwrap();
    assert_eq!(tags.unwrap(), vec!["rust", "go", "code-review"]);

    // Both tasks still pending matching: phase 2, ordered by tag overlap.
    let listed = env.browse(&worker).await;
    let order: Vec<_> = listed.iter().map(|t| t["task_id"].clone()).collect();
    assert_eq!(order, vec![json!(rust), json!(general)]);
    assert_eq!(env.pickup_next(&worker).await["task_id"], rust.as_str());
    env.assert_conservation().await;
}

#[tokio::test]
async fn pending_matching_times_out_to_broadcast_and_late_results_are_ignored() {
    let env = TestEnv::spawn(&["--match-timeout-seconds", "1"]).await;
    let infra = env.infra("infra").await;
    let poster = env.register("poster").await;
    let worker = env.register("worker").await;
    let first = env.post_task(&poster, "Label some images", 5).await;
    let second = env.post_task(&poster, "Label more images", 5).await;
    env.market
        .handle_task_created(&first.as_str().into())
        .await
        .unwrap();
    env.market
        .handle_task_created(&second.as_str().into())
        .await
        .unwrap();
    // The infra agent claims one match task and sits on it.
    let late = env.pickup_next(&infra).await;
    let late_id = late["task_id"].as_str().unwrap().to_string();

    eventually("the match timeout", Duration::from_secs(20), || async {
        env.market.apply_due(Rule::MatchTimeout).await.unwrap();
        env.match_status(&first).await.as_deref() == Some("broadcast")
            && env.match_status(&second).await.as_deref() == Some("broadcast")
    })
    .await;
    // The unclaimed match task was cancelled; the claimed one can still deliver.
    let unclaimed: String = sqlx::query_scalar(
        "SELECT status FROM tasks WHERE parent_task_id = $1 AND system_task_type = 'match_agents'",
    )
    .bind(&second)
    .fetch_one(&env.pool)
    .await
    .unwrap();
    assert_eq!(unclaimed, "cancelled");
    let ranked = json!({ "ranked_agents": [worker.id] });
    env.deliver(&infra, &late_id, result(ranked))
        .await
        .expect(200);
    assert_eq!(env.match_status(&first).await.as_deref(), Some("broadcast"));
    assert_eq!(
        env.match_status(&second).await.as_deref(),
        Some("broadcast")
    );
    assert_eq!(env.ledger_sum(&infra, "payment").await, 3);
    env.assert_conservation().await;
}

//! Ratings: each side rates a task at most once, only 1–5, and reputation is
//! the average of the ratings an agent received (per tag on its profile).

use serde_json::json;

use crate::{
    cycle::{approved_task, claim_and_deliver, post_tagged},
    support::TestApp,
};

#[tokio::test]
async fn worker_rates_poster_once_after_approval() {
    let app = TestApp::spawn().await;
    let poster = app.register("poster").await;
    let worker = app.register("worker").await;
    let task = approved_task(&app, &poster, &worker, 10, &[], json!({"rating": 5})).await;

    let rated = app
        .act(
            &worker,
            &task,
            "rate",
            json!({"rating": 4, "feedback": "clear brief"}),
        )
        .await
        .expect(201);
    assert_eq!(rated.body["task_id"], task.as_str());
    assert_eq!(rated.body["rated_id"], poster.id.as_str());
    assert_eq!(rated.body["rating"], 4);
    assert_eq!(rated.body["feedback"], "clear brief");

    let again = app
        .act(&worker, &task, "rate", json!({"rating": 5}))
        .await
        .expect(409);
    assert_eq!(again.error(), "Already rated");

    let poster_profile = app
        .get(&format!("/v1/agents/{}", poster.id), None)
        .await
        .expect(200);
    assert_eq!(poster_profile.body["reputation"], 4.0);
    assert_eq!(poster_profile.body["rating_count"], 1);
    let worker_profile = app
        .get(&format!("/v1/agents/{}", worker.id), None)
        .await
        .expect(200);
    assert_eq!(worker_profile.body["reputation"], 5.0);
    app.assert_conservation().await;
}

#[tokio::test]
async fn rate_refusals_follow_the_documented_order() {
    let app = TestApp::spawn().await;
    let poster = app.register("poster").await;
    let worker = app.register("worker").await;
    let other = app.register("other").await;

    let missing = app
        .act(&worker, "tk-nope", "rate", json!({"rating": 3}))
        .await
        .expect(404);
    assert_eq!(missing.error(), "Task not found");

    let task = post_tagged(&app, &poster, 10, &[]).await;
    claim_and_deliver(&app, &worker, &task).await;
    let early = app
        .act(&worker, &task, "rate", json!({"rating": 3}))
        .await
        .expect(409);
    assert_eq!(early.error(), "Task is delivered, not approved");

    app.act(&poster, &task, "approve", json!({}))
        .await
        .expect(200);
    let stranger = app
        .act(&other, &task, "rate", json!({"rating": 3}))
        .await
        .expect(404);
    assert_eq!(stranger.error(), "Task not found");
    // The poster rates through approve, not through /rate.
    app.act(&poster, &task, "rate", json!({"rating": 3}))
        .await
        .expect(403);

    for bad in [
        json!({}),
        json!({"rating": 0}),
        json!({"rating": 6}),
        json!({"rating": "x"}),
    ] {
        app.act(&worker, &task, "rate", bad).await.expect(400);
    }
    let long = "f".repeat(5001);
    app.act(
        &worker,
        &task,
        "rate",
        json!({"rating": 3, "feedback": long}),
    )
    .await
    .expect(400);
    app.assert_conservation().await;
}

#[tokio::test]
async fn approve_rating_must_be_between_1_and_5() {
    let app = TestApp::spawn().await;
    let poster = app.register("poster").await;
    let worker = app.register("worker").await;
    let task = post_tagged(&app, &poster, 10, &[]).await;
    claim_and_deliver(&app, &worker, &task).await;
    app.act(&poster, &task, "approve", json!({"rating": 9}))
        .await
        .expect(400);
    app.act(&poster, &task, "approve", json!({"rating": 0}))
        .await
        .expect(400);
    // Nothing happened: the task is still delivered and can be approved.
    app.act(&poster, &task, "approve", json!({"rating": 2}))
        .await
        .expect(200);
    let profile = app
        .get(&format!("/v1/agents/{}", worker.id), None)
        .await
        .expect(200);
    assert_eq!(profile.body["reputation"], 2.0);
    app.assert_conservation().await;
}

#[tokio::test]
async fn approve_stores_its_feedback_with_the_rating() {
    let app = TestApp::spawn().await;
    let poster = app.register("poster").await;
    let worker = app.register("worker").await;
    let task = post_tagged(&app, &poster, 10, &[]).await;
    claim_and_deliver(&app, &worker, &task).await;
    let too_long = "x".repeat(5_001);
    app.act(
        &poster,
        &task,
        "approve",
        json!({"rating": 4, "feedback": too_long}),
    )
    .await
    .expect(400);
    app.act(
        &poster,
        &task,
        "approve",
        json!({"rating": 4, "feedback": "thorough work"}),
    )
    .await
    .expect(200);
    let (rated_id, score, feedback): (String, i32, Option<String>) = sqlx::query_as(
        "SELECT rated_id, score, feedback FROM ratings WHERE task_id = $1 AND rater_id = $2",
    )
    .bind(&task)
    .bind(&poster.id)
    .fetch_one(&app.pool)
    .await
    .expect("the poster's rating");
    assert_eq!(
        (rated_id.as_str(), score, feedback.as_deref()),
        (worker.id.as_str(), 4, Some("thorough work"))
    );
    app.assert_conservation().await;
}

#[tokio::test]
async fn approve_feedback_shows_on_the_workers_profile() {
    let app = TestApp::spawn().await;
    let poster = app.register("poster").await;
    let worker = app.register("worker").await;
    let profile_of = |id: String| {
        let app = &app;
        async move { app.get(&format!("/v1/agents/{id}"), None).await.expect(200) }
    };
    // Without feedback the profile has no feedback field at all.
    approved_task(&app, &poster, &worker, 10, &[], json!({"rating": 3})).await;
    let before = profile_of(worker.id.to_string()).await;
    assert!(before.body.get("recent_feedback").is_none());

    let task = approved_task(
        &app,
        &poster,
        &worker,
        10,
        &[],
        json!({"rating": 4, "feedback": "thorough work"}),
    )
    .await;
    let after = profile_of(worker.id.to_string()).await;
    let shown = &after.body["recent_feedback"];
    assert_eq!(shown.as_array().map(Vec::len), Some(1), "{shown}");
    assert_eq!(shown[0]["task_id"], task.as_str());
    assert_eq!(shown[0]["rater_id"], poster.id.as_str());
    assert_eq!(shown[0]["rating"], 4);
    assert_eq!(shown[0]["feedback"], "thorough work");
    assert!(shown[0]["created_at"].is_string());
    // The rating given without feedback still counts toward the reputation.
    assert_eq!(after.body["rating_count"], 2);
    // The poster received no feedback.
    let poster_profile = profile_of(poster.id.to_string()).await;
    assert!(poster_profile.body.get("recent_feedback").is_none());
    app.assert_conservation().await;
}

#[tokio::test]
async fn reputation_averages_every_rating_received_and_splits_by_tag() {
    let app = TestApp::spawn().await;
    let poster = app.register("poster").await;
    let worker = app.register("worker").await;
    approved_task(
        &app,
        &poster,
        &worker,
        10,
        &["python", "review"],
        json!({"rating": 5}),
    )
    .await;
    approved_task(
        &app,
        &poster,
        &worker,
        10,
        &["python"],
        json!({"rating": 4}),
    )
    .await;
    approved_task(
        &app,
        &poster,
        &worker,
        10,
        &["writing"],
        json!({"rating": 2}),
    )
    .await;
    // Unrated approvals do not count.
    approved_task(&app, &poster, &worker, 10, &["writing"], json!({})).await;

    let profile = app
        .get(&format!("/v1/agents/{}", worker.id), None)
        .await
        .expect(200);
    assert_eq!(profile.body["reputation"], 3.67);
    assert_eq!(profile.body["rating_count"], 3);
    assert_eq!(
        profile.body["reputation_by_tag"],
        json!([
            {"tag": "review", "avg_rating": 5.0, "count": 1},
            {"tag": "python", "avg_rating": 4.5, "count": 2},
            {"tag": "writing", "avg_rating": 2.0, "count": 1},
        ])
    );
    // The poster was never rated as a worker.
    let poster_profile = app
        .get(&format!("/v1/agents/{}", poster.id), None)
        .await
        .expect(200);
    assert!(poster_profile.body["reputation_by_tag"].is_null());
    assert_eq!(poster_profile.body["reputation"], 0.0);
    app.assert_conservation().await;
}

#[tokio::test]
async fn tasks_show_the_posters_reputation() {
    let app = TestApp::spawn().await;
    let poster = app.register("poster").await;
    let worker = app.register("worker").await;
    let task = approved_task(&app, &poster, &worker, 10, &[], json!({})).await;
    app.act(&worker, &task, "rate", json!({"rating": 3}))
        .await
        .expect(201);

    let next = post_tagged(&app, &poster, 5, &[]).await;
    let listed = app
        .get("/v1/tasks/available", Some(&worker.key))
        .await
        .expect(200);
    let row = listed.body["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["task_id"] == next.as_str())
        .expect("task listed")
        .clone();
    assert_eq!(row["poster_reputation"], 3.0);
    let picked = app.pickup(&worker, &next).await.expect(200);
    assert_eq!(picked.body["poster_reputation"], 3.0);
    app.assert_conservation().await;
}

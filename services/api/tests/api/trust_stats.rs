//! Trust is private and moves with outcomes (and breaks pickup ties); the
//! stats dashboard adds up exactly what the ledger and tasks say.

use serde_json::json;

use crate::{
    cycle::{approved_task, claim_and_deliver, post_tagged},
    support::TestApp,
};

#[tokio::test]
async fn trust_follows_outcomes_and_is_visible_only_to_the_truster() {
    let app = TestApp::spawn().await;
    let poster = app.register("poster").await;
    let worker = app.register("worker").await;

    let empty = app.get("/v1/me/trust", Some(&poster.key)).await.expect(200);
    assert_eq!(empty.body, json!({"trust_scores": [], "total": 0}));

    // Reject then approve: poster→worker 0.5 → 0.45 → 0.505.
    let task = post_tagged(&app, &poster, 10, &[]).await;
    claim_and_deliver(&app, &worker, &task).await;
    app.act(&poster, &task, "reject", json!({"reason": "incomplete"}))
        .await
        .expect(200);
    app.deliver(&worker, &task, json!({"result": "complete"}))
        .await
        .expect(200);
    app.act(&poster, &task, "approve", json!({}))
        .await
        .expect(200);
    // Approve then a 4-star rating: worker→poster 0.5 → 0.55 → 0.595.
    app.act(&worker, &task, "rate", json!({"rating": 4}))
        .await
        .expect(201);

    let mine = app.get("/v1/me/trust", Some(&poster.key)).await.expect(200);
    assert_eq!(mine.body["total"], 1);
    let row = &mine.body["trust_scores"][0];
    assert_eq!(row["trusted_id"], worker.id.as_str());
    assert_eq!(row["score"], 0.505);
    assert_eq!(row["interactions"], 2);
    assert!(row["updated_at"].is_string());

    let theirs = app.get("/v1/me/trust", Some(&worker.key)).await.expect(200);
    assert_eq!(
        theirs.body["trust_scores"][0]["trusted_id"],
        poster.id.as_str()
    );
    assert_eq!(theirs.body["trust_scores"][0]["score"], 0.595);

    // A low rating lowers the worker's trust in the poster.
    let second = approved_task(&app, &poster, &worker, 10, &[], json!({})).await;
    app.act(&worker, &second, "rate", json!({"rating": 1}))
        .await
        .expect(201);
    let after = app.get("/v1/me/trust", Some(&worker.key)).await.expect(200);
    // 0.595 → approve 0.6355 → low rating 0.57195
    assert_eq!(after.body["trust_scores"][0]["score"], 0.57195);

    // Trust appears nowhere public.
    let profile = app
        .get(&format!("/v1/agents/{}", worker.id), None)
        .await
        .expect(200);
    assert!(!profile.body.to_string().contains("trust"));
    app.get("/v1/me/trust", None).await.expect(401);
    app.assert_conservation().await;
}

#[tokio::test]
async fn trust_breaks_pickup_ties() {
    let app = TestApp::spawn().await;
    let liked = app.register("liked-by-new").await;
    let neutral = app.register("neutral").await;
    let worker = app.register("worker").await;
    // `liked` comes to trust the worker (0.55) through one approved task.
    approved_task(&app, &liked, &worker, 5, &[], json!({})).await;

    // Equal reputation (0) and tags; `neutral` posts first, so age alone would pick it.
    let older = post_tagged(&app, &neutral, 5, &[]).await;
    let trusted = post_tagged(&app, &liked, 5, &[]).await;
    let picked = app
        .post("/v1/tasks/pickup", Some(&worker.key), json!(null))
        .await
        .expect(200);
    assert_eq!(picked.body["task_id"], trusted.as_str());
    let next = app
        .post("/v1/tasks/pickup", Some(&worker.key), json!(null))
        .await
        .expect(200);
    assert_eq!(next.body["task_id"], older.as_str());
    app.assert_conservation().await;
}

#[tokio::test]
async fn stats_add_up_the_ledger() {
    let app = TestApp::spawn().await;
    let poster = app.register("poster").await;
    let worker = app.register("worker").await;

    let empty = app.get("/v1/me/stats", Some(&worker.key)).await.expect(200);
    assert_eq!(
        empty.body,
        json!({"total_earned": 0, "total_spent": 0, "total_fees_paid": 0, "approval_rate": null,
               "avg_task_value": null, "tasks_by_tag": [], "recent_7d_earned": 0, "recent_30d_earned": 0})
    );

    // 20 credits, fee 10% → worker gets 18; 10 credits → 9.
    approved_task(
        &app,
        &poster,
        &worker,
        20,
        &["python", "security"],
        json!({}),
    )
    .await;
    approved_task(&app, &poster, &worker, 10, &["python"], json!({})).await;
    // One rejection, then a delivery waiting for review.
    let pending = post_tagged(&app, &poster, 10, &["writing"]).await;
    claim_and_deliver(&app, &worker, &pending).await;
    app.act(&poster, &pending, "reject", json!({"reason": "no"}))
        .await
        .expect(200);
    app.deliver(&worker, &pending, json!({"result": "again"}))
        .await
        .expect(200);
    // A cancelled task is refunded and is not spending.
    let cancelled = post_tagged(&app, &poster, 7, &[]).await;
    app.act(&poster, &cancelled, "cancel", json!({}))
        .await
        .expect(200);

    let stats = app
        .get("/v1/me/stats", Some(&worker.key))
        .await
        .expect(200)
        .body;
    assert_eq!(stats["total_earned"], 27);
    assert_eq!(stats["total_fees_paid"], 3);
    assert_eq!(stats["recent_7d_earned"], 27);
    assert_eq!(stats["recent_30d_earned"], 27);
    assert_eq!(stats["avg_task_value"], 15.0);
    // 2 approved out of 2 approved + 1 delivered + 1 rejection.
    assert_eq!(stats["approval_rate"], 0.5);
    assert_eq!(
        stats["tasks_by_tag"],
        json!([{"tag": "python", "count": 2, "earned": 27}, {"tag": "security", "count": 1, "earned": 18}])
    );
    assert_eq!(stats["total_spent"], 0);

    let poster_stats = app
        .get("/v1/me/stats", Some(&poster.key))
        .await
        .expect(200)
        .body;
    assert_eq!(poster_stats["total_spent"], 30);
    assert_eq!(poster_stats["total_earned"], 0);
    app.get("/v1/me/stats", None).await.expect(401);
    app.assert_conservation().await;
}

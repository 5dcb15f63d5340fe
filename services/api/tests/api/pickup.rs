//! Claiming: the next best task, batches and specific tasks; never one's own,
//! 204 when nothing is left, and the abandon cooldown.

use serde_json::{Value, json};

use crate::support::TestApp;

#[tokio::test]
async fn pickup_claims_oldest_open_task_and_204_when_empty() {
    let app = TestApp::spawn().await;
    let poster = app.register("poster").await;
    let worker = app.register("worker").await;
    app.post("/v1/tasks/pickup", Some(&worker.key), Value::Null)
        .await
        .expect(204);
    let first = app.post_task(&poster, "first", 7).await;
    let _second = app.post_task(&poster, "second", 8).await;
    let r = app
        .post("/v1/tasks/pickup", Some(&worker.key), Value::Null)
        .await
        .expect(200);
    assert_eq!(r.body["task_id"], first.as_str());
    assert_eq!(r.header("x-task-id"), Some(first.as_str()));
    assert_eq!(r.header("x-budget"), Some("7"));
    assert_eq!(r.body["poster_id"], poster.id);
    assert_eq!(r.body["max_credits"], 7);
    assert!(r.body["claim_deadline"].is_string());
    assert_eq!(r.body["poster_reputation"], 0.0);
    app.post("/v1/tasks/pickup", Some(&worker.key), Value::Null)
        .await
        .expect(200);

    // 204 carries no body at all.
    let raw = reqwest::Client::new()
        .post(format!("{}/v1/tasks/pickup", app.base))
        .bearer_auth(&worker.key)
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 204);
    assert!(raw.bytes().await.unwrap().is_empty());
    // Never one's own tasks.
    app.post("/v1/tasks/pickup", Some(&poster.key), Value::Null)
        .await
        .expect(204);
}

#[tokio::test]
async fn pickup_honours_search_and_tags() {
    let app = TestApp::spawn().await;
    let poster = app.register("poster").await;
    let worker = app.register("worker").await;
    app.post(
        "/v1/tasks",
        Some(&poster.key),
        json!({"need": "poem", "max_credits": 1}),
    )
    .await
    .expect(201);
    let k8s = app
        .post(
            "/v1/tasks",
            Some(&poster.key),
            json!({"need": "Kubernetes fix", "max_credits": 1, "tags": ["ops"]}),
        )
        .await
        .expect(201)
        .body["task_id"]
        .clone();
    let r = app
        .post(
            "/v1/tasks/pickup?search=kubernetes",
            Some(&worker.key),
            Value::Null,
        )
        .await
        .expect(200);
    assert_eq!(r.body["task_id"], k8s);
    app.post("/v1/tasks/pickup?tags=ops", Some(&worker.key), Value::Null)
        .await
        .expect(204);
}

#[tokio::test]
async fn pickup_prefers_tag_overlap_then_reputation() {
    let app = TestApp::spawn().await;
    let poster = app.register("poster").await;
    let worker = app.register("worker").await;
    sqlx::query("UPDATE agents SET capability_tags = ARRAY['python','security'] WHERE id = $1")
        .bind(&worker.id)
        .execute(&app.pool)
        .await
        .unwrap();
    let _plain = app.post_task(&poster, "plain", 1).await;
    let tagged = app
        .post(
            "/v1/tasks",
            Some(&poster.key),
            json!({"need": "audit", "max_credits": 1, "tags": ["Python"]}),
        )
        .await
        .expect(201)
        .body["task_id"]
        .clone();
    let r = app
        .post("/v1/tasks/pickup", Some(&worker.key), Value::Null)
        .await
        .expect(200);
    assert_eq!(r.body["task_id"], tagged, "tag overlap outranks age");

    let famous = app.register("famous").await;
    sqlx::query("UPDATE agents SET reputation = 4.8 WHERE id = $1")
        .bind(&famous.id)
        .execute(&app.pool)
        .await
        .unwrap();
    let from_famous = app.post_task(&famous, "from a well rated poster", 1).await;
    let r = app
        .post("/v1/tasks/pickup", Some(&worker.key), Value::Null)
        .await
        .expect(200);
    assert_eq!(
        r.body["task_id"],
        from_famous.as_str(),
        "reputation outranks age"
    );
    assert_eq!(r.body["poster_reputation"], 4.8);
}

#[tokio::test]
async fn batch_claims_up_to_count() {
    let app = TestApp::spawn().await;
    let poster = app.register("poster").await;
    let worker = app.register("worker").await;
    for i in 0..4 {
        app.post(
            "/v1/tasks",
            Some(&poster.key),
            json!({"need": format!("data job {i}"), "max_credits": 1, "tags": ["python"]}),
        )
        .await
        .expect(201);
    }
    app.post_task(&poster, "other", 1).await;
    let r = app
        .post(
            "/v1/tasks/pickup/batch",
            Some(&worker.key),
            json!({"count": 3, "tags": ["python"], "search": "data"}),
        )
        .await
        .expect(200);
    assert_eq!(r.body["total"], 3);
    assert_eq!(r.body["tasks"].as_array().unwrap().len(), 3);
    let r = app
        .post(
            "/v1/tasks/pickup/batch",
            Some(&worker.key),
            json!({"count": 10}),
        )
        .await
        .expect(200);
    assert_eq!(r.body["total"], 2);
    let r = app
        .post("/v1/tasks/pickup/batch", Some(&worker.key), Value::Null)
        .await
        .expect(200);
    assert_eq!(r.body["total"], 0);
    for count in [0, 11] {
        app.post(
            "/v1/tasks/pickup/batch",
            Some(&worker.key),
            json!({ "count": count }),
        )
        .await
        .expect(400);
    }
    app.post(
        "/v1/tasks/pickup/batch",
        Some(&worker.key),
        json!({"search": "s".repeat(501)}),
    )
    .await
    .expect(400);
}

#[tokio::test]
async fn specific_pickup_refusals() {
    let app = TestApp::spawn().await;
    let poster = app.register("poster").await;
    let worker = app.register("worker").await;
    let late = app.register("late").await;
    let task = app.post_task(&poster, "x", 1).await;
    app.pickup(&worker, "tk-missing000").await.expect(404);
    let r = app.pickup(&poster, &task).await.expect(409);
    assert_eq!(r.error(), "Cannot pick up your own task");
    app.pickup(&worker, &task).await.expect(200);
    let r = app.pickup(&late, &task).await.expect(409);
    assert_eq!(r.error(), "Task is claimed, not posted");
}

#[tokio::test]
async fn five_abandons_start_a_cooldown() {
    let app = TestApp::spawn().await;
    let poster = app.register("poster").await;
    let worker = app.register("worker").await;
    let task = app.post_task(&poster, "x", 1).await;
    for _ in 0..5 {
        app.pickup(&worker, &task).await.expect(200);
        app.act(&worker, &task, "abandon", Value::Null)
            .await
            .expect(200);
    }
    let r = app
        .post("/v1/tasks/pickup", Some(&worker.key), Value::Null)
        .await
        .expect(429);
    assert!(
        r.error().starts_with("Too many abandons. Cooldown until "),
        "{}",
        r.error()
    );
    assert!(r.header("retry-after").is_some());
    app.pickup(&worker, &task).await.expect(429);
    app.post("/v1/tasks/pickup/batch", Some(&worker.key), Value::Null)
        .await
        .expect(429);
    // Browsing is not blocked.
    app.get("/v1/tasks/available", Some(&worker.key))
        .await
        .expect(200);
}

/// Workers without capability tags are served by an index-bounded claim; it
/// must choose what the full order chooses: a task matched to the worker
/// first, then poster reputation, then age, and filters that rule out the
/// best poster's tasks fall through to the rest of the pool.
#[tokio::test]
async fn tagless_workers_get_the_same_order() {
    let app = TestApp::spawn().await;
    let plain = app.register("plain").await;
    let famous = app.register("famous").await;
    let worker = app.register("worker").await;
    sqlx::query("UPDATE agents SET reputation = 4.8 WHERE id = $1")
        .bind(&famous.id)
        .execute(&app.pool)
        .await
        .unwrap();
    let old = app.post_task(&plain, "the oldest task", 1).await;
    let famous_first = app.post_task(&famous, "famous first", 1).await;
    let famous_second = app.post_task(&famous, "famous second", 1).await;
    let matched = app.post_task(&plain, "matched to the worker", 1).await;
    sqlx::query(
        "INSERT INTO task_matches (id, task_id, agent_id, rank) VALUES ('tm-1', $1, $2, 1)",
    )
    .bind(&matched)
    .bind(&worker.id)
    .execute(&app.pool)
    .await
    .unwrap();

    let mut picks = Vec::new();
    for query in ["", "", "?search=oldest", ""] {
        let r = app
            .post(
                &format!("/v1/tasks/pickup{query}"),
                Some(&worker.key),
                Value::Null,
            )
            .await
            .expect(200);
        picks.push(r.body["task_id"].as_str().unwrap().to_string());
    }
    assert_eq!(picks, [matched, famous_first, old, famous_second]);
    app.post("/v1/tasks/pickup", Some(&worker.key), Value::Null)
        .await
        .expect(204);
}

/// A worker with capability tags is served from the tasks matched to them and
/// those sharing a tag before the rest of the pool, each part in the full
/// order: matched, then more shared tags, then poster reputation, then age;
/// a filter that rules out every such task falls through to the rest.
#[tokio::test]
async fn tagged_workers_take_matched_then_sharing_then_the_rest() {
    let app = TestApp::spawn().await;
    let poster = app.register("poster").await;
    let famous = app.register("famous").await;
    let worker = app.register("worker").await;
    for (id, sql) in [
        (
            &worker.id,
            "UPDATE agents SET capability_tags = ARRAY['Go','sql'] WHERE id = $1",
        ),
        (
            &famous.id,
            "UPDATE agents SET reputation = 4.9 WHERE id = $1",
        ),
    ] {
        sqlx::query(sql).bind(id).execute(&app.pool).await.unwrap();
    }
    let post = |who, need: &str, tags: Value| {
        app.post(
            "/v1/tasks",
            Some(who),
            json!({"need": need, "max_credits": 1, "tags": tags}),
        )
    };
    let mut ids = Vec::new();
    for (who, need, tags) in [
        (&famous.key, "famous, nothing shared", json!([])),
        (&poster.key, "plain, nothing shared", json!(["rust"])),
        (&poster.key, "one shared tag", json!(["GO"])),
        (
            &famous.key,
            "one shared tag, famous poster",
            json!(["go", "rust"]),
        ),
        (&poster.key, "two shared tags", json!(["sql", "go"])),
        (&poster.key, "matched", json!([])),
    ] {
        let r = post(who, need, tags).await.expect(201);
        ids.push(r.body["task_id"].as_str().unwrap().to_string());
    }
    sqlx::query(
        "WITH m AS (INSERT INTO task_matches (id, task_id, agent_id, rank) VALUES ('tm-1', $1, $2, 1))
         UPDATE tasks SET match_status = 'matched' WHERE id = $1",
    )
    .bind(&ids[5])
    .bind(&worker.id)
    .execute(&app.pool)
    .await
    .unwrap();
    // Nothing shared passes this filter: the rest of the pool answers.
    let filtered = app
        .post(
            "/v1/tasks/pickup?tags=rust&search=plain",
            Some(&worker.key),
            Value::Null,
        )
        .await
        .expect(200);
    assert_eq!(filtered.body["task_id"], ids[1].as_str());
    for expected in [&ids[5], &ids[4], &ids[3], &ids[2], &ids[0]] {
        let r = app
            .post("/v1/tasks/pickup", Some(&worker.key), Value::Null)
            .await
            .expect(200);
        assert_eq!(r.body["task_id"], expected.as_str(), "{}", r.body["need"]);
    }
    app.post("/v1/tasks/pickup", Some(&worker.key), Value::Null)
        .await
        .expect(204);
}

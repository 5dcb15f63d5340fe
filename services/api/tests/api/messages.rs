//! Messages: only the poster and the current worker send or read them, only
//! on claimed or delivered tasks; the other party gets a `task_message` event.

use serde_json::json;

use crate::{
    cycle::{events_for, post_tagged},
    support::TestApp,
};

#[tokio::test]
async fn poster_and_worker_talk_while_the_task_is_open() {
    let app = TestApp::spawn().await;
    let poster = app.register("poster").await;
    let worker = app.register("worker").await;
    let outsider = app.register("outsider").await;
    let task = post_tagged(&app, &poster, 10, &[]).await;
    let path = format!("/v1/tasks/{task}/messages");

    let early = app
        .post(&path, Some(&poster.key), json!({"message": "hello?"}))
        .await
        .expect(409);
    assert_eq!(
        early.error(),
        "Task is posted, messages only allowed on claimed/delivered tasks"
    );

    app.pickup(&worker, &task).await.expect(200);
    let sent = app
        .post(
            &path,
            Some(&poster.key),
            json!({"message": "Auth module first"}),
        )
        .await
        .expect(201);
    assert_eq!(sent.body["sender_id"], poster.id.as_str());
    assert_eq!(sent.body["task_id"], task.as_str());
    let mid = sent.body["id"].as_str().unwrap().to_string();
    let reply = app
        .post(&path, Some(&worker.key), json!({"message": "Will do"}))
        .await
        .expect(201);
    let rid = reply.body["id"].as_str().unwrap().to_string();

    app.deliver(&worker, &task, json!({"result": "done"}))
        .await
        .expect(200);
    app.post(&path, Some(&worker.key), json!({"message": "Delivered"}))
        .await
        .expect(201);

    let thread = app.get(&path, Some(&worker.key)).await.expect(200);
    assert_eq!(thread.body["total"], 3);
    let texts: Vec<&str> = thread.body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["message"].as_str().unwrap())
        .collect();
    assert_eq!(texts, vec!["Auth module first", "Will do", "Delivered"]);

    let worker_events = events_for(&app, &worker.id).await;
    assert!(worker_events.contains(&(
        "task_message".into(),
        task.clone(),
        json!({"message_id": mid})
    )));
    let poster_events = events_for(&app, &poster.id).await;
    assert!(poster_events.contains(&(
        "task_message".into(),
        task.clone(),
        json!({"message_id": rid})
    )));
    assert!(events_for(&app, &outsider.id).await.is_empty());

    // After approval the thread is closed for writing but still readable by the parties.
    app.act(&poster, &task, "approve", json!({}))
        .await
        .expect(200);
    let late = app
        .post(&path, Some(&poster.key), json!({"message": "thanks"}))
        .await
        .expect(409);
    assert_eq!(
        late.error(),
        "Task is approved, messages only allowed on claimed/delivered tasks"
    );
    app.get(&path, Some(&poster.key)).await.expect(200);
    app.assert_conservation().await;
}

#[tokio::test]
async fn outsiders_can_neither_send_nor_read() {
    let app = TestApp::spawn().await;
    let poster = app.register("poster").await;
    let worker = app.register("worker").await;
    let outsider = app.register("outsider").await;
    let task = post_tagged(&app, &poster, 10, &[]).await;
    let path = format!("/v1/tasks/{task}/messages");
    // Even before the claim, an outsider learns nothing about the state.
    let posted = app
        .post(&path, Some(&outsider.key), json!({"message": "hi"}))
        .await
        .expect(403);
    assert_eq!(posted.error(), "Only poster or worker can send messages");

    app.pickup(&worker, &task).await.expect(200);
    app.post(&path, Some(&poster.key), json!({"message": "secret plan"}))
        .await
        .expect(201);
    // Once claimed, the task is invisible to outsiders: the same 404 as a missing task.
    let send = app
        .post(&path, Some(&outsider.key), json!({"message": "hi"}))
        .await
        .expect(404);
    assert_eq!(send.error(), "Task not found");
    let read = app.get(&path, Some(&outsider.key)).await.expect(404);
    assert_eq!(read.error(), "Task not found");
    assert!(!read.body.to_string().contains("secret plan"));
    app.get(&path, None).await.expect(401);
    app.get("/v1/tasks/tk-nope/messages", Some(&poster.key))
        .await
        .expect(404);
    app.post(
        "/v1/tasks/tk-nope/messages",
        Some(&poster.key),
        json!({"message": "x"}),
    )
    .await
    .expect(404);

    // A worker who gave the task back loses the thread.
    app.act(&worker, &task, "abandon", json!({}))
        .await
        .expect(200);
    app.get(&path, Some(&worker.key)).await.expect(403);
    app.assert_conservation().await;
}

#[tokio::test]
async fn message_length_is_limited() {
    let app = TestApp::spawn().await;
    let poster = app.register("poster").await;
    let worker = app.register("worker").await;
    let task = post_tagged(&app, &poster, 10, &[]).await;
    app.pickup(&worker, &task).await.expect(200);
    let path = format!("/v1/tasks/{task}/messages");
    app.post(&path, Some(&worker.key), json!({}))
        .await
        .expect(400);
    app.post(&path, Some(&worker.key), json!({"message": ""}))
        .await
        .expect(400);
    app.post(
        &path,
        Some(&worker.key),
        json!({"message": "m".repeat(5001)}),
    )
    .await
    .expect(400);
    app.post(
        &path,
        Some(&worker.key),
        json!({"message": "m".repeat(5000)}),
    )
    .await
    .expect(201);
}

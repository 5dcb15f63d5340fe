//! Questions: anyone but the poster asks on a posted task, at most five wait
//! unanswered, only the poster answers, once; events reach poster and asker.

use serde_json::json;

use crate::{
    cycle::{events_for, post_tagged},
    support::TestApp,
};

#[tokio::test]
async fn ask_answer_and_list() {
    let app = TestApp::spawn().await;
    let poster = app.register("poster").await;
    let asker = app.register("asker").await;
    let reader = app.register("reader").await;
    let task = post_tagged(&app, &poster, 10, &[]).await;

    let asked = app
        .post(
            &format!("/v1/tasks/{task}/questions"),
            Some(&asker.key),
            json!({"question": "Which format?"}),
        )
        .await
        .expect(201);
    let qid = asked.body["id"].as_str().unwrap().to_string();
    assert_eq!(asked.body["task_id"], task.as_str());
    assert_eq!(asked.body["asker_id"], asker.id.as_str());
    assert_eq!(asked.body["question"], "Which format?");
    assert!(asked.body["answer"].is_null() && asked.body["answered_at"].is_null());

    let answered = app
        .post(
            &format!("/v1/tasks/{task}/questions/{qid}/answer"),
            Some(&poster.key),
            json!({"answer": "JSON lines"}),
        )
        .await
        .expect(200);
    assert_eq!(answered.body["answer"], "JSON lines");
    assert!(answered.body["answered_at"].is_string());

    let list = app
        .get(&format!("/v1/tasks/{task}/questions"), Some(&reader.key))
        .await
        .expect(200);
    assert_eq!(list.body["total"], 1);
    assert_eq!(list.body["questions"][0]["id"], qid.as_str());
    assert_eq!(list.body["questions"][0]["answer"], "JSON lines");

    let to_poster = events_for(&app, &poster.id).await;
    assert_eq!(
        to_poster,
        vec![(
            "task_question".into(),
            task.clone(),
            json!({"question_id": qid})
        )]
    );
    let to_asker = events_for(&app, &asker.id).await;
    assert_eq!(
        to_asker,
        vec![(
            "question_answered".into(),
            task.clone(),
            json!({"question_id": qid})
        )]
    );
    assert!(events_for(&app, &reader.id).await.is_empty());

    // Unauthenticated readers are refused.
    app.get(&format!("/v1/tasks/{task}/questions"), None)
        .await
        .expect(401);
    app.get("/v1/tasks/tk-nope/questions", Some(&reader.key))
        .await
        .expect(404);
}

#[tokio::test]
async fn asking_is_refused_when_the_rules_say_so() {
    let app = TestApp::spawn().await;
    let poster = app.register("poster").await;
    let asker = app.register("asker").await;
    let task = post_tagged(&app, &poster, 10, &[]).await;
    let path = format!("/v1/tasks/{task}/questions");

    let own = app
        .post(&path, Some(&poster.key), json!({"question": "Me?"}))
        .await
        .expect(409);
    assert_eq!(own.error(), "Cannot ask questions on your own task");
    app.post(&path, Some(&asker.key), json!({}))
        .await
        .expect(400);
    app.post(&path, Some(&asker.key), json!({"question": "  "}))
        .await
        .expect(400);
    app.post(
        &path,
        Some(&asker.key),
        json!({"question": "q".repeat(1001)}),
    )
    .await
    .expect(400);
    app.post(
        &path,
        Some(&asker.key),
        json!({"question": "q".repeat(1000)}),
    )
    .await
    .expect(201);
    app.post(
        "/v1/tasks/tk-nope/questions",
        Some(&asker.key),
        json!({"question": "?"}),
    )
    .await
    .expect(404);

    for i in 0..4 {
        app.post(
            &path,
            Some(&asker.key),
            json!({"question": format!("q{i}")}),
        )
        .await
        .expect(201);
    }
    let sixth = app
        .post(&path, Some(&asker.key), json!({"question": "one more"}))
        .await
        .expect(429);
    assert_eq!(sixth.error(), "Max 5 unanswered questions per task");

    // Answering one frees a slot.
    let list = app.get(&path, Some(&asker.key)).await.expect(200);
    let qid = list.body["questions"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.post(
        &format!("{path}/{qid}/answer"),
        Some(&poster.key),
        json!({"answer": "ok"}),
    )
    .await
    .expect(200);
    app.post(&path, Some(&asker.key), json!({"question": "now?"}))
        .await
        .expect(201);

    // Only posted tasks take questions.
    app.pickup(&asker, &task).await.expect(200);
    let claimed = app
        .post(&path, Some(&asker.key), json!({"question": "late"}))
        .await
        .expect(409);
    assert_eq!(claimed.error(), "Can only ask questions on posted tasks");
    app.assert_conservation().await;
}

#[tokio::test]
async fn answering_is_refused_when_the_rules_say_so() {
    let app = TestApp::spawn().await;
    let poster = app.register("poster").await;
    let asker = app.register("asker").await;
    let task = post_tagged(&app, &poster, 10, &[]).await;
    let other_task = post_tagged(&app, &poster, 10, &[]).await;
    let asked = app
        .post(
            &format!("/v1/tasks/{task}/questions"),
            Some(&asker.key),
            json!({"question": "?"}),
        )
        .await
        .expect(201);
    let qid = asked.body["id"].as_str().unwrap().to_string();
    let answer = |t: &str| format!("/v1/tasks/{t}/questions/{qid}/answer");

    let not_poster = app
        .post(&answer(&task), Some(&asker.key), json!({"answer": "x"}))
        .await
        .expect(403);
    assert_eq!(not_poster.error(), "Only the poster can answer questions");
    let wrong_task = app
        .post(
            &answer(&other_task),
            Some(&poster.key),
            json!({"answer": "x"}),
        )
        .await
        .expect(404);
    assert_eq!(wrong_task.error(), "Question not found");
    app.post(
        &format!("/v1/tasks/{task}/questions/qa-nope/answer"),
        Some(&poster.key),
        json!({"answer": "x"}),
    )
    .await
    .expect(404);
    app.post(
        &answer("tk-nope"),
        Some(&poster.key),
        json!({"answer": "x"}),
    )
    .await
    .expect(404);
    app.post(&answer(&task), Some(&poster.key), json!({}))
        .await
        .expect(400);
    app.post(
        &answer(&task),
        Some(&poster.key),
        json!({"answer": "a".repeat(5001)}),
    )
    .await
    .expect(400);
    app.post(
        &answer(&task),
        Some(&poster.key),
        json!({"answer": "a".repeat(5000)}),
    )
    .await
    .expect(200);
    let twice = app
        .post(
            &answer(&task),
            Some(&poster.key),
            json!({"answer": "again"}),
        )
        .await
        .expect(409);
    assert_eq!(twice.error(), "Question already answered");
}

#[tokio::test]
async fn concurrent_askers_never_exceed_five_unanswered() {
    let app = TestApp::spawn().await;
    let poster = app.register("poster").await;
    let task = post_tagged(&app, &poster, 10, &[]).await;
    let mut askers = Vec::new();
    for i in 0..8 {
        askers.push(app.register(&format!("asker{i}")).await);
    }
    let mut set = tokio::task::JoinSet::new();
    for asker in askers {
        let client = app.client.clone();
        let path = format!("/v1/tasks/{task}/questions");
        set.spawn(async move {
            client
                .post(&path, Some(&asker.key), json!({"question": "?"}))
                .await
                .status
                .as_u16()
        });
    }
    let statuses = set.join_all().await;
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        5,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        3,
        "{statuses:?}"
    );
}

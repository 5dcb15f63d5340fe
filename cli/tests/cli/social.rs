//! The commands written before their routes existed, against the real api:
//! questions, messages, poster ratings, reports, stats, trust, the agent
//! directory and `tasks create --wait`.

use std::time::Duration;

use crate::support::{Cli, TestApp};

#[tokio::test]
async fn questions_messages_reports_and_the_poster_rating_go_through_the_cli() {
    let app = TestApp::spawn().await;
    let cli = app.cli();
    let (poster_id, _) = cli.register("poster", "poster-agent").await;
    let (worker_id, _) = cli.register("worker", "worker-agent").await;
    cli.register("other", "other-agent").await;
    let id = cli
        .create_task("poster", "Port this module to Rust", "20", "rust")
        .await;

    // Questions before pickup: ask, list, answer.
    let asked = cli
        .run(&["--profile", "worker", "tasks", "ask", &id, "Which edition?"])
        .await
        .ok();
    assert!(asked.starts_with("Asked question "), "{asked}");
    assert!(asked.trim().ends_with(&format!(" on {id}.")), "{asked}");
    let qid = asked.split_whitespace().nth(2).unwrap().to_string();
    let listed = cli
        .run(&["--profile", "other", "tasks", "questions", &id])
        .await
        .ok();
    assert!(
        listed.starts_with("ID") && listed.contains(&qid) && listed.contains("Which edition?"),
        "{listed}"
    );
    assert!(listed.contains(&worker_id), "the asker is shown: {listed}");
    let answered = cli
        .run(&["--profile", "poster", "tasks", "answer", &id, &qid, "2024"])
        .await
        .ok();
    assert_eq!(answered.trim(), format!("Answered question {qid}."));
    let questions = cli
        .run(&["--profile", "other", "--json", "tasks", "questions", &id])
        .await
        .json();
    assert_eq!(questions["total"], 1);
    assert_eq!(questions["questions"][0]["answer"], "2024");
    let not_poster = cli
        .run(&["--profile", "worker", "tasks", "answer", &id, &qid, "x"])
        .await
        .fails(3);
    assert!(not_poster.starts_with("error: "), "{not_poster}");

    // A report by a bystander.
    let reported = cli
        .run(&[
            "--profile",
            "other",
            "tasks",
            "report",
            &id,
            "--reason",
            "looks like spam",
        ])
        .await
        .ok();
    assert!(
        reported.starts_with(&format!("Reported {id} (report ")),
        "{reported}"
    );
    let report_id: String = sqlx::query_scalar("SELECT id FROM reports WHERE task_id = $1")
        .bind(&id)
        .fetch_one(&app.pool)
        .await
        .expect("the report is stored");
    assert!(reported.contains(&report_id), "{reported}");

    // Messages while the task is claimed.
    cli.run(&["--profile", "worker", "tasks", "pickup", &id])
        .await
        .ok();
    let sent = cli
        .run(&[
            "--profile",
            "worker",
            "tasks",
            "message",
            &id,
            "Starting now",
        ])
        .await
        .ok();
    assert!(
        sent.starts_with("Sent message ") && sent.trim().ends_with(&format!(" on {id}.")),
        "{sent}"
    );
    cli.run(&["--profile", "poster", "tasks", "message", &id, "Thanks!"])
        .await
        .ok();
    let thread = cli
        .run(&["--profile", "poster", "tasks", "messages", &id])
        .await
        .ok();
    let lines: Vec<&str> = thread.lines().collect();
    assert_eq!(lines.len(), 3, "{thread}");
    assert!(lines[0].starts_with("WHEN"), "{thread}");
    assert!(
        lines[1].contains(&worker_id) && lines[1].ends_with("Starting now"),
        "{thread}"
    );
    assert!(
        lines[2].contains(&poster_id) && lines[2].ends_with("Thanks!"),
        "{thread}"
    );
    // A claimed task is invisible to outsiders: not found, like a missing one.
    let outsider = cli
        .run(&["--profile", "other", "tasks", "messages", &id])
        .await
        .fails(4);
    assert!(outsider.starts_with("error: "), "{outsider}");

    // Deliver, approve, then the worker rates the poster.
    cli.run(&["--profile", "worker", "tasks", "deliver", &id, "done"])
        .await
        .ok();
    cli.run(&[
        "--profile",
        "poster",
        "tasks",
        "approve",
        &id,
        "--rating",
        "5",
    ])
    .await
    .ok();
    let rated = cli
        .run(&[
            "--profile",
            "worker",
            "tasks",
            "rate",
            &id,
            "--rating",
            "4",
            "--feedback",
            "clear spec",
        ])
        .await
        .ok();
    assert_eq!(rated.trim(), format!("Rated {poster_id} 4 for task {id}."));
    let again = cli
        .run(&["--profile", "worker", "tasks", "rate", &id, "--rating", "4"])
        .await
        .fails(5);
    assert!(again.contains("Already rated"), "{again}");
    app.assert_conservation().await;
}

#[tokio::test]
async fn stats_trust_and_the_agent_directory_reflect_an_approved_task() {
    let app = TestApp::spawn().await;
    let cli = app.cli();
    let (poster_id, _) = cli.register("poster", "poster-agent").await;
    let (worker_id, _) = cli.register("worker", "worker-agent").await;
    cli.run(&[
        "--profile",
        "worker",
        "me",
        "update",
        "--good-at",
        "Rust reviews",
    ])
    .await
    .ok();

    assert_eq!(
        cli.run(&["--profile", "worker", "trust"]).await.ok().trim(),
        "no trust scores yet"
    );

    let id = cli
        .create_task("poster", "Review my crate", "30", "rust")
        .await;
    cli.run(&["--profile", "worker", "tasks", "pickup", &id])
        .await
        .ok();
    cli.run(&["--profile", "worker", "tasks", "deliver", &id, "LGTM"])
        .await
        .ok();
    cli.run(&[
        "--profile",
        "poster",
        "tasks",
        "approve",
        &id,
        "--rating",
        "5",
    ])
    .await
    .ok();

    let stats = cli
        .run(&["--profile", "worker", "--json", "stats"])
        .await
        .json();
    let earned = stats["total_earned"].as_i64().expect("total_earned");
    assert!(earned > 0 && earned <= 30, "{stats}");
    let human = cli.run(&["--profile", "worker", "stats"]).await.ok();
    assert!(
        human.starts_with("total_earned:") && human.contains(&earned.to_string()),
        "{human}"
    );
    assert!(
        human.contains("TAG") && human.lines().any(|l| l.starts_with("rust ")),
        "the per-tag table: {human}"
    );
    let spent = cli
        .run(&["--profile", "poster", "--json", "stats"])
        .await
        .json();
    assert_eq!(spent["total_spent"], 30, "{spent}");

    let trust = cli.run(&["--profile", "poster", "trust"]).await.ok();
    assert!(
        trust.starts_with("AGENT") && trust.contains(&worker_id),
        "{trust}"
    );
    let trust = cli
        .run(&["--profile", "worker", "--json", "trust"])
        .await
        .json();
    assert_eq!(trust["trust_scores"][0]["trusted_id"], poster_id.as_str());

    // The directory is public: no key needed.
    let anonymous = Cli::new(&cli.url);
    let agents = anonymous.run(&["agents"]).await.ok();
    assert!(agents.starts_with("ID"), "{agents}");
    assert!(
        agents.contains(&worker_id) && agents.contains(&poster_id),
        "{agents}"
    );
    let found = anonymous
        .run(&["--json", "agents", "--search", "Rust reviews"])
        .await
        .json();
    assert_eq!(found["total"], 1, "{found}");
    assert_eq!(found["agents"][0]["id"], worker_id.as_str());
    let none = anonymous
        .run(&["agents", "--search", "no such skill"])
        .await
        .ok();
    assert_eq!(none.trim(), "no agents found");

    let shown = anonymous.run(&["agents", "show", &worker_id]).await.ok();
    assert!(
        shown.starts_with("id:") && shown.contains(&worker_id),
        "{shown}"
    );
    assert!(
        shown.contains("worker-agent") && shown.contains("Rust reviews"),
        "{shown}"
    );
    assert!(
        shown.contains("TAG") && shown.lines().any(|l| l.starts_with("rust ")),
        "the reputation by tag: {shown}"
    );
    let missing = anonymous
        .run(&["agents", "show", "ag-doesnotexist"])
        .await
        .fails(4);
    assert!(missing.contains("Agent not found"), "{missing}");
}

#[tokio::test]
async fn create_with_wait_prints_the_result_another_agent_delivered() {
    let app = TestApp::spawn().await;
    let cli = app.cli();
    cli.register("poster", "poster-agent").await;
    cli.register("worker", "worker-agent").await;

    let waiting = cli.start(&[
        "--profile",
        "poster",
        "tasks",
        "create",
        "Summarise this paper",
        "--credits",
        "10",
        "--tags",
        "summary",
        "--wait",
        "60",
    ]);
    // The worker picks the task up as soon as it exists, and delivers.
    let mut task_id = None;
    for _ in 0..200 {
        let picked = cli
            .run(&[
                "--profile",
                "worker",
                "--json",
                "tasks",
                "pickup",
                "--tags",
                "summary",
            ])
            .await
            .json();
        if let Some(id) = picked["task_id"].as_str() {
            task_id = Some(id.to_string());
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let task_id = task_id.expect("the task never showed up in the pool");
    cli.run(&[
        "--profile",
        "worker",
        "tasks",
        "deliver",
        &task_id,
        "It says three things.",
    ])
    .await
    .ok();

    let out = Cli::finish(waiting).await.ok();
    assert_eq!(
        out.trim(),
        format!("Created {task_id} (delivered): 10 credits in escrow.\n\nIt says three things.")
    );
}

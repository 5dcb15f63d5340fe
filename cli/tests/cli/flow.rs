//! The documented session works end to end through the CLI: register →
//! create → pickup → deliver → approve → credits, with the money adding up.

use crate::support::TestApp;

#[tokio::test]
async fn a_task_goes_from_create_to_paid_approval() {
    let app = TestApp::spawn().await;
    let cli = app.cli();
    let (poster_id, _) = cli.register("poster", "poster-agent").await;
    let (worker_id, _) = cli.register("worker", "worker-agent").await;

    let out = cli
        .run(&[
            "--profile",
            "poster",
            "tasks",
            "create",
            "Review this code for bugs",
            "--credits",
            "25",
            "--tags",
            "code-review,rust",
        ])
        .await
        .ok();
    assert!(out.starts_with("Created tk-"), "{out}");
    assert!(out.contains("25 credits in escrow"), "{out}");
    let task_id = out.split_whitespace().nth(1).unwrap().to_string();

    let listed = cli
        .run(&[
            "--profile",
            "worker",
            "tasks",
            "list",
            "--tags",
            "code-review",
        ])
        .await
        .ok();
    assert!(
        listed.contains(&task_id) && listed.contains("Review this code"),
        "{listed}"
    );

    let picked = cli
        .run(&[
            "--profile",
            "worker",
            "tasks",
            "pickup",
            "--tags",
            "code-review",
        ])
        .await
        .ok();
    assert!(
        picked.starts_with(&format!("Picked up {task_id} (budget 25 credits)")),
        "{picked}"
    );
    assert!(picked.contains(&poster_id), "{picked}");

    let delivered = cli
        .run(&[
            "--profile",
            "worker",
            "tasks",
            "deliver",
            &task_id,
            "Found 3 issues",
            "--credits-claimed",
            "20",
        ])
        .await
        .ok();
    assert_eq!(
        delivered.trim(),
        format!("Delivered {task_id} (status delivered).")
    );

    let shown = cli
        .run(&["--profile", "poster", "tasks", "show", &task_id])
        .await
        .ok();
    assert!(
        shown.contains("status:") && shown.contains("delivered"),
        "{shown}"
    );
    assert!(
        shown.contains(&worker_id) && shown.contains("result:\nFound 3 issues"),
        "{shown}"
    );

    let approved = cli
        .run(&[
            "--profile",
            "poster",
            "tasks",
            "approve",
            &task_id,
            "--rating",
            "5",
        ])
        .await
        .ok();
    assert_eq!(
        approved.trim(),
        format!("Approved {task_id}: 20 credits charged.")
    );

    let poster = cli
        .run(&["--profile", "poster", "--json", "credits"])
        .await
        .json();
    assert_eq!(poster["balance"], 80);
    assert_eq!(poster["escrowed"], 0);
    let worker = cli
        .run(&["--profile", "worker", "--json", "credits"])
        .await
        .json();
    assert!(worker["balance"].as_i64().unwrap() > 100, "{worker}");
    let human = cli.run(&["--profile", "worker", "credits"]).await.ok();
    assert!(
        human.starts_with(&format!(
            "Balance: {} credits (0 in escrow)",
            worker["balance"]
        )),
        "{human}"
    );
    assert!(
        human.contains(&task_id),
        "the ledger lists the payment: {human}"
    );

    let mine = cli
        .run(&[
            "--profile",
            "poster",
            "tasks",
            "mine",
            "--role",
            "poster",
            "--status",
            "approved",
        ])
        .await
        .ok();
    assert!(
        mine.contains(&task_id) && mine.contains("approved"),
        "{mine}"
    );
    app.assert_conservation().await;
}

#[tokio::test]
async fn an_empty_pool_is_no_tasks_available_with_exit_0() {
    let app = TestApp::spawn().await;
    let cli = app.cli();
    cli.register("default", "lonely").await;
    let out = cli.run(&["tasks", "pickup"]).await.ok();
    assert_eq!(out.trim(), "no tasks available");
    let json = cli.run(&["--json", "tasks", "pickup"]).await.ok();
    assert_eq!(json.trim(), "null");
    assert_eq!(
        cli.run(&["tasks", "available"]).await.ok().trim(),
        "no tasks available"
    );
}

#[tokio::test]
async fn results_come_from_stdin_or_a_file_and_batch_pickup_claims_several() {
    let app = TestApp::spawn().await;
    let cli = app.cli();
    cli.register("poster", "p").await;
    cli.register("worker", "w").await;
    let mut ids = Vec::new();
    for need in ["first", "second"] {
        let body = cli
            .run(&[
                "--profile",
                "poster",
                "--json",
                "tasks",
                "create",
                need,
                "--credits",
                "5",
            ])
            .await
            .json();
        ids.push(body["task_id"].as_str().unwrap().to_string());
    }
    let batch = cli
        .run(&[
            "--profile",
            "worker",
            "--json",
            "tasks",
            "pickup",
            "--batch",
            "5",
        ])
        .await
        .json();
    assert_eq!(batch["total"], 2);

    cli.run_with_stdin(
        &["--profile", "worker", "tasks", "deliver", &ids[0]],
        Some("from stdin\n"),
    )
    .await
    .ok();
    let file = cli.config_dir().join("result.md");
    std::fs::write(&file, "from a file").unwrap();
    cli.run(&[
        "--profile",
        "worker",
        "tasks",
        "deliver",
        &ids[1],
        "--file",
        file.to_str().unwrap(),
    ])
    .await
    .ok();

    let first = cli
        .run(&["--profile", "poster", "--json", "tasks", "show", &ids[0]])
        .await
        .json();
    assert_eq!(first["result"], "from stdin\n");
    let second = cli
        .run(&["--profile", "poster", "--json", "tasks", "show", &ids[1]])
        .await
        .json();
    assert_eq!(second["result"], "from a file");
}

#[tokio::test]
async fn reject_abandon_and_cancel_move_the_task() {
    let app = TestApp::spawn().await;
    let cli = app.cli();
    cli.register("poster", "p").await;
    cli.register("worker", "w").await;
    let create = |need: &'static str| {
        let cli = &cli;
        async move {
            let body = cli
                .run(&[
                    "--profile",
                    "poster",
                    "--json",
                    "tasks",
                    "create",
                    need,
                    "--credits",
                    "10",
                ])
                .await
                .json();
            body["task_id"].as_str().unwrap().to_string()
        }
    };
    let id = create("needs work").await;
    cli.run(&["--profile", "worker", "tasks", "pickup", &id])
        .await
        .ok();
    cli.run(&["--profile", "worker", "tasks", "deliver", &id, "meh"])
        .await
        .ok();
    let rejected = cli
        .run(&[
            "--profile",
            "poster",
            "tasks",
            "reject",
            &id,
            "--reason",
            "too short",
        ])
        .await
        .ok();
    assert!(
        rejected.starts_with(&format!("Rejected {id} (status claimed).")),
        "{rejected}"
    );
    let abandoned = cli
        .run(&["--profile", "worker", "tasks", "abandon", &id])
        .await
        .ok();
    assert_eq!(abandoned.trim(), format!("Abandoned {id} (status posted)."));
    let cancelled = cli
        .run(&["--profile", "poster", "tasks", "cancel", &id])
        .await
        .ok();
    assert_eq!(
        cancelled.trim(),
        format!("Cancelled {id} (status cancelled).")
    );
    let credits = cli
        .run(&["--profile", "poster", "--json", "credits"])
        .await
        .json();
    assert_eq!(credits["balance"], 100, "the escrow came back");
    app.assert_conservation().await;
}

#[tokio::test]
async fn me_shows_and_updates_the_profile() {
    let app = TestApp::spawn().await;
    let cli = app.cli();
    let (id, _) = cli.register("default", "me-agent").await;
    let me = cli.run(&["me"]).await.ok();
    assert!(
        me.contains(&id) && me.contains("me-agent") && me.contains("credits:"),
        "{me}"
    );
    let updated = cli
        .run(&["me", "update", "--good-at", "Rust, SQL"])
        .await
        .ok();
    assert!(
        updated.starts_with("Profile updated.") && updated.contains("Rust, SQL"),
        "{updated}"
    );
    let nothing = cli.run(&["me", "update"]).await.fails(2);
    assert!(nothing.starts_with("error: nothing to update"), "{nothing}");
}

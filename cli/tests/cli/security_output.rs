//! Other agents' text never reaches the user's terminal as control sequences:
//! a need carrying escape codes prints without them, in lists and in detail.

use crate::support::TestApp;

const HOSTILE: &str = "Fix my code\u{1b}]0;pwned\u{7}\u{1b}[2J\u{9b}31m now";

#[tokio::test]
async fn escape_sequences_in_other_agents_text_are_not_printed() {
    let app = TestApp::spawn().await;
    let cli = app.cli();
    cli.register("poster", "poster-agent").await;
    cli.register("worker", "worker-agent").await;
    let task = cli.create_task("poster", HOSTILE, "5", "code").await;

    let listed = cli
        .run(&["--profile", "worker", "tasks", "list"])
        .await
        .ok();
    let shown = cli
        .run(&["--profile", "worker", "tasks", "show", &task])
        .await;
    let picked = cli
        .run(&["--profile", "worker", "tasks", "pickup"])
        .await
        .ok();
    for out in [listed, picked] {
        assert!(out.contains("Fix my code"), "{out}");
        assert!(
            !out.chars()
                .any(|c| c.is_control() && c != '\n' && c != '\t'),
            "control characters printed: {out:?}"
        );
    }
    // `tasks show` of someone else's task is an error; its message is clean too.
    let err = shown.stderr;
    assert!(!err.contains('\u{1b}'), "{err:?}");
}

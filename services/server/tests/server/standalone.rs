//! `ops/standalone` (the all-in-one image's entrypoint) from an empty
//! directory: it creates and starts a private PostgreSQL and NATS, migrates
//! and serves; a restart finds the data of the first run; SIGTERM stops
//! every process it started.

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};

use pinchwork_testkit::{Client, free_port, metrics::wait_healthy};
use serde_json::json;

use crate::support::{Started, bin_dir, processes_mentioning, running, scratch, tail, workspace};

/// One run of `ops/standalone DIR`.
struct Run {
    script: Started,
    dir: PathBuf,
    log: PathBuf,
    client: Client,
}

impl Run {
    /// Starts the script on `dir` with the given ports and waits until the
    /// server is healthy.
    async fn start(dir: &Path, ports: [u16; 3], attempt: usize) -> Self {
        let log = dir.with_extension(format!("{attempt}.log"));
        let output = std::fs::File::create(&log).expect("create the log");
        let [server, nats, postgres] = ports.map(|p| p.to_string());
        let mut command = std::process::Command::new(workspace("ops/standalone"));
        for setting in [
            "DATABASE_URL",
            "NATS_URL",
            "PINCHWORK_NATS_PREFIX",
            "PINCHWORK_LISTEN",
            "PINCHWORK_COMPONENTS",
            "PINCHWORK_CONSOLE_SERVICES",
        ] {
            command.env_remove(setting);
        }
        let script = command
            .arg(dir)
            .env("PINCHWORK_BIN_DIR", bin_dir())
            .env("PINCHWORK_PORT", &server)
            .env("PINCHWORK_HOST", "127.0.0.1")
            .env("PINCHWORK_STANDALONE_NATS_PORT", &nats)
            .env("PINCHWORK_STANDALONE_PG_PORT", &postgres)
            .env("PINCHWORK_RATE_LIMIT_ENABLED", "false")
            .stdin(Stdio::null())
            .stdout(output.try_clone().expect("log handle"))
            .stderr(output)
            .spawn()
            .expect("start ops/standalone");
        let run = Self {
            script: Started(script),
            dir: dir.to_path_buf(),
            log,
            client: Client::new(format!("http://127.0.0.1:{server}")),
        };
        wait_healthy(&run.client.base, Duration::from_secs(180)).await;
        run
    }

    /// The processes the script started, by name, from their pid files.
    fn children(&self) -> Vec<(&'static str, u32)> {
        let pid = |file: PathBuf| -> u32 {
            let text = std::fs::read_to_string(&file)
                .unwrap_or_else(|e| panic!("{}: {e}\n{}", file.display(), tail(&self.log)));
            let first = text.lines().next().unwrap_or_default().trim();
            first.parse().expect("a pid")
        };
        vec![
            ("pinchwork-server", pid(self.dir.join("run/server.pid"))),
            ("nats-server", pid(self.dir.join("run/nats.pid"))),
            (
                "postgres",
                pid(self.dir.join("postgres/data/postmaster.pid")),
            ),
        ]
    }

    /// SIGTERM to the script: it exits successfully and none of its
    /// processes is left.
    async fn stop(mut self) {
        let children = self.children();
        for (name, pid) in &children {
            assert!(running(*pid), "{name} ({pid}) is not running");
        }
        let status = self.script.stop(Duration::from_secs(180)).await;
        assert!(
            status.success(),
            "exited with {status}:\n{}",
            tail(&self.log)
        );
        for (name, pid) in children {
            assert!(!running(pid), "{name} ({pid}) still runs");
        }
        let dir = self.dir.display().to_string();
        let left = processes_mentioning(&dir);
        assert!(left.is_empty(), "processes left in {dir}: {left:?}");
    }
}

#[tokio::test]
async fn standalone_starts_from_nothing_keeps_its_data_and_stops_everything() {
    let root = scratch("standalone");
    let dir = root.join("data");
    let ports = [free_port(), free_port(), free_port()];

    let first = Run::start(&dir, ports, 1).await;
    assert!(dir.join("postgres/data/PG_VERSION").is_file());
    let poster = first.client.register("poster").await;
    let task = first
        .client
        .post_task(&poster, "kept across a restart", 5)
        .await;
    first.stop().await;

    let second = Run::start(&dir, ports, 2).await;
    let shown = second
        .client
        .get(&format!("/v1/tasks/{task}"), Some(&poster.key))
        .await
        .expect(200);
    assert_eq!(shown.body["need"], json!("kept across a restart"));
    second.stop().await;
    let _ = std::fs::remove_dir_all(&root);
}

//! What both tests share: the API document's curl examples (`ops/smoke`),
//! log files, signals and process checks.

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

/// A path of the workspace.
pub fn workspace(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path)
}

/// A new scratch directory under the system's temporary one (a short path:
/// PostgreSQL's socket lives below it).
pub fn scratch(kind: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("pw-{kind}-{:08x}", rand::random::<u32>()));
    std::fs::create_dir_all(&dir).expect("create a scratch directory");
    dir
}

/// The directory of the workspace's built binaries (this test's own target directory).
pub fn bin_dir() -> PathBuf {
    let server = Path::new(env!("CARGO_BIN_EXE_pinchwork-server"));
    let dir = server.parent().expect("a target directory").to_path_buf();
    assert!(
        dir.join("pinchwork-migrate").is_file(),
        "no pinchwork-migrate in {}: run `cargo build --workspace --bins` first (ops/test does)",
        dir.display()
    );
    dir
}

/// The last lines of a log file, for a failure message.
pub fn tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

/// Replays the API document's curl examples against `base`, as
/// `ops/cluster smoke` does against the cluster; panics on any failure.
pub async fn smoke(base: &str, log: &Path) {
    let out = tokio::process::Command::new("bash")
        .arg(workspace("ops/smoke"))
        .arg(base)
        .output()
        .await
        .expect("run ops/smoke");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "ops/smoke failed:\n{stdout}{}\n--- {}:\n{}",
        String::from_utf8_lossy(&out.stderr),
        log.display(),
        tail(log)
    );
    assert!(stdout.contains(" 0 failed"), "{stdout}");
}

/// Sends SIGTERM to `pid`.
fn terminate(pid: u32) {
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
}

/// A process the test started: told to stop (SIGTERM, then SIGKILL after a
/// minute) if the test ends while it still runs.
pub struct Started(pub std::process::Child);

impl Started {
    pub fn id(&self) -> u32 {
        self.0.id()
    }

    /// Sends SIGTERM and waits for the exit; panics after `limit`.
    pub async fn stop(&mut self, limit: Duration) -> std::process::ExitStatus {
        terminate(self.id());
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            if let Some(status) = self.0.try_wait().expect("try_wait") {
                return status;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "process {} did not exit",
                self.id()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Started {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_some() {
            return;
        }
        terminate(self.id());
        for _ in 0..600 {
            if self.0.try_wait().ok().flatten().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Whether process `pid` runs (a zombie nobody reaped does not).
pub fn running(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| !rest.starts_with('Z')),
        Err(_) => false,
    }
}

/// The running processes whose command line mentions `text`.
pub fn processes_mentioning(text: &str) -> Vec<(u32, String)> {
    std::fs::read_dir("/proc")
        .expect("read /proc")
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| running(*pid))
        .filter_map(|pid| {
            let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            let line = String::from_utf8_lossy(&raw).replace('\0', " ");
            line.contains(text).then_some((pid, line))
        })
        .collect()
}

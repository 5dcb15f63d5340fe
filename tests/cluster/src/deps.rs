//! A nats-server and a PostgreSQL instance of one cluster's own, so a test
//! can restart them without touching the shared servers other tests use.

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    time::{Duration, Instant},
};

use tokio::process::{Child, Command};

/// Waits until something accepts connections on 127.0.0.1:`port`.
async fn wait_for_port(what: &str, port: u16) {
    let start = Instant::now();
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{what} did not listen on port {port}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `nats-server` with JetStream on its own port and store directory.
pub(crate) struct PrivateNats {
    port: u16,
    store: PathBuf,
    child: Option<Child>,
}

impl PrivateNats {
    pub(crate) async fn start(dir: &Path, port: u16) -> Self {
        let mut nats = Self {
            port,
            store: dir.join("nats"),
            child: None,
        };
        nats.spawn().await;
        nats
    }

    pub(crate) fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    async fn spawn(&mut self) {
        let child = Command::new(nats_binary())
            .args([
                "-a",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-js",
                "-sd",
            ])
            .arg(&self.store)
            .arg("-l")
            .arg(self.store.with_extension("log"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start nats-server");
        self.child = Some(child);
        wait_for_port("nats-server", self.port).await;
    }

    /// Stops the server with SIGTERM (its clean shutdown).
    pub(crate) async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            if let Some(pid) = child.id() {
                let _ = Command::new("kill")
                    .args(["-TERM", &pid.to_string()])
                    .status()
                    .await;
            }
            let _ = child.wait().await;
        }
    }

    /// Starts it again on the same port and store.
    pub(crate) async fn restart(&mut self) {
        self.stop().await;
        self.spawn().await;
    }
}

fn nats_binary() -> &'static str {
    if Path::new("/usr/sbin/nats-server").exists() {
        "/usr/sbin/nats-server"
    } else {
        "nats-server"
    }
}

/// A PostgreSQL cluster in a directory of its own, run with `pg_ctl` as the
/// `postgres` OS user when we are root (PostgreSQL refuses to run as root).
pub(crate) struct PrivatePostgres {
    bin: PathBuf,
    data: PathBuf,
    log: PathBuf,
    port: u16,
}

impl PrivatePostgres {
    /// Creates the instance (initdb) under `dir` and starts it on `port`.
    pub(crate) async fn create(dir: &Path, port: u16) -> Self {
        let home = dir.join("pg");
        std::fs::create_dir_all(&home).expect("create the PostgreSQL directory");
        if is_root() {
            let chown = std::process::Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&home)
                .status()
                .expect("chown");
            assert!(chown.success(), "chown of {} failed", home.display());
        }
        let pg = Self {
            bin: postgres_bin_dir(),
            data: home.join("data"),
            log: home.join("postgres.log"),
            port,
        };
        pg.run(
            "initdb",
            &[
                "-D".as_ref(),
                pg.data.as_os_str(),
                "-U".as_ref(),
                "postgres".as_ref(),
                "--auth=trust".as_ref(),
                "--no-sync".as_ref(),
                "-E".as_ref(),
                "UTF8".as_ref(),
            ],
        )
        .await;
        pg.start().await;
        pg
    }

    /// URL of database `db` on this server.
    pub(crate) fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }

    pub(crate) async fn start(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=off",
            self.port,
            self.data.display()
        );
        self.run(
            "pg_ctl",
            &[
                "-D".as_ref(),
                self.data.as_os_str(),
                "-l".as_ref(),
                self.log.as_os_str(),
                "-o".as_ref(),
                options.as_ref(),
                "-w".as_ref(),
                "start".as_ref(),
            ],
        )
        .await;
    }

    /// Fast shutdown: open sessions are cut, like a server restart in production.
    pub(crate) async fn stop(&self) {
        self.run(
            "pg_ctl",
            &[
                "-D".as_ref(),
                self.data.as_os_str(),
                "-m".as_ref(),
                "fast".as_ref(),
                "-w".as_ref(),
                "stop".as_ref(),
            ],
        )
        .await;
    }

    /// Immediate shutdown, blocking (from `Drop`).
    pub(crate) fn stop_now(&self) {
        let _ = self
            .command("pg_ctl")
            .arg("-D")
            .arg(&self.data)
            .args(["-m", "immediate", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }

    fn command(&self, tool: &str) -> std::process::Command {
        let program = self.bin.join(tool);
        let mut cmd = if is_root() {
            let mut cmd = std::process::Command::new("runuser");
            cmd.args(["-u", "postgres", "--"]).arg(program);
            cmd
        } else {
            std::process::Command::new(program)
        };
        // The postgres user may not be able to enter the test's directory.
        cmd.current_dir(self.data.parent().unwrap_or(Path::new("/")))
            .stdin(Stdio::null());
        cmd
    }

    async fn run(&self, tool: &str, args: &[&std::ffi::OsStr]) {
        let mut cmd = Command::from(self.command(tool));
        let out = cmd
            .args(args)
            .output()
            .await
            .expect("run a PostgreSQL tool");
        assert!(
            out.status.success(),
            "{tool} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

fn is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .map(|out| out.stdout.trim_ascii() == b"0")
        .unwrap_or(false)
}

/// The newest `/usr/lib/postgresql/<version>/bin` (Debian's layout).
fn postgres_bin_dir() -> PathBuf {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL server binaries under /usr/lib/postgresql")
        .flatten()
        .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path().join("bin"))))
        .collect();
    versions.sort();
    versions
        .pop()
        .map(|(_, bin)| bin)
        .expect("a PostgreSQL version under /usr/lib/postgresql")
}

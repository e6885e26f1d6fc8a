//! The real `warroom` binary as the tests drive it: an isolated data and config dir per test
//! ([`Env`]) and tmux panes for the console ([`Tmux`]).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_warroom");
/// A guard against hangs, not a speed requirement.
pub const PATIENCE: Duration = Duration::from_secs(60);

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A data dir and a config dir of the test's own, removed at the end.
pub struct Env {
    _dir: tempfile::TempDir,
    pub data: PathBuf,
    pub config: PathBuf,
    /// `RUST_LOG` for every command (logs go to stderr); none by default.
    pub log: Option<&'static str>,
}

impl Env {
    pub fn new() -> Env {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let config = dir.path().join("config");
        std::fs::create_dir_all(&config).unwrap();
        Env { _dir: dir, data, config, log: None }
    }

    /// As [`Env::new`], with every command logging at `filter` on its stderr.
    pub fn logging(filter: &'static str) -> Env {
        Env { log: Some(filter), ..Env::new() }
    }

    /// Gives this env's embedded server an address of its own (config `embedded_listen`)
    /// instead of the shared default 127.0.0.1:7878, which tests running side by side would
    /// take from one another when an owner quits and a joined process takes its address over.
    /// Ports come from below the kernel's ephemeral range (32768 up), where no outgoing
    /// connection or `:0` listener lands, one per env in this process.
    pub fn own_embedded_address(self) -> Env {
        use std::sync::atomic::{AtomicU16, Ordering};
        static NEXT: AtomicU16 = AtomicU16::new(0);
        let start = (std::process::id() % 400) as u16 * 25;
        let port = loop {
            let p = 20_000 + (start + NEXT.fetch_add(1, Ordering::Relaxed)) % 12_000;
            if std::net::TcpListener::bind(("127.0.0.1", p)).is_ok() {
                break p;
            }
        };
        std::fs::write(self.config.join("config.toml"), format!("embedded_listen = \"127.0.0.1:{port}\"\n"))
            .unwrap();
        self
    }

    /// `warroom` on this env's dirs, with nothing from the caller's environment (server,
    /// token, log level) and no standard input.
    pub fn cmd(&self) -> Command {
        let mut c = Command::new(BIN);
        c.env("WARROOM_DATA_DIR", &self.data)
            .env("WARROOM_CONFIG_DIR", &self.config)
            .env_remove("WARROOM_SERVER")
            .env_remove("WARROOM_TOKEN")
            .env_remove("RUST_LOG")
            .stdin(Stdio::null());
        if let Some(filter) = self.log {
            c.env("RUST_LOG", filter);
        }
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().unwrap()
    }

    /// Runs a command; fails the test unless it succeeds. Returns (stdout, stderr).
    pub fn ok(&self, args: &[&str]) -> (String, String) {
        let o = self.run(args);
        let (out, err) = (text(&o.stdout), text(&o.stderr));
        assert!(o.status.success(), "warroom {args:?} failed ({}):\n{out}\n{err}", o.status);
        (out, err)
    }

    /// Starts `warroom serve` and returns it with the URL it printed.
    pub fn serve(&self, listen: &str) -> (Child, String) {
        let mut c = self.cmd();
        c.args(["serve", "--listen", listen]);
        spawn_serve(c)
    }
}

/// A `warroom serve` child, killed when dropped.
pub struct Server(pub Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `warroom serve --listen <listen> <extra...>` with its data dir at `data` (config in
/// `data/config`); returns it with the URL it printed.
/// Runs the CLI with `home` as its data and config dir and `env` set; its stdout, trimmed.
/// Fails the test, with the CLI's stderr, when it exits non-zero.
pub fn cli_in(home: &Path, env: &[(&str, &str)], args: &[&str]) -> String {
    let o = Command::new(BIN)
        .args(args)
        .envs(env.iter().copied())
        .env("WARROOM_DATA_DIR", home)
        .env("WARROOM_CONFIG_DIR", home)
        .output()
        .unwrap();
    assert!(o.status.success(), "{args:?}: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

pub fn serve_in(data: &Path, listen: &str, extra: &[&str]) -> (Server, String) {
    let mut c = Command::new(BIN);
    c.args(["serve", "--listen", listen])
        .args(extra)
        .env("WARROOM_DATA_DIR", data)
        .env("WARROOM_CONFIG_DIR", data.join("config"));
    let (child, url) = spawn_serve(c);
    (Server(child), url)
}

/// Spawns a `serve` command and reads the URL from the line it prints first.
fn spawn_serve(mut c: Command) -> (Child, String) {
    let mut child = c.stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("serve printed {line:?}"))
        .to_string();
    (child, url)
}

/// A tmux server of the test's own (killed when dropped).
pub struct Tmux {
    socket: String,
}

impl Tmux {
    /// A tmux server named after `name` and this process; `None` (the test says it skipped)
    /// where tmux is not installed.
    pub fn new(name: &str) -> Option<Tmux> {
        if Command::new("tmux").arg("-V").output().is_err() {
            eprintln!("SKIPPED {name}: tmux is not installed");
            return None;
        }
        Some(Tmux { socket: format!("wr-{name}-{}", std::process::id()) })
    }

    pub fn run(&self, args: &[&str]) -> String {
        let mut v = vec!["-L", self.socket.as_str()];
        v.extend_from_slice(args);
        let o = Command::new("tmux").args(&v).output().expect("tmux");
        text(&o.stdout)
    }

    pub fn screen(&self, pane: &str) -> String {
        self.run(&["capture-pane", "-p", "-t", pane])
    }

    /// Waits until the pane shows what `want` accepts; fails with the last screen.
    pub fn wait_for(&self, pane: &str, label: &str, want: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let s = self.screen(pane);
            if want(&s) {
                return s;
            }
            assert!(Instant::now() < deadline, "{label}: never showed up on {pane}:\n{s}");
            std::thread::sleep(Duration::from_millis(150));
        }
    }

    pub fn keys(&self, pane: &str, keys: &[&str]) {
        let mut v = vec!["send-keys", "-t", pane];
        v.extend_from_slice(keys);
        self.run(&v);
    }

    /// Types `text` literally.
    pub fn text(&self, pane: &str, text: &str) {
        self.run(&["send-keys", "-t", pane, "-l", text]);
    }

    /// The pid of the process the pane runs.
    pub fn pane_pid(&self, pane: &str) -> u32 {
        self.run(&["display-message", "-p", "-t", pane, "#{pane_pid}"]).trim().parse().unwrap()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux").args(["-L", &self.socket, "kill-server"]).output();
    }
}

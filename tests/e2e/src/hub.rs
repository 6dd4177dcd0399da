//! Helpers of the multi-process tests: a hub process and client processes.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

/// The directory of the built binaries (the test executable sits in its `deps/`).
fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable");
    let deps = exe.parent().expect("deps/");
    if deps.ends_with("deps") {
        deps.parent().expect("the profile directory").to_path_buf()
    } else {
        deps.to_path_buf()
    }
}

/// The `evnic` tool (the hub): `EVNIC_BIN`, else the one built beside this test.
pub fn evnic_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("EVNIC_BIN") {
        return p.into();
    }
    let p = bin_dir().join("evnic");
    assert!(
        p.exists(),
        "{} is missing: build it first (cargo build --release -p evnic-cli), or name it with EVNIC_BIN",
        p.display()
    );
    p
}

/// The test client program of this crate.
pub fn client_bin() -> PathBuf {
    let p = bin_dir().join("evnic-hub-client");
    assert!(p.exists(), "{} is missing", p.display());
    p
}

/// A running hub, killed when dropped; its log is kept in a file.
pub struct Hub {
    /// The hub process.
    pub child: Child,
    /// Its socket.
    pub socket: PathBuf,
    /// Its stderr (the log).
    pub log: PathBuf,
    _dir: TempDir,
}

/// A directory removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// A fresh directory under the system's temporary directory.
    pub fn new(tag: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!(
            "evnic-{tag}-{}-{:x}",
            std::process::id(),
            Instant::now().elapsed().as_nanos() ^ rand_bits()
        ));
        std::fs::create_dir_all(&p).expect("a temporary directory");
        TempDir(p)
    }
}

fn rand_bits() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos()
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Hub {
    /// Starts `evnic hub` on the simulated device with `args`, and waits until it answers.
    pub fn start(args: &[&str]) -> Hub {
        let dir = TempDir::new("hub");
        let socket = dir.0.join("hub.sock");
        let log = dir.0.join("hub.log");
        let child = Command::new(evnic_bin())
            .args(["--device", "sim", "hub", "--socket"])
            .arg(&socket)
            .args(args)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("the log file"))
            .spawn()
            .expect("start the hub");
        let hub = Hub {
            child,
            socket,
            log,
            _dir: dir,
        };
        let start = Instant::now();
        while !hub.socket.exists() {
            assert!(
                start.elapsed() < crate::PATIENCE,
                "the hub did not start: {}",
                hub.log_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        hub
    }

    /// The device spec clients use.
    pub fn spec(&self) -> evnic::DeviceSpec {
        evnic::DeviceSpec::Hub(self.socket.clone())
    }

    /// Opens the device through the hub in this process.
    pub fn nic(&self) -> evnic::Nic {
        evnic::Nic::open(self.spec()).unwrap_or_else(|e| {
            panic!(
                "open the device through the hub: {e}; the hub's log:\n{}",
                self.log_text()
            )
        })
    }

    /// What the hub logged so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until the log has a line containing `what`.
    pub fn wait_log(&self, what: &str) -> bool {
        crate::eventually(|| self.log_text().contains(what))
    }

    /// Kills the hub with SIGKILL and reaps it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Hub {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A client process of the test client program, spoken to by lines on stdin and stdout.
pub struct Client {
    /// The process.
    pub child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
}

impl Client {
    /// Starts the test client on `socket` with `args` (its role).
    pub fn start(socket: &Path, args: &[&str]) -> Client {
        Client::start_with(Command::new(client_bin()), socket, args)
    }

    /// Starts the test client through `cmd` (e.g. a wrapper such as strace, whose own
    /// arguments are already in `cmd`, followed by the client program).
    pub fn start_with(mut cmd: Command, socket: &Path, args: &[&str]) -> Client {
        let mut child = cmd
            .env("EVNIC_DEVICE", format!("hub:{}", socket.display()))
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start a client");
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().expect("stdout"));
        Client {
            child,
            stdin,
            stdout,
        }
    }

    /// The next line the client prints (without the newline); panics at end of output.
    pub fn line(&mut self) -> String {
        let mut l = String::new();
        let n = self
            .stdout
            .read_line(&mut l)
            .expect("read a client's output");
        assert!(n > 0, "the client ended its output");
        l.trim_end().to_string()
    }

    /// Reads lines until one starts with `prefix`; returns the rest of it.
    pub fn expect(&mut self, prefix: &str) -> String {
        loop {
            let l = self.line();
            if let Some(rest) = l.strip_prefix(prefix) {
                return rest.trim().to_string();
            }
        }
    }

    /// Sends a line to the client.
    pub fn send(&mut self, line: &str) {
        let s = self.stdin.as_mut().expect("stdin");
        writeln!(s, "{line}").expect("write to a client");
        s.flush().expect("flush");
    }

    /// Waits for the client to exit; true when it succeeded.
    pub fn finish(mut self) -> bool {
        drop(self.stdin.take());
        self.child.wait().map(|s| s.success()).unwrap_or(false)
    }

    /// Kills the client with SIGKILL and reaps it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.kill();
        }
    }
}

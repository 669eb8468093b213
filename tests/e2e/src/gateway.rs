//! The real gateway as a child process.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::path_from_env;

/// A running gateway; killed when dropped.
pub struct Gateway {
    child: Child,
    pub port: u16,
}

impl Gateway {
    /// Starts the gateway on `port`, serving `dist`, with its SQLite database in `data_dir`, and
    /// waits until it is listening.
    pub fn start(port: u16, dist: &Path, data_dir: &Path) -> Gateway {
        let binary: PathBuf = path_from_env("TOLEM_GATEWAY_BIN");
        let database = format!("sqlite://{}", data_dir.join("tolem.db").display());
        let gateway_key = data_dir.join("gateway.key");
        let mut child = Command::new(&binary)
            .args([
                "--host",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                "--database-url",
                &database,
                "--demo",
            ])
            .arg("--dist")
            .arg(dist)
            .arg("--gateway-key-file")
            .arg(&gateway_key)
            .arg("--mail-dir")
            .arg(data_dir.join("mail"))
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
        let banner = BufReader::new(child.stdout.take().expect("piped stdout"))
            .lines()
            .next()
            .and_then(Result::ok)
            .unwrap_or_default();
        assert!(
            banner.starts_with("Tolem gateway listening on"),
            "gateway did not start: {banner:?}"
        );
        Gateway { child, port }
    }

    /// The app's address.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }

    /// A real outage: the process dies at once, as on a power cut, and the port goes dark.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        wait_until_closed(self.port);
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn wait_until_closed(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
        assert!(
            Instant::now() < deadline,
            "port {port} still answers after the gateway was killed"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

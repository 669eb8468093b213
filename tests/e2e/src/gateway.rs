//! The real gateway as a child process.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::path_from_env;

/// What every instance of one network shares (docs/operations.md): the database and the
/// gateway's signing key file. Letters, without an SMTP server, are files: each instance writes
/// its own into `mail_dir/<its port>`, as instances on separate machines would, so a letter
/// sent by two instances shows as two files.
#[derive(Clone, Debug)]
pub struct Shared {
    pub database_url: String,
    pub gateway_key_file: PathBuf,
    pub mail_dir: PathBuf,
}

/// A running gateway; killed when dropped.
pub struct Gateway {
    child: Child,
    pub port: u16,
}

impl Gateway {
    /// Starts the gateway on `port` with demo data, serving `dist`, with its SQLite database in
    /// `data_dir`, and waits until it is listening.
    pub fn start(port: u16, dist: &Path, data_dir: &Path) -> Gateway {
        Gateway::start_with(port, dist, data_dir, true, &[])
    }

    /// As [`Gateway::start`], without demo data: the network is whatever is in the database.
    pub fn start_without_demo(port: u16, dist: &Path, data_dir: &Path) -> Gateway {
        Gateway::start_with(port, dist, data_dir, false, &[])
    }

    /// As [`Gateway::start`], the demo providers delivering to the provider at `provider_url`
    /// (an emulator), retrying quickly.
    pub fn start_delivering(
        port: u16,
        dist: &Path,
        data_dir: &Path,
        provider_url: &str,
    ) -> Gateway {
        let extra = [
            "--demo-provider-url",
            provider_url,
            "--delivery-first-retry-ms",
            "200",
        ];
        Gateway::start_with(port, dist, data_dir, true, &extra)
    }

    /// As [`Gateway::start_delivering`], card bills paid through the payment-service emulator
    /// `card` (TipTop Pay's protocol), configured as for the real service, whose notifications
    /// are pointed at this gateway.
    pub fn start_with_cards(
        port: u16,
        dist: &Path,
        data_dir: &Path,
        provider_url: &str,
        card: &crate::CardService,
    ) -> Gateway {
        let config = card.tiptop_config();
        let extra = [
            "--demo-provider-url",
            provider_url,
            "--delivery-first-retry-ms",
            "200",
            "--card-service",
            "tiptop",
            "--card-api-url",
            &config.api_url,
            "--card-login",
            &config.login,
            "--card-secret",
            &config.secret.0,
            // The emulator stands for the service's test site: its payments are test ones.
            "--card-test",
        ];
        let gateway = Gateway::start_with(port, dist, data_dir, true, &extra);
        card.emulator
            .set_tiptop_notify_url(format!("http://127.0.0.1:{port}/api/card/tiptop"));
        gateway
    }

    fn start_with(port: u16, dist: &Path, data_dir: &Path, demo: bool, extra: &[&str]) -> Gateway {
        let shared = Shared {
            database_url: database_url(data_dir),
            gateway_key_file: data_dir.join("gateway.key"),
            mail_dir: data_dir.join("mail"),
        };
        Gateway::start_shared(port, dist, &shared, demo, extra)
    }

    /// One instance of several that share `shared` (one database, one signing key), as
    /// docs/operations.md describes; `demo` and `extra` as for the other constructors.
    pub fn start_shared(
        port: u16,
        dist: &Path,
        shared: &Shared,
        demo: bool,
        extra: &[&str],
    ) -> Gateway {
        let binary: PathBuf = path_from_env("TOLEM_GATEWAY_BIN");
        let mut child = Command::new(&binary)
            .args([
                "--host",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                "--database-url",
                &shared.database_url,
            ])
            .args(demo.then_some("--demo"))
            .args(extra)
            .arg("--dist")
            .arg(dist)
            .arg("--gateway-key-file")
            .arg(&shared.gateway_key_file)
            .arg("--mail-dir")
            .arg(shared.mail_dir.join(port.to_string()))
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
        let mut lines = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
        let banner = lines.next().and_then(Result::ok).unwrap_or_default();
        // Keep reading the rest, so the gateway never writes into a closed pipe.
        std::thread::spawn(move || lines.for_each(drop));
        assert!(
            banner.starts_with("Tolem gateway listening on"),
            "gateway did not start: {banner:?}"
        );
        Gateway { child, port }
    }

    /// Runs the gateway's command line on the database in `data_dir` (as an administrator of the
    /// machine would) and returns its exit code and standard output.
    pub fn command(data_dir: &Path, args: &[&str]) -> (Option<i32>, String) {
        let binary: PathBuf = path_from_env("TOLEM_GATEWAY_BIN");
        let output = Command::new(&binary)
            .args(args)
            .args(["--database-url", &database_url(data_dir)])
            .env("RUST_LOG", "warn")
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", binary.display()));
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
        )
    }

    /// The app's address.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }

    /// The gateway's process id (the benchmark reads its processor time).
    pub fn pid(&self) -> u32 {
        self.child.id()
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

/// The SQLite database of a gateway whose data live in `data_dir`.
fn database_url(data_dir: &Path) -> String {
    format!("sqlite://{}", data_dir.join("tolem.db").display())
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

//! The emulator binary as a child process, and helpers to drive it.

#![allow(dead_code)] // Each test file uses its own share of these.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde::Deserialize;
use tolem_providers::client::OsmpAdapter;
use tolem_providers::connection::{Auth, Connection, Protocol};

/// How long the emulator may take to start on a busy machine.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// A running emulator, killed when dropped (also when a test panics).
pub struct Emulator {
    child: Child,
    /// `http://127.0.0.1:PORT`, as it announced.
    pub base: String,
    control: reqwest::Client,
}

/// One row of `GET /control/payments`.
#[derive(Debug, Deserialize)]
pub struct Payment {
    pub txn_id: u64,
    pub account: String,
    pub sum_tiyn: i64,
    pub prv_txn: Option<u64>,
    pub result: Option<u16>,
    pub pays_received: u32,
}

impl Emulator {
    /// Starts `tolem-provider-emulator` on a free port with these arguments and waits for its
    /// `listening on` line.
    pub fn start(args: &[&str]) -> Emulator {
        let mut child = Command::new(env!("CARGO_BIN_EXE_tolem-provider-emulator"))
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the emulator");
        let stdout = child.stdout.take().expect("piped stdout");
        // Read on a thread so a silent child fails the test after a timeout instead of hanging.
        let (sender, receiver) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = sender.send(line);
        });
        let line = match receiver.recv_timeout(START_TIMEOUT) {
            Ok(line) => line,
            Err(_) => {
                let _ = child.kill();
                panic!("the emulator did not announce its address within {START_TIMEOUT:?}");
            }
        };
        let base = match line.trim().strip_prefix("listening on ") {
            Some(base) => base.to_owned(),
            None => {
                let _ = child.kill();
                panic!("the emulator's first line is {line:?}, not `listening on URL`");
            }
        };
        Emulator {
            child,
            base,
            control: reqwest::Client::new(),
        }
    }

    /// A connection to the emulator's `/osmp`.
    pub fn connection(&self, auth: Auth, timeout_ms: u64) -> Connection {
        Connection {
            protocol: Protocol::Osmp,
            url: format!("{}/osmp", self.base),
            auth,
            timeout_ms,
            ca_cert_pem: None,
        }
    }

    /// A client with no credentials and a timeout generous enough for a busy machine.
    pub fn adapter(&self) -> OsmpAdapter {
        OsmpAdapter::new(&self.connection(Auth::None, 20_000)).expect("a valid connection")
    }

    /// Sets the faults (`POST /control/faults`).
    pub async fn set_faults(&self, faults: serde_json::Value) {
        let response = self
            .control
            .post(format!("{}/control/faults", self.base))
            .header("content-type", "application/json")
            .body(faults.to_string())
            .send()
            .await
            .expect("reach the control API");
        assert!(
            response.status().is_success(),
            "faults refused: {}",
            response.text().await.unwrap()
        );
    }

    /// Every txn_id the emulator saw in a pay.
    pub async fn payments(&self) -> Vec<Payment> {
        let body = self
            .control
            .get(format!("{}/control/payments", self.base))
            .send()
            .await
            .expect("reach the control API")
            .text()
            .await
            .expect("read the payments");
        serde_json::from_str(&body).expect("payments as JSON")
    }

    /// The payment of one txn_id.
    pub async fn payment(&self, txn_id: u64) -> Payment {
        self.payments()
            .await
            .into_iter()
            .find(|payment| payment.txn_id == txn_id)
            .unwrap_or_else(|| panic!("the emulator never saw a pay of txn_id {txn_id}"))
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Calls `attempt` until it gives `Some`, pausing briefly between tries, for at most `limit`.
pub async fn eventually<T, F, Fut>(limit: Duration, mut attempt: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let started = Instant::now();
    loop {
        if let Some(value) = attempt().await {
            return value;
        }
        assert!(
            started.elapsed() < limit,
            "the awaited state did not come within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

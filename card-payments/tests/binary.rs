//! Guards the `tolem-card-emulator` binary as scripts run it: it announces its address on
//! the first line of stdout, takes its notification address from the command line, serves
//! both services, and stops when killed.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// Kills the child when dropped, also when the test panics.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn announces_its_address_and_serves() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tolem-card-emulator"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--tiptop-notify-url",
            "http://127.0.0.1:9/card/tiptop",
            "--tiptop-secret",
            "s3cr3t-api",
        ])
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the emulator");
    let stdout = child.stdout.take().expect("piped stdout");
    let running = Running(child);
    // Read on a thread so a silent child fails the test after a timeout instead of hanging.
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = sender.send(line);
    });
    let line = receiver
        .recv_timeout(Duration::from_secs(60))
        .expect("the first line within a minute");
    let base = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("the first line is {line:?}"))
        .to_owned();

    let health = reqwest::get(format!("{base}/control/health"))
        .await
        .unwrap();
    assert_eq!(health.text().await.unwrap(), "ok");
    let config: serde_json::Value = reqwest::get(format!("{base}/control/config"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        config["tiptop_notify_url"],
        "http://127.0.0.1:9/card/tiptop"
    );
    assert_eq!(config["public_url"], base);
    let page = reqwest::get(format!("{base}/Merchant/Index.aspx?MerchantLogin=nobody"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("26:"), "Robokassa's page answers: {page}");
    drop(running);
}

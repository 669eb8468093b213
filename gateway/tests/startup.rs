//! Guards the real `tolem-gateway` binary as a person or a script meets it: a taken port or an
//! unusable database ends with exit code 1 and one clear line on stderr (never a panic, never
//! a password), a setting out of its range is refused naming it, and a normal start prints
//! the banner, answers health checks and stops cleanly (exit 0) on SIGTERM.

mod support;

use std::{process::Stdio, time::Duration};

use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::Command,
};

const BANNER_PREFIX: &str = "Tolem gateway listening on http://";

/// Runs the gateway to completion (it is expected to fail) and returns (exit code, stderr).
async fn run_to_failure(command: &mut Command) -> (Option<i32>, String) {
    let output = tokio::time::timeout(Duration::from_secs(30), command.output())
        .await
        .expect("the gateway should give up quickly")
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(!stderr.contains("panicked"), "{stderr}");
    (output.status.code(), stderr)
}

#[tokio::test]
async fn taken_port_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();

    let (code, stderr) = run_to_failure(support::binary_in(dir.path()).args([
        "--port",
        &port.to_string(),
        "--database-url",
        "sqlite://t.db",
    ]))
    .await;
    assert_eq!(code, Some(1), "{stderr}");
    let last = stderr.lines().last().unwrap_or_default();
    assert!(last.contains(&format!("127.0.0.1:{port}")), "{stderr}");
    assert!(last.contains("already in use"), "{stderr}");
    assert!(
        last.contains("--port") && last.contains("TOLEM_PORT"),
        "{stderr}"
    );
}

#[tokio::test]
async fn unusable_database_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let directory = dir.path().join("a-directory");
    std::fs::create_dir(&directory).unwrap();
    let garbage = dir.path().join("garbage.db");
    std::fs::write(
        &garbage,
        "this is a text file, not an SQLite database ".repeat(200),
    )
    .unwrap();

    for (path, reason) in [(&directory, "unable to open"), (&garbage, "not a database")] {
        let url = format!("sqlite://{}", path.display());
        let (code, stderr) = run_to_failure(support::binary_in(dir.path()).args([
            "--port",
            "0",
            "--database-url",
            &url,
        ]))
        .await;
        assert_eq!(code, Some(1), "{stderr}");
        let last = stderr.lines().last().unwrap_or_default();
        assert!(last.contains("cannot open the database"), "{stderr}");
        assert!(last.contains(&url), "{stderr}");
        assert!(last.contains(reason), "{stderr}");
    }
}

/// A delivery claim too short to cover any provider's answer, or retries with no pause, are
/// refused at the start with the setting named (clap's usage error, exit code 2), not found
/// later as payments sent again and again.
#[tokio::test]
async fn delivery_timings_that_would_resend_or_spin_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    for (flag, value) in [
        ("--delivery-lease-ms", "0"),
        ("--delivery-lease-ms", "999"),
        ("--delivery-first-retry-ms", "0"),
    ] {
        let (code, stderr) =
            run_to_failure(support::binary_in(dir.path()).args(["--port", "0", flag, value])).await;
        assert_eq!(code, Some(2), "{flag} {value}: {stderr}");
        assert!(stderr.contains(flag), "{stderr}");
    }
}

#[tokio::test]
async fn database_password_is_never_printed() {
    let dir = tempfile::tempdir().unwrap();
    // Port 1 on loopback: nothing listens there, so the connection is refused at once.
    let url = "postgres://tolem:hunter2@127.0.0.1:1/tolem";
    let (code, stderr) = run_to_failure(
        support::binary_in(dir.path())
            .args(["--port", "0"])
            .env("TOLEM_DATABASE_URL", url),
    )
    .await;
    assert_eq!(code, Some(1), "{stderr}");
    assert!(!stderr.contains("hunter2"), "{stderr}");
    assert!(
        stderr.contains("postgres://tolem:***@127.0.0.1:1/tolem"),
        "{stderr}"
    );
}

#[tokio::test]
async fn starts_serves_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    // Configured through the environment, as systemd or Docker would.
    let mut child = support::binary_in(dir.path())
        .env("TOLEM_PORT", "0")
        .env("TOLEM_DEMO", "true")
        .env("TOLEM_DATABASE_URL", "sqlite://data/tolem.db")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let read_banner = async {
        let mut banner = Vec::new();
        while let Some(line) = stdout.next_line().await.unwrap() {
            banner.push(line);
            if banner.iter().any(|l| l.contains("clerk@tolem.demo")) {
                break;
            }
        }
        banner
    };
    let banner = tokio::time::timeout(Duration::from_secs(60), read_banner)
        .await
        .unwrap();
    let base = banner[0]
        .strip_prefix(BANNER_PREFIX)
        .expect("first line is the banner");
    let text = banner.join("\n");
    assert!(
        text.contains("P1001") && text.contains("tolem-demo-1001"),
        "{text}"
    );
    assert!(
        text.contains("admin@tolem.demo") && text.contains("tolem-admin-demo"),
        "{text}"
    );
    assert!(
        dir.path().join("data/tolem.db").is_file(),
        "database file and directory created"
    );

    let response = reqwest::get(format!("http://{base}/api/health"))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.text().await.unwrap().contains(r#""status":"ok""#));

    let pid = child.id().expect("running") as libc::pid_t;
    // SAFETY: plain kill(2) on the pid of a child we spawned and have not yet reaped.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let output = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
        .await
        .expect("the gateway should stop promptly on SIGTERM")
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains(&format!("listening on http://{base}")),
        "{stderr}"
    );
    assert!(stderr.contains("shutting down"), "{stderr}");
    // Logs never carry the demo passwords (only the banner on stdout does) nor their hashes.
    for secret in [
        "tolem-demo-1001",
        "tolem-admin-demo",
        "tolem-operator-demo",
        "tolem-clerk-demo",
        "$argon2",
    ] {
        assert!(!stderr.contains(secret), "{secret} in logs: {stderr}");
    }
}

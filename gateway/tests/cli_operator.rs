//! Guards the bootstrap without SQL: `tolem-gateway operator add --email …` on an empty
//! database creates the first operator user and prints a one-time password (never in the
//! logs) and where to set up one-time codes; the same e-mail again (any case) exits 1 with a
//! clear message; a gateway started on that database lets the user log in with that password,
//! then sends them to choose a new password, then to set up one-time codes, then home.

mod support;

use std::{path::Path, process::Stdio, time::Duration};

use reqwest::{StatusCode, header, redirect::Policy};
use support::browser::{text_by_id, totp_at};
use tokio::io::{AsyncBufReadExt, BufReader};

const BANNER_PREFIX: &str = "Tolem gateway listening on http://";

/// Runs `operator add --email email` on `url`: (exit code, stdout, stderr).
async fn operator_add(dir: &Path, url: &str, email: &str) -> (Option<i32>, String, String) {
    let output = tokio::time::timeout(
        Duration::from_secs(60),
        support::binary_in(dir)
            .args(["operator", "add", "--email", email, "--database-url", url])
            .output(),
    )
    .await
    .expect("the command should finish")
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(!stderr.contains("panicked"), "{stderr}");
    (output.status.code(), stdout, stderr)
}

fn location(response: &reqwest::Response) -> String {
    response.headers()[header::LOCATION]
        .to_str()
        .unwrap()
        .to_owned()
}

fn csrf_of(html: &str) -> String {
    html.split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a form with a CSRF token")
        .to_owned()
}

#[tokio::test]
async fn operator_add_bootstraps_an_empty_database() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/tolem.db", dir.path().display());

    let (code, stdout, stderr) = operator_add(dir.path(), &url, "boss@op.kz").await;
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    let password = stdout
        .lines()
        .find_map(|line| line.trim().strip_prefix("One-time password:"))
        .expect("the one-time password is printed")
        .trim()
        .to_owned();
    assert!(password.len() >= 10, "{stdout}");
    assert!(stdout.contains("/console/totp"), "{stdout}");
    assert!(!stderr.contains(&password), "the password is never logged");

    for again in ["boss@op.kz", "BOSS@op.kz"] {
        let (code, stdout, stderr) = operator_add(dir.path(), &url, again).await;
        assert_eq!(code, Some(1), "{stdout}\n{stderr}");
        let last = stderr.lines().last().unwrap_or_default();
        assert!(last.contains("e-mail exists"), "{stderr}");
        assert!(!stdout.contains("One-time password"), "{stdout}");
    }

    // A gateway on that database.
    let mut child = support::binary_in(dir.path())
        .args(["--port", "0", "--database-url", &url])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = tokio::time::timeout(Duration::from_secs(60), stdout.next_line())
        .await
        .unwrap()
        .unwrap()
        .expect("the banner");
    let base = format!(
        "http://{}",
        first
            .strip_prefix(BANNER_PREFIX)
            .expect("first line is the banner")
            .trim()
    );
    // Keep reading stdout so the gateway never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = stdout.next_line().await {} });
    let client = reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap();
    let login = |password: String, otp: String| {
        let client = client.clone();
        let base = base.clone();
        async move {
            client
                .post(format!("{base}/console/login"))
                .form(&[
                    ("email", "boss@op.kz"),
                    ("password", password.as_str()),
                    ("otp", otp.as_str()),
                ])
                .send()
                .await
                .unwrap()
        }
    };
    let get = |path: &str, cookie: &str| {
        client
            .get(format!("{base}{path}"))
            .header(header::COOKIE, cookie)
            .send()
    };

    let response = login("not the password".into(), String::new()).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let response = login(password.clone(), String::new()).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let cookie = response.headers()[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();

    // First a new password...
    let response = get("/console/operator/users", &cookie).await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/console/password");
    let html = get("/console/password", &cookie)
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = csrf_of(&html);
    let new = "the boss's own passphrase";
    let response = client
        .post(format!("{base}/console/password"))
        .header(header::COOKIE, &cookie)
        .form(&[("csrf", csrf.as_str()), ("new", new), ("again", new)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/console/totp");

    // ...then one-time codes...
    let response = get("/console/operator/users", &cookie).await.unwrap();
    assert_eq!(location(&response), "/console/totp");
    let html = get("/console/totp", &cookie)
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let secret = text_by_id(&html, "totp-secret").unwrap().replace(' ', "");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let response = client
        .post(format!("{base}/console/totp"))
        .header(header::COOKIE, &cookie)
        .form(&[
            ("csrf", csrf_of(&html).as_str()),
            ("otp", totp_at(&secret, now).as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/console/operator/dealers");

    // ...then the operator's pages open, and the one-time password is dead.
    let response = get("/console/operator/users", &cookie).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let html = response.text().await.unwrap();
    assert!(html.contains("data-user=\"boss@op.kz\""), "{html}");
    let response = login(password, String::new()).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

    child.kill().await.unwrap();
}

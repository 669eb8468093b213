//! Guards the mail transport of the README's run command: the real `tolem-gateway` binary with
//! no mail settings writes each signed message as an `.eml` file under `data/mail/` (an RFC
//! 5322 message Python's `email` package reads without a defect, Cyrillic subject decoded),
//! logs the file's path, names `/verify` in the banner, and the file verifies there; and an
//! unusable SMTP setting stops the start with one clear line that never shows the password.

mod support;

use std::{
    process::Stdio,
    sync::{Arc, Mutex},
    time::Duration,
};

use support::mail::{eml_files, parse_email, verdict};
use tokio::io::{AsyncBufReadExt, BufReader};
use tolem_protocol::{
    codes::ResultCode,
    messages::{Letter, Outcome, Step},
};

#[tokio::test]
async fn by_default_each_message_becomes_an_eml_file_in_data_mail() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_owned();
    let mut child = support::binary_in(&path)
        .args(["--port", "0", "--demo"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let banner = tokio::time::timeout(Duration::from_secs(60), async {
        let mut banner = Vec::new();
        while let Some(line) = stdout.next_line().await.unwrap() {
            banner.push(line);
            if banner.iter().any(|l| l.contains("clerk@tolem.demo")) {
                break;
            }
        }
        banner
    })
    .await
    .unwrap();
    let text = banner.join("\n");
    let base = banner[0]
        .strip_prefix("Tolem gateway listening on ")
        .unwrap()
        .to_owned();
    assert!(text.contains(&format!("{base}/verify")), "{text}");
    assert!(text.contains("E-mail: .eml files in data/mail"), "{text}");
    let log = Arc::new(Mutex::new(String::new()));
    let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
    let collected = log.clone();
    tokio::spawn(async move {
        while let Ok(Some(line)) = stderr.next_line().await {
            collected.lock().unwrap().push_str(&(line + "\n"));
        }
    });

    let gateway = support::Gateway::attach(base.clone(), dir).await;
    let phone = gateway.ready_phone(1).await;
    let reply = gateway
        .send(
            &phone,
            &phone.request(Step::Message(Letter {
                to: "dealer@tolem.kz".into(),
                text: "Привет из демо-точки!".into(),
            })),
        )
        .await;
    assert_eq!(reply.code(), ResultCode::Ok);
    let Some(Outcome::MessageQueued { message_id }) = reply.response().outcome else {
        panic!("{}", reply.text());
    };

    let mail_dir = path.join("data/mail");
    let file = mail_dir.join(format!("{message_id}.eml"));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !file.is_file() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no {}",
            file.display()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let entries = std::fs::read_dir(&mail_dir).unwrap().count();
    assert_eq!(
        (eml_files(&mail_dir).len(), entries),
        (1, 1),
        "one file, no temporary left"
    );
    let email = parse_email(&file);
    assert!(email.defects.is_empty(), "{:?}", email.defects);
    for header in [
        "from",
        "to",
        "subject",
        "date",
        "message-id",
        "mime-version",
    ] {
        assert!(
            email.headers.contains_key(header),
            "{header}: {:?}",
            email.headers
        );
    }
    assert_eq!(email.headers["subject"], "Сообщение от точки P1001");
    assert_eq!(email.headers["from"], "Tolem <noreply@tolem.localhost>");
    assert_eq!(email.content_type, "text/plain");
    assert_eq!(email.charset.as_deref(), Some("utf-8"));
    assert!(email.body.contains("Привет из демо-точки!"));
    assert!(email.body.contains(&format!("{base}/verify")));

    // The log names the file (relative to the gateway's directory, as configured).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !log
        .lock()
        .unwrap()
        .contains(&format!("data/mail/{message_id}.eml"))
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{}",
            log.lock().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // The .eml as it is on disk (raw, quoted-printable) verifies on the page.
    let raw = std::fs::read_to_string(&file).unwrap();
    let html = gateway.verify_page(&raw, "ru").await;
    assert_eq!(verdict(&html), ("true".into(), String::new()), "{html}");
    assert!(html.contains("Привет из демо-точки!"));
    child.kill().await.unwrap();
}

#[tokio::test]
async fn an_unusable_smtp_setting_stops_the_start_without_showing_the_password() {
    let dir = tempfile::tempdir().unwrap();
    for (url, expected) in [
        (
            "smtp://tolem:hunter2@mail.example.kz?tls=none",
            "in the clear",
        ),
        (
            "smtp://tolem:hunter2@mail.example.kz?tls=maybe",
            "tls=maybe",
        ),
        ("http://tolem:hunter2@mail.example.kz", "unknown scheme"),
    ] {
        let output = tokio::time::timeout(
            Duration::from_secs(30),
            support::binary_in(dir.path())
                .args(["--port", "0"])
                .env("TOLEM_SMTP_URL", url)
                .output(),
        )
        .await
        .unwrap()
        .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{stderr}");
        let last = stderr.lines().last().unwrap_or_default();
        assert!(
            last.contains("SMTP URL") && last.contains(expected),
            "{stderr}"
        );
        assert!(last.contains("TOLEM_SMTP_"), "{stderr}");
        assert!(!stderr.contains("hunter2"), "{stderr}");
    }
}

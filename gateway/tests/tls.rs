//! Guards HTTPS served by the real `tolem-gateway` binary (`--tls-cert`/`--tls-key`, with a
//! certificate from `lan-certificate`), as a phone's browser meets it: the API answers over
//! HTTPS, in HTTP/2, to a client that trusts only the local authority, every answer carries
//! `Strict-Transport-Security`, the console's login cookie is `Secure`, the client's own
//! address still reaches the audit trail through TLS, plain HTTP on the redirect port is sent
//! to the same path on HTTPS, the authority is downloadable on both ports, and the banner's
//! QR code reads as the app's HTTPS address. A certificate that is not the key's stops the
//! start with one clear line.

mod support;

use std::{process::Stdio, time::Duration};

use reqwest::{StatusCode, header};
use rustls::pki_types::{CertificateDer, pem::PemObject};
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::{Child, Command},
};
use tolem_gateway::lan::certificate::{LanCertificate, ensure};

use support::browser::CLERK;

/// A gateway serving HTTPS, and what a test needs to reach it.
struct Https {
    /// `https://127.0.0.1:PORT`.
    url: String,
    /// `http://127.0.0.1:PORT` of the redirect port.
    plain: String,
    banner: Vec<String>,
    certificate: LanCertificate,
    database_url: String,
    _child: Child,
    _dir: tempfile::TempDir,
}

/// Starts the binary with `--demo`, HTTPS on a free port with a certificate made by
/// `lan-certificate` for 127.0.0.1, a redirect port, and the authority to serve.
async fn start() -> Https {
    let dir = tempfile::tempdir().unwrap();
    let lan = dir.path().join("data/lan");
    let certificate = ensure(&lan, &[], time::OffsetDateTime::now_utc()).unwrap();
    let mut command: Command = support::binary_in(dir.path());
    command
        .args(["--demo", "--port", "0", "--http-redirect-port", "0"])
        .arg("--tls-cert")
        .arg(&certificate.server_cert)
        .arg("--tls-key")
        .arg(&certificate.server_key)
        // Through the environment, as systemd or Docker would give it.
        .env("TOLEM_LAN_CA_FILE", &certificate.ca_cert)
        .env("TOLEM_DATABASE_URL", "sqlite://data/tolem.db")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = command.spawn().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let read_banner = async {
        let mut banner = Vec::new();
        while let Some(line) = stdout.next_line().await.unwrap() {
            let last = line.contains("Scan the code above");
            banner.push(line);
            if last {
                break;
            }
        }
        banner
    };
    let banner = tokio::time::timeout(Duration::from_secs(60), read_banner)
        .await
        .expect("the banner within a minute");
    let url = banner[0]
        .strip_prefix("Tolem gateway listening on ")
        .expect("first line is the banner")
        .to_owned();
    let plain = banner
        .iter()
        .find_map(|line| line.trim().strip_prefix("Plain HTTP:"))
        .and_then(|rest| rest.split_whitespace().next())
        .expect("the banner names the redirect port")
        .to_owned();
    Https {
        url,
        plain,
        banner,
        certificate,
        database_url: format!("sqlite://{}/data/tolem.db", dir.path().display()),
        _child: child,
        _dir: dir,
    }
}

impl Https {
    /// A browser that trusts the local authority and nothing else, connecting from `ip`.
    fn browser_from(&self, ip: &str) -> reqwest::Client {
        let ca = std::fs::read(&self.certificate.ca_cert).unwrap();
        reqwest::Client::builder()
            .tls_built_in_root_certs(false)
            .add_root_certificate(reqwest::Certificate::from_pem(&ca).unwrap())
            .local_address(ip.parse::<std::net::IpAddr>().unwrap())
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
    }
}

#[tokio::test]
async fn https_answers_with_hsts_secure_cookies_and_the_clients_own_address() {
    let gateway = start().await;
    assert!(
        gateway.url.starts_with("https://127.0.0.1:"),
        "{}",
        gateway.url
    );
    let browser = gateway.browser_from("127.0.0.1");

    let health = browser
        .get(format!("{}/api/health", gateway.url))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    // HTTP/2, as a browser gets it: the page's requests share one connection.
    assert_eq!(health.version(), reqwest::Version::HTTP_2);
    assert_eq!(
        health.headers()[header::STRICT_TRANSPORT_SECURITY],
        "max-age=31536000"
    );
    assert!(health.text().await.unwrap().contains(r#""status":"ok""#));
    // Every answer, the console's and the app's (not built here: 503) too.
    for path in ["/console/login", "/", "/no/such/page"] {
        let response = browser
            .get(format!("{}{path}", gateway.url))
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.headers()[header::STRICT_TRANSPORT_SECURITY],
            "max-age=31536000",
            "{path}"
        );
    }

    // A browser's form post names its page's origin. Over HTTP/2 no `Host` header comes with
    // it (the host travels as `:authority`): the console still sees its own origin, and still
    // refuses a foreign one.
    let foreign = browser
        .post(format!("{}/console/login", gateway.url))
        .header(header::ORIGIN, "https://elsewhere.example")
        .form(&[("email", CLERK.0), ("password", CLERK.1), ("otp", "")])
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.version(), reqwest::Version::HTTP_2);
    assert_eq!(foreign.status(), StatusCode::FORBIDDEN);
    let login = browser
        .post(format!("{}/console/login", gateway.url))
        .header(header::ORIGIN, gateway.url.as_str())
        .form(&[("email", CLERK.0), ("password", CLERK.1), ("otp", "")])
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), StatusCode::SEE_OTHER);
    let cookie = login.headers()[header::SET_COOKIE].to_str().unwrap();
    assert!(cookie.starts_with("tolem_console="), "{cookie}");
    assert!(cookie.contains("; Secure"), "{cookie}");

    // The socket's peer reaches the audit trail through TLS: a wrong password from
    // 127.0.0.9 is recorded as coming from there.
    let wrong = gateway
        .browser_from("127.0.0.9")
        .post(format!("{}/console/login", gateway.url))
        .form(&[("email", CLERK.0), ("password", "guess"), ("otp", "")])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let pool = tolem_gateway::db::connect(&gateway.database_url)
        .await
        .unwrap();
    let addresses: Vec<String> =
        sqlx::query_scalar("SELECT ip FROM audit_log WHERE action = 'login.failed'")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(addresses, ["127.0.0.9"]);
}

#[tokio::test]
async fn localhost_gets_no_hsts_so_the_plain_local_demo_keeps_working() {
    let gateway = start().await;
    let addr: std::net::SocketAddr = gateway.url.trim_start_matches("https://").parse().unwrap();
    let ca = std::fs::read(&gateway.certificate.ca_cert).unwrap();
    let browser = reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(&ca).unwrap())
        .resolve("localhost", addr)
        .build()
        .unwrap();
    let response = browser
        .get(format!("https://localhost:{}/api/health", addr.port()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    // Over HTTP/2 too, where the host comes as `:authority`, not as a `Host` header.
    assert_eq!(response.version(), reqwest::Version::HTTP_2);
    assert!(
        response
            .headers()
            .get(header::STRICT_TRANSPORT_SECURITY)
            .is_none()
    );
}

#[tokio::test]
async fn plain_http_is_redirected_to_the_same_path_on_https() {
    let gateway = start().await;
    let plain = support::client_from("127.0.0.1".parse().unwrap());
    for path in ["/", "/console/login?lang=kk", "/api/health"] {
        let response = plain
            .get(format!("{}{path}", gateway.plain))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::PERMANENT_REDIRECT, "{path}");
        assert_eq!(
            response.headers()[header::LOCATION],
            format!("{}{path}", gateway.url).as_str()
        );
        // Not kept by the browser: the port may serve the plain local demo another day.
        assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
    }
    // Followed, it lands on the page.
    let response = gateway
        .browser_from("127.0.0.1")
        .get(format!("{}/console/login?lang=kk", gateway.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_authority_is_served_for_phones_on_both_ports() {
    let gateway = start().await;
    let expected = CertificateDer::from_pem_file(&gateway.certificate.ca_cert)
        .unwrap()
        .to_vec();
    for (client, base) in [
        (
            support::client_from("127.0.0.1".parse().unwrap()),
            &gateway.plain,
        ),
        (gateway.browser_from("127.0.0.1"), &gateway.url),
    ] {
        let response = client
            .get(format!("{base}/lan-ca.crt"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{base}");
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            "application/x-x509-ca-cert"
        );
        assert_eq!(response.bytes().await.unwrap().to_vec(), expected, "{base}");
    }

    // The banner shows where, with the fingerprint, and a QR code of the app's address.
    let text = gateway.banner.join("\n");
    assert!(
        text.contains(&format!("Open {}/lan-ca.crt on the phone", gateway.plain)),
        "{text}"
    );
    assert!(text.contains(&gateway.certificate.ca_fingerprint), "{text}");
    let lines: Vec<&str> = gateway.banner.iter().map(String::as_str).collect();
    assert_eq!(
        support::terminal_qr::decode(&lines),
        format!("{}/", gateway.url)
    );
}

#[tokio::test]
async fn without_tls_nothing_changes() {
    let gateway = support::start().await;
    let response = gateway
        .client
        .get(format!("{}/api/health", gateway.url))
        .send()
        .await
        .unwrap();
    assert!(
        response
            .headers()
            .get(header::STRICT_TRANSPORT_SECURITY)
            .is_none()
    );
    let response = gateway
        .client
        .get(format!("{}/lan-ca.crt", gateway.url))
        .send()
        .await
        .unwrap();
    assert_ne!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_certificate_that_is_not_the_keys_is_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let now = time::OffsetDateTime::now_utc();
    let one = ensure(&dir.path().join("one"), &[], now).unwrap();
    let other = ensure(&dir.path().join("other"), &[], now).unwrap();
    let output = support::binary_in(dir.path())
        .args(["--port", "0", "--database-url", "sqlite://t.db"])
        .arg("--tls-cert")
        .arg(&one.server_cert)
        .arg("--tls-key")
        .arg(&other.server_key)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(30), output)
        .await
        .unwrap()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    let last = stderr.lines().last().unwrap_or_default();
    assert!(last.contains("do not go together"), "{stderr}");
    assert!(last.contains("--tls-cert"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[tokio::test]
async fn the_card_emulator_notifies_the_https_gateway_trusting_the_local_authority() {
    // What `run.sh --lan` does: the emulator on 127.0.0.1 sends its notifications to
    // https://127.0.0.1:PORT, whose certificate only the local authority vouches for.
    let gateway = start().await;
    let ca = gateway.certificate.ca_cert.to_str().unwrap().to_owned();
    let trusting = tolem_card_payments::emulator::start_in_process(&["--notify-ca-file", &ca])
        .await
        .unwrap();
    let health = format!("{}/api/health", gateway.url);
    let response = trusting.emulator.http.get(&health).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    let untrusting = tolem_card_payments::emulator::start_in_process(&[])
        .await
        .unwrap();
    assert!(untrusting.emulator.http.get(&health).send().await.is_err());
    // A file that is not a certificate is refused with the options, not at the first payment.
    let readme = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
    assert!(
        tolem_card_payments::emulator::start_in_process(&["--notify-ca-file", readme])
            .await
            .is_err()
    );
}

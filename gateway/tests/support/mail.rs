//! Mail for the tests: a real SMTP server (`aiosmtpd`, from PyPI: `pip install aiosmtpd`,
//! which `scripts/setup.sh` does) that stores what it receives in a Maildir, plain or with
//! STARTTLS and AUTH; a certificate authority made with the `openssl` command; e-mails read
//! back with Python's standard `email` package — a parser independent of the gateway's lettre,
//! strict about the headers mail clients rely on.

use std::{
    net::TcpListener,
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};

use serde::Deserialize;
use tempfile::TempDir;
use tokio::process::{Child, Command};
use tolem_gateway::mail::{
    transport::{SmtpSettings, TransportSettings},
    worker::RetryPolicy,
};

use super::Gateway;

/// Retries in milliseconds instead of minutes, so a test sees several attempts quickly.
pub fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        first_delay: Duration::from_millis(200),
        max_delay: Duration::from_millis(800),
        lease: Duration::from_secs(30),
        idle_poll: Duration::from_millis(500),
    }
}

/// Fails the test with instructions when `aiosmtpd` is not installed.
pub fn require_aiosmtpd() {
    let found = std::process::Command::new("python3")
        .args(["-c", "import aiosmtpd"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    assert!(
        found,
        "these tests need a real SMTP server: install it with `pip install aiosmtpd` \
         (scripts/setup.sh does this), and make sure `python3` is on PATH"
    );
}

/// A port nothing listens on (for a moment: the test starts its server there, or not).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running `aiosmtpd` and the Maildir it delivers into. Killed when dropped.
pub struct SmtpServer {
    pub port: u16,
    pub maildir: PathBuf,
    child: Child,
}

/// The server of [`SmtpServer::start_with_auth`]: STARTTLS required, AUTH required (only over
/// TLS), one user.
const AUTH_SERVER: &str = r#"
import ssl, sys, time
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox
from aiosmtpd.smtp import AuthResult, LoginPassword

port, maildir, cert, key, user, password = sys.argv[1:7]
context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
context.load_cert_chain(cert, key)

def authenticate(server, session, envelope, mechanism, data):
    ok = (isinstance(data, LoginPassword) and data.login == user.encode()
          and data.password == password.encode())
    return AuthResult(success=ok, handled=False)

controller = Controller(Mailbox(maildir), hostname="127.0.0.1", port=int(port),
                        tls_context=context, require_starttls=True, auth_required=True,
                        auth_require_tls=True, authenticator=authenticate)
controller.start()
print("ready", flush=True)
while True:
    time.sleep(3600)
"#;

impl SmtpServer {
    /// A plain SMTP server on `port` (no TLS, no AUTH), as
    /// `python3 -m aiosmtpd -n -l 127.0.0.1:<port> -c aiosmtpd.handlers.Mailbox <maildir>`.
    pub async fn start(port: u16, maildir: &Path) -> SmtpServer {
        require_aiosmtpd();
        let mut command = Command::new("python3");
        command.args([
            "-m",
            "aiosmtpd",
            "-n",
            "-l",
            &format!("127.0.0.1:{port}"),
            "-c",
            "aiosmtpd.handlers.Mailbox",
        ]);
        command.arg(maildir);
        SmtpServer::spawn(command, port, maildir).await
    }

    /// A server on `port` that requires STARTTLS (with `cert`/`key`) and AUTH as
    /// `user`/`password`.
    pub async fn start_with_auth(
        port: u16,
        maildir: &Path,
        tls: &TestCa,
        user: &str,
        password: &str,
    ) -> SmtpServer {
        require_aiosmtpd();
        let mut command = Command::new("python3");
        command
            .args(["-c", AUTH_SERVER, &port.to_string()])
            .arg(maildir)
            .arg(&tls.server_cert)
            .arg(&tls.server_key)
            .args([user, password]);
        SmtpServer::spawn(command, port, maildir).await
    }

    async fn spawn(mut command: Command, port: u16, maildir: &Path) -> SmtpServer {
        // Python's Maildir makes its folders only when the directory itself is new.
        for folder in ["tmp", "new", "cur"] {
            std::fs::create_dir_all(maildir.join(folder)).unwrap();
        }
        let child = command
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("python3 runs");
        // Ready when it answers on the port.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            assert!(
                tokio::time::Instant::now() < deadline,
                "aiosmtpd did not start on port {port}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        SmtpServer {
            port,
            maildir: maildir.to_owned(),
            child,
        }
    }

    /// The files of the messages delivered so far.
    pub fn messages(&self) -> Vec<PathBuf> {
        maildir_messages(&self.maildir)
    }

    /// Stops the server.
    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

/// The messages in a Maildir (its `new/` directory).
pub fn maildir_messages(maildir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(maildir.join("new"))
        .map(|dir| dir.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.sort();
    files
}

/// The `.eml` files in a directory.
pub fn eml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|dir| {
            dir.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == "eml"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// The SMTP transport to a plain server on `port` of this machine.
pub fn plain_smtp(port: u16) -> TransportSettings {
    TransportSettings::Smtp(
        SmtpSettings::parse(&format!("smtp://127.0.0.1:{port}?tls=none"), None, None).unwrap(),
    )
}

/// A certificate authority and a server certificate it issued for `127.0.0.1`, made with the
/// `openssl` command.
pub struct TestCa {
    pub ca_cert: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    _dir: TempDir,
}

impl TestCa {
    pub fn new() -> TestCa {
        let dir = tempfile::tempdir().unwrap();
        let path = |name: &str| dir.path().join(name);
        let run = |args: &[&str]| {
            let output = std::process::Command::new("openssl")
                .args(args)
                .current_dir(dir.path())
                .output()
                .expect("the openssl command is installed");
            assert!(
                output.status.success(),
                "openssl {args:?}: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        };
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ];
        let mut ca = vec!["req", "-x509", "-days", "2", "-subj", "/CN=Tolem test CA"];
        ca.extend(ec);
        ca.extend([
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ]);
        run(&ca);
        let mut csr = vec!["req", "-new", "-subj", "/CN=127.0.0.1"];
        csr.extend(ec);
        csr.extend(["-keyout", "server.key", "-out", "server.csr"]);
        run(&csr);
        std::fs::write(
            path("server.ext"),
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n\
             keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
        )
        .unwrap();
        run(&[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "server.ext",
            "-out",
            "server.pem",
        ]);
        TestCa {
            ca_cert: path("ca.pem"),
            server_cert: path("server.pem"),
            server_key: path("server.key"),
            _dir: dir,
        }
    }
}

/// An e-mail as Python's `email` package (policy `default`, what modern Python mail tools use)
/// reads it: header values decoded (RFC 2047), the body decoded from its transfer encoding.
#[derive(Debug, Deserialize)]
pub struct ParsedEmail {
    /// Lower-cased header name → decoded value (the last, if repeated).
    pub headers: std::collections::HashMap<String, String>,
    pub content_type: String,
    pub charset: Option<String>,
    /// `Date` read as a date: seconds since the epoch.
    pub date_epoch_s: Option<f64>,
    pub body: String,
    /// What the parser found wrong, in the message and its headers; empty for a clean e-mail.
    pub defects: Vec<String>,
}

const PARSE_EMAIL: &str = r#"
import email, json, sys
from email import policy
from email.utils import parsedate_to_datetime
with open(sys.argv[1], "rb") as f:
    m = email.message_from_binary_file(f, policy=policy.default)
defects = [type(d).__name__ for d in m.defects]
headers = {}
for name, value in m.items():
    defects += [name + ": " + type(d).__name__ for d in getattr(value, "defects", ())]
    headers[name.lower()] = str(value)
date = m["Date"]
print(json.dumps({
    "headers": headers,
    "content_type": m.get_content_type(),
    "charset": m.get_content_charset(),
    "date_epoch_s": parsedate_to_datetime(str(date)).timestamp() if date else None,
    "body": m.get_content(),
    "defects": defects,
}))
"#;

/// Reads the e-mail in `path` with Python's `email` package.
pub fn parse_email(path: &Path) -> ParsedEmail {
    let output = std::process::Command::new("python3")
        .args(["-c", PARSE_EMAIL])
        .arg(path)
        .output()
        .expect("python3 runs");
    assert!(
        output.status.success(),
        "python could not parse {}: {}",
        path.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

impl Gateway {
    /// Waits (up to 20 s) until `query` (a scalar SQL query) returns `expected`.
    pub async fn wait_for(&self, query: &str, expected: i64) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let value: i64 = sqlx::query_scalar(query)
                .fetch_one(&self.pool)
                .await
                .unwrap();
            if value == expected {
                return;
            }
            if tokio::time::Instant::now() >= deadline {
                let outbox: Vec<(String, String, i64, Option<String>)> = sqlx::query_as(
                    "SELECT message_id, state, attempts, last_error FROM mail_outbox",
                )
                .fetch_all(&self.pool)
                .await
                .unwrap();
                panic!("{query} stayed {value}, expected {expected}; outbox: {outbox:?}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The state, attempts and last error of a letter.
    pub async fn mail_state(&self, message_id: &str) -> (String, i64, Option<String>) {
        let row: (String, i64, Option<String>) = sqlx::query_as(
            "SELECT state, attempts, last_error FROM mail_outbox WHERE message_id = $1",
        )
        .bind(message_id)
        .fetch_one(&self.pool)
        .await
        .unwrap();
        row
    }

    /// The composed e-mail body of a letter, as stored.
    pub async fn mail_body(&self, message_id: &str) -> String {
        sqlx::query_scalar("SELECT body FROM mail_outbox WHERE message_id = $1")
            .bind(message_id)
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }

    /// Posts `text` to the verification page (language `lang`) and returns the page's HTML.
    pub async fn verify_page(&self, text: &str, lang: &str) -> String {
        let response = self
            .client
            .post(format!("{}/verify?lang={lang}", self.url))
            .form(&[("message", text)])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), reqwest::StatusCode::OK);
        response.text().await.unwrap()
    }
}

/// `data-valid` and `data-reason` of the verification page's verdict.
pub fn verdict(html: &str) -> (String, String) {
    let attribute = |name: &str| {
        let start = html.find("id=\"verdict\"").expect("a verdict");
        let rest = &html[start..];
        let rest = &rest[..rest.find('>').unwrap()];
        rest.split(&format!("{name}=\""))
            .nth(1)
            .and_then(|r| r.split('"').next())
            .unwrap_or_default()
            .to_owned()
    };
    (attribute("data-valid"), attribute("data-reason"))
}

impl Gateway {
    /// A test's handle on a gateway binary already running at `url` in `dir` (its SQLite
    /// database and gateway key in `dir/data`, as the defaults put them).
    pub async fn attach(url: String, dir: TempDir) -> Gateway {
        let database_url = format!("sqlite://{}/data/tolem.db", dir.path().display());
        let pool = tolem_gateway::db::connect(&database_url).await.unwrap();
        let key = tolem_gateway::gateway_key::GatewayKey::load_or_create(
            &dir.path().join("data/gateway.key"),
        )
        .unwrap();
        Gateway {
            url,
            database_url,
            // The binary decides its own payments; this writer is never used.
            payments: std::sync::Arc::new(tolem_gateway::payments::group::GroupWriter::new(
                pool.clone(),
                Default::default(),
                Default::default(),
            )),
            pool,
            client: super::client_from("127.0.0.1".parse().unwrap()),
            gateway_key: key.public_key(),
            // The binary runs its own delivery worker; this queue wakes nothing.
            delivery_queue: Default::default(),
            // Likewise its own card settings and refund worker.
            card: Default::default(),
            _dir: dir,
        }
    }
}

//! How an e-mail leaves the gateway: through an SMTP server, or — when none is configured, as
//! in the README's run command — as an `.eml` file in a directory, so nothing needs setting up
//! to try Tolem and see what a recipient would get.
//!
//! Both take the same [`lettre::Message`] (built in [`super::compose`]): the file is byte for
//! byte what would have gone over SMTP.
//!
//! ## SMTP
//! `--smtp-url` / `TOLEM_SMTP_URL`:
//! * `smtp://user:password@host[:port]` — STARTTLS, required (port 587 by default);
//! * `smtps://user:password@host[:port]` — TLS from the first byte (port 465 by default);
//! * `smtp://host:25?tls=none` — no TLS at all: only for a relay on this machine or a trusted
//!   network, and never with a password (it would travel in the clear).
//!
//! There is deliberately no "STARTTLS if offered": whoever sits in between could strip the
//! offer and read the password. User and password are percent-decoded; the password may come
//! from `--smtp-password` / `TOLEM_SMTP_PASSWORD` instead (which wins), to keep it out of the
//! URL. AUTH uses PLAIN or LOGIN, whichever the server offers. Server certificates are checked
//! against Mozilla's roots (compiled in) plus, with `--smtp-ca-file`, the PEM certificates of
//! a private CA. The password is never logged, shown or stored: [`SmtpSettings`] prints as
//! `smtp://user@host:587 (STARTTLS)`.
//!
//! ## Files
//! `<mail dir>/<message id>.eml` (`data/mail/P1001-M1.eml`), written to a temporary name and
//! renamed, so a reader never sees half a message; a retry writes the same name again rather
//! than a second file.

use std::{
    fmt, fs, io,
    path::{Path, PathBuf},
    time::Duration,
};

use lettre::{
    AsyncSmtpTransport, AsyncTransport, Tokio1Executor,
    transport::smtp::{
        authentication::Credentials,
        client::{Certificate, Tls, TlsParameters},
    },
};

/// How long one SMTP conversation may take before it counts as a failed attempt.
const SMTP_TIMEOUT: Duration = Duration::from_secs(30);

/// Why the mail settings cannot be used (the gateway does not start).
#[derive(Debug, thiserror::Error)]
pub enum MailConfigError {
    /// `--smtp-url` is not usable; the text says why (without the password).
    #[error("the SMTP URL is not usable: {0}")]
    SmtpUrl(String),
    /// `--smtp-ca-file` cannot be read or holds no certificate.
    #[error("cannot use the CA file {}: {reason}", path.display())]
    CaFile { path: PathBuf, reason: String },
    /// `--mail-from` is not a mailbox.
    #[error(
        "the sender {0:?} is not an e-mail address (expected e.g. \"Tolem <noreply@example.kz>\")"
    )]
    From(String),
    /// The directory for `.eml` files cannot be created.
    #[error("cannot create the mail directory {}: {source}", path.display())]
    MailDir { path: PathBuf, source: io::Error },
}

/// How the SMTP connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// Plain connection upgraded with STARTTLS, which the server must offer.
    StartTls,
    /// TLS from the start (`smtps://`).
    Implicit,
    /// No TLS (`?tls=none`).
    None,
}

/// An SMTP server to send through.
#[derive(Clone, PartialEq, Eq)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub security: Security,
    /// User name and password for AUTH, if the server needs them.
    pub credentials: Option<(String, String)>,
    /// Extra root certificates (PEM) to trust.
    pub ca_file: Option<PathBuf>,
}

impl SmtpSettings {
    /// Reads `--smtp-url`; `password` (from `--smtp-password`) replaces the URL's password.
    pub fn parse(
        text: &str,
        password: Option<&str>,
        ca_file: Option<PathBuf>,
    ) -> Result<SmtpSettings, MailConfigError> {
        let bad = |reason: &str| MailConfigError::SmtpUrl(reason.to_owned());
        let url = url::Url::parse(text.trim())
            .map_err(|_| bad("expected smtp://user:password@host:port or smtps://..."))?;
        let (mut security, default_port) = match url.scheme() {
            "smtp" => (Security::StartTls, 587),
            "smtps" => (Security::Implicit, 465),
            other => return Err(bad(&format!("unknown scheme {other:?}: use smtp or smtps"))),
        };
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| bad("no host"))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        for (name, value) in url.query_pairs() {
            match (name.as_ref(), value.as_ref(), security) {
                ("tls", "starttls" | "required", Security::StartTls) => {}
                ("tls", "none", Security::StartTls) => security = Security::None,
                ("tls", _, Security::Implicit) => {
                    return Err(bad("smtps:// is always TLS; tls= applies to smtp:// only"));
                }
                ("tls", other, _) => {
                    return Err(bad(&format!(
                        "tls={other} is not supported: use tls=starttls (the default) or tls=none"
                    )));
                }
                (other, ..) => return Err(bad(&format!("unknown parameter {other:?}"))),
            }
        }
        let decode = |text: &str| {
            percent_decode(text).ok_or_else(|| bad("the user or password is not valid UTF-8"))
        };
        let user = decode(url.username())?;
        let password = match password {
            Some(password) => password.to_owned(),
            None => decode(url.password().unwrap_or(""))?,
        };
        let credentials = match (user.is_empty(), password.is_empty()) {
            (true, true) => None,
            (false, _) => Some((user, password)),
            (true, false) => return Err(bad("a password without a user name")),
        };
        if credentials.is_some() && security == Security::None {
            return Err(bad(
                "tls=none with a user and password would send the password in the clear",
            ));
        }
        Ok(SmtpSettings {
            host,
            port: url.port().unwrap_or(default_port),
            security,
            credentials,
            ca_file,
        })
    }

    /// The lettre transport for these settings.
    fn transport(&self) -> Result<AsyncSmtpTransport<Tokio1Executor>, MailConfigError> {
        let tls = match self.security {
            Security::None => Tls::None,
            Security::StartTls => Tls::Required(self.tls_parameters()?),
            Security::Implicit => Tls::Wrapper(self.tls_parameters()?),
        };
        // lettre's "dangerous" builder starts without TLS; `tls` below sets what we chose.
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&self.host)
            .port(self.port)
            .tls(tls)
            .timeout(Some(SMTP_TIMEOUT));
        if let Some((user, password)) = &self.credentials {
            builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
        }
        Ok(builder.build())
    }

    fn tls_parameters(&self) -> Result<TlsParameters, MailConfigError> {
        let mut builder = TlsParameters::builder(self.host.clone());
        if let Some(path) = &self.ca_file {
            let ca_error = |reason: String| MailConfigError::CaFile {
                path: path.clone(),
                reason,
            };
            let pem = fs::read(path).map_err(|e| ca_error(e.to_string()))?;
            if !String::from_utf8_lossy(&pem).contains("-----BEGIN CERTIFICATE-----") {
                return Err(ca_error("no PEM certificate in it".to_owned()));
            }
            let certificate = Certificate::from_pem(&pem).map_err(|e| ca_error(e.to_string()))?;
            builder = builder.add_root_certificate(certificate);
        }
        builder
            .build_rustls()
            .map_err(|e| MailConfigError::SmtpUrl(format!("TLS set-up failed: {e}")))
    }
}

/// Percent-decoding of a URL's user or password (`p%40ss` is `p@ss`).
fn percent_decode(text: &str) -> Option<String> {
    percent_encoding::percent_decode_str(text)
        .decode_utf8()
        .ok()
        .map(|text| text.into_owned())
}

/// The password stays out of every log line and error message.
impl fmt::Display for SmtpSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.security == Security::Implicit {
            "smtps"
        } else {
            "smtp"
        };
        let user = self
            .credentials
            .as_ref()
            .map(|(user, _)| format!("{user}@"))
            .unwrap_or_default();
        let security = match self.security {
            Security::StartTls => "STARTTLS",
            Security::Implicit => "TLS",
            Security::None => "no TLS",
        };
        write!(
            f,
            "{scheme}://{user}{}:{} ({security})",
            self.host, self.port
        )
    }
}

impl fmt::Debug for SmtpSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SmtpSettings({self})")
    }
}

/// Where e-mail goes, as configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransportSettings {
    /// Through an SMTP server.
    Smtp(SmtpSettings),
    /// As `.eml` files in this directory.
    Files(PathBuf),
}

/// An open transport.
#[derive(Clone)]
pub enum Transport {
    /// An SMTP server; `shown` is its description without the password.
    Smtp {
        mailer: AsyncSmtpTransport<Tokio1Executor>,
        shown: String,
    },
    /// A directory of `.eml` files.
    Files(PathBuf),
}

/// Where a delivered e-mail went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivered {
    /// The SMTP server accepted it with this reply code.
    Smtp(String),
    /// Written to this file.
    File(PathBuf),
}

/// A failed attempt: what went wrong (fit to store and show: never a password) and whether
/// the server said it will never work (a 5xx reply: unknown recipient, authentication refused).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{text}")]
pub struct DeliveryError {
    pub text: String,
    pub permanent: bool,
}

impl Transport {
    /// Opens the transport: builds the SMTP client (reading the CA file), or creates the
    /// directory of `.eml` files. Nothing is sent yet, so an SMTP server that is down does not
    /// stop the gateway from starting — its letters wait in the queue.
    pub fn open(settings: &TransportSettings) -> Result<Transport, MailConfigError> {
        match settings {
            TransportSettings::Smtp(smtp) => Ok(Transport::Smtp {
                mailer: smtp.transport()?,
                shown: smtp.to_string(),
            }),
            TransportSettings::Files(dir) => {
                fs::create_dir_all(dir).map_err(|source| MailConfigError::MailDir {
                    path: dir.clone(),
                    source,
                })?;
                Ok(Transport::Files(dir.clone()))
            }
        }
    }

    /// What the transport is, for logs and the banner.
    pub fn describe(&self) -> String {
        match self {
            Transport::Smtp { shown, .. } => format!("SMTP {shown}"),
            Transport::Files(dir) => format!(".eml files in {}", dir.display()),
        }
    }

    /// `"smtp"` or `"file"`, for the audit trail.
    pub fn kind(&self) -> &'static str {
        match self {
            Transport::Smtp { .. } => "smtp",
            Transport::Files(_) => "file",
        }
    }

    /// Sends `email` (the queue's `message_id`, which names its file).
    pub async fn deliver(
        &self,
        email: &lettre::Message,
        message_id: &str,
    ) -> Result<Delivered, DeliveryError> {
        match self {
            Transport::Smtp { mailer, .. } => match mailer.send(email.clone()).await {
                Ok(response) => Ok(Delivered::Smtp(response.code().to_string())),
                Err(error) => Err(DeliveryError {
                    text: error_text(&error),
                    permanent: error.is_permanent(),
                }),
            },
            Transport::Files(dir) => {
                let formatted = email.formatted();
                let dir = dir.clone();
                let name = format!("{message_id}.eml");
                tokio::task::spawn_blocking(move || write_file(&dir, &name, &formatted))
                    .await
                    .map_err(|e| DeliveryError {
                        text: e.to_string(),
                        permanent: false,
                    })?
                    .map(Delivered::File)
                    .map_err(|e| DeliveryError {
                        text: format!("cannot write the .eml file: {e}"),
                        permanent: false,
                    })
            }
        }
    }
}

/// lettre's error with its causes, on one line.
fn error_text(error: &lettre::transport::smtp::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text.replace(['\r', '\n'], " ")
}

/// Writes `bytes` to `dir/name` through a temporary file and a rename, so the file appears
/// whole or not at all.
fn write_file(dir: &Path, name: &str, bytes: &[u8]) -> io::Result<PathBuf> {
    use io::Write;
    fs::create_dir_all(dir)?;
    let path = dir.join(name);
    let temporary = dir.join(format!(".{name}.tmp"));
    let mut file = fs::File::create(&temporary)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    fs::rename(&temporary, &path)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smtp_urls_are_read_with_safe_defaults() {
        let url = SmtpSettings::parse("smtp://tolem:p%40ss@mail.example.kz", None, None).unwrap();
        assert_eq!(url.host, "mail.example.kz");
        assert_eq!(url.port, 587);
        assert_eq!(url.security, Security::StartTls);
        assert_eq!(
            url.credentials,
            Some(("tolem".to_owned(), "p@ss".to_owned()))
        );

        let url = SmtpSettings::parse("smtp://u:p@mail.example.kz:2525?tls=starttls", None, None)
            .unwrap();
        assert_eq!((url.port, url.security), (2525, Security::StartTls));

        let url = SmtpSettings::parse("smtps://u:p@mail.example.kz", None, None).unwrap();
        assert_eq!((url.port, url.security), (465, Security::Implicit));

        let url = SmtpSettings::parse("smtp://127.0.0.1:25?tls=none", None, None).unwrap();
        assert_eq!((url.security, url.credentials), (Security::None, None));

        // The password flag wins over the URL's.
        let url = SmtpSettings::parse("smtp://u:old@h.kz", Some("new"), None).unwrap();
        assert_eq!(url.credentials, Some(("u".to_owned(), "new".to_owned())));
        let url = SmtpSettings::parse("smtp://u@h.kz", Some("only-flag"), None).unwrap();
        assert_eq!(
            url.credentials,
            Some(("u".to_owned(), "only-flag".to_owned()))
        );
    }

    #[test]
    fn unsafe_or_unknown_settings_are_refused() {
        for bad in [
            "mail.example.kz",
            "http://mail.example.kz",
            "smtp://u:p@h.kz?tls=opportunistic",
            "smtp://u:p@h.kz:25?tls=none",
            "smtps://u:p@h.kz?tls=none",
            "smtp://h.kz?ssl=1",
            "smtp://:secret@h.kz",
        ] {
            let error = SmtpSettings::parse(bad, None, None).unwrap_err();
            assert!(matches!(error, MailConfigError::SmtpUrl(_)), "{bad}");
            assert!(!error.to_string().contains("secret"), "{error}");
        }
    }

    #[test]
    fn the_password_is_never_shown() {
        let url = SmtpSettings::parse("smtp://tolem:hunter2@mail.example.kz", None, None).unwrap();
        assert_eq!(
            url.to_string(),
            "smtp://tolem@mail.example.kz:587 (STARTTLS)"
        );
        assert!(!format!("{url:?}").contains("hunter2"));
        let transport = Transport::open(&TransportSettings::Smtp(url)).unwrap();
        assert!(!transport.describe().contains("hunter2"));
    }

    #[test]
    fn a_ca_file_must_hold_a_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ca.pem");
        fs::write(&path, "not a certificate").unwrap();
        let url = SmtpSettings::parse("smtp://h.kz", None, Some(path)).unwrap();
        let error = Transport::open(&TransportSettings::Smtp(url))
            .err()
            .unwrap();
        assert!(matches!(error, MailConfigError::CaFile { .. }), "{error}");
        let url =
            SmtpSettings::parse("smtp://h.kz", None, Some(dir.path().join("missing"))).unwrap();
        assert!(Transport::open(&TransportSettings::Smtp(url)).is_err());
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("a%20b%2fc").as_deref(), Some("a b/c"));
        assert_eq!(percent_decode("100%").as_deref(), Some("100%"));
        assert_eq!(percent_decode("%zz").as_deref(), Some("%zz"));
        assert_eq!(percent_decode("%D0%B6").as_deref(), Some("ж"));
        assert_eq!(percent_decode("%FF"), None);
    }
}

//! Signed messages by e-mail (CyberplatMobile manual §16): the point signs a letter, the
//! gateway checks the signature, countersigns, and e-mails it with both signatures and the
//! point's identity; the recipient checks them on the gateway's `/verify` page.
//!
//! In the order a letter travels:
//! * [`queue`] — the `message` step's transaction: idempotency, the hourly limit, the
//!   countersignature, the composed e-mail, the outbox row (queue operations: `db::mail`);
//! * [`envelope`] — the armored block with both signatures, written and read back;
//! * [`compose`] — the e-mail around it;
//! * [`worker`] — the delivery task: due letters, retries with backoff, never dropped;
//! * [`transport`] — SMTP (STARTTLS/TLS, AUTH) or `.eml` files.
//!
//! The phone never waits for the mail server: the step answers once the letter is stored, and
//! wakes the worker through the [`MailQueue`] all handlers share.

pub mod compose;
pub mod envelope;
pub mod queue;
pub mod transport;
pub mod worker;

use lettre::message::Mailbox;
use tokio::sync::Notify;

use crate::config::Config;
use transport::{MailConfigError, SmtpSettings, TransportSettings};

/// What the `message` step and the delivery worker share.
#[derive(Debug)]
pub struct MailQueue {
    wake: Notify,
    verify_url: String,
}

impl Default for MailQueue {
    /// A queue whose e-mails point to `/verify` on whatever host the recipient knows (tests,
    /// and a gateway without `--public-url` before it knows its address).
    fn default() -> Self {
        MailQueue::new("/verify")
    }
}

impl MailQueue {
    /// A queue whose e-mails name `verify_url` as the verification page.
    pub fn new(verify_url: impl Into<String>) -> MailQueue {
        MailQueue {
            wake: Notify::new(),
            verify_url: verify_url.into(),
        }
    }

    /// Tells the worker a letter is waiting. A wake-up while the worker is busy is kept (one
    /// permit), so none is lost between its look at the outbox and its sleep.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Resolves at the next [`Self::wake`] (or at once if one is pending).
    pub async fn woken(&self) {
        self.wake.notified().await;
    }

    /// The verification page, as the e-mails name it.
    pub fn verify_url(&self) -> &str {
        &self.verify_url
    }
}

/// The mail part of the configuration, checked.
#[derive(Debug, Clone)]
pub struct MailSettings {
    pub transport: TransportSettings,
    pub from: Mailbox,
}

impl MailSettings {
    /// Reads `--smtp-url`, `--smtp-password`, `--smtp-ca-file`, `--mail-dir` and `--mail-from`.
    /// Without an SMTP URL, e-mails become `.eml` files in the mail directory.
    pub fn from_config(config: &Config) -> Result<MailSettings, MailConfigError> {
        let transport = match config.smtp_url.as_deref().filter(|u| !u.trim().is_empty()) {
            Some(url) => TransportSettings::Smtp(SmtpSettings::parse(
                url,
                config.smtp_password.as_deref(),
                config.smtp_ca_file.clone(),
            )?),
            None => TransportSettings::Files(config.mail_dir.clone()),
        };
        let from = config
            .mail_from
            .parse::<Mailbox>()
            .map_err(|_| MailConfigError::From(config.mail_from.clone()))?;
        Ok(MailSettings { transport, from })
    }
}

/// The verification page's address for e-mails: `--public-url` + `/verify`, or the address
/// the gateway listens on.
pub fn verify_url(public_url: Option<&str>, listening: std::net::SocketAddr) -> String {
    match public_url.map(|u| u.trim().trim_end_matches('/')) {
        Some(base) if !base.is_empty() => format!("{base}/verify"),
        _ => format!("http://{listening}/verify"),
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[test]
    fn without_smtp_mail_goes_to_files_in_data_mail() {
        let config = Config::try_parse_from(["tolem-gateway"]).unwrap();
        let settings = MailSettings::from_config(&config).unwrap();
        assert_eq!(
            settings.transport,
            TransportSettings::Files("data/mail".into())
        );
        assert_eq!(settings.from.to_string(), "Tolem <noreply@tolem.localhost>");
    }

    #[test]
    fn smtp_and_sender_come_from_flags() {
        let config = Config::try_parse_from([
            "tolem-gateway",
            "--smtp-url",
            "smtp://tolem@mail.example.kz",
            "--smtp-password",
            "hunter2",
            "--mail-from",
            "Касса <kassa@example.kz>",
        ])
        .unwrap();
        let settings = MailSettings::from_config(&config).unwrap();
        let TransportSettings::Smtp(smtp) = &settings.transport else {
            panic!("{settings:?}");
        };
        assert_eq!(
            smtp.credentials,
            Some(("tolem".to_owned(), "hunter2".to_owned()))
        );
        assert_eq!(settings.from.email.to_string(), "kassa@example.kz");
        assert!(!format!("{settings:?}").contains("hunter2"));

        let config = Config::try_parse_from(["tolem-gateway", "--mail-from", "nobody"]).unwrap();
        assert!(matches!(
            MailSettings::from_config(&config),
            Err(MailConfigError::From(_))
        ));
    }

    #[test]
    fn the_verification_link() {
        let addr = "127.0.0.1:8080".parse().unwrap();
        assert_eq!(verify_url(None, addr), "http://127.0.0.1:8080/verify");
        assert_eq!(
            verify_url(Some("https://pay.example.kz/"), addr),
            "https://pay.example.kz/verify"
        );
    }
}

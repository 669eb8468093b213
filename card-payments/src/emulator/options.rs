//! The emulator's command line.

use std::net::SocketAddr;
use std::time::Duration;

use crate::config::Secret;
use crate::robokassa::hash::HashAlgorithm;

use super::state::{Faults, RetryPolicy, Routing, Settings};

/// The docs' example Public ID (developers.cloudpayments.ru, widget example).
pub const DEFAULT_TIPTOP_PUBLIC_ID: &str = "test_api_00000000000000000000001";

/// TipTop Pay and Robokassa for tests and demos: their APIs, a hosted card page with 3-D
/// Secure and test cards, and signed notifications to the gateway.
///
/// Prints `listening on http://ADDRESS` as its first line on stdout once it takes requests.
#[derive(Debug, clap::Parser)]
#[command(name = "tolem-card-emulator", version)]
pub struct Options {
    /// Address to listen on; port 0 picks a free one (read it from the first line of stdout).
    #[arg(long, default_value = "127.0.0.1:8092")]
    pub listen: SocketAddr,
    /// The emulator's address as the customer's browser sees it (TipTop Pay's order URLs);
    /// by default http://LISTEN.
    #[arg(long, value_name = "URL")]
    pub public_url: Option<String>,

    /// TipTop Pay's Public ID (the API's Basic auth login).
    #[arg(long, default_value = DEFAULT_TIPTOP_PUBLIC_ID)]
    pub tiptop_public_id: String,
    /// TipTop Pay's API secret: the API's password and the notifications' HMAC key.
    #[arg(long, default_value = "tiptop-emulator-secret", value_parser = secret)]
    pub tiptop_secret: Secret,
    /// The gateway's base for TipTop Pay notifications: they go to BASE/check, BASE/pay,
    /// BASE/fail, BASE/refund. Settable later with POST /control/config.
    #[arg(long, value_name = "BASE")]
    pub tiptop_notify_url: Option<String>,
    /// A certificate authority (PEM file) to trust for the notification addresses, beside the
    /// public ones: the gateway's local one when it serves HTTPS with a certificate of its own
    /// (`scripts/run.sh --lan`).
    #[arg(long, value_name = "FILE", value_parser = ca_file)]
    pub notify_ca_file: Option<CaPem>,
    /// A live terminal: TestMode=0 in notifications, no test cards on the page.
    #[arg(long)]
    pub tiptop_live: bool,

    /// Robokassa's merchant login (MerchantLogin).
    #[arg(long, default_value = "tolem-demo")]
    pub robokassa_login: String,
    /// Robokassa's Password #1 (signs the payment link and the success redirect).
    #[arg(long, default_value = "password1", value_parser = secret)]
    pub robokassa_password1: Secret,
    /// Robokassa's Password #2 (signs ResultURL and OpStateExt).
    #[arg(long, default_value = "password2", value_parser = secret)]
    pub robokassa_password2: Secret,
    /// Robokassa's Password #3 (the refund API's JWT key).
    #[arg(long, default_value = "password3", value_parser = secret)]
    pub robokassa_password3: Secret,
    /// Robokassa's test Password #1: a link with IsTest=1 is checked with it (and its success
    /// redirect signed), never with Password #1.
    #[arg(long, default_value = "test-password1", value_parser = secret)]
    pub robokassa_test_password1: Secret,
    /// Robokassa's test Password #2: signs the ResultURL of a test payment (and OpStateExt
    /// about one is checked with it).
    #[arg(long, default_value = "test-password2", value_parser = secret)]
    pub robokassa_test_password2: Secret,
    /// The hash the Robokassa shop's technical settings name for its signatures: md5,
    /// ripemd160, sha1, sha256, sha384 or sha512. Links signed with another are refused
    /// (error 29), and notifications are signed with this one.
    #[arg(long, value_name = "ALGORITHM", default_value = "md5")]
    pub robokassa_hash: HashAlgorithm,
    /// The gateway's ResultURL. Settable later with POST /control/config.
    #[arg(long, value_name = "URL")]
    pub robokassa_result_url: Option<String>,

    /// Drop the first N attempts at asynchronous notifications (Pay, Fail, Refund,
    /// ResultURL), unsent.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub fail_notifications: u32,
    /// Deliver each asynchronous notification twice.
    #[arg(long)]
    pub duplicate_notifications: bool,
    /// Answer the first N OpStateExt questions about a paid operation with state 50 (being
    /// credited to the shop).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub still_crediting: u32,
    /// TipTop Pay: no Check notification (the site has none set up): cards are charged
    /// without asking the shop first.
    #[arg(long)]
    pub no_check: bool,
    /// Robokassa: each refund answers `processing` to its first N Refund/GetState questions.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub refund_processing_checks: u32,
    /// Robokassa: refunds end `canceled` (the money stays with the shop).
    #[arg(long)]
    pub refund_cancel: bool,
    /// TipTop Pay: the first N refunds are made but answered HTTP 502, as if the answer was
    /// lost on the way back.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub lose_refund_answers: u32,
    /// TipTop Pay: keep the answer to an X-Request-ID this long (ms) instead of an hour.
    #[arg(long, value_name = "MS")]
    pub idempotency_window_ms: Option<u64>,
    /// Pause after the first unanswered attempt (ms); it doubles after each one.
    #[arg(long, default_value_t = 1000)]
    pub retry_base_ms: u64,
    /// The longest pause between attempts (ms).
    #[arg(long, default_value_t = 60_000)]
    pub retry_max_ms: u64,
    /// Attempts before giving up on a notification.
    #[arg(long, default_value_t = 20)]
    pub retry_attempts: u32,
    /// How long one notification attempt may take (ms).
    #[arg(long, default_value_t = 10_000)]
    pub notify_timeout_ms: u64,
    /// Seed of the ids and 3-D Secure codes; by default from the clock.
    #[arg(long)]
    pub seed: Option<u64>,
}

/// The contents of `--notify-ca-file`, read and checked when the options are.
#[derive(Debug, Clone)]
pub struct CaPem(pub Vec<u8>);

fn ca_file(path: &str) -> Result<CaPem, String> {
    let pem = std::fs::read(path).map_err(|error| format!("cannot read {path}: {error}"))?;
    match reqwest::Certificate::from_pem_bundle(&pem) {
        Ok(certificates) if !certificates.is_empty() => Ok(CaPem(pem)),
        Ok(_) => Err(format!("{path} holds no PEM certificate")),
        Err(error) => Err(format!("{path} is not a PEM certificate: {error}")),
    }
}

impl Options {
    pub fn settings(&self) -> Settings {
        Settings {
            tiptop_public_id: self.tiptop_public_id.clone(),
            tiptop_secret: self.tiptop_secret.clone(),
            tiptop_test: !self.tiptop_live,
            robokassa_login: self.robokassa_login.clone(),
            robokassa_password1: self.robokassa_password1.clone(),
            robokassa_password2: self.robokassa_password2.clone(),
            robokassa_password3: self.robokassa_password3.clone(),
            robokassa_test_password1: self.robokassa_test_password1.clone(),
            robokassa_test_password2: self.robokassa_test_password2.clone(),
            robokassa_hash: self.robokassa_hash,
            retry: RetryPolicy {
                base: Duration::from_millis(self.retry_base_ms),
                max: Duration::from_millis(self.retry_max_ms.max(self.retry_base_ms)),
                attempts: self.retry_attempts.max(1),
            },
            notify_timeout: Duration::from_millis(self.notify_timeout_ms.max(1)),
            notify_ca_pem: self.notify_ca_file.as_ref().map(|ca| ca.0.clone()),
        }
    }

    /// The routing at start; `listening` is the bound address, the default public one.
    pub fn routing(&self, listening: SocketAddr) -> Routing {
        Routing {
            public_url: Some(
                self.public_url
                    .clone()
                    .unwrap_or_else(|| format!("http://{listening}")),
            ),
            tiptop_notify_url: self.tiptop_notify_url.clone(),
            robokassa_result_url: self.robokassa_result_url.clone(),
        }
    }

    pub fn faults(&self) -> Faults {
        Faults {
            fail_notifications: self.fail_notifications,
            duplicate_notifications: self.duplicate_notifications,
            still_crediting: self.still_crediting,
            no_check: self.no_check,
            refund_processing_checks: self.refund_processing_checks,
            refund_cancel: self.refund_cancel,
            lose_refund_answers: self.lose_refund_answers,
            idempotency_window_ms: self.idempotency_window_ms,
        }
    }

    /// The seed given, or one from the clock so ids differ between runs.
    pub fn seed(&self) -> u64 {
        self.seed.unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
        })
    }
}

/// Where numbering starts: 1000 with a fixed seed; otherwise the clock in milliseconds, so
/// a restarted emulator does not reuse transaction numbers a gateway already stored.
pub fn last_number(seed: Option<u64>) -> u64 {
    match seed {
        Some(_) => 1000,
        None => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(1000),
    }
}

fn secret(text: &str) -> Result<Secret, std::convert::Infallible> {
    Ok(Secret(text.to_owned()))
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[test]
    fn defaults_and_hidden_secrets() {
        let options = Options::try_parse_from([
            "emulator",
            "--tiptop-secret",
            "s3cr3t-api",
            "--robokassa-password2",
            "s3cr3t-p2",
            "--fail-notifications",
            "2",
        ])
        .unwrap();
        assert_eq!(options.listen.to_string(), "127.0.0.1:8092");
        assert_eq!(options.fail_notifications, 2);
        assert_eq!(options.robokassa_password1.0, "password1");
        assert_eq!(options.robokassa_test_password1.0, "test-password1");
        assert_eq!(options.robokassa_hash, HashAlgorithm::Md5);
        let sha256 = Options::try_parse_from(["emulator", "--robokassa-hash", "SHA256"]).unwrap();
        assert_eq!(sha256.settings().robokassa_hash, HashAlgorithm::Sha256);
        assert!(Options::try_parse_from(["emulator", "--robokassa-hash", "gost"]).is_err());
        let text = format!("{options:?} {:?}", options.settings());
        assert!(!text.contains("s3cr3t"), "{text}");
        let routing = options.routing("127.0.0.1:9000".parse().unwrap());
        assert_eq!(routing.public_url.as_deref(), Some("http://127.0.0.1:9000"));
    }
}

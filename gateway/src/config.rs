//! Command-line flags and environment variables of the gateway.
//!
//! Every flag has an environment variable of the same meaning (`--port` / `TOLEM_PORT`) so the
//! gateway runs the same way from a terminal, `scripts/run.sh`, systemd or a container. A flag
//! given on the command line wins over the environment. `gateway/.env.sample` lists them all.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};
use tolem_card_payments::robokassa::hash::HashAlgorithm;

use crate::web::client_ip::TrustedProxies;

/// How the gateway is configured at start-up.
#[derive(Debug, Clone, Parser)]
#[command(name = "tolem-gateway", version, about)]
pub struct Config {
    /// What to do instead of serving; without a command the gateway serves.
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Address to listen on. 127.0.0.1 keeps the gateway private to this machine; use 0.0.0.0
    /// (behind an HTTPS reverse proxy) to let phones on the network reach it.
    #[arg(long, env = "TOLEM_HOST", default_value = "127.0.0.1")]
    pub host: String,

    /// TCP port to listen on; 0 picks any free port (the banner shows which).
    #[arg(long, env = "TOLEM_PORT", default_value_t = 8080)]
    pub port: u16,

    /// Database URL: `sqlite://path/to/file.db` (the file and its directory are created if
    /// missing) or `postgres://user:password@host/db`.
    // hide_env_values: `--help` would otherwise print the URL, password included.
    // global: also accepted after a command (`tolem-gateway verify-audit --database-url ...`).
    #[arg(
        long,
        env = "TOLEM_DATABASE_URL",
        default_value = "sqlite://data/tolem.db",
        hide_env_values = true,
        global = true
    )]
    pub database_url: String,

    /// Directory of the built cashier app (Trunk's output) served at `/`.
    #[arg(long, env = "TOLEM_DIST", default_value = "dist")]
    pub dist: PathBuf,

    /// Seed a demo dealer, point, console users and providers (idempotent) and print the demo
    /// credentials. For trying Tolem out, never for a real dealer.
    #[arg(long, env = "TOLEM_DEMO", value_parser = clap::builder::BoolishValueParser::new(),
          action = clap::ArgAction::SetTrue)]
    pub demo: bool,

    /// With `--demo`: deliver the demo providers' payments to this provider emulator (OSMP,
    /// `tolem-provider-emulator`), e.g. `http://127.0.0.1:8091/osmp`. Without it the demo's
    /// payments wait in the delivery queue.
    #[arg(long, env = "TOLEM_DEMO_PROVIDER_URL")]
    pub demo_provider_url: Option<String>,

    /// How long after a provider's temporary answer (or none) the payment is sent again, in
    /// milliseconds; it doubles with each further one, up to 10 minutes. Not 0: a provider in
    /// an outage would be asked again and again without a pause.
    #[arg(long, env = "TOLEM_DELIVERY_FIRST_RETRY_MS", default_value_t = 5_000,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub delivery_first_retry_ms: u64,

    /// How long one delivery attempt holds its payment before another gateway (or this one,
    /// restarted) may send it again, in milliseconds, at least 1 000. An attempt waits for its
    /// provider four fifths of it at most, so keep it above every provider's timeout (a
    /// shorter one cuts that provider's attempts short; they are asked again later).
    #[arg(long, env = "TOLEM_DELIVERY_LEASE_MS", default_value_t = 300_000,
          value_parser = clap::value_parser!(u64).range(1_000..))]
    pub delivery_lease_ms: u64,

    /// PostgreSQL: how long the payment writer waits for a dealer's row another transaction
    /// holds (a console or `psql` session left open, say), in milliseconds, before it decides
    /// the other dealers' payments without that dealer's; those then wait as long again for
    /// the row and are answered 999 (stored nowhere, sent again by the phone). A card payment
    /// service's paid notification waits as long, then is answered 503 and sent again.
    #[arg(long, env = "TOLEM_DEALER_LOCK_WAIT_MS", default_value_t = 2_000,
          value_parser = clap::value_parser!(u64).range(1..=60_000))]
    pub dealer_lock_wait_ms: u64,

    /// How many payments may be on their way to providers at once, all providers together. A
    /// provider answers after its network's round trip, so this over that time is the most
    /// deliveries a second: 256 in flight at 100 ms is 2 560 a second.
    #[arg(long, env = "TOLEM_DELIVERY_IN_FLIGHT", default_value_t = 256,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=4096))]
    pub delivery_in_flight: usize,

    /// How many payments may be on their way to one provider at once, for a provider whose
    /// connection does not say (the operator sets its contract's figure there): what keeps a
    /// provider that hangs from taking every place of the others.
    #[arg(long, env = "TOLEM_DELIVERY_IN_FLIGHT_PER_PROVIDER", default_value_t = 32,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new()
              .range(1..=crate::delivery::connections::IN_FLIGHT_RANGE.end().unsigned_abs()))]
    pub delivery_in_flight_per_provider: usize,

    /// The payment service customers pay card bills through: `tiptop` (TipTop Pay, formerly
    /// CloudPayments Kazakhstan) or `robokassa`. Without it card payments are off (bills are
    /// refused with 918 and the app offers cash only).
    #[arg(long, env = "TOLEM_CARD_SERVICE", value_parser = ["tiptop", "robokassa"])]
    pub card_service: Option<String>,

    /// The payment service's API address (TipTop Pay: https://api.tiptoppay.kz; Robokassa: its
    /// services host) — or the emulator's, for a demo.
    #[arg(long, env = "TOLEM_CARD_API_URL", requires = "card_service")]
    pub card_api_url: Option<String>,

    /// Robokassa's payment page (https://auth.robokassa.kz/Merchant/Index.aspx); TipTop Pay
    /// names its page in each order's answer.
    #[arg(long, env = "TOLEM_CARD_PAGE_URL", requires = "card_service")]
    pub card_page_url: Option<String>,

    /// TipTop Pay's Public ID, or Robokassa's merchant login.
    #[arg(long, env = "TOLEM_CARD_LOGIN", requires = "card_service")]
    pub card_login: Option<String>,

    /// TipTop Pay's API secret, or Robokassa's Password #1. Never logged.
    #[arg(
        long,
        env = "TOLEM_CARD_SECRET",
        hide_env_values = true,
        requires = "card_service"
    )]
    pub card_secret: Option<String>,

    /// Robokassa's Password #2 (it signs the ResultURL notification). Never logged.
    #[arg(
        long,
        env = "TOLEM_CARD_SECRET2",
        hide_env_values = true,
        requires = "card_service"
    )]
    pub card_secret2: Option<String>,

    /// Robokassa's Password #3 (it signs refund requests; issued with API refund access).
    /// Without it refunds to cards are refused and wait in the console. Never logged.
    #[arg(
        long,
        env = "TOLEM_CARD_SECRET3",
        hide_env_values = true,
        requires = "card_service"
    )]
    pub card_secret3: Option<String>,

    /// Use the payment service's test mode (Robokassa's IsTest=1). Without it the gateway
    /// takes no notification of a test payment: the service's site left in test mode would
    /// otherwise have bills settled on card payments that moved no money.
    #[arg(long, env = "TOLEM_CARD_TEST", value_parser = clap::builder::BoolishValueParser::new(),
          action = clap::ArgAction::SetTrue)]
    pub card_test: bool,

    /// Robokassa's test Password #1, needed with --card-test: Robokassa checks a test payment's
    /// link with the shop's test passwords (its technical settings, «Параметры проведения
    /// тестовых платежей»), never with Password #1. Never logged.
    #[arg(
        long,
        env = "TOLEM_CARD_TEST_SECRET",
        hide_env_values = true,
        requires = "card_service"
    )]
    pub card_test_secret: Option<String>,

    /// Robokassa's test Password #2, needed with --card-test: it signs a test payment's
    /// ResultURL. Never logged.
    #[arg(
        long,
        env = "TOLEM_CARD_TEST_SECRET2",
        hide_env_values = true,
        requires = "card_service"
    )]
    pub card_test_secret2: Option<String>,

    /// Robokassa: the hash its shop's technical settings name for signatures («Алгоритм
    /// расчета хеша»): md5, ripemd160, sha1, sha256, sha384 or sha512. Another one than the
    /// shop's has every payment link refused (error 29) and every ResultURL taken for a
    /// forgery. TipTop Pay ignores it.
    #[arg(
        long,
        env = "TOLEM_CARD_HASH",
        value_name = "ALGORITHM",
        default_value = "md5"
    )]
    pub card_hash: HashAlgorithm,

    /// The longest a card bill stays payable after the cashier made it, in minutes (a bill
    /// may ask for less).
    #[arg(long, env = "TOLEM_BILL_LIFETIME_MIN", default_value_t = 30,
          value_parser = clap::value_parser!(u32).range(1..=1440))]
    pub bill_lifetime_min: u32,

    /// File holding the gateway's Ed25519 signing key: created (mode 0600, from the OS random
    /// source) on first start. Back it up: a new key means every phone needs a new key card.
    #[arg(
        long,
        env = "TOLEM_GATEWAY_KEY_FILE",
        default_value = "data/gateway.key"
    )]
    pub gateway_key_file: PathBuf,

    /// Serve HTTPS with this certificate (PEM: the server's first, then any intermediates),
    /// instead of plain HTTP. Turns on `Secure` console cookies and `Strict-Transport-Security`
    /// on every answer. `lan-certificate` makes one for trying Tolem on a phone.
    #[arg(long, env = "TOLEM_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// The private key (PEM) of `--tls-cert`.
    #[arg(long, env = "TOLEM_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// With `--tls-cert`: also listen for plain HTTP on this port (same `--host`) and answer
    /// every request with a redirect to the same path over HTTPS.
    #[arg(long, env = "TOLEM_HTTP_REDIRECT_PORT", requires = "tls_cert")]
    pub http_redirect_port: Option<u16>,

    /// A local certificate authority (PEM, `ca.crt` from `lan-certificate`) for phones to
    /// install: served at `/lan-ca.crt` (also on the redirect port), and the banner shows a
    /// phone how to trust it, with a QR code of `--public-url`.
    #[arg(long, env = "TOLEM_LAN_CA_FILE", requires = "tls_cert")]
    pub lan_ca_file: Option<PathBuf>,

    /// Mark the dealer-console cookie `Secure` (sent over HTTPS only). Turn on whenever the
    /// console is served over HTTPS, which is always except on a local demo.
    #[arg(long, env = "TOLEM_SECURE_COOKIES", value_parser = clap::builder::BoolishValueParser::new(),
          action = clap::ArgAction::SetTrue)]
    pub secure_cookies: bool,

    /// The HTTPS reverse proxies in front of the gateway: addresses or networks
    /// (`10.0.0.1,10.1.0.0/16`), comma-separated. Only a connection from one of them may name
    /// the client in `X-Forwarded-For` (the right-most address no trusted proxy wrote is the
    /// client); from anyone else the header is ignored. Without it, password throttling and
    /// the audit trail see the proxy's address for every client.
    // Each value is a whole list (not clap's value_delimiter) so that an empty
    // `TOLEM_TRUSTED_PROXIES=` means nobody instead of an invalid empty address.
    #[arg(long = "trusted-proxy", env = "TOLEM_TRUSTED_PROXIES")]
    pub trusted_proxies: Vec<TrustedProxies>,

    /// Serves `/metrics` (Prometheus text format: answers by step and result code, request
    /// latency, provider delivery and mail queues, payment groups) to a scraper that sends this token as
    /// `Authorization: Bearer <token>`. Without it `/metrics` does not exist. A secret: give it
    /// through the environment, not the command line.
    #[arg(long, env = "TOLEM_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,

    /// Do not delete audit rows older than 5 years in the background: for a PostgreSQL role
    /// without DELETE on `audit_log` (see `migrations/README.md`); run `purge-audit` as the
    /// owner instead.
    #[arg(long, env = "TOLEM_NO_AUDIT_PURGE", value_parser = clap::builder::BoolishValueParser::new(),
          action = clap::ArgAction::SetTrue)]
    pub no_audit_purge: bool,

    /// SMTP server for the points' signed messages: `smtp://user:password@host:587` (STARTTLS,
    /// required), `smtps://user:password@host:465` (TLS from the start) or
    /// `smtp://host:25?tls=none` (a relay on this machine; no password allowed). Without it,
    /// each e-mail is written as an `.eml` file into `--mail-dir` instead.
    // hide_env_values: `--help` would otherwise print the URL, password included.
    #[arg(long, env = "TOLEM_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,

    /// The SMTP password, if it should not be in the URL (this one wins). Never logged.
    #[arg(long, env = "TOLEM_SMTP_PASSWORD", hide_env_values = true)]
    pub smtp_password: Option<String>,

    /// PEM file of extra root certificates to trust for the SMTP server (a private CA);
    /// Mozilla's roots are always trusted.
    #[arg(long, env = "TOLEM_SMTP_CA_FILE")]
    pub smtp_ca_file: Option<PathBuf>,

    /// Directory where e-mails are written as `<message id>.eml` when no SMTP server is
    /// configured (created if missing).
    #[arg(long, env = "TOLEM_MAIL_DIR", default_value = "data/mail")]
    pub mail_dir: PathBuf,

    /// The sender of the points' signed messages.
    #[arg(
        long,
        env = "TOLEM_MAIL_FROM",
        default_value = "Tolem <noreply@tolem.localhost>"
    )]
    pub mail_from: String,

    /// The gateway's address as recipients of e-mails reach it (`https://pay.example.kz`): the
    /// e-mails link to its `/verify` page. Default: the address the gateway listens on.
    #[arg(long, env = "TOLEM_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// Log format: `pretty` for a person at a terminal, `json` for a log collector.
    /// The level comes from `RUST_LOG` (default `info`).
    #[arg(long, env = "TOLEM_LOG_FORMAT", value_enum, default_value_t = LogFormat::Pretty)]
    pub log_format: LogFormat,
}

/// A maintenance command, run instead of serving (against the same `--database-url`).
#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum Command {
    /// Walk the audit trail's hash chain from its anchor to its head. Exit status 0 and a
    /// summary when it is intact; 1 and the first bad row (`seq`) when it is not; 2 when the
    /// database cannot be read.
    VerifyAudit,
    /// Delete audit rows older than 5 years (the gateway also does this daily), keeping the
    /// rest verifiable; prints how many were deleted.
    PurgeAudit,
    /// The operator's console users, without the console: bootstrapping an empty database.
    #[command(subcommand)]
    Operator(OperatorCommand),
    /// How the gateway reaches providers, without the console.
    #[command(subcommand)]
    Provider(ProviderCommand),
    /// Make (once) a local certificate authority and a server certificate it signs for these
    /// addresses, localhost, 127.0.0.1 and ::1, for trying Tolem on a phone over HTTPS
    /// (`scripts/run.sh --lan`). Kept files are reused; the server certificate is made again
    /// when the addresses change or it is within 30 days of its end. Prints the files.
    LanCertificate {
        /// Where the files are kept (`ca.crt`, `ca.key`, `server.crt`, `server.key`).
        #[arg(long, default_value = "data/lan")]
        dir: PathBuf,
        /// This machine's addresses on the network (repeat, or separate with commas).
        #[arg(long = "ip", value_delimiter = ',')]
        ips: Vec<std::net::IpAddr>,
    },
}

/// `tolem-gateway provider ...`.
#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum ProviderCommand {
    /// Set (or replace) how the gateway delivers payments to a provider of the catalogue.
    /// Migrates the database first. The password is read from an environment variable, never
    /// from the command line (which other users of the machine can see).
    Connect {
        /// The provider's code in the catalogue (`kcell`).
        provider: String,
        /// The provider's endpoint, `https://…` (OSMP: the URL the `command=…` query goes to).
        #[arg(long)]
        url: String,
        /// The provider protocol.
        #[arg(long, default_value = "osmp")]
        protocol: String,
        /// HTTP Basic user name, when the provider asks for one.
        #[arg(long)]
        username: Option<String>,
        /// The environment variable holding the HTTP Basic password.
        #[arg(long, default_value = "TOLEM_PROVIDER_PASSWORD")]
        password_env: String,
        /// How long the provider may take to answer, in milliseconds.
        #[arg(long, default_value_t = 15_000)]
        timeout_ms: i64,
        /// A PEM file with an extra root certificate, for a provider with its own CA.
        #[arg(long)]
        ca_cert: Option<std::path::PathBuf>,
        /// How many payments may be on their way to it at once (what its contract allows);
        /// without it, the gateway's `--delivery-in-flight-per-provider`.
        #[arg(long)]
        in_flight_max: Option<i64>,
    },
    /// Print the registry of what was delivered to a provider on a business day (CSV:
    /// txn_id,prv_txn,account,sum,txn_date), or, with `--compare`, list every difference from
    /// the provider's registry file (exit status 1 when there is one).
    Registry {
        /// The provider's code in the catalogue.
        provider: String,
        /// The business day (Kazakhstan time), YYYY-MM-DD.
        #[arg(long)]
        day: String,
        /// The provider's registry file of that day, in the same format.
        #[arg(long)]
        compare: Option<std::path::PathBuf>,
    },
}

/// `tolem-gateway operator ...`.
#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum OperatorCommand {
    /// Create a full-access user of the operator (on an empty database: the first one) and
    /// print a one-time password and where to log in; the first login asks for a new password
    /// and sets up one-time codes. Migrates the database first.
    Add {
        /// The user's e-mail, their login.
        #[arg(long)]
        email: String,
    },
}

/// The shape of log lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable, coloured when the output is a terminal.
    Pretty,
    /// One JSON object per line.
    Json,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_documentation() {
        let config = Config::try_parse_from(["tolem-gateway"]).unwrap();
        assert_eq!(config.host, "127.0.0.1");
        assert_eq!(config.port, 8080);
        assert_eq!(config.database_url, "sqlite://data/tolem.db");
        assert_eq!(config.dist, PathBuf::from("dist"));
        assert!(!config.demo);
        assert_eq!(config.log_format, LogFormat::Pretty);
        assert_eq!(config.gateway_key_file, PathBuf::from("data/gateway.key"));
        assert!(!config.secure_cookies);
        assert!(!config.no_audit_purge);
        assert_eq!(config.smtp_url, None);
        assert_eq!(config.mail_dir, PathBuf::from("data/mail"));
        assert_eq!(config.mail_from, "Tolem <noreply@tolem.localhost>");
        assert_eq!(config.public_url, None);
        assert_eq!(config.command, None);
        assert!(config.trusted_proxies.is_empty());
        assert_eq!(config.tls_cert, None);
        assert_eq!(config.http_redirect_port, None);
        assert_eq!(
            config.card_hash,
            HashAlgorithm::Md5,
            "what shops start with"
        );
    }

    #[test]
    fn tls_flags_go_together() {
        let config = Config::try_parse_from([
            "tolem-gateway",
            "--tls-cert",
            "s.crt",
            "--tls-key",
            "s.key",
            "--http-redirect-port",
            "8080",
        ])
        .unwrap();
        assert_eq!(config.tls_cert, Some(PathBuf::from("s.crt")));
        assert_eq!(config.http_redirect_port, Some(8080));
        // A certificate without its key, or a redirect without HTTPS, is refused at once.
        for args in [
            &["tolem-gateway", "--tls-cert", "s.crt"][..],
            &["tolem-gateway", "--http-redirect-port", "8080"][..],
        ] {
            assert!(Config::try_parse_from(args).is_err(), "{args:?}");
        }
        let config = Config::try_parse_from([
            "tolem-gateway",
            "lan-certificate",
            "--ip",
            "192.168.1.5,10.0.0.2",
            "--ip",
            "fd00::1",
        ])
        .unwrap();
        let Some(Command::LanCertificate { dir, ips }) = config.command else {
            panic!("lan-certificate parses");
        };
        assert_eq!(dir, PathBuf::from("data/lan"));
        assert_eq!(ips.len(), 3);
    }

    #[test]
    fn trusted_proxies_are_a_comma_separated_list_or_repeated_flags() {
        let config = Config::try_parse_from([
            "tolem-gateway",
            "--trusted-proxy",
            "10.0.0.1,10.1.0.0/16",
            "--trusted-proxy",
            "fd00::/8",
        ])
        .unwrap();
        let trusted: TrustedProxies = config.trusted_proxies.into_iter().collect();
        let headers = [("x-forwarded-for", "203.0.113.7")].into_iter();
        let headers = headers
            .map(|(k, v)| (k.parse().unwrap(), v.parse().unwrap()))
            .collect();
        for proxy in ["10.0.0.1", "10.1.2.3", "fd00::1"] {
            let client = trusted.client(proxy.parse().unwrap(), &headers);
            assert_eq!(client.to_string(), "203.0.113.7", "{proxy}");
        }
        assert!(
            Config::try_parse_from(["tolem-gateway", "--trusted-proxy", "proxy.local"]).is_err()
        );
    }

    #[test]
    fn commands_take_the_database_flag_before_or_after() {
        for args in [
            &[
                "tolem-gateway",
                "verify-audit",
                "--database-url",
                "sqlite://a.db",
            ][..],
            &[
                "tolem-gateway",
                "--database-url",
                "sqlite://a.db",
                "verify-audit",
            ][..],
        ] {
            let config = Config::try_parse_from(args).unwrap();
            assert_eq!(config.command, Some(Command::VerifyAudit));
            assert_eq!(config.database_url, "sqlite://a.db");
        }
        let config = Config::try_parse_from(["tolem-gateway", "purge-audit"]).unwrap();
        assert_eq!(config.command, Some(Command::PurgeAudit));
    }

    #[test]
    fn flags_parse() {
        let config = Config::try_parse_from([
            "tolem-gateway",
            "--port",
            "0",
            "--demo",
            "--log-format",
            "json",
            "--secure-cookies",
        ])
        .unwrap();
        assert_eq!(config.port, 0);
        assert!(config.demo);
        assert_eq!(config.log_format, LogFormat::Json);
        assert!(config.secure_cookies);
        let card = |hash: &str| {
            Config::try_parse_from([
                "tolem-gateway",
                "--card-service",
                "robokassa",
                "--card-hash",
                hash,
            ])
        };
        assert_eq!(card("SHA256").unwrap().card_hash, HashAlgorithm::Sha256);
        assert!(card("gost").is_err());
    }

    #[test]
    fn clap_definition_is_consistent() {
        use clap::CommandFactory;
        Config::command().debug_assert();
    }
}

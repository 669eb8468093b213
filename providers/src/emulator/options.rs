//! The emulator's command line.

use std::fmt;
use std::net::SocketAddr;

use crate::osmp::{SumError, parse_sum};

use super::faults::Faults;

/// A provider speaking the OSMP protocol at `/osmp`, for tests and demos.
///
/// Prints `listening on http://ADDRESS` as its first line on stdout once it takes requests.
#[derive(Debug, clap::Parser)]
#[command(name = "tolem-provider-emulator", version)]
pub struct Options {
    /// Address to listen on; port 0 picks a free one (read it from the first line of stdout).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
    /// An account that exists, with the holder's name for the check answer's `fio` field.
    /// Repeatable.
    #[arg(long = "account", value_name = "NUMBER[=NAME]", value_parser = account_arg)]
    pub accounts: Vec<(String, Option<String>)>,
    /// Every well-formed account (6–20 digits) exists, except those given with --missing.
    #[arg(long)]
    pub open: bool,
    /// An account that does not exist even with --open (result 5). Repeatable.
    #[arg(long, value_name = "NUMBER")]
    pub missing: Vec<String>,
    /// An account that exists but is not active (result 79). Repeatable.
    #[arg(long, value_name = "NUMBER")]
    pub inactive: Vec<String>,
    /// An account the provider takes no payments for (result 7). Repeatable.
    #[arg(long, value_name = "NUMBER")]
    pub forbidden: Vec<String>,
    /// The smallest sum taken, in tenge (below it: result 241).
    #[arg(long, value_name = "TENGE", default_value = "1.00", value_parser = sum_arg)]
    pub min_sum: i64,
    /// The largest sum taken, in tenge (above it: result 242).
    #[arg(long, value_name = "TENGE", default_value = "500000.00", value_parser = sum_arg)]
    pub max_sum: i64,
    /// Require HTTP Basic authentication with this user name (and --password); else HTTP 401.
    #[arg(long, requires = "password")]
    pub username: Option<String>,
    /// The password for --username. Never logged.
    #[arg(long, requires = "username", value_parser = secret_arg)]
    pub password: Option<Secret>,

    /// Every answer waits this long (ms).
    #[arg(long, default_value_t = 0)]
    pub delay_ms: u64,
    /// ...plus up to this much more at random (ms).
    #[arg(long, default_value_t = 0)]
    pub delay_jitter_ms: u64,
    /// Wait after deciding (a pay committed) instead of before: a provider that takes the
    /// payment and answers late.
    #[arg(long)]
    pub delay_after_commit: bool,
    /// Share of requests (0.0–1.0) answered HTTP 500, nothing committed.
    #[arg(long, default_value_t = 0.0)]
    pub status_500_rate: f64,
    /// Share of pays answered --temporary-result, nothing committed.
    #[arg(long, default_value_t = 0.0)]
    pub temporary_rate: f64,
    /// The temporary result: 1 or 90.
    #[arg(long, default_value_t = 90)]
    pub temporary_result: u16,
    /// Every pay in the first this many ms is answered --temporary-result.
    #[arg(long, default_value_t = 0)]
    pub temporary_for_ms: u64,
    /// Share of committed pays whose answer is broken off after the commit.
    #[arg(long, default_value_t = 0.0)]
    pub cut_after_commit_rate: f64,
    /// Share of pays answered with the last committed pay's answer (another transaction's),
    /// nothing committed.
    #[arg(long, default_value_t = 0.0)]
    pub wrong_answer_rate: f64,
    /// Share of committed pays answered without the provider's number (`<prv_txn>`).
    #[arg(long, default_value_t = 0.0)]
    pub no_provider_txn_rate: f64,
    /// Seed of the random faults.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

impl Options {
    /// The faults the flags set.
    pub fn faults(&self) -> Faults {
        Faults {
            delay_ms: self.delay_ms,
            delay_jitter_ms: self.delay_jitter_ms,
            delay_after_commit: self.delay_after_commit,
            status_500_rate: self.status_500_rate,
            temporary_rate: self.temporary_rate,
            temporary_result: self.temporary_result,
            temporary_for_ms: self.temporary_for_ms,
            cut_after_commit_rate: self.cut_after_commit_rate,
            wrong_answer_rate: self.wrong_answer_rate,
            no_provider_txn_rate: self.no_provider_txn_rate,
            seed: self.seed,
        }
    }
}

/// A password that prints as `***`, so logging the options cannot leak it.
#[derive(Clone)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

fn secret_arg(text: &str) -> Result<Secret, std::convert::Infallible> {
    Ok(Secret(text.to_owned()))
}

fn account_arg(text: &str) -> Result<(String, Option<String>), std::convert::Infallible> {
    Ok(match text.split_once('=') {
        Some((number, name)) => (number.to_owned(), Some(name.to_owned())),
        None => (text.to_owned(), None),
    })
}

fn sum_arg(text: &str) -> Result<i64, SumError> {
    parse_sum(text)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[test]
    fn reads_accounts_and_hides_the_password() {
        let options = Options::try_parse_from([
            "emulator",
            "--account",
            "7011111111=Иванов И.",
            "--account",
            "7022222222",
            "--min-sum",
            "2.50",
            "--username",
            "u",
            "--password",
            "s3cr3t-pw",
        ])
        .unwrap();
        assert_eq!(
            options.accounts[0],
            ("7011111111".into(), Some("Иванов И.".into()))
        );
        assert_eq!(options.accounts[1], ("7022222222".into(), None));
        assert_eq!(options.min_sum, 250);
        assert!(!format!("{options:?}").contains("s3cr3t-pw"));
    }

    #[test]
    fn password_needs_username() {
        assert!(Options::try_parse_from(["emulator", "--password", "p"]).is_err());
        assert!(Options::try_parse_from(["emulator", "--min-sum", "1,5"]).is_err());
    }
}

//! Requests: `check` and `pay` as an HTTP GET query.
//!
//! `command=check&txn_id=…&account=…&sum=10.45` and
//! `command=pay&txn_id=…&txn_date=YYYYMMDDHHMMSS&account=…&sum=10.45`.
//! `txn_id` is the aggregator's number of the payment and the provider's idempotency key.

use super::money::{SumError, format_sum, parse_sum};
use super::txn_date::{TxnDateError, check_txn_date};

/// "Does this account exist, and may it be paid this sum?" Nothing is committed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckRequest {
    pub txn_id: u64,
    pub account: String,
    pub sum_tiyn: i64,
}

/// "Credit this account with this sum." Repeating it with the same `txn_id` must not pay twice.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PayRequest {
    pub txn_id: u64,
    /// `YYYYMMDDHHMMSS`, Kazakhstan time (see [`super::txn_date`]).
    pub txn_date: String,
    pub account: String,
    pub sum_tiyn: i64,
}

/// One request of the protocol.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    Check(CheckRequest),
    Pay(PayRequest),
}

/// Why a query is not a request of the protocol (a provider answers it with result 300).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error("no {0} in the request")]
    Missing(&'static str),
    #[error("unknown command {0:?}: only check and pay")]
    UnknownCommand(String),
    #[error("txn_id {0:?} is not a number of up to 20 digits")]
    BadTxnId(String),
    #[error("sum: {0}")]
    BadSum(#[from] SumError),
    #[error(transparent)]
    BadTxnDate(#[from] TxnDateError),
}

impl Command {
    /// The command's name on the wire.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Check(_) => "check",
            Command::Pay(_) => "pay",
        }
    }

    pub fn txn_id(&self) -> u64 {
        match self {
            Command::Check(c) => c.txn_id,
            Command::Pay(p) => p.txn_id,
        }
    }

    /// The URL query, percent-encoded, in the protocol's order of parameters.
    pub fn to_query(&self) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        query.append_pair("command", self.name());
        match self {
            Command::Check(c) => {
                query.append_pair("txn_id", &c.txn_id.to_string());
                query.append_pair("account", &c.account);
                query.append_pair("sum", &format_sum(c.sum_tiyn));
            }
            Command::Pay(p) => {
                query.append_pair("txn_id", &p.txn_id.to_string());
                query.append_pair("txn_date", &p.txn_date);
                query.append_pair("account", &p.account);
                query.append_pair("sum", &format_sum(p.sum_tiyn));
            }
        }
        query.finish()
    }

    /// Reads a request from a URL query (the part after `?`). Unknown parameters are ignored,
    /// as providers do (aggregators add their own, like `prv_id`).
    pub fn from_query(query: &str) -> Result<Command, RequestError> {
        let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
        let get = |name: &'static str| {
            pairs
                .iter()
                .find(|(key, _)| key == name)
                .map(|(_, value)| value.as_str())
                .ok_or(RequestError::Missing(name))
        };
        let command = get("command")?;
        if command != "check" && command != "pay" {
            return Err(RequestError::UnknownCommand(command.to_owned()));
        }
        let txn_id = parse_txn_id(get("txn_id")?)?;
        let account = get("account")?.to_owned();
        let sum_tiyn = parse_sum(get("sum")?)?;
        if command == "check" {
            return Ok(Command::Check(CheckRequest {
                txn_id,
                account,
                sum_tiyn,
            }));
        }
        let txn_date = get("txn_date")?.to_owned();
        check_txn_date(&txn_date)?;
        Ok(Command::Pay(PayRequest {
            txn_id,
            txn_date,
            account,
            sum_tiyn,
        }))
    }
}

/// Reads a txn_id: digits only (no sign, no spaces), at most 20, fitting in a u64.
pub fn parse_txn_id(text: &str) -> Result<u64, RequestError> {
    let bad = || RequestError::BadTxnId(text.to_owned());
    if text.is_empty() || text.len() > 20 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    text.parse().map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pay_round_trips() {
        let pay = Command::Pay(PayRequest {
            txn_id: 1234567,
            txn_date: "20240302003005".into(),
            account: "7012345678".into(),
            sum_tiyn: 1045,
        });
        let query = pay.to_query();
        assert_eq!(
            query,
            "command=pay&txn_id=1234567&txn_date=20240302003005&account=7012345678&sum=10.45"
        );
        assert_eq!(Command::from_query(&query), Ok(pay));
    }

    #[test]
    fn check_round_trips_with_odd_account() {
        let check = Command::Check(CheckRequest {
            txn_id: u64::MAX,
            account: "a b&c=d/é".into(),
            sum_tiyn: 5,
        });
        assert_eq!(Command::from_query(&check.to_query()), Ok(check));
    }

    #[test]
    fn refuses_malformed_requests() {
        assert_eq!(
            Command::from_query("command=check&account=1&sum=1.00"),
            Err(RequestError::Missing("txn_id"))
        );
        assert!(matches!(
            Command::from_query("command=cancel&txn_id=1&account=1&sum=1.00"),
            Err(RequestError::UnknownCommand(_))
        ));
        assert!(matches!(
            Command::from_query("command=check&txn_id=-1&account=1&sum=1.00"),
            Err(RequestError::BadTxnId(_))
        ));
        assert!(matches!(
            Command::from_query("command=check&txn_id=1&account=1&sum=1,00"),
            Err(RequestError::BadSum(_))
        ));
        assert!(matches!(
            Command::from_query("command=pay&txn_id=1&txn_date=2024&account=1&sum=1.00"),
            Err(RequestError::BadTxnDate(_))
        ));
        assert!(parse_txn_id("18446744073709551616").is_err());
        assert!(parse_txn_id("123456789012345678901").is_err());
    }
}

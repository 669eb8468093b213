//! Reconciliation with a provider: the daily registry of what the gateway delivered to it, and
//! the comparison with the registry the provider sends back.
//!
//! The registry is a CSV file, one line per payment the provider took on the business day
//! (Kazakhstan, UTC+5; by when the delivery finished):
//! `txn_id,prv_txn,account,sum,txn_date` — the OSMP transaction number, the provider's own
//! number, the account, the sum as on the wire (`10.45`), and `txn_date` as sent
//! (`YYYYMMDDHHMMSS`, Kazakhstan time). The same format is what [`compare`] reads from the
//! provider, so a provider (or the emulator) that echoes it back reconciles line by line.

use std::collections::BTreeMap;

use sqlx::Row;
use tolem_providers::osmp::{format_sum, format_txn_date, parse_sum};

use crate::payments::{BUSINESS_DAY_MS, business_day_of};

/// The registry's first line.
pub const HEADER: &str = "txn_id,prv_txn,account,sum,txn_date";

/// One payment the provider took.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub txn_id: i64,
    /// The provider's own number (in the provider's registry file, possibly empty).
    pub provider_txn: String,
    pub account: String,
    pub amount_tiyn: i64,
    pub txn_date: String,
}

/// What does not match between the two registries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mismatch {
    /// Delivered by us, not in the provider's registry.
    MissingAtProvider(Line),
    /// In the provider's registry, not delivered by us that day.
    UnknownToUs(Line),
    /// Both have it, with another sum, account or provider number.
    Differs { ours: Line, theirs: Line },
    /// The provider's registry lists one transaction more than once (`times`): a payment
    /// credited twice, or a registry to ask again for.
    Repeated { line: Line, times: usize },
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Mismatch::MissingAtProvider(line) => {
                write!(
                    f,
                    "txn_id {}: delivered by us, missing at the provider ({})",
                    line.txn_id,
                    to_csv_line(line)
                )
            }
            Mismatch::UnknownToUs(line) => {
                write!(
                    f,
                    "txn_id {}: in the provider's registry, not delivered by us that day ({})",
                    line.txn_id,
                    to_csv_line(line)
                )
            }
            Mismatch::Differs { ours, theirs } => write!(
                f,
                "txn_id {}: ours {} / theirs {}",
                ours.txn_id,
                to_csv_line(ours),
                to_csv_line(theirs)
            ),
            Mismatch::Repeated { line, times } => write!(
                f,
                "txn_id {}: {times} times in the provider's registry ({})",
                line.txn_id,
                to_csv_line(line)
            ),
        }
    }
}

/// Why a registry file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("line {line}: {reason}")]
    BadLine { line: usize, reason: String },
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// The payments delivered to `provider` on the business day `day`, by transaction number.
pub async fn of_day<'e>(
    executor: impl sqlx::Executor<'e, Database = sqlx::Any>,
    provider: &str,
    day: time::Date,
) -> Result<Vec<Line>, RegistryError> {
    let start = business_day_of(day);
    let rows = sqlx::query(
        "SELECT d.txn_id, d.provider_txn, p.account, p.amount_tiyn, p.accepted_at_ms \
         FROM deliveries d JOIN payments p ON p.transaction_id = d.transaction_id \
         WHERE d.provider = $1 AND d.state = 'delivered' \
         AND d.finished_at_ms >= $2 AND d.finished_at_ms < $3 ORDER BY d.txn_id",
    )
    .bind(provider)
    .bind(start)
    .bind(start + BUSINESS_DAY_MS)
    .fetch_all(executor)
    .await?;
    rows.iter()
        .map(|row| {
            let accepted: i64 = row.try_get("accepted_at_ms")?;
            Ok(Line {
                // A delivered payment always has its number (given at the first claim); one
                // marked delivered by hand before any attempt has none, and 0 says so.
                txn_id: row.try_get::<Option<i64>, _>("txn_id")?.unwrap_or(0),
                provider_txn: row
                    .try_get::<Option<String>, _>("provider_txn")?
                    .unwrap_or_default(),
                account: row.try_get("account")?,
                amount_tiyn: row.try_get("amount_tiyn")?,
                txn_date: format_txn_date(accepted).unwrap_or_default(),
            })
        })
        .collect()
}

fn to_csv_line(line: &Line) -> String {
    format!(
        "{},{},{},{},{}",
        line.txn_id,
        line.provider_txn,
        line.account,
        format_sum(line.amount_tiyn),
        line.txn_date
    )
}

/// The registry file's text.
pub fn to_csv(lines: &[Line]) -> String {
    let mut text = format!("{HEADER}\r\n");
    for line in lines {
        text.push_str(&to_csv_line(line));
        text.push_str("\r\n");
    }
    text
}

/// Reads a registry file (the header line is optional; blank lines are skipped).
pub fn parse_csv(text: &str) -> Result<Vec<Line>, RegistryError> {
    let mut lines = Vec::new();
    for (number, raw) in text.lines().enumerate() {
        let raw = raw.trim();
        if raw.is_empty() || (number == 0 && raw == HEADER) {
            continue;
        }
        let bad = |reason: String| RegistryError::BadLine {
            line: number + 1,
            reason,
        };
        let fields: Vec<&str> = raw.split(',').map(str::trim).collect();
        let [txn_id, provider_txn, account, sum, txn_date] = fields[..] else {
            return Err(bad(format!(
                "5 fields expected ({HEADER}), found {}",
                fields.len()
            )));
        };
        lines.push(Line {
            txn_id: txn_id
                .parse()
                .map_err(|_| bad(format!("txn_id {txn_id:?} is not a number")))?,
            provider_txn: provider_txn.to_owned(),
            account: account.to_owned(),
            amount_tiyn: parse_sum(sum).map_err(|e| bad(e.to_string()))?,
            txn_date: txn_date.to_owned(),
        });
    }
    Ok(lines)
}

/// Every difference between our registry and the provider's, by transaction number. A payment
/// marked delivered by hand before any attempt has no number of ours (0): it is matched by the
/// provider's own number instead, which the operator took from the provider.
pub fn compare(ours: &[Line], theirs: &[Line]) -> Vec<Mismatch> {
    let mut found = Vec::new();
    let mut their_lines: BTreeMap<i64, Vec<&Line>> = BTreeMap::new();
    for line in theirs {
        their_lines.entry(line.txn_id).or_default().push(line);
    }
    for lines in their_lines.values() {
        if lines.len() > 1 {
            found.push(Mismatch::Repeated {
                line: lines[0].clone(),
                times: lines.len(),
            });
        }
    }
    let theirs: BTreeMap<i64, &Line> = their_lines
        .iter()
        .map(|(txn, lines)| (*txn, lines[0]))
        .collect();
    let (unnumbered, numbered): (Vec<&Line>, Vec<&Line>) =
        ours.iter().partition(|line| line.txn_id == 0);
    let ours: BTreeMap<i64, &Line> = numbered.into_iter().map(|l| (l.txn_id, l)).collect();
    // The provider's lines that stand for our unnumbered ones, by the provider's number.
    let mut matched_by_number = Vec::new();
    for line in unnumbered {
        match theirs.values().find(|other| {
            !ours.contains_key(&other.txn_id) && other.provider_txn == line.provider_txn
        }) {
            Some(other) => matched_by_number.push(other.txn_id),
            None => found.push(Mismatch::MissingAtProvider(line.clone())),
        }
    }
    for (txn, line) in &ours {
        let line = *line;
        match theirs.get(txn) {
            None => found.push(Mismatch::MissingAtProvider(line.clone())),
            // A number the provider's answer did not give us cannot differ from its own.
            Some(other)
                if other.amount_tiyn != line.amount_tiyn
                    || other.account != line.account
                    || (!line.provider_txn.is_empty()
                        && other.provider_txn != line.provider_txn) =>
            {
                found.push(Mismatch::Differs {
                    ours: line.clone(),
                    theirs: (*other).clone(),
                });
            }
            Some(_) => {}
        }
    }
    for (txn, line) in &theirs {
        if !ours.contains_key(txn) && !matched_by_number.contains(txn) {
            found.push(Mismatch::UnknownToUs((*line).clone()));
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(txn_id: i64, sum: i64) -> Line {
        Line {
            txn_id,
            provider_txn: format!("P{txn_id}"),
            account: "7011234567".into(),
            amount_tiyn: sum,
            txn_date: "20261201120000".into(),
        }
    }

    #[test]
    fn a_registry_reads_back_what_it_wrote() {
        let lines = vec![line(1, 100_000), line(2, 45)];
        assert_eq!(parse_csv(&to_csv(&lines)).unwrap(), lines);
    }

    #[test]
    fn every_kind_of_difference_is_listed() {
        let ours = vec![line(1, 100), line(2, 200), line(3, 300)];
        let theirs = vec![line(1, 100), line(3, 301), line(4, 400)];
        let found = compare(&ours, &theirs);
        assert_eq!(
            found,
            vec![
                Mismatch::MissingAtProvider(line(2, 200)),
                Mismatch::Differs {
                    ours: line(3, 300),
                    theirs: line(3, 301)
                },
                Mismatch::UnknownToUs(line(4, 400)),
            ]
        );
        assert!(compare(&ours, &ours).is_empty());
    }

    #[test]
    fn a_transaction_twice_in_the_providers_registry_is_named() {
        let ours = vec![line(1, 100), line(2, 200)];
        let theirs = vec![line(1, 100), line(2, 200), line(2, 200)];
        assert_eq!(
            compare(&ours, &theirs),
            vec![Mismatch::Repeated {
                line: line(2, 200),
                times: 2
            }]
        );
    }

    #[test]
    fn payments_marked_by_hand_without_a_number_are_matched_by_the_providers() {
        let by_hand = |provider_txn: &str| Line {
            txn_id: 0,
            provider_txn: provider_txn.into(),
            ..line(0, 500)
        };
        let ours = vec![line(1, 100), by_hand("H1"), by_hand("H2")];
        let theirs = vec![
            line(1, 100),
            Line {
                txn_id: 77,
                ..by_hand("H1")
            },
        ];
        assert_eq!(
            compare(&ours, &theirs),
            vec![Mismatch::MissingAtProvider(by_hand("H2"))],
            "each is compared, not the last of them only"
        );
    }

    /// A provider whose pay answers carry no `prv_txn`: the payment is matched by our number,
    /// the provider's own number in its registry differs from nothing.
    #[test]
    fn a_payment_delivered_without_the_providers_number_matches_by_ours() {
        let unnamed = Line {
            provider_txn: String::new(),
            ..line(2, 200)
        };
        let ours = vec![line(1, 100), unnamed.clone()];
        let theirs = vec![line(1, 100), line(2, 200)];
        assert!(compare(&ours, &theirs).is_empty());
        let mut wrong_sum = theirs.clone();
        wrong_sum[1].amount_tiyn = 201;
        assert_eq!(
            compare(&ours, &wrong_sum),
            vec![Mismatch::Differs {
                ours: unnamed,
                theirs: wrong_sum[1].clone()
            }]
        );
    }

    #[test]
    fn a_bad_line_is_named() {
        let error = parse_csv("txn_id,prv_txn,account,sum,txn_date\r\n1,P1,701,10.455,x\r\n")
            .unwrap_err()
            .to_string();
        assert!(error.starts_with("line 2:"), "{error}");
    }
}

//! Providers' rules for phone and account numbers, checked on the phone (offline) and again by
//! the gateway.
//!
//! A rule is a short text stored with the provider (`providers.account_rule`): `;`-separated
//! parts that must all hold — `digits=N` or `digits=N-M` (the number has N, or N to M, digits) and
//! `prefixes=a,b,c` (it starts with one of these). Phone numbers are their 10 national digits:
//! `+7 701 123 45 67`, `8 701 123 4567` and `7011234567` are the same number.

use std::ops::RangeInclusive;
use std::str::FromStr;

use serde::Serialize;

/// What a provider's number is.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountKind {
    /// A Kazakh phone number, +7 and ten digits.
    Phone,
    /// A provider's account number.
    Account,
}

crate::read_by_name!(AccountKind {
    Phone = "phone",
    Account = "account",
});

/// A parsed rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountRule {
    pub digits: RangeInclusive<usize>,
    pub prefixes: Vec<String>,
}

/// Why a number does not fit, in terms a cashier can act on.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AccountError {
    #[error("the number is empty")]
    Empty,
    #[error("only digits are allowed")]
    NotDigits,
    #[error("the number must have {min} to {max} digits")]
    WrongLength { min: usize, max: usize },
    #[error("this provider's numbers start with {allowed}")]
    WrongPrefix { allowed: String },
}

/// Why a rule text could not be read (a catalogue error, not the cashier's).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("bad account rule {0:?}")]
pub struct RuleError(pub String);

impl FromStr for AccountRule {
    type Err = RuleError;
    fn from_str(text: &str) -> Result<AccountRule, RuleError> {
        let bad = || RuleError(text.to_owned());
        let mut rule = AccountRule {
            digits: 1..=32,
            prefixes: Vec::new(),
        };
        for part in text.split(';').map(str::trim).filter(|p| !p.is_empty()) {
            match part.split_once('=') {
                Some(("digits", range)) => {
                    let (min, max) = range.split_once('-').unwrap_or((range, range));
                    let min: usize = min.parse().map_err(|_| bad())?;
                    let max: usize = max.parse().map_err(|_| bad())?;
                    if min == 0 || min > max {
                        return Err(bad());
                    }
                    rule.digits = min..=max;
                }
                Some(("prefixes", list)) => {
                    rule.prefixes = list
                        .split(',')
                        .map(|p| p.trim().to_owned())
                        .filter(|p| !p.is_empty())
                        .collect();
                }
                _ => return Err(bad()),
            }
        }
        Ok(rule)
    }
}

impl AccountRule {
    /// The number as it is sent: digits only, and for phones the ten national digits.
    pub fn normalize(kind: AccountKind, typed: &str) -> Result<String, AccountError> {
        let compact: String = typed
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '(' | ')'))
            .collect();
        if compact.is_empty() {
            return Err(AccountError::Empty);
        }
        let digits = match kind {
            AccountKind::Phone => {
                let national = compact.strip_prefix("+7").unwrap_or(&compact);
                // 8 and 7 are the old and new trunk prefixes of an 11-digit Kazakh number.
                match national.len() {
                    11 if national.starts_with('8') || national.starts_with('7') => {
                        national[1..].to_owned()
                    }
                    _ => national.to_owned(),
                }
            }
            AccountKind::Account => compact,
        };
        if !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(AccountError::NotDigits);
        }
        Ok(digits)
    }

    /// Checks a normalised number against the rule.
    pub fn check(&self, number: &str) -> Result<(), AccountError> {
        if number.is_empty() {
            return Err(AccountError::Empty);
        }
        if !number.bytes().all(|b| b.is_ascii_digit()) {
            return Err(AccountError::NotDigits);
        }
        if !self.digits.contains(&number.len()) {
            return Err(AccountError::WrongLength {
                min: *self.digits.start(),
                max: *self.digits.end(),
            });
        }
        if !self.prefixes.is_empty()
            && !self.prefixes.iter().any(|p| number.starts_with(p.as_str()))
        {
            return Err(AccountError::WrongPrefix {
                allowed: self.prefixes.join(", "),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_numbers_are_normalised_from_every_usual_spelling() {
        for typed in [
            "+7 701 123 45 67",
            "8 701 123 4567",
            "87011234567",
            "7011234567",
            "+7(701)123-45-67",
        ] {
            assert_eq!(
                AccountRule::normalize(AccountKind::Phone, typed).as_deref(),
                Ok("7011234567"),
                "{typed}"
            );
        }
        assert_eq!(
            AccountRule::normalize(AccountKind::Phone, "70l1234567"),
            Err(AccountError::NotDigits)
        );
        assert_eq!(
            AccountRule::normalize(AccountKind::Account, "  "),
            Err(AccountError::Empty)
        );
    }

    #[test]
    fn operator_prefixes_are_enforced() {
        let kcell: AccountRule = "digits=10;prefixes=701,702,775,778".parse().unwrap();
        assert_eq!(kcell.check("7011234567"), Ok(()));
        assert!(matches!(
            kcell.check("7051234567"),
            Err(AccountError::WrongPrefix { .. })
        ));
        assert_eq!(
            kcell.check("701123456"),
            Err(AccountError::WrongLength { min: 10, max: 10 })
        );
    }

    #[test]
    fn account_ranges() {
        let alseco: AccountRule = "digits=6-12".parse().unwrap();
        assert_eq!(alseco.check("123456"), Ok(()));
        assert_eq!(
            alseco.check("12345"),
            Err(AccountError::WrongLength { min: 6, max: 12 })
        );
        assert!("digits=0".parse::<AccountRule>().is_err());
        assert!("colour=red".parse::<AccountRule>().is_err());
    }
}

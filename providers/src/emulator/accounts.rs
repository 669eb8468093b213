//! The emulator's account database, and the rules by which it answers check and pay.

use std::collections::{BTreeMap, BTreeSet};

use crate::osmp::ResultCode;

/// Accounts are digits only, 6 to 20 of them; anything else is result 4.
const ACCOUNT_LENGTH: std::ops::RangeInclusive<usize> = 6..=20;

/// Which accounts exist and which sums they take.
#[derive(Clone, Debug, Default)]
pub struct AccountBook {
    /// Accounts that exist, with the holder's name for the check answer's `fio` field.
    pub named: BTreeMap<String, Option<String>>,
    /// Every well-formed account exists, except the missing ones.
    pub open: bool,
    /// Accounts that do not exist even when open (result 5).
    pub missing: BTreeSet<String>,
    /// Accounts that exist but are not active (result 79).
    pub inactive: BTreeSet<String>,
    /// Accounts the provider does not take payments for (result 7).
    pub forbidden: BTreeSet<String>,
    /// Smallest and largest sum taken, in tiyn (241 and 242 outside).
    pub min_sum_tiyn: i64,
    pub max_sum_tiyn: i64,
}

/// An account number given on the command line that the emulator itself would call malformed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("account {0:?} is not 6 to 20 digits, so every request for it would be answered 4")]
pub struct MalformedAccount(pub String);

impl AccountBook {
    /// Refuses a book whose listed accounts could never be reached.
    pub fn check(&self) -> Result<(), MalformedAccount> {
        let listed = self
            .named
            .keys()
            .chain(&self.missing)
            .chain(&self.inactive)
            .chain(&self.forbidden);
        match listed.into_iter().find(|account| !well_formed(account)) {
            Some(account) => Err(MalformedAccount(account.clone())),
            None => Ok(()),
        }
    }

    /// May this account be paid this sum? `Ok` carries the holder's name, if known. The order
    /// of the rules is a provider's: format, existence, state, then the sum.
    pub fn judge(&self, account: &str, sum_tiyn: i64) -> Result<Option<&str>, ResultCode> {
        if !well_formed(account) {
            return Err(ResultCode::BadAccountFormat);
        }
        let named = self.named.get(account);
        // Inactive and forbidden accounts exist: the provider knows them to refuse them.
        let exists = named.is_some()
            || self.inactive.contains(account)
            || self.forbidden.contains(account)
            || (self.open && !self.missing.contains(account));
        if !exists || self.missing.contains(account) {
            return Err(ResultCode::AccountNotFound);
        }
        if self.inactive.contains(account) {
            return Err(ResultCode::AccountInactive);
        }
        if self.forbidden.contains(account) {
            return Err(ResultCode::PaymentForbidden);
        }
        if sum_tiyn < self.min_sum_tiyn {
            return Err(ResultCode::AmountTooSmall);
        }
        if sum_tiyn > self.max_sum_tiyn {
            return Err(ResultCode::AmountTooLarge);
        }
        Ok(named.and_then(|name| name.as_deref()))
    }
}

fn well_formed(account: &str) -> bool {
    ACCOUNT_LENGTH.contains(&account.len()) && account.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn book() -> AccountBook {
        AccountBook {
            named: [("7011111111".to_string(), Some("Иванов И.".to_string()))].into(),
            inactive: ["7022222222".to_string()].into(),
            forbidden: ["7033333333".to_string()].into(),
            missing: ["7044444444".to_string()].into(),
            min_sum_tiyn: 100,
            max_sum_tiyn: 500_000_00,
            ..AccountBook::default()
        }
    }

    #[test]
    fn answers_by_the_rules() {
        let mut book = book();
        assert_eq!(book.judge("7011111111", 100), Ok(Some("Иванов И.")));
        assert_eq!(book.judge("70111", 100), Err(ResultCode::BadAccountFormat));
        assert_eq!(
            book.judge("70111111x1", 100),
            Err(ResultCode::BadAccountFormat)
        );
        assert_eq!(
            book.judge("7055555555", 100),
            Err(ResultCode::AccountNotFound)
        );
        assert_eq!(
            book.judge("7022222222", 100),
            Err(ResultCode::AccountInactive)
        );
        assert_eq!(
            book.judge("7033333333", 100),
            Err(ResultCode::PaymentForbidden)
        );
        assert_eq!(
            book.judge("7011111111", 99),
            Err(ResultCode::AmountTooSmall)
        );
        assert_eq!(
            book.judge("7011111111", 500_000_01),
            Err(ResultCode::AmountTooLarge)
        );
        book.open = true;
        assert_eq!(book.judge("7055555555", 100), Ok(None));
        assert_eq!(
            book.judge("7044444444", 100),
            Err(ResultCode::AccountNotFound)
        );
    }

    #[test]
    fn refuses_malformed_listed_accounts() {
        let mut book = book();
        assert!(book.check().is_ok());
        book.inactive.insert("12ab".into());
        assert_eq!(book.check(), Err(MalformedAccount("12ab".into())));
    }
}

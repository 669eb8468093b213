//! What the cashier is told when something fails, in the interface language: one place that
//! turns every error of the app into words a cashier can act on. Result codes bring their own
//! words from the protocol, so the gateway, the console and the app all say the same thing.

use std::time::Duration;

use tolem_outbox::letters::LetterSignError;
use tolem_outbox::limits::LimitError;
use tolem_outbox::shifts::ShiftError;
use tolem_outbox::store::StoreError;
use tolem_protocol::account::AccountError;
use tolem_protocol::commission::CommissionError;

use crate::api::ApiError;
use crate::crypto::CryptoError;
use crate::format::local_date_time;
use crate::i18n::*;
use crate::language::protocol_lang;
use crate::money::{AmountError, format_tenge};
use crate::pages::commission::CommissionProblem;
use crate::pages::pay::form::AmountProblem;
use crate::payments::{SendError, SignError};
use crate::session::SignedStepError;
use crate::storage::StorageError;
use crate::storage::keystore::{KeyStoreError, PassphraseError, UnlockError};

/// An error the cashier is shown.
pub trait Explain {
    /// The message in `locale`.
    fn explain(&self, locale: Locale) -> String;
}

/// Fills the `{n}` placeholder of a catalogue text (the catalogue's texts are plain strings).
pub fn with_number(text: &str, n: u64) -> String {
    text.replace("{n}", &n.to_string())
}

/// Fills the `{name}` placeholder of a catalogue text.
pub fn with_value(text: &str, name: &str, value: &str) -> String {
    text.replace(&format!("{{{name}}}"), value)
}

/// Whole seconds, rounded up, so a countdown never shows 0 while it still waits.
pub fn seconds(wait: Duration) -> u64 {
    wait.as_millis().div_ceil(1000) as u64
}

impl Explain for ApiError {
    fn explain(&self, locale: Locale) -> String {
        match self {
            ApiError::Offline => td_string!(locale, error_offline).to_owned(),
            ApiError::Unclear(_) => td_string!(locale, error_unclear).to_owned(),
            ApiError::Rejected(code, retry_after) => {
                let mut text = code.message(protocol_lang(locale)).to_owned();
                if let Some(wait) = retry_after {
                    text.push(' ');
                    text.push_str(&with_number(
                        td_string!(locale, error_retry_after),
                        seconds(*wait),
                    ));
                }
                text
            }
        }
    }
}

impl Explain for StorageError {
    fn explain(&self, locale: Locale) -> String {
        match self {
            StorageError::Full(_) => td_string!(locale, error_storage_full),
            _ => td_string!(locale, error_storage),
        }
        .to_owned()
    }
}

impl Explain for StoreError {
    fn explain(&self, locale: Locale) -> String {
        match self {
            StoreError::Full => td_string!(locale, error_storage_full).to_owned(),
            StoreError::Exists => td_string!(locale, error_payment_exists).to_owned(),
            StoreError::NotFound => td_string!(locale, payment_not_found).to_owned(),
            StoreError::SequenceTaken => td_string!(locale, error_payment_numbered).to_owned(),
            StoreError::Storage(error) => error.explain(locale),
        }
    }
}

impl Explain for AccountError {
    fn explain(&self, locale: Locale) -> String {
        match self {
            AccountError::Empty => td_string!(locale, account_empty).to_owned(),
            AccountError::NotDigits => td_string!(locale, account_not_digits).to_owned(),
            AccountError::WrongLength { min, max } if min == max => with_value(
                td_string!(locale, account_length_exact),
                "n",
                &min.to_string(),
            ),
            AccountError::WrongLength { min, max } => with_value(
                &with_value(td_string!(locale, account_length), "min", &min.to_string()),
                "max",
                &max.to_string(),
            ),
            AccountError::WrongPrefix { allowed } => {
                with_value(td_string!(locale, account_prefix), "prefixes", allowed)
            }
        }
    }
}

impl Explain for AmountError {
    fn explain(&self, locale: Locale) -> String {
        match self {
            AmountError::Empty => td_string!(locale, amount_empty),
            AmountError::NotANumber => td_string!(locale, amount_not_a_number),
            AmountError::TooManyDecimals => td_string!(locale, amount_decimals),
            AmountError::TooLarge => td_string!(locale, amount_too_large),
        }
        .to_owned()
    }
}

impl Explain for AmountProblem {
    fn explain(&self, locale: Locale) -> String {
        match self {
            AmountProblem::Unreadable(error) => error.explain(locale),
            AmountProblem::Zero => td_string!(locale, amount_zero).to_owned(),
            AmountProblem::OutOfRange { min, max } => with_value(
                &with_value(
                    td_string!(locale, amount_out_of_range),
                    "min",
                    &format_tenge(*min, locale),
                ),
                "max",
                &format_tenge(*max, locale),
            ),
        }
    }
}

impl Explain for CommissionProblem {
    fn explain(&self, locale: Locale) -> String {
        match self {
            CommissionProblem::Unreadable(error) => error.explain(locale),
            CommissionProblem::Rule(error) => match error {
                CommissionError::PercentOutOfRange => td_string!(locale, commission_percent_range),
                CommissionError::Negative => td_string!(locale, commission_negative),
                CommissionError::MinimumBelowRate => td_string!(locale, commission_minimum_below),
                CommissionError::MaximumAboveRate => td_string!(locale, commission_maximum_above),
                CommissionError::ThresholdsCrossed => td_string!(locale, commission_thresholds),
            }
            .to_owned(),
        }
    }
}

impl Explain for SignError {
    fn explain(&self, locale: Locale) -> String {
        match self {
            SignError::NoKey => td_string!(locale, error_no_key),
            SignError::Locked => td_string!(locale, error_locked),
            SignError::Invalid(_) => td_string!(locale, error_payment_invalid),
        }
        .to_owned()
    }
}

// The shift's and the letter's signing errors carry the protocol's English reason (for logs):
// the cashier reads what to do in the interface language instead.
impl Explain for ShiftError {
    fn explain(&self, locale: Locale) -> String {
        match self {
            ShiftError::NotOpen => td_string!(locale, shift_none_open).to_owned(),
            ShiftError::Invalid(_) => td_string!(locale, shift_report_invalid).to_owned(),
            ShiftError::Store(error) => error.explain(locale),
        }
    }
}

impl Explain for LetterSignError {
    fn explain(&self, locale: Locale) -> String {
        match self {
            LetterSignError::Letter(error) => {
                error.code().message(protocol_lang(locale)).to_owned()
            }
            LetterSignError::Invalid(_) => td_string!(locale, message_invalid).to_owned(),
        }
    }
}

impl Explain for SendError {
    fn explain(&self, locale: Locale) -> String {
        match self {
            SendError::Store(error) => error.explain(locale),
            SendError::Key(error) => error.explain(locale),
        }
    }
}

impl Explain for CryptoError {
    fn explain(&self, locale: Locale) -> String {
        match self {
            CryptoError::WrongPassphrase => td_string!(locale, unlock_wrong),
            CryptoError::Unavailable(_) => td_string!(locale, error_crypto_unavailable),
            CryptoError::Damaged(_) => td_string!(locale, error_key_damaged),
        }
        .to_owned()
    }
}

impl Explain for KeyStoreError {
    fn explain(&self, locale: Locale) -> String {
        match self {
            KeyStoreError::KeyExists => td_string!(locale, error_key_exists).to_owned(),
            KeyStoreError::NoKey => td_string!(locale, error_no_key).to_owned(),
            KeyStoreError::Crypto(error) => error.explain(locale),
            KeyStoreError::Storage(error) => error.explain(locale),
        }
    }
}

impl Explain for PassphraseError {
    fn explain(&self, locale: Locale) -> String {
        match self {
            PassphraseError::TooShort => td_string!(locale, passphrase_too_short),
            PassphraseError::Mismatch => td_string!(locale, passphrase_mismatch),
        }
        .to_owned()
    }
}

impl Explain for UnlockError {
    fn explain(&self, locale: Locale) -> String {
        match self {
            UnlockError::WrongPassphrase { .. } => td_string!(locale, unlock_wrong).to_owned(),
            UnlockError::TooSoon { wait } => {
                with_number(td_string!(locale, unlock_wait), seconds(*wait))
            }
            UnlockError::KeyStore(error) => error.explain(locale),
        }
    }
}

impl Explain for SignedStepError {
    fn explain(&self, locale: Locale) -> String {
        match self {
            SignedStepError::Locked => td_string!(locale, error_locked).to_owned(),
            SignedStepError::NoKey => td_string!(locale, error_no_key).to_owned(),
            SignedStepError::Api(error) => error.explain(locale),
        }
    }
}

impl Explain for LimitError {
    fn explain(&self, locale: Locale) -> String {
        match self {
            LimitError::PaymentTooLarge { max_tiyn } => with_value(
                td_string!(locale, limit_payment_too_large),
                "amount",
                &format_tenge(*max_tiyn, locale),
            ),
            LimitError::TotalTooLarge {
                max_tiyn,
                room_tiyn,
            } => with_value(
                &with_value(
                    td_string!(locale, limit_total_too_large),
                    "max",
                    &format_tenge(*max_tiyn, locale),
                ),
                "room",
                &format_tenge(*room_tiyn, locale),
            ),
            LimitError::Overdue { deadline_ms } => with_value(
                td_string!(locale, limit_overdue),
                "time",
                &local_date_time(*deadline_ms, locale),
            ),
        }
    }
}

/// A span of time as hours and minutes (rounded up to the minute), for countdowns.
pub fn hours_minutes(ms: i64, locale: Locale) -> String {
    let minutes = (ms.max(0) as u64).div_ceil(60_000);
    with_value(
        &with_value(
            td_string!(locale, duration_hm),
            "h",
            &(minutes / 60).to_string(),
        ),
        "m",
        &(minutes % 60).to_string(),
    )
}

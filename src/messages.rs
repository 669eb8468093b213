//! What the cashier is told when something fails, in the interface language: one place that
//! turns every error of the app into words a cashier can act on. Result codes bring their own
//! words from the protocol, so the gateway, the console and the app all say the same thing.

use std::time::Duration;

use crate::api::ApiError;
use crate::crypto::CryptoError;
use crate::i18n::*;
use crate::language::protocol_lang;
use crate::session::SignedStepError;
use crate::storage::StorageError;
use crate::storage::keystore::{KeyStoreError, PassphraseError, UnlockError};

/// An error the cashier is shown.
pub trait Explain {
    /// The message in `locale`.
    fn explain(&self, locale: Locale) -> String;
}

/// Fills the `{n}` placeholder of a catalogue text. (The deprecated `load_locales!` macro the app
/// uses generates no `Display` for interpolated keys, so numbers are put in here.)
pub fn with_number(text: &str, n: u64) -> String {
    text.replace("{n}", &n.to_string())
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
        td_string!(locale, error_storage).to_owned()
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

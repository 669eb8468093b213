//! The point key on this phone: one record in the `keys` store, its seed sealed under the
//! cashier's passphrase. The plaintext seed is never written anywhere.
//!
//! Unlocking is slowed down after repeated failures, and the count survives a reload, so closing
//! the app does not reset the wait. Each attempt is counted before its passphrase is tried, so
//! attempts made at once (several tabs, a script) cannot all slip past the wait. (The real
//! protection is PBKDF2's cost per guess; the wait only stops someone at the counter from trying
//! passphrases by hand.)

use std::time::Duration;

use serde::{Deserialize, Serialize};
use tolem_protocol::keys::{PublicKey, SecretKey};
use tolem_protocol::messages::{DealerDetails, KeyCard, KeyState, OfflineLimits};
use wasm_bindgen::JsValue;
use zeroize::{Zeroize, Zeroizing};

use crate::crypto::{self, CryptoError, SealedSeed};
use crate::storage::db::{self, KEYS, SETTINGS, StorageError};

/// The shortest passphrase accepted (the manual's rule: at least 6 characters).
pub const PASSPHRASE_MIN_CHARS: usize = 6;
/// Failed unlocks allowed before each further try has to wait.
pub const FREE_UNLOCK_FAILURES: u32 = 2;
/// The wait after the first failure beyond the free ones; it doubles with each failure after.
pub const FIRST_UNLOCK_WAIT: Duration = Duration::from_secs(5);
/// The longest wait between tries.
pub const MAX_UNLOCK_WAIT: Duration = Duration::from_secs(300);

/// Where failed unlocks are counted, in the `settings` store.
const UNLOCK_FAILURES: &str = "unlock_failures";

/// The point key as stored: the card it was made for, its public half, where it stands with the
/// gateway, and its seed sealed under the passphrase.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRecord {
    /// The serial the key is registered under (the record's key in the store).
    pub key_serial: String,
    pub card: KeyCard,
    pub public_key: PublicKey,
    /// Where the key stands with the gateway; `None` until the gateway accepted its registration.
    pub state: Option<KeyState>,
    /// When the key was made (UTC milliseconds); also the registration's creation time, so a
    /// repeated registration sends the very same bytes.
    pub created_at_ms: i64,
    pub sealed: SealedSeed,
}

/// Why the key store could not do what was asked.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeyStoreError {
    /// A new key would replace one this phone already has; delete that one first.
    #[error("this phone already has a point key")]
    KeyExists,
    /// There is no key on this phone.
    #[error("there is no point key on this phone")]
    NoKey,
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// Why the passphrase typed for a new key was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PassphraseError {
    #[error("the passphrase is shorter than {PASSPHRASE_MIN_CHARS} characters")]
    TooShort,
    #[error("the two passphrases differ")]
    Mismatch,
}

/// Why the key could not be unlocked.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UnlockError {
    /// Not the passphrase the key was sealed with. `wait` is how long the next try must wait.
    #[error("wrong passphrase (failure {failures})")]
    WrongPassphrase {
        failures: u32,
        wait: Option<Duration>,
    },
    /// Too soon after repeated failures; try again after `wait`.
    #[error("too many failures: wait {wait:?}")]
    TooSoon { wait: Duration },
    #[error(transparent)]
    KeyStore(#[from] KeyStoreError),
}

impl From<idb::Error> for KeyStoreError {
    fn from(error: idb::Error) -> Self {
        KeyStoreError::Storage(error.into())
    }
}

impl From<idb::Error> for UnlockError {
    fn from(error: idb::Error) -> Self {
        UnlockError::KeyStore(error.into())
    }
}

impl From<StorageError> for UnlockError {
    fn from(error: StorageError) -> Self {
        UnlockError::KeyStore(error.into())
    }
}

/// Checks a new passphrase and its repetition: each field gets its own answer, so the form can
/// say what is wrong next to the field that is wrong.
pub fn check_passphrase(
    passphrase: &str,
    repeated: &str,
) -> (Result<(), PassphraseError>, Result<(), PassphraseError>) {
    let first = if passphrase.chars().count() < PASSPHRASE_MIN_CHARS {
        Err(PassphraseError::TooShort)
    } else {
        Ok(())
    };
    let second = if repeated != passphrase {
        Err(PassphraseError::Mismatch)
    } else {
        Ok(())
    };
    (first, second)
}

/// Makes a new point key for `card`: a seed from the browser's random source, sealed under
/// `passphrase` and stored. Returns the record and the key itself, unlocked, so the caller can
/// register it at once without asking for the passphrase again.
pub async fn create(
    card: &KeyCard,
    passphrase: &str,
) -> Result<(KeyRecord, SecretKey), KeyStoreError> {
    if load().await?.is_some() {
        return Err(KeyStoreError::KeyExists);
    }
    let mut seed: [u8; 32] = crypto::random_bytes()?;
    let key = SecretKey::from_seed(&seed);
    let sealed = crypto::seal(&seed, passphrase, card.key_serial.as_bytes()).await;
    seed.zeroize();
    let record = KeyRecord {
        key_serial: card.key_serial.clone(),
        card: card.clone(),
        public_key: key.public_key(),
        state: None,
        created_at_ms: js_sys::Date::now() as i64,
        sealed: sealed?,
    };
    save(&record).await?;
    // A failed unlock count left from a deleted key must not slow down the new one.
    write_failures(&UnlockFailures::default()).await?;
    db::ask_for_persistent_storage();
    // From now on payments may wait on this phone: watch for the storage being cleared.
    crate::canary::plant(&record.key_serial).await;
    Ok((record, key))
}

/// The key record on this phone, if there is one.
pub async fn load() -> Result<Option<KeyRecord>, KeyStoreError> {
    // One record at most: `create` refuses a second key, `delete` clears the store.
    let values = db::read_all(KEYS).await?;
    values.first().map(from_js).transpose()
}

/// Records where the key stands with the gateway.
pub async fn set_state(state: Option<KeyState>) -> Result<KeyRecord, KeyStoreError> {
    let mut record = load().await?.ok_or(KeyStoreError::NoKey)?;
    record.state = state;
    save(&record).await?;
    Ok(record)
}

/// Replaces the offline limits on the stored key card with the ones the gateway's signed
/// balance answer carried (the dealer changed them); the outbox and the service worker read the
/// card from this same record.
pub async fn set_offline_limits(limits: OfflineLimits) -> Result<KeyRecord, KeyStoreError> {
    let mut record = load().await?.ok_or(KeyStoreError::NoKey)?;
    record.card.offline = limits;
    save(&record).await?;
    Ok(record)
}

/// Replaces the dealer's legal details on the stored key card with the ones the gateway's
/// signed balance answer carried: a phone enrolled before key cards carried them learns them,
/// and an operator's correction reaches the receipts.
pub async fn set_dealer_details(details: DealerDetails) -> Result<KeyRecord, KeyStoreError> {
    let mut record = load().await?.ok_or(KeyStoreError::NoKey)?;
    record.card.dealer_details = Some(details);
    save(&record).await?;
    Ok(record)
}

/// Opens the stored key with `passphrase`, unless repeated failures ask for a wait first.
pub async fn unlock(passphrase: &str) -> Result<SecretKey, UnlockError> {
    let (_, seed) = open_seed(passphrase).await?;
    Ok(SecretKey::from_seed(&seed))
}

/// Seals the key's seed again under `new` once `old` opens it (the cashier changes the
/// passphrase, issue 16). `old` is checked exactly as an unlock is — the same count of failures
/// and the same waits — so this is no side door for guessing. The key itself is unchanged: its
/// card, registration and certification stand.
pub async fn change_passphrase(old: &str, new: &str) -> Result<KeyRecord, UnlockError> {
    let (mut record, seed) = open_seed(old).await?;
    record.sealed = crypto::seal(&seed, new, record.key_serial.as_bytes())
        .await
        .map_err(KeyStoreError::from)?;
    save(&record).await?;
    Ok(record)
}

/// The stored record and its seed opened with `passphrase`; failures are counted.
async fn open_seed(passphrase: &str) -> Result<(KeyRecord, Zeroizing<[u8; 32]>), UnlockError> {
    let record = load().await?.ok_or(KeyStoreError::NoKey)?;
    // A damaged record is no guess: refused before it is counted, and before PBKDF2 could run
    // with whatever iteration count it names.
    crypto::check(&record.sealed).map_err(KeyStoreError::from)?;
    let failures = count_attempt().await?;
    match crypto::open(&record.sealed, passphrase, record.key_serial.as_bytes()).await {
        Ok(seed) => {
            if SecretKey::from_seed(&seed).public_key() != record.public_key {
                // Cannot happen with an intact record: GCM already authenticated the seed.
                return Err(KeyStoreError::Crypto(CryptoError::Damaged(
                    "the seed does not match the public key".into(),
                ))
                .into());
            }
            write_failures(&UnlockFailures::default()).await?;
            Ok((record, seed))
        }
        // Counted already, as a failure, before the passphrase was tried.
        Err(CryptoError::WrongPassphrase) => Err(UnlockError::WrongPassphrase {
            failures,
            wait: wait_after(failures),
        }),
        Err(other) => Err(KeyStoreError::Crypto(other).into()),
    }
}

/// Counts an unlock attempt as a failure before its passphrase is tried (a success clears the
/// count), unless the wait after earlier failures still runs. The check and the count are one
/// read-write transaction, and the browser runs those one after another on the same store, in
/// every tab: attempts started together each find the ones before them counted, and wait as
/// they would one by one. Were it counted after PBKDF2 (a second or more later), every one of
/// them would pass the check and guess in parallel. Returns the count with this attempt.
async fn count_attempt() -> Result<u32, UnlockError> {
    let database = db::open().await?;
    let transaction = database.transaction(&[SETTINGS], idb::TransactionMode::ReadWrite)?;
    let store = transaction.object_store(SETTINGS)?;
    let name = JsValue::from_str(UNLOCK_FAILURES);
    let before = failures_in(store.get(name.clone())?.await?);
    if let Some(wait) = wait_left(&before) {
        // Nothing written: an attempt turned away guessed nothing.
        return Err(UnlockError::TooSoon { wait });
    }
    let failures = UnlockFailures {
        count: before.count.saturating_add(1),
        last_ms: js_sys::Date::now(),
    };
    store.put(&to_js(&failures)?, Some(&name))?.await?;
    db::finish(transaction).await?;
    Ok(failures.count)
}

/// How long the next unlock attempt must still wait, if at all (it survives reloads).
pub async fn unlock_wait() -> Result<Option<Duration>, StorageError> {
    Ok(wait_left(&read_failures().await?))
}

/// What is left of the wait after `failures`, if anything.
fn wait_left(failures: &UnlockFailures) -> Option<Duration> {
    let wait = wait_after(failures.count)?;
    let elapsed_ms = (js_sys::Date::now() - failures.last_ms).max(0.0);
    let remaining_ms = wait.as_millis() as f64 - elapsed_ms;
    (remaining_ms > 0.0).then(|| Duration::from_millis(remaining_ms.ceil() as u64))
}

/// The wait imposed after `failures` failed unlocks in a row: none for the first two, then
/// 5 s, 10 s, 20 s … up to 5 minutes.
pub fn wait_after(failures: u32) -> Option<Duration> {
    let beyond = failures.checked_sub(FREE_UNLOCK_FAILURES + 1)?;
    let factor = 1u32.checked_shl(beyond.min(16)).unwrap_or(u32::MAX);
    Some(
        FIRST_UNLOCK_WAIT
            .checked_mul(factor)
            .unwrap_or(MAX_UNLOCK_WAIT)
            .min(MAX_UNLOCK_WAIT),
    )
}

/// Removes the key from this phone (and the count of failed unlocks with it).
pub async fn delete() -> Result<(), KeyStoreError> {
    let db = db::open().await?;
    let transaction = db.transaction(&[KEYS], idb::TransactionMode::ReadWrite)?;
    transaction.object_store(KEYS)?.clear()?.await?;
    db::finish(transaction).await?;
    write_failures(&UnlockFailures::default()).await?;
    // Deleted on purpose: a later empty storage is no loss.
    crate::canary::forget().await;
    Ok(())
}

async fn save(record: &KeyRecord) -> Result<(), KeyStoreError> {
    db::write_one(KEYS, to_js(record)?, None).await?;
    Ok(())
}

/// Failed unlocks in a row and when the last one was.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
struct UnlockFailures {
    count: u32,
    last_ms: f64,
}

async fn read_failures() -> Result<UnlockFailures, StorageError> {
    Ok(failures_in(db::read_setting(UNLOCK_FAILURES).await?))
}

/// The stored count as read; none, or one in a shape this version does not know, is no failures.
fn failures_in(value: Option<JsValue>) -> UnlockFailures {
    value
        .and_then(|value| from_js(&value).ok())
        .unwrap_or_default()
}

async fn write_failures(failures: &UnlockFailures) -> Result<(), StorageError> {
    db::write_setting(UNLOCK_FAILURES, &to_js(failures)?).await
}

/// A record as a plain object (through JSON, which the app already carries for the protocol).
fn to_js<T: Serialize>(value: &T) -> Result<JsValue, StorageError> {
    let text = serde_json::to_string(value).map_err(|e| StorageError::Failed(e.to_string()))?;
    js_sys::JSON::parse(&text).map_err(|_| StorageError::Failed("not JSON".into()))
}

fn from_js<T: serde::de::DeserializeOwned>(value: &JsValue) -> Result<T, KeyStoreError> {
    let text = js_sys::JSON::stringify(value)
        .ok()
        .and_then(|s| s.as_string())
        .unwrap_or_default();
    serde_json::from_str(&text)
        .map_err(|e| KeyStoreError::Crypto(CryptoError::Damaged(e.to_string())))
}

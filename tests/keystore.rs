//! Guards the point key on the phone, in a real browser with real IndexedDB and WebCrypto: a key
//! is made, stored and read back; nothing in the browser's storage holds its seed in any form; a
//! wrong passphrase is refused and the right one unlocks the same key; repeated failures impose a
//! wait that survives a reload, and unlocks started together cannot slip past it; a record whose
//! iteration count is out of bounds is refused at once, not derived for ever; locking (by hand
//! or when idle) wipes the key; deleting removes it.
#![cfg(target_arch = "wasm32")]

mod support;

use std::cell::RefCell;
use std::future::Future;
use std::rc::Rc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use support::card::sample_card;
use support::{
    find, forget_key, gloo_timers_sleep, start_in_russian_at, tap, text_of, type_into, wait_for,
};
use tolem::crypto::{self, CryptoError, KDF_ITERATIONS, MAX_KDF_ITERATIONS, MIN_KDF_ITERATIONS};
use tolem::session::KeySession;
use tolem::storage::db;
use tolem::storage::keystore::{self, KeyStoreError, PassphraseError, UnlockError};
use tolem_protocol::messages::KeyCard;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

const PASSPHRASE: &str = "сәлем-101";

fn card() -> KeyCard {
    sample_card()
}

/// Starts `future` at once, beside whatever else runs (as another tab would).
fn started<T: 'static>(future: impl Future<Output = T> + 'static) -> Rc<RefCell<Option<T>>> {
    let slot = Rc::new(RefCell::new(None));
    let filled = slot.clone();
    wasm_bindgen_futures::spawn_local(async move {
        let value = future.await;
        *filled.borrow_mut() = Some(value);
    });
    slot
}

/// What a [`started`] future gave, or `None` if it was still running after `limit`.
async fn within<T>(limit: Duration, slot: &Rc<RefCell<Option<T>>>) -> Option<T> {
    let steps = limit.as_millis() / 50;
    for _ in 0..steps {
        if let Some(value) = slot.borrow_mut().take() {
            return Some(value);
        }
        gloo_timers_sleep(Duration::from_millis(50)).await;
    }
    slot.borrow_mut().take()
}

/// The count of failed unlocks as stored in IndexedDB.
async fn stored_failures() -> Option<f64> {
    let stored = db::read_setting("unlock_failures").await.unwrap()?;
    js_sys::Reflect::get(&stored, &"count".into())
        .unwrap()
        .as_f64()
}

/// Every record of every store of the app's database, read directly (not through the key store).
async fn raw_records() -> Vec<(String, JsValue)> {
    let database = idb::Factory::new()
        .unwrap()
        .open(db::DB_NAME, None)
        .unwrap()
        .await
        .unwrap();
    let mut records = Vec::new();
    for store in database.store_names() {
        let transaction = database
            .transaction(&[&store], idb::TransactionMode::ReadOnly)
            .unwrap();
        let values = transaction
            .object_store(&store)
            .unwrap()
            .get_all(None, None)
            .unwrap()
            .await
            .unwrap();
        records.extend(values.into_iter().map(|value| (store.clone(), value)));
    }
    database.close();
    records
}

/// A record as text: JSON for its fields, plus any binary values (at any depth) byte for byte as
/// Latin-1, so a seed stored as bytes is found as surely as one stored as text.
fn record_text(value: &JsValue) -> String {
    fn binary_parts(value: &JsValue, text: &mut String) {
        if value.is_instance_of::<js_sys::ArrayBuffer>() || js_sys::ArrayBuffer::is_view(value) {
            let bytes = js_sys::Uint8Array::new(value).to_vec();
            text.extend(bytes.iter().map(|b| char::from(*b)));
        } else if value.is_object() {
            for field in js_sys::Object::values::<JsValue>(value.unchecked_ref()).iter() {
                binary_parts(&field, text);
            }
        }
    }
    let mut text = js_sys::JSON::stringify(value)
        .ok()
        .and_then(|s| s.as_string())
        .unwrap_or_default();
    binary_parts(value, &mut text);
    text
}

/// The ways a 32-byte seed could be written down.
fn written_forms(seed: &[u8; 32]) -> Vec<String> {
    let hex: String = seed.iter().map(|b| format!("{b:02x}")).collect();
    vec![
        hex.clone(),
        hex.to_uppercase(),
        STANDARD.encode(seed),
        STANDARD_NO_PAD.encode(seed),
        URL_SAFE.encode(seed),
        URL_SAFE_NO_PAD.encode(seed),
        seed.iter()
            .map(|b| b.to_string())
            .collect::<Vec<_>>()
            .join(","),
        seed.iter().map(|b| char::from(*b)).collect(),
    ]
}

#[wasm_bindgen_test]
async fn a_new_key_is_stored_and_reads_back() {
    forget_key().await;
    let card = card();
    let (record, key) = keystore::create(&card, PASSPHRASE).await.unwrap();

    assert_eq!(record.public_key, key.public_key());
    assert_eq!(record.key_serial, card.key_serial);
    assert_eq!(record.state, None, "not registered yet");
    assert_eq!(record.sealed.kdf, "PBKDF2-SHA256");
    assert_eq!(record.sealed.iterations, KDF_ITERATIONS);
    assert!(
        record.sealed.iterations >= 600_000,
        "the issue's minimum for PBKDF2-SHA256"
    );
    assert_eq!(record.sealed.cipher, "AES-256-GCM");
    assert_eq!(keystore::load().await.unwrap(), Some(record));
}

#[wasm_bindgen_test]
async fn a_second_key_does_not_replace_the_first() {
    forget_key().await;
    let (first, _) = keystore::create(&card(), PASSPHRASE).await.unwrap();
    assert_eq!(
        keystore::create(&card(), "another passphrase").await.err(),
        Some(KeyStoreError::KeyExists)
    );
    assert_eq!(keystore::load().await.unwrap(), Some(first));
}

#[wasm_bindgen_test]
async fn no_stored_record_holds_the_seed_in_any_form() {
    forget_key().await;
    let (record, key) = keystore::create(&card(), PASSPHRASE).await.unwrap();
    let seed = key.seed();

    let records = raw_records().await;
    assert!(
        records.iter().any(|(store, _)| store == db::KEYS),
        "the key record should be in the database"
    );
    for (store, value) in &records {
        let text = record_text(value);
        for form in written_forms(&seed) {
            assert!(
                !text.contains(&form),
                "store {store} holds the seed as {form:?}: {text}"
            );
        }
    }
    // Nor anything the app keeps in localStorage.
    let local = leptos::prelude::window().local_storage().unwrap().unwrap();
    for i in 0..local.length().unwrap() {
        let name = local.key(i).unwrap().unwrap();
        let value = local.get_item(&name).unwrap().unwrap_or_default();
        for form in written_forms(&seed) {
            assert!(!value.contains(&form), "localStorage {name} holds the seed");
        }
    }
    // The ciphertext is the seed encrypted (32 bytes plus GCM's 16-byte tag), not the seed.
    let ciphertext = &record.sealed.ciphertext.0;
    assert_eq!(ciphertext.len(), 48);
    assert_ne!(&ciphertext[..32], &seed[..]);
    assert_eq!(record.sealed.iv.0.len(), 12);
    assert_eq!(record.sealed.salt.0.len(), 16);
}

#[wasm_bindgen_test]
async fn a_wrong_passphrase_is_refused_and_the_right_one_unlocks_the_same_key() {
    forget_key().await;
    let (record, _) = keystore::create(&card(), PASSPHRASE).await.unwrap();

    assert_eq!(
        keystore::unlock("сәлем-102").await.err(),
        Some(UnlockError::WrongPassphrase {
            failures: 1,
            wait: None
        })
    );
    let key = keystore::unlock(PASSPHRASE).await.unwrap();
    assert_eq!(key.public_key(), record.public_key);
}

/// Issue 16: the passphrase changes only for who knows the old one (a wrong one counts as a
/// failed unlock and changes nothing); afterwards the same key opens with the new passphrase
/// only, and the seed is sealed anew (fresh salt), never stored open on the way.
#[wasm_bindgen_test]
async fn the_passphrase_changes_for_who_knows_the_old_one_and_the_key_stays() {
    forget_key().await;
    let (record, _) = keystore::create(&card(), PASSPHRASE).await.unwrap();
    const NEW: &str = "жаңа-фраза-202";

    assert!(matches!(
        keystore::change_passphrase("not-it-at-all", NEW).await,
        Err(UnlockError::WrongPassphrase { failures: 1, .. })
    ));
    assert_eq!(keystore::load().await.unwrap().unwrap(), record);

    let changed = keystore::change_passphrase(PASSPHRASE, NEW).await.unwrap();
    assert_eq!(changed.public_key, record.public_key);
    assert_eq!(changed.card, record.card);
    assert_ne!(changed.sealed.salt, record.sealed.salt);
    assert!(matches!(
        keystore::unlock(PASSPHRASE).await,
        Err(UnlockError::WrongPassphrase { .. })
    ));
    let key = keystore::unlock(NEW).await.unwrap();
    assert_eq!(key.public_key(), record.public_key);
    assert_eq!(
        keystore::load().await.unwrap().unwrap(),
        changed,
        "what was stored is what was returned"
    );
}

#[wasm_bindgen_test]
async fn repeated_failures_impose_a_growing_wait_that_survives_a_reload() {
    forget_key().await;
    keystore::create(&card(), PASSPHRASE).await.unwrap();

    for failures in 1..=2 {
        assert_eq!(
            keystore::unlock("guess").await.err(),
            Some(UnlockError::WrongPassphrase {
                failures,
                wait: None
            })
        );
    }
    assert_eq!(
        keystore::unlock("guess").await.err(),
        Some(UnlockError::WrongPassphrase {
            failures: 3,
            wait: Some(Duration::from_secs(5))
        })
    );
    // Even the right passphrase has to wait now.
    match keystore::unlock(PASSPHRASE).await {
        Err(UnlockError::TooSoon { wait }) => assert!(wait <= Duration::from_secs(5)),
        other => panic!("expected a wait, got {other:?}"),
    }
    // The count is in IndexedDB, not in memory: a reloaded app reads the same wait.
    let stored = db::read_setting("unlock_failures").await.unwrap().unwrap();
    assert_eq!(
        js_sys::Reflect::get(&stored, &"count".into())
            .unwrap()
            .as_f64(),
        Some(3.0)
    );
    assert!(keystore::unlock_wait().await.unwrap().is_some());

    // The waits grow and are capped.
    assert_eq!(keystore::wait_after(2), None);
    assert_eq!(keystore::wait_after(4), Some(Duration::from_secs(10)));
    assert_eq!(keystore::wait_after(5), Some(Duration::from_secs(20)));
    assert_eq!(keystore::wait_after(40), Some(Duration::from_secs(300)));

    // After the wait the right passphrase works, and the count starts again.
    gloo_timers_sleep(Duration::from_millis(5_100)).await;
    keystore::unlock(PASSPHRASE).await.unwrap();
    assert_eq!(keystore::unlock_wait().await.unwrap(), None);
    assert_eq!(
        keystore::unlock("guess").await.err(),
        Some(UnlockError::WrongPassphrase {
            failures: 1,
            wait: None
        })
    );
}

/// Unlocks started together (two tabs, or a script opening many) are each counted before their
/// passphrase is tried: the count cannot be lost between them, and once a wait is due the one
/// that comes second finds it due and waits without a guess — it does not try its passphrase
/// in parallel with the first.
#[wasm_bindgen_test]
async fn unlocks_started_together_are_counted_before_they_guess() {
    forget_key().await;
    keystore::create(&card(), PASSPHRASE).await.unwrap();
    let limit = Duration::from_secs(30);

    // The two free tries, together: both guess, both are counted.
    let first = started(keystore::unlock("guess-1"));
    let second = started(keystore::unlock("guess-2"));
    let mut counts = [
        within(limit, &first).await.unwrap().err(),
        within(limit, &second).await.unwrap().err(),
    ]
    .map(|answer| match answer {
        Some(UnlockError::WrongPassphrase {
            failures,
            wait: None,
        }) => failures,
        other => panic!("expected a free wrong try, got {other:?}"),
    });
    counts.sort();
    assert_eq!(counts, [1, 2]);
    assert_eq!(stored_failures().await, Some(2.0));

    // Two more together: one is the third failure and starts the wait; the other is held by it.
    let first = started(keystore::unlock("guess-3"));
    let second = started(keystore::unlock("guess-4"));
    let mut answers = [
        within(limit, &first).await.unwrap().unwrap_err(),
        within(limit, &second).await.unwrap().unwrap_err(),
    ];
    answers.sort_by_key(|answer| matches!(answer, UnlockError::TooSoon { .. }));
    assert_eq!(
        answers[0],
        UnlockError::WrongPassphrase {
            failures: 3,
            wait: Some(Duration::from_secs(5))
        }
    );
    assert!(
        matches!(answers[1], UnlockError::TooSoon { wait } if wait <= Duration::from_secs(5)),
        "the second waits: {:?}",
        answers[1]
    );
    // Turned away, it guessed nothing and counts nothing.
    assert_eq!(stored_failures().await, Some(3.0));
    forget_key().await;
}

/// A key record whose iteration count was changed — damaged, or tampered with so that the
/// unlock would derive for hours — is refused at once as damaged, in the cashier's words, and
/// counts no failure; so is one below the count this app has always written.
#[wasm_bindgen_test]
async fn an_iteration_count_out_of_bounds_is_refused_at_once() {
    forget_key().await;
    let (record, _) = keystore::create(&card(), PASSPHRASE).await.unwrap();
    assert_eq!(
        MIN_KDF_ITERATIONS, 600_000,
        "what the app has always written"
    );
    for iterations in [u32::MAX, MAX_KDF_ITERATIONS + 1, MIN_KDF_ITERATIONS - 1] {
        let mut damaged = record.clone();
        damaged.sealed.iterations = iterations;
        db::write_one(db::KEYS, db::to_js(&damaged).unwrap(), None)
            .await
            .unwrap();
        let answer = within(
            Duration::from_secs(10),
            &started(keystore::unlock(PASSPHRASE)),
        )
        .await
        .unwrap_or_else(|| panic!("{iterations} iterations: the unlock still runs after 10 s"));
        assert!(
            matches!(
                answer,
                Err(UnlockError::KeyStore(KeyStoreError::Crypto(
                    CryptoError::Damaged(_)
                )))
            ),
            "{iterations} iterations: {answer:?}"
        );
        let answer = within(
            Duration::from_secs(10),
            &started(async move {
                crypto::open(&damaged.sealed, PASSPHRASE, b"P1001-1")
                    .await
                    .map(|_| ())
            }),
        )
        .await
        .unwrap_or_else(|| panic!("{iterations} iterations: opening still runs after 10 s"));
        assert!(matches!(answer, Err(CryptoError::Damaged(_))));
    }
    assert_eq!(
        stored_failures().await,
        Some(0.0),
        "a damaged record is no wrong guess"
    );
    // The cashier unlocking it is told so, in Russian, instead of watching the spinner.
    let app = start_in_russian_at("/settings/keys");
    wait_for("#unlock-form", 5).await;
    type_into("#unlock-passphrase", PASSPHRASE);
    tap("#unlock-submit");
    wait_for("#unlock-error", 10).await;
    assert_eq!(
        text_of("#unlock-error"),
        "Сохранённый ключ повреждён. Удалите его и создайте новый."
    );
    assert!(find("#unlock-progress").is_none());
    drop(app);

    // The record as written opens as before.
    db::write_one(db::KEYS, db::to_js(&record).unwrap(), None)
        .await
        .unwrap();
    assert_eq!(
        keystore::unlock(PASSPHRASE).await.unwrap().public_key(),
        record.public_key
    );
    forget_key().await;
}

#[wasm_bindgen_test]
async fn locking_wipes_the_key_until_it_is_unlocked_again() {
    forget_key().await;
    keystore::create(&card(), PASSPHRASE).await.unwrap();
    let session = KeySession::new();
    session.load().await.unwrap();
    assert!(
        session.with_key(|key| key.sign(b"x")).is_none(),
        "a fresh start is locked"
    );

    session.unlock(PASSPHRASE).await.unwrap();
    let public = session.record_untracked().unwrap().public_key;
    let signature = session.with_key(|key| key.sign(b"pay 100")).unwrap();
    assert_eq!(public.verify(b"pay 100", &signature), Ok(()));

    session.lock();
    assert!(!session.is_unlocked_untracked());
    assert!(session.with_key(|key| key.sign(b"pay 100")).is_none());

    session.unlock(PASSPHRASE).await.unwrap();
    assert!(session.with_key(|key| key.sign(b"pay 100")).is_some());
}

#[wasm_bindgen_test]
async fn an_idle_session_locks_itself() {
    forget_key().await;
    keystore::create(&card(), PASSPHRASE).await.unwrap();
    let session = KeySession::new();
    session.load().await.unwrap();
    // The idle time passes by moving the last touch back, not by sleeping: a timer that fires
    // late must not decide the test. A minute's lock leaves the test's own run time no say.
    session.set_auto_lock(Duration::from_secs(60));
    session.unlock(PASSPHRASE).await.unwrap();

    session.backdate_activity(Duration::from_secs(40));
    assert!(session.with_key(|_| ()).is_some(), "not idle long enough");
    session.touch();
    session.backdate_activity(Duration::from_secs(40));
    assert!(
        session.with_key(|_| ()).is_some(),
        "a touch restarts the idle time (80 s since the unlock, 40 s since the touch)"
    );

    session.backdate_activity(Duration::from_secs(21));
    assert!(session.with_key(|_| ()).is_none(), "idle too long");
    assert!(!session.is_unlocked_untracked());
}

#[wasm_bindgen_test]
async fn deleting_removes_the_key_from_the_phone() {
    forget_key().await;
    keystore::create(&card(), PASSPHRASE).await.unwrap();
    keystore::delete().await.unwrap();

    assert_eq!(keystore::load().await.unwrap(), None);
    assert!(
        raw_records()
            .await
            .iter()
            .all(|(store, _)| store != db::KEYS),
        "the keys store should be empty"
    );
    assert_eq!(
        keystore::unlock(PASSPHRASE).await.err(),
        Some(UnlockError::KeyStore(KeyStoreError::NoKey))
    );
}

#[wasm_bindgen_test]
async fn a_sealed_seed_opens_only_with_its_passphrase_and_serial() {
    let seed = [42u8; 32];
    let sealed = crypto::seal(&seed, PASSPHRASE, b"P1001-1").await.unwrap();
    assert_eq!(
        *crypto::open(&sealed, PASSPHRASE, b"P1001-1").await.unwrap(),
        seed
    );
    assert_eq!(
        crypto::open(&sealed, PASSPHRASE, b"P1001-2").await.err(),
        Some(CryptoError::WrongPassphrase),
        "moved to another key's record"
    );
    let mut tampered = sealed.clone();
    tampered.ciphertext.0[0] ^= 1;
    assert_eq!(
        crypto::open(&tampered, PASSPHRASE, b"P1001-1").await.err(),
        Some(CryptoError::WrongPassphrase)
    );
}

#[wasm_bindgen_test]
fn passphrase_rules_name_the_field_that_is_wrong() {
    assert_eq!(
        keystore::check_passphrase("12345", "12345"),
        (Err(PassphraseError::TooShort), Ok(()))
    );
    assert_eq!(
        keystore::check_passphrase("123456", "123465"),
        (Ok(()), Err(PassphraseError::Mismatch))
    );
    // Characters, not bytes: six Cyrillic letters are enough.
    assert_eq!(
        keystore::check_passphrase("пароль", "пароль"),
        (Ok(()), Ok(()))
    );
}

//! Guards the key across the app's tabs, in a real browser (security audit): locking by hand,
//! changing the passphrase or deleting the key in one tab locks every other tab at once — it
//! does not keep signing until its own idle time runs out. A second `BroadcastChannel` of the
//! same name plays the other tab (it hears what this tab posts, and posts as another tab
//! would); a second `KeySession` in the page is another tab too. A signed step reads the stored
//! key again first, so a key deleted or replaced without a word signs nothing.
#![cfg(target_arch = "wasm32")]

mod support;

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use support::card::sample_card;
use support::{forget_key, gloo_timers_sleep, start_at, tap, type_into, wait_for};
use tolem::session::{KeySession, SignedStepError, TABS_CHANNEL};
use tolem::storage::keystore::{self, KeyStoreError, UnlockError};
use tolem_protocol::messages::Step;
use wasm_bindgen::prelude::*;
use wasm_bindgen_test::*;
use web_sys::BroadcastChannel;

wasm_bindgen_test_configure!(run_in_browser);

const PASSPHRASE: &str = "екі-бет-303";

/// The other tab: its end of the channel, and how many messages it heard.
struct OtherTab {
    channel: BroadcastChannel,
    heard: Rc<Cell<u32>>,
    _on_message: Closure<dyn FnMut()>,
}

impl OtherTab {
    fn open() -> OtherTab {
        let channel = BroadcastChannel::new(TABS_CHANNEL).unwrap();
        let heard = Rc::new(Cell::new(0));
        let count = heard.clone();
        let on_message = Closure::<dyn FnMut()>::new(move || count.set(count.get() + 1));
        channel.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        OtherTab {
            channel,
            heard,
            _on_message: on_message,
        }
    }

    /// Posts as another tab of the app does when it locks.
    fn post_lock(&self) {
        self.channel
            .post_message(&JsValue::from_str("lock"))
            .unwrap();
    }

    /// Whether a message arrives (within ten seconds: a busy machine).
    async fn hears(&self) -> bool {
        until(|| self.heard.get() > 0).await
    }
}

impl Drop for OtherTab {
    fn drop(&mut self) {
        self.channel.set_onmessage(None);
        self.channel.close();
    }
}

/// Whether `done` comes true, waiting for it at most ten seconds (a busy machine: every use
/// expects it to come true, and returns as soon as it does).
async fn until(done: impl Fn() -> bool) -> bool {
    for _ in 0..200 {
        if done() {
            return true;
        }
        gloo_timers_sleep(Duration::from_millis(50)).await;
    }
    done()
}

/// A phone with a key, and a session (a tab) that unlocked it.
async fn unlocked_tab() -> KeySession {
    forget_key().await;
    keystore::create(&sample_card(), PASSPHRASE).await.unwrap();
    another_unlocked_tab().await
}

async fn another_unlocked_tab() -> KeySession {
    let session = KeySession::new();
    session.load().await.unwrap();
    session.unlock(PASSPHRASE).await.unwrap();
    assert!(session.with_key(|_| ()).is_some());
    session
}

fn locked(session: &KeySession) -> bool {
    !session.is_unlocked_untracked() && session.with_key(|_| ()).is_none()
}

#[wasm_bindgen_test]
async fn another_tab_locking_locks_this_one() {
    let session = unlocked_tab().await;
    let other = OtherTab::open();
    other.post_lock();
    assert!(
        until(|| locked(&session)).await,
        "this tab still holds the key"
    );
    assert!(
        session.record_untracked().is_some(),
        "the key is still on the phone"
    );
}

#[wasm_bindgen_test]
async fn another_tab_deleting_the_key_leaves_this_one_without_it() {
    let session = unlocked_tab().await;
    let other = OtherTab::open();
    keystore::delete().await.unwrap();
    other.post_lock();
    assert!(
        until(|| locked(&session)).await,
        "this tab still holds the deleted key"
    );
    assert_eq!(
        session.unlock(PASSPHRASE).await.err(),
        Some(UnlockError::KeyStore(KeyStoreError::NoKey))
    );
}

#[wasm_bindgen_test]
async fn locking_by_hand_locks_the_other_tabs() {
    let session = unlocked_tab().await;
    let second = another_unlocked_tab().await;
    let other = OtherTab::open();
    session.lock();
    assert!(other.hears().await, "locking told no other tab");
    assert!(
        until(|| locked(&second)).await,
        "the other tab still holds the key"
    );
}

#[wasm_bindgen_test]
async fn deleting_the_key_locks_the_other_tabs() {
    let session = unlocked_tab().await;
    let second = another_unlocked_tab().await;
    let other = OtherTab::open();
    session.delete().await.unwrap();
    assert!(other.hears().await, "deleting told no other tab");
    assert!(
        until(|| locked(&second)).await,
        "the other tab still holds the deleted key"
    );
    // Its next signed step finds the key gone.
    assert_eq!(
        second.ask(Step::Balance).await.err(),
        Some(SignedStepError::NoKey)
    );
    assert_eq!(second.record_untracked(), None);
}

#[wasm_bindgen_test]
async fn changing_the_passphrase_on_its_page_locks_the_other_tabs() {
    let second = unlocked_tab().await;
    let other = OtherTab::open();
    let _app = start_at("/settings/keys/passphrase");
    wait_for("#passphrase-form", 5).await;
    type_into("#passphrase-old", PASSPHRASE);
    type_into("#passphrase-new", "жаңа-бет-404");
    type_into("#passphrase-new-repeat", "жаңа-бет-404");
    tap("#passphrase-submit");
    wait_for("#passphrase-changed", 10).await;
    assert!(
        other.hears().await,
        "changing the passphrase told no other tab"
    );
    assert!(
        until(|| locked(&second)).await,
        "the other tab still holds the key"
    );
}

#[wasm_bindgen_test]
async fn a_signed_step_reads_the_stored_key_again_first() {
    // Deleted without a word to this tab (a message missed): nothing is signed.
    let session = unlocked_tab().await;
    keystore::delete().await.unwrap();
    assert_eq!(
        session.ask(Step::Balance).await.err(),
        Some(SignedStepError::NoKey)
    );
    assert!(locked(&session) && session.record_untracked().is_none());

    // Replaced by another key: the old one is wiped, the new one is locked.
    let session = unlocked_tab().await;
    keystore::delete().await.unwrap();
    let (replacement, _) = keystore::create(&sample_card(), PASSPHRASE).await.unwrap();
    assert_eq!(
        session.ask(Step::Balance).await.err(),
        Some(SignedStepError::Locked)
    );
    assert!(locked(&session));
    assert_eq!(session.record_untracked(), Some(replacement));
}

//! The cashier's shift with the point key: unlocked once with the passphrase, kept only in
//! memory, and locked again — the key wiped — on request or after an idle period.
//!
//! Also holds what a key enrolment needs between its screens (the key card and the point
//! password), in memory only: the password is wiped once the key is registered, and on lock.
//!
//! Every tab of the app has its own session. Locking by hand, changing the passphrase or deleting
//! the key in one tab tells the others on [`TABS_CHANNEL`], and each of them locks at once (to
//! unlock again reads the stored key). A step signed for the gateway also reads the record again
//! first, so a key deleted or replaced meanwhile signs no such step.

use std::time::Duration;

use leptos::ev;
use leptos::prelude::*;
use tolem_protocol::keys::SecretKey;
use tolem_protocol::messages::{DealerDetails, KeyCard, KeyState, OfflineLimits, Response, Step};
use wasm_bindgen::prelude::*;
use web_sys::BroadcastChannel;
use zeroize::Zeroizing;

use crate::api::{self, ApiError};
use crate::storage::keystore::{self, KeyRecord, KeyStoreError, UnlockError};
use crate::storage::settings::{self, DEFAULT_AUTO_LOCK};
use crate::task::spawn_in_own_task;

/// The broadcast channel on which a tab tells the app's other tabs to lock (any message does).
pub const TABS_CHANNEL: &str = "tolem-key";

/// How often an unlocked session looks at the clock for the idle time (the check is also made
/// on every touch, and when the cashier comes back to the app).
const IDLE_CHECK_EVERY: Duration = Duration::from_secs(15);

/// Why a signed step could not be sent.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignedStepError {
    /// The key is locked: unlock it with the passphrase first.
    #[error("the key is locked")]
    Locked,
    /// No key on this phone.
    #[error("there is no point key on this phone")]
    NoKey,
    #[error(transparent)]
    Api(#[from] ApiError),
}

/// The point key for this shift. Cheap to copy; every copy is the same session.
#[derive(Clone, Copy)]
pub struct KeySession {
    /// The only place the unlocked key lives; `None` when locked. Dropping it wipes it.
    key: StoredValue<Option<SecretKey>>,
    unlocked: RwSignal<bool>,
    /// The stored record (public parts and state), `None` when the phone has no key.
    record: RwSignal<Option<KeyRecord>>,
    /// Whether the record has been read from storage yet.
    loaded: RwSignal<bool>,
    auto_lock: RwSignal<Duration>,
    last_activity_ms: StoredValue<f64>,
    /// The card of a key being made, between the card, generate and register screens.
    enrolment: RwSignal<Option<KeyCard>>,
    point_password: StoredValue<Option<Zeroizing<String>>>,
    /// This tab's end of [`TABS_CHANNEL`]: it posts, and hears the other tabs (never itself).
    tabs: StoredValue<Option<Tabs>, LocalStorage>,
}

struct Tabs {
    channel: BroadcastChannel,
    _on_message: Closure<dyn FnMut()>,
}

impl Drop for Tabs {
    fn drop(&mut self) {
        self.channel.set_onmessage(None);
        self.channel.close();
    }
}

impl Default for KeySession {
    fn default() -> Self {
        KeySession::new()
    }
}

impl KeySession {
    /// A locked session with nothing loaded yet, listening to the other tabs.
    pub fn new() -> KeySession {
        let session = KeySession {
            key: StoredValue::new(None),
            unlocked: RwSignal::new(false),
            record: RwSignal::new(None),
            loaded: RwSignal::new(false),
            auto_lock: RwSignal::new(DEFAULT_AUTO_LOCK),
            last_activity_ms: StoredValue::new(now_ms()),
            enrolment: RwSignal::new(None),
            point_password: StoredValue::new(None),
            tabs: StoredValue::new_local(None),
        };
        // Another tab locked, changed the passphrase or deleted the key: lock here too.
        let on_message = Closure::<dyn FnMut()>::new(move || session.wipe());
        if let Ok(channel) = BroadcastChannel::new(TABS_CHANNEL) {
            channel.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
            session.tabs.set_value(Some(Tabs {
                channel,
                _on_message: on_message,
            }));
        }
        session
    }

    /// Tells the app's other tabs to lock.
    fn tell_other_tabs(&self) {
        self.tabs.with_value(|tabs| {
            if let Some(tabs) = tabs {
                let _ = tabs.channel.post_message(&JsValue::from_str("lock"));
            }
        });
    }

    /// Reads the key record again: when the key was deleted or replaced (in another tab, its word
    /// missed), the key held is wiped and the record follows the store. A storage that cannot be
    /// read changes nothing.
    async fn reread(self) {
        let Ok(stored) = keystore::load().await else {
            return;
        };
        let key_of = |r: &Option<KeyRecord>| r.as_ref().map(|r| r.public_key);
        if self
            .record
            .with_untracked(|held| key_of(held) != key_of(&stored))
        {
            self.wipe();
            self.record.set(stored);
        }
    }

    /// Reads the key record and the idle time from storage.
    pub async fn load(&self) -> Result<(), KeyStoreError> {
        let record = keystore::load().await;
        self.auto_lock.set(settings::auto_lock().await);
        let record = record?;
        self.record.set(record);
        self.loaded.set(true);
        Ok(())
    }

    /// The stored key (tracked), `None` when the phone has none.
    pub fn record(&self) -> Option<KeyRecord> {
        self.record.get()
    }

    /// The stored key, without subscribing to changes.
    pub fn record_untracked(&self) -> Option<KeyRecord> {
        self.record.get_untracked()
    }

    /// Whether the key is unlocked, without subscribing to changes.
    pub fn is_unlocked_untracked(&self) -> bool {
        self.unlocked.get_untracked()
    }

    /// Whether the record has been read yet (tracked): until then "no key" is not known.
    pub fn is_loaded(&self) -> bool {
        self.loaded.get()
    }

    /// Whether the key is unlocked (tracked).
    pub fn is_unlocked(&self) -> bool {
        self.unlocked.get()
    }

    /// Unlocks the stored key for this shift.
    pub async fn unlock(&self, passphrase: &str) -> Result<(), UnlockError> {
        let key = keystore::unlock(passphrase).await?;
        self.hold(key);
        Ok(())
    }

    /// Takes over a key just made (it is unlocked already) with its record.
    pub fn adopt(&self, record: KeyRecord, key: SecretKey) {
        self.record.set(Some(record));
        self.loaded.set(true);
        self.hold(key);
    }

    fn hold(&self, key: SecretKey) {
        self.key.set_value(Some(key));
        self.last_activity_ms.set_value(now_ms());
        self.unlocked.set(true);
    }

    /// Locks: the key and any point password are wiped from memory, here and in the app's other
    /// tabs.
    pub fn lock(&self) {
        self.wipe();
        self.tell_other_tabs();
    }

    /// Locks this tab only (the idle time ran out here, or another tab said so).
    fn wipe(&self) {
        // Replacing drops the old value, and dropping a `SecretKey` or a `Zeroizing` wipes it.
        self.key.set_value(None);
        self.point_password.set_value(None);
        if self.unlocked.get_untracked() {
            self.unlocked.set(false);
        }
    }

    /// Runs `f` with the unlocked key, or returns `None` when it is locked (or has just timed out).
    pub fn with_key<R>(&self, f: impl FnOnce(&SecretKey) -> R) -> Option<R> {
        self.lock_if_idle();
        self.key.with_value(|key| key.as_ref().map(f))
    }

    /// The cashier did something: the idle time starts again (unless it already ran out).
    pub fn touch(&self) {
        self.lock_if_idle();
        self.last_activity_ms.set_value(now_ms());
    }

    /// Moves the last touch `by` into the past, as if the cashier had been idle that much longer:
    /// tests check the idle lock without sleeping (late timers made a sleeping test flaky). The
    /// app never calls it, so the release build leaves it out.
    pub fn backdate_activity(&self, by: Duration) {
        self.last_activity_ms
            .update_value(|at| *at -= by.as_millis() as f64);
    }

    /// Locks when the idle time has passed since the last touch.
    pub fn lock_if_idle(&self) {
        let idle_ms = now_ms() - self.last_activity_ms.get_value();
        if idle_ms >= self.auto_lock.get_untracked().as_millis() as f64 {
            self.wipe();
        }
    }

    /// The idle time after which the key locks itself (tracked).
    pub fn auto_lock(&self) -> Duration {
        self.auto_lock.get()
    }

    /// Changes the idle time for this session (the caller decides whether to remember it).
    pub fn set_auto_lock(&self, idle: Duration) {
        self.auto_lock.set(idle);
    }

    /// Sends a step signed by the unlocked key.
    pub async fn send(&self, step: Step) -> Result<Response, SignedStepError> {
        Ok(api::answered(self.ask(step).await?)?)
    }

    /// [`Self::send`], but a valid answer comes back whatever its code (see
    /// [`api::post_signed_any_code`]): for steps whose refusals carry an outcome, like `check`.
    pub async fn ask(&self, step: Step) -> Result<Response, SignedStepError> {
        self.reread().await;
        let card = self
            .record
            .with_untracked(|r| r.as_ref().map(|r| r.card.clone()))
            .ok_or(SignedStepError::NoKey)?;
        let request = api::new_request(&card, step);
        let pending = self
            .with_key(|key| api::post_signed_any_code(&request, key, &card))
            .ok_or(SignedStepError::Locked)?;
        Ok(pending.await?)
    }

    /// Registers the stored key with the gateway using the point password, and records the state
    /// the gateway gives it. The password is forgotten once the key is registered.
    pub async fn register(&self, password: &str) -> Result<KeyState, SignedStepError> {
        self.reread().await;
        let record = self.record.get_untracked().ok_or(SignedStepError::NoKey)?;
        let pending = self
            .with_key(|key| api::register_key(&record.card, key, password, record.created_at_ms))
            .ok_or(SignedStepError::Locked)?;
        let state = pending.await?;
        self.point_password.set_value(None);
        self.set_state(Some(state)).await;
        Ok(state)
    }

    /// Takes the offline limits the gateway's signed balance answer carried, when they differ
    /// from the card's (the dealer changed them): on the phone, for the outbox and the worker,
    /// and on screen.
    pub async fn follow_offline_limits(&self, limits: &OfflineLimits) {
        let changed = self
            .record
            .with_untracked(|r| r.as_ref().is_some_and(|r| r.card.offline != *limits));
        if changed {
            match keystore::set_offline_limits(limits.clone()).await {
                Ok(record) => self.record.set(Some(record)),
                Err(error) => {
                    leptos::logging::warn!("could not keep the new offline limits: {error}")
                }
            }
        }
    }

    /// Takes the dealer's legal details the gateway's signed balance answer carried, when they
    /// differ from the card's, for the receipts this phone prints.
    pub async fn follow_dealer_details(&self, details: &DealerDetails) {
        let changed = self.record.with_untracked(|r| {
            r.as_ref()
                .is_some_and(|r| r.card.dealer_details.as_ref() != Some(details))
        });
        if changed {
            match keystore::set_dealer_details(details.clone()).await {
                Ok(record) => self.record.set(Some(record)),
                Err(error) => {
                    leptos::logging::warn!("could not keep the dealer's details: {error}")
                }
            }
        }
    }

    /// Records where the key stands with the gateway, on the phone and on screen.
    pub async fn set_state(&self, state: Option<KeyState>) {
        if let Ok(record) = keystore::set_state(state).await {
            self.record.set(Some(record));
        }
    }

    /// Deletes the key from the phone: locks, wipes the record, forgets any enrolment.
    pub async fn delete(&self) -> Result<(), KeyStoreError> {
        self.wipe();
        self.enrolment.set(None);
        let deleted = keystore::delete().await;
        // Told once the record is gone, so the other tabs read it gone.
        self.tell_other_tabs();
        deleted?;
        self.record.set(None);
        Ok(())
    }

    /// Seals the key again under `new` ([`keystore::change_passphrase`]); the other tabs lock,
    /// this one stays as it is.
    pub async fn change_passphrase(&self, old: &str, new: &str) -> Result<(), UnlockError> {
        keystore::change_passphrase(old, new).await?;
        self.tell_other_tabs();
        Ok(())
    }

    /// Keeps a freshly received key card and the point password for the next screens.
    pub fn begin_enrolment(&self, card: KeyCard, password: String) {
        self.enrolment.set(Some(card));
        self.point_password
            .set_value(Some(Zeroizing::new(password)));
    }

    /// The key card being enrolled (tracked).
    pub fn enrolment(&self) -> Option<KeyCard> {
        self.enrolment.get()
    }

    /// The point password typed on the card screen, while it is still in memory.
    pub fn point_password(&self) -> Option<Zeroizing<String>> {
        self.point_password.get_value()
    }
}

/// Creates the session for the app: loads the key record, watches for activity and locks after
/// the idle time.
pub fn provide_key_session() -> KeySession {
    let session = KeySession::new();
    provide_context(session);
    spawn_in_own_task(async move {
        if let Err(error) = session.load().await {
            leptos::logging::warn!("could not read the point key: {error}");
            session.loaded.set(true);
        }
    });

    let touch = move || session.touch();
    let pointer = window_event_listener(ev::pointerdown, move |_| touch());
    let keys = window_event_listener(ev::keydown, move |_| touch());
    // A phone that slept freezes timers: check the clock the moment the app is visible again.
    let visible = window_event_listener(ev::visibilitychange, move |_| session.lock_if_idle());
    let periodic = set_interval_with_handle(
        move || {
            if session.unlocked.get_untracked() {
                session.lock_if_idle();
            }
        },
        IDLE_CHECK_EVERY,
    )
    .ok();
    on_cleanup(move || {
        pointer.remove();
        keys.remove();
        visible.remove();
        if let Some(handle) = periodic {
            handle.clear();
        }
        session.wipe();
    });
    session
}

/// The app's key session.
pub fn use_key_session() -> KeySession {
    expect_context::<KeySession>()
}

fn now_ms() -> f64 {
    js_sys::Date::now()
}

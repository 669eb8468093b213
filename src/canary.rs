//! The page's half of noticing a cleared storage ([`tolem_outbox::canary`]): the marker in
//! `localStorage`, the check when the app starts, the loud banner, and the report the next
//! signed request carries to the gateway ([`lost_report`]).
//!
//! The report stays in `localStorage` until a new key was registered with it (the key went
//! with the storage, so a registration is the phone's next signed request); the cashier may
//! hide the banner before that, the report still goes out.

use leptos::prelude::*;
use tolem_outbox::canary::{self, Planted, Verdict};
use tolem_protocol::messages::OutboxLost;

use crate::storage::keystore;
use crate::task::spawn_in_own_task;

/// The marker: an outbox existed on this phone, for this key.
const MARKER: &str = "tolem.outbox";
/// A noticed loss, until the gateway was told.
const LOST: &str = "tolem.outbox_lost";
/// The cashier hid the banner for the loss noticed at this time.
const HIDDEN: &str = "tolem.outbox_lost_hidden";

fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok().flatten()
}

fn read<T: serde::de::DeserializeOwned>(name: &str) -> Option<T> {
    let text = storage()?.get_item(name).ok().flatten()?;
    serde_json::from_str(&text).ok()
}

fn write<T: serde::Serialize>(name: &str, value: &T) {
    if let (Some(storage), Ok(text)) = (storage(), serde_json::to_string(value)) {
        let _ = storage.set_item(name, &text);
    }
}

fn remove(name: &str) {
    if let Some(storage) = storage() {
        let _ = storage.remove_item(name);
    }
}

/// The loss to report to the gateway, while there is one (every signed request carries it).
pub fn lost_report() -> Option<OutboxLost> {
    read(LOST)
}

/// The gateway was told (a key was registered with the report): nothing more to send.
pub fn reported() {
    remove(LOST);
}

/// A loss noticed now, shown by [`OutboxLostBanner`].
#[derive(Clone, Copy)]
pub struct LostOutbox(pub RwSignal<Option<OutboxLost>>);

/// Plants the canary and the marker for a new key (the phone's first outbox, or a new one
/// after a deliberate deletion).
pub async fn plant(key_serial: &str) {
    let planted = Planted {
        key_serial: key_serial.to_owned(),
        since_ms: js_sys::Date::now() as i64,
    };
    if canary::plant(&planted).await.is_ok() {
        write(MARKER, &planted);
    }
}

/// The key was deleted on purpose: its outbox was not lost, so nothing is watched any more.
pub async fn forget() {
    let _ = canary::remove().await;
    remove(MARKER);
}

/// Checks the storage once and provides [`LostOutbox`]: call when the app starts.
pub fn provide_canary() {
    let lost = RwSignal::new(lost_report().filter(|report| !hidden(report)));
    provide_context(LostOutbox(lost));
    spawn_in_own_task(async move {
        let marker: Option<Planted> = read(MARKER);
        let Ok(stored) = canary::read().await else {
            return; // no storage at all: nothing can be judged
        };
        let key = keystore::load().await.ok().flatten();
        match canary::judge(marker.as_ref(), stored.as_ref(), key.is_some()) {
            Verdict::Intact => {
                if marker != stored
                    && let Some(stored) = stored
                {
                    write(MARKER, &stored);
                }
            }
            Verdict::Lost(marker) => {
                let report = OutboxLost {
                    key_serial: marker.key_serial,
                    noticed_at_ms: js_sys::Date::now() as i64,
                };
                write(LOST, &report);
                remove(MARKER);
                lost.set(Some(report));
                if let Some(key) = key {
                    plant(&key.key_serial).await;
                }
            }
            Verdict::Plant => {
                if let Some(key) = key {
                    plant(&key.key_serial).await;
                }
            }
            Verdict::Nothing => {}
        }
    });
}

fn hidden(report: &OutboxLost) -> bool {
    read::<i64>(HIDDEN) == Some(report.noticed_at_ms)
}

/// The loud banner on every page while a loss is known and the cashier has not hidden it.
#[component]
pub fn OutboxLostBanner() -> impl IntoView {
    let LostOutbox(lost) = expect_context::<LostOutbox>();
    move || {
        lost.get().map(|report| {
            let hide = move |_| {
                write(HIDDEN, &report.noticed_at_ms);
                lost.set(None);
            };
            view! {
                <aside id="outbox-lost" class="outbox-lost" role="alert"
                    data-key=report.key_serial.clone()>
                    <strong>{tr!(outbox_lost_title)}</strong>
                    <p>{tr!(outbox_lost_text)}</p>
                    <button on:click=hide>{tr!(outbox_lost_hide)}</button>
                </aside>
            }
        })
    }
}

//! Replaying the outbox from the worker: the deferred payments go out when the network returns,
//! with every page of the app closed.
//!
//! `sw.js` calls [`replay`] on three occasions, because not every browser has every one:
//!
//! - `sync` — Background Sync (Chromium): the page registers the tag [`SYNC_TAG`] when payments
//!   wait; the browser fires it once it believes the network is back, and again with its own
//!   backoff while the promise this returns rejects. No new sync is registered from here (one in
//!   the middle of a sync would only stack up): the browser's retry is the retry.
//! - `message` — a page asks (`REPLAY_OUTBOX`), e.g. right after a payment was deferred.
//! - `start` — the active worker woke: once per worker lifetime, right after it activated and at
//!   its first fetch (never in a worker that is only installing: a new build must not open the
//!   database before it may take over). Safari and Firefox have no Background Sync, so every
//!   time the worker wakes it looks at the outbox.
//!
//! The pass itself is the outbox crate's ([`tolem_outbox::replay`]), under the replay lock the
//! pages take too, so the worker and any number of tabs never send a payment twice.

use tolem_outbox::lock::Wait;
use tolem_outbox::replay::{self, Report};
use wasm_bindgen::prelude::*;

/// The Background Sync tag the page registers; `sw.js` knows the same word.
pub const SYNC_TAG: &str = "tolem-outbox";

/// What started a replay.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Trigger {
    Sync,
    Message,
    Start,
}

impl Trigger {
    fn parse(name: &str) -> Trigger {
        match name {
            "sync" => Trigger::Sync,
            "message" => Trigger::Message,
            _ => Trigger::Start,
        }
    }

    /// A sync event waits for its turn: if a page is replaying and dies half-way, the browser
    /// must not believe the sync succeeded. The others leave the work to whoever holds the lock.
    fn wait(self) -> Wait {
        match self {
            Trigger::Sync => Wait::Queue,
            Trigger::Message | Trigger::Start => Wait::IfFree,
        }
    }
}

/// Replays the outbox once. For a `sync` trigger the promise rejects while payments still wait
/// (offline, no decision yet), so the browser fires the sync again later — and when the lock
/// stayed busy for the whole wait: the holder may be a pass the browser is about to stop, and a
/// sync that succeeded would not come back. Otherwise it resolves with the report
/// `{busy, settled, left, stopped}`.
#[wasm_bindgen]
pub async fn replay(trigger: String) -> Result<JsValue, JsValue> {
    let trigger = Trigger::parse(&trigger);
    let report = replay::replay(trigger.wait())
        .await
        .map_err(|e| JsValue::from_str(&format!("the outbox could not be read: {e}")))?;
    log(trigger, &report);
    if trigger == Trigger::Sync && report.busy {
        return Err(JsValue::from_str(
            "another replayer kept the outbox for the whole wait",
        ));
    }
    if trigger == Trigger::Sync && report.should_retry() {
        return Err(JsValue::from_str(&format!(
            "{} payments still wait ({})",
            report.left,
            report.stopped.map_or("unfinished", |s| s.name())
        )));
    }
    Ok(as_object(&report))
}

fn as_object(report: &Report) -> JsValue {
    let object = js_sys::Object::new();
    let set = |name: &str, value: JsValue| {
        let _ = js_sys::Reflect::set(&object, &name.into(), &value);
    };
    set("busy", report.busy.into());
    set("settled", (report.settled as u32).into());
    set("left", (report.left as u32).into());
    set(
        "stopped",
        report
            .stopped
            .map_or(JsValue::NULL, |s| JsValue::from_str(s.name())),
    );
    object.into()
}

/// One line in the worker's console per replay that did or found something.
fn log(trigger: Trigger, report: &Report) {
    if report.settled == 0 && report.left == 0 {
        return;
    }
    web_sys::console::info_1(&JsValue::from_str(&format!(
        "tolem outbox replay ({trigger:?}): {} settled, {} waiting, busy: {}, stopped: {}",
        report.settled,
        report.left,
        report.busy,
        report.stopped.map_or("no", |s| s.name())
    )));
}

//! The page's side of the outbox: what waits on the phone (for the header and the offline
//! limits), and replaying it while the app is open.
//!
//! The service worker replays too (Background Sync, a message, its own start), but Safari and
//! Firefox have no Background Sync, and a worker is not always awake; so the page replays:
//!
//! - on start, on the browser's `online` event, when the gateway's health check turns the
//!   connection indicator to online, and when the cashier returns to the tab;
//! - right after a payment was deferred or left unsettled ([`Outbox::kick`]), when it also asks
//!   the worker (a message) and registers a Background Sync, so the worker sends what waits even
//!   if the page is closed before the network returns;
//! - with backoff while payments wait and the app is open ([`RETRY_AFTER`]), and no later than
//!   a payment held by the gateway's "not now" is due again.
//!
//! Every replay — page or worker — goes through [`tolem_outbox::replay::replay`] under one lock,
//! so the same payment is never sent by two of them.

use std::time::Duration;

use leptos::ev;
use leptos::prelude::*;
use tolem_outbox::limits::Waiting;
use tolem_outbox::lock::Wait;
use tolem_outbox::replay::{self, Report};
use tolem_outbox::store;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use crate::connection::{Connection, ConnectionState, use_connection_state};
use crate::payments::on_payment_change;
use crate::task::spawn_in_own_task;

/// The Background Sync tag; the worker (`sw.js`, `service-worker/src/replay.rs`) knows it too.
pub const SYNC_TAG: &str = "tolem-outbox";
/// The message that asks the worker to replay; `sw.js` knows the same word.
pub const REPLAY_MESSAGE: &str = "REPLAY_OUTBOX";
/// Waits between the page's own retries while payments wait, growing with each failed one and
/// starting over once a replay gets through. Short at first: the cashier is looking at the count.
pub const RETRY_AFTER: [Duration; 6] = [
    Duration::from_secs(5),
    Duration::from_secs(10),
    Duration::from_secs(20),
    Duration::from_secs(40),
    Duration::from_secs(90),
    Duration::from_secs(300),
];

/// The outbox as the app sees it, shared through context.
#[derive(Clone, Copy)]
pub struct Outbox {
    waiting: RwSignal<Waiting>,
    /// Whether the waiting payments have been read yet.
    loaded: RwSignal<bool>,
    /// A page replay is running (a second trigger meanwhile is folded into it).
    running: StoredValue<bool>,
    /// Another trigger came while one ran: run once more after it.
    again: StoredValue<bool>,
    /// Failed replays in a row, for the backoff.
    failures: StoredValue<usize>,
    /// Bumped for every new retry timer, so an older timer that fires finds itself stale.
    timer: StoredValue<u64>,
    /// The persistent-storage request was made in this page (it is asked once).
    asked_persistence: StoredValue<bool>,
    /// The connection indicator's state: its turn back to online starts a replay, and a replay
    /// tells it what it learned.
    connection: ConnectionState,
}

impl Outbox {
    /// What waits (tracked).
    pub fn waiting(&self) -> Waiting {
        self.waiting.get()
    }

    /// What waits, without subscribing.
    pub fn waiting_untracked(&self) -> Waiting {
        self.waiting.get_untracked()
    }

    /// Whether the waiting payments have been read (tracked).
    pub fn is_loaded(&self) -> bool {
        self.loaded.get()
    }

    /// Reads what waits again (after a change here, in another tab or in the worker).
    pub fn refresh(&self) {
        let this = *self;
        spawn_in_own_task(async move {
            if let Ok(waiting) = store::waiting_summary().await {
                this.waiting.set(waiting);
                this.loaded.set(true);
            }
        });
    }

    /// Payments wait that were just deferred or left unsettled: replay now in the page, and make
    /// sure the worker sends them even if the page is closed first (a message to the running
    /// worker, a Background Sync for when the network returns).
    pub fn kick(&self) {
        // Something new waits: the backoff starts over.
        self.failures.set_value(0);
        self.ask_for_persistent_storage();
        tell_worker();
        register_sync();
        self.replay();
    }

    /// Asks the browser to keep the site's storage (once per page): a deferred payment lives
    /// only on this phone until it is sent.
    pub fn ask_for_persistent_storage(&self) {
        if !self.asked_persistence.get_value() {
            self.asked_persistence.set_value(true);
            tolem_outbox::db::ask_for_persistent_storage();
        }
    }

    /// Runs one replay in the page (or, when one is running, one more right after it).
    pub fn replay(&self) {
        if self.running.get_value() {
            self.again.set_value(true);
            return;
        }
        self.running.set_value(true);
        let this = *self;
        spawn_in_own_task(async move {
            loop {
                this.again.set_value(false);
                let report = replay::replay(Wait::IfFree).await.unwrap_or(Report {
                    left: 1,
                    ..Report::default()
                });
                // The app was closed while the replay ran (a test's app dropped, a page torn
                // down): the payments are settled in IndexedDB; there is no screen to update.
                if this.running.try_get_value().is_none() {
                    return;
                }
                this.after(&report);
                if !this.again.get_value() {
                    break;
                }
            }
            this.running.set_value(false);
        });
    }

    /// Updates the count and plans the next try after a replay.
    fn after(&self, report: &Report) {
        self.refresh();
        // The top bar should say what the replay learned: the gateway answered, or a payment got
        // no answer (is the gateway still there?).
        if report.settled > 0 {
            self.connection.answered();
        }
        if report.stopped == Some(replay::Stop::NoDecision) {
            self.connection.recheck();
        }
        if report.settled > 0 || report.left == 0 && !report.busy {
            self.failures.set_value(0);
        }
        // Busy: another tab or the worker is sending; look again later in case it dies.
        let waits = report.left > 0 || report.busy;
        if !waits || report.stopped == Some(replay::Stop::NoKeyCard) {
            return;
        }
        if report.should_retry() {
            // The worker keeps trying with the browser's own backoff if the page is closed.
            register_sync();
        }
        let failures = self.failures.get_value();
        self.failures.set_value(failures + 1);
        let mut wait = RETRY_AFTER[failures.min(RETRY_AFTER.len() - 1)];
        if let Some(at) = report.next_held_at_ms {
            // A payment the gateway held goes again at its own time, not a backoff later.
            let until = (at - js_sys::Date::now() as i64).max(1_000) as u64;
            wait = wait.min(Duration::from_millis(until));
        }
        self.retry_after(wait);
    }

    fn retry_after(&self, wait: Duration) {
        let generation = self.timer.get_value() + 1;
        self.timer.set_value(generation);
        let this = *self;
        set_timeout(
            move || {
                // `None`: the app is gone; nothing to retry from this page.
                if this.timer.try_get_value() == Some(generation) {
                    this.replay();
                }
            },
            wait,
        );
    }
}

/// Creates the app's [`Outbox`], reads what waits, and starts replaying on the triggers above.
pub fn provide_outbox() -> Outbox {
    let outbox = Outbox {
        waiting: RwSignal::new(Waiting::default()),
        loaded: RwSignal::new(false),
        running: StoredValue::new(false),
        again: StoredValue::new(false),
        failures: StoredValue::new(0),
        timer: StoredValue::new(0),
        asked_persistence: StoredValue::new(false),
        connection: use_connection_state(),
    };
    provide_context(outbox);
    outbox.refresh();
    outbox.replay();

    // Any change anywhere (this tab, another, the worker) and a return to the app: re-read.
    on_payment_change(move || outbox.refresh());
    let online = window_event_listener(ev::online, move |_| outbox.replay());
    let visible = window_event_listener(ev::visibilitychange, move |_| {
        if document().visibility_state() == web_sys::VisibilityState::Visible {
            outbox.replay();
        }
    });
    // The gateway's health answer is a better "the network is back" than the browser's event.
    let connection = outbox.connection.0;
    Effect::new(move |was: Option<Connection>| {
        let now = connection.get();
        if was == Some(Connection::Offline) && now == Connection::Online {
            outbox.replay();
        }
        now
    });
    on_cleanup(move || {
        online.remove();
        visible.remove();
    });
    outbox
}

/// The app's outbox.
pub fn use_outbox() -> Outbox {
    expect_context::<Outbox>()
}

/// Asks the worker controlling the page to replay (it may be awake when the page is not).
fn tell_worker() {
    let navigator = window().navigator();
    if !js_sys::Reflect::has(&navigator, &"serviceWorker".into()).unwrap_or(false) {
        return;
    }
    if let Some(worker) = navigator.service_worker().controller() {
        let _ = worker.post_message(&REPLAY_MESSAGE.into());
    }
}

/// Registers the Background Sync for the outbox where the browser has it (Chromium):
/// `registration.sync.register(tag)`, which web-sys does not bind. Registering a tag that is
/// already registered changes nothing, so this is called freely.
pub fn register_sync() {
    let navigator = window().navigator();
    if !js_sys::Reflect::has(&navigator, &"serviceWorker".into()).unwrap_or(false) {
        return;
    }
    let Ok(ready) = navigator.service_worker().ready() else {
        return;
    };
    spawn_in_own_task(async move {
        let Ok(registration) = JsFuture::from(ready).await else {
            return;
        };
        let Ok(sync) = js_sys::Reflect::get(&registration, &"sync".into()) else {
            return;
        };
        if sync.is_undefined() {
            return; // no Background Sync: the worker replays when it starts, the page on its triggers
        }
        let register = js_sys::Reflect::get(&sync, &"register".into())
            .ok()
            .and_then(|f| f.dyn_into::<js_sys::Function>().ok());
        if let Some(register) = register
            && let Ok(promise) = register.call1(&sync, &SYNC_TAG.into())
        {
            // Refused where the site may not sync in the background; the page's own retries remain.
            let _ = JsFuture::from(promise.unchecked_into::<js_sys::Promise>()).await;
        }
    });
}

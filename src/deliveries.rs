//! Following accepted payments to their provider while the app is open: the gateway carries
//! each accepted payment on (queued → sent → delivered, or refunded after the provider's final
//! refusal), and the phone learns where it is by asking `status` for the payment's session.
//!
//! Where the bytes come from: the `status` request each payment got signed together with its
//! `pay` when the cashier confirmed it ([`tolem_outbox::record::SignedPayment::status`]). The
//! gateway's `status` is a read, so those same bytes may be sent again and again: no key is
//! unlocked, nothing is signed here, and a phone whose key is locked follows its deliveries
//! just the same ([`tolem_outbox::settle::refresh_delivery`]). Only the record's `delivery`
//! field is ever written ([`tolem_outbox::store::update_delivery`]), and never backwards.
//!
//! When: only while a screen that shows deliveries is open ([`Deliveries::watch`]: the history,
//! a payment, its receipt, a payment's outcome), the app is in view and the browser online —
//! at once when such a screen opens, when the network returns or the app comes back into view,
//! then every [`REFRESH_AFTER`] step while a delivery of the last [`RECENT_MS`] is not final,
//! slowing down while nothing changes or nothing answers, and stopping when every one is final.
//! Never more than [`PER_PASS`] payments a pass: a 128 kbit/s line has a customer's payment to
//! carry too. No replay lock is taken: a read sent by two tabs costs a request, not a payment.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use leptos::ev;
use leptos::prelude::*;
use tolem_outbox::record::PaymentRecord;
use tolem_outbox::settle::{self, Refreshed};
use tolem_outbox::{store, transport};

use crate::connection::{Connection, use_connection};
use crate::task::spawn_in_own_task;

/// Waits between passes: the first while deliveries move (most are delivered within seconds
/// of being accepted, so the cashier should see it while the customer is still there), longer
/// ones while passes change nothing or get no answer; back to the first as soon as one changes.
pub const REFRESH_AFTER: [Duration; 7] = [
    Duration::from_secs(5),
    Duration::from_secs(10),
    Duration::from_secs(25),
    Duration::from_secs(40),
    Duration::from_secs(90),
    Duration::from_secs(180),
    Duration::from_secs(300),
];
/// How old an accepted payment may be and still be followed ("today-ish"): a delivery the
/// gateway has not finished in two days is the dealer's matter, and the history still shows it.
pub const RECENT_MS: i64 = 48 * 3_600_000;
/// The most status queries in one pass (the newest payments first).
pub const PER_PASS: usize = 10;
/// The least time between two passes, so flicking between screens does not flood the line.
pub const MIN_GAP_MS: f64 = 5_000.0;

/// One pass ([`Deliveries::pass`]), boxed.
type Pass = fn(Deliveries) -> Pin<Box<dyn Future<Output = Option<Duration>>>>;

/// The delivery refresher, shared through context.
#[derive(Clone, Copy)]
pub struct Deliveries {
    /// The pass, once a screen has watched: the first [`Deliveries::watch`] puts it here. The
    /// frame (the app's module) starts passes but never names the pass itself, so its code —
    /// the status requests, reading and checking their signed answers — travels with the
    /// screens that show deliveries, chunks loaded on first use (pages/lazy.rs), and a first
    /// visit, which has no payment to follow, does not download it (issue 14).
    pass: StoredValue<Option<Pass>>,
    /// Screens showing deliveries right now.
    watchers: StoredValue<usize>,
    running: StoredValue<bool>,
    last_pass_ms: StoredValue<f64>,
    /// Passes in a row that changed nothing, for the slowing down.
    quiet: StoredValue<usize>,
    /// Bumped for every new timer, so an older timer that fires finds itself stale.
    timer: StoredValue<u64>,
}

/// The payments worth a status query now, newest first: accepted within [`RECENT_MS`] with a
/// delivery that is not final.
pub fn to_refresh(records: &[PaymentRecord], now_ms: i64) -> Vec<PaymentRecord> {
    records
        .iter()
        .filter(|r| r.delivery_pending())
        .filter(|r| now_ms - r.decided_at_ms.unwrap_or(r.payment.created_at_ms) <= RECENT_MS)
        .take(PER_PASS)
        .cloned()
        .collect()
}

impl Deliveries {
    /// Called by a screen that shows deliveries: refreshes now, and keeps refreshing while the
    /// screen is open.
    pub fn watch(&self) {
        let this = *self;
        this.pass.set_value(Some(|deliveries| {
            Box::pin(async move { deliveries.pass().await })
        }));
        this.watchers.update_value(|n| *n += 1);
        on_cleanup(move || this.watchers.update_value(|n| *n = n.saturating_sub(1)));
        this.refresh_now();
    }

    /// A pass now (the network returned, the app came into view, a screen opened), unless one
    /// runs, nobody watches, or the last one was a moment ago.
    pub fn refresh_now(&self) {
        // No pass before a screen has watched: then nobody watches.
        let Some(pass) = self.pass.get_value() else {
            return;
        };
        if self.running.get_value() || self.watchers.get_value() == 0 {
            return;
        }
        let now = js_sys::Date::now();
        if now - self.last_pass_ms.get_value() < MIN_GAP_MS {
            // Not now, but not forgotten: the pass comes when the gap is over.
            self.schedule(Duration::from_millis(MIN_GAP_MS as u64));
            return;
        }
        self.running.set_value(true);
        self.last_pass_ms.set_value(now);
        let this = *self;
        spawn_in_own_task(async move {
            let next = pass(this).await;
            this.running.set_value(false);
            if let Some(wait) = next {
                this.schedule(wait);
            }
        });
    }

    /// One pass; the wait before the next, or `None` when there is nothing to follow (or no
    /// way to: offline, out of view — those triggers start it again).
    async fn pass(&self) -> Option<Duration> {
        let hidden = document().visibility_state() != web_sys::VisibilityState::Visible;
        if hidden || !transport::browser_online() {
            return None;
        }
        let card = store::key_card().await.ok().flatten()?;
        let records = store::history().await.ok()?;
        let pending = to_refresh(&records, js_sys::Date::now() as i64);
        if pending.is_empty() {
            return None;
        }
        let mut changed = false;
        let mut asked_wait = None;
        for record in &pending {
            match settle::refresh_delivery(record, &card).await {
                Ok(Refreshed::Answered(stored)) => changed |= stored.delivery != record.delivery,
                Ok(Refreshed::Unanswered { wait_ms }) => {
                    // The network or the gateway is failing: the others would fare no better.
                    asked_wait = wait_ms;
                    break;
                }
                Err(_) => return None,
            }
        }
        let quiet = if changed {
            0
        } else {
            self.quiet.get_value() + 1
        };
        self.quiet.set_value(quiet);
        // The first quiet pass still waits the shortest: the payment may be a moment from done.
        let wait = REFRESH_AFTER[quiet.saturating_sub(1).min(REFRESH_AFTER.len() - 1)];
        let asked = asked_wait.map(|ms| Duration::from_millis(ms.max(0) as u64));
        Some(asked.map_or(wait, |asked| asked.max(wait)))
    }

    fn schedule(&self, wait: Duration) {
        let generation = self.timer.get_value() + 1;
        self.timer.set_value(generation);
        let this = *self;
        set_timeout(
            move || {
                if this.timer.get_value() == generation {
                    this.refresh_now();
                }
            },
            wait,
        );
    }
}

/// Creates the app's [`Deliveries`] and refreshes when the network returns or the app comes
/// back into view (only while a screen watches).
pub fn provide_deliveries() -> Deliveries {
    let deliveries = Deliveries {
        pass: StoredValue::new(None),
        watchers: StoredValue::new(0),
        running: StoredValue::new(false),
        last_pass_ms: StoredValue::new(0.0),
        quiet: StoredValue::new(0),
        timer: StoredValue::new(0),
    };
    provide_context(deliveries);
    let back = move || {
        // Something may have moved while the phone was away: start quick again.
        deliveries.quiet.set_value(0);
        deliveries.refresh_now();
    };
    let online = window_event_listener(ev::online, move |_| back());
    let visible = window_event_listener(ev::visibilitychange, move |_| {
        if document().visibility_state() == web_sys::VisibilityState::Visible {
            back();
        }
    });
    // The gateway's health answer is a better "the network is back" than the browser's event.
    let connection = use_connection();
    Effect::new(move |was: Option<Connection>| {
        let now = connection.get();
        if was == Some(Connection::Offline) && now == Connection::Online {
            back();
        }
        now
    });
    on_cleanup(move || {
        online.remove();
        visible.remove();
    });
    deliveries
}

/// The app's delivery refresher.
pub fn use_deliveries() -> Deliveries {
    expect_context::<Deliveries>()
}

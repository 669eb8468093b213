//! The payments waiting on the phone, in the top bar: how many, how much, and how long until the
//! oldest one's deadline (after which the gateway refuses it as too old). Square shows a
//! countdown like this for offline payments; a cashier should never be surprised by it.
//!
//! `#outbox-summary` carries `data-count`, `data-total-tiyn` and `data-deadline-ms` (UTC
//! milliseconds, empty without a key card or with nothing waiting); it is hidden while nothing
//! waits. Until the phone has read its outbox (a moment after start; long on a cheap phone, and
//! for good if the storage cannot be read) it shows `◷ …` with `data-known="false"` and no
//! count: a zero there would tell the cashier everything was sent before anyone knows.

use std::time::Duration;

use leptos::prelude::*;

use crate::i18n::*;
use crate::language::use_i18n;
use crate::messages::{hours_minutes, with_value};
use crate::money::format_tenge;
use crate::outbox::use_outbox;
use crate::session::use_key_session;

/// How often the countdown moves: it shows minutes.
const TICK: Duration = Duration::from_secs(15);

#[component]
pub fn OutboxSummary() -> impl IntoView {
    let i18n = use_i18n();
    let outbox = use_outbox();
    let session = use_key_session();
    let (now, set_now) = signal(js_sys::Date::now() as i64);
    if let Ok(handle) =
        set_interval_with_handle(move || set_now.set(js_sys::Date::now() as i64), TICK)
    {
        on_cleanup(move || handle.clear());
    }
    // The clock is read at each render, so a change of what waits never shows a stale time; the
    // interval only makes it render again. The gateway's time, as the deadline is (the payments
    // were signed with it): a phone hours off would count down to the wrong moment.
    let current = move || {
        now.track();
        tolem_outbox::clock::now_ms()
    };
    let deadline = move || {
        let limits = session.record()?.card.offline;
        outbox.waiting().deadline_ms(&limits)
    };
    let known = move || outbox.is_loaded();
    let text = move || {
        let locale = i18n.get_locale();
        if !known() {
            return "…".to_owned();
        }
        let waiting = outbox.waiting();
        let mut text = format!(
            "{} · {}",
            waiting.count,
            format_tenge(waiting.total_tiyn, locale)
        );
        if let Some(deadline) = deadline() {
            let left = deadline - current();
            text.push_str(" · ");
            if left > 0 {
                text.push_str(&with_value(
                    td_string!(locale, outbox_left),
                    "time",
                    &hours_minutes(left, locale),
                ));
            } else {
                text.push_str(td_string!(locale, outbox_overdue));
            }
        }
        text
    };
    view! {
        <a
            href="/history"
            id="outbox-summary"
            class=move || {
                let overdue = known() && deadline().is_some_and(|d| d <= current());
                if !known() {
                    "outbox-summary unknown"
                } else if overdue {
                    "outbox-summary overdue"
                } else {
                    "outbox-summary"
                }
            }
            hidden=move || known() && outbox.waiting().count == 0
            data-known=move || known().to_string()
            data-count=move || known().then(|| outbox.waiting().count.to_string())
            data-total-tiyn=move || known().then(|| outbox.waiting().total_tiyn.to_string())
            data-deadline-ms=move || deadline().map(|d| d.to_string()).unwrap_or_default()
            title=tr!(outbox_title)
            aria-label=move || {
                if known() {
                    format!("{}: {}", td_string!(i18n.get_locale(), outbox_title), text())
                } else {
                    td_string!(i18n.get_locale(), outbox_unknown).to_owned()
                }
            }
        >
            <span class="outbox-icon" aria-hidden="true">"◷"</span>
            <span class="outbox-text">{text}</span>
        </a>
    }
}

/// Bills waiting for customers' cards, in the top bar: only how many — no cash was taken for
/// them, so they are in none of the sums above (nor in the offline limits). `#bills-summary`
/// carries `data-count`; it is hidden while no bill waits.
#[component]
pub fn BillsSummary() -> impl IntoView {
    let i18n = use_i18n();
    let outbox = use_outbox();
    let count = move || outbox.waiting().bills;
    view! {
        <a
            href="/history"
            id="bills-summary"
            class="bills-summary"
            hidden=move || count() == 0
            data-count=move || count().to_string()
            title=tr!(bills_title)
            aria-label=move || format!("{}: {}", td_string!(i18n.get_locale(), bills_title), count())
        >
            <span class="bills-icon" aria-hidden="true">"▭"</span>
            <span class="bills-count">{count}</span>
        </a>
    }
}

//! A line under the top bar while the phone's clock is off the gateway's by more than a minute
//! ([`tolem_outbox::clock::WARN_OFFSET_MS`]): cheap phones keep bad time. Payments are signed
//! with the gateway's time anyway ([`tolem_outbox::clock::now_ms`]); the cashier should still fix
//! the clock, which the receipts and the countdowns read. `#clock-warning` carries
//! `data-offset-ms`.

use std::time::Duration;

use leptos::prelude::*;
use tolem_outbox::clock;

use crate::i18n::*;
use crate::language::use_i18n;
use crate::messages::{hours_minutes, with_value};

/// How often the offset is read again: it changes with the health checks and the answers.
const TICK: Duration = Duration::from_secs(5);

#[component]
pub fn ClockWarning() -> impl IntoView {
    let i18n = use_i18n();
    let (offset, set_offset) = signal(clock::offset_ms());
    if let Ok(handle) = set_interval_with_handle(move || set_offset.set(clock::offset_ms()), TICK) {
        on_cleanup(move || handle.clear());
    }
    move || {
        let off = offset.get();
        (off.abs() > clock::WARN_OFFSET_MS).then(|| {
            let locale = i18n.get_locale();
            let text = with_value(
                td_string!(locale, clock_warning),
                "time",
                &hours_minutes(off.abs(), locale),
            );
            view! {
                <p id="clock-warning" class="clock-warning" role="alert" data-offset-ms=off.to_string()>
                    {text}
                </p>
            }
        })
    }
}

//! A bill on screen while the customer pays it by card on their own phone: a large QR code of
//! the link that carries the signed bill (`<origin>/bill/<token>`; the gateway serves the app, so
//! this page's origin is the gateway's), the link as text, what the customer pays, to whom, the
//! time left, and *Cancel bill*.
//!
//! The outcome comes only from the gateway's signed answers to the bill's pre-signed `status`
//! (the same bytes every time): while this screen is shown, the app is in view and the browser
//! online, it asks every [`POLL_EVERY`]; otherwise the outbox's replay (the page's and the
//! service worker's) asks. Every answer is stored first ([`payments::ask_bill`]), and the screen
//! shows what is stored — also when another tab or the worker got the answer.
//!
//! *Cancel bill* stores the cancel before it is sent ([`payments::cancel_bill`]): without a
//! connection the bill stays *cancelling* and the replay sends the cancel when the network
//! returns; an answer that says the customer paid first wins, and the outcome says so.

use std::time::Duration;

use leptos::prelude::*;
use leptos::task::spawn_local;
use tolem_outbox::record::{PaymentRecord, State};
use tolem_outbox::store::StoreError;
use tolem_outbox::{store, transport};
use tolem_protocol::messages::CardRefusal;

use crate::components::{Notice, QrCode, StateBadge, money};
use crate::connection::{Connection, use_connection};
use crate::i18n::*;
use crate::language::use_i18n;
use crate::messages::{Explain, with_value};
use crate::outbox::use_outbox;
use crate::payments::{self, on_payment_change};

/// How often the screen asks the gateway about the bill: the customer is standing at the
/// counter, and a status query is a few hundred bytes.
pub const POLL_EVERY: Duration = Duration::from_secs(3);
/// How often the countdown moves.
const TICK: Duration = Duration::from_secs(1);

/// Why the customer's card was refused, in `locale`.
pub fn card_refusal_text(locale: Locale, refusal: CardRefusal) -> &'static str {
    match refusal {
        CardRefusal::InsufficientFunds => td_string!(locale, card_refusal_insufficient_funds),
        CardRefusal::NotEnabledForInternet => {
            td_string!(locale, card_refusal_not_enabled_for_internet)
        }
        CardRefusal::CardExpired => td_string!(locale, card_refusal_card_expired),
        CardRefusal::WrongCardData => td_string!(locale, card_refusal_wrong_card_data),
        CardRefusal::LimitExceeded => td_string!(locale, card_refusal_limit_exceeded),
        CardRefusal::AuthenticationFailed => td_string!(locale, card_refusal_authentication_failed),
        CardRefusal::Declined => td_string!(locale, card_refusal_declined),
    }
}

/// "The customer's card was refused: <reason>." in `locale`.
pub fn card_refused_text(locale: Locale, refusal: CardRefusal) -> String {
    with_value(
        td_string!(locale, bill_card_refused),
        "reason",
        card_refusal_text(locale, refusal),
    )
}

/// Time left as `m:ss` (`h:mm:ss` from an hour), rounded up so it never shows 0:00 early.
pub fn countdown(left_ms: i64) -> String {
    let seconds = (left_ms.max(0) as u64).div_ceil(1000);
    let (hours, minutes, seconds) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
    if hours > 0 {
        format!("{hours}:{minutes:02}:{seconds:02}")
    } else {
        format!("{minutes}:{seconds:02}")
    }
}

/// The gateway's time as this phone knows it: the bill's deadline is in it (the bill was signed
/// with [`tolem_outbox::clock::now_ms`], and the gateway's own expiry is by its clock), so a
/// phone whose clock is off would otherwise count down to the wrong moment — hide the code while
/// the customer can still pay, or show it after the gateway stopped taking it.
fn now_ms() -> i64 {
    tolem_outbox::clock::now_ms()
}

fn in_view() -> bool {
    document().visibility_state() == web_sys::VisibilityState::Visible
}

/// The bill of `record` while it waits for the customer's card (or the cancel's answer). When
/// it ends — paid, expired, cancelled — `on_final` gets the record as stored.
#[component]
pub fn BillScreen(
    record: PaymentRecord,
    /// The account as the cashier reads it (a phone in its mask).
    account: String,
    #[prop(optional, into)] on_final: Option<Callback<PaymentRecord>>,
) -> impl IntoView {
    let i18n = use_i18n();
    let outbox = use_outbox();
    let connection = use_connection();
    let session = record.session().clone();
    let origin = window().location().origin().unwrap_or_default();
    let link = record.payment.bill_link(&origin).unwrap_or_default();
    let customer_tiyn = record.payment.customer_amount_tiyn;
    let provider_name = record.payment.provider_name.clone();
    let (current, set_current) = signal(record);
    let (now, set_now) = signal(now_ms());
    let (error, set_error) = signal(None::<StoreError>);
    let asking = StoredValue::new(false);

    // Keeping the screen in step with the stored record (changed here, in another tab or in the
    // worker) and with the gateway is what these listeners and timers are for.
    let reload = {
        let session = session.clone();
        move || {
            let session = session.clone();
            spawn_local(async move {
                // `try_`: the screen may be gone by now (its signals with it).
                if let Ok(Some(record)) = store::get(&session).await {
                    set_current.try_set(record);
                }
            });
        }
    };
    on_payment_change(reload);
    let ask = {
        let session = session.clone();
        move || {
            let waiting = current.with_untracked(|r| r.state.is_bill_waiting());
            if !waiting || asking.get_value() || !in_view() || !transport::browser_online() {
                return;
            }
            asking.set_value(true);
            let session = session.clone();
            spawn_local(async move {
                let asked = payments::ask_bill(&session).await;
                // The screen may be gone by now: nothing to show then (the answer is stored).
                asking.try_set_value(false);
                match asked {
                    Ok(record) => {
                        set_current.try_set(record);
                    }
                    Err(e) => {
                        set_error.try_set(Some(e));
                    }
                }
            });
        }
    };
    ask();
    if let Ok(handle) = set_interval_with_handle(ask, POLL_EVERY) {
        on_cleanup(move || handle.clear());
    }
    if let Ok(handle) = set_interval_with_handle(move || set_now.set(now_ms()), TICK) {
        on_cleanup(move || handle.clear());
    }
    Effect::new(move |told: Option<bool>| {
        let record = current.get();
        let ended = record.state.is_final();
        if ended
            && told != Some(true)
            && let Some(on_final) = on_final
        {
            on_final.run(record);
        }
        ended
    });

    let cancel = {
        let session = session.clone();
        move |_| {
            if current.with_untracked(|r| r.state != State::AwaitingCard) {
                return;
            }
            let session = session.clone();
            spawn_local(async move {
                // The screen may be gone by now: `try_`, as above.
                match payments::cancel_bill(&session).await {
                    Ok(record) => {
                        // Not answered yet (no connection): the replay sends the stored cancel.
                        if !record.state.is_final() {
                            outbox.kick();
                        }
                        set_current.try_set(record);
                    }
                    Err(e) => {
                        set_error.try_set(Some(e));
                    }
                }
            });
        }
    };

    let expires_at = move || current.with(|r| r.bill_expires_at_ms().unwrap_or_default());
    let state = move || current.with(|r| r.state);
    // The customer can still pay: show the code only then.
    let payable = move || state() == State::AwaitingCard && now.get() < expires_at();
    let status_text = move || {
        let locale = i18n.get_locale();
        current.with(|record| match record.state {
            State::AwaitingCard if now.get() >= expires_at() => td_string!(locale, bill_time_up),
            State::AwaitingCard if record.bill.is_some() => td_string!(locale, bill_opened),
            State::AwaitingCard => td_string!(locale, bill_waiting),
            State::Cancelling if record.last_failure.is_some() => {
                td_string!(locale, bill_cancelling_later)
            }
            State::Cancelling => td_string!(locale, bill_cancelling),
            _ => "",
        })
    };
    let refusal = move || {
        current.with(|r| {
            r.bill
                .as_ref()
                .and_then(|b| b.refusal)
                .filter(|_| r.state == State::AwaitingCard)
        })
    };

    view! {
        <section
            id="bill"
            class="card bill"
            data-state=move || state().name()
            data-session=session.to_string()
        >
            <h2>{tr!(bill_title)}</h2>
            <p class="result-head">
                {move || view! { <StateBadge state=state() by_card=true /> }}
            </p>
            <p class="bill-amount">
                <span>{tr!(bill_amount_label)}</span>
                <strong id="bill-amount" data-tiyn=customer_tiyn.to_string()>{money(customer_tiyn)}</strong>
            </p>
            <dl class="figures">
                <dt>{tr!(figure_provider)}</dt>
                <dd id="bill-provider">{provider_name}</dd>
                <dt>{tr!(figure_account)}</dt>
                <dd id="bill-account" class="number">{account}</dd>
            </dl>
            <Show when=payable>
                <QrCode id="bill-qr" text=link.clone() label=|l| td_string!(l, bill_qr_label) />
                <p
                    id="bill-countdown"
                    class="bill-countdown"
                    role="timer"
                    data-expires-ms=move || expires_at().to_string()
                >
                    {move || {
                        with_value(
                            td_string!(i18n.get_locale(), bill_expires_in),
                            "time",
                            &countdown(expires_at() - now.get()),
                        )
                    }}
                </p>
                <p class="hint">{tr!(bill_scan_hint)}</p>
                <p class="bill-link-label">{tr!(bill_link_label)}</p>
                <p id="bill-link" class="bill-link">{link.clone()}</p>
            </Show>
            <p id="bill-status" class="progress" role="status">
                <Show when=move || state().is_bill_waiting()>
                    <span class="spinner" aria-hidden="true"></span>
                </Show>
                {status_text}
            </p>
            <Notice
                id="bill-refusal"
                text=Signal::derive(move || {
                    let locale = i18n.get_locale();
                    refusal().map(|r| {
                        format!("{} {}", card_refused_text(locale, r), td_string!(locale, bill_refused_hint))
                    })
                })
            />
            <Notice
                id="bill-offline"
                class="hint"
                text=Signal::derive(move || {
                    (state() == State::AwaitingCard && connection.get() == Connection::Offline)
                        .then(|| td_string!(i18n.get_locale(), bill_offline).to_owned())
                })
            />
            <Notice
                id="bill-error"
                text=Signal::derive(move || error.get().map(|e| e.explain(i18n.get_locale())))
            />
        </section>
        <Show when=move || state() == State::AwaitingCard>
            <nav class="actions">
                <button id="bill-cancel" type="button" class="danger" on:click=cancel.clone()>
                    {tr!(bill_cancel_button)}
                </button>
            </nav>
        </Show>
    }
}

//! A payment's state as the cashier sees it: an icon (a shape, not only a colour) and a label,
//! with the gateway's reason for a rejection. Pages put [`State::name`] in `data-state`. A bill
//! (a card payment) has states of its own — awaiting the card, cancelling, expired, cancelled —
//! and once accepted it reads *paid by card*.

use leptos::prelude::*;
use tolem_outbox::record::{PaymentRecord, State};
use tolem_protocol::codes::ResultCode;

use crate::i18n::*;
use crate::language::protocol_lang;
use crate::language::use_i18n;

/// The label of a state in `locale`; `by_card` when the payment is a bill the customer pays by
/// card (an accepted one was *paid by card*).
pub fn state_label(locale: Locale, state: State, by_card: bool) -> &'static str {
    match state {
        State::Deferred => td_string!(locale, state_deferred),
        State::Sending => td_string!(locale, state_sending),
        State::Unknown => td_string!(locale, state_unknown),
        State::Accepted if by_card => td_string!(locale, state_paid_by_card),
        State::Accepted => td_string!(locale, state_accepted),
        State::Rejected(ResultCode::Duplicate) => td_string!(locale, state_duplicate),
        State::Rejected(ResultCode::BillExpired) => td_string!(locale, state_expired),
        State::Rejected(ResultCode::BillCancelled) => td_string!(locale, state_cancelled),
        State::Rejected(_) => td_string!(locale, state_rejected),
        State::AwaitingCard => td_string!(locale, state_awaiting_card),
        State::Cancelling => td_string!(locale, state_cancelling),
        State::Held(_) => td_string!(locale, state_held),
    }
}

/// What the cashier can do about a refusal for now ([`tolem_outbox::settle::is_held`]): who to
/// ask, or what to check.
pub fn held_advice(locale: Locale, code: ResultCode) -> &'static str {
    match code {
        ResultCode::KeyNotCertified => td_string!(locale, held_advice_certify),
        ResultCode::DealerBlocked => td_string!(locale, held_advice_unblock_dealer),
        ResultCode::CashierBlocked => td_string!(locale, held_advice_unblock_cashier),
        ResultCode::ClockAhead => td_string!(locale, held_advice_clock),
        ResultCode::UnsupportedVersion => td_string!(locale, held_advice_version),
        _ => td_string!(locale, held_advice_unblock_point),
    }
}

/// The gateway's reason for a refusal for now, and what to do about it.
pub fn held_reason(locale: Locale, code: ResultCode) -> String {
    format!(
        "{}. {}",
        code.message(protocol_lang(locale)).trim_end_matches('.'),
        held_advice(locale, code)
    )
}

/// The label of a stored payment's state in `locale`.
pub fn record_label(locale: Locale, record: &PaymentRecord) -> &'static str {
    state_label(locale, record.state, record.payment.is_bill())
}

/// Why a rejected payment was rejected, in the gateway's words for its code; why a held one
/// waits, and what to do about it.
pub fn state_reason(locale: Locale, state: State) -> Option<String> {
    match state {
        State::Rejected(code) => Some(code.message(protocol_lang(locale)).to_owned()),
        State::Held(code) => Some(held_reason(locale, code)),
        _ => None,
    }
}

fn icon(state: State) -> &'static str {
    match state {
        State::Accepted => "✓",
        State::Deferred => "◷",
        State::Sending => "↑",
        State::Unknown => "?",
        State::Rejected(ResultCode::Duplicate) => "=",
        State::Rejected(_) => "✕",
        // A card's outline: the customer pays with one.
        State::AwaitingCard => "▭",
        State::Cancelling => "⊘",
        State::Held(_) => "⏸",
    }
}

/// The icon and label of `state`; `with_reason` adds the rejection's reason below; `by_card`
/// for a bill (an accepted one reads *paid by card*).
#[component]
pub fn StateBadge(
    state: State,
    #[prop(optional)] with_reason: bool,
    #[prop(optional)] by_card: bool,
) -> impl IntoView {
    let i18n = use_i18n();
    let name = state.name();
    view! {
        <span class=format!("state state-{name}") data-state=name>
            <span class="state-icon" aria-hidden="true">{icon(state)}</span>
            <span class="state-label">{move || state_label(i18n.get_locale(), state, by_card)}</span>
        </span>
        {with_reason
            .then_some(move || {
                state_reason(i18n.get_locale(), state)
                    .map(|reason| view! { <span class="state-reason">{reason}</span> })
            })}
    }
}

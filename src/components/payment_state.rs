//! A payment's state as the cashier sees it: an icon (a shape, not only a colour) and a label,
//! with the gateway's reason for a rejection. Pages put [`State::name`] in `data-state`.

use leptos::prelude::*;
use tolem_outbox::record::State;

use crate::i18n::*;
use crate::language::protocol_lang;

/// The label of a state in `locale`.
pub fn state_label(locale: Locale, state: State) -> &'static str {
    match state {
        State::Deferred => td_string!(locale, state_deferred),
        State::Sending => td_string!(locale, state_sending),
        State::Unknown => td_string!(locale, state_unknown),
        State::Accepted => td_string!(locale, state_accepted),
        State::Rejected(tolem_protocol::codes::ResultCode::Duplicate) => {
            td_string!(locale, state_duplicate)
        }
        State::Rejected(_) => td_string!(locale, state_rejected),
    }
}

/// Why a rejected payment was rejected, in the gateway's words for its code.
pub fn state_reason(locale: Locale, state: State) -> Option<&'static str> {
    match state {
        State::Rejected(code) => Some(code.message(protocol_lang(locale))),
        _ => None,
    }
}

fn icon(state: State) -> &'static str {
    match state {
        State::Accepted => "✓",
        State::Deferred => "◷",
        State::Sending => "↑",
        State::Unknown => "?",
        State::Rejected(tolem_protocol::codes::ResultCode::Duplicate) => "=",
        State::Rejected(_) => "✕",
    }
}

/// The icon and label of `state`; `with_reason` adds the rejection's reason below.
#[component]
pub fn StateBadge(state: State, #[prop(optional)] with_reason: bool) -> impl IntoView {
    let i18n = use_i18n();
    let name = state.name();
    view! {
        <span class=format!("state state-{name}") data-state=name>
            <span class="state-icon" aria-hidden="true">{icon(state)}</span>
            <span class="state-label">{move || state_label(i18n.get_locale(), state)}</span>
        </span>
        {with_reason
            .then_some(move || {
                state_reason(i18n.get_locale(), state)
                    .map(|reason| view! { <span class="state-reason">{reason}</span> })
            })}
    }
}

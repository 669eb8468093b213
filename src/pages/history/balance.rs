//! The balance card (manual §15): the dealer's balance, what the point may still pay today and
//! its limit for one payment, with when the gateway said so. *Check balance* asks again with a
//! signed request (the key must be unlocked); the last answer stays on screen offline.

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::balance::use_balance;
use crate::components::{Notice, UnlockForm, local_time};
use crate::i18n::*;
use crate::language::use_i18n;
use crate::messages::Explain;
use crate::money::format_tenge;
use crate::session::{SignedStepError, use_key_session};

#[component]
pub fn BalanceCard() -> impl IntoView {
    let i18n = use_i18n();
    let session = use_key_session();
    let balance = use_balance();
    let (working, set_working) = signal(false);
    let (error, set_error) = signal(None::<SignedStepError>);

    let check = move |_| {
        if working.get_untracked() {
            return;
        }
        set_working.set(true);
        set_error.set(None);
        spawn_local(async move {
            if let Err(e) = balance.check(session).await {
                set_error.set(Some(e));
            }
            set_working.set(false);
        });
    };

    let amount = move |id: &'static str, tiyn: Option<i64>| {
        view! {
            <dd id=id data-tiyn=tiyn.map(|t| t.to_string()).unwrap_or_default()>
                {move || match tiyn {
                    Some(t) => format_tenge(t, i18n.get_locale()),
                    None => td_string!(i18n.get_locale(), balance_no_limit).to_owned(),
                }}
            </dd>
        }
    };

    let figures = move || {
        balance.0.get().map(|known| {
            let info = known.info;
            view! {
                <dl class="figures">
                    <dt>{tr!(balance_dealer)}</dt>
                    {amount("balance-dealer", Some(info.dealer_balance_tiyn))}
                    <dt>{tr!(balance_day_left)}</dt>
                    {amount("balance-day-left", info.point_day_left_tiyn)}
                    <dt>{tr!(balance_payment_limit)}</dt>
                    {amount("balance-payment-limit", info.point_payment_limit_tiyn)}
                </dl>
                <p id="balance-fetched-at" class="hint" data-ms=known.fetched_at_ms>
                    {tr!(balance_fetched_at)} " "
                    {local_time(known.fetched_at_ms)}
                </p>
            }
        })
    };

    view! {
        <section id="balance" class="card">
            <h2>{tr!(balance_title)}</h2>
            {figures}
            <Show when=move || balance.0.with(Option::is_none)>
                <p id="balance-unknown" class="hint">{tr!(balance_unknown)}</p>
            </Show>
            <Notice
                id="balance-error"
                text=Signal::derive(move || error.get().map(|e| e.explain(i18n.get_locale())))
            />
            <Show when=move || working.get()>
                <p id="balance-progress" class="progress" role="status">
                    <span class="spinner" aria-hidden="true"></span>
                    {tr!(balance_working)}
                </p>
            </Show>
            <Show
                when=move || session.is_unlocked()
                fallback=move || {
                    view! {
                        // Folded, so a locked phone still shows the history first.
                        <Show when=move || session.record().is_some()>
                            <details id="balance-unlock" class="unlock-fold">
                                <summary>{tr!(balance_unlock_hint)}</summary>
                                <UnlockForm />
                            </details>
                        </Show>
                    }
                }
            >
                <button id="balance-check" type="button" class="primary" disabled=working on:click=check>
                    {tr!(balance_check)}
                </button>
            </Show>
        </section>
    }
}

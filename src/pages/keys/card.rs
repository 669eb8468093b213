//! Getting the key card (manual 9.1): the point code and password from the dealer go to the
//! gateway, which answers with the card — dealer, point, key serial and the gateway's own key.
//! The password stays in memory for the registration two screens on; it is never stored. The
//! card also brings the point's offline limits, shown here so the cashier knows them from the
//! start.

use leptos::prelude::*;
use leptos::task::spawn_local;
use tolem_protocol::ids::check_code;
use tolem_protocol::messages::{KeyCard, OfflineLimits, PASSWORD_MAX_CHARS};

use crate::api::{self, ApiError};
use crate::i18n::*;
use crate::language::use_i18n;
use crate::messages::{Explain, with_value};
use crate::money::format_tenge;
use crate::pages::PageFrame;
use crate::pages::keys::{KEYS_PATH, back_to_keys, progress};
use crate::session::use_key_session;

/// The card's offline limits in words: what may wait on the phone, and for how long.
fn offline_text(offline: &OfflineLimits, locale: Locale) -> String {
    let hours = crate::format::hours(offline.max_age_ms);
    let text = td_string!(locale, card_offline_text);
    let text = with_value(
        text,
        "payment",
        &format_tenge(offline.max_payment_tiyn, locale),
    );
    let text = with_value(
        &text,
        "total",
        &format_tenge(offline.max_total_tiyn, locale),
    );
    with_value(&text, "hours", &hours)
}

#[component]
pub fn KeyCardPage() -> impl IntoView {
    let i18n = use_i18n();
    let session = use_key_session();
    let (point, set_point) = signal(String::new());
    let (password, set_password) = signal(String::new());
    let (point_invalid, set_point_invalid) = signal(false);
    let (password_invalid, set_password_invalid) = signal(false);
    let (working, set_working) = signal(false);
    let (failure, set_failure) = signal(None::<ApiError>);
    let (received, set_received) = signal(None::<KeyCard>);

    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if working.get_untracked() {
            return;
        }
        // The gateway would refuse these too; saying so here saves the cashier a round trip.
        let code = point.get_untracked().trim().to_owned();
        let secret = password.get_untracked();
        let code_ok = check_code(&code).is_ok();
        let secret_ok = !secret.is_empty() && secret.chars().count() <= PASSWORD_MAX_CHARS;
        set_point_invalid.set(!code_ok);
        set_password_invalid.set(!secret_ok);
        if !(code_ok && secret_ok) {
            return;
        }
        set_working.set(true);
        set_failure.set(None);
        spawn_local(async move {
            match api::get_key_card(&code, &secret).await {
                Ok(card) => {
                    session.begin_enrolment(card.clone(), secret);
                    set_password.set(String::new());
                    set_received.set(Some(card));
                }
                Err(error) => set_failure.set(Some(error)),
            }
            set_working.set(false);
        });
    };

    let form = move || {
        view! {
            <form id="card-form" class="card form" on:submit=on_submit novalidate>
                <p class="hint">{tr!(card_hint)}</p>
                <label for="point-code">{tr!(point_code_label)}</label>
                <input
                    id="point-code"
                    type="text"
                    autocomplete="username"
                    autocapitalize="characters"
                    spellcheck="false"
                    bind:value=(point, set_point)
                    aria-invalid=move || point_invalid.get().to_string()
                />
                <Show when=move || point_invalid.get()>
                    <p id="point-code-error" class="error">{tr!(point_code_invalid)}</p>
                </Show>
                <label for="point-password">{tr!(point_password_label)}</label>
                <input
                    id="point-password"
                    type="password"
                    autocomplete="current-password"
                    bind:value=(password, set_password)
                    aria-invalid=move || password_invalid.get().to_string()
                />
                <Show when=move || password_invalid.get()>
                    <p id="point-password-error" class="error">
                        {tr!(point_password_invalid)}
                    </p>
                </Show>
                <Show when=move || working.get()>
                    {progress("card-progress", tr!(card_working))}
                </Show>
                {move || {
                    failure
                        .get()
                        .map(|error| {
                            view! {
                                <p id="card-error" class="error" role="alert">
                                    {move || error.explain(i18n.get_locale())}
                                </p>
                            }
                        })
                }}
                <button id="card-submit" class="primary" type="submit" disabled=move || working.get()>
                    {tr!(execute_button)}
                </button>
            </form>
        }
    };

    let result = move |card: KeyCard| {
        let offline = card.offline.clone();
        view! {
            <section id="card-result" class="card result ok" role="status">
                <p><strong>{tr!(card_received)}</strong></p>
                <dl>
                    <dt>{tr!(card_dealer)}</dt>
                    <dd id="card-dealer">{format!("{} — {}", card.dealer, card.dealer_name)}</dd>
                    <dt>{tr!(card_point)}</dt>
                    <dd id="card-point">{format!("{} — {}", card.point, card.point_name)}</dd>
                    <dt>{tr!(card_cashier)}</dt>
                    <dd id="card-cashier">{card.cashier.clone()}</dd>
                    <dt>{tr!(card_serial)}</dt>
                    <dd id="card-serial">{card.key_serial.clone()}</dd>
                </dl>
                <h3>{tr!(card_offline_title)}</h3>
                <p
                    id="card-offline"
                    data-max-payment-tiyn=offline.max_payment_tiyn.to_string()
                    data-max-total-tiyn=offline.max_total_tiyn.to_string()
                    data-max-age-ms=offline.max_age_ms.to_string()
                >
                    {
                        let offline = offline.clone();
                        move || offline_text(&offline, i18n.get_locale())
                    }
                </p>
                <p class="hint">{tr!(card_next_hint)}</p>
            </section>
            <nav class="actions">
                <a href="/settings/keys/generate" id="card-next" class="button primary">
                    {tr!(next_button)}
                </a>
            </nav>
        }
    };

    view! {
        <PageFrame
            title=|l| td_string!(l, card_title)
            back=KEYS_PATH
            back_label=back_to_keys
        >
            {move || {
                if session.record().is_some() {
                    view! { <p id="card-key-exists" class="error">{tr!(error_key_exists)}</p> }
                        .into_any()
                } else if let Some(card) = received.get() {
                    result(card).into_any()
                } else {
                    form().into_any()
                }
            }}
        </PageFrame>
    }
}

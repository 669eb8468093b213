//! Generating the keys (manual 9.2): the passphrase twice, then the phone makes the key pair,
//! seals the private half under the passphrase, stores it, and goes straight on to registration.

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::i18n::*;
use crate::language::use_i18n;
use crate::messages::Explain;
use crate::pages::PageFrame;
use crate::pages::keys::{KEYS_PATH, back_to_keys, progress, refused_passphrase};
use crate::routing::use_address;
use crate::session::use_key_session;
use crate::storage::keystore::{self, KeyStoreError, PassphraseError};

#[component]
pub fn GenerateKeyPage() -> impl IntoView {
    let i18n = use_i18n();
    let session = use_key_session();
    let address = use_address();
    let (passphrase, set_passphrase) = signal(String::new());
    let (repeated, set_repeated) = signal(String::new());
    let (passphrase_error, set_passphrase_error) = signal(None::<PassphraseError>);
    let (repeated_error, set_repeated_error) = signal(None::<PassphraseError>);
    let (working, set_working) = signal(false);
    let (failure, set_failure) = signal(None::<KeyStoreError>);

    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if working.get_untracked() {
            return;
        }
        let Some(card) = session.enrolment() else {
            return;
        };
        let typed = passphrase.get_untracked();
        let (first, second) = keystore::check_passphrase(&typed, &repeated.get_untracked());
        set_passphrase_error.set(first.err());
        set_repeated_error.set(second.err());
        if first.is_err() || second.is_err() {
            return;
        }
        set_passphrase.set(String::new());
        set_repeated.set(String::new());
        set_working.set(true);
        set_failure.set(None);
        spawn_local(async move {
            let created = keystore::create(&card, &typed).await;
            drop(typed);
            match created {
                Ok((record, key)) => {
                    session.adopt(record, key);
                    // The manual's "Next" to registration, taken for the cashier.
                    address.open("/settings/keys/register");
                }
                Err(error) => {
                    set_failure.set(Some(error));
                    set_working.set(false);
                }
            }
        });
    };

    let form = move || {
        view! {
            <form id="generate-form" class="card form" on:submit=on_submit novalidate>
                <p class="hint">{tr!(generate_hint)}</p>
                <label for="passphrase">{tr!(passphrase_label)}</label>
                <input
                    id="passphrase"
                    type="password"
                    autocomplete="new-password"
                    bind:value=(passphrase, set_passphrase)
                    aria-invalid=move || passphrase_error.get().is_some().to_string()
                    disabled=move || working.get()
                />
                {refused_passphrase("passphrase-error", passphrase_error)}
                <label for="passphrase-repeat">{tr!(passphrase_repeat_label)}</label>
                <input
                    id="passphrase-repeat"
                    type="password"
                    autocomplete="new-password"
                    bind:value=(repeated, set_repeated)
                    aria-invalid=move || repeated_error.get().is_some().to_string()
                    disabled=move || working.get()
                />
                {refused_passphrase("passphrase-repeat-error", repeated_error)}
                <Show when=move || working.get()>
                    <progress class="wide" aria-hidden="true"></progress>
                    {progress("generate-progress", tr!(generate_working))}
                </Show>
                {move || {
                    failure
                        .get()
                        .map(|error| {
                            view! {
                                <p id="generate-error" class="error" role="alert">
                                    {move || error.explain(i18n.get_locale())}
                                </p>
                            }
                        })
                }}
                <button
                    id="generate-submit"
                    class="primary"
                    type="submit"
                    disabled=move || working.get()
                >
                    {tr!(execute_button)}
                </button>
            </form>
        }
    };

    view! {
        <PageFrame
            title=|l| td_string!(l, generate_title)
            back=KEYS_PATH
            back_label=back_to_keys
        >
            {move || {
                if session.record().is_some() && !working.get() {
                    view! {
                        <p id="generate-key-exists" class="error">{tr!(error_key_exists)}</p>
                    }
                        .into_any()
                } else if session.enrolment().is_none() {
                    view! {
                        <p id="generate-no-card" class="error">{tr!(generate_no_card)}</p>
                        <nav class="actions">
                            <a href="/settings/keys/card" class="button primary">
                                {tr!(keys_get_card)}
                            </a>
                        </nav>
                    }
                        .into_any()
                } else {
                    form().into_any()
                }
            }}
        </PageFrame>
    }
}

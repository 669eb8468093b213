//! Changing the passphrase of the point key (issue 16): the old one first (checked like an
//! unlock, with the same waits after failures), then the new one twice. The seed is sealed again
//! under the new passphrase; the key, its registration and its certification stay as they are.

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::i18n::*;
use crate::language::use_i18n;
use crate::messages::Explain;
use crate::pages::PageFrame;
use crate::pages::keys::{KEYS_PATH, back_to_keys, loading, progress, refused_passphrase};
use crate::session::use_key_session;
use crate::storage::keystore::{self, PassphraseError, UnlockError};

#[component]
pub fn ChangePassphrasePage() -> impl IntoView {
    let i18n = use_i18n();
    let session = use_key_session();
    let (old, set_old) = signal(String::new());
    let (new, set_new) = signal(String::new());
    let (repeated, set_repeated) = signal(String::new());
    let (new_error, set_new_error) = signal(None::<PassphraseError>);
    let (repeated_error, set_repeated_error) = signal(None::<PassphraseError>);
    let (working, set_working) = signal(false);
    let (failure, set_failure) = signal(None::<UnlockError>);
    let (changed, set_changed) = signal(false);

    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if working.get_untracked() {
            return;
        }
        let typed = new.get_untracked();
        let (first, second) = keystore::check_passphrase(&typed, &repeated.get_untracked());
        set_new_error.set(first.err());
        set_repeated_error.set(second.err());
        if first.is_err() || second.is_err() {
            return;
        }
        let current = old.get_untracked();
        set_working.set(true);
        set_failure.set(None);
        spawn_local(async move {
            // The app's other tabs lock: their key was opened with the old passphrase.
            match session.change_passphrase(&current, &typed).await {
                Ok(_) => {
                    set_old.set(String::new());
                    set_new.set(String::new());
                    set_repeated.set(String::new());
                    set_changed.set(true);
                }
                // The fields stay as typed, so a mistyped old passphrase is fixed in place.
                Err(error) => set_failure.set(Some(error)),
            }
            set_working.set(false);
        });
    };

    let password = move |id: &'static str,
                         autocomplete: &'static str,
                         (value, set): (ReadSignal<String>, WriteSignal<String>),
                         invalid: Signal<bool>| {
        view! {
            <input
                id=id
                type="password"
                autocomplete=autocomplete
                bind:value=(value, set)
                aria-invalid=move || invalid.get().to_string()
                disabled=move || working.get()
            />
        }
    };

    let form = move || {
        view! {
            <form id="passphrase-form" class="card form" on:submit=on_submit novalidate>
                <p class="hint">{tr!(passphrase_change_hint)}</p>
                <label for="passphrase-old">{tr!(passphrase_old_label)}</label>
                {password(
                    "passphrase-old",
                    "current-password",
                    (old, set_old),
                    Signal::derive(move || failure.get().is_some()),
                )}
                {move || {
                    failure
                        .get()
                        .map(|error| {
                            view! {
                                <p id="passphrase-old-error" class="error" role="alert">
                                    {move || error.explain(i18n.get_locale())}
                                </p>
                            }
                        })
                }}
                <label for="passphrase-new">{tr!(passphrase_new_label)}</label>
                {password(
                    "passphrase-new",
                    "new-password",
                    (new, set_new),
                    Signal::derive(move || new_error.get().is_some()),
                )}
                {refused_passphrase("passphrase-new-error", new_error)}
                <label for="passphrase-new-repeat">{tr!(passphrase_repeat_label)}</label>
                {password(
                    "passphrase-new-repeat",
                    "new-password",
                    (repeated, set_repeated),
                    Signal::derive(move || repeated_error.get().is_some()),
                )}
                {refused_passphrase("passphrase-new-repeat-error", repeated_error)}
                <Show when=move || working.get()>
                    {progress("passphrase-progress", tr!(passphrase_change_working))}
                </Show>
                <Show when=move || changed.get()>
                    <p id="passphrase-changed" class="ok" role="status">
                        {tr!(passphrase_changed)}
                    </p>
                </Show>
                <button
                    id="passphrase-submit"
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
            title=|l| td_string!(l, passphrase_change_title)
            back=KEYS_PATH
            back_label=back_to_keys
        >
            {move || {
                if !session.is_loaded() {
                    loading().into_any()
                } else if session.record().is_none() {
                    view! { <p id="passphrase-no-key" class="error">{tr!(error_no_key)}</p> }
                        .into_any()
                } else {
                    form().into_any()
                }
            }}
        </PageFrame>
    }
}

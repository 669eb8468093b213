//! The passphrase form that unlocks the point key for the shift. After repeated failures it
//! shows how long the next try has to wait, counting down, and refuses until then.

use std::time::Duration;

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::i18n::*;
use crate::language::use_i18n;
use crate::messages::{Explain, seconds, with_number};
use crate::session::use_key_session;
use crate::storage::keystore::{self, UnlockError};

#[component]
pub fn UnlockForm() -> impl IntoView {
    let i18n = use_i18n();
    let session = use_key_session();
    let (passphrase, set_passphrase) = signal(String::new());
    let (working, set_working) = signal(false);
    let (error, set_error) = signal(None::<UnlockError>);
    // When the next try is allowed (ms since the epoch), and the clock the countdown reads.
    let (wait_until, set_wait_until) = signal(0.0_f64);
    let (now, set_now) = signal(js_sys::Date::now());

    let wait_for = move |wait: Duration| {
        set_now.set(js_sys::Date::now());
        set_wait_until.set(js_sys::Date::now() + wait.as_millis() as f64);
    };
    // A wait imposed before a reload still applies: ask the key store.
    spawn_local(async move {
        if let Ok(Some(wait)) = keystore::unlock_wait().await {
            wait_for(wait);
        }
    });
    let ticking = set_interval_with_handle(
        move || set_now.set(js_sys::Date::now()),
        Duration::from_secs(1),
    )
    .ok();
    on_cleanup(move || {
        if let Some(handle) = ticking {
            handle.clear();
        }
    });
    let remaining = move || {
        let left = wait_until.get() - now.get();
        (left > 0.0).then(|| seconds(Duration::from_millis(left as u64)))
    };

    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if working.get_untracked() || remaining().is_some() {
            return;
        }
        let typed = passphrase.get_untracked();
        set_passphrase.set(String::new());
        set_working.set(true);
        set_error.set(None);
        spawn_local(async move {
            let result = session.unlock(&typed).await;
            drop(typed);
            set_working.set(false);
            if let Err(error) = result {
                if let UnlockError::WrongPassphrase {
                    wait: Some(wait), ..
                }
                | UnlockError::TooSoon { wait } = &error
                {
                    wait_for(*wait);
                }
                set_error.set(Some(error));
            }
        });
    };

    view! {
        <form id="unlock-form" class="card form" on:submit=on_submit>
            <h2>{tr!(unlock_title)}</h2>
            <p class="hint">{tr!(unlock_hint)}</p>
            <label for="unlock-passphrase">{tr!(passphrase_label)}</label>
            <input
                id="unlock-passphrase"
                type="password"
                autocomplete="current-password"
                bind:value=(passphrase, set_passphrase)
            />
            {move || {
                error
                    .get()
                    .filter(|e| !matches!(e, UnlockError::TooSoon { .. }))
                    .map(|e| {
                        view! {
                            <p id="unlock-error" class="error" role="alert">
                                {move || e.explain(i18n.get_locale())}
                            </p>
                        }
                    })
            }}
            {move || {
                remaining()
                    .map(|left| {
                        view! {
                            <p id="unlock-wait" class="wait" role="status" data-seconds=left>
                                {move || with_number(
                                    td_string!(i18n.get_locale(), unlock_wait),
                                    left,
                                )}
                            </p>
                        }
                    })
            }}
            {move || {
                working
                    .get()
                    .then(|| {
                        view! {
                            <p id="unlock-progress" class="progress" role="status">
                                <span class="spinner" aria-hidden="true"></span>
                                {tr!(unlock_working)}
                            </p>
                        }
                    })
            }}
            <button
                id="unlock-submit"
                class="primary"
                type="submit"
                disabled=move || working.get() || remaining().is_some()
            >
                {tr!(unlock_button)}
            </button>
        </form>
    }
}

//! Registering the key (manual 9.3): the public key goes to the gateway with the point code and
//! password filled in from the card step, signed by the new key itself. Started automatically
//! when the cashier arrives from key generation; otherwise (or after a failure) by hand.

use leptos::prelude::*;
use leptos::task::spawn_local;
use tolem_protocol::messages::KeyState;

use crate::components::UnlockForm;
use crate::i18n::*;
use crate::language::use_i18n;
use crate::messages::Explain;
use crate::pages::PageFrame;
use crate::pages::keys::{KEYS_PATH, back_to_keys, loading, progress, state_text};
use crate::session::{SignedStepError, use_key_session};

/// Where this screen's registration stands.
#[derive(Clone, Debug)]
enum Registration {
    NotStarted,
    Working,
    Done(KeyState),
    Failed(SignedStepError),
}

#[component]
pub fn RegisterKeyPage() -> impl IntoView {
    let i18n = use_i18n();
    let session = use_key_session();
    let (status, set_status) = signal(Registration::NotStarted);
    let remembered = session
        .point_password()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    let (password, set_password) = signal(remembered);
    let (password_missing, set_password_missing) = signal(false);

    let register = move || {
        let typed = password.get_untracked();
        set_password_missing.set(typed.is_empty());
        if typed.is_empty() || matches!(status.get_untracked(), Registration::Working) {
            return;
        }
        set_status.set(Registration::Working);
        spawn_local(async move {
            let outcome = session.register(&typed).await;
            set_status.set(match outcome {
                Ok(state) => {
                    set_password.set(String::new());
                    Registration::Done(state)
                }
                Err(error) => Registration::Failed(error),
            });
        });
    };

    // Arriving from key generation, everything is at hand: press "Execute" for the cashier.
    let ready = session
        .record_untracked()
        .is_some_and(|r| r.state.is_none())
        && session.is_unlocked_untracked()
        && !password.get_untracked().is_empty();
    if ready {
        register();
    }

    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        register();
    };

    let outcome = move || {
        match status.get() {
        Registration::NotStarted => None,
        Registration::Working => Some(progress("register-progress", tr!(register_working)).into_any()),
        Registration::Done(state) => Some(
            view! {
                <section id="register-result" class="card result ok" role="status" data-outcome="registered">
                    <p><strong>{tr!(register_done)}</strong></p>
                    <p class="hint">{move || state_text(i18n.get_locale(), Some(state))}</p>
                    <p class="hint">{tr!(register_next_hint)}</p>
                </section>
                <nav class="actions">
                    <a href="/settings/keys/view" id="register-next" class="button primary">
                        {tr!(next_button)}
                    </a>
                </nav>
            }
            .into_any(),
        ),
        Registration::Failed(error) => Some(
            view! {
                <section id="register-result" class="card result bad" role="alert" data-outcome="failed">
                    <p><strong>{tr!(register_failed)}</strong></p>
                    <p id="register-error">{move || error.explain(i18n.get_locale())}</p>
                </section>
            }
            .into_any(),
        ),
    }
    };

    let form = move |point: String| {
        view! {
            <Show when=move || !session.is_unlocked()>
                <UnlockForm />
            </Show>
            <form id="register-form" class="card form" on:submit=on_submit novalidate>
                <p class="hint">{tr!(register_hint)}</p>
                <label for="register-point">{tr!(point_code_label)}</label>
                <input id="register-point" type="text" readonly prop:value=point />
                <label for="register-password">{tr!(point_password_label)}</label>
                <input
                    id="register-password"
                    type="password"
                    autocomplete="current-password"
                    bind:value=(password, set_password)
                />
                <Show when=move || password_missing.get()>
                    <p id="register-password-error" class="error">
                        {tr!(point_password_invalid)}
                    </p>
                </Show>
                <button
                    id="register-submit"
                    class="primary"
                    type="submit"
                    disabled=move || {
                        !session.is_unlocked() || matches!(status.get(), Registration::Working)
                    }
                >
                    {move || {
                        if matches!(status.get(), Registration::Failed(_)) {
                            td_string!(i18n.get_locale(), retry_button)
                        } else {
                            td_string!(i18n.get_locale(), execute_button)
                        }
                    }}
                </button>
            </form>
        }
    };

    let content = move || {
        if !session.is_loaded() {
            return loading().into_any();
        }
        let Some(record) = session.record() else {
            return view! { <p id="register-no-key" class="error">{tr!(no_key)}</p> }.into_any();
        };
        if record.state.is_some() && matches!(status.get(), Registration::NotStarted) {
            // Registered earlier (or elsewhere): nothing to do here.
            let state = record.state;
            return view! {
                <section id="register-result" class="card result ok" data-outcome="registered">
                    <p>{move || state_text(i18n.get_locale(), state)}</p>
                </section>
                <nav class="actions">
                    <a href="/settings/keys/view" id="register-next" class="button primary">
                        {tr!(next_button)}
                    </a>
                </nav>
            }
            .into_any();
        }
        view! {
            {outcome}
            <Show when=move || !matches!(status.get(), Registration::Done(_))>
                {form(record.card.point.clone())}
            </Show>
        }
        .into_any()
    };

    view! {
        <PageFrame
            title=|l| td_string!(l, register_title)
            back=KEYS_PATH
            back_label=back_to_keys
        >
            {content}
        </PageFrame>
    }
}

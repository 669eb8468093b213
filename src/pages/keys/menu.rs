//! The keys menu: where the key stands, the lock, and the way to each key screen — only those
//! that make sense for the key this phone has (or has not).

use leptos::prelude::*;

use crate::components::UnlockForm;
use crate::i18n::*;
use crate::language::use_i18n;
use crate::pages::PageFrame;
use crate::pages::keys::{loading, state_name, state_text};
use crate::session::use_key_session;

#[component]
pub fn KeysPage() -> impl IntoView {
    let i18n = use_i18n();
    let session = use_key_session();

    let content = move || {
        if !session.is_loaded() {
            return loading().into_any();
        }
        let Some(record) = session.record() else {
            return view! {
                <section id="keys-status" class="card" data-key-state="none">
                    <p>{tr!(key_state_none)}</p>
                </section>
                <nav class="actions">
                    <a href="/settings/keys/card" id="keys-get-card" class="button primary">
                        {tr!(keys_get_card)}
                    </a>
                </nav>
            }
            .into_any();
        };
        let state = record.state;
        let unlocked = move || session.is_unlocked();
        view! {
            <section
                id="keys-status"
                class="card"
                data-key-state=state_name(state)
                data-lock=move || if unlocked() { "unlocked" } else { "locked" }
            >
                <p class="key-serial">
                    {tr!(card_serial)}": " <strong>{record.key_serial.clone()}</strong>
                </p>
                <p>{move || state_text(i18n.get_locale(), state)}</p>
                <p class="lock-line">
                    <strong>
                        {move || {
                            let locale = i18n.get_locale();
                            if unlocked() {
                                td_string!(locale, key_unlocked)
                            } else {
                                td_string!(locale, key_locked)
                            }
                        }}
                    </strong>
                    <Show when=unlocked>
                        <button id="key-lock" type="button" on:click=move |_| session.lock()>
                            {tr!(lock_button)}
                        </button>
                    </Show>
                </p>
            </section>
            <Show when=move || !unlocked()>
                <UnlockForm />
            </Show>
            <nav class="actions">
                <Show when=move || state.is_none()>
                    <a href="/settings/keys/register" id="keys-register" class="button primary">
                        {tr!(keys_register)}
                    </a>
                </Show>
                <a href="/settings/keys/view" id="keys-view" class="button">
                    {tr!(keys_view)}
                </a>
                <a href="/settings/keys/passphrase" id="keys-passphrase" class="button">
                    {tr!(keys_passphrase)}
                </a>
                <a href="/settings/keys/delete" id="keys-delete" class="button danger">
                    {tr!(keys_delete)}
                </a>
            </nav>
        }
        .into_any()
    };

    view! {
        <PageFrame
            title=|l| td_string!(l, keys_title)
            back="/settings"
            back_label=|l| td_string!(l, back_to_settings)
        >
            {content}
        </PageFrame>
    }
}

//! The keys menu: where the key stands, the lock, and the way to each key screen — only those
//! that make sense for the key this phone has (or has not).

use leptos::prelude::*;
use leptos_router::components::A;

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
                    <A href="/settings/keys/card" attr:id="keys-get-card" attr:class="button primary">
                        {tr!(keys_get_card)}
                    </A>
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
                    <A href="/settings/keys/register" attr:id="keys-register" attr:class="button primary">
                        {tr!(keys_register)}
                    </A>
                </Show>
                <A href="/settings/keys/view" attr:id="keys-view" attr:class="button">
                    {tr!(keys_view)}
                </A>
                <A href="/settings/keys/passphrase" attr:id="keys-passphrase" attr:class="button">
                    {tr!(keys_passphrase)}
                </A>
                <A href="/settings/keys/delete" attr:id="keys-delete" attr:class="button danger">
                    {tr!(keys_delete)}
                </A>
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

//! Settings → Keys: the screens of the manual's section 9, one module each — get the key card,
//! generate the keys, register the key, view it, delete it — and the keys menu that leads to them.

mod card;
mod delete;
mod generate;
mod menu;
mod passphrase;
mod register;
mod view;

pub use card::KeyCardPage;
pub use delete::DeleteKeyPage;
pub use generate::GenerateKeyPage;
pub use menu::KeysPage;
pub use passphrase::ChangePassphrasePage;
pub use register::RegisterKeyPage;
pub use view::ViewKeyPage;

use leptos::prelude::*;
use tolem_protocol::messages::KeyState;

use crate::i18n::*;
use crate::language::use_i18n;
use crate::messages::Explain;
use crate::storage::keystore::PassphraseError;

/// The keys menu, where every key screen leads back to.
pub const KEYS_PATH: &str = "/settings/keys";

/// A key's standing as a stable word, for `data-key-state` (tests and styles read it).
pub fn state_name(state: Option<KeyState>) -> &'static str {
    match state {
        None => "unregistered",
        Some(KeyState::Pending) => "pending",
        Some(KeyState::Certified) => "certified",
        Some(KeyState::Revoked) => "revoked",
    }
}

/// A key's standing in words.
pub fn state_text(locale: Locale, state: Option<KeyState>) -> &'static str {
    match state {
        None => td_string!(locale, key_state_unregistered),
        Some(KeyState::Pending) => td_string!(locale, key_state_pending),
        Some(KeyState::Certified) => td_string!(locale, key_state_certified),
        Some(KeyState::Revoked) => td_string!(locale, key_state_revoked),
    }
}

/// "Loading…", while the key record is read from storage.
pub fn loading() -> impl IntoView {
    view! { <p class="progress" role="status">{tr!(loading)}</p> }
}

/// A line that says work is under way, with a spinner.
pub fn progress(id: &'static str, text: impl IntoView + 'static) -> impl IntoView {
    view! {
        <p id=id class="progress" role="status">
            <span class="spinner" aria-hidden="true"></span>
            {text}
        </p>
    }
}

/// Why a passphrase typed for the key was refused, under its field (`id`), while it is.
pub fn refused_passphrase(
    id: &'static str,
    error: ReadSignal<Option<PassphraseError>>,
) -> impl IntoView {
    let i18n = use_i18n();
    move || {
        error.get().map(|e| {
            view! { <p id=id class="error">{move || e.explain(i18n.get_locale())}</p> }
        })
    }
}

/// The back-link label of every key screen.
pub fn back_to_keys(locale: Locale) -> &'static str {
    td_string!(locale, back_to_keys)
}

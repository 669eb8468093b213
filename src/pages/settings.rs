//! Settings & keys: the way to the point keys and to the extra commission, the auto-lock time,
//! the interface language.

use std::time::Duration;

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::i18n::*;
use crate::language::LanguageSwitch;
use crate::language::use_i18n;
use crate::pages::commission::COMMISSION_PATH;
use crate::pages::keys::{KEYS_PATH, state_name};
use crate::pages::{ABOUT_PATH, PageFrame};
use crate::session::use_key_session;
use crate::storage::settings::{self, AUTO_LOCK_CHOICES_MIN};

#[component]
pub fn SettingsPage() -> impl IntoView {
    let i18n = use_i18n();
    let session = use_key_session();
    let key_state = move || match session.record() {
        None if session.is_loaded() => td_string!(i18n.get_locale(), key_state_none).to_owned(),
        None => String::new(),
        Some(record) => crate::pages::keys::state_text(i18n.get_locale(), record.state).to_owned(),
    };
    let on_auto_lock = move |ev| {
        let Ok(minutes) = event_target_value(&ev).parse::<u64>() else {
            return;
        };
        let idle = Duration::from_secs(minutes * 60);
        session.set_auto_lock(idle);
        spawn_local(async move {
            let _ = settings::set_auto_lock(idle).await;
        });
    };
    view! {
        <PageFrame title=|l| td_string!(l, settings_title)>
            <section class="card">
                <h2>{tr!(keys_title)}</h2>
                <p
                    id="settings-key-state"
                    data-key-state=move || {
                        session.record().map(|r| state_name(r.state)).unwrap_or("none")
                    }
                >
                    {key_state}
                </p>
                <p class="hint">{tr!(settings_keys_hint)}</p>
                <a href=KEYS_PATH id="settings-keys-link" class="button primary">
                    {tr!(settings_keys_open)}
                </a>
            </section>
            <section class="card">
                <h2>{tr!(commission_title)}</h2>
                <p class="hint">{tr!(settings_commission_hint)}</p>
                <a href=COMMISSION_PATH id="settings-commission-link" class="button">
                    {tr!(settings_commission_open)}
                </a>
            </section>
            <section class="card">
                <h2>
                    <label for="auto-lock-minutes">{tr!(auto_lock_label)}</label>
                </h2>
                <select id="auto-lock-minutes" class="wide" on:change=on_auto_lock>
                    {AUTO_LOCK_CHOICES_MIN
                        .iter()
                        .map(|minutes| {
                            let minutes = *minutes;
                            view! {
                                <option
                                    value=minutes
                                    selected=move || session.auto_lock().as_secs() == u64::from(minutes) * 60
                                >
                                    {minutes}
                                    " "
                                    {tr!(minutes_short)}
                                </option>
                            }
                        })
                        .collect_view()}
                </select>
                <p class="hint">{tr!(auto_lock_hint)}</p>
            </section>
            <section class="card">
                <h2>{tr!(language_label)}</h2>
                <LanguageSwitch />
                <p class="hint">{tr!(settings_language_hint)}</p>
            </section>
            <section class="card">
                <h2>{tr!(about_title)}</h2>
                <p class="hint">{tr!(settings_about_hint)}</p>
                <a href=ABOUT_PATH id="settings-about-link" class="button">
                    {tr!(settings_about_open)}
                </a>
            </section>
        </PageFrame>
    }
}

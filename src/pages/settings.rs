//! Settings & keys: for now the interface language; keys and commission come next.

use leptos::prelude::*;

use crate::i18n::*;
use crate::language::LanguageSwitch;
use crate::pages::PageFrame;

#[component]
pub fn SettingsPage() -> impl IntoView {
    let i18n = use_i18n();
    view! {
        <PageFrame title=Signal::derive(move || t_string!(i18n, settings_title).to_owned())>
            <section class="card">
                <h2>{t!(i18n, language_label)}</h2>
                <LanguageSwitch />
                <p class="hint">{t!(i18n, settings_language_hint)}</p>
            </section>
            <p class="lead">{t!(i18n, settings_body)}</p>
        </PageFrame>
    }
}

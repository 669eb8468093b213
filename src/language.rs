//! The interface language: Russian unless the cashier picked another, remembered on the phone.

use leptos::prelude::*;
use leptos_use::UseCookieOptions;

use crate::i18n::*;

/// Name of the cookie that keeps the cashier's choice of language.
pub const LANGUAGE_COOKIE: &str = "tolem_lang";

/// How long the choice is kept: a year, renewed on every switch.
const LANGUAGE_COOKIE_MAX_AGE_MS: i64 = 365 * 24 * 60 * 60 * 1000;

/// Languages in the order the switch shows them, with the label each is known by in itself.
pub const LANGUAGES: [(Locale, &str); 3] = [
    (Locale::ru, "Рус"),
    (Locale::kk, "Қаз"),
    (Locale::en, "Eng"),
];

/// Makes Russian the starting language when nothing is remembered yet.
///
/// The i18n crate would otherwise follow the browser's language list, and a cashier's phone set to
/// English would open in English; Russian is the working language of the points, so it is the
/// default and the browser's preference is deliberately ignored.
pub fn remember_default_language() {
    let Some(document) = web_sys::window().and_then(|w| w.document()) else {
        return;
    };
    let Ok(document) = document.dyn_into::<web_sys::HtmlDocument>() else {
        return;
    };
    let cookies = document.cookie().unwrap_or_default();
    let remembered = cookies
        .split(';')
        .any(|c| c.trim_start().starts_with(&format!("{LANGUAGE_COOKIE}=")));
    if !remembered {
        let max_age_s = LANGUAGE_COOKIE_MAX_AGE_MS / 1000;
        let _ = document.set_cookie(&format!(
            "{LANGUAGE_COOKIE}=ru; path=/; max-age={max_age_s}; SameSite=Lax"
        ));
    }
}

/// Provides the translation context to everything inside, with the remembered language.
#[component]
pub fn LanguageProvider(children: Children) -> impl IntoView {
    let options = UseCookieOptions::default()
        .max_age(LANGUAGE_COOKIE_MAX_AGE_MS)
        .path("/");
    view! {
        <I18nContextProvider cookie_name=LANGUAGE_COOKIE cookie_options=options>
            {children()}
        </I18nContextProvider>
    }
}

/// A compact language picker; a native `<select>` because phones show it as a big thumb-sized list.
#[component]
pub fn LanguageSwitch() -> impl IntoView {
    let i18n = use_i18n();
    let on_change = move |ev| {
        let code = event_target_value(&ev);
        if let Some((locale, _)) = LANGUAGES.iter().find(|(l, _)| l.as_str() == code) {
            i18n.set_locale(*locale);
        }
    };
    view! {
        <label class="language">
            <span class="visually-hidden">{t!(i18n, language_label)}</span>
            <select on:change=on_change prop:value=move || i18n.get_locale().as_str()>
                {LANGUAGES
                    .iter()
                    .map(|(locale, label)| {
                        let code = locale.as_str();
                        view! {
                            <option value=code selected=move || i18n.get_locale().as_str() == code>
                                {*label}
                            </option>
                        }
                    })
                    .collect_view()}
            </select>
        </label>
    }
}

use wasm_bindgen::JsCast;

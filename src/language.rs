//! The interface language: Russian unless the cashier picked another, remembered on the phone.
//!
//! The choice lives in `localStorage` rather than a cookie, which would travel to the gateway with
//! every request for nothing. The texts themselves are in `i18n`.

use leptos::prelude::*;

use crate::i18n::{self, Locale};

/// Where the choice is kept.
pub const LANGUAGE_KEY: &str = "tolem.language";

/// Languages in the order the switch shows them, with the label each is known by in itself.
pub const LANGUAGES: [(Locale, &str); 3] = [
    (Locale::ru, "Рус"),
    (Locale::kk, "Қаз"),
    (Locale::en, "Eng"),
];

/// The language the cashier chose, shared through context; the switch writes it.
#[derive(Clone, Copy)]
pub struct LanguageChoice(pub RwSignal<Locale>);

impl LanguageChoice {
    /// The current language; a reactive read, so a text that asks follows the switch.
    pub fn get_locale(self) -> Locale {
        self.0.get()
    }

    /// The current language, without following it (for event handlers and one-off messages).
    pub fn get_locale_untracked(self) -> Locale {
        self.0.get_untracked()
    }
}

/// Whether the language the cashier chose last could not be loaded (the release build fetches
/// Kazakh and English on choice, see `i18n`): the app stays in the language it had and says so.
#[derive(Clone, Copy)]
struct LoadFailed(RwSignal<bool>);

/// The cashier's language, from the context [`LanguageProvider`] gives everything inside.
/// The catalogue's texts are read with `td_string!` by locale.
pub fn use_i18n() -> LanguageChoice {
    expect_context()
}

/// The remembered language, or Russian. The browser's own language list is deliberately not
/// consulted: Russian is the working language of the points, whatever the phone is set to.
pub fn remembered_language() -> Locale {
    let stored = storage().and_then(|s| s.get_item(LANGUAGE_KEY).ok().flatten());
    LANGUAGES
        .iter()
        .map(|(locale, _)| *locale)
        .find(|locale| stored.as_deref() == Some(locale.as_str()))
        .unwrap_or(Locale::ru)
}

fn storage() -> Option<web_sys::Storage> {
    window().local_storage().ok().flatten()
}

/// Provides the translation context to everything inside, in the cashier's language.
///
/// `main` loads the remembered language before it mounts the app; should that have failed (no
/// network before the service worker cached the catalogue), the app starts in Russian, tries once
/// more as the switch would (saying so if that fails too), and keeps the choice for next time.
#[component]
pub fn LanguageProvider(children: Children) -> impl IntoView {
    let remembered = remembered_language();
    let choice = RwSignal::new(if i18n::is_loaded(remembered) {
        remembered
    } else {
        Locale::ru
    });
    let failed = RwSignal::new(false);
    provide_context(LanguageChoice(choice));
    provide_context(LoadFailed(failed));
    if choice.get_untracked() != remembered {
        leptos::task::spawn_local(switch_to(remembered, choice, failed));
    }
    // Keeping the outside world (the page's `lang` for screen readers and hyphenation) in step
    // with a signal is what effects are for.
    Effect::new(move |_| {
        if let Some(html) = document().document_element() {
            let _ = html.set_attribute("lang", choice.get().as_str());
        }
    });
    // The children get an owner of their own, and are built and rebuilt under it, so what they
    // set up (the address bar's listeners, effects) is torn down with them when the app is
    // unmounted.
    let owner = Owner::current()
        .expect("the language provider runs inside the app's owner")
        .child();
    let view = owner.with(children);
    leptos::tachys::reactive_graph::OwnedView::new_with_owner(view, owner)
}

/// Shows `locale` once its texts are loaded, and remembers it; if they cannot be, keeps the
/// language the app has and says why ([`LanguageLoadError`]).
async fn switch_to(locale: Locale, choice: RwSignal<Locale>, failed: RwSignal<bool>) {
    match i18n::load(locale).await {
        Ok(()) => {
            failed.set(false);
            choice.set(locale);
            if let Some(storage) = storage() {
                let _ = storage.set_item(LANGUAGE_KEY, locale.as_str());
            }
        }
        Err(error) => {
            web_sys::console::warn_1(&format!("language {}: {error}", locale.as_str()).into());
            failed.set(true);
        }
    }
}

/// A compact language picker; a native `<select>` because phones show it as a big thumb-sized list.
#[component]
pub fn LanguageSwitch() -> impl IntoView {
    let LanguageChoice(choice) = expect_context();
    let LoadFailed(failed) = expect_context();
    let on_change = move |ev: web_sys::Event| {
        let select: web_sys::HtmlSelectElement = event_target(&ev);
        let Some((locale, _)) = LANGUAGES.iter().find(|(l, _)| l.as_str() == select.value()) else {
            return;
        };
        let locale = *locale;
        leptos::task::spawn_local(async move {
            switch_to(locale, choice, failed).await;
            // The list shows what the app shows, also when the choice could not be loaded.
            select.set_value(choice.get_untracked().as_str());
        });
    };
    view! {
        <label class="language">
            <span class="visually-hidden">{tr!(language_label)}</span>
            <select on:change=on_change prop:value=move || choice.get().as_str()>
                {LANGUAGES
                    .iter()
                    .map(|(locale, label)| {
                        let code = locale.as_str();
                        view! {
                            <option value=code selected=move || choice.get().as_str() == code>
                                {*label}
                            </option>
                        }
                    })
                    .collect_view()}
            </select>
        </label>
    }
}

/// Says, in the language the app stayed in, that the chosen one could not be loaded.
#[component]
pub fn LanguageLoadError() -> impl IntoView {
    let LoadFailed(failed) = expect_context();
    move || {
        failed.get().then(|| {
            view! {
                <p id="language-error" class="language-error" role="alert">
                    {tr!(language_load_failed)}
                </p>
            }
        })
    }
}

/// The protocol's name for a locale, for the result-code messages that come with the protocol.
pub fn protocol_lang(locale: Locale) -> tolem_protocol::codes::Lang {
    use tolem_protocol::codes::Lang;
    match locale {
        Locale::ru => Lang::Ru,
        Locale::kk => Lang::Kk,
        Locale::en => Lang::En,
    }
}

/// A catalogue text that follows the language switch, as a view or an attribute value.
///
/// Use it through [`tr!`](crate::tr) rather than `t!`: Leptos generates rendering code once per
/// closure type, and every `t!` is a closure of its own (about a kilobyte of wasm each, which a
/// 128 kbit/s line pays for); here every text is the same closure, the key chosen by a function.
pub fn text(
    pick: fn(Locale) -> &'static str,
) -> impl Fn() -> &'static str + Copy + Send + Sync + 'static {
    let i18n = use_i18n();
    move || pick(i18n.get_locale())
}

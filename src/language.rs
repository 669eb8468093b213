//! The interface language: Russian unless the cashier picked another, remembered on the phone.
//!
//! The choice lives in `localStorage` rather than the i18n crate's cookie: the cookie support pulls
//! a date parser into the download (about a tenth of the app's wasm), and a cookie would travel to
//! the gateway with every request for nothing.

use leptos::prelude::*;

use crate::i18n::*;

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

/// The cashier's language, from the context [`LanguageProvider`] gives everything inside.
///
/// The app's own context rather than the i18n crate's: the crate's provider matches locales by
/// their ICU identifiers, which compiles a BCP 47 parser into the download for three languages
/// the app already names itself. The catalogue's texts are read with `td_string!` by locale.
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
#[component]
pub fn LanguageProvider(children: Children) -> impl IntoView {
    let choice = RwSignal::new(remembered_language());
    provide_context(LanguageChoice(choice));
    // Keeping the outside world (storage, the page's `lang` for screen readers and
    // hyphenation) in step with a signal is what effects are for.
    Effect::new(move |_| {
        let locale = choice.get();
        if let Some(storage) = storage() {
            let _ = storage.set_item(LANGUAGE_KEY, locale.as_str());
        }
        if let Some(html) = document().document_element() {
            let _ = html.set_attribute("lang", locale.as_str());
        }
    });
    // As the i18n crate's provider did: the children get an owner of their own, and are built
    // and rebuilt under it, so what they set up (the address bar's listeners, effects) is torn down
    // with them when the app is unmounted.
    let owner = Owner::current()
        .expect("the language provider runs inside the app's owner")
        .child();
    let view = owner.with(children);
    leptos::tachys::reactive_graph::OwnedView::new_with_owner(view, owner)
}

/// A compact language picker; a native `<select>` because phones show it as a big thumb-sized list.
#[component]
pub fn LanguageSwitch() -> impl IntoView {
    let LanguageChoice(choice) = expect_context();
    let on_change = move |ev| {
        let code = event_target_value(&ev);
        if let Some((locale, _)) = LANGUAGES.iter().find(|(l, _)| l.as_str() == code) {
            choice.set(*locale);
        }
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

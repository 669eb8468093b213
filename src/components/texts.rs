//! Texts that follow the language switch, made the same way everywhere so each kind is one piece
//! of code in the download: a Leptos closure or component is generated once per distinct type,
//! and a 128 kbit/s line pays for every copy (see [`crate::language::text`] for the same idea
//! applied to the catalogue's texts).

use leptos::prelude::*;

use crate::format::local_date_time;
use crate::language::use_i18n;
use crate::money::format_tenge;

/// An amount in tenge, in the current language.
pub fn money(tiyn: i64) -> impl Fn() -> String + Copy + Send + Sync + 'static {
    let i18n = use_i18n();
    move || format_tenge(tiyn, i18n.get_locale())
}

/// An amount, or a dash when there is none yet.
pub fn money_or_dash(tiyn: Option<i64>) -> impl Fn() -> String + Copy + Send + Sync + 'static {
    let i18n = use_i18n();
    move || {
        tiyn.map(|t| format_tenge(t, i18n.get_locale()))
            .unwrap_or_else(|| "—".into())
    }
}

/// A UTC time as a local date and time, in the current language.
pub fn local_time(ms: i64) -> impl Fn() -> String + Copy + Send + Sync + 'static {
    let i18n = use_i18n();
    move || local_date_time(ms, i18n.get_locale())
}

/// A line shown while `text` has something to say: a field's error, a notice. One component
/// for every such line of every page.
#[component]
pub fn Notice(
    /// The element's id (tests and styles find it by this).
    #[prop(into)]
    id: String,
    /// What to say, in the current language; nothing is shown for `None`.
    text: Signal<Option<String>>,
    /// `error` (the default) or another class.
    #[prop(default = "error")]
    class: &'static str,
) -> impl IntoView {
    move || {
        text.get()
            .map(|text| view! { <p id=id.clone() class=class role="alert">{text}</p> })
    }
}

//! The bar on top of every page: the app's name (a link home), the connection, the language.

use leptos::prelude::*;
use leptos_router::components::A;

use crate::components::ConnectionIndicator;
use crate::i18n::*;
use crate::language::LanguageSwitch;

#[component]
pub fn Header() -> impl IntoView {
    let i18n = use_i18n();
    view! {
        <header class="top-bar">
            <A href="/" attr:class="brand">{t!(i18n, app_name)}</A>
            <ConnectionIndicator />
            <LanguageSwitch />
        </header>
    }
}

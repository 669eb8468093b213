//! The main menu: the four things a cashier does, as big thumb-sized tiles.

use leptos::prelude::*;
use leptos_router::components::A;

use crate::i18n::*;

#[component]
pub fn HomePage() -> impl IntoView {
    let i18n = use_i18n();
    view! {
        <h1 class="visually-hidden">{t!(i18n, menu_title)}</h1>
        <nav class="menu" aria-label=move || t_string!(i18n, menu_title)>
            <A href="/pay" attr:class="tile tile-pay">
                <strong>{t!(i18n, menu_payments)}</strong>
                <span>{t!(i18n, menu_payments_hint)}</span>
            </A>
            <A href="/history" attr:class="tile tile-history">
                <strong>{t!(i18n, menu_history)}</strong>
                <span>{t!(i18n, menu_history_hint)}</span>
            </A>
            <A href="/message" attr:class="tile tile-message">
                <strong>{t!(i18n, menu_message)}</strong>
                <span>{t!(i18n, menu_message_hint)}</span>
            </A>
            <A href="/settings" attr:class="tile tile-settings">
                <strong>{t!(i18n, menu_settings)}</strong>
                <span>{t!(i18n, menu_settings_hint)}</span>
            </A>
        </nav>
    }
}

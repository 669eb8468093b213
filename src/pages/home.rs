//! The main menu: the things a cashier does, as big thumb-sized tiles.

use leptos::prelude::*;

#[component]
pub fn HomePage() -> impl IntoView {
    view! {
        <h1 class="visually-hidden">{tr!(menu_title)}</h1>
        <nav class="menu" aria-label=tr!(menu_title)>
            <a href="/pay" class="tile tile-pay">
                <strong>{tr!(menu_payments)}</strong>
                <span>{tr!(menu_payments_hint)}</span>
            </a>
            <a href="/history" class="tile tile-history">
                <strong>{tr!(menu_history)}</strong>
                <span>{tr!(menu_history_hint)}</span>
            </a>
            <a href="/message" class="tile tile-message">
                <strong>{tr!(menu_message)}</strong>
                <span>{tr!(menu_message_hint)}</span>
            </a>
            <a href="/shift" class="tile tile-shift">
                <strong>{tr!(menu_shift)}</strong>
                <span>{tr!(menu_shift_hint)}</span>
            </a>
            <a href="/settings" class="tile tile-settings">
                <strong>{tr!(menu_settings)}</strong>
                <span>{tr!(menu_settings_hint)}</span>
            </a>
        </nav>
    }
}

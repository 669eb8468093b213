//! The main menu: the things a cashier does, as big thumb-sized tiles.

use leptos::prelude::*;
use leptos_router::components::A;

#[component]
pub fn HomePage() -> impl IntoView {
    view! {
        <h1 class="visually-hidden">{tr!(menu_title)}</h1>
        <nav class="menu" aria-label=tr!(menu_title)>
            <A href="/pay" attr:class="tile tile-pay">
                <strong>{tr!(menu_payments)}</strong>
                <span>{tr!(menu_payments_hint)}</span>
            </A>
            <A href="/history" attr:class="tile tile-history">
                <strong>{tr!(menu_history)}</strong>
                <span>{tr!(menu_history_hint)}</span>
            </A>
            <A href="/message" attr:class="tile tile-message">
                <strong>{tr!(menu_message)}</strong>
                <span>{tr!(menu_message_hint)}</span>
            </A>
            <A href="/shift" attr:class="tile tile-shift">
                <strong>{tr!(menu_shift)}</strong>
                <span>{tr!(menu_shift_hint)}</span>
            </A>
            <A href="/settings" attr:class="tile tile-settings">
                <strong>{tr!(menu_settings)}</strong>
                <span>{tr!(menu_settings_hint)}</span>
            </A>
        </nav>
    }
}

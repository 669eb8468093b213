//! The bar on top of every page: the app's name (a link home), the payments waiting to be sent,
//! the bills waiting for customers' cards, the connection, the key's lock, the language.

use leptos::prelude::*;

use crate::components::{BillsSummary, ConnectionIndicator, LockState, OutboxSummary};
use crate::language::LanguageSwitch;

#[component]
pub fn Header() -> impl IntoView {
    view! {
        <header class="top-bar">
            <a href="/" class="brand">{tr!(app_name)}</a>
            <OutboxSummary />
            <BillsSummary />
            <ConnectionIndicator />
            <LockState />
            <LanguageSwitch />
        </header>
    }
}

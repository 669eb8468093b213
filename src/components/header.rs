//! The bar on top of every page: the app's name (a link home), the key's lock and the language;
//! under them the status line — the payments waiting to be sent, the bills waiting for
//! customers' cards, the connection.
//!
//! What the status line shows changes at any moment (a payment deferred or sent, the network
//! lost or back), so its pills live in a line of their own whose height never changes: a bar
//! that grew or shrank would move the whole page under a cashier's finger (see `style.css`).

use leptos::prelude::*;

use crate::components::{BillsSummary, ConnectionIndicator, LockState, OutboxSummary};
use crate::language::LanguageSwitch;

#[component]
pub fn Header() -> impl IntoView {
    view! {
        <header class="top-bar">
            <a href="/" class="brand">{tr!(app_name)}</a>
            <div class="status-line">
                <OutboxSummary />
                <BillsSummary />
                <ConnectionIndicator />
            </div>
            <LockState />
            <LanguageSwitch />
        </header>
    }
}

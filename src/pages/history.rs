//! History section of the main menu.

use leptos::prelude::*;

use crate::i18n::*;
use crate::pages::PageFrame;

#[component]
pub fn HistoryPage() -> impl IntoView {
    view! {
        <PageFrame title=|l| td_string!(l, history_title)>
            <p class="lead">{tr!(history_body)}</p>
        </PageFrame>
    }
}

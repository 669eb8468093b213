//! Message section of the main menu.

use leptos::prelude::*;

use crate::i18n::*;
use crate::pages::PageFrame;

#[component]
pub fn MessagePage() -> impl IntoView {
    view! {
        <PageFrame title=|l| td_string!(l, message_title)>
            <p class="lead">{tr!(message_body)}</p>
        </PageFrame>
    }
}

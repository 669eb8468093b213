//! Payments section of the main menu.

use leptos::prelude::*;

use crate::i18n::*;
use crate::pages::PageFrame;

#[component]
pub fn PaymentsPage() -> impl IntoView {
    view! {
        <PageFrame title=|l| td_string!(l, payments_title)>
            <p class="lead">{tr!(payments_body)}</p>
        </PageFrame>
    }
}

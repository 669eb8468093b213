//! Any address the app does not know.

use leptos::prelude::*;

use crate::i18n::*;
use crate::pages::PageFrame;

#[component]
pub fn NotFoundPage() -> impl IntoView {
    view! {
        <PageFrame title=|l| td_string!(l, not_found_title)>
            <p class="lead">{tr!(not_found_body)}</p>
        </PageFrame>
    }
}

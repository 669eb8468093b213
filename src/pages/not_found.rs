//! Any address the app does not know.

use leptos::prelude::*;

use crate::i18n::*;
use crate::pages::PageFrame;

#[component]
pub fn NotFoundPage() -> impl IntoView {
    let i18n = use_i18n();
    view! {
        <PageFrame title=Signal::derive(move || t_string!(i18n, not_found_title).to_owned())>
            <p class="lead">{t!(i18n, not_found_body)}</p>
        </PageFrame>
    }
}

//! History section of the main menu.

use leptos::prelude::*;

use crate::i18n::*;
use crate::pages::PageFrame;

#[component]
pub fn HistoryPage() -> impl IntoView {
    let i18n = use_i18n();
    view! {
        <PageFrame title=Signal::derive(move || t_string!(i18n, history_title).to_owned())>
            <p class="lead">{t!(i18n, history_body)}</p>
        </PageFrame>
    }
}

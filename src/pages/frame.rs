//! The frame of a section page: a way back to the menu, the title, then the page's content.

use leptos::prelude::*;
use leptos_router::components::A;

use crate::i18n::*;

#[component]
pub fn PageFrame(
    /// The page's heading, already translated (reactive, so it follows the language switch).
    #[prop(into)]
    title: Signal<String>,
    children: Children,
) -> impl IntoView {
    let i18n = use_i18n();
    view! {
        <nav class="back">
            <A href="/">"← " {t!(i18n, back_to_menu)}</A>
        </nav>
        <h1>{title}</h1>
        {children()}
    }
}

//! The frame of a section page: a way back (to the menu, or to the screen above), the title,
//! then the page's content.

use leptos::prelude::*;

use crate::i18n::*;
use crate::language::text;

/// A catalogue text chosen by language, e.g. `|l| td_string!(l, history_title)`.
pub type TextKey = fn(Locale) -> &'static str;

#[component]
pub fn PageFrame(
    /// The page's heading (it follows the language switch).
    title: TextKey,
    /// Where "back" leads; the main menu unless the page sits deeper.
    #[prop(default = "/")]
    back: &'static str,
    /// The name of the page "back" leads to; "Menu" by default.
    #[prop(optional)]
    back_label: Option<TextKey>,
    children: Children,
) -> impl IntoView {
    let back_label = back_label.unwrap_or(|l| td_string!(l, back_to_menu));
    view! {
        <nav class="back">
            <a href=back>"← " {text(back_label)}</a>
        </nav>
        <h1>{text(title)}</h1>
        {children()}
    }
}

//! The frame of every public page: title, language links, the console's stylesheet, no menu.

use maud::{DOCTYPE, Markup, html};
use tolem_protocol::codes::Lang;

use crate::web::language::{self, tr};

/// The page titled `title` around `content`; the language links reload `here` (a path, with
/// no query) in the other languages.
pub fn frame(title: &str, here: &str, content: Markup) -> Markup {
    let lang = language::current();
    html! {
        (DOCTYPE)
        html lang=(lang.tag()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Tolem" }
                link rel="stylesheet" href="/console/console.css";
            }
            body {
                header.top {
                    span.brand { "Tolem" }
                    nav.languages {
                        @for other in Lang::ALL {
                            @if other == lang {
                                strong { (tr(&format!("lang.{}", other.tag()))) }
                            } @else {
                                a href={ (here) "?lang=" (other.tag()) } hreflang=(other.tag()) {
                                    (tr(&format!("lang.{}", other.tag())))
                                }
                            }
                        }
                    }
                }
                main { h1 { (title) } (content) }
            }
        }
    }
}

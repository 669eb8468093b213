//! "Online" / "Offline", with a shape as well as a colour so it reads in sunlight and for the
//! colour-blind.

use leptos::prelude::*;

use crate::connection::{Connection, use_connection};
use crate::i18n::*;
use crate::language::use_i18n;

#[component]
pub fn ConnectionIndicator() -> impl IntoView {
    let i18n = use_i18n();
    let connection = use_connection();
    let online = move || connection.get() == Connection::Online;
    view! {
        <p
            class="connection"
            class:online=online
            class:offline=move || !online()
            role="status"
            data-connection=move || if online() { "online" } else { "offline" }
            title=move || {
                if online() {
                    td_string!(i18n.get_locale(), connection_online_title)
                } else {
                    td_string!(i18n.get_locale(), connection_offline_title)
                }
            }
        >
            <span class="dot" aria-hidden="true"></span>
            {move || {
                if online() { td_string!(i18n.get_locale(), connection_online) } else { td_string!(i18n.get_locale(), connection_offline) }
            }}
        </p>
    }
}

//! The offer to switch to a newer version that the service worker has installed.

use leptos::prelude::*;

use crate::i18n::*;
use crate::service_worker::UpdateState;

#[component]
pub fn UpdatePrompt() -> impl IntoView {
    let i18n = use_i18n();
    let UpdateState(waiting) = expect_context::<UpdateState>();
    move || {
        waiting.get().map(|worker| {
            view! {
                <aside class="update" role="alert">
                    <span>{t!(i18n, update_ready)}</span>
                    <button class="primary" on:click=move |_| worker.activate()>
                        {t!(i18n, update_button)}
                    </button>
                </aside>
            }
        })
    }
}

//! The offer to switch to a newer version that the service worker has installed.

use leptos::prelude::*;

use crate::service_worker::UpdateState;

#[component]
pub fn UpdatePrompt() -> impl IntoView {
    let UpdateState(waiting) = expect_context::<UpdateState>();
    move || {
        waiting.get().map(|worker| {
            view! {
                <aside class="update" role="alert">
                    <span>{tr!(update_ready)}</span>
                    <button class="primary" on:click=move |_| worker.activate()>
                        {tr!(update_button)}
                    </button>
                </aside>
            }
        })
    }
}

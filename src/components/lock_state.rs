//! The key's lock in the top bar: a button that locks at once when the key is unlocked (the
//! cashier steps away from the counter), a link to unlock it when locked, nothing without a key.

use leptos::prelude::*;

use crate::session::use_key_session;

/// A padlock, open or closed; a shape, not only a colour, tells the two apart.
fn padlock(open: bool) -> impl IntoView {
    let shackle = if open {
        "M8 11V7a4 4 0 0 1 7.8-1.2"
    } else {
        "M8 11V7a4 4 0 0 1 8 0v4"
    };
    view! {
        <svg viewBox="0 0 24 24" width="22" height="22" aria-hidden="true" fill="none" stroke="currentColor" stroke-width="2.2" stroke-linecap="round">
            <rect x="5" y="11" width="14" height="10" rx="2" fill="currentColor" />
            <path d=shackle />
        </svg>
    }
}

#[component]
pub fn LockState() -> impl IntoView {
    let session = use_key_session();
    move || {
        session.record()?;
        Some(if session.is_unlocked() {
            view! {
                <button
                    id="header-lock"
                    class="lock-state unlocked"
                    data-lock="unlocked"
                    title=tr!(lock_now_title)
                    aria-label=tr!(lock_now_title)
                    on:click=move |_| session.lock()
                >
                    {padlock(true)}
                </button>
            }
            .into_any()
        } else {
            view! {
                <a
                    href="/settings/keys"
                    id="header-unlock"
                    class="lock-state locked"
                    data-lock="locked"
                    title=tr!(key_locked)
                    aria-label=tr!(key_locked)
                >
                    {padlock(false)}
                </a>
            }
            .into_any()
        })
    }
}

//! Deleting the key (manual 9.5), when the phone leaves service: after a confirmation the key is
//! revoked at the gateway if it can be (unlocked and online), and wiped from the phone always —
//! and the cashier is told which of the two happened.

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::A;
use tolem_protocol::codes::ResultCode;
use tolem_protocol::messages::Step;

use crate::api::ApiError;

use crate::components::UnlockForm;
use crate::connection::{Connection, use_connection};
use crate::i18n::*;
use crate::messages::Explain;
use crate::pages::PageFrame;
use crate::pages::keys::{KEYS_PATH, back_to_keys, loading, progress};
use crate::session::{SignedStepError, use_key_session};
use crate::storage::keystore::KeyStoreError;

/// Why the key was not revoked at the gateway.
#[derive(Clone, Debug)]
enum NotRevoked {
    /// Locked: there was no key in memory to sign the revocation with.
    Locked,
    /// The gateway could not be reached.
    Offline,
    /// The gateway was asked but did not (clearly) revoke it.
    Failed(SignedStepError),
}

#[derive(Clone, Debug)]
enum Deletion {
    Confirming,
    Working,
    Deleted(Result<(), NotRevoked>),
    Failed(KeyStoreError),
}

#[component]
pub fn DeleteKeyPage() -> impl IntoView {
    let i18n = use_i18n();
    let session = use_key_session();
    let connection = use_connection();
    let (deletion, set_deletion) = signal(Deletion::Confirming);

    let on_confirm = move |_| {
        if !matches!(deletion.get_untracked(), Deletion::Confirming) {
            return;
        }
        set_deletion.set(Deletion::Working);
        spawn_local(async move {
            let revoked = if !session.is_unlocked_untracked() {
                Err(NotRevoked::Locked)
            } else if connection.get_untracked() == Connection::Offline {
                Err(NotRevoked::Offline)
            } else {
                match session.send(Step::Revoke).await {
                    // "Already revoked" (revoked from the console, say) is as good as done.
                    Ok(_)
                    | Err(SignedStepError::Api(ApiError::Rejected(ResultCode::KeyRevoked, _))) => {
                        Ok(())
                    }
                    Err(error) => Err(NotRevoked::Failed(error)),
                }
            };
            // Whatever the gateway said, the key leaves this phone.
            set_deletion.set(match session.delete().await {
                Ok(()) => Deletion::Deleted(revoked),
                Err(error) => Deletion::Failed(error),
            });
        });
    };

    let reason = move |why: NotRevoked| match why {
        NotRevoked::Locked => t_string!(i18n, delete_reason_locked).to_owned(),
        NotRevoked::Offline => t_string!(i18n, delete_reason_offline).to_owned(),
        NotRevoked::Failed(error) => error.explain(i18n.get_locale()),
    };

    let content = move || match deletion.get() {
        Deletion::Confirming => {
            if !session.is_loaded() {
                return loading().into_any();
            }
            if session.record().is_none() {
                return view! { <p id="delete-no-key" class="error">{tr!(no_key)}</p> }.into_any();
            }
            view! {
                <Show when=move || !session.is_unlocked()>
                    <p class="hint">{tr!(delete_unlock_hint)}</p>
                    <UnlockForm />
                </Show>
                <section
                    id="delete-dialog"
                    class="card confirm"
                    role="alertdialog"
                    aria-labelledby="delete-question"
                >
                    <p id="delete-question"><strong>{tr!(delete_question)}</strong></p>
                    <div class="actions">
                        <button id="delete-confirm" class="danger" type="button" on:click=on_confirm>
                            {tr!(delete_confirm)}
                        </button>
                        <A href=KEYS_PATH attr:id="delete-cancel" attr:class="button">
                            {tr!(cancel_button)}
                        </A>
                    </div>
                </section>
            }
            .into_any()
        }
        Deletion::Working => progress("delete-progress", tr!(delete_working)).into_any(),
        Deletion::Deleted(Ok(())) => view! {
            <section id="delete-result" class="card result ok" role="status" data-revoked="yes">
                <p><strong>{tr!(delete_done_revoked)}</strong></p>
            </section>
        }
        .into_any(),
        Deletion::Deleted(Err(why)) => view! {
            <section id="delete-result" class="card result warn" role="status" data-revoked="no">
                <p><strong>{tr!(delete_done_local)}</strong></p>
                <p id="delete-reason">{move || reason(why.clone())}</p>
            </section>
        }
        .into_any(),
        Deletion::Failed(error) => view! {
            <section id="delete-result" class="card result bad" role="alert" data-revoked="unknown">
                <p><strong>{tr!(delete_failed)}</strong></p>
                <p>{move || error.explain(i18n.get_locale())}</p>
            </section>
        }
        .into_any(),
    };

    view! {
        <PageFrame
            title=|l| td_string!(l, delete_title)
            back=KEYS_PATH
            back_label=back_to_keys
        >
            {content}
        </PageFrame>
    }
}

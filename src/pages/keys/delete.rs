//! Deleting the key (manual 9.5), when the phone leaves service: after a confirmation the key is
//! revoked at the gateway if it can be (unlocked and online), and wiped from the phone always —
//! and the cashier is told which of the two happened.
//!
//! Payments and letters still waiting in the outbox would be stranded by it (revoked, the key
//! signs nothing; deleted, nothing verifies the gateway's answers): the page says what waits —
//! how many payments, for how much, how many letters — and deletes only after the cashier has
//! saved them to a file ([`tolem_outbox::export`]: the signed requests, for a dealer or support
//! to replay) or has confirmed a second time, in words that say so, that they will be lost
//! (issue 13 item 4). The revocation names the sessions of the key's payments and bills that
//! wait: the gateway keeps them with it and still decides those payments when they are sent
//! from the file, signed by the revoked key as they are, and answers their status.

use leptos::prelude::*;
use leptos::task::spawn_local;
use tolem_protocol::codes::ResultCode;
use tolem_protocol::ids::SessionId;
use tolem_protocol::messages::{REVOKE_WAITING_MAX, Step};

use crate::api::ApiError;

use crate::components::UnlockForm;
use crate::connection::{Connection, use_connection};
use crate::i18n::*;
use crate::language::use_i18n;
use crate::messages::{Explain, with_value};
use crate::money::format_tenge;
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

/// What waits in the outbox, as read when the page opened.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Waiting {
    payments: usize,
    total_tiyn: i64,
    bills: usize,
    letters: usize,
}

impl Waiting {
    fn any(&self) -> bool {
        self.payments + self.bills + self.letters > 0
    }
}

async fn read_waiting() -> Option<Waiting> {
    let payments = tolem_outbox::store::waiting().await.ok()?;
    let letters = tolem_outbox::letters::waiting().await.ok()?;
    let summary = tolem_outbox::limits::Waiting::of(&payments);
    Some(Waiting {
        payments: summary.count,
        total_tiyn: summary.total_tiyn,
        bills: summary.bills,
        letters: letters.len(),
    })
}

/// The sessions of `serial`'s payments and bills still waiting, for its revocation to name (at
/// most as many as a revocation carries). Read when the key is revoked, not when the page
/// opened: a payment may have been settled meanwhile. None when the outbox cannot be read: the
/// key is revoked anyway, as before the list existed.
async fn waiting_sessions(serial: &str) -> Vec<SessionId> {
    let records = tolem_outbox::store::waiting().await.unwrap_or_default();
    records
        .into_iter()
        .filter(|r| !r.state.is_final() && r.payment.pay.signer == serial)
        .map(|r| r.session)
        .take(REVOKE_WAITING_MAX)
        .collect()
}

/// How the cashier dealt with what waits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Waits {
    /// Not dealt with: deleting is refused.
    Unsettled,
    /// The second confirmation is open.
    ConfirmingLoss,
    /// Saved to a file, or the loss confirmed: the key may go.
    Settled,
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
    // `None` until read; a storage that cannot be read counts as something waiting.
    let waiting = RwSignal::new(None::<Waiting>);
    let waits = RwSignal::new(Waits::Unsettled);
    let export_error = RwSignal::new(false);
    spawn_local(async move {
        let read = read_waiting().await.unwrap_or(Waiting {
            payments: 1,
            ..Waiting::default()
        });
        waiting.set(Some(read));
    });
    let blocked = move || match waiting.get() {
        None => true,
        Some(w) => w.any() && waits.get() != Waits::Settled,
    };

    let on_export = move |_| {
        spawn_local(async move {
            let now = js_sys::Date::now() as i64;
            let point = session
                .record_untracked()
                .map_or_else(|| "point".to_owned(), |r| r.card.point);
            let saved = match tolem_outbox::export::waiting_json(now).await {
                Ok(json) => crate::download::save_text(
                    &tolem_outbox::export::file_name(&point, now),
                    "application/json",
                    &json,
                )
                .is_ok(),
                Err(_) => false,
            };
            export_error.set(!saved);
            if saved {
                waits.set(Waits::Settled);
            }
        });
    };

    let on_confirm = move |_| {
        if !matches!(deletion.get_untracked(), Deletion::Confirming) {
            return;
        }
        // Refused while something waits that was neither saved nor given up (the button is
        // hidden then; this guards a stale click).
        if waiting
            .get_untracked()
            .is_none_or(|w| w.any() && waits.get_untracked() != Waits::Settled)
        {
            return;
        }
        set_deletion.set(Deletion::Working);
        spawn_local(async move {
            let revoked = if !session.is_unlocked_untracked() {
                Err(NotRevoked::Locked)
            } else if connection.get_untracked() == Connection::Offline {
                Err(NotRevoked::Offline)
            } else {
                let serial = session
                    .record_untracked()
                    .map(|r| r.card.key_serial)
                    .unwrap_or_default();
                let waiting = waiting_sessions(&serial).await;
                match session.send(Step::revoke(waiting)).await {
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
        NotRevoked::Locked => td_string!(i18n.get_locale(), delete_reason_locked).to_owned(),
        NotRevoked::Offline => td_string!(i18n.get_locale(), delete_reason_offline).to_owned(),
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
                {move || waiting_notice(waiting.get(), waits, export_error, on_export)}
                <section
                    id="delete-dialog"
                    class="card confirm"
                    role="alertdialog"
                    aria-labelledby="delete-question"
                >
                    <p id="delete-question"><strong>{tr!(delete_question)}</strong></p>
                    <div class="actions">
                        <Show when=move || !blocked()>
                            <button id="delete-confirm" class="danger" type="button" on:click=on_confirm>
                                {tr!(delete_confirm)}
                            </button>
                        </Show>
                        <a href=KEYS_PATH id="delete-cancel" class="button">
                            {tr!(cancel_button)}
                        </a>
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

/// What waits and the two ways past it: save it to a file, or confirm twice that it is lost.
fn waiting_notice(
    waiting: Option<Waiting>,
    waits: RwSignal<Waits>,
    export_error: RwSignal<bool>,
    on_export: impl Fn(leptos::ev::MouseEvent) + Copy + Send + Sync + 'static,
) -> Option<impl IntoView> {
    let i18n = use_i18n();
    let w = waiting.filter(Waiting::any)?;
    let summary = move || {
        let locale = i18n.get_locale();
        let text = with_value(
            td_string!(locale, delete_waiting),
            "payments",
            &w.payments.to_string(),
        );
        let text = with_value(&text, "sum", &format_tenge(w.total_tiyn, locale));
        let text = with_value(&text, "letters", &w.letters.to_string());
        with_value(&text, "bills", &w.bills.to_string())
    };
    let loss = move || {
        let locale = i18n.get_locale();
        let text = with_value(
            td_string!(locale, delete_lose_question),
            "payments",
            &w.payments.to_string(),
        );
        let text = with_value(&text, "sum", &format_tenge(w.total_tiyn, locale));
        with_value(&text, "letters", &w.letters.to_string())
    };
    Some(view! {
        <section id="delete-waiting" class="card result warn" role="alert"
            data-payments=w.payments data-total-tiyn=w.total_tiyn data-letters=w.letters
            data-bills=w.bills>
            <p><strong>{tr!(delete_waiting_title)}</strong></p>
            <p id="delete-waiting-summary">{summary}</p>
            {move || match waits.get() {
                Waits::Settled => view! {
                    <p id="delete-waiting-settled">{tr!(delete_waiting_settled)}</p>
                }.into_any(),
                Waits::Unsettled => view! {
                    <p>{tr!(delete_waiting_hint)}</p>
                    <div class="actions">
                        <button id="delete-export" class="primary" type="button" on:click=on_export>
                            {tr!(delete_export)}
                        </button>
                        <button id="delete-lose" class="danger-outline" type="button"
                            on:click=move |_| waits.set(Waits::ConfirmingLoss)>
                            {tr!(delete_lose)}
                        </button>
                    </div>
                    <Show when=move || export_error.get()>
                        <p id="delete-export-error" class="error" role="alert">{tr!(delete_export_failed)}</p>
                    </Show>
                }.into_any(),
                Waits::ConfirmingLoss => view! {
                    <div id="delete-lose-dialog" role="alertdialog" aria-labelledby="delete-lose-question">
                        <p id="delete-lose-question"><strong>{loss}</strong></p>
                        <div class="actions">
                            <button id="delete-lose-confirm" class="danger" type="button"
                                on:click=move |_| waits.set(Waits::Settled)>
                                {tr!(delete_lose_confirm)}
                            </button>
                            <button id="delete-lose-cancel" type="button"
                                on:click=move |_| waits.set(Waits::Unsettled)>
                                {tr!(cancel_button)}
                            </button>
                        </div>
                    </div>
                }.into_any(),
            }}
        </section>
    })
}

//! Send message (manual §16): a letter to any e-mail address, signed with the point key on the
//! phone; the gateway checks the signature, countersigns it and e-mails it. Without a network the
//! signed letter waits in the outbox like a deferred payment and the same replayer sends it — the
//! same signed bytes under the same session, so the gateway never mails it twice.
//!
//! `/message?payment=<session>` starts with that payment's data and signed request as the text
//! (§12.3 through the gateway, when the phone is online; the share sheet and `mailto:` on the
//! payment's page work offline).

use leptos::prelude::*;
use leptos::task::spawn_local;
use tolem_outbox::letters::{self, LetterRecord, LetterSignError, SignedLetter};
use tolem_outbox::lock::{self, LockError, Wait};
use tolem_outbox::store::{self, StoreError};
use tolem_outbox::{State, changes};
use tolem_protocol::ids::SessionId;
use tolem_protocol::messages::{LETTER_MAX_CHARS, Letter, LetterError};

use crate::components::{Notice, StateBadge, UnlockForm, local_time};
use crate::format::account_guess;
use crate::i18n::*;
use crate::language::protocol_lang;
use crate::language::use_i18n;
use crate::messages::Explain;
use crate::outbox::use_outbox;
use crate::pages::PageFrame;
use crate::pages::history::mail_text;
use crate::routing::use_address;
use crate::session::use_key_session;

/// Where the page is.
#[derive(Clone, Debug)]
enum Stage {
    Form,
    Sending,
    Done(Box<LetterRecord>),
    /// Signing or storing failed: nothing was sent, nothing waits.
    NotSaved(String),
}

/// Sends a stored letter under the replay lock (waiting for a replayer that is at work; if the
/// turn does not come, the letter is left for the replay).
async fn send_stored(
    session: &SessionId,
    card: &tolem_protocol::messages::KeyCard,
) -> Result<LetterRecord, StoreError> {
    match lock::with_replay_lock(Wait::Queue, |_held| letters::settle(session, card)).await {
        Ok(sent) => sent,
        Err(LockError::Storage(error)) => Err(error.into()),
        Err(LockError::Busy) => letters::get(session).await?.ok_or(StoreError::NotFound),
    }
}

fn letter_problem(error: LetterError, locale: Locale) -> String {
    error.code().message(protocol_lang(locale)).to_owned()
}

#[component]
pub fn MessagePage() -> impl IntoView {
    let i18n = use_i18n();
    let session = use_key_session();
    let outbox = use_outbox();
    let address = use_address();
    let (to, set_to) = signal(String::new());
    let (text, set_text) = signal(String::new());
    let (tried, set_tried) = signal(false);
    let (stage, set_stage) = signal(Stage::Form);
    let sent = RwSignal::new(Vec::<LetterRecord>::new());

    // Opened from a payment: its data and signed request are the text.
    Effect::new(move |_| {
        let Some(payment) = address
            .query("payment")
            .and_then(|s| SessionId::try_from(s).ok())
        else {
            return;
        };
        spawn_local(async move {
            if let Ok(Some(record)) = store::get(&payment).await {
                let account = account_guess(&record.payment.account);
                set_text.set(mail_text(&record, &account, i18n.get_locale_untracked()));
            }
        });
    });

    // The letters on this phone, kept live like the history.
    let reload = move || {
        spawn_local(async move {
            if let Ok(all) = letters::all().await {
                sent.set(all);
            }
        })
    };
    reload();
    let subscription = changes::subscribe(move |_| reload());
    StoredValue::new_local(subscription);

    let checked = move || {
        let letter = Letter {
            to: to.get().trim().to_owned(),
            text: text.get(),
        };
        letter.check().map(|()| letter)
    };
    let to_error = move || {
        (tried.get())
            .then(|| checked().err())
            .flatten()
            .filter(|e| *e == LetterError::BadAddress)
    };
    let text_error = move || {
        (tried.get())
            .then(|| checked().err())
            .flatten()
            .filter(|e| *e != LetterError::BadAddress)
    };

    let send = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        set_tried.set(true);
        let Ok(letter) = checked() else { return };
        let Some(card) = session.record_untracked().map(|r| r.card) else {
            return;
        };
        let random = match crate::crypto::random_bytes::<8>() {
            Ok(random) => random,
            Err(error) => {
                set_stage.set(Stage::NotSaved(error.explain(i18n.get_locale_untracked())));
                return;
            }
        };
        let now = tolem_outbox::clock::now_ms();
        let signed = session.with_key(|key| SignedLetter::sign(&letter, &card, key, now, random));
        let signed = match signed {
            None => return, // locked: the unlock form is on the page
            Some(Err(LetterSignError::Letter(_))) => return, // shown by the field checks
            Some(Err(error)) => {
                // In the cashier's language, not the protocol's English reason.
                set_stage.set(Stage::NotSaved(error.explain(i18n.get_locale_untracked())));
                return;
            }
            Some(Ok(signed)) => signed,
        };
        set_stage.set(Stage::Sending);
        spawn_local(async move {
            let record = match letters::save_new(signed, now).await {
                Ok(record) => record,
                Err(error) => {
                    set_stage.set(Stage::NotSaved(error.explain(i18n.get_locale_untracked())));
                    return;
                }
            };
            let record = send_stored(&record.session, &card).await.unwrap_or(record);
            if !record.state.is_final() {
                outbox.kick();
            }
            set_stage.set(Stage::Done(Box::new(record)));
        });
    };

    let form = move || {
        let locale = move || i18n.get_locale();
        view! {
            <form id="message-form" class="card form" novalidate on:submit=send>
                <p class="hint">{tr!(message_body)}</p>
                <label for="message-to">{tr!(message_to_label)}</label>
                <input
                    id="message-to"
                    type="email"
                    autocomplete="email"
                    inputmode="email"
                    bind:value=(to, set_to)
                    aria-invalid=move || to_error().is_some().to_string()
                />
                <Notice
                    id="message-to-error"
                    text=Signal::derive(move || to_error().map(|e| letter_problem(e, locale())))
                />
                <label for="message-text">{tr!(message_text_label)}</label>
                <textarea
                    id="message-text"
                    rows="8"
                    prop:value=text
                    on:input=move |ev| set_text.set(event_target_value(&ev))
                    aria-invalid=move || text_error().is_some().to_string()
                ></textarea>
                <p class="counter" class:over=move || text.with(|t| t.chars().count() > LETTER_MAX_CHARS)>
                    {move || format!("{}/{LETTER_MAX_CHARS}", text.with(|t| t.chars().count()))}
                </p>
                <Notice
                    id="message-text-error"
                    text=Signal::derive(move || text_error().map(|e| letter_problem(e, locale())))
                />
                <div class="actions">
                    <button
                        id="message-send"
                        type="submit"
                        class="primary"
                        disabled=move || !session.is_unlocked()
                    >
                        {tr!(message_send)}
                    </button>
                </div>
            </form>
            <Show when=move || session.record().is_some() && !session.is_unlocked()>
                <UnlockForm />
            </Show>
            <Show when=move || session.is_loaded() && session.record().is_none()>
                <p id="message-no-key" class="error" role="alert">{tr!(pay_no_key)}</p>
            </Show>
        }
    };

    let outcome = move |record: LetterRecord| {
        let state = record.state;
        let (tone, headline): (&str, crate::pages::TextKey) = match state {
            State::Accepted => ("card result ok", |l| td_string!(l, message_queued)),
            State::Rejected(_) => ("card result bad", |l| td_string!(l, message_rejected)),
            _ => ("card result warn", |l| td_string!(l, message_waiting)),
        };
        view! {
            <section
                id="message-result"
                class=tone
                role="status"
                data-state=state.name()
                data-session=record.session.to_string()
                data-message-id=record.message_id.clone().unwrap_or_default()
            >
                <p class="result-head"><StateBadge state=state with_reason=true /></p>
                <p><strong>{crate::language::text(headline)}</strong></p>
                {record.message_id.clone().map(|id| view! {
                    <p>{tr!(message_id_label)} ": " <code id="message-id">{id}</code></p>
                })}
            </section>
            <nav class="actions">
                <button
                    id="message-new"
                    type="button"
                    class="primary"
                    on:click=move |_| {
                        set_to.set(String::new());
                        set_text.set(String::new());
                        set_tried.set(false);
                        set_stage.set(Stage::Form);
                    }
                >
                    {tr!(message_new)}
                </button>
            </nav>
        }
    };

    let list = move || {
        let all = sent.get();
        (!all.is_empty()).then(|| {
            view! {
                <section class="card">
                    <h2>{tr!(message_letters)}</h2>
                    <ul id="message-list" class="payments">
                        {all
                            .into_iter()
                            .map(|record| {
                                view! {
                                    <li
                                        class="letter"
                                        data-session=record.session.to_string()
                                        data-state=record.state.name()
                                    >
                                        <span class="payment-line">
                                            <StateBadge state=record.state />
                                            <span>{local_time(record.letter.created_at_ms)}</span>
                                        </span>
                                        <span class="payment-line muted">{record.letter.to.clone()}</span>
                                    </li>
                                }
                            })
                            .collect_view()}
                    </ul>
                </section>
            }
        })
    };

    view! {
        <PageFrame title=|l| td_string!(l, message_title)>
            {move || match stage.get() {
                Stage::Form => form().into_any(),
                Stage::Sending => view! {
                    <p id="message-progress" class="progress" role="status">
                        <span class="spinner" aria-hidden="true"></span>
                        {tr!(progress_sending)}
                    </p>
                }
                .into_any(),
                Stage::Done(record) => outcome(*record).into_any(),
                Stage::NotSaved(why) => view! {
                    <section id="message-result" class="card result bad" role="alert" data-state="not-saved">
                        <p><strong>{tr!(message_not_saved)}</strong></p>
                        <p id="message-error">{why}</p>
                    </section>
                    <nav class="actions">
                        <button type="button" class="primary" on:click=move |_| set_stage.set(Stage::Form)>
                            {tr!(back_button)}
                        </button>
                    </nav>
                }
                .into_any(),
            }}
            {list}
        </PageFrame>
    }
}

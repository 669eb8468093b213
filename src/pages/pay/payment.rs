//! Paying one provider (manual §11, §12.1): the form, the confirmation, the progress and the
//! outcome — stages of one page, so *Back* from the confirmation finds the form as it was.
//!
//! On *Confirm* the payment is signed at once (pay and status, one session, created now) and
//! stored in the history and the outbox before anything is sent. *Execute* then sends it and
//! follows an unclear answer with status queries; *Defer* leaves it stored, to be sent later.
//!
//! When the customer pays by card on their own phone, *Make bill* signs a bill instead (the bill,
//! its status and its cancel, one session), stores it as awaiting the card, and shows it as a
//! QR code ([`super::bill::BillScreen`]) until the gateway says how it ended; no cash is taken,
//! so the offline limits do not apply.

use leptos::prelude::*;
use leptos::task::spawn_local;
use tolem_outbox::limits::{self, LimitError, Waiting};
use tolem_outbox::record::{Failure, PaymentDraft, PaymentRecord, State};
use tolem_outbox::store::{self, StoreError};
use tolem_protocol::account::AccountKind;
use tolem_protocol::codes::ResultCode;
use tolem_protocol::commission::CommissionSettings;
use tolem_protocol::messages::{COMMENT_MAX_CHARS, PaymentMethod};
use tolem_protocol::providers::ProviderInfo;

use crate::balance::use_balance;
use crate::components::{LiveDelivery, Notice, StateBadge, UnlockForm, money_or_dash};
use crate::connection::{Connection, use_connection_state};
use crate::format::{account_for_display, phone_digits, phone_mask};
use crate::i18n::*;
use crate::language::use_i18n;
use crate::messages::Explain;
use crate::outbox::use_outbox;
use crate::pages::LazyBill;
use crate::pages::history::failure_text;
use crate::pages::pay::check::{CheckAnswer, CheckResult, CheckState, check_number};
use crate::pages::pay::form::{AmountSide, FieldErrors, check_form, live_split};
use crate::pages::{PageFrame, TextKey};
use crate::payments::{self, Progress, SignError};
use crate::providers::use_providers;
use crate::routing::use_address;
use crate::session::use_key_session;
use crate::storage::commission;

/// What the cashier chose to do with the payment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Action {
    Execute,
    Defer,
    /// A bill for the customer's card.
    Bill,
}

impl Action {
    fn name(self) -> &'static str {
        match self {
            Action::Execute => "execute",
            Action::Defer => "defer",
            Action::Bill => "bill",
        }
    }
}

/// Where the page is.
#[derive(Clone, Debug)]
enum Stage {
    Form,
    Confirm(PaymentDraft, Action),
    Working(Progress),
    /// A bill stored and shown, waiting for the customer's card.
    Bill(Box<PaymentRecord>),
    Done(Box<PaymentRecord>, Action),
    /// Signing or storing failed: nothing was sent, nothing deferred.
    NotSaved(NotSaved, Action),
    /// Stored, but the storage failed while it was being sent: the history has it.
    Unsure(StoreError, String),
}

#[derive(Clone, Debug)]
enum NotSaved {
    Sign(SignError),
    Store(StoreError),
}

#[component]
pub fn PaymentPage(
    /// The provider's code, as its address gives it.
    provider: String,
) -> impl IntoView {
    let providers = use_providers();
    let code = StoredValue::new(provider);
    let code = move || code.get_value();
    let provider = Memo::new(move |_| providers.find(&code()));

    let content = move || {
        if !providers.is_loaded() {
            return view! { <p class="progress" role="status">{tr!(loading)}</p> }.into_any();
        }
        match provider.get() {
            Some(provider) => view! { <PaymentFlow provider=provider /> }.into_any(),
            None => view! {
                <section id="pay-unknown-provider" class="card result bad" role="alert">
                    <p>{tr!(pay_unknown_provider)}</p>
                </section>
                <nav class="actions">
                    <a href="/pay" class="button primary">{tr!(back_to_providers)}</a>
                </nav>
            }
            .into_any(),
        }
    };
    view! {
        <PageFrame
            title=|l| td_string!(l, pay_title)
            back="/pay"
            back_label=|l| td_string!(l, back_to_providers)
        >
            {content}
        </PageFrame>
    }
}

/// The fields a check of the number was made with: account, which amount, amount.
type FormKey = (String, AmountSide, String);

fn form_key_untracked(
    account: ReadSignal<String>,
    side: ReadSignal<AmountSide>,
    amount: ReadSignal<String>,
) -> FormKey {
    (
        account.get_untracked(),
        side.get_untracked(),
        amount.get_untracked(),
    )
}

/// The form and what follows it, for one provider.
#[component]
fn PaymentFlow(provider: ProviderInfo) -> impl IntoView {
    let i18n = use_i18n();
    let session = use_key_session();
    let balance = use_balance();
    let outbox = use_outbox();
    let connection_state = use_connection_state();
    let connection = connection_state.0;
    let provider = StoredValue::new(provider);
    let kind = provider.with_value(|p| p.account_kind);
    let code = provider.with_value(|p| p.code.clone());

    // *Pay again* from the history opens the form filled in (`?account=…&amount=…&comment=…`,
    // the customer's amount in tiyn): nothing is signed until the cashier confirms as usual.
    let prefill = {
        let address = use_address();
        let amount = address
            .query("amount")
            .and_then(|t| t.parse::<i64>().ok())
            .filter(|t| *t > 0)
            .map(|t| crate::money::tenge_for_input(t, i18n.get_locale_untracked()));
        let account = address.query("account").map(|a| match kind {
            AccountKind::Phone => phone_mask(&phone_digits(&a)),
            AccountKind::Account => a,
        });
        (account, amount, address.query("comment"))
    };
    let (account, set_account) = signal(prefill.0.unwrap_or_default());
    let (side, set_side) = signal(AmountSide::Customer);
    let (amount, set_amount) = signal(prefill.1.unwrap_or_default());
    let (comment, set_comment) = signal(prefill.2.unwrap_or_default());
    // A payment held because this key cannot pay now (not certified yet, point, dealer or
    // cashier blocked): the form says so, so nobody defers believing it will simply go later.
    let (held_code, set_held_code) = signal(None::<ResultCode>);
    Effect::new(move |_| {
        // Re-read whenever what waits changes (a replay, another tab, the worker).
        outbox.waiting();
        spawn_local(async move {
            let code = store::waiting().await.ok().and_then(|records| {
                records.iter().rev().find_map(|record| match record.state {
                    State::Held(code) if code != ResultCode::ClockAhead => Some(code),
                    _ => None,
                })
            });
            let _ = set_held_code.try_set(code);
        });
    });
    let (method, set_method) = signal(PaymentMethod::Cash);
    // Errors are shown once the cashier has tried to go on, then follow every keystroke.
    let (tried, set_tried) = signal(false);
    let (locked_warning, set_locked_warning) = signal(false);
    // Past an offline limit a payment is not deferred, and the form says which limit.
    let (over_limit, set_over_limit) = signal(None::<LimitError>);
    let (stage, set_stage) = signal(Stage::Form);
    // The last check of the number, with the fields it was made for (account, side, amount).
    let (check, set_check) = signal(None::<(FormKey, CheckState)>);
    let settings = RwSignal::new(CommissionSettings::default());
    {
        let code = code.clone();
        // `try_`: the cashier may have left the screen (and its signals) while this was read.
        spawn_local(async move {
            let _ = settings.try_set(commission::load(&code).await);
        });
    }

    let checked = move || {
        provider.with_value(|p| {
            check_form(
                p,
                &settings.get(),
                &account.get(),
                side.get(),
                &amount.get(),
                &comment.get(),
            )
        })
    };
    let errors = move || {
        if tried.get() {
            checked().err().unwrap_or_default()
        } else {
            FieldErrors::default()
        }
    };
    let live = move || live_split(&settings.get(), side.get(), &amount.get());
    let form_key = move || (account.get(), side.get(), amount.get());

    // A check answers for the number and amount it was made with: once either changes, its
    // answer is old and goes (an answer still on its way is then dropped when it comes).
    Effect::new(move || {
        let now = form_key();
        if check.with_untracked(|c| c.as_ref().is_some_and(|(made_for, _)| *made_for != now)) {
            set_check.set(None);
        }
    });

    let clear = move || {
        set_account.set(String::new());
        set_amount.set(String::new());
        set_comment.set(String::new());
        set_tried.set(false);
        set_locked_warning.set(false);
        set_over_limit.set(None);
        set_check.set(None);
    };
    // The form's fields are right and the key can sign: the draft, else the form says why.
    let ready = move || {
        set_tried.set(true);
        let draft = checked().ok()?;
        session.record_untracked()?;
        if !session.is_unlocked_untracked() {
            set_locked_warning.set(true);
            return None;
        }
        set_locked_warning.set(false);
        Some(draft)
    };
    let check_now = move || {
        let Some(draft) = ready() else { return };
        let made_for = form_key_untracked(account, side, amount);
        // The indicator knows the gateway is out of reach: nothing to ask.
        if connection.get_untracked() == Connection::Offline {
            set_check.set(Some((made_for, CheckState::Answered(CheckAnswer::Offline))));
            return;
        }
        set_check.set(Some((made_for.clone(), CheckState::Asking)));
        spawn_local(async move {
            let answer = check_number(session, &draft).await;
            // Only if the fields are still those it was asked for. The screen may be gone by now
            // (the cashier went elsewhere while the gateway thought): its signals are disposed,
            // and reading one would panic — which aborts the whole app in the release build. So
            // everything after the wait is `try_`, here and in every task of this screen.
            let current =
                check.try_with_untracked(|c| c.as_ref().is_some_and(|(key, _)| *key == made_for));
            if current == Some(true) {
                match answer {
                    Some(answer) => {
                        set_check.try_set(Some((made_for, CheckState::Answered(answer))));
                    }
                    // Locked meanwhile: the form's notice says what to do.
                    None => {
                        set_locked_warning.try_set(true);
                        set_check.try_set(None);
                    }
                }
            }
        });
    };
    let go_on = move |action: Action| {
        let Some(draft) = ready() else { return };
        // A deferral, or an execution that will end deferred (the gateway is out of reach),
        // must fit the point's offline limits. A bill takes no cash: they do not apply.
        let will_wait = action == Action::Defer
            || action == Action::Execute && connection.get_untracked() == Connection::Offline;
        let offline = session
            .record_untracked()
            .filter(|_| will_wait)
            .map(|record| record.card.offline);
        let read_first = offline.is_some() && !untrack(|| outbox.is_loaded());
        // `try_`: this may run after a read of the storage, when the screen may be gone.
        let decide = move |waiting: Waiting| {
            let checked = offline.map_or(Ok(()), |offline| {
                limits::check_defer_now(&offline, &waiting, draft.split.provider_tiyn)
            });
            set_over_limit.try_set(checked.err());
            if checked.is_ok() {
                set_stage.try_set(Stage::Confirm(draft, action));
            }
        };
        if !read_first {
            decide(outbox.waiting_untracked());
            return;
        }
        // Until the outbox has read the phone's storage it holds the default, "nothing waits":
        // checked against that, a deferral could take the point past its limits. What really
        // waits is read here instead (a moment, before the confirmation shows).
        spawn_local(async move {
            match store::waiting_summary().await {
                Ok(waiting) => decide(waiting),
                Err(error) => {
                    set_stage.try_set(Stage::NotSaved(NotSaved::Store(error), action));
                }
            }
        });
    };

    let confirm = move |draft: PaymentDraft, action: Action| {
        let card = session.record_untracked().map(|r| r.card);
        set_stage.set(Stage::Working(Progress::Saving));
        // The page's signals are only `try_`-set after a wait: the cashier may have left the
        // screen meanwhile (see `check_now`); the payment is stored either way.
        spawn_local(async move {
            // A cash payment is numbered among its key's payments as it is stored; a bill is
            // no cash and carries no number.
            let saved = match action {
                Action::Bill => match payments::sign_bill(&session, &draft) {
                    Ok(signed) => Ok(payments::save(signed).await),
                    Err(error) => Err(error),
                },
                Action::Execute | Action::Defer => payments::sign_and_save(&session, &draft).await,
            };
            let record = match saved {
                Ok(Ok(record)) => record,
                Ok(Err(error)) => {
                    set_stage.try_set(Stage::NotSaved(NotSaved::Store(error), action));
                    return;
                }
                Err(SignError::Locked) => {
                    set_locked_warning.try_set(true);
                    set_stage.try_set(Stage::Form);
                    return;
                }
                Err(error) => {
                    set_stage.try_set(Stage::NotSaved(NotSaved::Sign(error), action));
                    return;
                }
            };
            if action == Action::Bill {
                // Stored: now it may be shown. Should the page close while the customer pays,
                // the worker asks how it ended.
                crate::outbox::register_sync();
                set_stage.try_set(Stage::Bill(Box::new(record)));
                return;
            }
            let (Action::Execute, Some(card)) = (action, card) else {
                outbox.kick();
                set_stage.try_set(Stage::Done(Box::new(record), action));
                return;
            };
            let session_id = record.session().clone();
            match payments::execute(&session_id, &card, move |p| {
                set_stage.try_set(Stage::Working(p));
            })
            .await
            {
                Ok(record) => {
                    if record.state == State::Accepted {
                        balance.refresh_quietly(session);
                    }
                    // The top bar agrees with the result before it shows: no answer from the
                    // gateway holds the next payment to the offline limits.
                    match record.last_failure {
                        Some(_) if !record.state.is_final() => connection_state.doubt(),
                        None if record.last_answer.is_some() => connection_state.answered(),
                        _ => {}
                    }
                    if !record.state.is_final() {
                        outbox.kick();
                    }
                    set_stage.try_set(Stage::Done(Box::new(record), action));
                }
                Err(error) => {
                    outbox.kick();
                    set_stage.try_set(Stage::Unsure(error, session_id.to_string()));
                }
            }
        });
    };

    let new_payment = move |_| {
        clear();
        set_stage.set(Stage::Form);
    };

    let on_account = move |ev| {
        let typed = event_target_value(&ev);
        set_account.set(match kind {
            AccountKind::Phone => phone_mask(&phone_digits(&typed)),
            AccountKind::Account => typed,
        });
    };

    let figure = move |id: &'static str, label: crate::pages::TextKey, value: Option<i64>| {
        view! {
            <dt>{crate::language::text(label)}</dt>
            <dd id=id data-tiyn=value.map(|v| v.to_string()).unwrap_or_default()>
                {money_or_dash(value)}
            </dd>
        }
    };

    let no_key = move || session.is_loaded() && session.record().is_none();

    let account_label: TextKey = match kind {
        AccountKind::Phone => |l| td_string!(l, pay_phone_label),
        AccountKind::Account => |l| td_string!(l, pay_account_label),
    };
    let form = move || {
        let locale = move || i18n.get_locale();
        view! {
            <form id="pay-form" class="card form" novalidate on:submit=|ev| ev.prevent_default()>
                <p id="pay-provider" class="provider-head">
                    <span class="provider-label" aria-hidden="true">
                        {provider.with_value(|p| p.short_label.clone())}
                    </span>
                    <strong>{provider.with_value(|p| p.name.clone())}</strong>
                </p>
                <label for="pay-account">{crate::language::text(account_label)}</label>
                <input
                    id="pay-account"
                    type=match kind { AccountKind::Phone => "tel", AccountKind::Account => "text" }
                    inputmode="numeric"
                    autocomplete="off"
                    placeholder=match kind { AccountKind::Phone => "+7 (7__) ___-__-__", AccountKind::Account => "" }
                    prop:value=account
                    on:input=on_account
                    aria-invalid=move || errors().account.is_some().to_string()
                    aria-describedby="pay-account-error"
                />
                <Notice
                    id="pay-account-error"
                    text=Signal::derive(move || errors().account.map(|e| e.explain(locale())))
                />
                <fieldset class="toggle">
                    <legend>{tr!(pay_amount_side)}</legend>
                    <label>
                        <input
                            id="pay-side-customer"
                            type="radio"
                            name="pay-side"
                            prop:checked=move || side.get() == AmountSide::Customer
                            on:change=move |_| set_side.set(AmountSide::Customer)
                        />
                        {tr!(pay_side_customer)}
                    </label>
                    <label>
                        <input
                            id="pay-side-provider"
                            type="radio"
                            name="pay-side"
                            prop:checked=move || side.get() == AmountSide::Provider
                            on:change=move |_| set_side.set(AmountSide::Provider)
                        />
                        {tr!(pay_side_provider)}
                    </label>
                </fieldset>
                <label for="pay-amount">
                    {move || match side.get() {
                        AmountSide::Customer => td_string!(locale(), pay_amount_customer_label),
                        AmountSide::Provider => td_string!(locale(), pay_amount_provider_label),
                    }}
                </label>
                <input
                    id="pay-amount"
                    type="text"
                    inputmode="decimal"
                    autocomplete="off"
                    placeholder="0,00"
                    bind:value=(amount, set_amount)
                    aria-invalid=move || errors().amount.is_some().to_string()
                    aria-describedby="pay-amount-error"
                />
                <Notice
                    id="pay-amount-error"
                    text=Signal::derive(move || errors().amount.map(|e| e.explain(locale())))
                />
                <div class="check-number">
                    <button
                        id="pay-check"
                        type="button"
                        disabled=move || check.with(|c| matches!(c, Some((_, CheckState::Asking))))
                        on:click=move |_| check_now()
                    >
                        {tr!(check_button)}
                    </button>
                    {move || check.get().map(|(_, state)| view! { <CheckResult state=state /> })}
                </div>
                <dl id="pay-live" class="figures" aria-live="polite">
                    {move || {
                        let split = live();
                        view! {
                            {figure("pay-live-provider", |l| td_string!(l, figure_provider_amount), split.map(|s| s.provider_tiyn))}
                            {figure("pay-live-commission", |l| td_string!(l, figure_commission), split.map(|s| s.commission_tiyn))}
                            {figure("pay-live-customer", |l| td_string!(l, figure_customer_amount), split.map(|s| s.customer_tiyn))}
                        }
                    }}
                </dl>
                <p class="hint">
                    <a href=format!("/settings/commission/{}", provider.with_value(|p| p.code.clone())) id="pay-commission-settings">
                        {tr!(pay_commission_settings)}
                    </a>
                </p>
                <label for="pay-comment">{tr!(pay_comment_label)}</label>
                <input
                    id="pay-comment"
                    type="text"
                    autocomplete="off"
                    bind:value=(comment, set_comment)
                    aria-invalid=move || errors().comment_chars.is_some().to_string()
                    aria-describedby="pay-comment-count"
                />
                <p
                    id="pay-comment-count"
                    class="counter"
                    class:over=move || comment.with(|c| c.trim().chars().count() > COMMENT_MAX_CHARS)
                >
                    {move || format!("{}/{COMMENT_MAX_CHARS}", comment.with(|c| c.trim().chars().count()))}
                </p>
                <Notice
                    id="pay-comment-error"
                    text=Signal::derive(move || {
                        errors().comment_chars.map(|n| {
                            crate::messages::with_number(td_string!(locale(), pay_comment_too_long), n as u64)
                        })
                    })
                />
                <fieldset class="toggle" id="pay-method">
                    <legend>{tr!(pay_method_legend)}</legend>
                    <label>
                        <input
                            id="pay-method-cash"
                            type="radio"
                            name="pay-method"
                            prop:checked=move || method.get() == PaymentMethod::Cash
                            on:change=move |_| set_method.set(PaymentMethod::Cash)
                        />
                        {tr!(pay_method_cash)}
                    </label>
                    <label>
                        <input
                            id="pay-method-card"
                            type="radio"
                            name="pay-method"
                            prop:checked=move || method.get() == PaymentMethod::Card
                            on:change=move |_| {
                                set_method.set(PaymentMethod::Card);
                                // Limits are about cash waiting on the phone: not this payment's.
                                set_over_limit.set(None);
                            }
                        />
                        {tr!(pay_method_card)}
                    </label>
                </fieldset>
                <Show when=move || method.get() == PaymentMethod::Card>
                    <p id="pay-method-hint" class="hint">{tr!(pay_method_card_hint)}</p>
                </Show>
                <Show when=no_key>
                    <p id="pay-no-key" class="error" role="alert">
                        {tr!(pay_no_key)} " "
                        <a href="/settings/keys">{tr!(settings_keys_open)}</a>
                    </p>
                </Show>
                <Notice
                    id="pay-held-warning"
                    text=Signal::derive(move || {
                        held_code.get().map(|code| {
                            crate::messages::with_value(
                                td_string!(locale(), pay_held_warning),
                                "reason",
                                &crate::components::held_reason(locale(), code),
                            )
                        })
                    })
                />
                <Notice
                    id="pay-limit"
                    text=Signal::derive(move || over_limit.get().map(|e| e.explain(locale())))
                />
                <Notice
                    id="pay-locked"
                    text=Signal::derive(move || {
                        (locked_warning.get() && !session.is_unlocked())
                            .then(|| td_string!(locale(), pay_unlock_first).to_owned())
                    })
                />
                <div class="actions">
                    <button id="pay-clear" type="button" on:click=move |_| clear()>{tr!(clear_button)}</button>
                    <Show
                        when=move || method.get() == PaymentMethod::Cash
                        fallback=move || view! {
                            <button id="pay-bill" type="submit" class="primary" on:click=move |_| go_on(Action::Bill)>
                                {tr!(bill_button)}
                            </button>
                        }
                    >
                        <button id="pay-defer" type="button" on:click=move |_| go_on(Action::Defer)>
                            {tr!(defer_button)}
                        </button>
                        <button id="pay-execute" type="submit" class="primary" on:click=move |_| go_on(Action::Execute)>
                            {tr!(execute_button)}
                        </button>
                    </Show>
                </div>
            </form>
            <Show when=move || session.record().is_some() && !session.is_unlocked()>
                <UnlockForm />
            </Show>
        }
    };

    let confirmation = move |draft: PaymentDraft, action: Action| {
        let title: TextKey = match action {
            Action::Execute => |l| td_string!(l, confirm_execute_title),
            Action::Defer => |l| td_string!(l, confirm_defer_title),
            Action::Bill => |l| td_string!(l, confirm_bill_title),
        };
        let shown_account = account_for_display(kind, &draft.account);
        let split = draft.split;
        let comment = draft.comment.clone();
        let for_confirm = draft.clone();
        view! {
            <section id="pay-confirm" class="card" data-action=action.name()>
                <h2>{crate::language::text(title)}</h2>
                <dl class="figures">
                    <dt>{tr!(figure_provider)}</dt>
                    <dd id="confirm-provider">{draft.provider_name.clone()}</dd>
                    <dt>{tr!(figure_account)}</dt>
                    <dd id="confirm-account" class="number">{shown_account}</dd>
                    {figure("confirm-provider-amount", |l| td_string!(l, figure_provider_amount), Some(split.provider_tiyn))}
                    {figure("confirm-commission", |l| td_string!(l, figure_commission), Some(split.commission_tiyn))}
                    {figure("confirm-customer-amount", |l| td_string!(l, figure_customer_amount), Some(split.customer_tiyn))}
                    {comment.map(|c| view! { <dt>{tr!(figure_comment)}</dt><dd id="confirm-comment">{c}</dd> })}
                    {(action == Action::Bill).then(|| view! {
                        <dt>{tr!(figure_method)}</dt><dd id="confirm-method">{tr!(method_card)}</dd>
                    })}
                </dl>
                <div class="actions">
                    <button id="confirm-back" type="button" on:click=move |_| set_stage.set(Stage::Form)>
                        {tr!(back_button)}
                    </button>
                    <button
                        id="confirm-submit"
                        type="button"
                        class="primary"
                        on:click=move |_| confirm(for_confirm.clone(), action)
                    >
                        {tr!(confirm_button)}
                    </button>
                </div>
            </section>
        }
    };

    let progress = move |step: Progress| {
        let (name, text): (&str, crate::pages::TextKey) = match step {
            Progress::Saving => ("saving", |l| td_string!(l, progress_saving)),
            Progress::Sending => ("sending", |l| td_string!(l, progress_sending)),
            Progress::AskingStatus => ("status", |l| td_string!(l, progress_status)),
        };
        view! {
            <section class="card">
                <p id="pay-progress" class="progress" role="status" data-step=name>
                    <span class="spinner" aria-hidden="true"></span>
                    {crate::language::text(text)}
                </p>
            </section>
        }
    };

    let outcome = move |record: PaymentRecord, action: Action| {
        let state = record.state;
        let by_card = record.payment.is_bill();
        let headline: TextKey = match state {
            State::Accepted if by_card => |l| td_string!(l, result_paid_by_card),
            State::Accepted => |l| td_string!(l, result_accepted),
            State::Rejected(_) if by_card => |l| td_string!(l, result_bill_unpaid),
            State::Rejected(_) => |l| td_string!(l, result_rejected),
            State::Deferred if action == Action::Defer => |l| td_string!(l, result_deferred),
            State::Deferred => |l| td_string!(l, result_deferred_offline),
            State::Unknown | State::Sending => |l| td_string!(l, result_unknown),
            State::AwaitingCard | State::Cancelling => |l| td_string!(l, bill_waiting),
            State::Held(_) => |l| td_string!(l, result_held),
        };
        // The cashier pressed Cancel, but the customer had paid: the cancel's answer says so.
        let paid_before_cancel = record.paid_by_card()
            && record
                .last_answer
                .as_ref()
                .is_some_and(|a| a.step == tolem_outbox::settle::CANCEL);
        let tone = match state {
            State::Accepted => "card result ok",
            State::Rejected(_) => "card result bad",
            _ => "card result warn",
        };
        let offline = record.last_failure == Some(Failure::Offline);
        let session = record.session().to_string();
        // Not final yet (deferred, unknown, held): the outbox settles it later — in this tab,
        // another one or the worker. The result follows the stored payment, as a bill's screen
        // does, instead of keeping the copy it was first shown with while the customer waits.
        if !state.is_final() {
            let stored = record.session().clone();
            payments::on_payment_change(move || {
                let stored = stored.clone();
                spawn_local(async move {
                    let Ok(Some(fresh)) = store::get(&stored).await else {
                        return;
                    };
                    // Only while this result is still on screen, and only once the payment is
                    // settled: the outcome is what the cashier waits for (the passing "sending"
                    // of each replay attempt would make the screen flicker), and every payment's
                    // change is announced while a redraw is not free.
                    let changed = stage.try_with_untracked(|shown| {
                        matches!(shown, Stage::Done(shown, _) if shown.session == fresh.session
                            && fresh.state.is_final() && shown.state != fresh.state)
                    });
                    if changed == Some(true) {
                        set_stage.try_set(Stage::Done(Box::new(fresh), action));
                    }
                });
            });
        }
        view! {
            <section
                id="pay-result"
                class=tone
                role="status"
                data-state=state.name()
                data-method=by_card.then_some("card")
                data-session=session.clone()
            >
                <p class="result-head"><StateBadge state=state by_card=by_card /></p>
                <p id="pay-result-text"><strong>{crate::language::text(headline)}</strong></p>
                {paid_before_cancel.then(|| view! {
                    <p id="pay-paid-before-cancel" class="error" role="alert">{tr!(result_paid_before_cancel)}</p>
                })}
                <Notice
                    id="pay-reason"
                    class="reason"
                    text=Signal::derive(move || {
                        crate::components::state_reason(i18n.get_locale(), state)
                    })
                />
                {(state == State::Accepted).then(|| view! {
                    <p id="pay-delivery" class="delivery-block">
                        <LiveDelivery
                            session=record.session().clone()
                            delivery=record.delivery.clone()
                            customer_tiyn=record.payment.customer_amount_tiyn
                        />
                    </p>
                })}
                {(state == State::Deferred && offline).then(|| view! { <p class="hint">{tr!(result_deferred_hint)}</p> })}
                {(state.needs_status()).then(|| view! { <p class="hint">{tr!(result_unknown_hint)}</p> })}
                <Notice
                    id="pay-last-failure"
                    class="hint"
                    text=Signal::derive(move || {
                        let locale = i18n.get_locale();
                        record.last_failure.filter(|_| state.needs_status()).map(|failure| {
                            format!("{}: {}", td_string!(locale, figure_last_failure), failure_text(locale, failure))
                        })
                    })
                />
                <dl class="figures">
                    {record.transaction_id.clone().map(|id| view! {
                        <dt>{tr!(figure_transaction)}</dt>
                        <dd id="pay-transaction">{id}</dd>
                    })}
                    <dt>{tr!(figure_provider)}</dt>
                    <dd>{record.payment.provider_name.clone()}</dd>
                    <dt>{tr!(figure_account)}</dt>
                    <dd class="number">{account_for_display(kind, &record.payment.account)}</dd>
                    {figure("pay-result-provider-amount", |l| td_string!(l, figure_provider_amount), Some(record.payment.amount_tiyn))}
                    {figure("pay-result-commission", |l| td_string!(l, figure_commission), Some(record.payment.commission_tiyn))}
                    {figure("pay-result-customer-amount", |l| td_string!(l, figure_customer_amount), Some(record.payment.customer_amount_tiyn))}
                    {by_card.then(|| view! {
                        <dt>{tr!(figure_method)}</dt><dd id="pay-result-method">{tr!(method_card)}</dd>
                    })}
                </dl>
            </section>
            <nav class="actions">
                <a href=format!("/history/{session}/receipt") id="pay-receipt" class="button">
                    {tr!(receipt_button)}
                </a>
                <a href="/history" id="pay-history" class="button">{tr!(menu_history)}</a>
                <button id="pay-new" type="button" class="primary" on:click=new_payment>
                    {tr!(new_payment_button)}
                </button>
            </nav>
        }
    };

    let not_saved = move |why: NotSaved, action: Action| {
        let headline: TextKey = match action {
            Action::Bill => |l| td_string!(l, bill_not_saved),
            Action::Execute | Action::Defer => |l| td_string!(l, result_not_saved),
        };
        view! {
            <section id="pay-result" class="card result bad" role="alert" data-state="not-saved">
                <p><strong>{crate::language::text(headline)}</strong></p>
                <Notice
                    id="pay-error"
                    class=""
                    text=Signal::derive(move || {
                        Some(match &why {
                            NotSaved::Sign(e) => e.explain(i18n.get_locale()),
                            NotSaved::Store(e) => e.explain(i18n.get_locale()),
                        })
                    })
                />
            </section>
            <nav class="actions">
                <button id="pay-back-to-form" type="button" class="primary" on:click=move |_| set_stage.set(Stage::Form)>
                    {tr!(back_button)}
                </button>
            </nav>
        }
    };

    let unsure = move |error: StoreError, session: String| {
        view! {
            <section id="pay-result" class="card result warn" role="alert" data-state="unsure">
                <p><strong>{tr!(result_unsure)}</strong></p>
                <Notice
                    id="pay-error"
                    class=""
                    text=Signal::derive(move || Some(error.explain(i18n.get_locale())))
                />
            </section>
            <nav class="actions">
                <a href=format!("/history/{session}") id="pay-history" class="button primary">
                    {tr!(open_in_history)}
                </a>
            </nav>
        }
    };

    move || match stage.get() {
        // The form waits for the key's state: before it is read, Execute could do nothing at
        // all for a quick cashier on a slow phone.
        Stage::Form if !session.is_loaded() => {
            view! { <p class="progress" role="status">{tr!(loading)}</p> }.into_any()
        }
        Stage::Form => form().into_any(),
        Stage::Confirm(draft, action) => confirmation(draft, action).into_any(),
        Stage::Working(step) => progress(step).into_any(),
        Stage::Bill(record) => {
            let account = account_for_display(kind, &record.payment.account);
            let on_final = move |record: PaymentRecord| {
                set_stage.set(Stage::Done(Box::new(record), Action::Bill));
            };
            view! { <LazyBill record=*record account on_final /> }.into_any()
        }
        Stage::Done(record, action) => outcome(*record, action).into_any(),
        Stage::NotSaved(why, action) => not_saved(why, action).into_any(),
        Stage::Unsure(error, session) => unsure(error, session).into_any(),
    }
}

//! One payment with all its data and its state (manual §12.2, §14), following it live. A
//! deferred or unknown payment can be sent by hand here (*Send now*): its signed requests are
//! sent as they are, so no unlocking is needed.
//!
//! §12.3: the data of a payment that is not accepted (deferred, unknown, rejected) can be sent by
//! e-mail without a network — through the phone's share sheet (a mail app among others) or a
//! `mailto:` link — with its signed request, which the dealer can check and send to the gateway.
//! Online, the same text can go as a signed letter through the gateway (`/message?payment=…`,
//! [`crate::pages::MessagePage`]).
//!
//! A cash payment the gateway refused by a payment rule — 21 (funds), 81–84 (limits), 32
//! (duplicate) — after the cashier took the money offers *Pay again* ([`pay_again_link`]): the
//! pay form filled in with the same provider, number, amount and comment. Only the cashier's
//! confirmation there makes a new payment (a new session, newly signed); this one stays as it was.
//!
//! A bill still waiting for the customer's card is shown as on the payment screen — its QR code,
//! the time left, *Cancel bill* ([`crate::pages::pay::bill::BillScreen`], loaded on first use)
//! — so the cashier can find it again; once it has ended, its page is a payment's like any
//! other (*paid by card*, or why it was not paid).

use leptos::prelude::*;
use leptos::task::spawn_local;
use tolem_outbox::record::{Failure, PaymentRecord, State};
use tolem_outbox::store;
use tolem_protocol::ids::SessionId;

use crate::components::{DeliveryNote, Notice, StateBadge};
use crate::deliveries::use_deliveries;
use crate::format::{account_for_display, account_guess, local_date_time};
use crate::i18n::*;
use crate::language::use_i18n;
use crate::messages::{Explain, with_number, with_value};
use crate::money::format_tenge;
use crate::outbox::use_outbox;
use crate::pages::LazyBill;
use crate::pages::PageFrame;
use crate::pages::history::{Shared, receipt_lines, share};
use crate::payments::{self, SendError, on_payment_change};
use crate::providers::use_providers;

/// What the last try to load or send found.
#[derive(Clone, Debug)]
enum Loaded {
    Loading,
    Missing,
    Found(Box<PaymentRecord>),
}

/// The payment as a letter: its data as on the receipt, its session and its signed `pay` request
/// (key serial, signature, body), so whoever receives it can check it and send it on.
pub fn mail_text(record: &PaymentRecord, account: &str, locale: Locale) -> String {
    let mut text = String::new();
    for (label, value) in receipt_lines(record, account, locale) {
        text.push_str(&format!("{label}: {value}\n"));
    }
    let pay = &record.payment.pay;
    text.push_str(&format!(
        "{}: {}\n\n{}:\nx-tolem-key: {}\nx-tolem-signature: {}\n{}\n",
        td_string!(locale, figure_session),
        record.session(),
        td_string!(locale, mail_signed_request),
        pay.signer,
        pay.signature,
        pay.body,
    ));
    text
}

/// A `mailto:` address with the subject and body filled in (no recipient: the cashier picks one).
pub fn mailto(subject: &str, body: &str) -> String {
    let encode = |text: &str| {
        js_sys::encode_uri_component(text)
            .as_string()
            .unwrap_or_default()
    };
    format!("mailto:?subject={}&body={}", encode(subject), encode(body))
}

/// Whether a payment refused with `code` may be paid again as a new payment: the refusals by a
/// payment rule that a later moment may not repeat (the dealer's balance topped up, a limit
/// reset, the same payment not accepted after all).
pub fn may_pay_again(record: &PaymentRecord) -> bool {
    use tolem_protocol::codes::ResultCode::*;
    !record.payment.is_bill()
        && matches!(
            record.state,
            State::Rejected(
                InsufficientFunds
                    | Duplicate
                    | PointPaymentLimit
                    | PointDailyLimit
                    | DealerPaymentLimit
                    | DealerDailyLimit
            )
        )
}

/// The pay form of the payment's provider, filled in with its number, the customer's amount and
/// its comment (see the module docs).
pub fn pay_again_link(record: &PaymentRecord) -> String {
    let encode = |text: &str| {
        js_sys::encode_uri_component(text)
            .as_string()
            .unwrap_or_default()
    };
    let p = &record.payment;
    let mut link = format!(
        "/pay/{}?account={}&amount={}",
        encode(&p.provider),
        encode(&p.account),
        p.customer_amount_tiyn
    );
    if let Some(comment) = &p.comment {
        link.push_str(&format!("&comment={}", encode(comment)));
    }
    link
}

/// A failure of the last attempt, in words.
pub fn failure_text(locale: Locale, failure: Failure) -> String {
    match failure {
        Failure::Offline => td_string!(locale, failure_offline).to_owned(),
        Failure::Timeout => td_string!(locale, failure_timeout).to_owned(),
        Failure::ServerError(status) => {
            with_number(td_string!(locale, failure_server), u64::from(status))
        }
        Failure::ConnectionLost => td_string!(locale, failure_connection).to_owned(),
        Failure::NotAnAnswer => td_string!(locale, failure_not_an_answer).to_owned(),
    }
}

#[component]
pub fn PaymentDetailPage(
    /// The payment's session id, as its address gives it.
    session: String,
) -> impl IntoView {
    let i18n = use_i18n();
    let providers = use_providers();
    let session = StoredValue::new(SessionId::try_from(session).ok());
    let session = move || session.get_value();
    let (loaded, set_loaded) = signal(Loaded::Loading);
    let outbox = use_outbox();
    let (sending, set_sending) = signal(false);
    let (mailed, set_mailed) = signal(Shared::Not);
    let (send_error, set_send_error) = signal(None::<SendError>);

    let reload = move || {
        spawn_local(async move {
            let found = match session() {
                Some(session) => store::get(&session).await.ok().flatten(),
                None => None,
            };
            set_loaded.set(match found {
                Some(record) => Loaded::Found(Box::new(record)),
                None => Loaded::Missing,
            });
        })
    };
    // A different payment in the address is a new screen (routing.rs), which reads it.
    reload();
    on_payment_change(reload);
    // While this payment is on its way to the provider, the gateway is asked where it is.
    use_deliveries().watch();

    let send_now = move |_| {
        let Some(session) = session() else { return };
        if sending.get_untracked() {
            return;
        }
        set_sending.set(true);
        set_send_error.set(None);
        spawn_local(async move {
            match payments::send_now(&session).await {
                Ok(record) => {
                    if !record.state.is_final() {
                        outbox.kick();
                    }
                    set_loaded.set(Loaded::Found(Box::new(record)))
                }
                Err(e) => set_send_error.set(Some(e)),
            }
            set_sending.set(false);
        });
    };

    let row = move |id: &'static str, label: crate::pages::TextKey, value: String| {
        view! {
            <dt>{crate::language::text(label)}</dt>
            <dd id=id>{value}</dd>
        }
    };

    let content = move || {
        let record = match loaded.get() {
            Loaded::Loading => {
                return view! { <p class="progress" role="status">{tr!(loading)}</p> }.into_any();
            }
            Loaded::Missing => {
                return view! { <p id="payment-not-found" class="error">{tr!(payment_not_found)}</p> }
                    .into_any();
            }
            Loaded::Found(record) => *record,
        };
        let locale = i18n.get_locale();
        let state = record.state;
        let p = record.payment.clone();
        let account = match providers.find(&p.provider) {
            Some(provider) => account_for_display(provider.account_kind, &p.account),
            None => account_guess(&p.account),
        };
        let by_card = p.is_bill();
        // A bill is never sent from this phone, and its data is no request a dealer could send.
        let can_send = !state.is_final() && !by_card;
        let session_text = p.session.to_string();
        let can_mail = state != tolem_outbox::State::Accepted && !by_card;
        let subject = with_value(td_string!(locale, mail_subject), "session", &session_text);
        let body = mail_text(&record, &account, locale);
        let mail_link = mailto(&subject, &body);
        let on_mail = move |_| {
            let (subject, body) = (subject.clone(), body.clone());
            spawn_local(async move { set_mailed.set(share(&subject, &body).await) });
        };
        view! {
            <section id="payment" class="card" data-state=state.name() data-session=session_text.clone()>
                <p id="payment-state" class="result-head"><StateBadge state=state with_reason=true by_card=by_card /></p>
                {state.needs_status().then(|| view! { <p class="hint">{tr!(result_unknown_hint)}</p> })}
                {may_pay_again(&record).then(|| view! { <p id="payment-pay-again-hint" class="hint">{tr!(pay_again_hint)}</p> })}
                {record.delivery.clone().map(|delivery| view! {
                    <p id="payment-delivery" class="delivery-block">
                        <DeliveryNote delivery customer_tiyn=p.customer_amount_tiyn />
                    </p>
                })}
                <dl class="figures">
                    {record.transaction_id.clone().map(|id| row("payment-transaction", |l| td_string!(l, figure_transaction), id))}
                    {row("payment-provider", |l| td_string!(l, figure_provider), p.provider_name.clone())}
                    {row("payment-account", |l| td_string!(l, figure_account), account)}
                    {row("payment-amount", |l| td_string!(l, figure_provider_amount), format_tenge(p.amount_tiyn, locale))}
                    {row("payment-commission", |l| td_string!(l, figure_commission), format_tenge(p.commission_tiyn, locale))}
                    {row("payment-customer-amount", |l| td_string!(l, figure_customer_amount), format_tenge(p.customer_amount_tiyn, locale))}
                    {by_card.then(|| row("payment-method", |l| td_string!(l, figure_method), td_string!(locale, method_card).to_owned()))}
                    {p.comment.clone().map(|c| row("payment-comment", |l| td_string!(l, figure_comment), c))}
                    {row("payment-created", |l| td_string!(l, figure_created), local_date_time(p.created_at_ms, locale))}
                    {record.decided_at_ms.map(|ms| row("payment-decided", |l| td_string!(l, figure_decided), local_date_time(ms, locale)))}
                    {row("payment-session", |l| td_string!(l, figure_session), session_text.clone())}
                    {row("payment-point", |l| td_string!(l, figure_point), format!("{} ({}), {}", p.point_name, p.point, p.cashier))}
                    {(!by_card).then(|| row("payment-attempts", |l| td_string!(l, figure_attempts), record.attempts.to_string()))}
                    {record.last_failure.map(|f| row("payment-last-failure", |l| td_string!(l, figure_last_failure), failure_text(locale, f)))}
                </dl>
            </section>
            <Notice
                id="payment-send-error"
                text=Signal::derive(move || send_error.get().map(|e| e.explain(i18n.get_locale())))
            />
            <Show when=move || sending.get()>
                <p id="payment-sending" class="progress" role="status">
                    <span class="spinner" aria-hidden="true"></span>
                    {tr!(progress_sending)}
                </p>
            </Show>
            <nav class="actions">
                {can_send.then(|| view! {
                    <button id="payment-send-now" type="button" class="primary" disabled=sending on:click=send_now>
                        {tr!(send_now_button)}
                    </button>
                })}
                {may_pay_again(&record).then(|| view! {
                    <a href=pay_again_link(&record) id="payment-pay-again" class="button primary">
                        {tr!(pay_again_button)}
                    </a>
                })}
                <a href=format!("/history/{session_text}/receipt") id="payment-receipt" class="button">
                    {tr!(receipt_button)}
                </a>
            </nav>
            {can_mail.then(|| view! {
                <section id="payment-mail" class="card">
                    <p class="hint">{tr!(mail_hint)}</p>
                    <div class="actions">
                        <button id="payment-mail-share" type="button" on:click=on_mail>
                            {tr!(mail_button)}
                        </button>
                        <a id="payment-mailto" class="button" href=mail_link>{tr!(mail_app_link)}</a>
                        <a href=format!("/message?payment={session_text}") id="payment-mail-gateway" class="button">
                            {tr!(mail_gateway_link)}
                        </a>
                    </div>
                    {move || match mailed.get() {
                        Shared::Copied => Some(view! { <p id="payment-mailed" role="status">{tr!(receipt_copied)}</p> }.into_any()),
                        Shared::Failed => Some(view! { <p id="payment-mailed" class="error" role="alert">{tr!(receipt_share_failed)}</p> }.into_any()),
                        _ => None,
                    }}
                </section>
            })}
        }
        .into_any()
    };

    // The bill on screen asks the gateway and stores each answer, which reloads this page: the
    // screen is made once per waiting bill (not for every reload, which would start it again).
    let waiting_bill = Memo::new(move |_| match &*loaded.read() {
        Loaded::Found(record) if record.payment.is_bill() && !record.state.is_final() => {
            Some(record.session().clone())
        }
        _ => None,
    });
    let page = move || {
        if waiting_bill.get().is_none() {
            return content();
        }
        let Loaded::Found(record) = loaded.get_untracked() else {
            return content();
        };
        let p = &record.payment;
        let account = match untrack(|| providers.find(&p.provider)) {
            Some(provider) => account_for_display(provider.account_kind, &p.account),
            None => account_guess(&p.account),
        };
        view! { <LazyBill record=*record account /> }.into_any()
    };

    view! {
        <PageFrame
            title=|l| td_string!(l, payment_title)
            back="/history"
            back_label=|l| td_string!(l, history_title)
        >
            {page}
        </PageFrame>
    }
}

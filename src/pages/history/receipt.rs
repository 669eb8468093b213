//! The payment document (manual §1: the point gives the customer a payment document): who took
//! the money in law (the dealer's name, BIN and legal address, from the key card), the point, the
//! cashier, the payment's figures, state and delivery, and — once the gateway decided — a QR code
//! that opens the gateway's public, signed receipt check. The cashier turns the phone around to
//! show it, prints it (laid out for a 58 mm receipt printer or A6 paper, see `style.css`), or
//! shares it as text (the phone's share sheet: a messenger, SMS, e-mail; where there is none, the
//! text goes to the clipboard) or as a picture ([`super::receipt_image`]).

use leptos::prelude::*;
use leptos::task::spawn_local;
use tolem_outbox::record::PaymentRecord;
use tolem_outbox::store;
use tolem_protocol::ids::SessionId;
use tolem_protocol::messages::KeyCard;
use tolem_protocol::receipt::check_link;
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;

use super::receipt_image;
use crate::components::{
    DeliveryNote, QrCode, StateBadge, delivery_summary, record_label, state_reason,
};
use crate::deliveries::use_deliveries;
use crate::format::{account_for_display, account_guess, local_date_time};
use crate::i18n::*;
use crate::language::use_i18n;
use crate::money::format_tenge;
use crate::payments::on_payment_change;
use crate::providers::use_providers;
use crate::session::use_key_session;

/// The lines of a receipt: (label, value), in the order printed — the payment's figures and
/// state, then where its delivery to the provider is.
pub fn receipt_lines(
    record: &PaymentRecord,
    account: &str,
    locale: Locale,
) -> Vec<(String, String)> {
    let mut lines = figure_lines(record, account, locale);
    if let Some(delivery) = &record.delivery {
        lines.push((
            td_string!(locale, figure_delivery).to_owned(),
            delivery_summary(locale, delivery, record.payment.customer_amount_tiyn),
        ));
    }
    lines
}

/// The receipt's lines without the delivery (the receipt page shows that one on its own).
fn figure_lines(record: &PaymentRecord, account: &str, locale: Locale) -> Vec<(String, String)> {
    let p = &record.payment;
    let mut lines = vec![
        (
            td_string!(locale, figure_point).to_owned(),
            p.point_name.clone(),
        ),
        (
            td_string!(locale, figure_cashier).to_owned(),
            p.cashier.clone(),
        ),
        (
            td_string!(locale, figure_created).to_owned(),
            local_date_time(p.created_at_ms, locale),
        ),
        (
            td_string!(locale, figure_provider).to_owned(),
            p.provider_name.clone(),
        ),
        (
            td_string!(locale, figure_account).to_owned(),
            account.to_owned(),
        ),
        (
            td_string!(locale, figure_provider_amount).to_owned(),
            format_tenge(p.amount_tiyn, locale),
        ),
        (
            td_string!(locale, figure_commission).to_owned(),
            format_tenge(p.commission_tiyn, locale),
        ),
        (
            td_string!(locale, figure_customer_amount).to_owned(),
            format_tenge(p.customer_amount_tiyn, locale),
        ),
    ];
    if p.is_bill() {
        lines.push((
            td_string!(locale, figure_method).to_owned(),
            td_string!(locale, method_card).to_owned(),
        ));
    }
    if let Some(id) = &record.transaction_id {
        lines.push((
            td_string!(locale, figure_transaction).to_owned(),
            id.clone(),
        ));
    }
    let mut state = record_label(locale, record).to_owned();
    if let Some(reason) = state_reason(locale, record.state) {
        state = format!("{state}: {reason}");
    }
    lines.push((td_string!(locale, figure_state).to_owned(), state));
    lines
}

/// Who took the money, as the document names them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Issuer {
    /// The dealer's legal name.
    pub name: String,
    /// Empty when the phone does not know it (a key card from before, no balance asked since).
    pub bin: String,
    pub address: String,
}

/// The issuer of a payment of `dealer`, from the phone's key card — only when the card is that
/// dealer's (a payment kept from a key of another dealer names no one rather than the wrong one).
pub fn issuer(card: &KeyCard, dealer: &str) -> Option<Issuer> {
    if card.dealer != dealer {
        return None;
    }
    Some(match &card.dealer_details {
        Some(details) => Issuer {
            name: details.name.clone(),
            bin: details.bin.clone(),
            address: details.legal_address.clone(),
        },
        None => Issuer {
            name: card.dealer_name.clone(),
            bin: String::new(),
            address: String::new(),
        },
    })
}

/// The issuer's lines of the document: the name, then `BIN …` and the address when known.
pub fn issuer_lines(issuer: &Issuer, locale: Locale) -> Vec<String> {
    let mut lines = vec![issuer.name.clone()];
    if !issuer.bin.is_empty() {
        lines.push(format!(
            "{} {}",
            td_string!(locale, receipt_dealer_bin),
            issuer.bin
        ));
    }
    if !issuer.address.is_empty() {
        lines.push(issuer.address.clone());
    }
    lines
}

/// The address of the gateway's public check of a decided payment (the app is served by the
/// gateway, so this page's origin is the gateway's).
pub fn check_url(record: &PaymentRecord) -> Option<String> {
    let transaction = record.transaction_id.as_deref()?;
    let origin = window().location().origin().ok()?;
    Some(check_link(&origin, transaction, record.session()))
}

/// The whole document as text lines: heading, issuer, figures and delivery, the check's address.
pub fn document_lines(
    record: &PaymentRecord,
    account: &str,
    issuer: Option<&Issuer>,
    check: Option<&str>,
    locale: Locale,
) -> Vec<String> {
    let mut lines = vec![td_string!(locale, receipt_heading).to_owned()];
    if let Some(issuer) = issuer {
        lines.extend(issuer_lines(issuer, locale));
    }
    for (label, value) in receipt_lines(record, account, locale) {
        lines.push(format!("{label}: {value}"));
    }
    if let Some(check) = check {
        lines.push(format!(
            "{}: {check}",
            td_string!(locale, receipt_check_link)
        ));
    }
    lines
}

/// The receipt as plain text, for sharing.
pub fn receipt_text(
    record: &PaymentRecord,
    account: &str,
    issuer: Option<&Issuer>,
    check: Option<&str>,
    locale: Locale,
) -> String {
    let mut text = String::new();
    for line in document_lines(record, account, issuer, check, locale) {
        text.push_str(&line);
        text.push('\n');
    }
    text
}

/// What sharing did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shared {
    Not,
    Sheet,
    Copied,
    /// The picture was saved as a file (no share sheet takes files here).
    Saved,
    Failed,
    /// The picture could not be made.
    ImageFailed,
}

/// Hands `text` to the phone's share sheet; without one, copies it to the clipboard.
pub async fn share(title: &str, text: &str) -> Shared {
    let navigator: JsValue = window().navigator().into();
    let method = |name: &str| {
        js_sys::Reflect::get(&navigator, &name.into())
            .ok()
            .filter(|f| f.is_function())
            .map(js_sys::Function::from)
    };
    if let Some(share) = method("share") {
        let data = js_sys::Object::new();
        let _ = js_sys::Reflect::set(&data, &"title".into(), &title.into());
        let _ = js_sys::Reflect::set(&data, &"text".into(), &text.into());
        if let Ok(promise) = share.call1(&navigator, &data) {
            // A cashier who closes the sheet is not an error worth a message.
            return match JsFuture::from(js_sys::Promise::from(promise)).await {
                Ok(_) => Shared::Sheet,
                Err(_) => Shared::Not,
            };
        }
    }
    let clipboard = js_sys::Reflect::get(&navigator, &"clipboard".into()).ok();
    let write = clipboard.as_ref().and_then(|c| {
        js_sys::Reflect::get(c, &"writeText".into())
            .ok()
            .filter(|f| f.is_function())
            .map(js_sys::Function::from)
    });
    match (clipboard, write) {
        (Some(clipboard), Some(write)) => match write.call1(&clipboard, &text.into()) {
            Ok(promise) => match JsFuture::from(js_sys::Promise::from(promise)).await {
                Ok(_) => Shared::Copied,
                Err(_) => Shared::Failed,
            },
            Err(_) => Shared::Failed,
        },
        _ => Shared::Failed,
    }
}

#[component]
pub fn ReceiptPage(
    /// The payment's session id, as its address gives it.
    session: String,
) -> impl IntoView {
    let i18n = use_i18n();
    let providers = use_providers();
    let key_session = use_key_session();
    let session = StoredValue::new(SessionId::try_from(session).ok());
    let session = move || session.get_value();
    let back = session()
        .map(|s| format!("/history/{s}"))
        .unwrap_or_else(|| "/history".into());
    // `None` while reading; then the payment, if the phone has it.
    let (record, set_record) = signal(None::<Option<PaymentRecord>>);
    let reload = move || {
        let session = session();
        spawn_local(async move {
            let found = match session {
                Some(session) => store::get(&session).await.ok().flatten(),
                None => None,
            };
            set_record.set(Some(found));
        });
    };
    reload();
    // The delivery may still change while the receipt is shown.
    on_payment_change(reload);
    use_deliveries().watch();
    let (shared, set_shared) = signal(Shared::Not);

    let content = move || {
        let record = match record.get() {
            None => {
                return view! { <p class="progress" role="status">{tr!(loading)}</p> }.into_any();
            }
            Some(None) => {
                return view! { <p id="payment-not-found" class="error">{tr!(payment_not_found)}</p> }
                    .into_any();
            }
            Some(Some(record)) => record,
        };
        // The key card is read from the phone with the page; the document waits for it so it
        // never shows without the dealer and then jumps.
        if !key_session.is_loaded() {
            return view! { <p class="progress" role="status">{tr!(loading)}</p> }.into_any();
        }
        let locale = i18n.get_locale();
        let account = match providers.find(&record.payment.provider) {
            Some(provider) => account_for_display(provider.account_kind, &record.payment.account),
            None => account_guess(&record.payment.account),
        };
        let issuer = key_session
            .record()
            .and_then(|key| issuer(&key.card, &record.payment.dealer));
        let check = check_url(&record);
        let lines = figure_lines(&record, &account, locale);
        let document = document_lines(&record, &account, issuer.as_ref(), check.as_deref(), locale);
        let text = receipt_text(&record, &account, issuer.as_ref(), check.as_deref(), locale);
        let title = td_string!(locale, receipt_heading).to_owned();
        let name = format!(
            "receipt-{}.png",
            record
                .transaction_id
                .as_deref()
                .unwrap_or(record.session().as_str())
        );
        let on_share = {
            let title = title.clone();
            move |_| {
                let (title, text) = (title.clone(), text.clone());
                spawn_local(async move { set_shared.set(share(&title, &text).await) });
            }
        };
        let on_share_image = {
            let check = check.clone();
            move |_| {
                let (title, name) = (title.clone(), name.clone());
                let (document, check) = (document.clone(), check.clone());
                spawn_local(async move {
                    let outcome =
                        receipt_image::share_image(&title, &name, &document, check.as_deref())
                            .await;
                    set_shared.set(outcome);
                });
            }
        };
        let on_print = move |_| {
            // Printing is the browser's own dialog: nothing to wait for or report.
            let _ = window().print();
        };
        view! {
            <article
                id="receipt"
                class="card receipt"
                data-state=record.state.name()
                data-transaction=record.transaction_id.clone().unwrap_or_default()
            >
                {issuer.map(|issuer| view! {
                    <header class="receipt-issuer">
                        <p id="receipt-dealer" class="receipt-dealer">{issuer.name.clone()}</p>
                        {(!issuer.bin.is_empty()).then(|| view! {
                            <p id="receipt-dealer-bin">{tr!(receipt_dealer_bin)} " " {issuer.bin.clone()}</p>
                        })}
                        {(!issuer.address.is_empty()).then(|| view! {
                            <p id="receipt-dealer-address">{issuer.address.clone()}</p>
                        })}
                    </header>
                })}
                <h2>{tr!(receipt_heading)}</h2>
                <p class="result-head"><StateBadge state=record.state by_card=record.payment.is_bill() /></p>
                {record.delivery.clone().map(|delivery| view! {
                    <p id="receipt-delivery" class="delivery-block">
                        <DeliveryNote delivery customer_tiyn=record.payment.customer_amount_tiyn />
                    </p>
                })}
                <dl class="figures">
                    {lines
                        .into_iter()
                        .map(|(label, value)| view! { <dt>{label}</dt><dd>{value}</dd> })
                        .collect_view()}
                </dl>
                {check.map(|check| view! {
                    <div class="receipt-check">
                        <QrCode id="receipt-qr" text=check.clone() label=|l| td_string!(l, receipt_qr_label) />
                        <p class="hint">{tr!(receipt_qr_hint)}</p>
                        <p id="receipt-check-url" class="receipt-url">{check}</p>
                    </div>
                })}
            </article>
            <nav class="actions">
                <button id="receipt-print" type="button" class="primary" on:click=on_print>
                    {tr!(receipt_print)}
                </button>
                <button id="receipt-share" type="button" on:click=on_share>
                    {tr!(share_button)}
                </button>
                <button id="receipt-share-image" type="button" on:click=on_share_image>
                    {tr!(receipt_share_image)}
                </button>
            </nav>
            {move || match shared.get() {
                Shared::Copied => Some(view! { <p id="receipt-shared" role="status">{tr!(receipt_copied)}</p> }.into_any()),
                Shared::Saved => Some(view! { <p id="receipt-shared" role="status">{tr!(receipt_image_saved)}</p> }.into_any()),
                Shared::Failed => Some(view! { <p id="receipt-shared" class="error" role="alert">{tr!(receipt_share_failed)}</p> }.into_any()),
                Shared::ImageFailed => Some(view! { <p id="receipt-shared" class="error" role="alert">{tr!(receipt_image_failed)}</p> }.into_any()),
                _ => None,
            }}
        }
        .into_any()
    };

    // Not the usual page frame: "back" leads to this payment's page, an address of its own.
    view! {
        <nav class="back">
            <a href=back>
                "← " {tr!(payment_title)}
            </a>
        </nav>
        <h1 class="visually-hidden">{tr!(receipt_heading)}</h1>
        {content}
    }
}

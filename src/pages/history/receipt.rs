//! The receipt the cashier turns the phone around to show, or shares as text (the phone's share
//! sheet: a messenger, SMS, e-mail; where there is none, the text goes to the clipboard).

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::use_params_map;
use tolem_outbox::record::PaymentRecord;
use tolem_outbox::store;
use tolem_protocol::ids::SessionId;
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;

use crate::components::{DeliveryNote, StateBadge, delivery_summary, record_label, state_reason};
use crate::deliveries::use_deliveries;
use crate::format::{account_for_display, account_guess, local_date_time};
use crate::i18n::*;
use crate::money::format_tenge;
use crate::payments::on_payment_change;
use crate::providers::use_providers;

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

/// The receipt as plain text, for sharing.
pub fn receipt_text(record: &PaymentRecord, account: &str, locale: Locale) -> String {
    let mut text = format!("{}\n", td_string!(locale, receipt_heading));
    for (label, value) in receipt_lines(record, account, locale) {
        text.push_str(&format!("{label}: {value}\n"));
    }
    text
}

/// What sharing did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shared {
    Not,
    Sheet,
    Copied,
    Failed,
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
pub fn ReceiptPage() -> impl IntoView {
    let i18n = use_i18n();
    let providers = use_providers();
    let params = use_params_map();
    let session = move || {
        params
            .with(|p| p.get("session"))
            .and_then(|s| SessionId::try_from(s).ok())
    };
    let back = Memo::new(move |_| {
        session()
            .map(|s| format!("/history/{s}"))
            .unwrap_or_else(|| "/history".into())
    });
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
    Effect::new(move |_| {
        params.track();
        reload();
    });
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
        let locale = i18n.get_locale();
        let account = match providers.find(&record.payment.provider) {
            Some(provider) => account_for_display(provider.account_kind, &record.payment.account),
            None => account_guess(&record.payment.account),
        };
        let lines = figure_lines(&record, &account, locale);
        let text = receipt_text(&record, &account, locale);
        let title = td_string!(locale, receipt_heading).to_owned();
        let on_share = move |_| {
            let (title, text) = (title.clone(), text.clone());
            spawn_local(async move { set_shared.set(share(&title, &text).await) });
        };
        view! {
            <article
                id="receipt"
                class="card receipt"
                data-state=record.state.name()
                data-transaction=record.transaction_id.clone().unwrap_or_default()
            >
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
            </article>
            <nav class="actions">
                <button id="receipt-share" type="button" class="primary" on:click=on_share>
                    {tr!(share_button)}
                </button>
            </nav>
            {move || match shared.get() {
                Shared::Copied => Some(view! { <p id="receipt-shared" role="status">{tr!(receipt_copied)}</p> }.into_any()),
                Shared::Failed => Some(view! { <p id="receipt-shared" class="error" role="alert">{tr!(receipt_share_failed)}</p> }.into_any()),
                _ => None,
            }}
        }
        .into_any()
    };

    // Not the usual page frame: "back" leads to this payment's page, an address of its own.
    view! {
        <nav class="back">
            <leptos_router::components::A href=move || back.get()>
                "← " {tr!(payment_title)}
            </leptos_router::components::A>
        </nav>
        <h1 class="visually-hidden">{tr!(receipt_heading)}</h1>
        {content}
    }
}

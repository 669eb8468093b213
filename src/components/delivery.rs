//! An accepted payment's delivery to its provider as the cashier sees it: on its way (and
//! *delayed* when the gateway says it is late), delivered with the provider's number, or refused
//! by the provider — then the money is back on the dealer's balance and the cashier must give
//! the customer's cash back, so that line is marked as an alert. Pages put the delivery state in
//! `data-delivery`.

use leptos::prelude::*;
use tolem_protocol::messages::{Delivery, DeliveryState, ProviderRefusal};

use crate::i18n::*;
use crate::language::use_i18n;
use crate::messages::with_value;
use crate::money::format_tenge;

/// A stable word for a delivery state, for `data-delivery` and class names.
pub fn delivery_name(state: DeliveryState) -> &'static str {
    match state {
        DeliveryState::Queued => "queued",
        DeliveryState::Sent => "sent",
        DeliveryState::Retrying => "retrying",
        DeliveryState::Delivered => "delivered",
        DeliveryState::Refunded => "refunded",
    }
}

/// Why the provider refused, in `locale`.
pub fn refusal_text(locale: Locale, refusal: ProviderRefusal) -> &'static str {
    match refusal {
        ProviderRefusal::AccountNotFound => td_string!(locale, refusal_account_not_found),
        ProviderRefusal::BadAccountFormat => td_string!(locale, refusal_bad_account_format),
        ProviderRefusal::AccountInactive => td_string!(locale, refusal_account_inactive),
        ProviderRefusal::AmountTooSmall => td_string!(locale, refusal_amount_too_small),
        ProviderRefusal::AmountTooLarge => td_string!(locale, refusal_amount_too_large),
        ProviderRefusal::PaymentForbidden => td_string!(locale, refusal_payment_forbidden),
        ProviderRefusal::Other => td_string!(locale, refusal_other),
    }
}

/// The delivery in one line: "passing to the provider", "delivered to the provider, № …" or
/// "the provider refused: …". (Delay and the refund's instruction are lines of their own.)
pub fn delivery_text(locale: Locale, delivery: &Delivery) -> String {
    match delivery.state {
        DeliveryState::Queued | DeliveryState::Sent | DeliveryState::Retrying => {
            td_string!(locale, delivery_on_way).to_owned()
        }
        DeliveryState::Delivered => match &delivery.provider_txn {
            Some(number) => with_value(td_string!(locale, delivery_delivered), "number", number),
            None => td_string!(locale, delivery_delivered_plain).to_owned(),
        },
        DeliveryState::Refunded => with_value(
            td_string!(locale, delivery_refused),
            "reason",
            refusal_text(locale, delivery.refusal.unwrap_or(ProviderRefusal::Other)),
        ),
    }
}

/// What the cashier must do after a refusal: the customer's cash back (`customer_tiyn`).
pub fn refund_text(locale: Locale, customer_tiyn: i64) -> String {
    with_value(
        td_string!(locale, delivery_refund_hint),
        "amount",
        &format_tenge(customer_tiyn, locale),
    )
}

/// The delivery as plain text for a receipt or a letter: its line, "delayed", and after a
/// refusal what the cashier must do.
pub fn delivery_summary(locale: Locale, delivery: &Delivery, customer_tiyn: i64) -> String {
    let mut text = delivery_text(locale, delivery);
    if delivery.delayed && !delivery.state.is_final() {
        text = format!("{text} — {}", td_string!(locale, delivery_delayed));
    }
    if delivery.state == DeliveryState::Refunded {
        text = format!("{text} {}", refund_text(locale, customer_tiyn));
    }
    text
}

fn icon(state: DeliveryState) -> &'static str {
    match state {
        DeliveryState::Queued | DeliveryState::Sent | DeliveryState::Retrying => "→",
        DeliveryState::Delivered => "✓",
        DeliveryState::Refunded => "↩",
    }
}

/// The delivery of a payment whose customer paid `customer_tiyn`. `brief` (the history list)
/// leaves out the reassurance under *delayed*; the refund's instruction is always there.
#[component]
pub fn DeliveryNote(
    delivery: Delivery,
    customer_tiyn: i64,
    #[prop(optional)] brief: bool,
) -> impl IntoView {
    let i18n = use_i18n();
    let name = delivery_name(delivery.state);
    let delayed = delivery.delayed && !delivery.state.is_final();
    let refunded = delivery.state == DeliveryState::Refunded;
    let line = {
        let delivery = delivery.clone();
        move || delivery_text(i18n.get_locale(), &delivery)
    };
    view! {
        <span
            class=format!("delivery delivery-{name}")
            class:delivery-late=delayed
            data-delivery=name
            data-delayed=delayed.then_some("true")
        >
            <span class="delivery-line">
                <span class="delivery-icon" aria-hidden="true">{icon(delivery.state)}</span>
                <span class="delivery-label">{line}</span>
            </span>
            {delayed.then(|| view! {
                <span class="delivery-delayed">
                    <strong>{tr!(delivery_delayed)}</strong>
                    {(!brief).then(|| view! { " " {tr!(delivery_delayed_hint)} })}
                </span>
            })}
            {refunded.then(|| view! {
                <strong class="delivery-refund" role="alert">
                    {move || refund_text(i18n.get_locale(), customer_tiyn)}
                </strong>
            })}
        </span>
    }
}

/// The delivery of the payment of `session`, followed live: shown from `delivery` at first, read
/// again whenever the payment changes (a refresh here, in another tab or in the worker), and
/// refreshed from the gateway while it is on screen. For a screen that holds the payment as it
/// was when it was shown (a payment's outcome); nothing is shown until there is a delivery.
#[component]
pub fn LiveDelivery(
    session: tolem_protocol::ids::SessionId,
    delivery: Option<Delivery>,
    customer_tiyn: i64,
) -> impl IntoView {
    let (current, set_current) = signal(delivery);
    let reload = move || {
        let session = session.clone();
        leptos::task::spawn_local(async move {
            if let Ok(Some(record)) = tolem_outbox::store::get(&session).await {
                set_current.set(record.delivery);
            }
        });
    };
    crate::payments::on_payment_change(reload);
    crate::deliveries::use_deliveries().watch();
    move || {
        current
            .get()
            .map(|delivery| view! { <DeliveryNote delivery customer_tiyn /> })
    }
}

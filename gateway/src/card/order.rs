//! The customer asks to pay an opened bill: the gateway makes an order with the payment
//! service for the bill's customer amount and sends the customer's browser to the service's
//! page. One order per bill: asking again (a reload, a second tap) goes to the same page.

use sqlx::AnyPool;
use tolem_card_payments::{Order, PageLanguage, PaymentService, ServiceError};
use tolem_protocol::codes::Lang;

use super::open::Opened;
use crate::db::{
    bills::{self, Bill},
    now_ms, providers,
};

/// Why no order could be made (the customer may try again).
#[derive(Debug, thiserror::Error)]
pub enum OrderError {
    #[error(transparent)]
    Service(#[from] ServiceError),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error("the bill's invoice number {0} does not fit the payment service")]
    InvoiceTooLarge(i64),
    #[error("the bill's stored payment page is not an address a browser can be sent to")]
    PageNotAnAddress,
}

/// The customer's choices on the bill page.
#[derive(Debug, Clone)]
pub struct Choices<'a> {
    /// Where the receipt goes, if given (checked by the page).
    pub email: Option<&'a str>,
    pub lang: Lang,
    /// The gateway's address as the customer's browser reaches it, without a trailing slash.
    pub origin: &'a str,
}

/// How many characters of the bill's signature the outcome page's path carries: enough that
/// invoice numbers cannot be walked to read other customers' bills.
pub const CHECK_CHARS: usize = 16;

/// The outcome page's check for `bill` (the start of its signature, which only the QR code's
/// holder knows).
pub fn check_of(bill: &Bill) -> String {
    bill.content
        .as_ref()
        .map(|c| c.request_signature.chars().take(CHECK_CHARS).collect())
        .unwrap_or_default()
}

/// Where the service sends the customer's browser back: the bill's outcome page (a path; the
/// public pages serve it). Only a redirect, it settles nothing.
pub fn outcome_path(bill: &Bill, lang: Lang) -> String {
    format!(
        "/card/bill/{}/{}?lang={}",
        bill.invoice,
        check_of(bill),
        lang.tag()
    )
}

/// Makes (or finds) the order of `opened` and returns the page to send the customer to.
pub async fn start(
    pool: &AnyPool,
    service: &dyn PaymentService,
    opened: &Opened,
    choices: &Choices<'_>,
) -> Result<String, OrderError> {
    let bill = &opened.bill;
    let kind = service.kind().name();
    if let Some(page) = &bill.page_url
        && bill.service.as_deref() == Some(kind)
    {
        return Ok(page.clone());
    }
    let invoice = u32::try_from(bill.invoice)
        .ok()
        .filter(|n| *n <= i32::MAX as u32)
        .ok_or(OrderError::InvoiceTooLarge(bill.invoice))?;
    let payment = opened.payment();
    let provider_name = {
        let mut conn = pool.acquire().await?;
        providers::payable_provider(&mut conn, &payment.provider)
            .await?
            .map(|p| p.name.clone())
            .unwrap_or_else(|_| payment.provider.clone())
    };
    // Both only bring the browser back; the page waits for the notification either way, but
    // after a success it must not show an earlier card's refusal meanwhile.
    let back = format!("{}{}", choices.origin, outcome_path(bill, choices.lang));
    let order = Order {
        invoice,
        amount_tiyn: payment.customer_amount_tiyn,
        description: format!("{provider_name} · {}", payment.account),
        email: choices.email.map(str::to_owned),
        language: match choices.lang {
            Lang::Ru => PageLanguage::Ru,
            Lang::Kk => PageLanguage::Kk,
            Lang::En => PageLanguage::En,
        },
        success_url: format!("{back}&after=paid"),
        fail_url: format!("{back}&after=refused"),
    };
    let created = service.create_order(&order).await?;
    let mut conn = pool.acquire().await?;
    bills::set_order(
        &mut conn,
        &bills::OrderRow {
            invoice: bill.invoice,
            service: kind,
            page_url: &created.redirect_url,
            service_order: created.service_order.as_deref(),
            email: choices.email,
            language: choices.lang.tag(),
            now_ms: now_ms(),
        },
    )
    .await?;
    tracing::info!(invoice = bill.invoice, service = kind, "card order made");
    Ok(created.redirect_url)
}

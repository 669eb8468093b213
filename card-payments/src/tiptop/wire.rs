//! TipTop Pay's wire format: the API's JSON requests and answers, and the form fields of its
//! notifications.
//!
//! TipTop Pay is CloudPayments Kazakhstan under a new name: the same API at
//! `https://api.tiptoppay.kz` and the same document, <https://developers.tiptoppay.kz/>
//! («Термины и определения»). Rules here follow CloudPayments' document,
//! <https://developers.cloudpayments.ru/> (English: <https://developers.cloudpayments.ru/en/>),
//! by section:
//! * "Interface Basics" (`#interface-basics`): POST, a JSON or `key=value` body, an answer
//!   `{"Success": bool, "Message": …, "Model": …}`;
//! * "Requests Authentication": HTTP Basic, Public ID as login, API secret as password;
//! * "API Idempotency": the `X-Request-ID` header, its answer kept for an hour;
//! * "Invoice Creation on Email" (`/orders/create`): Amount, Currency, Description, Email,
//!   RequireConfirmation, SendEmail, InvoiceId, CultureName, SuccessRedirectUrl,
//!   FailRedirectUrl; the Model's `Id` and `Url`;
//! * "Refund" (`#refund`, `/payments/refund`): TransactionId (Int), Amount; Model.TransactionId;
//! * «Просмотр транзакции» (`/payments/get`): TransactionId; the transaction model's Amount,
//!   Currency, InvoiceId, Status and `Refunded` (a bool, as in the model of «Выплата по
//!   криптограмме»'s answer);
//! * "Localization" (`#localization`) and the widget's language table: CultureName values;
//! * Notifications "Check", "Pay", "Fail", "Refund" (`#check`, `#pay`, `#fail`): their form
//!   parameters, "Amount: numeric, dot as separator, two digits after dot".

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::money::{self, AmountError};
use crate::service::PageLanguage;

/// Every order is in tenge.
pub const CURRENCY: &str = "KZT";

/// `POST /orders/create`. Field names as the docs' parameter table spells them.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct OrderRequest {
    /// Numeric: written as the exact decimal text, not through a float.
    pub amount: Box<RawValue>,
    pub currency: &'static str,
    pub description: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Single-message scheme: the card is charged at once (`true` would only authorize).
    pub require_confirmation: bool,
    /// The customer's browser is sent to the page at once; no e-mail with the link.
    pub send_email: bool,
    /// "Order or Invoice number": ours, as a string.
    pub invoice_id: String,
    /// The page's and the messages' language (see [`culture_name`]).
    pub culture_name: &'static str,
    pub success_redirect_url: String,
    pub fail_redirect_url: String,
}

/// `POST /payments/refund`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RefundRequest {
    /// "Int": the payment's transaction number.
    pub transaction_id: u64,
    pub amount: Box<RawValue>,
}

/// An amount as a JSON number whose text is exactly `tenge_text(tiyn)`.
pub fn json_amount(tiyn: i64) -> Result<Box<RawValue>, AmountError> {
    let text = money::tenge_text(tiyn)?;
    // Digits, a dot and two digits are always a valid JSON number.
    Ok(RawValue::from_string(text).expect("a decimal is a JSON number"))
}

/// The envelope of every API answer: `{"Success": bool, "Message": string|null, "Model": …}`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Envelope<M> {
    pub success: bool,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default = "none")]
    pub model: Option<M>,
}

fn none<M>() -> Option<M> {
    None
}

/// The part of `/orders/create`'s Model we use.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct OrderModel {
    pub id: String,
    /// The payment page: where the customer's browser goes.
    pub url: String,
}

/// `/payments/get`'s request («Просмотр транзакции»: the transaction's number).
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TransactionRequest {
    pub transaction_id: u64,
}

/// The part of `/payments/get`'s Model we use: what the transaction is of and where it stands
/// (`Completed` for a one-stage payment charged; `Authorized`, `Declined`, `Cancelled`...).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TransactionModel {
    pub transaction_id: u64,
    /// A JSON number of tenge.
    pub amount: serde_json::Number,
    #[serde(default)]
    pub currency: Option<String>,
    #[serde(default)]
    pub invoice_id: Option<String>,
    pub status: String,
    /// Whether the payment was refunded (the transaction model's `Refunded`; a refund is a
    /// transaction of its own, the payment's `Status` stays `Completed`).
    #[serde(default)]
    pub refunded: bool,
}

/// `/payments/refund`'s Model: the refund's own transaction number.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RefundModel {
    pub transaction_id: u64,
}

/// The `CultureName` for a page language. The API's localization table lists `ru-RU` and
/// `en-US` (and `kk`, which is Russian with Almaty time); Kazakh itself is `kk-KZ` in the
/// same document's widget localization table, which we use for the page in Kazakh.
pub fn culture_name(language: PageLanguage) -> &'static str {
    match language {
        PageLanguage::Ru => "ru-RU",
        PageLanguage::Kk => "kk-KZ",
        PageLanguage::En => "en-US",
    }
}

/// The page language a `CultureName` asks for (the emulator's side of [`culture_name`]).
pub fn language_of(culture: &str) -> PageLanguage {
    match culture {
        "kk-KZ" => PageLanguage::Kk,
        c if c.starts_with("en") => PageLanguage::En,
        _ => PageLanguage::Ru,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_request_is_the_documented_json() {
        let request = OrderRequest {
            amount: json_amount(150_001).unwrap(),
            currency: CURRENCY,
            description: "Kcell 7011111111".into(),
            email: None,
            require_confirmation: false,
            send_email: false,
            invoice_id: "42".into(),
            culture_name: culture_name(PageLanguage::Kk),
            success_redirect_url: "https://g.kz/ok".into(),
            fail_redirect_url: "https://g.kz/fail".into(),
        };
        assert_eq!(
            serde_json::to_string(&request).unwrap(),
            r#"{"Amount":1500.01,"Currency":"KZT","Description":"Kcell 7011111111","RequireConfirmation":false,"SendEmail":false,"InvoiceId":"42","CultureName":"kk-KZ","SuccessRedirectUrl":"https://g.kz/ok","FailRedirectUrl":"https://g.kz/fail"}"#
        );
    }

    #[test]
    fn reads_the_documented_answers() {
        // The docs' response example for /orders/create, trailing comma removed.
        let answer: Envelope<OrderModel> = serde_json::from_str(
            r#"{"Model":{"Id":"f2K8LV6reGE9WBFn","Number":61,"Amount":10.0,"Currency":"RUB","CurrencyCode":0,"Email":"client@test.local","Description":"Payment at website example.com","RequireConfirmation":true,"Url":"https://orders.cloudpayments.ru/d/f2K8LV6reGE9WBFn"},"Success":true}"#,
        )
        .unwrap();
        assert!(answer.success);
        let model = answer.model.unwrap();
        assert_eq!(model.id, "f2K8LV6reGE9WBFn");
        assert_eq!(
            model.url,
            "https://orders.cloudpayments.ru/d/f2K8LV6reGE9WBFn"
        );

        let refund: Envelope<RefundModel> = serde_json::from_str(
            r#"{"Model":{"TransactionId":568},"Success":true,"Message":null}"#,
        )
        .unwrap();
        assert_eq!(refund.model.unwrap().transaction_id, 568);

        let refused: Envelope<OrderModel> =
            serde_json::from_str(r#"{"Success":false,"Message":"Amount is required"}"#).unwrap();
        assert!(!refused.success);
        assert_eq!(refused.message.as_deref(), Some("Amount is required"));
        assert!(refused.model.is_none());
    }
}

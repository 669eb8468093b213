//! [`TipTop`]: the payment-service trait spoken to TipTop Pay (formerly CloudPayments
//! Kazakhstan, the same API and notifications).
//!
//! * An order is made with `POST /orders/create`; its answer names the hosted page the
//!   customer pays on. The card never reaches us.
//! * The service then calls the gateway: Check (may this be charged?), Pay (charged), Fail
//!   (refused), Refund (refunded), each a signed form POST ([`signature`]); the gateway's
//!   verdict goes back as `{"code":N}` ([`codes`]).
//! * A refund is `POST /payments/refund`, idempotent by `X-Request-ID`.
//!
//! Wire details and their sources are in [`wire`].

pub mod codes;
pub mod signature;
pub mod wire;

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use crate::client;
use crate::config::{ConfigError, Secret, ServiceConfig};
use crate::money;
use crate::service::{
    Created, Incoming, Notification, NotificationError, NotificationKind, Order, PaymentService,
    RefundProgress, Refunded, Reply, ServiceError, ServiceKind, Verdict,
};

use crate::form::Fields;
use codes::AnswerCode;
use wire::{
    Envelope, OrderModel, OrderRequest, RefundModel, RefundRequest, TransactionModel,
    TransactionRequest,
};

const JSON: &str = "application/json";

/// TipTop Pay, as the gateway calls it.
pub struct TipTop {
    api: url::Url,
    public_id: String,
    secret: Secret,
    http: Result<reqwest::Client, String>,
    /// Set up for the test mode of TipTop Pay's site (its notifications say `TestMode=1`).
    test: bool,
}

impl fmt::Debug for TipTop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TipTop")
            .field("api", &self.api.as_str())
            .field("public_id", &self.public_id)
            .field("secret", &self.secret)
            .finish()
    }
}

impl TipTop {
    /// Checks the configuration: the API URL, the Public ID and the API secret.
    pub fn new(config: &ServiceConfig) -> Result<TipTop, ConfigError> {
        let api = client::check_url(&config.api_url)?;
        if config.login.is_empty() {
            return Err(ConfigError::Missing("TipTop Pay's Public ID"));
        }
        if config.secret.0.is_empty() {
            return Err(ConfigError::Missing("TipTop Pay's API secret"));
        }
        Ok(TipTop {
            api,
            public_id: config.login.clone(),
            secret: config.secret.clone(),
            http: client::build(),
            test: config.test,
        })
    }

    /// Sends one authenticated JSON request and reads the documented envelope. `request_id`:
    /// the idempotency key of a request that changes something (none for a read, whose
    /// answer must be today's, not the one first given to the key).
    async fn call<M: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        request_id: Option<&str>,
        body: String,
    ) -> Result<M, ServiceError> {
        let url = client::join(&self.api, path);
        let (status, text) = client::send(&self.http, |http| {
            let request = http
                .post(url.clone())
                // "HTTP Basic Auth … Public ID serves as a login and API Secret as a password."
                .basic_auth(&self.public_id, Some(&self.secret.0))
                .header(reqwest::header::CONTENT_TYPE, JSON)
                .body(body);
            match request_id {
                // "To enable idempotency … a header with the X-Request-ID key."
                Some(id) => request.header("X-Request-ID", id),
                None => request,
            }
        })
        .await?;
        if !(200..300).contains(&status) {
            tracing::info!(path, status, "TipTop Pay answered an HTTP error");
            return Err(client::status_error(status, &text));
        }
        let envelope: Envelope<M> = serde_json::from_str(&text)
            .map_err(|e| ServiceError::Unreadable(format!("{path}: {e}")))?;
        if !envelope.success {
            let message = envelope.message.unwrap_or_else(|| "no message".into());
            tracing::info!(path, %message, "TipTop Pay refused");
            return Err(ServiceError::Refused(message));
        }
        envelope
            .model
            .ok_or_else(|| ServiceError::Unreadable(format!("{path}: Success without a Model")))
    }

    /// «Просмотр транзакции», `POST /payments/get`: the transaction as the service has it now.
    /// A read: no idempotency key, whose answer would be the first one given to it.
    async fn transaction(&self, transaction_id: u64) -> Result<TransactionModel, ServiceError> {
        let body = serde_json::to_string(&TransactionRequest { transaction_id })
            .map_err(|e| ServiceError::Refused(format!("the request cannot be written: {e}")))?;
        self.call("payments/get", None, body).await
    }
}

/// The payment's number, as TipTop Pay's API takes it (an Int).
fn transaction_number(transaction: Option<&str>) -> Result<u64, ServiceError> {
    let transaction = transaction.ok_or_else(|| {
        ServiceError::Refused("a TipTop Pay refund names the payment's transaction".into())
    })?;
    transaction.parse::<u64>().map_err(|_| {
        ServiceError::Refused(format!(
            "{transaction:?} is not a TipTop Pay transaction number"
        ))
    })
}

impl PaymentService for TipTop {
    fn kind(&self) -> ServiceKind {
        ServiceKind::TipTop
    }

    fn takes_test_payments(&self) -> bool {
        self.test
    }

    fn create_order<'a>(
        &'a self,
        order: &'a Order,
    ) -> Pin<Box<dyn Future<Output = Result<Created, ServiceError>> + Send + 'a>> {
        Box::pin(async move {
            let amount = wire::json_amount(order.amount_tiyn)
                .map_err(|e| ServiceError::Refused(e.to_string()))?;
            let request = OrderRequest {
                amount,
                currency: wire::CURRENCY,
                description: order.description.clone(),
                email: order.email.clone(),
                require_confirmation: false,
                send_email: false,
                invoice_id: order.invoice.to_string(),
                culture_name: wire::culture_name(order.language),
                success_redirect_url: order.success_url.clone(),
                fail_redirect_url: order.fail_url.clone(),
            };
            let body = serde_json::to_string(&request)
                .map_err(|e| ServiceError::Refused(format!("the order cannot be written: {e}")))?;
            // The same bill and amount give the same key, so a repeated call within the
            // service's hour gets the first order back instead of a second one.
            let request_id = format!("tolem-order-{}-{}", order.invoice, order.amount_tiyn);
            let model: OrderModel = self.call("orders/create", Some(&request_id), body).await?;
            tracing::info!(invoice = order.invoice, order = %model.id, "TipTop Pay order made");
            Created::at(&model.url, Some(model.id))
        })
    }

    fn read_notification(
        &self,
        incoming: &Incoming<'_>,
    ) -> Result<Notification, NotificationError> {
        let kind = match incoming.path {
            "check" => NotificationKind::Check,
            "pay" => NotificationKind::Pay,
            "fail" => NotificationKind::Fail,
            "refund" => NotificationKind::Refund,
            other => {
                return Err(NotificationError::Malformed(format!(
                    "no TipTop Pay notification is sent to {other:?}"
                )));
            }
        };
        // "For notifications sent by POST the message is the request body. For GET it is
        // string parameters."
        let message = if incoming.body.is_empty() {
            incoming.query.as_bytes()
        } else {
            incoming.body
        };
        let signed = incoming
            .header(signature::CONTENT_HMAC)
            .is_some_and(|header| signature::verify(self.secret.0.as_bytes(), message, header));
        if !signed {
            tracing::info!(kind = ?kind, "refused a TipTop Pay notification: bad Content-HMAC");
            return Err(NotificationError::BadSignature);
        }
        read_fields(kind, &Fields::parse(message))
    }

    fn reply(&self, notification: &Notification, verdict: Verdict) -> Reply {
        match AnswerCode::for_verdict(verdict) {
            Some(code) => Reply {
                status: 200,
                content_type: JSON,
                body: code.body(),
            },
            None => {
                tracing::info!(
                    invoice = notification.invoice,
                    "asking TipTop Pay to send again"
                );
                // Not an answer: Pay, Fail and Refund are sent again; a Check is refused.
                Reply {
                    status: 503,
                    content_type: JSON,
                    body: AnswerCode::NotAccepted.body(),
                }
            }
        }
    }

    fn reply_refused(&self, error: &NotificationError) -> Reply {
        // An HTTP error, not a code: a notification we could not verify is not answered, so
        // a genuine one (say, after a secret was rotated) is sent again once fixed, and a Check
        // without an answer declines the payment.
        Reply {
            status: match error {
                NotificationError::BadSignature => 401,
                NotificationError::Malformed(_) => 400,
            },
            content_type: JSON,
            body: AnswerCode::NotAccepted.body(),
        }
    }

    /// «Просмотр транзакции», `POST /payments/get` with the `TransactionId` (the API section of
    /// the document in [`wire`]): a one-stage payment is charged when its `Status` is
    /// `Completed`; its `InvoiceId` and `Amount` must be the notification's.
    fn confirm_paid<'a>(
        &'a self,
        paid: &'a Notification,
    ) -> Pin<Box<dyn Future<Output = Result<(), ServiceError>> + Send + 'a>> {
        Box::pin(async move {
            let transaction = paid.transaction.as_deref().unwrap_or_default();
            let transaction_id = transaction.parse::<u64>().map_err(|_| {
                ServiceError::Refused(format!("{transaction:?} is not a transaction number"))
            })?;
            // "Success": false is a refusal: the service knows no such transaction.
            let model = self.transaction(transaction_id).await?;
            let amount_tiyn = money::parse_tenge(&model.amount.to_string())
                .map_err(|e| ServiceError::Unreadable(format!("payments/get Amount: {e}")))?;
            let invoice = paid.invoice.to_string();
            let charged = model.transaction_id == transaction_id
                && model.status == "Completed"
                && model.invoice_id.as_deref() == Some(invoice.as_str())
                && amount_tiyn == paid.amount_tiyn
                && model.currency.as_deref().is_none_or(|c| c == paid.currency);
            if !charged {
                return Err(ServiceError::Refused(format!(
                    "transaction {transaction_id} is {} for invoice {:?}, {amount_tiyn} tiyn: \
                     not a charge of invoice {invoice} for {} tiyn",
                    model.status, model.invoice_id, paid.amount_tiyn
                )));
            }
            Ok(())
        })
    }

    fn refund<'a>(
        &'a self,
        invoice: u32,
        transaction: Option<&'a str>,
        amount_tiyn: i64,
        key: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<Refunded, ServiceError>> + Send + 'a>> {
        Box::pin(async move {
            let transaction_id = transaction_number(transaction)?;
            let request = RefundRequest {
                transaction_id,
                amount: wire::json_amount(amount_tiyn)
                    .map_err(|e| ServiceError::Refused(e.to_string()))?,
            };
            let body = serde_json::to_string(&request)
                .map_err(|e| ServiceError::Refused(format!("the refund cannot be written: {e}")))?;
            // The gateway's key is the service's X-Request-ID: repeating the call with the same
            // key gets the first answer, never a second refund.
            let model: RefundModel = self.call("payments/refund", Some(key), body).await?;
            tracing::info!(
                invoice,
                transaction_id,
                refund = model.transaction_id,
                "refunded"
            );
            // The refund is made while the service answers: its answer is the outcome.
            Ok(Refunded::finished(Some(model.transaction_id.to_string())))
        })
    }

    /// TipTop Pay's refunds are never left processing ([`PaymentService::refund`] answers
    /// finished or refused): a refund it numbered is finished.
    fn refund_state<'a>(
        &'a self,
        _refund_id: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<RefundProgress, ServiceError>> + Send + 'a>> {
        Box::pin(async { Ok(RefundProgress::Finished) })
    }

    /// The service keeps an answer by `X-Request-ID` for an hour only ("Обработанный результат
    /// хранится в системе в течение 1 часа", «Идемпотентность API»): after that, a refund sent
    /// again with the same key would be a new one. The payment's own transaction says whether
    /// it was refunded: `payments/get`'s Model carries `"Refunded": true|false` (the
    /// transaction model of the same document; its `Status` stays `Completed`, a refund being
    /// a transaction of its own). The gateway refunds whole payments, so a refunded payment is
    /// the refund it asked for.
    fn find_refund<'a>(
        &'a self,
        invoice: u32,
        transaction: Option<&'a str>,
    ) -> Pin<Box<dyn Future<Output = Result<Option<Refunded>, ServiceError>> + Send + 'a>> {
        Box::pin(async move {
            let transaction_id = transaction_number(transaction)?;
            let model = self.transaction(transaction_id).await?;
            if model.transaction_id != transaction_id {
                return Err(ServiceError::Unreadable(format!(
                    "payments/get answered about transaction {} for {transaction_id}",
                    model.transaction_id
                )));
            }
            if !model.refunded {
                return Ok(None);
            }
            tracing::info!(invoice, transaction_id, "TipTop Pay: refunded already");
            Ok(Some(Refunded::finished(None)))
        })
    }
}

/// Reads a verified notification's fields (tables of the sections Check, Pay, Fail, Refund).
fn read_fields(kind: NotificationKind, fields: &Fields) -> Result<Notification, NotificationError> {
    let malformed = |what: String| NotificationError::Malformed(what);
    let required = |name: &str| {
        fields
            .get(name)
            .ok_or_else(|| malformed(format!("{name} is missing")))
    };
    let invoice = required("InvoiceId")?;
    let invoice = invoice
        .parse::<u32>()
        .map_err(|_| malformed(format!("InvoiceId {invoice:?} is not one of our bills")))?;
    let amount_tiyn =
        money::parse_tenge(required("Amount")?).map_err(|e| malformed(e.to_string()))?;
    let transaction = required("TransactionId")?.to_owned();
    if kind == NotificationKind::Pay {
        paid_by_its_fields(fields).map_err(malformed)?;
    }
    let (transaction, reason) = match kind {
        // A Refund's TransactionId is the refund's own number; the payment it refunds is
        // PaymentTransactionId, which is what the gateway knows the payment by.
        NotificationKind::Refund => (
            required("PaymentTransactionId")?.to_owned(),
            Some(format!("refund transaction {transaction}")),
        ),
        _ => (transaction, None),
    };
    let (decline, reason) = match kind {
        NotificationKind::Fail => {
            let code = required("ReasonCode")?;
            let code_number = code
                .parse::<u32>()
                .map_err(|_| malformed(format!("ReasonCode {code:?} is not a number")))?;
            let text = fields.get("Reason").unwrap_or("");
            (
                Some(codes::decline_for(code_number)),
                Some(format!("{code} {text}").trim_end().to_owned()),
            )
        }
        _ => (None, reason),
    };
    Ok(Notification {
        kind,
        invoice,
        amount_tiyn,
        // Refund carries no Currency (its table has none): it is in the payment's, and every
        // order we make is in tenge. Check, Pay and Fail carry it: one without is not read as
        // tenge, so the gateway's comparison with the bill's currency refuses it.
        currency: match kind {
            NotificationKind::Refund => fields.get("Currency").unwrap_or(wire::CURRENCY),
            _ => required("Currency")?,
        }
        .to_owned(),
        transaction: Some(transaction),
        email: fields.get("Email").map(str::to_owned),
        decline,
        reason,
        test: fields.get("TestMode") == Some("1"),
    })
}

/// Whether a Pay's own fields say the card was charged: `Status` Completed (a one-stage
/// payment, as every order is made: `RequireConfirmation` false) of an `OperationType`
/// Payment, with no `ReasonCode`. The signature covers the body, not the address it was sent
/// to, so the kind is read from the address; these fields keep a signed Fail or Refund sent to
/// the Pay address (a body captured on its way) from settling a bill no card paid.
fn paid_by_its_fields(fields: &Fields) -> Result<(), String> {
    if fields.get("ReasonCode").is_some() {
        return Err("a Pay with a ReasonCode (a Fail's)".to_owned());
    }
    match fields.get("OperationType") {
        None | Some("Payment") => {}
        Some(other) => return Err(format!("a Pay of OperationType {other:?}")),
    }
    match fields.get("Status") {
        Some("Completed") => Ok(()),
        other => Err(format!("a Pay of Status {other:?}, not Completed")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::Decline;

    fn adapter() -> TipTop {
        TipTop::new(&ServiceConfig {
            kind: ServiceKind::TipTop,
            api_url: "https://api.tiptoppay.kz".into(),
            page_url: None,
            login: "pk_test".into(),
            secret: Secret("s3cr3t-api".into()),
            secret2: None,
            test: true,
        })
        .unwrap()
    }

    fn signed(body: &str) -> Vec<(String, String)> {
        vec![(
            signature::CONTENT_HMAC.to_owned(),
            signature::content_hmac(b"s3cr3t-api", body.as_bytes()),
        )]
    }

    fn read(
        path: &str,
        body: &str,
        headers: &[(String, String)],
    ) -> Result<Notification, NotificationError> {
        adapter().read_notification(&Incoming {
            path,
            query: "",
            headers,
            body: body.as_bytes(),
        })
    }

    const PAY: &str = "TransactionId=504&Amount=1500.01&Currency=KZT&DateTime=2024-03-01+10%3A00%3A00&CardFirstSix=424242&CardLastFour=4242&CardType=Visa&CardExpDate=12%2F30&TestMode=1&Status=Completed&OperationType=Payment&InvoiceId=42&Email=a%40b.kz";

    #[test]
    fn reads_a_signed_pay() {
        let notification = read("pay", PAY, &signed(PAY)).unwrap();
        assert_eq!(
            notification,
            Notification {
                kind: NotificationKind::Pay,
                invoice: 42,
                amount_tiyn: 150_001,
                currency: "KZT".into(),
                transaction: Some("504".into()),
                email: Some("a@b.kz".into()),
                decline: None,
                reason: None,
                test: true,
            }
        );
    }

    #[test]
    fn refuses_a_body_changed_by_one_byte() {
        let headers = signed(PAY);
        let changed = PAY.replace("Amount=1500.01", "Amount=1500.02");
        assert_eq!(
            read("pay", &changed, &headers),
            Err(NotificationError::BadSignature)
        );
        assert_eq!(read("pay", PAY, &[]), Err(NotificationError::BadSignature));
        // X-Content-HMAC alone is not enough (see the signature module).
        let x_only = vec![(
            signature::X_CONTENT_HMAC.to_owned(),
            signature::x_content_hmac(b"s3cr3t-api", PAY.as_bytes()),
        )];
        assert_eq!(
            read("pay", PAY, &x_only),
            Err(NotificationError::BadSignature)
        );
    }

    #[test]
    fn reads_fail_and_refund() {
        let fail = "TransactionId=505&Amount=10.00&Currency=KZT&TestMode=1&Reason=InsufficientFunds&ReasonCode=5051&OperationType=Payment&InvoiceId=43";
        let notification = read("fail", fail, &signed(fail)).unwrap();
        assert_eq!(notification.decline, Some(Decline::InsufficientFunds));
        assert_eq!(
            notification.reason.as_deref(),
            Some("5051 InsufficientFunds")
        );

        let refund = "TransactionId=900&PaymentTransactionId=504&Amount=1500.01&DateTime=2024-03-01+10%3A00%3A00&OperationType=Refund&InvoiceId=42";
        let notification = read("refund", refund, &signed(refund)).unwrap();
        assert_eq!(notification.kind, NotificationKind::Refund);
        assert_eq!(notification.transaction.as_deref(), Some("504"));
        assert_eq!(notification.currency, "KZT");
        assert_eq!(
            notification.reason.as_deref(),
            Some("refund transaction 900")
        );
    }

    #[test]
    fn a_signed_fail_or_refund_sent_as_a_pay_is_malformed() {
        let fail = "TransactionId=505&Amount=10.00&Currency=KZT&TestMode=1&Reason=InsufficientFunds&ReasonCode=5051&OperationType=Payment&InvoiceId=43";
        let refund = "TransactionId=900&PaymentTransactionId=504&Amount=1500.01&DateTime=2024-03-01+10%3A00%3A00&OperationType=Refund&InvoiceId=42";
        let authorized = PAY.replace("Status=Completed", "Status=Authorized");
        for body in [fail, refund, &authorized] {
            assert!(
                matches!(
                    read("pay", body, &signed(body)),
                    Err(NotificationError::Malformed(_))
                ),
                "{body}"
            );
        }
        assert!(read("pay", PAY, &signed(PAY)).is_ok());
    }

    #[test]
    fn reads_a_get_notification_from_the_query() {
        let incoming = Incoming {
            path: "check",
            query: PAY,
            headers: &signed(PAY),
            body: b"",
        };
        let notification = adapter().read_notification(&incoming).unwrap();
        assert_eq!(notification.kind, NotificationKind::Check);
    }

    #[test]
    fn refuses_what_it_cannot_read() {
        let no_invoice = "TransactionId=1&Amount=1.00&Currency=KZT";
        assert!(matches!(
            read("pay", no_invoice, &signed(no_invoice)),
            Err(NotificationError::Malformed(_))
        ));
        let sub_tiyn = "TransactionId=1&Amount=1.005&Currency=KZT&InvoiceId=1";
        assert!(matches!(
            read("pay", sub_tiyn, &signed(sub_tiyn)),
            Err(NotificationError::Malformed(_))
        ));
        assert!(matches!(
            read("confirm", PAY, &signed(PAY)),
            Err(NotificationError::Malformed(_))
        ));
        // A charge in another currency must not pass for tenge by leaving the currency out.
        let no_currency = PAY.replace("&Currency=KZT", "");
        assert!(matches!(
            read("pay", &no_currency, &signed(&no_currency)),
            Err(NotificationError::Malformed(_))
        ));
    }

    #[test]
    fn replies_in_codes() {
        let adapter = adapter();
        let notification = read("check", PAY, &signed(PAY)).unwrap();
        let accept = adapter.reply(&notification, Verdict::Accept);
        assert_eq!(
            (accept.status, accept.body.as_str()),
            (200, r#"{"code":0}"#)
        );
        let wrong = adapter.reply(&notification, Verdict::WrongAmount);
        assert_eq!(wrong.body, r#"{"code":12}"#);
        assert_eq!(adapter.reply(&notification, Verdict::TryLater).status, 503);
        assert_eq!(
            adapter
                .reply_refused(&NotificationError::BadSignature)
                .status,
            401
        );
    }

    #[test]
    fn never_prints_the_secret() {
        let text = format!("{:?}", adapter());
        assert!(!text.contains("s3cr3t-api"), "{text}");
        assert!(text.contains("pk_test"));
    }

    #[test]
    fn checks_its_configuration() {
        let mut config = ServiceConfig {
            kind: ServiceKind::TipTop,
            api_url: "https://api.tiptoppay.kz".into(),
            page_url: None,
            login: String::new(),
            secret: Secret("s".into()),
            secret2: None,
            test: false,
        };
        assert_eq!(
            TipTop::new(&config).err(),
            Some(ConfigError::Missing("TipTop Pay's Public ID"))
        );
        config.login = "pk".into();
        config.api_url = "https://pk:s@api.tiptoppay.kz".into();
        assert_eq!(
            TipTop::new(&config).err(),
            Some(ConfigError::CredentialsInUrl)
        );
    }
}

//! What the gateway asks of a payment service, whatever its wire format: make an order the
//! customer pays on the service's hosted page, read the service's signed notifications, answer
//! them, refund. TipTop Pay and Robokassa implement it ([`crate::tiptop`], [`crate::robokassa`]).
//!
//! The gateway owns every decision (is this bill payable, is it paid already): an adapter only
//! speaks the wire format and checks signatures. Nothing here logs a secret.

use std::future::Future;
use std::pin::Pin;

/// Which payment service a configuration speaks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ServiceKind {
    /// TipTop Pay (formerly CloudPayments Kazakhstan): the same API and notifications.
    TipTop,
    Robokassa,
}

impl ServiceKind {
    /// The name used in configuration, URLs (`/card/<name>/...`) and the database.
    pub fn name(self) -> &'static str {
        match self {
            ServiceKind::TipTop => "tiptop",
            ServiceKind::Robokassa => "robokassa",
        }
    }

    pub fn from_name(name: &str) -> Option<ServiceKind> {
        match name {
            "tiptop" => Some(ServiceKind::TipTop),
            "robokassa" => Some(ServiceKind::Robokassa),
            _ => None,
        }
    }
}

/// The language of the hosted page and its messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PageLanguage {
    Ru,
    Kk,
    En,
}

/// An order for the customer to pay on the service's page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Order {
    /// The gateway's number of the bill: the service's invoice id (`InvoiceId`, `InvId`).
    /// Robokassa takes only positive integers below 2^31, so it is a number for every service.
    pub invoice: u32,
    /// What the customer pays, in tiyn, in tenge (KZT).
    pub amount_tiyn: i64,
    /// Shown to the customer on the page: provider and account.
    pub description: String,
    /// Where the receipt goes, if the customer gave an address.
    pub email: Option<String>,
    pub language: PageLanguage,
    /// Where the service sends the customer's browser afterwards. Only a redirect: it settles
    /// nothing (only a signed notification does).
    pub success_url: String,
    pub fail_url: String,
}

/// The order was made: send the customer's browser here.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Created {
    pub redirect_url: String,
    /// The service's own id of the order, when it gives one.
    pub service_order: Option<String>,
}

impl Created {
    /// An order whose page is at `address`, as the service answered it: refused as unreadable
    /// unless it is an absolute `https` address (or `http`: a test service on a private
    /// network) with a host and nothing a `Location` header cannot carry. A control character
    /// would fail the customer's redirect; the URL parser would quietly drop a line break
    /// instead, so such an answer is refused before it is parsed.
    pub fn at(address: &str, service_order: Option<String>) -> Result<Created, ServiceError> {
        let unreadable =
            |why: &str| ServiceError::Unreadable(format!("the page {address:?} {why}"));
        if address.chars().any(char::is_control) {
            return Err(unreadable("has a control character"));
        }
        let url = url::Url::parse(address).map_err(|e| unreadable(&e.to_string()))?;
        if !matches!(url.scheme(), "https" | "http") || url.host().is_none() {
            return Err(unreadable("is not a web page's address"));
        }
        Ok(Created {
            // Serialised by the parser: ASCII, with anything else percent-encoded.
            redirect_url: url.into(),
            service_order,
        })
    }
}

/// What a notification is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotificationKind {
    /// Before the card is charged: may it be? (TipTop Pay's *Check*; Robokassa has none.)
    Check,
    /// The card was charged (TipTop Pay's *Pay*, Robokassa's *ResultURL*).
    Pay,
    /// The card was refused (TipTop Pay's *Fail*).
    Fail,
    /// A refund went through (TipTop Pay's *Refund*).
    Refund,
}

/// Why the card was refused, as far as the customer is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decline {
    InsufficientFunds,
    NotEnabledForInternet,
    CardExpired,
    WrongCardData,
    LimitExceeded,
    AuthenticationFailed,
    Other,
}

/// A notification whose signature verified: its facts, as the service stated them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notification {
    pub kind: NotificationKind,
    pub invoice: u32,
    /// The amount charged (or to be charged), in tiyn.
    pub amount_tiyn: i64,
    /// ISO 4217 letters, e.g. `KZT`.
    pub currency: String,
    /// The service's number of the card transaction (what a refund names), when given.
    pub transaction: Option<String>,
    pub email: Option<String>,
    /// For [`NotificationKind::Fail`]: why.
    pub decline: Option<Decline>,
    /// The service's own reason text or code, for the console.
    pub reason: Option<String>,
    /// A test payment (the service's test mode).
    pub test: bool,
}

/// What the gateway decided about a notification.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Taken (or already taken: a repeated notification gets the same answer).
    Accept,
    /// No such invoice.
    UnknownInvoice,
    /// The amount or currency is not the bill's.
    WrongAmount,
    /// The bill can no longer be paid (expired, cancelled, paid already by another transaction).
    NotPayable,
    /// The gateway could not decide now: the service should send it again later.
    TryLater,
}

/// An HTTP answer for the service, in its format.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
}

/// An incoming notification request as the gateway's HTTP layer received it, untouched.
#[derive(Clone, Debug)]
pub struct Incoming<'a> {
    /// The last path segment after `/card/<service>/`, e.g. `pay`, `check`, `result`.
    pub path: &'a str,
    /// The raw query string, without `?`.
    pub query: &'a str,
    /// The request's headers, names in lowercase.
    pub headers: &'a [(String, String)],
    /// The raw body, exactly as received (signatures are over these bytes).
    pub body: &'a [u8],
}

impl Incoming<'_> {
    /// The first header named `name` (lowercase).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Why a notification is not taken.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NotificationError {
    #[error("the notification's signature does not verify")]
    BadSignature,
    #[error("the notification is not one this service sends: {0}")]
    Malformed(String),
}

/// Why a call to the service failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ServiceError {
    #[error("could not reach the payment service: {0}")]
    Unreachable(String),
    #[error("the payment service refused: {0}")]
    Refused(String),
    /// The service did not take our credentials (this HTTP status): nothing it would have
    /// said about the request is known.
    #[error("the payment service refused: the credentials were not accepted (HTTP {0})")]
    CredentialsRefused(u16),
    #[error("the payment service's answer could not be read: {0}")]
    Unreadable(String),
    /// The operation is still under way at the service (e.g. a charge being credited to the
    /// shop): the same request is to be made again later.
    #[error("the payment service has not finished the operation yet: {0}")]
    NotYet(String),
}

impl ServiceError {
    /// Why the service refused for good — the request itself, or our credentials — in words to
    /// keep; `None` for an error worth asking again about.
    pub fn refusal(&self) -> Option<String> {
        match self {
            ServiceError::Refused(why) => Some(why.clone()),
            ServiceError::CredentialsRefused(status) => {
                Some(format!("the credentials were not accepted (HTTP {status})"))
            }
            _ => None,
        }
    }
}

/// A refund the service took (or had taken already: refunds are idempotent by their key).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refunded {
    /// The service's number of the refund, when it gives one: what
    /// [`PaymentService::refund_state`] asks about while it is [`RefundProgress::Processing`].
    pub refund_id: Option<String>,
    pub progress: RefundProgress,
}

impl Refunded {
    /// A refund the service has carried out.
    pub fn finished(refund_id: Option<String>) -> Refunded {
        Refunded {
            refund_id,
            progress: RefundProgress::Finished,
        }
    }
}

/// Where a refund the service took stands. TipTop Pay refunds while it answers; Robokassa
/// takes the request and carries it out later (its Refund/GetState says how far it got).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RefundProgress {
    /// The money is going back to the card: nothing more to do.
    Finished,
    /// Taken, not carried out yet: ask [`PaymentService::refund_state`] again later; never
    /// ask for the refund a second time.
    Processing,
    /// The service gave up on a refund it had taken (this reason): the money stays with the
    /// shop, the operator must act.
    Canceled(String),
}

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A payment service, as the gateway calls it.
pub trait PaymentService: Send + Sync {
    fn kind(&self) -> ServiceKind;

    /// Makes the order and says where to send the customer. Repeating it for the same invoice
    /// must not make a second charge possible (the gateway keeps one order per bill).
    fn create_order<'a>(&'a self, order: &'a Order)
    -> BoxFuture<'a, Result<Created, ServiceError>>;

    /// Verifies a notification's signature over the exact bytes received, then reads it.
    fn read_notification(&self, incoming: &Incoming<'_>)
    -> Result<Notification, NotificationError>;

    /// Whether this gateway is set up for the service's test mode (`--card-test`): only then
    /// does it take a notification of a test payment ([`Notification::test`]), which moved no
    /// money.
    fn takes_test_payments(&self) -> bool;

    /// Asks the service itself whether the card transaction of a verified Pay notification was
    /// charged for that notification's invoice and amount: `Ok` yes; [`ServiceError::Refused`]
    /// the service says it was not; any other error (its credentials refused included), ask
    /// again later. A notification's signature covers its body, not the address it was sent
    /// to, so a signed body of another kind — a Check, sent before the card is charged and
    /// looking much like a Pay — posted to the Pay address would otherwise settle a bill that
    /// no card paid.
    fn confirm_paid<'a>(
        &'a self,
        paid: &'a Notification,
    ) -> BoxFuture<'a, Result<(), ServiceError>>;

    /// The answer the service expects for `verdict` (e.g. `{"code":0}`, `OK42`).
    fn reply(&self, notification: &Notification, verdict: Verdict) -> Reply;

    /// The answer to a notification that could not be read (bad signature, malformed).
    fn reply_refused(&self, error: &NotificationError) -> Reply;

    /// Refunds `amount_tiyn` of the card payment `transaction` of `invoice` in full. `key` is the
    /// gateway's idempotency key: the same key never refunds twice. A service that carries the
    /// refund out later answers [`RefundProgress::Processing`] with its number for it, to be
    /// followed with [`Self::refund_state`].
    fn refund<'a>(
        &'a self,
        invoice: u32,
        transaction: Option<&'a str>,
        amount_tiyn: i64,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Refunded, ServiceError>>;

    /// Where the refund the service numbered `refund_id` (a [`Refunded::refund_id`] that was
    /// [`RefundProgress::Processing`]) stands now. Its errors are never refusals of the refund
    /// itself: whatever it says, the refund was taken, so the question is asked again.
    fn refund_state<'a>(
        &'a self,
        refund_id: &'a str,
    ) -> BoxFuture<'a, Result<RefundProgress, ServiceError>>;

    /// Whether the payment `transaction` of `invoice` was refunded already, asked before a
    /// refund is sent again once the service may have forgotten the idempotency key of an
    /// earlier attempt whose answer was lost: `Some` (the refund, as if it had just been
    /// answered) means do not send it again; `None`, send it.
    fn find_refund<'a>(
        &'a self,
        invoice: u32,
        transaction: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Option<Refunded>, ServiceError>>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_address_is_taken_as_it_travels_in_a_redirect() {
        let created = Created::at("https://pay.tiptoppay.kz/Д?i=1", Some("7".into())).unwrap();
        assert_eq!(created.redirect_url, "https://pay.tiptoppay.kz/%D0%94?i=1");
        assert_eq!(created.service_order.as_deref(), Some("7"));
        assert!(Created::at("http://10.0.0.5:8092/checkout/1", None).is_ok());
    }

    #[test]
    fn an_address_no_browser_should_be_sent_to_is_unreadable() {
        for address in [
            "https://pay.tiptoppay.kz/\r\nSet-Cookie: a=b",
            "https://pay.tiptoppay.kz/\u{7f}",
            "javascript:alert(1)",
            "/checkout/1",
            "",
        ] {
            assert!(
                matches!(Created::at(address, None), Err(ServiceError::Unreadable(_))),
                "{address:?}"
            );
        }
    }
}

//! One payment as the phone keeps it: what the cashier entered, signed at the moment it was
//! confirmed, and where it stands since.
//!
//! Two types, as in Workbox's queue: a [`SignedPayment`] is made when the cashier confirms and
//! never changes again (the session, the creation time and the exact signed bytes of its `pay`
//! and `status` requests); a [`PaymentRecord`] is a signed payment once stored, with its
//! progress. A payment is sent again only as the very same bytes — never re-signed, never under
//! a new session — so the gateway's idempotency makes any number of replays safe.

use serde::{Deserialize, Serialize};
use tolem_protocol::PROTOCOL_VERSION;
use tolem_protocol::codes::ResultCode;
use tolem_protocol::commission::Split;
use tolem_protocol::ids::SessionId;
use tolem_protocol::keys::{KeyError, SecretKey, Signature};
use tolem_protocol::messages::{DecodeError, Delivery, KeyCard, Message, Payment, Request, Step};
use tolem_protocol::signing::Signed;

/// Exact bytes signed by the point key, as stored: the body as text (protocol messages are
/// UTF-8 JSON, so nothing is lost) and the signature as the header carries it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedRequest {
    /// The key serial that signed (the `x-tolem-key` header).
    pub signer: String,
    /// The body, byte for byte what was signed.
    pub body: String,
    /// The `x-tolem-signature` header.
    pub signature: String,
}

impl SignedRequest {
    fn from_signed(signed: Signed) -> SignedRequest {
        SignedRequest {
            signer: signed.signer,
            body: String::from_utf8(signed.body).expect("protocol messages are UTF-8 JSON"),
            signature: signed.signature.to_string(),
        }
    }

    /// The bytes that are sent.
    pub fn bytes(&self) -> &[u8] {
        self.body.as_bytes()
    }

    /// Back to the protocol's type, e.g. to check the signature with the point's public key.
    pub fn to_signed(&self) -> Result<Signed, KeyError> {
        Ok(Signed {
            signer: self.signer.clone(),
            body: self.body.clone().into_bytes(),
            signature: self.signature.parse::<Signature>()?,
        })
    }
}

/// What the cashier entered, checked by the form, ready to be signed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PaymentDraft {
    /// The provider's code from the catalogue.
    pub provider: String,
    /// The provider's name as the catalogue showed it (kept for the history and the receipt).
    pub provider_name: String,
    /// The number as it is sent: normalised by the provider's rule.
    pub account: String,
    /// Provider amount, the point's commission and the customer amount.
    pub split: Split,
    pub comment: Option<String>,
}

impl PaymentDraft {
    /// The payment as a signed `check` or `pay` request carries it: one builder for both, so
    /// the number checked is exactly the one paid.
    pub fn payment(&self) -> Payment {
        Payment {
            provider: self.provider.clone(),
            account: self.account.clone(),
            amount_tiyn: self.split.provider_tiyn,
            customer_amount_tiyn: self.split.customer_tiyn,
            comment: self.comment.clone().filter(|c| !c.is_empty()),
        }
    }
}

/// A payment signed when the cashier confirmed it, before it is stored. Never changes again.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedPayment {
    /// The idempotency key of the payment (also the record's key in IndexedDB).
    pub session: SessionId,
    pub provider: String,
    pub provider_name: String,
    pub account: String,
    /// What the provider is credited.
    pub amount_tiyn: i64,
    /// The point's extra commission.
    pub commission_tiyn: i64,
    /// What the customer handed over.
    pub customer_amount_tiyn: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// When the customer paid (UTC milliseconds); signed, so a deferred payment keeps it.
    pub created_at_ms: i64,
    pub dealer: String,
    pub point: String,
    pub point_name: String,
    pub cashier: String,
    /// The signed `pay` request.
    pub pay: SignedRequest,
    /// A `status` request for the same session, signed at the same moment: whoever holds the
    /// record (the service worker has no private key) can ask how an unclear payment ended.
    pub status: SignedRequest,
}

impl SignedPayment {
    /// Signs `draft` for the card's point and cashier under a new session made from `now_ms` and
    /// `random` (8 bytes from a cryptographic source): the `pay` request and its `status`
    /// request, both created at `now_ms`. Refuses what the gateway would refuse as malformed,
    /// so nothing unsendable is ever stored.
    pub fn sign(
        draft: &PaymentDraft,
        card: &KeyCard,
        key: &SecretKey,
        now_ms: i64,
        random: [u8; 8],
    ) -> Result<SignedPayment, DecodeError> {
        let session = SessionId::generate(now_ms, random);
        let request = |step: Step| Request {
            v: PROTOCOL_VERSION,
            dealer: card.dealer.clone(),
            point: card.point.clone(),
            cashier: card.cashier.clone(),
            key_serial: card.key_serial.clone(),
            session: session.clone(),
            created_at_ms: now_ms,
            step,
        };
        let payment = draft.payment();
        let pay = request(Step::Pay(payment.clone()));
        pay.validate()?;
        let sign = |request: Request| {
            SignedRequest::from_signed(Signed::sign(&card.key_serial, request.encode(), key))
        };
        Ok(SignedPayment {
            session: session.clone(),
            provider: draft.provider.clone(),
            provider_name: draft.provider_name.clone(),
            account: draft.account.clone(),
            amount_tiyn: draft.split.provider_tiyn,
            commission_tiyn: draft.split.commission_tiyn,
            customer_amount_tiyn: draft.split.customer_tiyn,
            comment: payment.comment,
            created_at_ms: now_ms,
            dealer: card.dealer.clone(),
            point: card.point.clone(),
            point_name: card.point_name.clone(),
            cashier: card.cashier.clone(),
            pay: sign(pay),
            status: sign(request(Step::Status)),
        })
    }
}

/// Where a payment stands on this phone.
///
/// ```text
/// deferred ──send──▶ sending ──▶ accepted | rejected(code)
///    ▲                  │
///    │                  ▼ no clear answer (timeout, 5xx, reset, not a signed answer)
///    └── status: 11 ── unknown ──status──▶ accepted | rejected(code)
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "code", rename_all = "snake_case")]
pub enum State {
    /// Signed and stored, not sent yet (deferred by the cashier, or the phone was offline).
    Deferred,
    /// Being sent right now. Found like this later, the sender was interrupted: the payment may
    /// have arrived, so it is settled by a status query like [`State::Unknown`].
    Sending,
    /// Sent, but no clear answer came back: it may or may not have been paid. Settled by the
    /// pre-signed status query, never by paying under a new session.
    Unknown,
    /// The gateway accepted it (final).
    Accepted,
    /// The gateway refused it with this code (final); 32 is "the same payment was accepted
    /// within the last hour".
    Rejected(ResultCode),
}

impl State {
    /// Accepted or rejected: nothing more will happen to the payment.
    pub fn is_final(self) -> bool {
        matches!(self, State::Accepted | State::Rejected(_))
    }

    /// Whether the next step is a status query (the pay may have arrived) rather than the pay.
    pub fn needs_status(self) -> bool {
        matches!(self, State::Unknown | State::Sending)
    }

    /// A stable word for the state as the cashier sees it (pages put it in `data-state`):
    /// `deferred`, `sending`, `unknown`, `accepted`, `duplicate` (rejected with 32) or `rejected`.
    pub fn name(self) -> &'static str {
        match self {
            State::Deferred => "deferred",
            State::Sending => "sending",
            State::Unknown => "unknown",
            State::Accepted => "accepted",
            State::Rejected(ResultCode::Duplicate) => "duplicate",
            State::Rejected(_) => "rejected",
        }
    }
}

/// Why the last attempt got no answer from the gateway (shown on the payment's page; a
/// replayer stops for now when the network is the problem).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "status", rename_all = "snake_case")]
pub enum Failure {
    /// Nothing left the phone.
    Offline,
    /// No answer in time.
    Timeout,
    /// The gateway or a proxy failed with this HTTP status.
    ServerError(u16),
    /// The connection broke.
    ConnectionLost,
    /// Something answered that is not the gateway's signed answer (a captive portal).
    NotAnAnswer,
}

/// The gateway's signed answer, kept as received: proof of what the gateway decided.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredAnswer {
    /// The step answered: `pay` or `status`.
    pub step: String,
    pub code: ResultCode,
    /// The answer's bytes (UTF-8 JSON) and the gateway's signature over them.
    pub body: String,
    pub signature: String,
    pub received_at_ms: i64,
}

/// A payment as stored in the history: the signed payment and its progress.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentRecord {
    /// The stores' key (their key path is `session`): always `payment.session`. A field of its
    /// own rather than a flattened payment, whose deserialiser costs the download far more.
    pub session: SessionId,
    pub payment: SignedPayment,
    pub state: State,
    /// The gateway's transaction id, once it decided (rejected payments have one too).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_id: Option<String>,
    /// When the gateway decided (UTC milliseconds), from its receipt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_at_ms: Option<i64>,
    /// The last signed answer of the gateway about this payment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_answer: Option<StoredAnswer>,
    /// Why the last attempt got no answer, when it got none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_failure: Option<Failure>,
    /// Where the gateway is with carrying an accepted payment to its provider, as its latest
    /// answer (pay, or a status query) said. Records stored before delivery existed, and
    /// payments the gateway did not accept, have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery: Option<Delivery>,
    /// Requests sent for it so far (pays and status queries).
    pub attempts: u32,
    /// Not to be sent again before this time (UTC milliseconds).
    pub next_attempt_at_ms: i64,
    pub updated_at_ms: i64,
}

impl PaymentRecord {
    /// A freshly signed payment as it is first stored: deferred, due at once.
    pub fn new(payment: SignedPayment, now_ms: i64) -> PaymentRecord {
        PaymentRecord {
            session: payment.session.clone(),
            payment,
            state: State::Deferred,
            transaction_id: None,
            decided_at_ms: None,
            last_answer: None,
            last_failure: None,
            delivery: None,
            attempts: 0,
            next_attempt_at_ms: now_ms,
            updated_at_ms: now_ms,
        }
    }

    pub fn session(&self) -> &SessionId {
        &self.session
    }

    /// Whether the delivery of this payment may still change, so a status query is worth
    /// sending: the gateway accepted it, said it is on its way, and has not said the last word
    /// (delivered or refunded). A payment accepted without a delivery (by a gateway older than
    /// delivery) is not asked about: that gateway will never say more.
    pub fn delivery_pending(&self) -> bool {
        self.state == State::Accepted
            && self
                .delivery
                .as_ref()
                .is_some_and(|delivery| !delivery.state.is_final())
    }
}

/// Whether `fresh` should replace the `stored` delivery of a payment. Answers can arrive out of
/// order (two tabs, a slow status answer overtaken by a newer one), so a final delivery is
/// never replaced by one that is not, and an older state never replaces a newer one; an equal
/// one is not written again (nothing to announce).
pub fn is_newer_delivery(stored: Option<&Delivery>, fresh: &Delivery) -> bool {
    let Some(stored) = stored else {
        return true;
    };
    if stored == fresh {
        return false;
    }
    // `delayed` may turn on without a change of state (and of `updated_at_ms`): hence `>=`.
    let not_older = fresh.updated_at_ms >= stored.updated_at_ms;
    match (stored.state.is_final(), fresh.state.is_final()) {
        (true, false) => false,
        (false, true) => true,
        _ => not_older,
    }
}

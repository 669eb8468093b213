//! One payment as the phone keeps it: what the cashier entered, signed at the moment it was
//! confirmed, and where it stands since.
//!
//! Two types, as in Workbox's queue: a [`SignedPayment`] is made when the cashier confirms and
//! never changes again (the session, the creation time and the exact signed bytes of its `pay`
//! and `status` requests); a [`PaymentRecord`] is a signed payment once stored, with its
//! progress. A payment is sent again only as the very same bytes — never re-signed, never under
//! a new session — so the gateway's idempotency makes any number of replays safe.
//!
//! A card payment is the same record with a [`BillRequests`] part: the customer pays on their own
//! phone, from a QR code carrying the signed `bill` (in [`SignedPayment::pay`]'s place — the one
//! request that makes the payment), and this phone only ever sends the bill's pre-signed `status`
//! and `cancel`. Every field added for bills is optional with a default, so records stored before
//! card payments existed load unchanged (as cash payments).

use serde::{Deserialize, Serialize};
use tolem_protocol::PROTOCOL_VERSION;
use tolem_protocol::codes::ResultCode;
use tolem_protocol::commission::Split;
use tolem_protocol::ids::SessionId;
use tolem_protocol::keys::{KeyError, SecretKey, Signature};
use tolem_protocol::messages::{
    Bill, BillStatus, DecodeError, Delivery, KeyCard, Message, Payment, PaymentMethod, Request,
    Step,
};
use tolem_protocol::signing::Signed;

/// How long a bill may be paid: long enough for a customer to open the link, type a card and get
/// through 3-D Secure on a slow line; short enough that the cashier is not left waiting.
pub const BILL_LIFETIME_MS: i64 = 30 * 60_000;
/// How long after a bill's expiry (by this phone's clock) "no such session" is taken as final:
/// the gateway refuses to open a bill past its expiry, so a bill it still does not know by then
/// was never opened and can never be paid. The margin covers clocks that disagree a little (and
/// the answer's own signed gateway time must be past the expiry too).
pub const BILL_GRACE_MS: i64 = 5 * 60_000;

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
    /// The signed request that makes the payment: `pay` for cash; for a card payment the
    /// signed `bill` the customer's phone carries to the gateway (see [`SignedPayment::bill`]) —
    /// this phone never posts it.
    pub pay: SignedRequest,
    /// A `status` request for the same session, signed at the same moment: whoever holds the
    /// record (the service worker has no private key) can ask how an unclear payment ended.
    pub status: SignedRequest,
    /// For a card payment, what makes it a bill: then [`SignedPayment::pay`] holds the signed
    /// `bill` request the customer's phone carries (never posted by this phone). Absent for cash,
    /// and in every record stored before card payments existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bill: Option<BillRequests>,
    /// The payment's number among the cash payments its key signed (1, 2, 3…), signed inside
    /// its `pay` ([`crate::sequence`]): the gateway lists the numbers it never received. Absent
    /// for bills and in records stored before numbering existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<i64>,
}

/// The parts of a card payment's record that a cash payment has not, signed with it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BillRequests {
    /// Until when the customer may pay (UTC milliseconds, this phone's clock), as signed.
    pub expires_at_ms: i64,
    /// A `cancel` request for the bill's session, signed at the same moment, so the cashier (or
    /// the service worker, later) can cancel it without unlocking the key.
    pub cancel: SignedRequest,
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
        Signer::new(card, key, now_ms, random).payment(draft, PaymentMethod::Cash)
    }

    /// Signs `draft` like [`SignedPayment::sign`], numbered `seq` among its key's payments (the
    /// number is signed inside the `pay`). [`crate::store::save_numbered`] picks the number and
    /// stores the payment under it, so no number is skipped or given twice.
    pub fn sign_numbered(
        draft: &PaymentDraft,
        card: &KeyCard,
        key: &SecretKey,
        now_ms: i64,
        random: [u8; 8],
        seq: i64,
    ) -> Result<SignedPayment, DecodeError> {
        let mut signer = Signer::new(card, key, now_ms, random);
        signer.seq = Some(seq);
        signer.payment(draft, PaymentMethod::Cash)
    }

    /// Signs `draft` as a bill for the customer to pay by card on their own phone, exactly as
    /// [`SignedPayment::sign`] signs a payment: a `bill` request payable until `now_ms` +
    /// [`BILL_LIFETIME_MS`], and — signed at the same moment, for the same new session — its
    /// `status` and `cancel` requests.
    pub fn sign_bill(
        draft: &PaymentDraft,
        card: &KeyCard,
        key: &SecretKey,
        now_ms: i64,
        random: [u8; 8],
    ) -> Result<SignedPayment, DecodeError> {
        Signer::new(card, key, now_ms, random).payment(draft, PaymentMethod::Card)
    }

    /// How the customer pays: by card when this is a bill.
    pub fn method(&self) -> PaymentMethod {
        if self.bill.is_some() {
            PaymentMethod::Card
        } else {
            PaymentMethod::Cash
        }
    }

    /// Whether this is a bill for the customer's card (never posted as a pay by this phone).
    pub fn is_bill(&self) -> bool {
        self.bill.is_some()
    }

    /// The link the bill's QR code carries, `<origin>/bill/<token>` with the exact signed bytes
    /// and their signature ([`tolem_protocol::bill::link`]); `None` for a cash payment.
    pub fn bill_link(&self, origin: &str) -> Option<String> {
        self.bill.as_ref()?;
        let signed = self.pay.to_signed().ok()?;
        Some(tolem_protocol::bill::link(
            origin,
            &signed.body,
            &signed.signature,
        ))
    }
}

/// One moment's signing: every request of a payment shares its session and creation time.
struct Signer<'a> {
    card: &'a KeyCard,
    key: &'a SecretKey,
    session: SessionId,
    now_ms: i64,
    /// The number the `pay` carries, if numbered.
    seq: Option<i64>,
}

impl<'a> Signer<'a> {
    fn new(card: &'a KeyCard, key: &'a SecretKey, now_ms: i64, random: [u8; 8]) -> Self {
        Signer {
            card,
            key,
            session: SessionId::generate(now_ms, random),
            now_ms,
            seq: None,
        }
    }

    fn request(&self, step: Step) -> Request {
        Request {
            v: PROTOCOL_VERSION,
            dealer: self.card.dealer.clone(),
            point: self.card.point.clone(),
            cashier: self.card.cashier.clone(),
            key_serial: self.card.key_serial.clone(),
            session: self.session.clone(),
            created_at_ms: self.now_ms,
            // Only the pay is numbered: status and cancel ask about it, they are no payment.
            seq: matches!(step, Step::Pay(_)).then_some(self.seq).flatten(),
            outbox_lost: None,
            step,
        }
    }

    fn sign(&self, request: Request) -> SignedRequest {
        SignedRequest::from_signed(Signed::sign(
            &self.card.key_serial,
            request.encode(),
            self.key,
        ))
    }

    fn payment(
        &self,
        draft: &PaymentDraft,
        method: PaymentMethod,
    ) -> Result<SignedPayment, DecodeError> {
        let payment = draft.payment();
        let comment = payment.comment.clone();
        let expires_at_ms = self.now_ms + BILL_LIFETIME_MS;
        let first = match method {
            PaymentMethod::Cash => self.request(Step::Pay(payment)),
            PaymentMethod::Card => self.request(Step::Bill(Bill {
                payment,
                expires_at_ms,
            })),
        };
        first.validate()?;
        let bill = (method == PaymentMethod::Card).then(|| BillRequests {
            expires_at_ms,
            cancel: self.sign(self.request(Step::Cancel)),
        });
        let card = self.card;
        Ok(SignedPayment {
            session: self.session.clone(),
            provider: draft.provider.clone(),
            provider_name: draft.provider_name.clone(),
            account: draft.account.clone(),
            amount_tiyn: draft.split.provider_tiyn,
            commission_tiyn: draft.split.commission_tiyn,
            customer_amount_tiyn: draft.split.customer_tiyn,
            comment,
            created_at_ms: self.now_ms,
            dealer: card.dealer.clone(),
            point: card.point.clone(),
            point_name: card.point_name.clone(),
            cashier: card.cashier.clone(),
            pay: self.sign(first),
            status: self.sign(self.request(Step::Status)),
            bill,
            seq: (method == PaymentMethod::Cash)
                .then_some(self.seq)
                .flatten(),
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
///
/// sending ──▶ held(code) ──(its time comes)──▶ sending …
/// ```
///
/// *Held* is the gateway's "not now" to a sender that cannot pay yet but may later — 902 key not
/// yet certified, 52/53/54 dealer, point or cashier blocked (or the key bound to another
/// cashier), 910 the phone's clock ahead. The gateway stored nothing, so the same signed pay
/// goes out again later, by itself; the cash stays counted as waiting.
///
/// A bill (a card payment) is never sent; only its status is asked, and its cancel sent:
///
/// ```text
/// awaiting_card ──status──▶ accepted (paid by card) | rejected(916 expired, 917 cancelled, 918)
///       │  ▲ 11 or 915: the customer has not paid (yet); 11 past expiry + grace: expired (916)
///       ▼  │
///   (cancel pressed) cancelling ──cancel──▶ rejected(917 cancelled) | accepted (paid first) | rejected(916)
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
    /// within the last hour". A bill that ended unpaid is rejected too: 916 expired, 917
    /// cancelled, 918 card payments are not set up on the gateway.
    Rejected(ResultCode),
    /// A bill waits for the customer to pay it by card on their own phone: only its pre-signed
    /// status is asked, never a pay sent.
    AwaitingCard,
    /// The cashier cancelled a bill; its pre-signed cancel has not been answered yet (the phone
    /// may be offline). An answer that says it was paid meanwhile wins.
    Cancelling,
    /// The gateway refused it for now with this code and stored nothing (see the diagram): it
    /// waits like a deferred one, with a longer backoff, until the cause is gone.
    Held(ResultCode),
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

    /// Whether a bill still waits for a word from the gateway (awaiting payment, or cancelling).
    pub fn is_bill_waiting(self) -> bool {
        matches!(self, State::AwaitingCard | State::Cancelling)
    }

    /// A stable word for the state as the cashier sees it (pages put it in `data-state`):
    /// `deferred`, `sending`, `unknown`, `accepted`, `duplicate` (rejected with 32) or `rejected`;
    /// for bills `awaiting_card`, `cancelling`, `expired` (916) and `cancelled` (917); `held`
    /// for a payment the gateway refused for now.
    pub fn name(self) -> &'static str {
        match self {
            State::Deferred => "deferred",
            State::Sending => "sending",
            State::Unknown => "unknown",
            State::Accepted => "accepted",
            State::Rejected(ResultCode::Duplicate) => "duplicate",
            State::Rejected(ResultCode::BillExpired) => "expired",
            State::Rejected(ResultCode::BillCancelled) => "cancelled",
            State::Rejected(_) => "rejected",
            State::AwaitingCard => "awaiting_card",
            State::Cancelling => "cancelling",
            State::Held(_) => "held",
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
    /// For a bill the customer opened: where it stands as the gateway last said (915–917 answers)
    /// — its expiry by the gateway's clock, and why the customer's last card was refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bill: Option<BillStatus>,
    /// Requests sent for it so far (pays and status queries).
    pub attempts: u32,
    /// Not to be sent again before this time (UTC milliseconds).
    pub next_attempt_at_ms: i64,
    pub updated_at_ms: i64,
}

impl PaymentRecord {
    /// A freshly signed payment as it is first stored: deferred (a bill: awaiting the card),
    /// due at once.
    pub fn new(payment: SignedPayment, now_ms: i64) -> PaymentRecord {
        PaymentRecord {
            session: payment.session.clone(),
            state: if payment.is_bill() {
                State::AwaitingCard
            } else {
                State::Deferred
            },
            payment,
            transaction_id: None,
            decided_at_ms: None,
            last_answer: None,
            last_failure: None,
            delivery: None,
            bill: None,
            attempts: 0,
            next_attempt_at_ms: now_ms,
            updated_at_ms: now_ms,
        }
    }

    pub fn session(&self) -> &SessionId {
        &self.session
    }

    /// Whether the customer paid it by card (a bill the gateway accepted).
    pub fn paid_by_card(&self) -> bool {
        self.state == State::Accepted && self.payment.is_bill()
    }

    /// Until when the customer may pay a bill: the expiry it was signed with, or the gateway's
    /// when that is earlier (the gateway may cut a bill's life shorter). `None` for cash.
    pub fn bill_expires_at_ms(&self) -> Option<i64> {
        let signed = self.payment.bill.as_ref()?.expires_at_ms;
        Some(match &self.bill {
            Some(status) => signed.min(status.expires_at_ms),
            None => signed,
        })
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

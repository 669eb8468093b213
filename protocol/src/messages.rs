//! Every request and response of the protocol, and how they are encoded.
//!
//! Messages travel as JSON (UTF-8), at most [`MAX_BODY_BYTES`]. Each carries `v`, the protocol
//! version. Unsigned steps (getting the key card) go to `/api/v1/key-card`; key registration is
//! signed by the new key itself (proof that the phone holds its private half) and goes to
//! `/api/v1/keys`; every other step is a [`Request`] signed by the point key and goes to
//! `/api/v1/<step>` (see [`Step::name`]).

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::PROTOCOL_VERSION;
use crate::codes::ResultCode;
use crate::ids::{SessionId, check_code};
use crate::keys::PublicKey;
pub use crate::shift::ShiftReport;
use crate::signing::MAX_BODY_BYTES;

/// The longest comment a cashier may attach to a payment.
pub const COMMENT_MAX_CHARS: usize = 64;
/// The longest point password accepted on the wire (longer ones cannot be valid).
pub const PASSWORD_MAX_CHARS: usize = 128;

/// Why bytes could not be turned into a message.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("the message is {size} bytes, more than the {most} allowed")]
    TooLarge { size: usize, most: usize },
    #[error("the message is not valid: {0}")]
    Malformed(String),
    #[error("protocol version {0} is not supported (this side speaks {PROTOCOL_VERSION})")]
    UnsupportedVersion(u16),
    #[error("{0}")]
    Invalid(String),
}

impl DecodeError {
    /// The result code to answer with.
    pub fn code(&self) -> ResultCode {
        match self {
            DecodeError::UnsupportedVersion(_) => ResultCode::UnsupportedVersion,
            _ => ResultCode::Malformed,
        }
    }
}

/// A message of the protocol: it knows its version and what makes it valid.
pub trait Message: Serialize + DeserializeOwned {
    /// Whether [`decode`](Message::decode) refuses fields this type does not have. True for what
    /// a phone signs and the gateway reads: a signature must never cover words the gateway
    /// skips (a second `amount`, a misspelt `coment`), or the gateway would act on less than
    /// the phone signed. False for the gateway's answers, so a phone of an older version still
    /// reads an answer that gained a field. (`deny_unknown_fields` cannot be used: it does not
    /// work with the `flatten` that carries a request's step.)
    const EXACT_FIELDS: bool = false;

    /// The most bytes [`decode`](Message::decode) reads.
    const MAX_BYTES: usize = MAX_BODY_BYTES;

    fn version(&self) -> u16;

    /// Checks what the types cannot (lengths, signs, relations between fields).
    fn validate(&self) -> Result<(), DecodeError> {
        Ok(())
    }

    /// The bytes to send (and to sign).
    fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("protocol messages always serialise")
    }

    /// Reads a message, refusing oversized, malformed, other-version and invalid ones.
    fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        if bytes.len() > Self::MAX_BYTES {
            return Err(DecodeError::TooLarge {
                size: bytes.len(),
                most: Self::MAX_BYTES,
            });
        }
        let message: Self = read_versioned(bytes)?;
        if Self::EXACT_FIELDS {
            exact_fields(bytes, &message)?;
        }
        message.validate()?;
        Ok(message)
    }
}

/// Reads a versioned JSON document: the version first, so a newer phone or gateway is told
/// "another version" (901) rather than "malformed" (900) when the rest has changed shape.
pub(crate) fn read_versioned<T: serde::de::DeserializeOwned>(
    bytes: &[u8],
) -> Result<T, DecodeError> {
    check_version(bytes)?;
    crate::json::from_bytes(bytes).map_err(|e| DecodeError::Malformed(e.to_string()))
}

/// The version check of [`read_versioned`], kept out of the generic part: one copy in the app's
/// wasm instead of one per message type.
#[inline(never)]
fn check_version(bytes: &[u8]) -> Result<(), DecodeError> {
    #[derive(Deserialize)]
    struct Version {
        v: u16,
    }
    let version: Version =
        crate::json::from_bytes(bytes).map_err(|e| DecodeError::Malformed(e.to_string()))?;
    if version.v != PROTOCOL_VERSION {
        return Err(DecodeError::UnsupportedVersion(version.v));
    }
    Ok(())
}

/// Refuses `bytes` when they say anything `message` (read from them) does not: a field it has
/// no place for, or a field written twice. Compared as JSON values, so key order and spacing
/// do not matter; every field is written when encoding except absent options, which are absent
/// on both sides.
fn exact_fields<M: Serialize>(bytes: &[u8], message: &M) -> Result<(), DecodeError> {
    let sent: serde_json::Value =
        crate::json::from_bytes(bytes).map_err(|e| DecodeError::Malformed(e.to_string()))?;
    let read = serde_json::to_value(message).map_err(|e| DecodeError::Malformed(e.to_string()))?;
    if sent != read {
        return Err(DecodeError::Malformed(
            "the message has a field that is not part of the protocol, or one written twice"
                .to_owned(),
        ));
    }
    Ok(())
}

fn invalid(what: &str) -> DecodeError {
    DecodeError::Invalid(what.to_owned())
}

fn check_codes(codes: &[&str]) -> Result<(), DecodeError> {
    codes
        .iter()
        .try_for_each(|c| check_code(c).map_err(|e| DecodeError::Invalid(e.to_string())))
}

// ----- key card and registration ---------------------------------------------------------------

/// Phone → gateway: "give me the key card of this point" (with the code and password the dealer
/// issued). Sent over HTTPS, unsigned: the phone has no key yet.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyCardRequest {
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 1))]
    pub v: u16,
    #[cfg_attr(feature = "openapi", schema(pattern = "^[A-Za-z0-9_-]{1,32}$"))]
    pub point: String,
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 128))]
    pub password: String,
}

impl Message for KeyCardRequest {
    const EXACT_FIELDS: bool = true;

    fn version(&self) -> u16 {
        self.v
    }
    fn validate(&self) -> Result<(), DecodeError> {
        check_codes(&[&self.point])?;
        if self.password.is_empty() || self.password.chars().count() > PASSWORD_MAX_CHARS {
            return Err(invalid("the password is empty or too long"));
        }
        Ok(())
    }
}

/// Limits that let a point take payments without a network, set by the dealer.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfflineLimits {
    /// The largest single payment that may be deferred.
    pub max_payment_tiyn: i64,
    /// The most that may wait on the phone at once.
    pub max_total_tiyn: i64,
    /// How long a deferred payment may wait before the gateway refuses it.
    pub max_age_ms: i64,
}

/// Gateway → phone: who the point is and which key serial its new key will have.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyCard {
    pub v: u16,
    pub dealer: String,
    pub dealer_name: String,
    pub point: String,
    pub point_name: String,
    /// The cashier the phone works as.
    pub cashier: String,
    /// The serial the key made for this card is registered under.
    pub key_serial: String,
    /// The gateway's key: the phone verifies the gateway's answers with it.
    pub gateway_key: PublicKey,
    pub offline: OfflineLimits,
    pub issued_at_ms: i64,
    /// How the cashier reaches the dealer's support (phone, e-mail), as the dealer gave it to
    /// the operator; shown on the app's *About* screen. Absent when none was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dealer_contact: Option<String>,
    /// Who the dealer is in law, for the payment document the point gives the customer
    /// (manual §1). Absent from older gateways; a phone enrolled before learns it from the
    /// signed balance answer ([`BalanceInfo::dealer`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dealer_details: Option<DealerDetails>,
}

/// The dealer as a payment document names it: the legal name, the business identification
/// number and the legal address, as the operator registered them (either may be empty when
/// the operator has not given it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DealerDetails {
    pub name: String,
    #[serde(default)]
    pub bin: String,
    #[serde(default)]
    pub legal_address: String,
}

impl Message for KeyCard {
    fn version(&self) -> u16 {
        self.v
    }
    fn validate(&self) -> Result<(), DecodeError> {
        check_codes(&[&self.dealer, &self.point, &self.cashier, &self.key_serial])
    }
}

/// Phone → gateway: register this public key under the card's serial. Signed by the new key
/// itself, so only a phone that holds the private half can register it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterKey {
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 1))]
    pub v: u16,
    #[cfg_attr(feature = "openapi", schema(pattern = "^[A-Za-z0-9_-]{1,32}$"))]
    pub point: String,
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 128))]
    pub password: String,
    #[cfg_attr(feature = "openapi", schema(pattern = "^[A-Za-z0-9_-]{1,32}$"))]
    pub key_serial: String,
    pub public_key: PublicKey,
    pub created_at_ms: i64,
    /// Set when the phone found its stored payments gone (the browser cleared its storage, and
    /// with it the old key): the gateway flags the old key on the point's page, since payments
    /// signed by it and not yet sent are lost. Absent from older phones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outbox_lost: Option<OutboxLost>,
}

/// What a phone says when its outbox vanished: the key whose waiting payments went with it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxLost {
    /// The serial of the key the vanished outbox belonged to.
    #[cfg_attr(feature = "openapi", schema(pattern = "^[A-Za-z0-9_-]{1,32}$"))]
    pub key_serial: String,
    /// When the phone noticed (UTC milliseconds, the phone's clock).
    pub noticed_at_ms: i64,
}

impl Message for RegisterKey {
    const EXACT_FIELDS: bool = true;

    fn version(&self) -> u16 {
        self.v
    }
    fn validate(&self) -> Result<(), DecodeError> {
        check_codes(&[&self.point, &self.key_serial])?;
        if let Some(lost) = &self.outbox_lost {
            check_codes(&[&lost.key_serial])?;
        }
        if self.password.is_empty() || self.password.chars().count() > PASSWORD_MAX_CHARS {
            return Err(invalid("the password is empty or too long"));
        }
        Ok(())
    }
}

/// Where a key stands with the gateway.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyState {
    /// Registered; the dealer has not compared and certified it yet.
    Pending,
    /// Certified by the dealer: may sign requests that move money.
    Certified,
    /// Revoked: refused for good.
    Revoked,
}

crate::read_by_name!(KeyState {
    Pending = "pending",
    Certified = "certified",
    Revoked = "revoked",
});

// ----- signed requests ----------------------------------------------------------------------------

/// A payment as the cashier entered it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payment {
    /// The provider's code from the catalogue.
    #[cfg_attr(feature = "openapi", schema(pattern = "^[A-Za-z0-9_-]{1,32}$"))]
    pub provider: String,
    /// Phone number (10 digits, without +7) or account number.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 32))]
    pub account: String,
    /// What the provider is credited.
    #[cfg_attr(feature = "openapi", schema(minimum = 1))]
    pub amount_tiyn: i64,
    /// What the customer handed over: the amount plus the point's extra commission.
    #[cfg_attr(feature = "openapi", schema(minimum = 1))]
    pub customer_amount_tiyn: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(max_length = 64))]
    pub comment: Option<String>,
}

/// The longest message text, in characters (a letter, not a document).
pub const LETTER_MAX_CHARS: usize = 4_000;
/// The longest e-mail address (RFC 5321's path limit).
pub const ADDRESS_MAX_CHARS: usize = 254;

/// A signed letter from the point, relayed by the gateway.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Letter {
    #[cfg_attr(feature = "openapi", schema(min_length = 3, max_length = 254))]
    pub to: String,
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 4000))]
    pub text: String,
}

/// Why a letter cannot be sent as it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LetterError {
    #[error("the e-mail address is not valid")]
    BadAddress,
    #[error("the text is empty")]
    EmptyText,
    #[error("the text is longer than {LETTER_MAX_CHARS} characters")]
    TextTooLong,
}

impl LetterError {
    pub fn code(self) -> ResultCode {
        match self {
            LetterError::BadAddress => ResultCode::BadRecipient,
            LetterError::EmptyText | LetterError::TextTooLong => ResultCode::BadMessageText,
        }
    }
}

impl Letter {
    /// The checks both the phone (before signing) and the gateway (before relaying) make. The
    /// address check is deliberately plain — one `@`, a dotted domain, no spaces or control
    /// characters, no header-breaking characters — the mail server has the final word.
    pub fn check(&self) -> Result<(), LetterError> {
        let address = self.to.as_str();
        let valid_address = address.chars().count() <= ADDRESS_MAX_CHARS
            && !address.chars().any(|c| {
                c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | ',' | ';' | '"')
            })
            && address.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty()
                    && !domain.contains('@')
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
            });
        if !valid_address {
            return Err(LetterError::BadAddress);
        }
        if self.text.trim().is_empty() {
            return Err(LetterError::EmptyText);
        }
        if self.text.chars().count() > LETTER_MAX_CHARS {
            return Err(LetterError::TextTooLong);
        }
        Ok(())
    }
}

/// The longest a bill may be payable: the gateway may make it shorter (its own setting), never
/// longer.
pub const BILL_MAX_LIFETIME_MS: i64 = 24 * 60 * 60 * 1000;

/// A bill for the customer to pay by card on their own phone: the payment as the cashier entered
/// it, signed by the point key like a `pay` request, but carried to the gateway by the customer
/// (a QR code holding the signed bytes, see [`crate::bill`]) instead of sent by the phone. The
/// customer pays [`Payment::customer_amount_tiyn`] by card; once the payment service confirms, the
/// gateway records the payment under the bill's session, exactly once.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bill {
    pub payment: Payment,
    /// Until when the customer may pay (UTC milliseconds, the phone's clock; the gateway may cut
    /// it shorter with its own lifetime).
    pub expires_at_ms: i64,
}

/// What a signed request asks for. The name of the step is also the last part of its URL.
///
/// On the wire `{"step": "<name>", "body": …}`, the body absent for a step without one. Written
/// by hand ([`Serialize`] below) and read through `step_wire::Step`, because one name stands
/// for two variants: `revoke` without a body is [`Step::Revoke`], exactly as phones have
/// always sent it, and with one it is [`Step::RevokeWaiting`].
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(
    tag = "step",
    content = "body",
    rename_all = "snake_case",
    from = "step_wire::Step"
)]
pub enum Step {
    /// Validate a payment; no money moves.
    Check(Payment),
    /// Make the payment (same session as its check, if there was one).
    Pay(Payment),
    /// The outcome of the payment with the request's session.
    Status,
    /// The dealer's balance and the point's remaining limits.
    Balance,
    /// Relay a signed letter by e-mail.
    Message(Letter),
    /// Revoke the signing key (the phone leaves service), with nothing waiting on the phone.
    Revoke,
    /// Revoke the signing key, naming the sessions still waiting on the phone: its payments
    /// and bills not final, which the cashier saved to a file for a dealer or support to send
    /// later. The gateway keeps the list with the revocation and decides a `pay` of a session
    /// on it, signed by this key, as if the key were still in force — for that request only.
    /// Posted to `/api/v1/revoke` as the plain revoke is, with this body (at most 600
    /// sessions); [`Step::revoke`] makes whichever of the two fits.
    #[serde(rename = "revoke")]
    RevokeWaiting(Revocation),
    /// A bill for payment by card. Never posted by the phone: the customer's phone brings it
    /// (see [`Bill`]).
    Bill(Bill),
    /// Cancel the unpaid bill of the request's session (the customer walked away or pays cash).
    /// Answered with the bill's state, or with the payment when the customer paid first.
    Cancel,
    /// The report of a closed shift (issue 16): stored once per session, answered with
    /// [`Outcome::ShiftRecorded`].
    Shift(ShiftReport),
}

impl Step {
    /// The step's name, as in `/api/v1/<name>`.
    pub fn name(&self) -> &'static str {
        match self {
            Step::Check(_) => "check",
            Step::Pay(_) => "pay",
            Step::Status => "status",
            Step::Balance => "balance",
            Step::Message(_) => "message",
            Step::Revoke | Step::RevokeWaiting(_) => "revoke",
            Step::Bill(_) => "bill",
            Step::Cancel => "cancel",
            Step::Shift(_) => "shift",
        }
    }

    /// A revocation naming `waiting`: [`Step::Revoke`] when nothing waits, so a phone with
    /// nothing waiting signs the same bytes as before the list existed.
    pub fn revoke(waiting: Vec<SessionId>) -> Step {
        if waiting.is_empty() {
            Step::Revoke
        } else {
            Step::RevokeWaiting(Revocation { waiting })
        }
    }
}

/// The most sessions a revocation names: 600 of at most 23 bytes each (20 characters, quotes
/// and a comma) take 13.8 KB, which leaves the rest of the request room within
/// [`MAX_BODY_BYTES`] (16 KiB).
pub const REVOKE_WAITING_MAX: usize = 600;

/// The body of [`Step::RevokeWaiting`].
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revocation {
    /// The sessions of the key's payments and bills that were not final on the phone when it
    /// revoked the key (1 to [`REVOKE_WAITING_MAX`]).
    #[cfg_attr(feature = "openapi", schema(min_items = 1, max_items = 600))]
    pub waiting: Vec<SessionId>,
}

impl Serialize for Step {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut step = serializer.serialize_struct("Step", 2)?;
        step.serialize_field("step", self.name())?;
        match self {
            Step::Check(payment) | Step::Pay(payment) => step.serialize_field("body", payment)?,
            Step::Message(letter) => step.serialize_field("body", letter)?,
            // An empty list is written as the plain `revoke` (see `Step::revoke`).
            Step::RevokeWaiting(revocation) if !revocation.waiting.is_empty() => {
                step.serialize_field("body", revocation)?
            }
            Step::Bill(bill) => step.serialize_field("body", bill)?,
            Step::Shift(report) => step.serialize_field("body", report)?,
            Step::Status | Step::Balance | Step::Revoke | Step::RevokeWaiting(_) | Step::Cancel => {
            }
        }
        step.end()
    }
}

/// How a [`Step`] is read: serde's reader for an adjacently tagged enum, with one variant per
/// name, then [`Step::revoke`] picks the variant of a `revoke`.
mod step_wire {
    use serde::Deserialize;

    use super::{Bill, Letter, Payment, Revocation, ShiftReport};

    #[derive(Deserialize)]
    #[serde(tag = "step", content = "body", rename_all = "snake_case")]
    pub enum Step {
        Check(Payment),
        Pay(Payment),
        Status,
        Balance,
        Message(Letter),
        /// `None` when the body is absent, as a phone with nothing waiting sends it (serde
        /// reads an absent newtype body as an absent option). A body of `null` or an empty
        /// list is read too, and refused by `exact_fields`: it is not what the step encodes to.
        Revoke(Option<Revocation>),
        Bill(Bill),
        Cancel,
        Shift(ShiftReport),
    }

    impl From<Step> for super::Step {
        fn from(wire: Step) -> super::Step {
            match wire {
                Step::Check(payment) => super::Step::Check(payment),
                Step::Pay(payment) => super::Step::Pay(payment),
                Step::Status => super::Step::Status,
                Step::Balance => super::Step::Balance,
                Step::Message(letter) => super::Step::Message(letter),
                Step::Revoke(revocation) => {
                    super::Step::revoke(revocation.map(|r| r.waiting).unwrap_or_default())
                }
                Step::Bill(bill) => super::Step::Bill(bill),
                Step::Cancel => super::Step::Cancel,
                Step::Shift(report) => super::Step::Shift(report),
            }
        }
    }
}

/// Phone → gateway: a step, signed by the point key.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 1))]
    pub v: u16,
    #[cfg_attr(feature = "openapi", schema(pattern = "^[A-Za-z0-9_-]{1,32}$"))]
    pub dealer: String,
    #[cfg_attr(feature = "openapi", schema(pattern = "^[A-Za-z0-9_-]{1,32}$"))]
    pub point: String,
    #[cfg_attr(feature = "openapi", schema(pattern = "^[A-Za-z0-9_-]{1,32}$"))]
    pub cashier: String,
    /// The serial of the key that signs this request (also in the signature header).
    #[cfg_attr(feature = "openapi", schema(pattern = "^[A-Za-z0-9_-]{1,32}$"))]
    pub key_serial: String,
    /// The idempotency key: for payments, the same session across check, pay and status.
    pub session: SessionId,
    /// When the phone created the request (UTC milliseconds); signed, so a deferred payment
    /// keeps the time the customer paid.
    #[cfg_attr(feature = "openapi", schema(minimum = 1))]
    pub created_at_ms: i64,
    /// A cash payment's number among the payments its key signed: 1, 2, 3… with no number
    /// skipped, so the gateway can list the numbers it never received (a payment the phone
    /// signed and then lost). Only on `pay`; absent from older phones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1))]
    pub seq: Option<i64>,
    /// Set while the phone knows its outbox vanished (see [`OutboxLost`]): the gateway records
    /// it for the point's page. Absent from older phones and whenever nothing was lost.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outbox_lost: Option<OutboxLost>,
    #[serde(flatten)]
    pub step: Step,
}

impl Message for Request {
    const EXACT_FIELDS: bool = true;

    fn version(&self) -> u16 {
        self.v
    }
    fn validate(&self) -> Result<(), DecodeError> {
        check_codes(&[&self.dealer, &self.point, &self.cashier, &self.key_serial])?;
        if self.created_at_ms <= 0 {
            return Err(invalid("the creation time is missing"));
        }
        match (self.seq, &self.step) {
            (None, _) => {}
            (Some(seq), Step::Pay(_)) if seq > 0 => {}
            (Some(_), Step::Pay(_)) => return Err(invalid("the sequence number must be positive")),
            (Some(_), _) => return Err(invalid("only a payment carries a sequence number")),
        }
        if let Some(lost) = &self.outbox_lost {
            check_codes(&[&lost.key_serial])?;
        }
        match &self.step {
            Step::Check(payment) | Step::Pay(payment) => validate_payment(payment),
            Step::Bill(bill) => {
                validate_payment(&bill.payment)?;
                let lifetime = bill.expires_at_ms - self.created_at_ms;
                if lifetime <= 0 || lifetime > BILL_MAX_LIFETIME_MS {
                    return Err(invalid(
                        "the bill's expiry must be within a day of its creation",
                    ));
                }
                Ok(())
            }
            // NUL is no character of a letter any phone writes, and PostgreSQL's text refuses it.
            Step::Message(letter) if letter.text.contains('\0') => {
                Err(invalid("the text holds a NUL character"))
            }
            Step::Message(letter) => letter
                .check()
                .map_err(|e| DecodeError::Invalid(e.to_string())),
            Step::Shift(report) => report.check().map_err(DecodeError::Invalid),
            Step::RevokeWaiting(revocation) if revocation.waiting.len() > REVOKE_WAITING_MAX => {
                Err(invalid("a revocation names more than 600 waiting sessions"))
            }
            _ => Ok(()),
        }
    }
}

fn validate_payment(payment: &Payment) -> Result<(), DecodeError> {
    check_codes(&[&payment.provider])?;
    if payment.account.is_empty() || payment.account.len() > 32 {
        return Err(invalid("the account number is empty or too long"));
    }
    if payment.amount_tiyn <= 0 || payment.customer_amount_tiyn < payment.amount_tiyn {
        return Err(invalid(
            "the amounts must be positive and the customer amount at least the provider amount",
        ));
    }
    if payment
        .comment
        .as_ref()
        .is_some_and(|c| c.chars().count() > COMMENT_MAX_CHARS)
    {
        return Err(invalid("the comment is longer than 64 characters"));
    }
    // Refused here rather than stored: PostgreSQL's text refuses NUL outright, and a payment
    // group is written in one statement, so one such payment would fail every payment decided
    // with it (999), and each phone would send its payment again into the next group. No account
    // holds a control character; a comment pasted with a tab is still taken (only NUL is refused).
    if payment.account.chars().any(char::is_control)
        || payment.comment.as_deref().is_some_and(|c| c.contains('\0'))
    {
        return Err(invalid("the account or comment holds a control character"));
    }
    Ok(())
}

// ----- responses --------------------------------------------------------------------------------

/// How a payment ended.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentState {
    Accepted,
    Rejected,
}

crate::read_by_name!(PaymentState {
    Accepted = "accepted",
    Rejected = "rejected",
});

/// How the customer paid.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentMethod {
    /// Cash to the cashier; the dealer's balance paid the provider.
    #[default]
    Cash,
    /// By card on the customer's own phone (a [`Bill`]), through a payment service.
    Card,
}

crate::read_by_name!(PaymentMethod {
    Cash = "cash",
    Card = "card",
});

impl PaymentMethod {
    fn is_cash(&self) -> bool {
        *self == PaymentMethod::Cash
    }
}

/// The gateway's record of a payment.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentReceipt {
    pub transaction_id: String,
    pub state: PaymentState,
    /// Cash unless the customer paid a bill by card (absent means cash, as from older gateways).
    #[serde(default, skip_serializing_if = "PaymentMethod::is_cash")]
    pub method: PaymentMethod,
    pub amount_tiyn: i64,
    pub customer_amount_tiyn: i64,
    pub accepted_at_ms: i64,
    /// Where the gateway is with carrying an accepted payment to its provider: in the `pay`
    /// answer (queued) and, as it changes, in every `status` answer. Absent for a rejected
    /// payment, and from gateways older than delivery.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery: Option<Delivery>,
}

/// Where an accepted payment is on its way to the provider. The dealer's balance paid it when
/// it was accepted; the provider's refusal gives that money back (*refunded*), so the cashier
/// must give the customer's cash back.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Waiting for its first send.
    Queued,
    /// Sent; the provider has not answered for good yet.
    Sent,
    /// The provider answered "later", or could not be reached: asked again with the same
    /// transaction number, never a new one.
    Retrying,
    /// The provider took it (its own number is in [`Delivery::provider_txn`]).
    Delivered,
    /// The provider refused it for good; the dealer's balance got the money back.
    Refunded,
}

crate::read_by_name!(DeliveryState {
    Queued = "queued",
    Sent = "sent",
    Retrying = "retrying",
    Delivered = "delivered",
    Refunded = "refunded",
});

impl DeliveryState {
    /// Whether the state can still change.
    pub fn is_final(self) -> bool {
        matches!(self, DeliveryState::Delivered | DeliveryState::Refunded)
    }
}

/// Why a provider refused a payment for good, as the cashier is told it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProviderRefusal {
    /// No such subscriber or account: a wrong number.
    AccountNotFound,
    /// The number is not in the provider's format.
    BadAccountFormat,
    /// The account exists but is closed or blocked.
    AccountInactive,
    AmountTooSmall,
    AmountTooLarge,
    /// The provider does not take this payment now (its own rule or technical reasons).
    PaymentForbidden,
    /// Another reason the provider gave (its comment is in the console).
    #[serde(other)]
    Other,
}

crate::read_by_name!(ProviderRefusal {
    AccountNotFound = "account_not_found",
    BadAccountFormat = "bad_account_format",
    AccountInactive = "account_inactive",
    AmountTooSmall = "amount_too_small",
    AmountTooLarge = "amount_too_large",
    PaymentForbidden = "payment_forbidden",
    Other = "other",
} else Other);

/// An accepted payment's delivery to its provider.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    pub state: DeliveryState,
    /// The provider's own number of the payment, once delivered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_txn: Option<String>,
    /// Why the provider refused, once refunded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refusal: Option<ProviderRefusal>,
    /// Not delivered for longer than the gateway's threshold: the customer should hear that
    /// it is late (the money is safe: it will be delivered or refunded).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub delayed: bool,
    /// When the state last changed (UTC milliseconds).
    pub updated_at_ms: i64,
}

/// Where an unpaid bill stands (the answer to `status` or `cancel` of a bill's session, with
/// code 915, 916 or 917). Once paid, the answer is the payment's receipt instead.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BillState {
    /// The customer opened it and may still pay.
    Awaiting,
    /// Its time ran out unpaid.
    Expired,
    /// The cashier cancelled it unpaid.
    Cancelled,
}

crate::read_by_name!(BillState {
    Awaiting = "awaiting",
    Expired = "expired",
    Cancelled = "cancelled",
});

/// Why the customer's card was refused, as the payment service put it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CardRefusal {
    InsufficientFunds,
    /// The card is not enabled for payments on the internet.
    NotEnabledForInternet,
    /// The card has expired.
    CardExpired,
    /// The card number, expiry or CVC were wrong.
    WrongCardData,
    /// The card's daily or per-payment limit is reached.
    LimitExceeded,
    /// 3-D Secure at the issuing bank failed or was abandoned.
    AuthenticationFailed,
    /// The issuing bank declined it for another reason.
    #[serde(other)]
    Declined,
}

crate::read_by_name!(CardRefusal {
    InsufficientFunds = "insufficient_funds",
    NotEnabledForInternet = "not_enabled_for_internet",
    CardExpired = "card_expired",
    WrongCardData = "wrong_card_data",
    LimitExceeded = "limit_exceeded",
    AuthenticationFailed = "authentication_failed",
    Declined = "declined",
} else Declined);

/// An unpaid bill, as the gateway knows it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BillStatus {
    pub state: BillState,
    /// When it stops being payable (UTC milliseconds, the gateway's clock).
    pub expires_at_ms: i64,
    /// Why the customer's last card was refused, if one was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refusal: Option<CardRefusal>,
}

/// What a provider said about an account when asked before paying.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountCheck {
    /// The provider knows the account and would take the payment; when `false`, `refusal` says
    /// why (and the answer's code is 8 for the account, 7 for the amount, 914 for a provider
    /// that takes no payments now).
    pub exists: bool,
    /// The holder's name as the provider shows it, if it gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holder: Option<String>,
    /// The provider's other display fields (name, value), e.g. the debt.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<Vec<String>>))]
    pub fields: Vec<(String, String)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refusal: Option<ProviderRefusal>,
}

/// Money the point may still move.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BalanceInfo {
    pub dealer_balance_tiyn: i64,
    /// What the point may still pay today, when it has a daily limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub point_day_left_tiyn: Option<i64>,
    /// The point's limit for one payment, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub point_payment_limit_tiyn: Option<i64>,
    /// The point's offline limits as the dealer has them now: the phone replaces the ones its
    /// key card came with, so a dealer's change reaches the phone at its next contact, not only
    /// with a new key card. Absent from older gateways.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offline: Option<OfflineLimits>,
    /// The dealer's legal details as the operator has them now: the phone replaces the ones on
    /// its key card, so receipts name the dealer correctly on phones enrolled before key cards
    /// carried them, and after the operator corrects them. Absent from older gateways.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dealer: Option<DealerDetails>,
}

/// The result of a step that worked.
///
/// Read by a hand-written `Deserialize` (outcome_wire.rs) that accepts the same JSON as the
/// derived one would: the derived one buffers the object and deserialises every variant a
/// second time from the buffer, ~28 KB of the app's wasm.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Outcome {
    /// The payment would go through now. When the provider is connected, the gateway asked it
    /// too (manual §10, *check the number*): what it said about the account.
    Checked {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        account: Option<AccountCheck>,
    },
    Payment(PaymentReceipt),
    /// An unpaid bill (codes 915–917).
    Bill(BillStatus),
    Balance(BalanceInfo),
    MessageQueued {
        message_id: String,
    },
    Revoked,
    /// The gateway stored the shift report (the first time it came: a report sent again gets
    /// the same time).
    ShiftRecorded {
        recorded_at_ms: i64,
    },
    KeyCard(KeyCard),
    Registered {
        key_serial: String,
        state: KeyState,
    },
}

/// Gateway → phone: the answer to any step. `code` says how it went; `outcome` is there when it
/// went well (and for a rejected payment, its receipt).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Response {
    pub v: u16,
    /// The session of the request answered (absent for unsigned steps).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<SessionId>,
    pub code: ResultCode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Outcome>,
    /// The gateway's clock (UTC milliseconds), so the phone can notice its own is wrong.
    pub gateway_time_ms: i64,
    /// How long to wait before trying again, after [`ResultCode::TooManyAttempts`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_s: Option<u32>,
}

impl Response {
    /// This answer without the gateway's time of answering: the decision every answer about
    /// one decided session repeats (a replay carries the time it was answered, for the
    /// phone's clock), for comparing two answers.
    pub fn decision(self) -> Response {
        Response {
            gateway_time_ms: 0,
            ..self
        }
    }

    /// An answer with just a code (failures, mostly).
    pub fn code(session: Option<SessionId>, code: ResultCode, now_ms: i64) -> Response {
        Response {
            v: PROTOCOL_VERSION,
            session,
            code,
            outcome: None,
            gateway_time_ms: now_ms,
            retry_after_s: None,
        }
    }
}

impl Message for Response {
    fn version(&self) -> u16 {
        self.v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn letter(to: &str, text: &str) -> Letter {
        Letter {
            to: to.into(),
            text: text.into(),
        }
    }

    #[test]
    fn letters_are_checked_before_signing_and_relaying() {
        assert_eq!(letter("dealer@tolem.kz", "Касса открыта").check(), Ok(()));
        for bad in [
            "",
            "dealer",
            "dealer@",
            "@tolem.kz",
            "a@b",
            "a b@tolem.kz",
            "a@tolem.kz\r\nBcc: x@y.kz",
            "a@@tolem.kz",
        ] {
            assert_eq!(
                letter(bad, "text").check(),
                Err(LetterError::BadAddress),
                "{bad:?}"
            );
        }
        assert_eq!(
            letter("a@tolem.kz", "  ").check(),
            Err(LetterError::EmptyText)
        );
        assert_eq!(
            letter("a@tolem.kz", &"ж".repeat(LETTER_MAX_CHARS + 1)).check(),
            Err(LetterError::TextTooLong)
        );
        assert_eq!(LetterError::BadAddress.code(), ResultCode::BadRecipient);
    }

    /// Issue 13 item 16: what the phone signs is read whole — a field the gateway has no place
    /// for (or one written twice) makes the request malformed instead of silently skipped.
    #[test]
    fn a_signed_request_with_a_field_the_protocol_lacks_is_malformed() {
        let request = Request {
            v: PROTOCOL_VERSION,
            dealer: "D001".into(),
            point: "P1001".into(),
            cashier: "C1".into(),
            key_serial: "P1001-1".into(),
            session: SessionId::generate(1_700_000_000_000, [1; 8]),
            created_at_ms: 1_700_000_000_000,
            seq: None,
            outbox_lost: None,
            step: Step::Pay(Payment {
                provider: "kcell".into(),
                account: "7011234567".into(),
                amount_tiyn: 100_00,
                customer_amount_tiyn: 100_00,
                comment: None,
            }),
        };
        let bytes = String::from_utf8(request.encode()).unwrap();
        assert_eq!(Request::decode(bytes.as_bytes()), Ok(request.clone()));

        // The same fields in another order and spacing are the same message.
        let value: serde_json::Value = serde_json::from_str(&bytes).unwrap();
        let pretty = serde_json::to_string_pretty(&value).unwrap();
        assert_eq!(Request::decode(pretty.as_bytes()), Ok(request));

        for extra in [
            r#""coment":"misspelt","#,
            r#""amount":1,"#,
            r#""amount_tiyn":1,"#,
            r#""comment":null,"#,
        ] {
            let tampered = bytes.replacen('{', &format!("{{{extra}"), 1);
            assert!(
                matches!(
                    Request::decode(tampered.as_bytes()),
                    Err(DecodeError::Malformed(_))
                ),
                "{extra}"
            );
        }
    }

    fn pay(seq: Option<i64>) -> Request {
        Request {
            v: PROTOCOL_VERSION,
            dealer: "D001".into(),
            point: "P1001".into(),
            cashier: "C1".into(),
            key_serial: "P1001-1".into(),
            session: SessionId::generate(1_795_000_000_000, [1; 8]),
            created_at_ms: 1_795_000_000_000,
            seq,
            outbox_lost: None,
            step: Step::Pay(Payment {
                provider: "kcell".into(),
                account: "7011234567".into(),
                amount_tiyn: 100_00,
                customer_amount_tiyn: 100_00,
                comment: None,
            }),
        }
    }

    /// A `revoke` exactly as phones have signed it since the first version: no body.
    const OLD_REVOKE: &str = r#"{"v":1,"dealer":"D001","point":"P1001","cashier":"C1","key_serial":"P1001-1","session":"1R7PV3BG0000000000RV","created_at_ms":1795000000000,"step":"revoke"}"#;

    fn revoke(step: Step) -> Request {
        let mut request = pay(None);
        request.session = SessionId::try_from("1R7PV3BG0000000000RV".to_owned()).unwrap();
        request.step = step;
        request
    }

    fn sessions(count: usize) -> Vec<SessionId> {
        (0..count)
            .map(|i| SessionId::generate(1_795_000_000_000, (i as u64).to_be_bytes()))
            .collect()
    }

    #[test]
    fn a_revoke_of_an_older_phone_still_reads_and_one_naming_nothing_is_the_same_bytes() {
        let read = Request::decode(OLD_REVOKE.as_bytes()).unwrap();
        assert_eq!(read.step, Step::Revoke);
        assert_eq!(read.encode(), OLD_REVOKE.as_bytes());
        assert_eq!(
            revoke(Step::revoke(Vec::new())).encode(),
            OLD_REVOKE.as_bytes()
        );
        // An empty list written out is not what any revoke encodes to: refused, like any
        // second spelling of signed words.
        let empty_list = OLD_REVOKE.replace(
            r#""step":"revoke""#,
            r#""step":"revoke","body":{"waiting":[]}"#,
        );
        for other in [
            empty_list,
            OLD_REVOKE.replace(r#""step":"revoke""#, r#""step":"revoke","body":null"#),
            OLD_REVOKE.replace(r#""step":"revoke""#, r#""step":"revoke","body":{}"#),
        ] {
            assert!(Request::decode(other.as_bytes()).is_err(), "{other}");
        }
    }

    #[test]
    fn a_revoke_names_the_sessions_that_wait_within_the_body_limit() {
        let named = revoke(Step::revoke(sessions(2)));
        let bytes = named.encode();
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(
            text.ends_with(&format!(
                r#""step":"revoke","body":{{"waiting":["{}","{}"]}}}}"#,
                sessions(2)[0],
                sessions(2)[1]
            )),
            "{text}"
        );
        assert_eq!(Request::decode(&bytes), Ok(named.clone()));
        assert_eq!(named.step.name(), "revoke");

        let most = revoke(Step::revoke(sessions(REVOKE_WAITING_MAX))).encode();
        assert!(most.len() <= MAX_BODY_BYTES, "{} bytes", most.len());
        assert!(Request::decode(&most).is_ok());
        let too_many = revoke(Step::revoke(sessions(REVOKE_WAITING_MAX + 1)));
        assert!(matches!(too_many.validate(), Err(DecodeError::Invalid(_))));
    }

    #[test]
    fn a_payment_number_is_optional_and_signed_inside_the_request() {
        // An old phone's request has no number and still reads; a new one's has it in its bytes.
        let old = pay(None).encode();
        assert!(!String::from_utf8_lossy(&old).contains("seq"));
        assert_eq!(Request::decode(&old).unwrap().seq, None);
        let numbered = pay(Some(7)).encode();
        assert!(String::from_utf8_lossy(&numbered).contains(r#""seq":7"#));
        assert_eq!(Request::decode(&numbered).unwrap().seq, Some(7));
        assert!(Request::decode(&pay(Some(0)).encode()).is_err());
        let mut status = pay(Some(3));
        status.step = Step::Status;
        assert!(
            Request::decode(&status.encode()).is_err(),
            "only a pay is numbered"
        );
    }
}

//! What the outbox tests share: a key card naming a real gateway key, a real point key, drafts
//! signed with it (as payments and as bills), and the gateway's signed answers as they come off
//! the wire; in the browser, a gateway served in place of the network ([`network`]).
#![allow(dead_code)] // each test file uses a different subset

#[cfg(target_arch = "wasm32")]
pub mod heard;
#[cfg(target_arch = "wasm32")]
pub mod network;
#[cfg(target_arch = "wasm32")]
pub mod phone;

use tolem_outbox::record::{PaymentDraft, SignedPayment};
use tolem_outbox::transport::Answer;
use tolem_protocol::PROTOCOL_VERSION;
use tolem_protocol::codes::ResultCode;
use tolem_protocol::commission::Split;
use tolem_protocol::ids::SessionId;
use tolem_protocol::keys::SecretKey;
use tolem_protocol::messages::{
    BillState, BillStatus, CardRefusal, KeyCard, Message, OfflineLimits, Outcome, PaymentMethod,
    PaymentReceipt, PaymentState, Response,
};
use tolem_protocol::signing::{GATEWAY_SIGNER, Signed};

/// Around the time these tests pretend to run (2026-11).
pub const NOW: i64 = 1_795_000_000_000;

/// The gateway's signing key behind [`card`].
pub fn gateway_key() -> SecretKey {
    SecretKey::from_seed(&[0x47; 32])
}

/// The point's key.
pub fn point_key() -> SecretKey {
    SecretKey::from_seed(&[0x21; 32])
}

pub fn card() -> KeyCard {
    KeyCard {
        v: PROTOCOL_VERSION,
        dealer: "D001".into(),
        dealer_name: "Демо-дилер".into(),
        point: "P1001".into(),
        point_name: "Демо-касса".into(),
        cashier: "C1".into(),
        key_serial: "P1001-1".into(),
        gateway_key: gateway_key().public_key(),
        offline: OfflineLimits {
            max_payment_tiyn: 50_000_00,
            max_total_tiyn: 200_000_00,
            max_age_ms: 72 * 3_600_000,
        },
        issued_at_ms: NOW - 86_400_000,
        dealer_contact: None,
        dealer_details: None,
    }
}

/// 2 000 tenge to Kcell for 7011234567, with 20 tenge of the point's commission.
pub fn draft() -> PaymentDraft {
    PaymentDraft {
        provider: "kcell".into(),
        provider_name: "Kcell".into(),
        account: "7011234567".into(),
        split: Split {
            provider_tiyn: 2_000_00,
            commission_tiyn: 20_00,
            customer_tiyn: 2_020_00,
        },
        comment: Some("за март".into()),
    }
}

/// The draft signed at `at_ms`, with randomness `n`.
pub fn signed_at(at_ms: i64, n: u8) -> SignedPayment {
    SignedPayment::sign(&draft(), &card(), &point_key(), at_ms, [n; 8]).unwrap()
}

/// The draft signed at `at_ms` as a bill for the customer's card, with randomness `n`.
pub fn bill_at(at_ms: i64, n: u8) -> SignedPayment {
    SignedPayment::sign_bill(&draft(), &card(), &point_key(), at_ms, [n; 8]).unwrap()
}

/// The gateway's answer about an unpaid bill of `session`: `code` (915, 916 or 917) with the
/// bill's state and the reason the customer's last card was refused, if one was.
pub fn bill_answer(
    session: &SessionId,
    code: ResultCode,
    state: BillState,
    refusal: Option<CardRefusal>,
) -> Response {
    Response {
        v: PROTOCOL_VERSION,
        session: Some(session.clone()),
        code,
        outcome: Some(Outcome::Bill(BillStatus {
            state,
            expires_at_ms: NOW + 30 * 60_000,
            refusal,
        })),
        gateway_time_ms: NOW + 1_000,
        retry_after_s: None,
    }
}

/// The gateway's answer that the bill of `session` was paid by card: its payment's receipt.
pub fn paid_by_card(session: &SessionId) -> Response {
    let mut response = pay_answer(session, ResultCode::Ok);
    if let Some(Outcome::Payment(receipt)) = response.outcome.as_mut() {
        receipt.method = PaymentMethod::Card;
        receipt.transaction_id = "D001-000777".into();
    }
    response
}

/// The gateway's answer to the pay of `session`: accepted, or refused with `code` (with the
/// stored receipt a decided payment has).
pub fn pay_answer(session: &SessionId, code: ResultCode) -> Response {
    Response {
        v: PROTOCOL_VERSION,
        session: Some(session.clone()),
        code,
        outcome: Some(Outcome::Payment(PaymentReceipt {
            method: Default::default(),
            transaction_id: "D001-000042".into(),
            state: if code == ResultCode::Ok {
                PaymentState::Accepted
            } else {
                PaymentState::Rejected
            },
            amount_tiyn: 2_000_00,
            customer_amount_tiyn: 2_020_00,
            accepted_at_ms: NOW + 1_000,
            delivery: None,
        })),
        gateway_time_ms: NOW + 1_000,
        retry_after_s: None,
    }
}

/// An answer with just a code, about `session` (or none).
pub fn code_answer(session: Option<&SessionId>, code: ResultCode) -> Response {
    Response::code(session.cloned(), code, NOW + 1_000)
}

/// The answer as it comes off the wire, signed by `key` under the gateway's name.
pub fn signed_by(response: &Response, key: &SecretKey) -> Answer {
    let signed = Signed::sign(GATEWAY_SIGNER, response.encode(), key);
    Answer {
        body: signed.body,
        signature: Some((signed.signer, signed.signature.to_string())),
        request_digest: None,
    }
}

/// The answer as the gateway sends it to a phone that sent `request` (bytes): signed by the
/// gateway key bound to the request's digest.
pub fn answer_to(request: &[u8], response: &Response) -> Answer {
    let body = response.encode();
    let digest = tolem_protocol::signing::request_digest(request);
    let signature = gateway_key().sign(&tolem_protocol::signing::bound_answer(&digest, &body));
    Answer {
        body,
        signature: Some((GATEWAY_SIGNER.to_owned(), signature.to_string())),
        request_digest: Some(digest),
    }
}

/// The answer signed by the real gateway key.
pub fn from_gateway(response: &Response) -> Answer {
    signed_by(response, &gateway_key())
}

//! Guards what the phone accepts as the gateway's answer to a signed request: only a protocol
//! message signed with the card's gateway key, about the request's own session. A captive portal's
//! page, an answer signed by anyone else, a replayed answer of another session or a success that
//! names no session are "unclear" — the app then asks for the status and never pays twice.
//! Real signatures, real bytes; no network is involved in the decision.
#![cfg(target_arch = "wasm32")]

mod support;

use support::card::{gateway_key, sample_card};
use tolem::api::{Answer, ApiError, Unclear, check_signed_answer};
use tolem_protocol::PROTOCOL_VERSION;
use tolem_protocol::codes::ResultCode;
use tolem_protocol::ids::SessionId;
use tolem_protocol::keys::SecretKey;
use tolem_protocol::messages::{BalanceInfo, Message, Outcome, Response};
use tolem_protocol::signing::{GATEWAY_SIGNER, Signed};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn session(n: u8) -> SessionId {
    SessionId::generate(1_795_000_000_000, [n; 8])
}

fn balance_answer(session: Option<SessionId>, code: ResultCode) -> Response {
    Response {
        v: PROTOCOL_VERSION,
        session,
        code,
        outcome: (code == ResultCode::Ok).then_some(Outcome::Balance(BalanceInfo {
            dealer_balance_tiyn: 50_000_000,
            point_day_left_tiyn: None,
            point_payment_limit_tiyn: None,
            offline: None,
            dealer: None,
        })),
        gateway_time_ms: 1_795_000_000_000,
        retry_after_s: None,
    }
}

/// The answer as it comes off the wire, signed by `signer_key` under the gateway's name.
fn signed_by(response: &Response, signer_key: &SecretKey) -> Answer {
    let signed = Signed::sign(GATEWAY_SIGNER, response.encode(), signer_key);
    Answer {
        body: signed.body,
        signature: Some((signed.signer, signed.signature.to_string())),
        request_digest: None,
    }
}

#[wasm_bindgen_test]
fn a_signed_answer_about_the_request_is_believed() {
    let answer = signed_by(
        &balance_answer(Some(session(1)), ResultCode::Ok),
        &gateway_key(),
    );
    let response = check_signed_answer(answer, &sample_card(), &session(1)).unwrap();
    assert!(matches!(response.outcome, Some(Outcome::Balance(_))));
}

#[wasm_bindgen_test]
fn a_signed_refusal_is_reported_with_its_code() {
    let answer = signed_by(
        &balance_answer(Some(session(1)), ResultCode::KeyNotCertified),
        &gateway_key(),
    );
    let result = check_signed_answer(answer, &sample_card(), &session(1));
    assert_eq!(
        result.unwrap_err(),
        ApiError::Rejected(ResultCode::KeyNotCertified, None)
    );
    // The gateway refuses a bad signature before reading the body, so names no session.
    let answer = signed_by(
        &balance_answer(None, ResultCode::BadSignature),
        &gateway_key(),
    );
    let result = check_signed_answer(answer, &sample_card(), &session(1));
    assert_eq!(
        result.unwrap_err(),
        ApiError::Rejected(ResultCode::BadSignature, None)
    );
}

#[wasm_bindgen_test]
fn a_captive_portal_page_is_not_an_answer() {
    let page = Answer {
        body: b"<html><body>Wi-Fi login</body></html>".to_vec(),
        signature: None,
        request_digest: None,
    };
    let result = check_signed_answer(page, &sample_card(), &session(1));
    assert_eq!(result.unwrap_err(), ApiError::Unclear(Unclear::NotAnAnswer));
}

#[wasm_bindgen_test]
fn an_answer_signed_by_another_key_is_not_believed() {
    let forger = SecretKey::from_seed(&[0x66; 32]);
    let answer = signed_by(&balance_answer(Some(session(1)), ResultCode::Ok), &forger);
    let result = check_signed_answer(answer, &sample_card(), &session(1));
    assert_eq!(result.unwrap_err(), ApiError::Unclear(Unclear::NotAnAnswer));
}

#[wasm_bindgen_test]
fn a_tampered_answer_is_not_believed() {
    let mut answer = signed_by(
        &balance_answer(Some(session(1)), ResultCode::Ok),
        &gateway_key(),
    );
    let text = String::from_utf8(answer.body.clone())
        .unwrap()
        .replace("50000000", "90000000");
    answer.body = text.into_bytes();
    let result = check_signed_answer(answer, &sample_card(), &session(1));
    assert_eq!(result.unwrap_err(), ApiError::Unclear(Unclear::NotAnAnswer));
}

#[wasm_bindgen_test]
fn a_replayed_answer_of_another_session_is_not_believed() {
    let answer = signed_by(
        &balance_answer(Some(session(2)), ResultCode::Ok),
        &gateway_key(),
    );
    let result = check_signed_answer(answer, &sample_card(), &session(1));
    assert_eq!(result.unwrap_err(), ApiError::Unclear(Unclear::NotAnAnswer));
    // Nor a success that names no session at all.
    let answer = signed_by(&balance_answer(None, ResultCode::Ok), &gateway_key());
    let result = check_signed_answer(answer, &sample_card(), &session(1));
    assert_eq!(result.unwrap_err(), ApiError::Unclear(Unclear::NotAnAnswer));
}

//! A stand-in gateway inside the test page: it replaces `fetch` and answers the app by the
//! protocol's own rules and types — the key card for the demo point, registration verified with
//! the new key, signed steps verified with the registered key, every answer signed with the
//! gateway's key and given the real gateway's HTTP status. The real gateway is exercised by the end-to-end suite; this one
//! lets the browser tests drive the key screens without a server, and break the gateway at will.

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Promise, Reflect};
use tolem_protocol::PROTOCOL_VERSION;
use tolem_protocol::codes::ResultCode;
use tolem_protocol::keys::{PublicKey, SecretKey, Signature};
use tolem_protocol::messages::{
    BalanceInfo, KeyCard, KeyCardRequest, KeyState, Message, OfflineLimits, Outcome, RegisterKey,
    Request, Response, Step,
};
use tolem_protocol::signing::{GATEWAY_SIGNER, KEY_HEADER, SIGNATURE_HEADER};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::{JsFuture, future_to_promise};

pub const DEMO_POINT: &str = "P1001";
pub const DEMO_PASSWORD: &str = "tolem-demo-1001";
pub const DEMO_SERIAL: &str = "P1001-1";

/// How the stand-in misbehaves, when a test asks it to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Answers as a gateway should.
    None,
    /// Every API request fails as if the network were down.
    Down,
    /// Answers signed steps with a body signed by some other key.
    ForgedSignature,
    /// A captive portal answers instead: its login page, with 200 OK.
    CaptivePortal,
}

/// What the stand-in received: the step's path, the signer header and the body.
#[derive(Clone, Debug)]
pub struct Seen {
    pub path: String,
    pub signer: Option<String>,
    pub body: Vec<u8>,
}

struct State {
    key: SecretKey,
    fault: Fault,
    /// The key registered under [`DEMO_SERIAL`], and where it stands.
    registered: Option<(PublicKey, KeyState)>,
    seen: Vec<Seen>,
}

/// The installed stand-in; dropping it gives the page its real `fetch` back.
pub struct FakeGateway {
    state: Rc<RefCell<State>>,
    original_fetch: JsValue,
    _handler: Closure<dyn FnMut(JsValue) -> Promise>,
}

impl FakeGateway {
    /// Replaces the page's `fetch` with the stand-in.
    pub fn install() -> FakeGateway {
        let state = Rc::new(RefCell::new(State {
            key: SecretKey::from_seed(&[0x6a; 32]),
            fault: Fault::None,
            registered: None,
            seen: Vec::new(),
        }));
        let for_handler = state.clone();
        let handler = Closure::<dyn FnMut(JsValue) -> Promise>::new(move |input: JsValue| {
            let state = for_handler.clone();
            future_to_promise(async move { answer(state, input.unchecked_into()).await })
        });
        let global = js_sys::global();
        let original_fetch = Reflect::get(&global, &"fetch".into()).unwrap();
        Reflect::set(&global, &"fetch".into(), handler.as_ref()).unwrap();
        FakeGateway {
            state,
            original_fetch,
            _handler: handler,
        }
    }

    /// The gateway's public key, as its key cards carry it.
    pub fn public_key(&self) -> PublicKey {
        self.state.borrow().key.public_key()
    }

    pub fn set_fault(&self, fault: Fault) {
        self.state.borrow_mut().fault = fault;
    }

    /// The dealer compared fingerprints and certified the registered key.
    pub fn certify(&self) {
        if let Some((_, state)) = self.state.borrow_mut().registered.as_mut() {
            *state = KeyState::Certified;
        }
    }

    /// A key registered earlier (by a previous visit of the key screens).
    pub fn register(&self, key: PublicKey) {
        self.state.borrow_mut().registered = Some((key, KeyState::Pending));
    }

    /// The key registered so far, and its state.
    pub fn registered(&self) -> Option<(PublicKey, KeyState)> {
        self.state.borrow().registered
    }

    /// Every API request received, in order.
    pub fn seen(&self) -> Vec<Seen> {
        self.state.borrow().seen.clone()
    }

    /// The demo point's key card.
    pub fn card(&self) -> KeyCard {
        demo_card(self.public_key())
    }
}

impl Drop for FakeGateway {
    fn drop(&mut self) {
        let _ = Reflect::set(&js_sys::global(), &"fetch".into(), &self.original_fetch);
    }
}

fn demo_card(gateway_key: PublicKey) -> KeyCard {
    KeyCard {
        v: PROTOCOL_VERSION,
        dealer: "D100".into(),
        dealer_name: "Demo dealer".into(),
        point: DEMO_POINT.into(),
        point_name: "Demo kiosk".into(),
        cashier: "C1".into(),
        key_serial: DEMO_SERIAL.into(),
        gateway_key,
        offline: OfflineLimits {
            max_payment_tiyn: 500_000,
            max_total_tiyn: 5_000_000,
            max_age_ms: 86_400_000,
        },
        issued_at_ms: js_sys::Date::now() as i64,
    }
}

async fn answer(state: Rc<RefCell<State>>, request: web_sys::Request) -> Result<JsValue, JsValue> {
    let url = request.url();
    let path = url
        .find("/api/")
        .map(|at| url[at..].to_owned())
        .unwrap_or_default();
    if path == "/api/health" {
        return respond(200, br#"{"status":"ok"}"#, None);
    }
    if state.borrow().fault == Fault::Down || !path.starts_with("/api/v1/") {
        return Err(js_sys::TypeError::new("Failed to fetch").into());
    }
    if state.borrow().fault == Fault::CaptivePortal {
        return respond(200, b"<html><body>Log in to Free-WiFi</body></html>", None);
    }
    let body = js_sys::Uint8Array::new(&JsFuture::from(request.array_buffer()?).await?).to_vec();
    let headers = request.headers();
    let signer = headers.get(KEY_HEADER)?;
    let signature = headers
        .get(SIGNATURE_HEADER)?
        .and_then(|s| s.parse::<Signature>().ok());
    state.borrow_mut().seen.push(Seen {
        path: path.clone(),
        signer: signer.clone(),
        body: body.clone(),
    });
    let now = js_sys::Date::now() as i64;
    let mut state = state.borrow_mut();
    let step = path.trim_start_matches("/api/v1/");
    let response = match step {
        "key-card" => {
            let Ok(asked) = KeyCardRequest::decode(&body) else {
                return respond(400, b"bad", None);
            };
            if asked.point != DEMO_POINT || asked.password != DEMO_PASSWORD {
                Response::code(None, ResultCode::BadCredentials, now)
            } else {
                let mut response = Response::code(None, ResultCode::Ok, now);
                response.outcome = Some(Outcome::KeyCard(demo_card(state.key.public_key())));
                response
            }
        }
        "keys" => {
            let Ok(registration) = RegisterKey::decode(&body) else {
                return respond(400, b"bad", None);
            };
            let proven = signature
                .as_ref()
                .is_some_and(|s| registration.public_key.verify(&body, s).is_ok());
            let code = if !proven {
                ResultCode::BadSignature
            } else if registration.password != DEMO_PASSWORD {
                ResultCode::BadCredentials
            } else if state
                .registered
                .is_some_and(|(key, _)| key != registration.public_key)
            {
                ResultCode::KeyAlreadyRegistered
            } else {
                ResultCode::Ok
            };
            let mut response = Response::code(None, code, now);
            if code == ResultCode::Ok {
                state.registered = Some((registration.public_key, KeyState::Pending));
                response.outcome = Some(Outcome::Registered {
                    key_serial: registration.key_serial,
                    state: KeyState::Pending,
                });
            }
            response
        }
        _ => {
            let Ok(request) = Request::decode(&body) else {
                return respond(400, b"bad", None);
            };
            let session = Some(request.session.clone());
            match state.registered {
                // Like the real gateway: refused before the body is read, so no session.
                None => Response::code(None, ResultCode::KeyNotRegistered, now),
                Some((key, key_state)) => {
                    let verified = signature
                        .as_ref()
                        .is_some_and(|s| key.verify(&body, s).is_ok());
                    match (verified, key_state, &request.step) {
                        (false, _, _) => Response::code(None, ResultCode::BadSignature, now),
                        (_, KeyState::Revoked, _) => {
                            Response::code(session, ResultCode::KeyRevoked, now)
                        }
                        (_, _, Step::Revoke) => {
                            state.registered = Some((key, KeyState::Revoked));
                            let mut response = Response::code(session, ResultCode::Ok, now);
                            response.outcome = Some(Outcome::Revoked);
                            response
                        }
                        (_, KeyState::Pending, _) => {
                            Response::code(session, ResultCode::KeyNotCertified, now)
                        }
                        (_, KeyState::Certified, _) => {
                            let mut response = Response::code(session, ResultCode::Ok, now);
                            response.outcome = Some(Outcome::Balance(BalanceInfo {
                                dealer_balance_tiyn: 10_000_000,
                                point_day_left_tiyn: None,
                                point_payment_limit_tiyn: None,
                            }));
                            response
                        }
                    }
                }
            }
        }
    };
    let signer = if state.fault == Fault::ForgedSignature {
        SecretKey::from_seed(&[0x66; 32])
    } else {
        SecretKey::from_seed(&state.key.seed())
    };
    // The real gateway's rule: the code is the answer, the status says how far it got.
    let status = match response.code {
        ResultCode::BadSignature | ResultCode::KeyNotRegistered | ResultCode::BadCredentials => 401,
        ResultCode::TooManyAttempts => 429,
        _ => 200,
    };
    respond_message(status, &response, Some(&signer))
}

fn respond_message(
    status: u16,
    response: &Response,
    signer: Option<&SecretKey>,
) -> Result<JsValue, JsValue> {
    let body = response.encode();
    let signature = signer.map(|key| key.sign(&body).to_string());
    respond(status, &body, signature.as_deref())
}

fn respond(status: u16, body: &[u8], signature: Option<&str>) -> Result<JsValue, JsValue> {
    let headers = web_sys::Headers::new()?;
    headers.set("content-type", "application/json")?;
    if let Some(signature) = signature {
        headers.set(KEY_HEADER, GATEWAY_SIGNER)?;
        headers.set(SIGNATURE_HEADER, signature)?;
    }
    let init = web_sys::ResponseInit::new();
    init.set_status(status);
    init.set_headers(&headers);
    let mut body = body.to_vec();
    Ok(web_sys::Response::new_with_opt_u8_array_and_init(Some(&mut body), &init)?.into())
}

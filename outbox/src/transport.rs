//! Talking to the gateway: the exact bytes that were signed go out, and an answer counts only
//! when it is a valid protocol message — signed by the gateway's key wherever the phone has it.
//!
//! Every failure is one of three kinds, because each asks for a different next step:
//! [`ApiError::Offline`] (nothing was sent: keep the request and send it later),
//! [`ApiError::Unclear`] (it may have arrived: ask for the outcome by session, never send it anew
//! under another session) and [`ApiError::Rejected`] (the gateway said no, and why).
//!
//! Works in a page and in a service worker: `fetch`, `navigator` and the timeout are the global
//! scope's. Both the app's signed steps and the outbox's replays come through here, so there is
//! one classification of answers.

use std::time::Duration;

use js_sys::{Promise, Uint8Array};
use tolem_protocol::batch::{BATCH_STEP, BatchAnswer, BatchItem, BatchRequest};
use tolem_protocol::codes::ResultCode;
use tolem_protocol::ids::SessionId;
use tolem_protocol::keys::{PublicKey, Signature};
use tolem_protocol::messages::{KeyCard, Message, Response};
use tolem_protocol::signing::{
    BIND_EXCHANGE_SHA256, BIND_HEADER, GATEWAY_SIGNER, KEY_HEADER, SIGNATURE_HEADER, bound_answer,
    exchange_digest,
};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{Headers, RequestCache, RequestInit};

use crate::record::Failure;

/// How long the phone waits for an answer. Long enough for a 128 kbit/s line with a poor signal;
/// a cashier with a customer in front of them should not wait longer.
pub const TIMEOUT_MS: u32 = 20_000;

/// Where the protocol's steps are sent.
pub const API_PREFIX: &str = "/api/v1/";

#[wasm_bindgen]
extern "C" {
    /// The global scope's `fetch`: `window.fetch` in a page, `self.fetch` in a worker.
    #[wasm_bindgen(js_name = fetch)]
    fn global_fetch(request: &web_sys::Request) -> Promise;

    /// The Compression Streams API's `CompressionStream` (Chromium 80, Firefox 113, Safari
    /// 16.4; web-sys has it only behind its unstable flag). Throws where it does not exist.
    type CompressionStream;
    #[wasm_bindgen(constructor, catch)]
    fn new(format: &str) -> Result<CompressionStream, JsValue>;
    /// A `ReadableStream` seen from here: only `pipeThrough` with a compression stream, which
    /// is the readable and writable pair `pipeThrough` asks for.
    #[wasm_bindgen(js_name = ReadableStream)]
    type Piped;
    #[wasm_bindgen(method, js_name = pipeThrough)]
    fn pipe_through(this: &Piped, pair: &CompressionStream) -> web_sys::ReadableStream;
}

/// Why a step got no usable answer.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// The request did not leave the phone: the browser is offline, or could not connect.
    #[error("no connection: the request was not sent")]
    Offline,
    /// The request may have reached the gateway, but no trustworthy answer came back.
    #[error("no clear answer from the gateway ({0:?})")]
    Unclear(Unclear),
    /// The gateway answered (validly) with a code other than Ok; after
    /// [`ResultCode::TooManyAttempts`] it says how long to wait.
    #[error("refused by the gateway: code {}", .0.number())]
    Rejected(ResultCode, Option<Duration>),
}

/// What made an answer unclear (for logs and tests; the cashier is told the same for all).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unclear {
    /// No answer within [`TIMEOUT_MS`].
    Timeout,
    /// The gateway (or a proxy before it) failed with this HTTP status.
    ServerError(u16),
    /// The connection broke while the request or the answer was on its way.
    ConnectionLost,
    /// Something answered, but not the gateway: not a protocol message, unsigned or badly
    /// signed, or for another session (a captive portal's login page, say).
    NotAnAnswer,
}

impl ApiError {
    /// The failure as a payment record keeps it (`None` for a refusal: that is an answer).
    pub fn failure(&self) -> Option<Failure> {
        Some(match self {
            ApiError::Offline => Failure::Offline,
            ApiError::Unclear(Unclear::Timeout) => Failure::Timeout,
            ApiError::Unclear(Unclear::ServerError(status)) => Failure::ServerError(*status),
            ApiError::Unclear(Unclear::ConnectionLost) => Failure::ConnectionLost,
            ApiError::Unclear(Unclear::NotAnAnswer) => Failure::NotAnAnswer,
            ApiError::Rejected(..) => return None,
        })
    }
}

/// The raw answer to a request: its bytes and the signature headers (signer, signature) that
/// came with them, if any.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    pub body: Vec<u8>,
    pub signature: Option<(String, String)>,
    /// The digest of the request this phone sent ([`exchange_digest`]: its step, signature
    /// headers and bytes): the answer must be signed bound to it ([`bound_answer`]), so an
    /// answer the gateway gave to any other request — kept and replayed by someone in the
    /// middle, or got by sending these bytes elsewhere or unsigned — is no answer. [`post`] always sets it;
    /// `None` only for a GET whose answer is the same for everyone (the catalogue).
    pub request_digest: Option<[u8; 32]>,
}

impl Answer {
    /// Checks that the gateway signed exactly these bytes with `key` — as the answer to this
    /// phone's request, when there was one.
    pub fn check_signature(&self, key: &PublicKey) -> Result<(), ApiError> {
        let Some((signer, signature)) = &self.signature else {
            return Err(not_an_answer());
        };
        let signature: Signature = signature.parse().map_err(|_| not_an_answer())?;
        let verified = match &self.request_digest {
            Some(digest) => key.verify(&bound_answer(digest, &self.body), &signature),
            None => key.verify(&self.body, &signature),
        };
        if signer != GATEWAY_SIGNER || verified.is_err() {
            return Err(not_an_answer());
        }
        Ok(())
    }

    /// The answer, once the gateway's signature (with the key on the card) checks out.
    pub fn verified_by(&self, card: &KeyCard) -> Result<Response, ApiError> {
        self.check_signature(&card.gateway_key)?;
        self.decode()
    }

    /// The answer as a protocol message, signature unchecked (only where no key can check it).
    pub fn decode(&self) -> Result<Response, ApiError> {
        Response::decode(&self.body).map_err(|_| not_an_answer())
    }
}

/// Whether the bytes that came back answer a signed request of `session`: signed by the card's
/// gateway key, a protocol message, and about this session. Returns the response whatever its
/// code (a refused payment's answer carries its receipt); anything else is
/// [`Unclear::NotAnAnswer`]. An answer about another session is a replayed old one. Only a
/// refusal may name none: the gateway refuses a bad signature or an unknown key before it
/// reads the body.
pub fn verify_answer(
    answer: &Answer,
    card: &KeyCard,
    session: &SessionId,
) -> Result<Response, ApiError> {
    let response = answer.verified_by(card)?;
    let about_this_request = match &response.session {
        Some(answered) => answered == session,
        None => response.code != ResultCode::Ok,
    };
    if !about_this_request {
        return Err(not_an_answer());
    }
    Ok(response)
}

/// [`verify_answer`], then Ok or the refusal the answer carries.
pub fn check_signed_answer(
    answer: Answer,
    card: &KeyCard,
    session: &SessionId,
) -> Result<Response, ApiError> {
    answered(verify_answer(&answer, card, session)?)
}

/// A valid answer: Ok, or the code it refused with.
pub fn answered(response: Response) -> Result<Response, ApiError> {
    match response.code {
        ResultCode::Ok => Ok(response),
        code => Err(ApiError::Rejected(
            code,
            response
                .retry_after_s
                .map(|s| Duration::from_secs(s.into())),
        )),
    }
}

fn not_an_answer() -> ApiError {
    ApiError::Unclear(Unclear::NotAnAnswer)
}

/// What a connection that fails without an answer means for the request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// Asking again changes nothing (status, balance) or the gateway recognises a repeat (key
    /// card, registration): a failed connection counts as [`ApiError::Offline`].
    Repeatable,
    /// A payment. A browser reports a refused connection and one that broke after the request
    /// left alike (a `TypeError` from `fetch`), so once the browser said it was online, a
    /// failed connection is [`Unclear::ConnectionLost`]: the payment may have arrived, and is
    /// settled by a status query.
    Payment,
}

/// Whether the browser says it has a network. Only its "no" is trustworthy: "yes" may be a
/// captive portal or a dead cell.
pub fn browser_online() -> bool {
    js_sys::Reflect::get(&js_sys::global(), &"navigator".into())
        .and_then(|navigator| js_sys::Reflect::get(&navigator, &"onLine".into()))
        .ok()
        .and_then(|online| online.as_bool())
        .unwrap_or(true)
}

/// POSTs exactly `body` to `/api/v1/<path>`, with the signature headers (signer, signature) when
/// given, and reads the answer's bytes and signature headers. The HTTP status matters only for
/// 5xx (the gateway failed: unclear); every other answer is judged by its signed body.
pub async fn post(
    path: &str,
    body: &[u8],
    signature: Option<(&str, &str)>,
    delivery: Delivery,
) -> Result<Answer, ApiError> {
    let (signer, signed) = signature.unwrap_or_default();
    // Bound to the request as this phone sent it: the step, the signature headers, the bytes.
    let digest = exchange_digest(
        path.rsplit('/').next().unwrap_or(path),
        signer,
        signed,
        body,
    );
    let (_, signature, bytes) = exchange(path, body, None, signature, delivery).await?;
    Ok(Answer {
        body: bytes,
        signature,
        request_digest: Some(digest),
    })
}

/// Why a batch ([`post_batch`]) brought no answers about its payments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BatchError {
    /// The gateway takes no batches (an older one answers 404) or refused this one as a whole
    /// (any 4xx: too large, unreadable): no payment in it was decided. Send them one by one.
    NotServed,
    /// No clear answer to the batch as a whole: [`ApiError::Offline`] (nothing left the phone)
    /// or [`ApiError::Unclear`] (any of its payments may have been decided).
    Failed(ApiError),
}

/// POSTs stored signed pays (signer, body, signature each) as one batch to
/// `/api/v1/batch` ([`tolem_protocol::batch`]) and returns, for each in order, what [`post`]
/// would have returned for it alone: the gateway's answer with the signature bound to the
/// payment's own bytes (checked by the caller exactly as a single answer), or a failure for a
/// payment the gateway failed on (5xx) or left unanswered.
pub async fn post_batch(
    items: &[(&str, &str, &str)],
) -> Result<Vec<Result<Answer, ApiError>>, BatchError> {
    let batch = BatchRequest {
        v: tolem_protocol::PROTOCOL_VERSION,
        items: items
            .iter()
            .map(|(key, body, signature)| BatchItem {
                key: (*key).to_owned(),
                signature: (*signature).to_owned(),
                body: (*body).to_owned(),
            })
            .collect(),
    };
    let body = serde_json::to_vec(&batch).expect("a batch always serialises");
    // Gzipped, the signed payments take a third of the time on a slow link (issue 14: 100 of
    // them at 128 kbit/s); the gateway inflates them before it reads anything. A browser
    // without `CompressionStream` sends them as they are; a gateway that cannot read gzip
    // refuses the batch as a whole (4xx), and the payments go one by one.
    let gzipped = gzip(&body).await;
    let (sent, coding) = match &gzipped {
        Some(gzipped) => (gzipped.as_slice(), Some("gzip")),
        None => (body.as_slice(), None),
    };
    let (status, _, bytes) = exchange(BATCH_STEP, sent, coding, None, Delivery::Payment)
        .await
        .map_err(BatchError::Failed)?;
    // The gateway refuses a batch as a whole only before deciding anything in it.
    if (400..500).contains(&status) {
        return Err(BatchError::NotServed);
    }
    let answer: BatchAnswer = tolem_protocol::json::from_bytes(&bytes)
        .map_err(|_| BatchError::Failed(not_an_answer()))?;
    let mut answers = answer.items.into_iter();
    Ok(items
        .iter()
        .map(|(key, body, signature)| match answers.next() {
            Some(item) if item.status >= 500 => {
                Err(ApiError::Unclear(Unclear::ServerError(item.status)))
            }
            // Bound to the payment as if sent alone to `pay`, signed as it is in the batch.
            Some(item) => Ok(Answer {
                body: item.body.into_bytes(),
                signature: Some((GATEWAY_SIGNER.to_owned(), item.signature)),
                request_digest: Some(exchange_digest(
                    crate::settle::PAY,
                    key,
                    signature,
                    body.as_bytes(),
                )),
            }),
            None => Err(not_an_answer()),
        })
        .collect())
}

/// `bytes` gzipped by the browser, or `None` where it cannot (no `CompressionStream`).
async fn gzip(bytes: &[u8]) -> Option<Vec<u8>> {
    let compression = CompressionStream::new("gzip").ok()?;
    let plain = web_sys::Response::new_with_opt_u8_array(Some(&mut bytes.to_vec())).ok()?;
    let compressed = plain
        .body()?
        .unchecked_into::<Piped>()
        .pipe_through(&compression);
    let read = web_sys::Response::new_with_opt_readable_stream(Some(&compressed))
        .ok()?
        .array_buffer()
        .ok()?;
    let buffer = JsFuture::from(read).await.ok()?;
    Some(Uint8Array::new(&buffer).to_vec())
}

/// Sends `body` to `/api/v1/<path>` (with `Content-Encoding: <coding>` when it is encoded) and
/// reads the answer: its HTTP status (below 500: a 5xx is [`Unclear::ServerError`]), its
/// signature headers and its bytes.
async fn exchange(
    path: &str,
    body: &[u8],
    coding: Option<&str>,
    signature: Option<(&str, &str)>,
    delivery: Delivery,
) -> Result<(u16, Option<(String, String)>, Vec<u8>), ApiError> {
    if !browser_online() {
        return Err(ApiError::Offline);
    }
    let request = build_request(path, body, coding, signature).map_err(|_| ApiError::Offline)?;
    let response = match JsFuture::from(global_fetch(&request)).await {
        Ok(response) => response.unchecked_into::<web_sys::Response>(),
        Err(error) if is_timeout(&error) => return Err(ApiError::Unclear(Unclear::Timeout)),
        Err(_) => {
            return Err(match delivery {
                Delivery::Repeatable => ApiError::Offline,
                Delivery::Payment => ApiError::Unclear(Unclear::ConnectionLost),
            });
        }
    };
    let status = response.status();
    // A failing gateway, or a proxy in front of it: the request may have been processed.
    if status >= 500 {
        return Err(ApiError::Unclear(Unclear::ServerError(status)));
    }
    let headers = response.headers();
    let header = |name: &str| headers.get(name).ok().flatten();
    let signature = header(KEY_HEADER).zip(header(SIGNATURE_HEADER));
    let read = response
        .array_buffer()
        .map_err(|_| ApiError::Unclear(Unclear::ConnectionLost))?;
    let bytes = JsFuture::from(read).await.map_err(|error| {
        ApiError::Unclear(if is_timeout(&error) {
            Unclear::Timeout
        } else {
            Unclear::ConnectionLost
        })
    })?;
    Ok((status, signature, Uint8Array::new(&bytes).to_vec()))
}

fn build_request(
    path: &str,
    body: &[u8],
    coding: Option<&str>,
    signature: Option<(&str, &str)>,
) -> Result<web_sys::Request, JsValue> {
    let headers = Headers::new()?;
    headers.set("content-type", "application/json")?;
    if let Some(coding) = coding {
        headers.set("content-encoding", coding)?;
    }
    headers.set(BIND_HEADER, BIND_EXCHANGE_SHA256)?;
    if let Some((signer, signature)) = signature {
        headers.set(KEY_HEADER, signer)?;
        headers.set(SIGNATURE_HEADER, signature)?;
    }
    let init = RequestInit::new();
    init.set_method("POST");
    init.set_headers(&headers);
    init.set_body(&Uint8Array::from(body));
    // An answer is about one request; no cache may hold or replay it.
    init.set_cache(RequestCache::NoStore);
    init.set_signal(Some(&web_sys::AbortSignal::timeout_with_u32(TIMEOUT_MS)));
    web_sys::Request::new_with_str_and_init(&format!("{API_PREFIX}{path}"), &init)
}

/// `AbortSignal.timeout` rejects with a `TimeoutError` (older browsers: `AbortError`).
fn is_timeout(error: &JsValue) -> bool {
    js_sys::Reflect::get(error, &"name".into())
        .ok()
        .and_then(|name| name.as_string())
        .is_some_and(|name| name == "TimeoutError" || name == "AbortError")
}

/// How long the reachability probe waits for the gateway's health answer: slower counts as no
/// connection (the cashier should not wait for it).
pub const PROBE_TIMEOUT_MS: u32 = 8_000;

/// Whether the gateway answers its health check right now: only its own health answer counts
/// (a captive portal answers 200 with a login page). A replayer asks this before it sends
/// stored payments: a pay that fails to connect may have left (it then becomes *unknown* and
/// needs a status query), so when the gateway is plainly out of reach nothing is sent at all.
/// The page's connection indicator asks it too (`src/connection.rs`).
pub async fn gateway_reachable() -> bool {
    if !browser_online() {
        return false;
    }
    let init = RequestInit::new();
    init.set_method("GET");
    init.set_cache(RequestCache::NoStore);
    init.set_signal(Some(&web_sys::AbortSignal::timeout_with_u32(
        PROBE_TIMEOUT_MS,
    )));
    let Ok(request) = web_sys::Request::new_with_str_and_init("/api/health", &init) else {
        return false;
    };
    let Ok(response) = JsFuture::from(global_fetch(&request)).await else {
        return false;
    };
    let response: web_sys::Response = response.unchecked_into();
    if !response.ok() {
        return false;
    }
    let Ok(read) = response.array_buffer() else {
        return false;
    };
    let Ok(bytes) = JsFuture::from(read).await else {
        return false;
    };
    // Its time is not believed (see `crate::clock`): the health answer is unsigned.
    tolem_protocol::json::from_bytes::<HealthStatus>(&Uint8Array::new(&bytes).to_vec())
        .is_ok_and(|health| health.status == "ok")
}

/// The one field of the gateway's health answer ([`tolem_protocol::health::Health`]) the probe
/// reads: a reader of the whole answer was 2.7 KB of code in the page's and the worker's
/// first download, for fields nothing here uses (issue 14).
#[derive(serde::Deserialize)]
struct HealthStatus {
    /// `"ok"`, or `"degraded"` when the gateway's database does not answer.
    status: String,
}

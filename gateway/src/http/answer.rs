//! What the protocol API (`/api/v1/...`) answers, and how.
//!
//! Every answer is a protocol [`Response`] — a result code, and an outcome when the step
//! worked — signed by the gateway key over the exact body bytes (headers `x-tolem-key: gateway`
//! and `x-tolem-signature`, added by [`sign_answers`] after the body is final). The phone trusts
//! a body only when that signature verifies with the gateway key on its key card.
//!
//! ## The HTTP status rule
//! The result code is the answer; the HTTP status only says how far the message got:
//! * **400** — the message could not be read: 900 malformed (also missing signature headers),
//!   901 unsupported version, 907 sent to the wrong address;
//! * **401** — the sender could not be authenticated: 6 bad signature, 134 unknown key,
//!   904 wrong point code or password, 919 a point password already used for a key;
//! * **413** — the body is over `MAX_BODY_BYTES` (code 900), refused before it is read; a batch
//!   (`/api/v1/batch`) over its limits (code 920);
//! * **415** — the body comes in a coding the gateway does not read, anything but gzip (900);
//! * **429** — 905 too many attempts, with `retry_after_s` and a `Retry-After` header;
//! * **500** — 999, something failed inside the gateway: the request may be repeated;
//! * **200** — everything else: success, and every decision about a sender the gateway has
//!   identified (902 not certified, 903 revoked, 906 card already used, 52–54 blocked, ...)
//!   or a payment (1, 7, 8, 11, 21, 32, 81–84, 908–910, 914);
//! * **304** — the catalogue has not changed (`If-None-Match`): no body, so no signature.
//!
//! So a client must read the signed body whatever the status; a body that is not a signed
//! `Response` (a proxy's error page, a timeout) is *no answer* and the step's outcome is unknown.

use axum::{
    body::{Body, Bytes},
    extract::{Request, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response as HttpResponse},
};
use base64::Engine as _;
use tolem_protocol::{
    PROTOCOL_VERSION,
    batch::{BATCH_STEP, MAX_BATCH_BYTES},
    codes::ResultCode,
    ids::SessionId,
    messages::{Message, Outcome, Response},
    signing::{
        ANSWERS_HEADER, BIND_EXCHANGE_SHA256, BIND_HEADER, BIND_REQUEST_SHA256, GATEWAY_SIGNER,
        KEY_HEADER, MAX_BODY_BYTES, MAX_CATALOGUE_BYTES, SIGNATURE_HEADER, bound_answer,
        exchange_digest, request_digest,
    },
};

use crate::state::AppState;
use crate::{db::now_ms, password::PasswordError, throttle::Blocked};

/// A protocol answer with its HTTP status (see the module docs for the rule).
#[derive(Debug)]
pub struct Answer {
    status: StatusCode,
    body: AnswerBody,
}

#[derive(Debug)]
enum AnswerBody {
    // Boxed: an answer travels in `Err` through every check, and a key card is big.
    Fresh(Box<Response>),
    /// An answer encoded by the payment group that decided it, signed as it is.
    Stored(Vec<u8>),
}

/// The HTTP status of an answer with `code`.
pub fn http_status(code: ResultCode) -> StatusCode {
    match code {
        ResultCode::Malformed | ResultCode::UnsupportedVersion | ResultCode::WrongStep => {
            StatusCode::BAD_REQUEST
        }
        ResultCode::BadSignature
        | ResultCode::KeyNotRegistered
        | ResultCode::BadCredentials
        | ResultCode::PasswordUsed => StatusCode::UNAUTHORIZED,
        ResultCode::TooManyAttempts => StatusCode::TOO_MANY_REQUESTS,
        ResultCode::BatchTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ResultCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::OK,
    }
}

impl Answer {
    /// The step worked.
    pub fn outcome(session: Option<SessionId>, outcome: Outcome) -> Answer {
        let mut response = Response::code(session, ResultCode::Ok, now_ms());
        response.outcome = Some(outcome);
        Answer::response(response)
    }

    /// The step was refused with `code`.
    pub fn refusal(session: Option<SessionId>, code: ResultCode) -> Answer {
        Answer::response(Response::code(session, code, now_ms()))
    }

    /// A response built by the caller (a payment's outcome: a code *and* a receipt).
    pub fn response(response: Response) -> Answer {
        Answer {
            status: http_status(response.code),
            body: AnswerBody::Fresh(Box::new(response)),
        }
    }

    /// An answer encoded before — by the payment group that decided it — sent as it is.
    pub fn stored(code: ResultCode, bytes: Vec<u8>) -> Answer {
        Answer {
            status: http_status(code),
            body: AnswerBody::Stored(bytes),
        }
    }

    /// Too many failed attempts: try again after the block.
    pub fn blocked(blocked: Blocked) -> Answer {
        let mut response = Response::code(None, ResultCode::TooManyAttempts, now_ms());
        response.retry_after_s = Some(blocked.retry_after_s);
        Answer::response(response)
    }

    /// The body is over the limit (or could not be read to the end).
    pub fn too_large() -> Answer {
        Answer::unreadable(StatusCode::PAYLOAD_TOO_LARGE)
    }

    /// The body comes in a coding the gateway does not read (anything but gzip): 415 (the
    /// caller names the codings it reads in `Accept-Encoding`, RFC 7694).
    pub fn unread_coding() -> Answer {
        Answer::unreadable(StatusCode::UNSUPPORTED_MEDIA_TYPE)
    }

    /// 900 with `status`, which says why the body could not be read.
    fn unreadable(status: StatusCode) -> Answer {
        Answer {
            status,
            body: AnswerBody::Fresh(Box::new(Response::code(
                None,
                ResultCode::Malformed,
                now_ms(),
            ))),
        }
    }

    /// Something failed inside the gateway: logged here, never sent.
    pub fn internal(error: &dyn std::fmt::Display) -> Answer {
        tracing::error!(%error, "protocol request failed");
        Answer::refusal(None, ResultCode::Internal)
    }
}

impl From<sqlx::Error> for Answer {
    fn from(error: sqlx::Error) -> Answer {
        Answer::internal(&error)
    }
}

impl From<PasswordError> for Answer {
    fn from(error: PasswordError) -> Answer {
        Answer::internal(&error)
    }
}

impl Answer {
    /// The HTTP status, the body's bytes and the `Retry-After` seconds, if any: what goes out,
    /// before it is signed (a batch signs each item's bytes itself).
    pub fn encoded(self) -> (StatusCode, Vec<u8>, Option<u32>) {
        match self.body {
            AnswerBody::Fresh(response) => {
                debug_assert_eq!(response.v, PROTOCOL_VERSION);
                (self.status, response.encode(), response.retry_after_s)
            }
            AnswerBody::Stored(bytes) => (self.status, bytes, None),
        }
    }
}

impl IntoResponse for Answer {
    fn into_response(self) -> HttpResponse {
        let (status, bytes, retry_after) = self.encoded();
        let mut response = (
            status,
            [
                (header::CONTENT_TYPE, "application/json"),
                // An answer is about one request: a cache must never replay it for another.
                (header::CACHE_CONTROL, "no-store"),
            ],
            bytes,
        )
            .into_response();
        if let Some(seconds) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// Signs every answer of the protocol API over its final body bytes — bound to the request's
/// bytes when the client asks (see [`tolem_protocol::signing`]). A layer rather than a step in
/// each handler, so no answer — refusals and extractor rejections included — can leave
/// unsigned or unbound, and nothing can change the bytes after they are signed.
pub async fn sign_answers(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> HttpResponse {
    let step = step_of(request.uri());
    // The decompression layer outside has decoded gzip and removed its header; any other
    // coding is still named here, its bytes unread. Refused unbound: the request's digest
    // would be over bytes nobody can read.
    if request
        .headers()
        .get(header::CONTENT_ENCODING)
        .is_some_and(|coding| coding != "identity")
    {
        let mut refusal = Answer::unread_coding().into_response();
        refusal
            .headers_mut()
            .insert(header::ACCEPT_ENCODING, HeaderValue::from_static("gzip"));
        return sign(&state, &step, refusal, None).await;
    }
    let bind = Binding::asked(request.headers());
    let (request, digest) = if let Some(bind) = bind {
        // The body is read here to hash it and handed on as it was; the handler's own read
        // sees the same bytes. An oversized body is refused unbound: no client of ours sends
        // one, so whoever did can make nothing of the refusal.
        let (parts, body) = request.into_parts();
        let bytes = match read_step_body(&step, &parts.headers, body).await {
            Ok(bytes) => bytes,
            Err(refusal) => return sign(&state, &step, refusal.into_response(), None).await,
        };
        let digest = bind.digest(&step, &parts.headers, &bytes);
        (Request::from_parts(parts, Body::from(bytes)), Some(digest))
    } else {
        (request, None)
    };
    sign(&state, &step, next.run(request).await, digest).await
}

/// What a client's answers are bound to, as it asked ([`BIND_HEADER`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Binding {
    /// The request's body bytes ([`request_digest`]): older phones.
    Body,
    /// The request as it travelled: step, signer and signature headers, body
    /// ([`exchange_digest`]).
    Exchange,
}

impl Binding {
    /// The binding a request's headers ask for; `None`, its answer is signed over its bytes.
    pub fn asked(headers: &HeaderMap) -> Option<Binding> {
        match headers.get(BIND_HEADER)?.as_bytes() {
            value if value == BIND_EXCHANGE_SHA256.as_bytes() => Some(Binding::Exchange),
            value if value == BIND_REQUEST_SHA256.as_bytes() => Some(Binding::Body),
            _ => None,
        }
    }

    /// The digest an answer to the `step` request with these headers and `body` is bound to.
    pub fn digest(self, step: &str, headers: &HeaderMap, body: &[u8]) -> [u8; 32] {
        let header = |name| {
            headers
                .get(name)
                .and_then(|value: &HeaderValue| value.to_str().ok())
                .unwrap_or_default()
        };
        self.digest_of(step, header(KEY_HEADER), header(SIGNATURE_HEADER), body)
    }

    /// The digest an answer to the `step` request signed by `signer` with `signature` is bound
    /// to (a batch item's: its key and signature travel in the batch, not in headers).
    pub fn digest_of(self, step: &str, signer: &str, signature: &str, body: &[u8]) -> [u8; 32] {
        match self {
            Binding::Body => request_digest(body),
            Binding::Exchange => exchange_digest(step, signer, signature, body),
        }
    }
}

/// Signs `response`'s body (the answer to a `step` request) with the gateway key: over
/// [`bound_answer`] when there is a request digest, over the body alone otherwise.
async fn sign(
    state: &AppState,
    step: &str,
    response: HttpResponse,
    digest: Option<[u8; 32]>,
) -> HttpResponse {
    let (mut parts, body) = response.into_parts();
    // A 304 has no body to sign, and it must not carry a signature header either: a browser
    // merges a 304's headers into the response it has cached, which would then carry a
    // signature over nothing instead of the one over its body.
    if parts.status == StatusCode::NOT_MODIFIED {
        return HttpResponse::from_parts(parts, body);
    }
    // Our own answers are a few hundred bytes (a batch's, a few hundred per item; the
    // catalogue, a few hundred per provider); the limit only guards against a bug.
    let bytes = match axum::body::to_bytes(body, answer_limit(step)).await {
        Ok(bytes) => bytes,
        Err(error) => return Answer::internal(&error).into_response(),
    };
    count(state, step, &bytes);
    let signature = sign_bytes(state, digest.as_ref(), &bytes);
    if let Some(digest) = &digest {
        let named = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest);
        if let Ok(value) = HeaderValue::from_str(&named) {
            parts.headers.insert(ANSWERS_HEADER, value);
        }
    }
    parts
        .headers
        .insert(KEY_HEADER, HeaderValue::from_static(GATEWAY_SIGNER));
    match HeaderValue::from_str(&signature.to_string()) {
        Ok(value) => parts.headers.insert(SIGNATURE_HEADER, value),
        Err(error) => return Answer::internal(&error).into_response(),
    };
    HttpResponse::from_parts(parts, Body::from(bytes))
}

/// The gateway's signature over an answer's `bytes`: bound to the request with `digest` when
/// there is one ([`bound_answer`]), over the bytes alone otherwise.
pub fn sign_bytes(
    state: &AppState,
    digest: Option<&[u8; 32]>,
    bytes: &[u8],
) -> tolem_protocol::keys::Signature {
    match digest {
        Some(digest) => state.gateway_key.sign(&bound_answer(digest, bytes)),
        None => state.gateway_key.sign(bytes),
    }
}

/// The step a protocol request is sent to: the last segment of its path, whatever the router
/// is nested under.
pub fn step_of(uri: &axum::http::Uri) -> String {
    uri.path().rsplit('/').next().unwrap_or_default().to_owned()
}

/// Counts the answer to a `step` request for `/metrics` by its result code, read from its
/// bytes (a body that is not an answer is not counted).
pub fn count(state: &AppState, step: &str, bytes: &[u8]) {
    #[derive(serde::Deserialize)]
    struct Code {
        code: u16,
    }
    if let Ok(Code { code }) = serde_json::from_slice(bytes) {
        state.metrics.answered(step, code);
    }
}

/// Reads a request body of at most `MAX_BODY_BYTES`. A declared `Content-Length` over the
/// limit is refused without reading a byte; a body without one is read only up to the limit.
pub async fn read_body(headers: &HeaderMap, body: Body) -> Result<Bytes, Answer> {
    read_limited(headers, body, MAX_BODY_BYTES, Answer::too_large).await
}

/// The most bytes the answer to a `step` request may carry: the provider catalogue's own
/// limit, else four times the request's.
fn answer_limit(step: &str) -> usize {
    if step == CATALOGUE_STEP {
        MAX_CATALOGUE_BYTES
    } else {
        4 * body_limit(step)
    }
}

/// The step of `GET /api/v1/providers` ([`super::providers`]).
const CATALOGUE_STEP: &str = "providers";

/// The most bytes a `step` request may carry: a batch carries many payments.
pub fn body_limit(step: &str) -> usize {
    if step == BATCH_STEP {
        MAX_BATCH_BYTES
    } else {
        MAX_BODY_BYTES
    }
}

/// Reads the body of a `step` request up to [`body_limit`]; a batch over it is refused with
/// its own code (920), so the phone knows to send fewer at a time.
pub async fn read_step_body(step: &str, headers: &HeaderMap, body: Body) -> Result<Bytes, Answer> {
    if step == BATCH_STEP {
        read_limited(headers, body, MAX_BATCH_BYTES, || {
            Answer::refusal(None, ResultCode::BatchTooLarge)
        })
        .await
    } else {
        read_body(headers, body).await
    }
}

async fn read_limited(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
    too_large: fn() -> Answer,
) -> Result<Bytes, Answer> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return Err(too_large());
    }
    // The other failure, a client gone mid-body, has nobody left to read the answer.
    axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| too_large())
}

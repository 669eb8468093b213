//! `GET /api/openapi.json`: the OpenAPI 3.1 description of this API, generated from the code —
//! the handlers' `#[utoipa::path]` attributes and the protocol's message types (their
//! `ToSchema`, behind the protocol crate's `openapi` feature) — so it cannot drift from what is
//! served. Its text (the signing rules) is `openapi.md` beside this file. Unauthenticated:
//! it is the contract others build and test clients against.

use std::{collections::BTreeMap, sync::OnceLock};

use axum::{
    Router,
    http::header,
    response::{IntoResponse, Response},
    routing::get,
};
use tolem_protocol::{
    batch::{BatchAnswer, BatchRequest},
    health::Health,
    messages::{KeyCardRequest, RegisterKey, Request, Response as Answer},
    providers::Catalogue,
    signing::{
        ANSWERS_HEADER, BIND_EXCHANGE_SHA256, BIND_HEADER, BIND_REQUEST_SHA256, GATEWAY_SIGNER,
        KEY_HEADER, SIGNATURE_HEADER,
    },
};
use utoipa::{
    IntoParams, IntoResponses, OpenApi,
    openapi::{
        ContentBuilder, Ref, RefOr, ResponseBuilder,
        header::{Header, HeaderBuilder},
        path::{Parameter, ParameterBuilder, ParameterIn},
        response::Response as ApiResponse,
        schema::{Object, ObjectBuilder, Schema, Type},
    },
};

use crate::state::AppState;

/// The description: every path the API serves, with the schemas they use.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Tolem gateway API",
        description = include_str!("openapi.md"),
        license(name = "MIT", identifier = "MIT"),
    ),
    paths(
        super::health::health,
        openapi_json,
        super::key_card::key_card,
        super::registration::register,
        super::providers::catalogue,
        super::payments::check,
        super::payments::pay_step,
        super::batch::batch,
        super::payments::status,
        super::payments::cancel,
        super::steps::balance,
        super::message::message,
        super::shift::shift_report,
        super::steps::revoke,
        super::card::notification,
    ),
    components(schemas(Answer, BatchRequest, BatchAnswer, Request, KeyCardRequest, RegisterKey, Catalogue, Health)),
    tags(
        (name = "service", description = "Health and this description; unsigned."),
        (name = "keys", description = "A new phone's key: the key card, then registering the key."),
        (name = "payments", description = "Signed payment steps: check, pay, status, cancel; several stored pays in one batch."),
        (name = "point", description = "Signed steps about the point: balance, message, shift, revoke."),
        (name = "card", description = "Card payment services' notifications (not for clients)."),
    ),
)]
pub struct ApiDoc;

/// The description as JSON, made once: it is the same for the life of the process.
pub fn document() -> &'static str {
    static DOCUMENT: OnceLock<String> = OnceLock::new();
    DOCUMENT.get_or_init(|| {
        ApiDoc::openapi()
            .to_json()
            .expect("the OpenAPI description always serialises")
    })
}

/// The route of the description, relative to `/api`.
pub fn router() -> Router<AppState> {
    Router::new().route("/openapi.json", get(openapi_json))
}

/// This description (OpenAPI 3.1, JSON).
#[utoipa::path(
    get,
    path = "/api/openapi.json",
    tag = "service",
    responses((status = 200, description = "The OpenAPI 3.1 description of this API.",
        content_type = "application/json", body = Object)),
)]
pub(crate) async fn openapi_json() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], document()).into_response()
}

fn string() -> Schema {
    Object::with_type(Type::String).into()
}

fn header(description: &str) -> Header {
    HeaderBuilder::new()
        .schema(string())
        .description(Some(description))
        .build()
}

fn header_param(name: &str, required: bool, schema: Schema, description: &str) -> Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Header)
        .required(if required {
            utoipa::openapi::Required::True
        } else {
            utoipa::openapi::Required::False
        })
        .schema(Some(schema))
        .description(Some(description))
        .build()
}

/// The optional request header asking for an answer bound to the request.
fn bind_param() -> Parameter {
    let schema = ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some([BIND_EXCHANGE_SHA256, BIND_REQUEST_SHA256]))
        .into();
    header_param(
        BIND_HEADER,
        false,
        schema,
        "`exchange-sha256`: sign the answer bound to this request as it was sent — its step, \
         `x-tolem-key` and `x-tolem-signature` headers and body bytes (see the signing rules \
         above); `request-sha256` (older phones): bound to its body bytes alone. Without it \
         (or with any other value, which is ignored) the answer's signature covers its body \
         alone.",
    )
}

/// A signed step's headers: the signer's key serial, the signature, and the binding wish.
pub struct SignedHeaders;

impl IntoParams for SignedHeaders {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![
            header_param(
                KEY_HEADER,
                true,
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .min_length(Some(1))
                    .into(),
                "The serial of the key that signed the body (for key registration: the key \
                 card's serial, the body being signed by the new key itself).",
            ),
            header_param(
                SIGNATURE_HEADER,
                true,
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .pattern(Some("^[A-Za-z0-9_-]{86}$"))
                    .into(),
                "The Ed25519 signature over the exact body bytes, unpadded base64url.",
            ),
            bind_param(),
        ]
    }
}

/// An unsigned step's one optional header (the key card).
pub struct BindHeader;

impl IntoParams for BindHeader {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![bind_param()]
    }
}

/// A signed protocol answer with `status`: a `Response` body and the gateway's signature.
fn signed_answer(description: &str, retry_after: bool) -> RefOr<ApiResponse> {
    let mut response = ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Response")))
                .build(),
        )
        .header(
            KEY_HEADER,
            header(&format!(
                "`{GATEWAY_SIGNER}`: the answer is signed by the gateway key."
            )),
        )
        .header(
            SIGNATURE_HEADER,
            header(
                "The gateway's Ed25519 signature, unpadded base64url: over the body, or over \
                 the bound answer when the request asked for one.",
            ),
        )
        .header(
            ANSWERS_HEADER,
            header(
                "On a bound answer: the digest of the request it is bound to, unpadded \
                 base64url (for traces; clients never trust it).",
            ),
        );
    if retry_after {
        response = response.header(
            "retry-after",
            HeaderBuilder::new()
                .schema(Object::with_type(Type::Integer))
                .description(Some("Seconds to wait before trying again."))
                .build(),
        );
    }
    response.build().into()
}

/// Every answer of a protocol step, by HTTP status (the rule in the description's text).
pub struct ProtocolAnswers;

impl IntoResponses for ProtocolAnswers {
    fn responses() -> BTreeMap<String, RefOr<ApiResponse>> {
        [
            (
                "200",
                "Success (`code` 0 with an `outcome`), or a decision about the identified \
                 sender or the payment (`code` says which).",
                false,
            ),
            (
                "400",
                "The message could not be read: 900 malformed or missing signature headers, \
                 901 unsupported version, 907 sent to the wrong step.",
                false,
            ),
            (
                "401",
                "The sender is not authenticated: 6 bad signature, 134 unknown key, 904 wrong \
                 point code or password, 919 point password already used.",
                false,
            ),
            (
                "413",
                "The body is over 16 KiB (900), refused before it is read.",
                false,
            ),
            (
                "415",
                "The body comes in a coding the gateway does not read (900): only gzip is; \
                 `Accept-Encoding` says so.",
                false,
            ),
            (
                "429",
                "905 too many attempts: `retry_after_s` and `Retry-After` say when to try again.",
                true,
            ),
            (
                "500",
                "999: something failed inside the gateway; the request may be repeated.",
                false,
            ),
        ]
        .into_iter()
        .map(|(status, description, retry)| (status.to_owned(), signed_answer(description, retry)))
        .collect()
    }
}

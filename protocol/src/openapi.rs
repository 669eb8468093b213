//! Schemas of the types that travel as text or numbers of their own making (result codes,
//! session ids, keys), for the gateway's OpenAPI description. The structs and enums derive
//! theirs (`ToSchema`, behind the `openapi` feature); these four serialise by hand, so their
//! schemas are written by hand too, next to the rules they describe.

use utoipa::openapi::schema::{ObjectBuilder, Schema, SchemaType, Type};
use utoipa::openapi::{RefOr, schema::SchemaFormat};
use utoipa::{PartialSchema, ToSchema};

use crate::codes::{Lang, ResultCode};
use crate::ids::{SESSION_MAX_LEN, SessionId};
use crate::keys::PublicKey;

impl PartialSchema for ResultCode {
    fn schema() -> RefOr<Schema> {
        let numbers: Vec<u16> = ResultCode::ALL.iter().map(|code| code.number()).collect();
        let list: String = ResultCode::ALL
            .iter()
            .map(|code| {
                format!(
                    "\n* **{}** — {} / {}",
                    code.number(),
                    code.message(Lang::En),
                    code.message(Lang::Ru)
                )
            })
            .collect();
        ObjectBuilder::new()
            .schema_type(SchemaType::Type(Type::Integer))
            .format(Some(SchemaFormat::KnownFormat(
                utoipa::openapi::KnownFormat::Int32,
            )))
            .enum_values(Some(numbers))
            .description(Some(format!(
                "The result code: how the step went (0 is success). Numbers below 900 are \
                 Cyberplat's, 900 and above Tolem's own. The app shows the code's message in \
                 the cashier's language (Russian, Kazakh or English):{list}"
            )))
            .into()
    }
}
impl ToSchema for ResultCode {}

impl PartialSchema for SessionId {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(SchemaType::Type(Type::String))
            .min_length(Some(1))
            .max_length(Some(SESSION_MAX_LEN))
            .pattern(Some("^[A-Za-z0-9_-]+$"))
            .description(Some(
                "The session: made on the phone, unique per point, the idempotency key of a \
                 payment (the same session across check, pay and status).",
            ))
            .into()
    }
}
impl ToSchema for SessionId {}

impl PartialSchema for PublicKey {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(SchemaType::Type(Type::String))
            .min_length(Some(43))
            .max_length(Some(43))
            .pattern(Some("^[A-Za-z0-9_-]{43}$"))
            .description(Some(
                "An Ed25519 public key: its 32 bytes as unpadded base64url.",
            ))
            .into()
    }
}
impl ToSchema for PublicKey {}

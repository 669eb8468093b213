//! A batch of stored signed payments in one request (`POST /api/v1/batch`): for slow links, where
//! one request per deferred payment spends most of its time waiting for round trips.
//!
//! A batch is an envelope, not a message of its own: nothing about it is signed. Each item is a
//! `pay` exactly as the single step carries it — the body bytes (as a JSON string: protocol
//! messages are UTF-8 JSON, so the string is those bytes exactly), the key serial of the
//! `x-tolem-key` header and the signature of the `x-tolem-signature` header — with its own
//! session. The gateway takes the items in order (oldest first, so later ones see the earlier
//! ones' debits), runs each through the very pipeline of the single `pay`, and answers each with
//! the HTTP status, the body bytes and the signature the single step would have answered: signed
//! by the gateway key bound to *that item's* request ([`crate::signing::bound_answer`] over
//! [`crate::signing::request_digest`] of the item's bytes). So a phone checks an item's answer
//! exactly as it checks a single answer, and a bad item gets its own refusal without spoiling the
//! others.
//!
//! The batch as a whole is refused only before any item is looked at: more than
//! [`MAX_BATCH_ITEMS`] items or [`MAX_BATCH_BYTES`] bytes (413,
//! [`ResultCode::BatchTooLarge`](crate::codes::ResultCode::BatchTooLarge)), an unreadable
//! envelope (400, 900) or another protocol version (400, 901). A gateway older than batches
//! answers 404. Either way no item was decided, and the phone sends them one by one.

use serde::{Deserialize, Serialize};

use crate::messages::{DecodeError, read_versioned};

/// The step's name, the last segment of its URL.
pub const BATCH_STEP: &str = "batch";
/// The most payments one batch may carry.
pub const MAX_BATCH_ITEMS: usize = 50;
/// The largest batch body: 50 payments of a few hundred bytes each fit with room to spare.
pub const MAX_BATCH_BYTES: usize = 64 * 1024;

/// Phone → gateway: stored signed payments, oldest first.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchRequest {
    pub v: u16,
    /// At most [`MAX_BATCH_ITEMS`].
    pub items: Vec<BatchItem>,
}

/// One signed `pay` of a batch, as the single step carries it in its body and headers.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchItem {
    /// The key serial that signed (the single step's `x-tolem-key`).
    pub key: String,
    /// The Ed25519 signature over `body`'s bytes, unpadded base64url (`x-tolem-signature`).
    pub signature: String,
    /// The signed `pay` request, byte for byte (its UTF-8 JSON as a string).
    pub body: String,
}

/// Gateway → phone: one answer per item, in the items' order.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchAnswer {
    pub v: u16,
    pub items: Vec<ItemAnswer>,
}

/// The answer to one item: what the single `pay` would have answered.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemAnswer {
    /// The HTTP status the single step would have had (500: the gateway failed on this item,
    /// whose outcome is then unknown).
    pub status: u16,
    /// The answer's bytes (a protocol `Response`, UTF-8 JSON) as a string.
    pub body: String,
    /// The gateway's Ed25519 signature over the answer bound to the item's request
    /// (`bound_answer(request_digest(item body), answer body)`), unpadded base64url.
    pub signature: String,
}

impl BatchRequest {
    /// Reads a batch envelope (its size already checked against [`MAX_BATCH_BYTES`]): the
    /// version first, then the items, at most [`MAX_BATCH_ITEMS`] and at least one.
    pub fn decode(bytes: &[u8]) -> Result<BatchRequest, DecodeError> {
        let batch: BatchRequest = read_versioned(bytes)?;
        if batch.items.is_empty() {
            return Err(DecodeError::Invalid("a batch without payments".into()));
        }
        Ok(batch)
    }

    /// Whether there are more items than a batch may carry.
    pub fn too_many(&self) -> bool {
        self.items.len() > MAX_BATCH_ITEMS
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PROTOCOL_VERSION;

    #[test]
    fn an_item_body_travels_byte_for_byte() {
        let body = r#"{"v":1,"comment":"за \"март\"\\ \u0001","session":"S1"}"#;
        let batch = BatchRequest {
            v: PROTOCOL_VERSION,
            items: vec![BatchItem {
                key: "P1001-1".into(),
                signature: "x".into(),
                body: body.into(),
            }],
        };
        let bytes = serde_json::to_vec(&batch).unwrap();
        let read = BatchRequest::decode(&bytes).unwrap();
        assert_eq!(read.items[0].body.as_bytes(), body.as_bytes());
    }

    #[test]
    fn other_versions_and_empty_batches_are_refused() {
        assert_eq!(
            BatchRequest::decode(br#"{"v":2,"items":[]}"#),
            Err(DecodeError::UnsupportedVersion(2))
        );
        assert!(matches!(
            BatchRequest::decode(br#"{"v":1,"items":[]}"#),
            Err(DecodeError::Invalid(_))
        ));
        assert!(matches!(
            BatchRequest::decode(b"not json"),
            Err(DecodeError::Malformed(_))
        ));
    }
}

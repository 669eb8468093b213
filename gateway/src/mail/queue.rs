//! Queueing a point's letter: in ONE write transaction the idempotency look-up, the hourly
//! limit, the countersignature, the composed e-mail, the outbox row and its audit row — so a
//! session is queued at most once and the limit holds under concurrent requests.
//!
//! ## Concurrency
//! The transaction's first statement bumps `points.messages_issued` (the number in the new
//! message id), which locks the point's row on PostgreSQL; on SQLite [`begin_write`] has taken
//! the database's write lock already. Either way one point's letters are decided one at a time:
//! the look-up sees every letter committed before, and two letters can never both fit into the
//! last place of the hour. Should an insert still hit the (point, session) key, the stored
//! letter is read and answered.

use sqlx::{AnyPool, Row, error::ErrorKind};
use tolem_protocol::messages::{Letter, Step};

use super::{
    compose::{self, Heading},
    envelope::Envelope,
};
use crate::{
    audit::{self, Action, Actor, Event},
    db::{
        begin_write,
        mail::{self, NewMail},
    },
    gateway_key::GatewayKey,
    secrets::sha256_hex,
    sender::Sender,
};

/// The window of the per-point limit.
pub const HOUR_MS: i64 = 60 * 60 * 1000;

/// How a `message` request ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Queued {
    /// Queued now under this id.
    New { message_id: String },
    /// This session's letter was queued before, with the same content: its id, nothing new.
    Replayed { message_id: String },
    /// This session was used for another letter (code 1); nothing stored.
    SessionTaken,
    /// The point has queued its `limit` letters in the last hour (code 911); nothing stored.
    OverLimit { limit: i64 },
}

/// Why a letter could not be queued (answered 999, nothing stored: the phone tries again).
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error("not a message: {0}")]
    NotAMessage(&'static str),
}

/// The idempotency fingerprint of a letter: SHA-256 (hex) of its recipient and text, each
/// length-prefixed so no two different letters run together into the same bytes.
pub fn content_hash(letter: &Letter) -> String {
    let mut bytes = Vec::new();
    for field in [letter.to.as_bytes(), letter.text.as_bytes()] {
        bytes.extend_from_slice(&(field.len() as u64).to_be_bytes());
        bytes.extend_from_slice(field);
    }
    sha256_hex(&bytes)
}

/// The message id of the point's `number`-th letter: `P1001-M7`.
pub fn message_id(point_code: &str, number: i64) -> String {
    format!("{point_code}-M{number}")
}

/// What the letter needs from outside the request.
#[derive(Debug, Clone, Copy)]
pub struct Relay<'a> {
    pub gateway_key: &'a GatewayKey,
    /// The verification page, named in the e-mail.
    pub verify_url: &'a str,
    /// Where the request came from, for the audit trail.
    pub ip: std::net::IpAddr,
    pub now_ms: i64,
}

/// Queues the letter of an authorised `message` request whose letter the caller has checked.
pub async fn enqueue(
    pool: &AnyPool,
    sender: &Sender,
    relay: Relay<'_>,
) -> Result<Queued, QueueError> {
    let Step::Message(letter) = &sender.request.step else {
        return Err(QueueError::NotAMessage(sender.request.step.name()));
    };
    let hash = content_hash(letter);
    match decide(pool, sender, letter, &hash, relay).await {
        Err(QueueError::Database(sqlx::Error::Database(error)))
            if error.kind() == ErrorKind::UniqueViolation =>
        {
            tracing::info!(point = %sender.point.code, session = %sender.request.session,
                "message raced with the same session; answering with the stored one");
            let session = sender.request.session.as_str();
            match mail::find(pool, &sender.point.code, session).await? {
                Some(stored) => Ok(replay(stored, &hash)),
                None => Err(QueueError::Database(sqlx::Error::Database(error))),
            }
        }
        other => other,
    }
}

fn replay(stored: mail::Mail, hash: &str) -> Queued {
    if stored.content_hash == hash {
        Queued::Replayed {
            message_id: stored.message_id,
        }
    } else {
        Queued::SessionTaken
    }
}

/// The transaction itself (see the module docs).
async fn decide(
    pool: &AnyPool,
    sender: &Sender,
    letter: &Letter,
    hash: &str,
    relay: Relay<'_>,
) -> Result<Queued, QueueError> {
    let (point, session) = (&sender.point, sender.request.session.as_str());
    let mut tx = begin_write(pool).await?;
    sqlx::query("UPDATE points SET messages_issued = messages_issued + 1 WHERE code = $1")
        .bind(&point.code)
        .execute(&mut *tx)
        .await?;
    if let Some(stored) = mail::find(&mut *tx, &point.code, session).await? {
        // Nothing to write: the counter goes back with the rollback.
        tx.rollback().await?;
        return Ok(replay(stored, hash));
    }
    let row = sqlx::query("SELECT messages_issued, messages_per_hour FROM points WHERE code = $1")
        .bind(&point.code)
        .fetch_one(&mut *tx)
        .await?;
    let (number, limit): (i64, i64) = (
        row.try_get("messages_issued")?,
        row.try_get("messages_per_hour")?,
    );
    let in_last_hour = mail::queued_since(&mut tx, &point.code, relay.now_ms - HOUR_MS).await?;
    if in_last_hour >= limit {
        tx.rollback().await?;
        return Ok(Queued::OverLimit { limit });
    }

    let message_id = message_id(&point.code, number);
    let envelope = Envelope::countersign(
        &sender.key.serial,
        sender.key.public_key,
        sender.body.to_vec(),
        sender.signature,
        relay.gateway_key,
    );
    let fingerprint = sender.key.public_key.fingerprint().to_string();
    let heading = Heading {
        point_code: &point.code,
        point_name: &point.name,
        dealer_code: &sender.dealer.code,
        dealer_name: &sender.dealer.name,
        cashier_code: &sender.cashier.code,
        cashier_name: &sender.cashier.name,
        key_serial: &sender.key.serial,
        key_fingerprint: &fingerprint,
        message_id: &message_id,
        written_at_ms: sender.request.created_at_ms,
        relayed_at_ms: relay.now_ms,
        verify_url: relay.verify_url,
    };
    let subject = compose::subject(&point.code);
    let body = compose::body(&heading, &letter.text, &envelope.armor());
    let signature = sender.signature.to_string();
    mail::insert(
        &mut tx,
        &NewMail {
            message_id: &message_id,
            point_code: &point.code,
            session,
            dealer_code: &sender.dealer.code,
            cashier_code: &sender.cashier.code,
            key_serial: &sender.key.serial,
            recipient: &letter.to,
            content_hash: hash,
            request_body: &sender.body,
            request_signature: &signature,
            subject: &subject,
            body: &body,
            created_at_ms: relay.now_ms,
        },
    )
    .await?;
    let event = Event {
        action: Action::MessageQueued,
        subject: format!("message:{message_id}"),
        details: serde_json::json!({
            "point": point.code,
            "session": session,
            "recipient": letter.to,
            "characters": letter.text.chars().count(),
        }),
    };
    let actor = Actor::new(
        format!("key:{}", sender.key.serial),
        Some(&sender.dealer.code),
        relay.ip,
    );
    audit::record_in(&mut tx, &actor, &event, relay.now_ms).await?;
    tx.commit().await?;
    Ok(Queued::New { message_id })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letters_differ_by_recipient_and_text() {
        let letter = |to: &str, text: &str| Letter {
            to: to.into(),
            text: text.into(),
        };
        let a = content_hash(&letter("a@tolem.kz", "текст"));
        assert_eq!(a, content_hash(&letter("a@tolem.kz", "текст")));
        assert_ne!(a, content_hash(&letter("b@tolem.kz", "текст")));
        assert_ne!(a, content_hash(&letter("a@tolem.kz", "текст!")));
        // Length prefixes: moving bytes between the fields changes the hash.
        assert_ne!(
            content_hash(&letter("ab@x.kz", "c")),
            content_hash(&letter("a", "b@x.kzc"))
        );
        assert_eq!(message_id("P1001", 7), "P1001-M7");
    }
}

//! Certifying and revoking a point's key: the dealer's word that the key on the phone is the
//! one whose fingerprint the cashier read out (manual §4.4).

use sqlx::AnyConnection;

use super::DealerError;
use crate::{
    audit::{self, Action, Actor, Event, change},
    db::keys::{self, Key, state_text},
};

/// Certifies the pending key `serial` of a point of `dealer_code`, in the name of
/// `actor.who`, and writes the audit row; returns the key as certified.
pub async fn certify_key_in(
    conn: &mut AnyConnection,
    actor: &Actor,
    dealer_code: &str,
    serial: &str,
    now_ms: i64,
) -> Result<Key, DealerError> {
    if !keys::certify(&mut *conn, serial, dealer_code, &actor.who, now_ms).await? {
        return Err(DealerError::NotFound);
    }
    let key = keys::key(&mut *conn, serial)
        .await?
        .ok_or(DealerError::NotFound)?;
    let event = Event {
        action: Action::KeyCertified,
        subject: format!("key:{serial}"),
        details: serde_json::json!({
            "point": key.point_code,
            "fingerprint": key.public_key.fingerprint().to_string(),
            "change": change(
                serde_json::json!({ "state": "pending" }),
                serde_json::json!({ "state": "certified" }),
            ),
        }),
    };
    audit::record_in(conn, actor, &event, now_ms).await?;
    tracing::info!(%serial, point = %key.point_code, who = %actor.who, "key certified");
    Ok(key)
}

/// Revokes the pending or certified key `serial` of a point of `dealer_code` and writes the
/// audit row; returns the key as it was before.
pub async fn revoke_key_in(
    conn: &mut AnyConnection,
    actor: &Actor,
    dealer_code: &str,
    serial: &str,
    now_ms: i64,
) -> Result<Key, DealerError> {
    let before = keys::key(&mut *conn, serial).await?;
    if !keys::revoke(&mut *conn, serial, Some(dealer_code), &actor.who, now_ms).await? {
        return Err(DealerError::NotFound);
    }
    let before = before.ok_or(DealerError::NotFound)?;
    let event = Event {
        action: Action::KeyRevoked,
        subject: format!("key:{serial}"),
        details: serde_json::json!({
            "point": before.point_code,
            "change": change(
                serde_json::json!({ "state": state_text(before.state) }),
                serde_json::json!({ "state": "revoked" }),
            ),
        }),
    };
    audit::record_in(conn, actor, &event, now_ms).await?;
    tracing::info!(%serial, point = %before.point_code, who = %actor.who, "key revoked");
    Ok(before)
}

//! A point's limits: online per payment and per day (checked on every payment) and offline
//! (sent to the phone on its key card). Set at once by a full-access user or when a prepared
//! operation is confirmed.

use sqlx::AnyConnection;

use super::{DealerError, points::point_in};
use crate::{
    audit::{self, Action, Actor, Event, change},
    db::network::{self, Limits},
};

/// Gives point `code` of `dealer_code` new `limits` and writes the audit row (before and
/// after); `operation` is the prepared operation being confirmed, if any.
pub async fn set_limits_in(
    conn: &mut AnyConnection,
    actor: &Actor,
    dealer_code: &str,
    code: &str,
    limits: &Limits,
    operation: Option<&str>,
    now_ms: i64,
) -> Result<(), DealerError> {
    let before = point_in(&mut *conn, dealer_code, code).await?;
    if !network::set_limits(&mut *conn, code, dealer_code, limits).await? {
        return Err(DealerError::NotFound);
    }
    let event = Event {
        action: Action::PointLimits,
        subject: format!("point:{code}"),
        details: serde_json::json!({
            "operation": operation,
            "change": change(serde_json::json!(before.limits()), serde_json::json!(limits)),
        }),
    };
    audit::record_in(conn, actor, &event, now_ms).await?;
    tracing::info!(point = %code, who = %actor.who, "point limits changed");
    Ok(())
}

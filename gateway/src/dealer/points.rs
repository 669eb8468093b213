//! A dealer's points: registering one (inactive, with its first cashier `C1`), giving it a new
//! password, switching it on and off (activate once its key is certified, block, unblock) and
//! setting how many signed letters its phones may send per hour.

use std::ops::RangeInclusive;

use sqlx::AnyConnection;

use super::DealerError;
use crate::{
    audit::{self, Action, Actor, Event, change},
    db::network::{self, NewPoint, Point, Switch},
};

/// The letters per hour a dealer may allow a point: at least one (a point that may send none
/// is better blocked), at most a thousand (the quota is what stops a stolen phone spamming).
pub const MESSAGE_QUOTA: RangeInclusive<i64> = 1..=1000;

/// How a point's state reads: `active`, `blocked` or `new` (the CSS class and the text key).
pub fn point_state(point: &Point) -> &'static str {
    if point.active {
        "active"
    } else if point.blocked_at_ms.is_some() {
        "blocked"
    } else {
        "new"
    }
}

/// Point `code` of `dealer_code`, or [`DealerError::NotFound`].
pub async fn point_in(
    conn: &mut AnyConnection,
    dealer_code: &str,
    code: &str,
) -> Result<Point, DealerError> {
    network::point_of_dealer(conn, code, dealer_code)
        .await?
        .ok_or(DealerError::NotFound)
}

/// Registers `point` (its password already hashed: hashing is slow and must not hold the
/// write lock) and writes the audit row; returns its code.
pub async fn register_point_in(
    conn: &mut AnyConnection,
    actor: &Actor,
    point: &NewPoint<'_>,
) -> Result<String, DealerError> {
    let code = network::register_point(&mut *conn, point).await?;
    let event = Event {
        action: Action::PointRegistered,
        subject: format!("point:{code}"),
        details: serde_json::json!({
            "after": {
                "name": point.name, "address": point.address,
                "working_hours": point.working_hours, "active": false,
                "cashier": { "code": "C1", "name": point.cashier_name },
            }
        }),
    };
    audit::record_in(conn, actor, &event, point.now_ms).await?;
    tracing::info!(point = %code, who = %actor.who, "point registered");
    Ok(code)
}

/// Gives point `code` of `dealer_code` the password whose hash is `password_hash` and writes
/// the audit row (that it changed, never what to).
pub async fn reset_point_password_in(
    conn: &mut AnyConnection,
    actor: &Actor,
    dealer_code: &str,
    code: &str,
    password_hash: &str,
    now_ms: i64,
) -> Result<(), DealerError> {
    if !network::set_point_password(&mut *conn, code, dealer_code, password_hash).await? {
        return Err(DealerError::NotFound);
    }
    let event = Event {
        action: Action::PointPasswordReset,
        subject: format!("point:{code}"),
        details: serde_json::json!({ "after": { "password": "new" } }),
    };
    audit::record_in(conn, actor, &event, now_ms).await?;
    tracing::info!(point = %code, who = %actor.who, "point password reset");
    Ok(())
}

/// Activates, blocks or unblocks point `code` of `dealer_code` and writes the audit row;
/// [`DealerError::NotFound`] also when the point is not in a state that allows it.
pub async fn switch_point_in(
    conn: &mut AnyConnection,
    actor: &Actor,
    dealer_code: &str,
    code: &str,
    switch: Switch,
    now_ms: i64,
) -> Result<(), DealerError> {
    let before = point_in(&mut *conn, dealer_code, code).await?;
    if !network::switch_point(&mut *conn, code, dealer_code, switch, now_ms).await? {
        return Err(DealerError::NotFound);
    }
    let (action, after) = match switch {
        Switch::Activate => (Action::PointActivated, "active"),
        Switch::Block => (Action::PointBlocked, "blocked"),
        Switch::Unblock => (Action::PointUnblocked, "active"),
    };
    let event = Event {
        action,
        subject: format!("point:{code}"),
        details: change(
            serde_json::json!({ "state": point_state(&before) }),
            serde_json::json!({ "state": after }),
        ),
    };
    audit::record_in(conn, actor, &event, now_ms).await?;
    tracing::info!(point = %code, who = %actor.who, %action, "point switched");
    Ok(())
}

/// Lets point `code` of `dealer_code` send at most `per_hour` signed letters in any hour
/// (more get 911) and writes the audit row with the quota before and after.
pub async fn set_message_quota_in(
    conn: &mut AnyConnection,
    actor: &Actor,
    dealer_code: &str,
    code: &str,
    per_hour: i64,
    now_ms: i64,
) -> Result<(), DealerError> {
    if !MESSAGE_QUOTA.contains(&per_hour) {
        return Err(DealerError::BadMessageQuota);
    }
    let before = point_in(&mut *conn, dealer_code, code).await?;
    if !network::set_message_quota(&mut *conn, code, dealer_code, per_hour).await? {
        return Err(DealerError::NotFound);
    }
    let event = Event {
        action: Action::PointMessageQuota,
        subject: format!("point:{code}"),
        details: change(
            serde_json::json!({ "messages_per_hour": before.messages_per_hour }),
            serde_json::json!({ "messages_per_hour": per_hour }),
        ),
    };
    audit::record_in(conn, actor, &event, now_ms).await?;
    tracing::info!(point = %code, who = %actor.who, per_hour, "point letter quota changed");
    Ok(())
}

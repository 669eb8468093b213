//! A point's cashiers: every signed request names one, so a dealer can stop one person without
//! stopping the kiosk (a blocked cashier's requests get 54).

use sqlx::AnyConnection;

use super::DealerError;
use crate::{
    audit::{self, Action, Actor, Event, change},
    db::network,
};

/// Registers cashier `name` at point `point_code` of `dealer_code` and writes the audit row;
/// returns the cashier's code (`C<n>`). Active at once only when `active` — a full-access
/// user's registration: a cashier who can pay is a right given, and giving rights is
/// full-access work (a create-and-view user's cashier waits for one to unblock it).
pub async fn register_cashier_in(
    conn: &mut AnyConnection,
    actor: &Actor,
    dealer_code: &str,
    (point_code, name): (&str, &str),
    active: bool,
    now_ms: i64,
) -> Result<String, DealerError> {
    let cashier =
        network::register_cashier(&mut *conn, point_code, dealer_code, name, active, now_ms)
            .await?
            .ok_or(DealerError::NotFound)?;
    let event = Event {
        action: Action::CashierRegistered,
        subject: format!("cashier:{point_code}/{cashier}"),
        details: serde_json::json!({ "after": { "name": name, "active": active } }),
    };
    audit::record_in(conn, actor, &event, now_ms).await?;
    Ok(cashier)
}

/// Blocks (`active == false`) or unblocks cashier `cashier` of point `point_code` of
/// `dealer_code` and writes the audit row.
pub async fn set_cashier_active_in(
    conn: &mut AnyConnection,
    actor: &Actor,
    dealer_code: &str,
    (point_code, cashier): (&str, &str),
    active: bool,
    now_ms: i64,
) -> Result<(), DealerError> {
    if !network::set_cashier_active(&mut *conn, point_code, dealer_code, cashier, active).await? {
        return Err(DealerError::NotFound);
    }
    let event = Event {
        action: if active {
            Action::CashierUnblocked
        } else {
            Action::CashierBlocked
        },
        subject: format!("cashier:{point_code}/{cashier}"),
        details: change(
            serde_json::json!({ "active": !active }),
            serde_json::json!({ "active": active }),
        ),
    };
    audit::record_in(conn, actor, &event, now_ms).await?;
    Ok(())
}

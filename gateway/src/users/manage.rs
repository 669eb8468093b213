//! Managing other console users: listing a party's users, inviting, blocking, unblocking,
//! resetting a password or the one-time codes. Who may act on whom is decided here, not in
//! the pages ([`Manager::may_manage`]):
//!
//! * only full-access users manage users;
//! * a dealer's full-access user manages the users of its own dealer, nobody else;
//! * an operator's full-access user manages the operator's users and every dealer's (the
//!   rescue when a dealer's only administrator lost their phone).
//!
//! Nobody blocks or resets themselves (one's own password is changed on the password page),
//! and the last unblocked full-access user of a party cannot be blocked: somebody must be
//! left to unblock the others. Blocking and both resets end the user's sessions at once, in
//! the same transaction as the change and its audit row.

use sqlx::{AnyConnection, Row};

use super::{NewPassword, NewUser, OneTimePassword, UserError, create_in};
use crate::{
    audit::{self, Action, Actor, Event, change},
    db::sessions::{self, AccessLevel, Party},
};

/// The console user who manages others, as the domain needs to know them.
#[derive(Debug, Clone, Copy)]
pub struct Manager<'a> {
    pub email: &'a str,
    pub party: &'a Party,
    pub access_level: AccessLevel,
}

impl Manager<'_> {
    /// Whether this user may see and change the users of `party`.
    pub fn may_manage(&self, party: &Party) -> bool {
        self.access_level == AccessLevel::Full
            && match self.party {
                Party::Operator => true,
                Party::Dealer(own) => party.dealer_code() == Some(own.as_str()),
            }
    }

    fn check(&self, party: &Party) -> Result<(), UserError> {
        if self.access_level != AccessLevel::Full {
            return Err(UserError::NotAllowed);
        }
        if self.may_manage(party) {
            Ok(())
        } else {
            Err(UserError::NotAllowed)
        }
    }
}

/// A console user as the users page lists them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub email: String,
    pub party: Party,
    pub access_level: AccessLevel,
    pub blocked: bool,
    /// An authenticator app is enrolled.
    pub totp_enrolled: bool,
    /// The password is still one somebody else chose.
    pub must_change_password: bool,
    pub created_at_ms: i64,
    pub created_by: String,
}

const COLUMNS: &str = "email, dealer_code, access_level, blocked_at_ms, totp_secret, \
    must_change_password, created_at_ms, created_by";

fn listed(row: &sqlx::any::AnyRow) -> Result<Listed, sqlx::Error> {
    Ok(Listed {
        email: row.try_get("email")?,
        party: Party::of(row.try_get("dealer_code")?),
        access_level: AccessLevel::parse(&row.try_get::<String, _>("access_level")?),
        blocked: row.try_get::<Option<i64>, _>("blocked_at_ms")?.is_some(),
        totp_enrolled: row.try_get::<Option<String>, _>("totp_secret")?.is_some(),
        must_change_password: row.try_get::<i64, _>("must_change_password")? != 0,
        created_at_ms: row.try_get("created_at_ms")?,
        created_by: row.try_get("created_by")?,
    })
}

/// The users of `party`, by e-mail, if `manager` may see them.
pub async fn list_in(
    conn: &mut AnyConnection,
    manager: &Manager<'_>,
    party: &Party,
) -> Result<Vec<Listed>, UserError> {
    manager.check(party)?;
    let rows = match party.dealer_code() {
        None => {
            sqlx::query(&format!(
                "SELECT {COLUMNS} FROM console_users WHERE dealer_code IS NULL ORDER BY email"
            ))
            .fetch_all(&mut *conn)
            .await?
        }
        Some(code) => {
            sqlx::query(&format!(
                "SELECT {COLUMNS} FROM console_users WHERE dealer_code = $1 ORDER BY email"
            ))
            .bind(code)
            .fetch_all(&mut *conn)
            .await?
        }
    };
    Ok(rows.iter().map(listed).collect::<Result<_, _>>()?)
}

/// Whether the dealer `code` exists.
pub async fn dealer_exists(conn: &mut AnyConnection, code: &str) -> Result<bool, UserError> {
    let found: Option<String> = sqlx::query_scalar("SELECT code FROM dealers WHERE code = $1")
        .bind(code)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(found.is_some())
}

/// Invites `user` (see [`create_in`]) if `manager` may manage its party.
pub async fn invite_in(
    tx: &mut AnyConnection,
    actor: &Actor,
    manager: &Manager<'_>,
    user: &NewUser<'_>,
    password: NewPassword,
    now_ms: i64,
) -> Result<OneTimePassword, UserError> {
    manager.check(user.party)?;
    create_in(tx, actor, user, password, now_ms).await
}

/// The user `email` (any case) if `manager` may act on them; a user out of reach is
/// [`UserError::NotFound`], as if there were none (nobody learns who exists elsewhere).
async fn target(
    tx: &mut AnyConnection,
    manager: &Manager<'_>,
    email: &str,
) -> Result<Listed, UserError> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM console_users WHERE LOWER(email) = LOWER($1)"
    ))
    .bind(email.trim())
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(UserError::NotFound)?;
    let user = listed(&row)?;
    if manager.access_level != AccessLevel::Full {
        return Err(UserError::NotAllowed);
    }
    if !manager.may_manage(&user.party) {
        return Err(UserError::NotFound);
    }
    if user.email.eq_ignore_ascii_case(manager.email) {
        return Err(UserError::NotYourself);
    }
    Ok(user)
}

/// Records `action` on `user` by `actor`, in the trail of the user's dealer (as invitations).
async fn record(
    tx: &mut AnyConnection,
    actor: &Actor,
    user: &Listed,
    action: Action,
    details: serde_json::Value,
    now_ms: i64,
) -> Result<(), UserError> {
    let event = Event {
        action,
        subject: format!("user:{}", user.email),
        details,
    };
    let mut in_trail = actor.clone();
    in_trail.dealer_code = user.party.dealer_code().map(str::to_owned);
    audit::record_in(tx, &in_trail, &event, now_ms).await?;
    Ok(())
}

/// Blocks `email`: they cannot log in and their sessions end now. Blocking a blocked user
/// changes nothing. Returns the user's e-mail as stored.
pub async fn block_in(
    tx: &mut AnyConnection,
    actor: &Actor,
    manager: &Manager<'_>,
    email: &str,
    now_ms: i64,
) -> Result<String, UserError> {
    let user = target(tx, manager, email).await?;
    if user.blocked {
        return Ok(user.email);
    }
    if user.access_level == AccessLevel::Full {
        // Two full-access users blocking each other at once must not both succeed: touching
        // every full-access row of the party first makes the second wait for the first (row
        // locks on PostgreSQL; SQLite's write transactions are serial anyway), so its count
        // below sees the first block.
        lock_full_access(tx, &user.party).await?;
        let others: i64 = match user.party.dealer_code() {
            None => {
                sqlx::query_scalar(
                    "SELECT COUNT(*) FROM console_users WHERE dealer_code IS NULL \
                     AND access_level = 'full' AND blocked_at_ms IS NULL AND email <> $1",
                )
                .bind(&user.email)
                .fetch_one(&mut *tx)
                .await?
            }
            Some(code) => {
                sqlx::query_scalar(
                    "SELECT COUNT(*) FROM console_users WHERE dealer_code = $2 \
                     AND access_level = 'full' AND blocked_at_ms IS NULL AND email <> $1",
                )
                .bind(&user.email)
                .bind(code)
                .fetch_one(&mut *tx)
                .await?
            }
        };
        if others == 0 {
            return Err(UserError::LastFullAccess);
        }
    }
    sqlx::query("UPDATE console_users SET blocked_at_ms = $2 WHERE email = $1")
        .bind(&user.email)
        .bind(now_ms)
        .execute(&mut *tx)
        .await?;
    sessions::delete_of_user(&mut *tx, &user.email).await?;
    let details = change(
        serde_json::json!({ "blocked": false }),
        serde_json::json!({ "blocked": true }),
    );
    record(tx, actor, &user, Action::UserBlocked, details, now_ms).await?;
    tracing::info!(email = %user.email, by = %actor.who, "console user blocked");
    Ok(user.email)
}

/// Takes the row locks of `party`'s full-access users (see [`block_in`]).
async fn lock_full_access(tx: &mut AnyConnection, party: &Party) -> Result<(), UserError> {
    let query = match party.dealer_code() {
        None => sqlx::query(
            "UPDATE console_users SET access_level = access_level \
             WHERE dealer_code IS NULL AND access_level = 'full'",
        ),
        Some(code) => sqlx::query(
            "UPDATE console_users SET access_level = access_level \
             WHERE dealer_code = $1 AND access_level = 'full'",
        )
        .bind(code),
    };
    query.execute(&mut *tx).await?;
    Ok(())
}

/// Unblocks `email`: they may log in again. Unblocking an unblocked user changes nothing.
pub async fn unblock_in(
    tx: &mut AnyConnection,
    actor: &Actor,
    manager: &Manager<'_>,
    email: &str,
    now_ms: i64,
) -> Result<String, UserError> {
    let user = target(tx, manager, email).await?;
    if !user.blocked {
        return Ok(user.email);
    }
    sqlx::query("UPDATE console_users SET blocked_at_ms = NULL WHERE email = $1")
        .bind(&user.email)
        .execute(&mut *tx)
        .await?;
    let details = change(
        serde_json::json!({ "blocked": true }),
        serde_json::json!({ "blocked": false }),
    );
    record(tx, actor, &user, Action::UserUnblocked, details, now_ms).await?;
    tracing::info!(email = %user.email, by = %actor.who, "console user unblocked");
    Ok(user.email)
}

/// Gives `email` the one-time `password` (returned, to be shown once) that they must replace
/// at the next login; their sessions end and the old password stops working.
pub async fn reset_password_in(
    tx: &mut AnyConnection,
    actor: &Actor,
    manager: &Manager<'_>,
    email: &str,
    password: NewPassword,
    now_ms: i64,
) -> Result<(String, OneTimePassword), UserError> {
    let user = target(tx, manager, email).await?;
    sqlx::query(
        "UPDATE console_users SET password_hash = $2, must_change_password = 1 WHERE email = $1",
    )
    .bind(&user.email)
    .bind(&password.hash)
    .execute(&mut *tx)
    .await?;
    sessions::delete_of_user(&mut *tx, &user.email).await?;
    let details = serde_json::json!({ "after": { "must_change_password": true } });
    record(tx, actor, &user, Action::PasswordReset, details, now_ms).await?;
    tracing::info!(email = %user.email, by = %actor.who, "console password reset");
    Ok((user.email, password.shown))
}

/// Forgets `email`'s authenticator app (enrolled or pending): they set one up again at the
/// next login (full access and the operator's users must). Their sessions end.
pub async fn reset_totp_in(
    tx: &mut AnyConnection,
    actor: &Actor,
    manager: &Manager<'_>,
    email: &str,
    now_ms: i64,
) -> Result<String, UserError> {
    let user = target(tx, manager, email).await?;
    sqlx::query(
        "UPDATE console_users SET totp_secret = NULL, totp_pending_secret = NULL, \
         totp_enrolled_at_ms = NULL, totp_last_step = 0 WHERE email = $1",
    )
    .bind(&user.email)
    .execute(&mut *tx)
    .await?;
    sessions::delete_of_user(&mut *tx, &user.email).await?;
    let details = change(
        serde_json::json!({ "totp_enrolled": user.totp_enrolled }),
        serde_json::json!({ "totp_enrolled": false }),
    );
    record(tx, actor, &user, Action::TotpReset, details, now_ms).await?;
    tracing::info!(email = %user.email, by = %actor.who, "console one-time codes reset");
    Ok(user.email)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn who_manages_whom() {
        let operator = Party::Operator;
        let d1 = Party::Dealer("D001".into());
        let d2 = Party::Dealer("D002".into());
        let manager = |party, access_level| Manager {
            email: "a@b.kz",
            party,
            access_level,
        };
        assert!(manager(&operator, AccessLevel::Full).may_manage(&operator));
        assert!(manager(&operator, AccessLevel::Full).may_manage(&d1));
        assert!(!manager(&operator, AccessLevel::CreateView).may_manage(&d1));
        assert!(manager(&d1, AccessLevel::Full).may_manage(&d1));
        assert!(!manager(&d1, AccessLevel::Full).may_manage(&d2));
        assert!(!manager(&d1, AccessLevel::Full).may_manage(&operator));
        assert!(!manager(&d1, AccessLevel::CreateView).may_manage(&d1));
    }
}

//! Console users of both parties (the operator's and each dealer's, `console_users`) and their
//! sessions. A session row is found by the SHA-256 of the cookie's token, never by the token
//! itself (see `console_sessions` in migrations 0002 and 0006).

use sqlx::{AnyPool, Row};

/// What a console user may do (the bank's access levels).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessLevel {
    /// May confirm: certify and revoke keys, activate and block, limits, top-ups, prepared
    /// operations (each with a one-time code).
    Full,
    /// May look, register points and cashiers, and prepare operations for confirmation.
    CreateView,
}

impl AccessLevel {
    /// The `console_users.access_level` text.
    pub fn as_str(self) -> &'static str {
        match self {
            AccessLevel::Full => "full",
            AccessLevel::CreateView => "create_view",
        }
    }

    /// The level stored as `text`.
    pub fn parse(text: &str) -> AccessLevel {
        // Anything unexpected gets the smaller right.
        if text == "full" {
            AccessLevel::Full
        } else {
            AccessLevel::CreateView
        }
    }
}

/// Whose console a user works in: the operator's (every dealer) or one dealer's (only it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Party {
    /// The processing centre above the dealers.
    Operator,
    /// The dealer with this code.
    Dealer(String),
}

impl Party {
    /// The party of a `console_users.dealer_code`.
    pub fn of(dealer_code: Option<String>) -> Party {
        dealer_code.map_or(Party::Operator, Party::Dealer)
    }

    /// The dealer's code; `None` for the operator.
    pub fn dealer_code(&self) -> Option<&str> {
        match self {
            Party::Operator => None,
            Party::Dealer(code) => Some(code),
        }
    }
}

/// A console user, as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct User {
    pub email: String,
    pub party: Party,
    pub access_level: AccessLevel,
    pub password_hash: String,
    /// The password was chosen by someone else; the user must choose their own first.
    pub must_change_password: bool,
    /// Blocked users cannot log in, and their sessions end.
    pub blocked: bool,
}

/// A live session and whose it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id_hash: String,
    pub email: String,
    pub party: Party,
    pub access_level: AccessLevel,
    pub csrf_token: String,
    pub last_seen_at_ms: i64,
    pub expires_at_ms: i64,
    /// The user still has to replace a password somebody else chose.
    pub must_change_password: bool,
    /// The user has an authenticator app enrolled (and so logs in with a code).
    pub totp_enrolled: bool,
}

/// The user with this e-mail (compared without regard to case, as people type it).
pub async fn user(pool: &AnyPool, email: &str) -> Result<Option<User>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT email, dealer_code, access_level, password_hash, must_change_password, \
         blocked_at_ms FROM console_users WHERE LOWER(email) = LOWER($1)",
    )
    .bind(email)
    .fetch_optional(pool)
    .await?;
    row.map(|row| {
        Ok(User {
            email: row.try_get("email")?,
            party: Party::of(row.try_get("dealer_code")?),
            access_level: AccessLevel::parse(&row.try_get::<String, _>("access_level")?),
            password_hash: row.try_get("password_hash")?,
            must_change_password: row.try_get::<i64, _>("must_change_password")? != 0,
            blocked: row.try_get::<Option<i64>, _>("blocked_at_ms")?.is_some(),
        })
    })
    .transpose()
}

/// Starts a session that ends at `expires_at_ms` at the latest.
pub async fn create<'e>(
    executor: impl sqlx::Executor<'e, Database = sqlx::Any>,
    id_hash: &str,
    email: &str,
    csrf_token: &str,
    now: i64,
    expires_at_ms: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO console_sessions \
         (id_hash, email, csrf_token, created_at_ms, last_seen_at_ms, expires_at_ms) \
         VALUES ($1, $2, $3, $4, $4, $5)",
    )
    .bind(id_hash)
    .bind(email)
    .bind(csrf_token)
    .bind(now)
    .bind(expires_at_ms)
    .execute(executor)
    .await?;
    Ok(())
}

/// How stale a session's `last_seen_at_ms` may grow before a request writes it again. A console
/// page that only reads must not queue for the database's one writer on every view: on SQLite
/// that lock is what payments and deliveries take, and a page once waited past the busy timeout
/// for it and failed with "database is locked". Idle timeouts are tens of minutes; a minute's
/// slack in them is nothing.
pub const SEEN_EVERY_MS: i64 = 60_000;

/// The session `id_hash` if it is still alive — before `expires_at_ms`, seen within `idle_ms`,
/// its user not blocked — marked as seen `now` if the mark is [`SEEN_EVERY_MS`] old. A dead
/// session is deleted and `None` returned.
pub async fn touch(
    pool: &AnyPool,
    id_hash: &str,
    now: i64,
    idle_ms: i64,
) -> Result<Option<Session>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT s.id_hash, s.email, u.dealer_code, u.access_level, s.csrf_token, \
         s.last_seen_at_ms, s.expires_at_ms, u.must_change_password, u.blocked_at_ms, \
         u.totp_secret \
         FROM console_sessions s JOIN console_users u ON u.email = s.email WHERE s.id_hash = $1",
    )
    .bind(id_hash)
    .fetch_optional(pool)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let session = Session {
        id_hash: row.try_get("id_hash")?,
        email: row.try_get("email")?,
        party: Party::of(row.try_get("dealer_code")?),
        access_level: AccessLevel::parse(&row.try_get::<String, _>("access_level")?),
        csrf_token: row.try_get("csrf_token")?,
        last_seen_at_ms: row.try_get("last_seen_at_ms")?,
        expires_at_ms: row.try_get("expires_at_ms")?,
        must_change_password: row.try_get::<i64, _>("must_change_password")? != 0,
        totp_enrolled: row.try_get::<Option<String>, _>("totp_secret")?.is_some(),
    };
    let blocked = row.try_get::<Option<i64>, _>("blocked_at_ms")?.is_some();
    if blocked || now >= session.expires_at_ms || now - session.last_seen_at_ms >= idle_ms {
        delete(pool, id_hash).await?;
        return Ok(None);
    }
    if now - session.last_seen_at_ms < SEEN_EVERY_MS {
        return Ok(Some(session));
    }
    sqlx::query("UPDATE console_sessions SET last_seen_at_ms = $2 WHERE id_hash = $1")
        .bind(id_hash)
        .bind(now)
        .execute(pool)
        .await?;
    Ok(Some(Session {
        last_seen_at_ms: now,
        ..session
    }))
}

/// Ends a session (logout, or found dead).
pub async fn delete<'e>(
    executor: impl sqlx::Executor<'e, Database = sqlx::Any>,
    id_hash: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM console_sessions WHERE id_hash = $1")
        .bind(id_hash)
        .execute(executor)
        .await?;
    Ok(())
}

/// Ends every session of `email` (blocked, or a password reset by someone else).
pub async fn delete_of_user<'e>(
    executor: impl sqlx::Executor<'e, Database = sqlx::Any>,
    email: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM console_sessions WHERE email = $1")
        .bind(email)
        .execute(executor)
        .await?;
    Ok(())
}

/// Ends every session of `email` but the one whose id hashes to `keep` (the user changed
/// their own password in it).
pub async fn delete_others_of_user<'e>(
    executor: impl sqlx::Executor<'e, Database = sqlx::Any>,
    email: &str,
    keep: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM console_sessions WHERE email = $1 AND id_hash <> $2")
        .bind(email)
        .bind(keep)
        .execute(executor)
        .await?;
    Ok(())
}

/// Removes every dead session, so abandoned ones do not pile up (run at each login).
pub async fn delete_dead(pool: &AnyPool, now: i64, idle_ms: i64) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM console_sessions WHERE expires_at_ms <= $1 OR last_seen_at_ms <= $2")
        .bind(now)
        .bind(now - idle_ms)
        .execute(pool)
        .await?;
    Ok(())
}

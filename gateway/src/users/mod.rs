//! Console users of both parties — the operator's and each dealer's — as the domain knows them:
//! creating one with a one-time password (the CLI's first operator user, an invitation from the
//! console, demo data), and choosing one's own password. The console pages, the CLI and the
//! demo seed all call these functions, so a user made by any of them is the same user.
//!
//! A password somebody else chose (a one-time password, a reset) is marked: the user must
//! replace it at the first login before anything else (`console::session` sends them there).
//! Every change writes its audit row in the caller's transaction.

pub mod manage;

use std::net::IpAddr;

use sqlx::{AnyConnection, Row};

use crate::{
    audit::{self, Action, Actor, Event},
    db::sessions::{AccessLevel, Party},
    password::{PasswordError, hash_password},
    secrets::{RandomError, point_password},
};

/// The fewest characters of a password a person chooses. Console users move money: a long
/// passphrase beats a complicated short one (NIST SP 800-63B §5.1.1).
pub const MIN_PASSWORD_CHARS: usize = 10;
/// The most characters of a password (Argon2 takes any length; a limit stops abuse).
pub const MAX_PASSWORD_CHARS: usize = 128;

/// What creating or changing a user can fail with. Each has a catalogue key (`users.*`) the
/// console shows in the user's language.
#[derive(Debug, thiserror::Error)]
pub enum UserError {
    /// The e-mail is not an address (`name@domain`), or too long.
    #[error("not an e-mail address")]
    BadEmail,
    /// Another console user (of any party) has this e-mail already.
    #[error("a console user with this e-mail exists")]
    DuplicateEmail,
    /// The new password is shorter than [`MIN_PASSWORD_CHARS`] or longer than the maximum.
    #[error("the password must be {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters")]
    WeakPassword,
    /// The new password is the e-mail, or the one it replaces.
    #[error("the new password must differ from the e-mail and the old password")]
    SamePassword,
    /// The two typed copies of the new password differ.
    #[error("the two copies of the new password differ")]
    PasswordsDiffer,
    /// The current password typed to change it is wrong.
    #[error("the current password is wrong")]
    WrongPassword,
    /// No such user (of the caller's party).
    #[error("no such user")]
    NotFound,
    /// The dealer the user would belong to does not exist.
    #[error("no such dealer")]
    NoSuchDealer,
    /// The acting user may not manage these users (create-and-view, or another party).
    #[error("not allowed to manage these users")]
    NotAllowed,
    /// Nobody blocks or resets themselves.
    #[error("one cannot do this to oneself")]
    NotYourself,
    /// The last unblocked full-access user of a party cannot be blocked.
    #[error("the last full-access user cannot be blocked")]
    LastFullAccess,
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Password(#[from] PasswordError),
    #[error(transparent)]
    Random(#[from] RandomError),
}

impl UserError {
    /// The catalogue key of the message a person reads.
    pub fn message_key(&self) -> &'static str {
        match self {
            UserError::BadEmail => "users.bad_email",
            UserError::DuplicateEmail => "users.duplicate_email",
            UserError::WeakPassword => "users.weak_password",
            UserError::SamePassword => "users.same_password",
            UserError::PasswordsDiffer => "users.passwords_differ",
            UserError::WrongPassword => "users.wrong_password",
            UserError::NotFound => "users.not_found",
            UserError::NoSuchDealer => "users.no_such_dealer",
            UserError::NotAllowed => "errors.forbidden",
            UserError::NotYourself => "users.not_yourself",
            UserError::LastFullAccess => "users.last_full_access",
            UserError::Database(_) | UserError::Password(_) | UserError::Random(_) => {
                "errors.internal"
            }
        }
    }
}

/// A console user to create.
#[derive(Debug, Clone)]
pub struct NewUser<'a> {
    pub email: &'a str,
    pub party: &'a Party,
    pub access_level: AccessLevel,
}

/// A password shown once to the person who created or reset the user, never stored in clear.
#[derive(Clone, PartialEq, Eq)]
pub struct OneTimePassword(pub String);

impl std::fmt::Debug for OneTimePassword {
    // Never in a log line by accident.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OneTimePassword(…)")
    }
}

/// A fresh one-time password and its hash, made before the transaction that stores it:
/// hashing is the slow part (Argon2, in a few slots shared with logins and key cards) and must
/// not hold the database's write lock, which every payment waits for.
pub struct NewPassword {
    shown: OneTimePassword,
    hash: String,
}

impl NewPassword {
    pub async fn make() -> Result<NewPassword, UserError> {
        let password = point_password()?;
        let hash = hash_password(password.clone()).await?;
        Ok(NewPassword {
            shown: OneTimePassword(password),
            hash,
        })
    }
}

/// `email` trimmed, if it looks like an address: one `@` with text on both sides, a dot in the
/// domain, no spaces, at most 254 characters (RFC 5321's limit).
pub fn normalise_email(email: &str) -> Result<String, UserError> {
    let email = email.trim();
    let valid = email.len() <= 254
        && !email.chars().any(char::is_whitespace)
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        });
    if valid {
        Ok(email.to_owned())
    } else {
        Err(UserError::BadEmail)
    }
}

/// Creates `user` with the one-time `password` (returned, to be shown once) that must be
/// replaced at the first login; writes `user.invited` by `actor`. E-mails are unique across
/// both parties, compared without regard to case.
pub async fn create_in(
    tx: &mut AnyConnection,
    actor: &Actor,
    user: &NewUser<'_>,
    password: NewPassword,
    now_ms: i64,
) -> Result<OneTimePassword, UserError> {
    let email = normalise_email(user.email)?;
    let taken: Option<String> =
        sqlx::query_scalar("SELECT email FROM console_users WHERE LOWER(email) = LOWER($1)")
            .bind(&email)
            .fetch_optional(&mut *tx)
            .await?;
    if taken.is_some() {
        return Err(UserError::DuplicateEmail);
    }
    if let Party::Dealer(code) = user.party {
        let dealer: Option<String> = sqlx::query_scalar("SELECT code FROM dealers WHERE code = $1")
            .bind(code)
            .fetch_optional(&mut *tx)
            .await?;
        if dealer.is_none() {
            return Err(UserError::NoSuchDealer);
        }
    }
    sqlx::query(
        "INSERT INTO console_users (email, dealer_code, password_hash, access_level, \
         created_at_ms, created_by, must_change_password) VALUES ($1, $2, $3, $4, $5, $6, 1)",
    )
    .bind(&email)
    .bind(user.party.dealer_code())
    .bind(&password.hash)
    .bind(user.access_level.as_str())
    .bind(now_ms)
    .bind(&actor.who)
    .execute(&mut *tx)
    .await?;
    let event = Event {
        action: Action::UserInvited,
        subject: format!("user:{email}"),
        details: serde_json::json!({
            "after": {
                "dealer_code": user.party.dealer_code(),
                "access_level": user.access_level.as_str(),
                "must_change_password": true,
            }
        }),
    };
    let mut in_trail = actor.clone();
    // The new user's trail is its dealer's, whoever created it (the operator, for a dealer's
    // first user): the dealer sees who was let into its console.
    in_trail.dealer_code = user.party.dealer_code().map(str::to_owned);
    audit::record_in(tx, &in_trail, &event, now_ms).await?;
    tracing::info!(%email, dealer = user.party.dealer_code().unwrap_or("-"),
        access_level = user.access_level.as_str(), by = %actor.who, "console user created");
    Ok(password.shown)
}

/// How many users the operator has: none means nobody can run the network yet (the banner says
/// how to create the first one).
pub async fn operator_users(pool: &sqlx::AnyPool) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COUNT(*) FROM console_users WHERE dealer_code IS NULL")
        .fetch_one(pool)
        .await
}

/// The checks of a new password a person typed twice, before it is hashed.
pub fn check_new_password(email: &str, new: &str, again: &str) -> Result<(), UserError> {
    let chars = new.chars().count();
    if !(MIN_PASSWORD_CHARS..=MAX_PASSWORD_CHARS).contains(&chars) {
        return Err(UserError::WeakPassword);
    }
    if new.trim().eq_ignore_ascii_case(email.trim()) {
        return Err(UserError::SamePassword);
    }
    if new != again {
        return Err(UserError::PasswordsDiffer);
    }
    Ok(())
}

/// The user's stored password hash and whether it must be changed.
pub async fn password_state(
    conn: &mut AnyConnection,
    email: &str,
) -> Result<(String, bool), UserError> {
    let row = sqlx::query(
        "SELECT password_hash, must_change_password FROM console_users WHERE email = $1",
    )
    .bind(email)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(UserError::NotFound)?;
    Ok((
        row.try_get("password_hash")?,
        row.try_get::<i64, _>("must_change_password")? != 0,
    ))
}

/// Stores `new_hash` as the user's own password (clearing the first-login mark) and writes
/// `password.changed`; `forced` says whether it replaced a one-time password.
pub async fn set_own_password_in(
    tx: &mut AnyConnection,
    email: &str,
    dealer_code: Option<&str>,
    ip: IpAddr,
    new_hash: &str,
    forced: bool,
    now_ms: i64,
) -> Result<(), UserError> {
    let changed = sqlx::query(
        "UPDATE console_users SET password_hash = $2, must_change_password = 0, \
         password_changed_at_ms = $3 WHERE email = $1",
    )
    .bind(email)
    .bind(new_hash)
    .bind(now_ms)
    .execute(&mut *tx)
    .await?;
    if changed.rows_affected() != 1 {
        return Err(UserError::NotFound);
    }
    let event = Event {
        action: Action::PasswordChanged,
        subject: format!("user:{email}"),
        details: serde_json::json!({ "replaced_one_time_password": forced }),
    };
    audit::record_in(tx, &Actor::new(email, dealer_code, ip), &event, now_ms).await?;
    tracing::info!(%email, forced, "console password changed");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_checked_and_trimmed() {
        assert_eq!(normalise_email(" a@b.kz ").unwrap(), "a@b.kz");
        for bad in [
            "", "a", "a@b", "@b.kz", "a@.kz", "a@b.", "a b@c.kz", "a@b@c.kz",
        ] {
            assert!(normalise_email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn new_passwords_are_long_enough_and_typed_twice() {
        assert!(check_new_password("a@b.kz", "correct horse", "correct horse").is_ok());
        assert!(matches!(
            check_new_password("a@b.kz", "short", "short"),
            Err(UserError::WeakPassword)
        ));
        assert!(matches!(
            check_new_password("a@b.kz", "correct horse", "correct house"),
            Err(UserError::PasswordsDiffer)
        ));
        assert!(matches!(
            check_new_password("long.name@b.kz", "LONG.NAME@b.kz", "LONG.NAME@b.kz"),
            Err(UserError::SamePassword)
        ));
    }
}

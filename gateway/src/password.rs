//! Password hashing for point passwords and dealer-console logins.
//!
//! Argon2id with the crate's defaults (19 MiB, 2 passes — the OWASP recommendation), stored as a
//! self-describing PHC string so the parameters can be raised later without a migration: old
//! hashes still verify because each carries its own parameters.
//!
//! Hashing takes tens of milliseconds of pure CPU on purpose, so it runs on tokio's blocking
//! pool: on the async workers it would stall every other request of the gateway meanwhile.

use std::sync::OnceLock;

use tokio::sync::Semaphore;

use argon2::{
    Argon2,
    password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng},
};

/// Why a password could not be hashed or checked.
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    /// The stored hash is not a valid PHC string, or hashing itself failed.
    #[error("password hashing failed: {0}")]
    Hash(argon2::password_hash::Error),
    /// The blocking task panicked or was cancelled.
    #[error("password hashing task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// How many hashes run at once. Each takes 19 MiB and a core for tens of milliseconds; the
/// requests that ask for one (key cards, key registration, console logins) are unsigned, so
/// without a bound a burst of them would take all memory and every core from the payments.
/// Further requests wait their turn.
const CONCURRENT_HASHES: usize = 2;

static HASHING: Semaphore = Semaphore::const_new(CONCURRENT_HASHES);

/// Runs `work` on the blocking pool once one of the [`CONCURRENT_HASHES`] turns is free.
async fn hashing<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, PasswordError> + Send + 'static,
) -> Result<T, PasswordError> {
    // The semaphore is never closed, so acquiring cannot fail.
    let _turn = HASHING
        .acquire()
        .await
        .expect("the hashing semaphore is never closed");
    tokio::task::spawn_blocking(work).await?
}

/// Hashes `password` with Argon2id and a fresh random salt; returns the PHC string to store.
pub async fn hash_password(password: String) -> Result<String, PasswordError> {
    hashing(move || hash_password_blocking(&password)).await
}

/// Checks `password` against a stored PHC string. `Ok(false)` means a wrong password.
pub async fn verify_password(password: String, phc: String) -> Result<bool, PasswordError> {
    hashing(move || verify_password_blocking(&password, &phc)).await
}

/// Checks `password` against the account's stored hash, or — when there is no such account —
/// against a dummy hash and answers `false`. An unknown point or e-mail then takes as long as
/// a wrong password, so timing the answers does not reveal which accounts exist.
pub async fn verify_password_or_dummy(
    password: String,
    phc: Option<String>,
) -> Result<bool, PasswordError> {
    hashing(move || match phc {
        Some(phc) => verify_password_blocking(&password, &phc),
        None => {
            let dummy = DUMMY_HASH
                .get_or_init(|| hash_password_blocking("no such account").unwrap_or_default());
            let _ = verify_password_blocking(&password, dummy);
            Ok(false)
        }
    })
    .await
}

/// Made on first use, with the same parameters as real hashes so it costs the same to check.
static DUMMY_HASH: OnceLock<String> = OnceLock::new();

/// The synchronous core of [`hash_password`], for callers already off the async runtime.
pub fn hash_password_blocking(password: &str) -> Result<String, PasswordError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(PasswordError::Hash)
}

/// The synchronous core of [`verify_password`].
pub fn verify_password_blocking(password: &str, phc: &str) -> Result<bool, PasswordError> {
    let parsed = PasswordHash::new(phc).map_err(PasswordError::Hash)?;
    match Argon2::default().verify_password(password.as_bytes(), &parsed) {
        Ok(()) => Ok(true),
        Err(argon2::password_hash::Error::Password) => Ok(false),
        Err(other) => Err(PasswordError::Hash(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_is_argon2id_and_verifies() {
        let phc = hash_password_blocking("tolem-demo-1001").unwrap();
        assert!(phc.starts_with("$argon2id$"), "{phc}");
        assert!(!phc.contains("tolem-demo-1001"));
        assert!(verify_password_blocking("tolem-demo-1001", &phc).unwrap());
        assert!(!verify_password_blocking("tolem-demo-1002", &phc).unwrap());
    }

    #[test]
    fn same_password_gets_a_different_salt() {
        let a = hash_password_blocking("x").unwrap();
        let b = hash_password_blocking("x").unwrap();
        assert_ne!(a, b);
    }

    #[tokio::test]
    async fn no_more_than_two_hashes_run_at_once() {
        let phc = hash_password_blocking("x").unwrap();
        // Both turns taken: a third verification waits instead of hashing.
        let turns = HASHING
            .acquire_many(CONCURRENT_HASHES as u32)
            .await
            .unwrap();
        let waiting = tokio::spawn(verify_password("x".into(), phc));
        for _ in 0..100 {
            tokio::task::yield_now().await;
        }
        assert!(!waiting.is_finished());
        drop(turns);
        assert!(waiting.await.unwrap().unwrap());
    }
}

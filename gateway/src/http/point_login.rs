//! Checking a point's code and password — for the key card and for key registration — with
//! guessing slowed down per point and per client address (see [`crate::throttle`]).

use std::net::IpAddr;

use tolem_protocol::codes::ResultCode;

use super::answer::Answer;
use crate::state::AppState;
use crate::{
    db::{network, now_ms},
    password::verify_password_or_dummy,
    throttle::{self, Subject},
};

/// Whether a right password has enrolled a key already.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PasswordUse {
    Unused,
    /// A key was registered with it: it enrols no other (919, [`used`]).
    Used,
}

/// 919: the right password, already used for a key.
pub fn used(point_code: &str, action: &'static str, ip: IpAddr) -> Answer {
    tracing::warn!(action, point = point_code, %ip, "point password already used for a key");
    Answer::refusal(None, ResultCode::PasswordUsed)
}

/// Succeeds when `password` is the password of point `point_code`, and says whether it was used
/// for a key already. Otherwise answers 904 — the same answer, after the same work, for an
/// unknown point as for a wrong password — or 905 while the point or the address is blocked.
/// `action` names the request in the logs.
pub async fn check_point_password(
    state: &AppState,
    point_code: &str,
    password: String,
    ip: IpAddr,
    action: &'static str,
) -> Result<PasswordUse, Answer> {
    let point = Subject::point(point_code);
    let address = Subject::address(ip);
    let now = now_ms();
    if let Some(blocked) = throttle::charge(&state.pool, &[&point, &address], now).await? {
        tracing::warn!(
            action,
            point = point_code,
            %ip,
            retry_after_s = blocked.retry_after_s,
            "point login rate-limited"
        );
        return Err(Answer::blocked(blocked));
    }
    let stored = network::point_password(&state.pool, point_code).await?;
    let known = stored.is_some();
    let used = stored.as_ref().is_some_and(|stored| stored.used);
    if !verify_password_or_dummy(password, stored.map(|stored| stored.hash)).await? {
        tracing::warn!(action, point = point_code, known, %ip, "point login failed");
        return Err(Answer::refusal(None, ResultCode::BadCredentials));
    }
    // The right password is no guess, used or not.
    throttle::clear(&state.pool, &point, now).await?;
    throttle::refund(&state.pool, &address).await?;
    Ok(if used {
        PasswordUse::Used
    } else {
        PasswordUse::Unused
    })
}

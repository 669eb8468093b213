//! Slowing down password guessing: point passwords (key card, key registration), dealer
//! console logins and the console's one-time codes.
//!
//! Failures are counted per *subject* — the point under attack, a console user's logins from
//! one address, and the client address attacking — in `login_attempts`. After [`Policy::free_failures`] failures the
//! subject is blocked, first for [`Policy::first_block_ms`], doubling with every further
//! failure up to [`Policy::max_block_ms`]; a quiet [`Policy::window_ms`] after the last failure
//! forgets them.
//!
//! An attempt is *charged before* the password is checked and *refunded* when it was right.
//! Counting only after a failure would let a thousand parallel guesses all pass the check
//! before the first of them is counted. Each change is a compare-and-swap on the whole row
//! (no `SELECT ... FOR UPDATE`, which SQLite lacks), retried when another attempt got there
//! first, so parallel attempts are all counted on both databases.

use std::net::IpAddr;

/// How a kind of subject is throttled.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// Failures allowed before the first block.
    pub free_failures: i64,
    /// Failures are forgotten this long after the last one (unless blocked).
    pub window_ms: i64,
    /// The first block; each further failure doubles it.
    pub first_block_ms: i64,
    /// The longest block.
    pub max_block_ms: i64,
}

const MINUTE_MS: i64 = 60_000;

/// A point or a console user: 5 failures, then 30 s, 1, 2, 4, 8 minutes... up to 15.
pub const ACCOUNT: Policy = Policy {
    free_failures: 5,
    window_ms: 15 * MINUTE_MS,
    first_block_ms: 30_000,
    max_block_ms: 15 * MINUTE_MS,
};

/// A client address. More generous than [`ACCOUNT`]: Kazakh mobile carriers put many phones
/// behind one address (carrier-grade NAT), and one cashier's typos must not lock out a market.
pub const ADDRESS: Policy = Policy {
    free_failures: 20,
    ..ACCOUNT
};

/// Key cards of one point: each costs a password hash even with the right password, so
/// whoever knows it may not ask for cards without end. Ten in a row are plenty for a point
/// setting up its phones; then one more after 30 s, 1, 2... minutes, and a quiet quarter of an
/// hour starts afresh.
pub const KEY_CARDS: Policy = Policy {
    free_failures: 10,
    ..ACCOUNT
};

/// Something whose failures are counted.
#[derive(Debug, Clone)]
pub struct Subject {
    key: String,
    policy: Policy,
}

impl Subject {
    /// A payment point, by code.
    pub fn point(code: &str) -> Subject {
        Subject::new(format!("point:{code}"), ACCOUNT)
    }

    /// The key cards asked for a point, right password or wrong: counted, never cleared by a
    /// success (see [`KEY_CARDS`]).
    pub fn key_cards(point_code: &str) -> Subject {
        Subject::new(format!("key_cards:{point_code}"), KEY_CARDS)
    }

    /// A dealer-console user's logins from one client address (the e-mail lower-cased: the
    /// address is the same person). Per address as well as per account, so that someone
    /// guessing a user's password locks out only themselves, never the user at their own
    /// desk; spraying many accounts from one address is capped by [`Subject::address`].
    pub fn console_login(email: &str, ip: IpAddr) -> Subject {
        let Subject { key: address, .. } = Subject::address(ip);
        Subject::new(
            format!("console:{}@{address}", email.to_lowercase()),
            ACCOUNT,
        )
    }

    /// Card notifications from one client address that fail their service's signature: kept
    /// as evidence ([`crate::card::notify`]) only while few; a flood is counted, not stored.
    pub fn forged_card_notifications(ip: IpAddr) -> Subject {
        let Subject { key: address, .. } = Subject::address(ip);
        Subject::new(format!("card_forged:{address}"), ADDRESS)
    }

    /// A console user's one-time codes: six digits must not be guessed by trying them all.
    pub fn one_time_code(email: &str) -> Subject {
        Subject::new(format!("totp:{}", email.to_lowercase()), ACCOUNT)
    }

    /// A client address. IPv6 counts per /64 network: one home or phone gets a whole /64 and
    /// could otherwise try from a fresh address every time.
    pub fn address(ip: IpAddr) -> Subject {
        let shown = match ip {
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => v4.to_string(),
                None => {
                    let s = v6.segments();
                    format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
                }
            },
            IpAddr::V4(v4) => v4.to_string(),
        };
        Subject::new(format!("ip:{shown}"), ADDRESS)
    }

    fn new(key: String, policy: Policy) -> Subject {
        Subject { key, policy }
    }

    /// Whether the `failures`-th failure is worth a line in the audit trail: the first of a
    /// window (someone started failing) and the one that blocks the subject. The others are
    /// counted in `login_attempts` only, so a flood of wrong passwords neither grows the
    /// trail without bound nor takes the database's write lock once per attempt for it.
    pub fn is_notable_failure(&self, failures: i64) -> bool {
        failures <= 1 || failures == self.policy.free_failures
    }

    /// The subject as stored and logged, e.g. `point:P1001`.
    pub fn as_str(&self) -> &str {
        &self.key
    }
}

/// The subject is blocked; the client may try again after this many seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Blocked {
    pub retry_after_s: u32,
}

/// One row of `login_attempts`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Attempts {
    failures: i64,
    first_failure_at_ms: i64,
    last_failure_at_ms: i64,
    blocked_until_ms: i64,
}

impl Attempts {
    /// The row after one more failure at `now`.
    fn charged(old: Option<Attempts>, policy: &Policy, now: i64) -> Attempts {
        let forgotten = |a: &Attempts| {
            a.last_failure_at_ms + policy.window_ms <= now && a.blocked_until_ms <= now
        };
        let (failures, first) = match old {
            Some(a) if !forgotten(&a) => (a.failures + 1, a.first_failure_at_ms),
            _ => (1, now),
        };
        Attempts {
            failures,
            first_failure_at_ms: first,
            last_failure_at_ms: now,
            blocked_until_ms: block_until(policy, failures, now),
        }
    }

    fn blocked(&self, now: i64) -> Option<Blocked> {
        let left_ms = self.blocked_until_ms - now;
        (left_ms > 0).then(|| Blocked {
            retry_after_s: u32::try_from((left_ms + 999) / 1000).unwrap_or(u32::MAX),
        })
    }
}

/// When a subject with `failures` failures at `now` may try again (0: at once).
fn block_until(policy: &Policy, failures: i64, now: i64) -> i64 {
    if failures < policy.free_failures {
        return 0;
    }
    let doublings = u32::try_from(failures - policy.free_failures)
        .unwrap_or(u32::MAX)
        .min(20);
    now + (policy.first_block_ms << doublings).min(policy.max_block_ms)
}

mod store;
pub use store::{charge, clear, failures, refund};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_failures_block_and_the_block_doubles_up_to_a_cap() {
        let mut row = None;
        let mut blocks = Vec::new();
        for now in 0..12 {
            let next = Attempts::charged(row, &ACCOUNT, now);
            blocks.push(next.blocked_until_ms.max(now) - now);
            row = Some(next);
        }
        assert_eq!(&blocks[..4], &[0, 0, 0, 0]);
        assert_eq!(&blocks[4..7], &[30_000, 60_000, 120_000]);
        assert_eq!(blocks[11], 15 * MINUTE_MS);
    }

    #[test]
    fn a_quiet_window_forgets_failures() {
        let first = Attempts::charged(None, &ACCOUNT, 0);
        let later = Attempts::charged(Some(first), &ACCOUNT, ACCOUNT.window_ms);
        assert_eq!(later.failures, 1);
        let sooner = Attempts::charged(Some(first), &ACCOUNT, ACCOUNT.window_ms - 1);
        assert_eq!(sooner.failures, 2);
    }

    #[test]
    fn retry_after_rounds_up() {
        let row = Attempts {
            failures: 5,
            first_failure_at_ms: 0,
            last_failure_at_ms: 0,
            blocked_until_ms: 30_000,
        };
        assert_eq!(row.blocked(29_500), Some(Blocked { retry_after_s: 1 }));
        assert_eq!(row.blocked(0), Some(Blocked { retry_after_s: 30 }));
        assert_eq!(row.blocked(30_000), None);
    }

    #[test]
    fn ipv6_counts_per_network() {
        let a = Subject::address("2001:db8:1:2::1".parse().unwrap());
        let b = Subject::address("2001:db8:1:2:ffff::9".parse().unwrap());
        assert_eq!(a.as_str(), b.as_str());
        assert_eq!(a.as_str(), "ip:2001:db8:1:2::/64");
        let mapped = Subject::address("::ffff:203.0.113.7".parse().unwrap());
        assert_eq!(mapped.as_str(), "ip:203.0.113.7");
    }
}

//! Senders of `pay` that passed every check a moment ago, remembered so that the next `pay` of
//! the same key is checked without reading the database first.
//!
//! ## Why this is safe
//! A `pay` is checked twice. Before it reaches the payment writer, against the key's rows
//! ([`super::key_holder`], [`super::authorize`]); and again inside its group's write
//! transaction, where checks 6–9 run on the rows as they are at that moment
//! ([`super::still_authorized`]) and every other figure of its decision is read too (limits,
//! balances, the point's offline age, the catalogue). Only senders that passed *every* check
//! are remembered, so a remembered sender can be out of date in one direction only: its key
//! revoked, or its dealer, point or cashier blocked since. Such a payment still reaches its
//! group, which refuses it with the same code the first check would have given, and records
//! its sequence number as a refusal here would have.
//!
//! What the first check compares the request with, besides those states, never changes for a
//! key: its serial's public key, point and cashier, and the point's dealer (keys are never
//! deleted or re-keyed, points never move). So a remembered sender refuses a request exactly
//! when fresh rows would.
//!
//! Every other step reads the rows each time: none of them is checked again.
//!
//! ## What it buys
//! On SQLite each read of the rows is a trip to a connection's thread, and sqlx's pool sends
//! one more (a ping) when the connection comes back: under the gateway benchmark these were
//! most of the gateway's trips to SQLite, and each costs two context switches (issue 14).

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

use crate::db::{
    keys::Key,
    network::{Cashier, Dealer, Point},
    senders::KeyRows,
};

use super::Sender;

/// How long a sender is remembered. Only the memory's bound, and how long a phone whose key
/// was revoked keeps reaching the payment writer (which refuses it) instead of being refused
/// at the door.
const KEEP_FOR: Duration = Duration::from_secs(30);

/// How many keys are remembered at most; when full, the stale ones are forgotten, and if none
/// is stale, all of them.
const CAPACITY: usize = 10_000;

/// The remembered senders, by key serial.
#[derive(Default)]
pub struct RecentSenders {
    senders: Mutex<HashMap<String, Remembered>>,
}

impl std::fmt::Debug for RecentSenders {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecentSenders")
            .field("keys", &self.lock().len())
            .finish()
    }
}

struct Remembered {
    at: Instant,
    key: Key,
    point: Point,
    dealer: Dealer,
    cashier: Cashier,
}

impl RecentSenders {
    /// The rows of the key `serial` as they were when a sender of it last passed every check,
    /// if that was less than [`KEEP_FOR`] ago.
    pub fn rows(&self, serial: &str) -> Option<KeyRows> {
        let senders = self.lock();
        let remembered = senders.get(serial)?;
        (remembered.at.elapsed() < KEEP_FOR).then(|| KeyRows {
            key: remembered.key.clone(),
            point: Some(remembered.point.clone()),
            dealer: Some(remembered.dealer.clone()),
            cashier: Some(remembered.cashier.clone()),
        })
    }

    /// Remembers `sender`, which passed every check on rows just read. A key whose card named
    /// no cashier is not remembered: its cashier is the request's, read each time.
    pub fn remember(&self, sender: &Sender) {
        if sender.key.cashier_code.is_none() {
            return;
        }
        let mut senders = self.lock();
        if senders.len() >= CAPACITY && !senders.contains_key(&sender.key.serial) {
            senders.retain(|_, remembered| remembered.at.elapsed() < KEEP_FOR);
            if senders.len() >= CAPACITY {
                senders.clear();
            }
        }
        senders.insert(
            sender.key.serial.clone(),
            Remembered {
                at: Instant::now(),
                key: sender.key.clone(),
                point: sender.point.clone(),
                dealer: sender.dealer.clone(),
                cashier: sender.cashier.clone(),
            },
        );
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Remembered>> {
        // A panic while the lock was held left a map that is still whole.
        self.senders
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

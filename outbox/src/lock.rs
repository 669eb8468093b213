//! One replayer at a time, across every tab of the app and its service worker.
//!
//! Two replayers walking the outbox at once would send the same signed payment twice. The
//! gateway's idempotency makes that harmless for the money, but it is the very race Workbox's
//! queue has (two replays of one queue) and it doubles the traffic on a 128 kbit/s line; worse,
//! a payment marked *sending* by a live replayer would be taken by the other as interrupted.
//! So whoever sends a stored payment — the page's *Execute* and *Send now*, the page's replay
//! and the worker's — does it under one named lock:
//!
//! - **Web Locks** (`navigator.locks`, in windows and workers alike) where the browser has them:
//!   the browser grants the lock to one context, queues the others (or tells them at once that
//!   it is taken, with `ifAvailable`), and releases it by itself when its holder's tab is closed
//!   or reloaded or its worker is stopped — a dead holder can never block the outbox.
//! - A **lease** in IndexedDB where it has not (older Safari, some embedded browsers): a record
//!   in the `settings` store naming its holder and an expiry, taken and renewed in read-write
//!   transactions (which IndexedDB runs one at a time per store, so "read, check, write" is
//!   atomic). A holder that dies leaves a lease that simply expires after [`LEASE_MS`]. The
//!   lease outlives one request's [`crate::transport::TIMEOUT_MS`] by a wide margin, and the
//!   replayer renews it before every payment ([`Held::keep`]), so a live holder never loses it
//!   in the middle of a send.
//!
//! Holding the lock also tells the holder something: a payment found in *sending* was left by a
//! sender that died (every sender holds the lock), so it can be settled at once.

use std::cell::Cell;
use std::future::Future;

use js_sys::{Function, Object, Promise, Reflect};
use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use crate::db::{self, SETTINGS, StorageError, from_js, to_js};

/// The lock's name, the same in every context of the app.
pub const LOCK_NAME: &str = "tolem-replay";
/// How long an IndexedDB lease lasts unless renewed: well over one request's timeout.
pub const LEASE_MS: i64 = 60_000;
/// How long a context that must send (the cashier pressed *Execute*) waits for its turn.
pub const MAX_WAIT_MS: u32 = 60_000;
/// How often a waiting context looks at the lease again.
const LEASE_POLL_MS: i32 = 200;
/// The lease's key in the `settings` store.
pub const LEASE_KEY: &str = "replay_lease";

/// Whether to wait for the lock when another context holds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wait {
    /// Give up at once: another replayer is at work and will send what waits.
    IfFree,
    /// Wait for the turn (up to [`MAX_WAIT_MS`]): this context has a payment it must send now.
    Queue,
}

/// Which mechanism keeps replayers apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mechanism {
    WebLocks,
    Lease,
}

/// Why the lock was not held.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LockError {
    /// Another context holds it (and [`Wait::IfFree`] was asked, or the wait ran out).
    #[error("another tab or the service worker is sending payments")]
    Busy,
    /// The lease could not be read or written.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// The mechanism this browser offers: Web Locks when `navigator.locks.request` exists.
pub fn available_mechanism() -> Mechanism {
    if web_locks().is_some() {
        Mechanism::WebLocks
    } else {
        Mechanism::Lease
    }
}

/// Runs `work` holding the replay lock, with the best mechanism the browser has. `work` gets a
/// [`Held`] to renew a lease between payments.
pub async fn with_replay_lock<T, F, Fut>(wait: Wait, work: F) -> Result<T, LockError>
where
    F: FnOnce(Held) -> Fut,
    Fut: Future<Output = T>,
{
    with_lock_using(available_mechanism(), wait, work).await
}

/// [`with_replay_lock`] with a chosen mechanism: tests use it to exercise the lease where the
/// browser has Web Locks.
pub async fn with_lock_using<T, F, Fut>(
    mechanism: Mechanism,
    wait: Wait,
    work: F,
) -> Result<T, LockError>
where
    F: FnOnce(Held) -> Fut,
    Fut: Future<Output = T>,
{
    match (mechanism, web_locks()) {
        (Mechanism::WebLocks, Some(locks)) => with_web_lock(&locks, wait, work).await,
        _ => with_lease(wait, work).await,
    }
}

/// The lock as its holder sees it.
pub struct Held {
    /// The lease's holder id; `None` under Web Locks (the browser keeps the lock).
    lease: Option<String>,
}

impl Held {
    /// Makes sure the lock is still held before the next send: renews a lease (a no-op under
    /// Web Locks). `false` means the lease was lost — the holder was too slow and another
    /// context took over — and the holder must stop sending.
    pub async fn keep(&self) -> bool {
        match &self.lease {
            None => true,
            Some(holder) => renew_lease(holder, now_ms()).await.unwrap_or(false),
        }
    }

    /// How the lock is held.
    pub fn mechanism(&self) -> Mechanism {
        if self.lease.is_some() {
            Mechanism::Lease
        } else {
            Mechanism::WebLocks
        }
    }
}

// ----- Web Locks ---------------------------------------------------------------------------------

/// `navigator.locks` with a `request` function, where the global scope has one.
fn web_locks() -> Option<JsValue> {
    let navigator = Reflect::get(&js_sys::global(), &"navigator".into()).ok()?;
    let locks = Reflect::get(&navigator, &"locks".into()).ok()?;
    if locks.is_undefined() || locks.is_null() {
        return None;
    }
    let request = Reflect::get(&locks, &"request".into()).ok()?;
    request.is_function().then_some(locks)
}

/// A promise and the function that resolves it.
fn promise_with_resolver() -> (Promise, Function) {
    let mut resolver = None;
    let promise = Promise::new(&mut |resolve, _reject| resolver = Some(resolve));
    (promise, resolver.expect("the executor runs at once"))
}

/// Resolves the promise the lock is held by when dropped: the lock is released whether `work`
/// finished or its future was dropped half-way (a lock kept by a forgotten future would block
/// the outbox for as long as the tab lives).
struct Release(Function);

impl Drop for Release {
    fn drop(&mut self) {
        let _ = self.0.call0(&JsValue::NULL);
    }
}

async fn with_web_lock<T, F, Fut>(locks: &JsValue, wait: Wait, work: F) -> Result<T, LockError>
where
    F: FnOnce(Held) -> Fut,
    Fut: Future<Output = T>,
{
    let (held_until, release) = promise_with_resolver();
    let (granted, grant) = promise_with_resolver();
    // The browser calls this with the lock (or `null` with `ifAvailable` when it is taken) and
    // keeps the lock until the promise it returns settles.
    let callback = Closure::once_into_js(move |lock: JsValue| -> JsValue {
        let got_it = !lock.is_null() && !lock.is_undefined();
        let _ = grant.call1(&JsValue::NULL, &JsValue::from_bool(got_it));
        if got_it {
            held_until.into()
        } else {
            JsValue::UNDEFINED
        }
    });
    let options = Object::new();
    match wait {
        Wait::IfFree => {
            Reflect::set(&options, &"ifAvailable".into(), &JsValue::TRUE).ok();
        }
        Wait::Queue => {
            let signal = web_sys::AbortSignal::timeout_with_u32(MAX_WAIT_MS);
            Reflect::set(&options, &"signal".into(), &signal).ok();
        }
    }
    let request: Function = Reflect::get(locks, &"request".into())
        .map_err(|_| LockError::Busy)?
        .unchecked_into();
    let release = Release(release);
    let done = match request.call3(locks, &LOCK_NAME.into(), &options, &callback) {
        Ok(done) => done.unchecked_into::<Promise>(),
        // A context the browser refuses locks to (an opaque origin): use the lease instead.
        Err(_) => {
            drop(release);
            return with_lease(wait, work).await;
        }
    };
    // Rejected when the wait ran out (the signal aborted it): somebody else is still at work.
    let given_up = Reflect::get(&done, &"then".into())
        .ok()
        .map(|then| then.unchecked_into::<Function>())
        .and_then(|then| {
            let answer_false = Closure::once_into_js(|_: JsValue| JsValue::FALSE);
            then.call1(&done, &answer_false).ok()
        })
        .unwrap_or(JsValue::FALSE);
    let granted = Promise::race(&js_sys::Array::of2(&granted, &given_up));
    let got_it = JsFuture::from(granted)
        .await
        .ok()
        .and_then(|v| v.as_bool())
        .unwrap_or(false);
    if !got_it {
        return Err(LockError::Busy);
    }
    let result = work(Held { lease: None }).await;
    drop(release);
    let _ = JsFuture::from(done).await;
    Ok(result)
}

// ----- the IndexedDB lease -----------------------------------------------------------------------

/// The lease as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    pub holder: String,
    pub expires_at_ms: i64,
}

thread_local! {
    static COUNTER: Cell<u32> = const { Cell::new(0) };
}

/// A holder id unlikely to be shared by two contexts (a context's random prefix and a counter).
pub fn new_holder() -> String {
    let n = COUNTER.with(|c| {
        c.set(c.get().wrapping_add(1));
        c.get()
    });
    format!(
        "{:016x}-{n}",
        (js_sys::Math::random() * 2f64.powi(53)) as u64
    )
}

/// Takes the lease for `holder` if it is free, expired, stale (it ends more than [`LEASE_MS`]
/// after `now_ms`: a clock that was ahead wrote it) or already `holder`'s, for [`LEASE_MS`]
/// from `now_ms`. `false` when another holder's lease is still running.
pub async fn try_take_lease(holder: &str, now_ms: i64) -> Result<bool, StorageError> {
    write_lease(holder, now_ms, true).await
}

/// Extends `holder`'s lease by [`LEASE_MS`] from `now_ms`; `false` when it is not `holder`'s
/// any more (it expired and someone else took it).
pub async fn renew_lease(holder: &str, now_ms: i64) -> Result<bool, StorageError> {
    write_lease(holder, now_ms, false).await
}

/// Gives the lease up, if `holder` still has it.
pub async fn release_lease(holder: &str) -> Result<(), StorageError> {
    let database = db::open().await?;
    let transaction = database.transaction(&[SETTINGS], idb::TransactionMode::ReadWrite)?;
    let store = transaction.object_store(SETTINGS)?;
    let key = JsValue::from_str(LEASE_KEY);
    let current = store.get(key.clone())?.await?;
    let ours = current
        .and_then(|v| from_js::<Lease>(&v).ok())
        .is_some_and(|lease| lease.holder == holder);
    if ours {
        store.delete(idb::Query::Key(key))?.await?;
    }
    db::finish(transaction).await
}

/// The lease as stored now, if any (for tests and diagnostics).
pub async fn current_lease() -> Result<Option<Lease>, StorageError> {
    db::read_value(LEASE_KEY).await
}

/// Reads the lease and writes `holder`'s in one read-write transaction; `take` also takes a
/// free or expired lease, otherwise only `holder`'s own is extended.
async fn write_lease(holder: &str, now_ms: i64, take: bool) -> Result<bool, StorageError> {
    let database = db::open().await?;
    let transaction = database.transaction(&[SETTINGS], idb::TransactionMode::ReadWrite)?;
    let store = transaction.object_store(SETTINGS)?;
    let key = JsValue::from_str(LEASE_KEY);
    let current = store
        .get(key.clone())?
        .await?
        .and_then(|v| from_js::<Lease>(&v).ok());
    let allowed = match &current {
        Some(lease) if lease.holder == holder => true,
        // Stale: expired, or running out later than any lease written now could (written by a
        // clock that was ahead, or corrupt) — else a crash would block replay for as long as
        // that clock was wrong.
        Some(lease) => {
            take && (lease.expires_at_ms <= now_ms || lease.expires_at_ms > now_ms + LEASE_MS)
        }
        None => take,
    };
    if !allowed {
        let _ = transaction.abort();
        return Ok(false);
    }
    let lease = Lease {
        holder: holder.to_owned(),
        expires_at_ms: now_ms + LEASE_MS,
    };
    store.put(&to_js(&lease)?, Some(&key))?.await?;
    db::finish(transaction).await?;
    Ok(true)
}

async fn with_lease<T, F, Fut>(wait: Wait, work: F) -> Result<T, LockError>
where
    F: FnOnce(Held) -> Fut,
    Fut: Future<Output = T>,
{
    let holder = new_holder();
    let deadline = now_ms() + i64::from(MAX_WAIT_MS);
    loop {
        if try_take_lease(&holder, now_ms()).await? {
            break;
        }
        if wait == Wait::IfFree || now_ms() >= deadline {
            return Err(LockError::Busy);
        }
        sleep_ms(LEASE_POLL_MS).await;
    }
    let result = work(Held {
        lease: Some(holder.clone()),
    })
    .await;
    // If this fails the lease simply expires.
    let _ = release_lease(&holder).await;
    Ok(result)
}

fn now_ms() -> i64 {
    js_sys::Date::now() as i64
}

/// Waits `ms` with the global scope's `setTimeout` (a page's or a worker's).
pub async fn sleep_ms(ms: i32) {
    let promise = Promise::new(&mut |resolve, _| {
        let set_timeout = Reflect::get(&js_sys::global(), &"setTimeout".into())
            .map(|f| f.unchecked_into::<Function>());
        if let Ok(set_timeout) = set_timeout {
            let _ = set_timeout.call2(&JsValue::NULL, &resolve, &ms.into());
        }
    });
    let _ = JsFuture::from(promise).await;
}

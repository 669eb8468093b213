//! Tolem's payments on the phone, shared by the cashier app and its service worker.
//!
//! Three layers, one file each, as in Workbox's background sync — and none of them uses
//! `window`, so all of it runs in a page and in a service worker alike:
//!
//! - [`db`]: the IndexedDB database — name, version, stores, upgrades. The one schema on the
//!   phone: the app's key store and settings use it too.
//! - [`record`] and [`store`]: a payment signed at the moment the cashier confirms it
//!   ([`record::SignedPayment`]) and the same payment stored with its progress
//!   ([`record::PaymentRecord`]); the `history` and `outbox` stores, written together in one
//!   transaction before anything is sent.
//! - [`transport`] and [`settle`]: sending the exact signed bytes, telling an answer from no
//!   answer, and the replay policy — pay, or settle an unclear payment by its pre-signed status
//!   query; never a new session for a payment.
//!
//! [`changes`] announces every stored change on a broadcast channel, so every tab (and the
//! worker) sees a payment settled elsewhere.
//!
//! On top of them, the replay: [`lock`] keeps replayers apart (one at a time across every tab
//! and the service worker: Web Locks, or a lease in IndexedDB where the browser has none), and
//! [`replay`] is the one pass both the page and the worker run. Signed letters ([`letters`])
//! wait in the same outbox and are replayed in the same pass, after the payments. [`limits`] checks the point's
//! offline limits before a payment is deferred. [`clock`] keeps how far the phone's clock is off
//! the gateway's, so new requests are signed with the gateway's time. [`sequence`] numbers each
//! key's cash payments so the gateway can list the ones it never received. [`shift`] counts a
//! cashier's shift and [`shifts`] keeps its reports, which wait in the outbox like letters.

pub mod boxed;
pub mod canary;
pub mod changes;
pub mod clock;
pub mod compat;
pub mod db;
pub mod export;
pub mod letters;
pub mod limits;
pub mod lock;
pub mod record;
pub mod replay;
pub mod sequence;
pub mod settle;
pub mod shift;
pub mod shifts;
pub mod store;
pub mod transport;

pub use record::{PaymentDraft, PaymentRecord, SignedPayment, State};
pub use store::StoreError;

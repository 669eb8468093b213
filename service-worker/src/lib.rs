//! Tolem's service worker, in Rust.
//!
//! Not a module of its own in the build: the app links this crate (`src/main.rs`), so the page and
//! the worker run one wasm and a first visit downloads it once (issue 14).
//!
//! `public/sw.js` registers the listeners and calls the entry points exported here:
//! [`install`] precaches the app shell of one version — and fails, so the browser keeps the
//! running version, when this one cannot read what waits in the outbox ([`may_take_over`],
//! `tolem_outbox::compat` has the guarantee) —, [`activate`] removes older versions,
//! [`respond`] answers the app's requests from the shell cache so the app opens without a network,
//! and [`replay`] sends the deferred payments of the outbox when the network returns.

mod lifecycle;
mod precache;
mod replay;
mod respond;
mod scope;

pub use lifecycle::{activate, install, may_take_over};
pub use replay::{SYNC_TAG, replay};
pub use respond::respond;

/// Every cache this worker creates starts with this, so it never touches anyone else's caches.
pub const CACHE_PREFIX: &str = "tolem-shell-";

/// The cache that holds the app shell of one version.
pub fn cache_name(version: &str) -> String {
    format!("{CACHE_PREFIX}{version}")
}

//! Futures boxed where they are made, so their code is compiled once.
//!
//! The body of an `async fn` is compiled into every crate that awaits it: rustc treats the
//! future's `poll` like a generic function, and a release build (no shared generics) gives each
//! crate its own copy, which LTO does not merge (their symbols differ). The app (`tolem`) and the
//! service worker's entry points (`tolem_sw`) are linked into one module, so the replay pass and
//! everything it awaits were in it twice (twiggy: `replay::pass` 38.6 and 9.2 KB). A future boxed
//! in a non-generic function of this crate is compiled here, once; callers await the box.

use std::future::Future;
use std::pin::Pin;

/// A future compiled in this crate, awaited by any.
pub type Boxed<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

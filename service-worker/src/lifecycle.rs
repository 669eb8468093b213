//! The worker's lifecycle entry points as `sw.js` calls them: installing a version, checking it
//! may take over, activating it ([`crate::precache`] does the work).
//!
//! They run once per version and never while a cashier waits for a screen, so in the split build
//! (the app's `split` feature) their code is a chunk loaded the first time one is called, not
//! part of a first visit's download (issue 14): fetched while the version installs, from the
//! worker's own precache afterwards (xtask/src/split.rs).

use tolem_outbox::boxed::Boxed;
use wasm_bindgen::prelude::*;

use crate::precache;

/// One lifecycle step, running.
type Step = Boxed<'static, Result<(), JsValue>>;

/// Precaches a version of the shell ([`precache::install`]).
#[wasm_bindgen]
pub async fn install(version: String, precache: JsValue) -> Result<(), JsValue> {
    run(Call::Install(version, precache)).await
}

/// Whether this version may take over from the running one ([`precache::may_take_over`]).
#[wasm_bindgen]
pub async fn may_take_over() -> Result<(), JsValue> {
    run(Call::MayTakeOver).await
}

/// Retires older versions and takes control of open pages ([`precache::activate`]).
#[wasm_bindgen]
pub async fn activate(version: String) -> Result<(), JsValue> {
    run(Call::Activate(version)).await
}

/// A step and its arguments, in one box across the split point.
enum Call {
    Install(String, JsValue),
    MayTakeOver,
    Activate(String),
}

fn step(call: Call) -> Step {
    match call {
        Call::Install(version, list) => Box::pin(precache::install(version, list)),
        Call::MayTakeOver => Box::pin(precache::may_take_over()),
        Call::Activate(version) => Box::pin(precache::activate(version)),
    }
}

#[cfg(not(feature = "split"))]
async fn run(call: Call) -> Result<(), JsValue> {
    step(call).await
}

/// The step, once its chunk is loaded. A chunk that cannot be fetched fails the step, as a
/// file of the shell that cannot be fetched fails the install: the browser keeps the running
/// version and tries again later.
#[cfg(feature = "split")]
async fn run(call: Call) -> Result<(), JsValue> {
    match split::step_chunk(Box::new(call)).await {
        Ok(step) => step.await,
        Err(split::NotLoaded) => Err(JsValue::from_str(
            "the worker's code that installs and activates a version could not be fetched",
        )),
    }
}

#[cfg(feature = "split")]
mod split {
    use wasm_split_helpers::{SplitLoaderError, wasm_split};

    use super::{Call, Step};

    /// The chunk could not be fetched.
    pub(super) struct NotLoaded;

    impl From<SplitLoaderError> for NotLoaded {
        fn from(_: SplitLoaderError) -> Self {
            NotLoaded
        }
    }

    #[wasm_split(tolem_lifecycle, fallible)]
    pub(super) fn step_chunk(call: Box<Call>) -> Result<Step, NotLoaded> {
        Ok(super::step(*call))
    }
}

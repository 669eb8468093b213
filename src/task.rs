//! Browser tasks: jobs that start in a task of their own, and waits (issue 14, blocking time).
//!
//! A future given to `spawn_local` is first polled in a microtask, which the browser runs before
//! it returns to its event loop: every job the app spawned while it mounted (reading the key and
//! the catalogue from IndexedDB, asking the gateway, registering the service worker, the first
//! replay) took its first steps inside the mount's own task. On a 4× slower processor that made
//! one task of 350–700 ms, during which a tap waited and which Lighthouse counts as blocking
//! time. [`spawn_in_own_task`] starts a job from a zero timeout instead: the browser runs such
//! jobs as separate tasks, in the order they were spawned, and can answer the cashier in
//! between. The app's background jobs use it whenever they start (at start, and again on a
//! change, a return to the app or the network coming back); a job the cashier waits for (a
//! payment being sent) is awaited where it is asked for instead.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use leptos::prelude::window;
use wasm_bindgen_futures::JsFuture;

/// Runs `job` as [`leptos::task::spawn_local`] does, but starting in a task of its own.
pub fn spawn_in_own_task(job: impl Future<Output = ()> + 'static) {
    start_later(Box::pin(job));
}

// Not generic: one copy of the wrapper in the module, not one per job (about 0.1 KiB each).
fn start_later(job: Pin<Box<dyn Future<Output = ()>>>) {
    leptos::task::spawn_local(async move {
        // A zero timeout: the browser queues it behind the tasks already waiting, input among
        // them.
        sleep(Duration::ZERO).await;
        job.await;
    });
}

/// Resolves after `wait`, in a later browser task (the page's `setTimeout`).
pub async fn sleep(wait: Duration) {
    let timeout = js_sys::Promise::new(&mut |resolve, _| {
        let _ = window().set_timeout_with_callback_and_timeout_and_arguments_0(
            &resolve,
            wait.as_millis().min(i32::MAX as u128) as i32,
        );
    });
    let _ = JsFuture::from(timeout).await;
}

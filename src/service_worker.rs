//! The app's side of the service worker: registration and the "Update" offer.
//!
//! A new build installs its worker in the background and leaves it *waiting*, so a cashier is
//! never switched to new code in the middle of a payment. The app notices the waiting worker and
//! offers "Update"; pressing it tells the worker to take over, and the page reloads into the new
//! version once it controls the page.

use leptos::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    ServiceWorker, ServiceWorkerContainer, ServiceWorkerRegistration, ServiceWorkerState,
};

use crate::task::spawn_in_own_task;

/// The worker script, at the site root so its scope is the whole app.
const WORKER_URL: &str = "/sw.js";
/// The message the worker answers with `skipWaiting()`; `sw.js` knows the same word.
const SKIP_WAITING: &str = "SKIP_WAITING";

/// A newer version of the app that is installed and waiting, if any.
#[derive(Clone, Copy)]
pub struct UpdateState(pub ReadSignal<Option<WaitingWorker>>);

/// A handle to the waiting worker (web-sys handles are not `Send`, so it stays in local storage).
#[derive(Clone, Copy)]
pub struct WaitingWorker(StoredValue<ServiceWorker, LocalStorage>);

impl WaitingWorker {
    /// Hands control to the new version; the page reloads when it has taken over.
    pub fn activate(&self) {
        let _ = self
            .0
            .with_value(|worker| worker.post_message(&SKIP_WAITING.into()));
    }
}

/// Registers the worker and provides [`UpdateState`].
pub fn provide_service_worker() {
    let (waiting, set_waiting) = signal(None::<WaitingWorker>);
    provide_context(UpdateState(waiting));
    let Some(container) = container() else { return };

    // Reload once the new worker controls the page, but not on the very first install
    // (a first visit has no controller, and reloading it would only waste the cashier's data).
    let had_controller = container.controller().is_some();
    let on_controller_change = Closure::<dyn FnMut()>::new(move || {
        if had_controller {
            let _ = window().location().reload();
        }
    });
    container.set_oncontrollerchange(Some(on_controller_change.as_ref().unchecked_ref()));
    on_controller_change.forget();

    spawn_in_own_task(async move {
        let Ok(registration) = JsFuture::from(container.register(WORKER_URL)).await else {
            return;
        };
        let registration: ServiceWorkerRegistration = registration.unchecked_into();
        watch_for_waiting(&registration, set_waiting);
        check_for_updates_on_return(registration);
    });
}

/// Whether a worker serves this page: not on a first visit, until the new worker takes over.
pub fn controls_page() -> bool {
    container().and_then(|c| c.controller()).is_some()
}

/// The browser's service-worker container, absent on insecure origins and old browsers.
fn container() -> Option<ServiceWorkerContainer> {
    let navigator = window().navigator();
    js_sys::Reflect::has(&navigator, &"serviceWorker".into())
        .unwrap_or(false)
        .then(|| navigator.service_worker())
}

/// Offers the update as soon as a new worker is waiting: now, or when one finishes installing.
fn watch_for_waiting(
    registration: &ServiceWorkerRegistration,
    set_waiting: WriteSignal<Option<WaitingWorker>>,
) {
    let offer = move |registration: &ServiceWorkerRegistration| {
        // With no controller this is the first install, not an update: nothing to offer.
        if let (Some(worker), true) = (registration.waiting(), controls_page()) {
            set_waiting.set(Some(WaitingWorker(StoredValue::new_local(worker))));
        }
    };
    offer(registration);

    let registration_for_event = registration.clone();
    let on_update_found = Closure::<dyn FnMut()>::new(move || {
        let Some(installing) = registration_for_event.installing() else {
            return;
        };
        let registration = registration_for_event.clone();
        let installing_for_event = installing.clone();
        let on_state_change = Closure::<dyn FnMut()>::new(move || {
            if installing_for_event.state() == ServiceWorkerState::Installed {
                offer(&registration);
            }
        });
        installing.set_onstatechange(Some(on_state_change.as_ref().unchecked_ref()));
        on_state_change.forget();
    });
    registration.set_onupdatefound(Some(on_update_found.as_ref().unchecked_ref()));
    on_update_found.forget();
}

/// Browsers look for a new `sw.js` on navigation; an installed app can stay open for days, so it
/// also looks whenever the cashier comes back to it.
fn check_for_updates_on_return(registration: ServiceWorkerRegistration) {
    let registration = StoredValue::new_local(registration);
    let _ = window_event_listener(leptos::ev::visibilitychange, move |_| {
        if document().visibility_state() == web_sys::VisibilityState::Visible {
            registration.with_value(|r| {
                let _ = r.update();
            });
        }
    });
}

//! Carrying accepted payments to their providers (CyberplatMobile manual §1, §18): store and
//! forward, with automatic reversal.
//!
//! * **Store.** The `pay` step writes the payment's delivery job in the payment's own
//!   transaction ([`enqueue_all_into`]): an accepted payment always has one, a rejected one never.
//! * **Forward.** The [`worker`] claims due jobs (a lease, as the mail queue does, so several
//!   gateways on one database never send a job twice at once), sends each through the
//!   provider's adapter ([`connections`], `tolem-providers`) and records the attempt.
//!   States: queued → sent → delivered (with the provider's number) | retrying (a temporary
//!   answer, a timeout, a 5xx, a cut connection: asked again later with the **same** provider
//!   transaction number, never a new one) | failed.
//! * **Reverse.** A final refusal reverses the payment in one transaction ([`reversal`]): the
//!   dealer's ledger is credited back, the commission accrued on it is taken back, the payment
//!   is marked refunded with the provider's reason, and the audit trail says so.
//! * **Check first.** The `check` step asks the provider about the account ([`check`]).
//! * **By hand.** A stuck delivery can be retried now, and the operator can mark one delivered
//!   with the provider's number after a dispute ([`manual`]).
//! * **Reconcile.** A daily registry per provider, and its comparison with the provider's
//!   ([`registry`]; `tolem-gateway provider registry`).
//! * **Tell.** Every `status` answer carries the delivery as it is now ([`for_phone`]); a job
//!   not finished [`DELAYED_AFTER_MS`] after it was queued is shown as delayed.

pub mod check;
pub mod connections;
pub mod manual;
pub mod registry;
pub mod reversal;
pub mod riders;
pub mod worker;

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

use tokio::sync::Notify;
use tolem_protocol::messages::{Delivery, DeliveryState, ProviderRefusal};

use crate::db::{
    batch::Batch,
    deliveries::{self, State},
};

/// Not delivered this long after it was accepted: the phone and the console call it delayed.
pub const DELAYED_AFTER_MS: i64 = 10 * 60 * 1000;

/// Queues the delivery of accepted payments `(transaction id, provider, accepted at)`, in
/// `batch` (the transaction that stores them).
pub fn enqueue_all_into<'q>(batch: &mut Batch<'q>, payments: &[(&'q str, &'q str, i64)]) {
    deliveries::insert_all_into(batch, payments);
}

/// The phone's view of a stored delivery at `now_ms`.
pub fn for_phone(delivery: &deliveries::Delivery, now_ms: i64) -> Delivery {
    let state = match delivery.state {
        State::Queued => DeliveryState::Queued,
        State::Sent => DeliveryState::Sent,
        State::Retrying => DeliveryState::Retrying,
        State::Delivered => DeliveryState::Delivered,
        State::Failed => DeliveryState::Refunded,
    };
    Delivery {
        state,
        provider_txn: delivery.provider_txn.clone(),
        refusal: (state == DeliveryState::Refunded).then(|| refusal_from_text(delivery)),
        delayed: !state.is_final()
            && now_ms.saturating_sub(delivery.queued_at_ms) > DELAYED_AFTER_MS,
        updated_at_ms: delivery.updated_at_ms,
    }
}

/// The stored text form of a refusal (`ProviderRefusal` in snake_case).
pub fn refusal_text(refusal: ProviderRefusal) -> String {
    serde_json::to_value(refusal)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| "other".to_owned())
}

fn refusal_from_text(delivery: &deliveries::Delivery) -> ProviderRefusal {
    delivery
        .refusal
        .as_deref()
        .and_then(|text| serde_json::from_value(serde_json::Value::String(text.into())).ok())
        .unwrap_or(ProviderRefusal::Other)
}

/// What the delivery worker shares with the rest of the gateway: its wake-up when a payment was
/// accepted, so it goes out at once rather than at the next poll (a wake-up while the worker is
/// busy is kept: one permit), its claims and delivered outcomes waiting to be written, which
/// the payment writer takes along in its groups ([`riders`]), and its places a provider when
/// the provider's connection does not say, which the operator's console shows.
pub struct DeliveryQueue {
    wake: Notify,
    pub riders: Arc<riders::Riders>,
    places_default: AtomicUsize,
}

impl Default for DeliveryQueue {
    fn default() -> Self {
        DeliveryQueue {
            wake: Notify::default(),
            riders: Arc::default(),
            places_default: AtomicUsize::new(worker::RetryPolicy::default().places_default()),
        }
    }
}

impl DeliveryQueue {
    /// How many payments the worker has on their way to a provider at once when its connection
    /// does not say: the running worker's [`worker::RetryPolicy::places_default`] (the default
    /// policy's before a worker starts).
    pub fn places_default(&self) -> usize {
        self.places_default.load(Ordering::Relaxed)
    }

    /// Called by the worker as it starts.
    fn set_places_default(&self, places: usize) {
        self.places_default.store(places, Ordering::Relaxed);
    }

    /// Tells the worker a job is waiting.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Resolves at the next [`Self::wake`] (or at once if one is pending).
    pub async fn woken(&self) {
        self.wake.notified().await;
    }
}

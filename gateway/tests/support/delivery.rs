//! Delivery to providers in tests: a provider emulator (the real `tolem-providers` emulator,
//! served over real HTTP on 127.0.0.1 from this test process), the gateway's connection to
//! it, delivery workers the test starts and stops, and waiting for a delivery as the phone
//! does — by asking `status`.

use std::time::Duration;

use tolem_gateway::{
    audit::Actor,
    db::{begin_write, connections::StoredConnection, now_ms},
    delivery::{
        connections,
        worker::{RetryPolicy, Worker},
    },
};
use tolem_protocol::messages::{Delivery, Request};

use super::{Gateway, phone::Phone};

/// A provider emulator running in this process.
pub use tolem_providers::emulator::InProcess as Emulator;

/// Starts an emulator with the binary's command-line `args` (`--open`, `--missing N`, faults…).
pub async fn emulator(args: &[&str]) -> Emulator {
    tolem_providers::emulator::start_in_process(args)
        .await
        .unwrap()
}

/// A retry policy for tests: quick retries, a short claim.
pub fn quick_retry() -> RetryPolicy {
    RetryPolicy {
        first_delay: Duration::from_millis(50),
        max_delay: Duration::from_millis(400),
        lease: Duration::from_secs(3),
        idle_poll: Duration::from_millis(200),
        parallel: 16,
        per_provider: 16,
    }
}

impl Gateway {
    /// Connects `provider` to `url` (OSMP, no credentials, `timeout_ms`) the way the CLI does.
    pub async fn connect_provider(&self, provider: &str, url: &str, timeout_ms: i64) {
        self.connect_provider_in_flight(provider, url, timeout_ms, None)
            .await;
    }

    /// [`Self::connect_provider`] with the most payments on their way to it at once
    /// (`in_flight_max`; `None`: the worker's `per_provider`).
    pub async fn connect_provider_in_flight(
        &self,
        provider: &str,
        url: &str,
        timeout_ms: i64,
        in_flight_max: Option<i64>,
    ) {
        let now = now_ms();
        let stored = StoredConnection {
            provider: provider.to_owned(),
            protocol: "osmp".to_owned(),
            url: url.to_owned(),
            username: None,
            password: None,
            timeout_ms,
            ca_cert_pem: None,
            in_flight_max,
            updated_at_ms: now,
        };
        let mut tx = begin_write(&self.pool).await.unwrap();
        connections::connect_in(&mut tx, &Actor::cli(), &stored, now)
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }

    /// Starts a delivery worker on this gateway's database, woken by its accepted payments.
    pub fn start_delivery(&self, retry: RetryPolicy) -> tokio::task::JoinHandle<()> {
        let mut worker = Worker::new(self.pool.clone(), self.delivery_queue.clone());
        worker.retry = retry;
        worker.spawn()
    }

    /// Asks `status` for `request`'s session until its delivery satisfies `done` (up to
    /// `within`), as a phone refreshing its history would; returns it.
    pub async fn delivery_when(
        &self,
        phone: &Phone,
        request: &Request,
        within: Duration,
        done: impl Fn(&Delivery) -> bool,
    ) -> Delivery {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let receipt = self.status(phone, request).await.receipt();
            let delivery = receipt
                .delivery
                .expect("an accepted payment has a delivery");
            if done(&delivery) {
                return delivery;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the delivery stayed {delivery:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// How many deliveries are in `state`.
    pub async fn deliveries_in(&self, state: &str) -> i64 {
        sqlx::query_scalar("SELECT COUNT(*) FROM deliveries WHERE state = $1")
            .bind(state)
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }
}

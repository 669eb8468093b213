//! What every face of the gateway (JSON API, console pages, public pages) can reach while it
//! answers a request. It sits above them all so that none of them owns it: a face imports the
//! state and the domain, never another face.

use std::{path::PathBuf, sync::Arc};

use sqlx::AnyPool;

use crate::{
    card::CardPayments,
    delivery::{DeliveryQueue, connections::Adapters},
    gateway_key::GatewayKey,
    mail::MailQueue,
    metrics::Metrics,
    payments::group::GroupWriter,
    sender::recent::RecentSenders,
    web::{client_ip::TrustedProxies, static_files::StaticFiles},
};

/// What every handler can reach. Cheap to clone: a pool handle and pointers.
#[derive(Clone)]
pub struct AppState {
    /// The database.
    pub pool: AnyPool,
    /// The health check's own connection to the same database ([`crate::db::connect_health`]);
    /// the serving pool unless [`Self::with_health_pool`] gives one.
    pub health_pool: AnyPool,
    /// The built cashier app.
    pub static_files: Arc<StaticFiles>,
    /// Signs every protocol answer; its public half is on every key card.
    pub gateway_key: Arc<GatewayKey>,
    /// Whether the console cookie is marked `Secure` (served behind HTTPS).
    pub secure_cookies: bool,
    /// Whether the gateway serves HTTPS itself: every answer carries
    /// `Strict-Transport-Security`.
    pub https: bool,
    /// The local certificate authority served at `/lan-ca.crt` (DER), with `--lan-ca-file`.
    pub lan_ca: Option<Arc<[u8]>>,
    /// The signed messages waiting for the mail worker, and how to wake it.
    pub mail: Arc<MailQueue>,
    /// Wakes the provider delivery worker when a payment is accepted.
    pub delivery: Arc<DeliveryQueue>,
    /// Decides cash payments in groups, one transaction and one commit for many.
    pub payments: Arc<GroupWriter>,
    /// Senders of `pay` that passed every check a moment ago ([`crate::sender::recent`]).
    pub recent_senders: Arc<RecentSenders>,
    /// The providers' adapters, for the `check` step's question to the provider.
    pub adapters: Arc<Adapters>,
    /// The payment service for card bills, and the refund worker's wake-up.
    pub card: Arc<CardPayments>,
    /// The reverse proxies whose `X-Forwarded-For` names the client (none by default).
    pub trusted_proxies: Arc<TrustedProxies>,
    /// This process's counters for `/metrics`.
    pub metrics: Arc<Metrics>,
    /// The bearer token `/metrics` asks for; without one the endpoint is off.
    pub metrics_token: Option<Arc<str>>,
}

/// Lets [`crate::web::client_ip::ClientIp`] read the trusted proxies without cloning the state.
impl axum::extract::FromRef<AppState> for Arc<TrustedProxies> {
    fn from_ref(state: &AppState) -> Self {
        state.trusted_proxies.clone()
    }
}

impl AppState {
    /// State for a gateway on `pool` serving the app built into `dist` and signing with
    /// `gateway_key`. Cookies are not `Secure` unless [`Self::with_secure_cookies`] says so.
    pub fn new(pool: AnyPool, dist: impl Into<PathBuf>, gateway_key: GatewayKey) -> Self {
        let delivery = Arc::new(DeliveryQueue::default());
        let metrics = Arc::new(Metrics::default());
        Self {
            health_pool: pool.clone(),
            payments: Arc::new(GroupWriter::new(
                pool.clone(),
                delivery.riders.clone(),
                metrics.groups.clone(),
            )),
            recent_senders: Arc::default(),
            pool,
            static_files: Arc::new(StaticFiles::new(dist.into())),
            gateway_key: Arc::new(gateway_key),
            secure_cookies: false,
            https: false,
            lan_ca: None,
            mail: Arc::new(MailQueue::default()),
            delivery,
            adapters: Arc::new(Adapters::default()),
            card: Arc::new(CardPayments::default()),
            trusted_proxies: Arc::new(TrustedProxies::default()),
            metrics,
            metrics_token: None,
        }
    }

    /// Checks the database's health on `pool`, apart from the pool that serves requests.
    pub fn with_health_pool(mut self, pool: AnyPool) -> Self {
        self.health_pool = pool;
        self
    }

    /// Takes card payments through `card`'s payment service.
    pub fn with_card_payments(mut self, card: Arc<CardPayments>) -> Self {
        self.card = card;
        self
    }

    /// Uses `queue` for signed messages: the one the delivery worker waits on.
    pub fn with_mail_queue(mut self, queue: Arc<MailQueue>) -> Self {
        self.mail = queue;
        self
    }

    /// Uses `queue` to wake the provider delivery worker, whose claims and delivered outcomes
    /// the payment writer then takes along ([`crate::delivery::riders`]).
    pub fn with_delivery_queue(mut self, queue: Arc<DeliveryQueue>) -> Self {
        // A new writer sharing the queue's list of claims and outcomes. The old one has not
        // started (its task starts with the first payment), so nothing is lost.
        self.payments = Arc::new(GroupWriter::new(
            self.pool.clone(),
            queue.riders.clone(),
            self.metrics.groups.clone(),
        ));
        self.delivery = queue;
        self
    }

    /// Believes `X-Forwarded-For` from connections of these reverse proxies.
    pub fn with_trusted_proxies(mut self, proxies: TrustedProxies) -> Self {
        self.trusted_proxies = Arc::new(proxies);
        self
    }

    /// Serves `/metrics` to a scraper presenting `token` (`None`: not at all).
    pub fn with_metrics_token(mut self, token: Option<String>) -> Self {
        self.metrics_token = token.filter(|t| !t.is_empty()).map(Arc::from);
        self
    }

    /// Served over HTTPS by the gateway itself: `Secure` cookies and
    /// `Strict-Transport-Security` on (never turned off by this).
    pub fn with_https(mut self, https: bool) -> Self {
        self.https = https;
        self.secure_cookies |= https;
        self
    }

    /// Serves this certificate authority (DER) at `/lan-ca.crt` for phones to install.
    pub fn with_lan_ca(mut self, der: Option<Vec<u8>>) -> Self {
        self.lan_ca = der.map(Arc::from);
        self
    }

    /// Marks the console cookie `Secure` (or not).
    pub fn with_secure_cookies(mut self, secure: bool) -> Self {
        self.secure_cookies = secure;
        self
    }
}

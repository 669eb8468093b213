//! How the gateway reaches a payment service: by configuration alone, the real one or the
//! emulator.

use std::fmt;

use crate::robokassa::hash::HashAlgorithm;
use crate::service::{PaymentService, ServiceKind};

/// A credential that never shows in logs or debug output.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(…)")
    }
}

/// One payment service's settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceConfig {
    pub kind: ServiceKind,
    /// The service's API base (TipTop Pay: `https://api.tiptoppay.kz`; Robokassa: its
    /// services host) — or the emulator's address.
    pub api_url: String,
    /// Where the customer's browser goes to pay, when the service has a fixed page (Robokassa:
    /// `https://auth.robokassa.kz/Merchant/Index.aspx`); TipTop Pay's order answer names it.
    pub page_url: Option<String>,
    /// TipTop Pay: the Public ID; Robokassa: the merchant login.
    pub login: String,
    /// TipTop Pay: the API secret; Robokassa: Password #1 — in test mode the shop's test
    /// Password #1, which is what Robokassa checks a link with `IsTest=1` against.
    pub secret: Secret,
    /// Robokassa: Password #2 (checks ResultURL) — in test mode the shop's test Password #2;
    /// unused by TipTop Pay.
    pub secret2: Option<Secret>,
    /// The service's test mode (Robokassa's `IsTest=1`).
    pub test: bool,
}

/// What only Robokassa needs beside [`ServiceConfig`]; TipTop Pay ignores it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RobokassaSettings {
    /// Password #3: the key the refund API's JWTs are signed with, issued separately from
    /// Passwords #1 and #2 once "API refunds" access is granted (docs.robokassa.ru,
    /// «Осуществление возвратов по API»). Without it the adapter takes payments but refuses
    /// to refund.
    pub refund_key: Option<Secret>,
    /// The hash the shop's technical settings name for its signatures; MD5, their default,
    /// unless the shop's owner changed it.
    pub hash: HashAlgorithm,
}

/// Why a configuration cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("the payment service's URL is not valid: {0}")]
    BadUrl(String),
    #[error("the payment service's URL has credentials in it: give them as settings instead")]
    CredentialsInUrl,
    #[error("{0} is missing")]
    Missing(&'static str),
}

/// The adapter for a configuration, ready to use.
///
/// Robokassa's refunds need a third password, and a shop may sign with another hash than
/// MD5; see [`service_for_robokassa`].
pub fn service_for(config: &ServiceConfig) -> Result<Box<dyn PaymentService>, ConfigError> {
    service_for_robokassa(config, &RobokassaSettings::default())
}

/// [`service_for`], with Robokassa's Password #3 (see [`RobokassaSettings::refund_key`]) and
/// a shop that signs with MD5.
pub fn service_for_with_refund_key(
    config: &ServiceConfig,
    refund_key: Option<Secret>,
) -> Result<Box<dyn PaymentService>, ConfigError> {
    service_for_robokassa(
        config,
        &RobokassaSettings {
            refund_key,
            ..RobokassaSettings::default()
        },
    )
}

/// [`service_for`], with what only Robokassa needs; ignored for TipTop Pay.
pub fn service_for_robokassa(
    config: &ServiceConfig,
    robokassa: &RobokassaSettings,
) -> Result<Box<dyn PaymentService>, ConfigError> {
    match config.kind {
        ServiceKind::TipTop => Ok(Box::new(crate::tiptop::TipTop::new(config)?)),
        ServiceKind::Robokassa => Ok(Box::new(crate::robokassa::Robokassa::new(
            config,
            robokassa.refund_key.clone(),
            robokassa.hash,
        )?)),
    }
}

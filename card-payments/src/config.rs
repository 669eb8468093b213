//! How the gateway reaches a payment service: by configuration alone, the real one or the
//! emulator.

use std::fmt;

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
    /// TipTop Pay: the API secret; Robokassa: Password #1.
    pub secret: Secret,
    /// Robokassa: Password #2 (checks ResultURL); unused by TipTop Pay.
    pub secret2: Option<Secret>,
    /// The service's test mode (Robokassa's `IsTest=1`).
    pub test: bool,
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
pub fn service_for(config: &ServiceConfig) -> Result<Box<dyn PaymentService>, ConfigError> {
    match config.kind {
        ServiceKind::TipTop => Err(crate::tiptop::TipTop::new(config)
            .err()
            .unwrap_or(ConfigError::Missing("tiptop"))),
        ServiceKind::Robokassa => Err(crate::robokassa::Robokassa::new(config)
            .err()
            .unwrap_or(ConfigError::Missing("robokassa"))),
    }
}

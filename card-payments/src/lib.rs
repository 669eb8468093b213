//! Card payments on a payment service's hosted page, for the Tolem gateway: the
//! [`PaymentService`] the gateway calls, its adapters (TipTop Pay, Robokassa) and an emulator
//! of both services' merchant-facing protocols for the demo and the tests.
//!
//! The gateway depends on the trait, not on one service's wire format; the card never touches
//! the gateway (the customer types it on the service's page, 3-D Secure runs at the bank).

pub mod config;
pub mod robokassa;
pub mod service;
pub mod tiptop;

pub use config::{ConfigError, Secret, ServiceConfig, service_for};
pub use service::*;

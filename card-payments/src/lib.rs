//! Card payments on a payment service's hosted page, for the Tolem gateway: the
//! [`PaymentService`] the gateway calls, its adapters (TipTop Pay, Robokassa) and an emulator
//! of both services' merchant-facing protocols for the demo and the tests.
//!
//! The gateway depends on the trait, not on one service's wire format; the card never touches
//! the gateway (the customer types it on the service's page, 3-D Secure runs at the bank).
//!
//! * [`service`]: the trait and what travels through it; [`config`]: how an adapter is chosen.
//! * [`tiptop`], [`robokassa`]: the adapters, each with its wire format and signatures.
//! * [`money`]: tiyn to the services' decimal text and back, exactly; [`form`]: form bodies.
//! * [`emulator`]: both services over real HTTP, with a hosted card page and 3-D Secure (the
//!   `tolem-card-emulator` binary), sharing only the wire modules with the adapters.

mod client;
pub mod config;
pub mod emulator;
pub mod form;
pub mod money;
pub mod robokassa;
pub mod service;
pub mod tiptop;

pub use config::{ConfigError, Secret, ServiceConfig, service_for, service_for_with_refund_key};
pub use service::*;

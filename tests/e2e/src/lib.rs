//! Harness for Tolem's end-to-end tests: the real gateway binary serving the real release build,
//! and headless Chromium (and Firefox) driven through their WebDrivers. Outages are real: the
//! gateway process is killed, not mocked.
//!
//! Inputs (set by `scripts/test.sh`): `TOLEM_GATEWAY_BIN` (the built gateway), `TOLEM_DIST` (the
//! finished release build), `CHROMEDRIVER` and optionally `TOLEM_CHROMIUM` (the browser binary);
//! for the tests that also run in Firefox, `GECKODRIVER` and optionally `TOLEM_FIREFOX`.

mod authenticator;
mod balancer;
mod browser;
pub mod deferred;
mod deferring;
mod devtools;
mod gateway;
mod native_phone;
mod newer_build;
mod pending_key;
mod point;
mod postgres;
mod provider;
mod proxy;

pub use authenticator::Authenticator;
pub use balancer::Balancer;
pub use browser::{Browser, Engine};
pub use deferring::defer_in_page;
pub use devtools::DevTools;
pub use gateway::{Gateway, Shared};
pub use native_phone::{Answer, NativePhone, Signed, http_client};
pub use newer_build::{copy_build, newer_build};
pub use pending_key::register_pending_key;
pub use point::{
    Action, Console, GatewayPayment, PASSPHRASE, POINT, Phone, Taken, console_log_in,
    dispatch_sync, kcell_number, new_point_password, sync_registration_id,
};
pub use postgres::Postgres;
pub use provider::{CardService, ProviderEmulator, start_card_service, start_provider};
pub use proxy::{Fault, Link, Proxy, Traffic};

use std::net::TcpListener;
use std::path::PathBuf;

/// A port nobody listens on right now (the OS picks it; it is released before use).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// A required path from the environment, with a message that says how to provide it.
pub fn path_from_env(name: &str) -> PathBuf {
    std::env::var_os(name)
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            panic!("{name} is not set: run the end-to-end tests through scripts/test.sh")
        })
}

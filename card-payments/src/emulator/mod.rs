//! An emulator of TipTop Pay and Robokassa: the other side of [`crate::tiptop`] and
//! [`crate::robokassa`], over real HTTP, for tests and demos.
//!
//! It speaks each service's merchant-facing protocol as documented (same paths relative to
//! its base URL, see [`http`]): TipTop Pay's `/orders/create` and `/payments/refund`, its
//! signed Check/Pay/Fail/Refund notifications; Robokassa's `/Merchant/Index.aspx` link,
//! ResultURL, OpStateExt and refund API. The customer pays on a hosted card page with a
//! 3-D Secure "bank" page ([`checkout`], [`pages`]); notifications are re-sent until
//! answered ([`notify`]); faults and every record are reachable at `/control/...`
//! ([`control`]). It shares only the wire modules (signatures, formats) with the adapters,
//! not the gateway's code.
//!
//! Run it as the `tolem-card-emulator` binary ([`Options`]), or in-process with
//! [`start_in_process`].
//!
//! # Test cards
//!
//! TipTop Pay's documented test cards, and the emulator's own (✱); any expiry in the future,
//! any three-digit CVC. See [`cards`].
//!
//! | Card number         | 3-D Secure | Result                                       |
//! |---------------------|------------|----------------------------------------------|
//! | 4242 4242 4242 4242 | yes        | approved                                     |
//! | 5555 5555 5555 4444 | yes        | approved                                     |
//! | 4012 8888 8888 1881 | yes        | 5051 insufficient funds                      |
//! | 5105 1051 0510 5100 | yes        | 5051 insufficient funds                      |
//! | 4111 1111 1111 1111 | no         | approved                                     |
//! | 5200 8282 8282 8210 | no         | approved                                     |
//! | 4000 0566 5566 5556 | no         | 5051 insufficient funds                      |
//! | 5404 0000 0000 0043 | no         | 5051 insufficient funds                      |
//! | 4000 0000 0000 0051 ✱ | no       | 5057 not permitted (not for the internet)    |
//! | 4000 0000 0000 0069 ✱ | no       | 5054 expired card                            |
//! | 4000 0000 0000 0077 ✱ | no       | 5065 limit exceeded                          |
//! | 4000 0000 0000 0085 ✱ | no       | 5082 wrong CVV                               |
//! | any other valid (Luhn) number | yes | approved                               |
//!
//! An expiry in the past: 5054. "Cancel" on the bank page: 5206 (3-D Secure failed). A Check
//! the shop refuses: 3001–3008 by its code.

pub mod cards;
pub mod checkout;
pub mod control;
pub mod customer;
pub mod http;
pub mod notify;
pub mod options;
pub mod pages;
pub mod robokassa;
pub mod state;
pub mod tiptop;

use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;

pub use options::Options;
pub use state::{Delivery, Emulator, Faults, Order, Refund, Routing};

use crate::config::{RobokassaSettings, Secret, ServiceConfig};
use crate::service::ServiceKind;

/// Why the emulator did not start, or stopped.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("bad arguments: {0}")]
    Arguments(String),
    #[error("cannot listen on {address}: {source}")]
    Listen {
        address: SocketAddr,
        source: std::io::Error,
    },
    #[error("serving failed: {0}")]
    Serve(std::io::Error),
}

/// An emulator serving inside the caller's runtime (gateway and end-to-end tests start theirs
/// this way, over real HTTP on 127.0.0.1).
pub struct InProcess {
    /// The base URL (`http://127.0.0.1:PORT`): TipTop Pay's API base, Robokassa's services
    /// host; Robokassa's page is `{url}/Merchant/Index.aspx`.
    pub url: String,
    /// Its state: orders, notifications, faults; and where notifications go
    /// ([`Emulator::set_tiptop_notify_url`], [`Emulator::set_robokassa_result_url`]).
    pub emulator: Arc<Emulator>,
}

impl InProcess {
    /// The configuration that points TipTop Pay's adapter at this emulator.
    pub fn tiptop_config(&self) -> ServiceConfig {
        let settings = &self.emulator.settings;
        ServiceConfig {
            kind: ServiceKind::TipTop,
            api_url: self.url.clone(),
            page_url: None,
            login: settings.tiptop_public_id.clone(),
            secret: settings.tiptop_secret.clone(),
            secret2: None,
            test: settings.tiptop_test,
        }
    }

    /// The configuration that points Robokassa's adapter at this emulator (test mode, so
    /// with the shop's test Passwords #1 and #2).
    pub fn robokassa_config(&self) -> ServiceConfig {
        let settings = &self.emulator.settings;
        ServiceConfig {
            kind: ServiceKind::Robokassa,
            api_url: self.url.clone(),
            page_url: Some(format!("{}/Merchant/Index.aspx", self.url)),
            login: settings.robokassa_login.clone(),
            secret: settings.robokassa_test_password1.clone(),
            secret2: Some(settings.robokassa_test_password2.clone()),
            test: true,
        }
    }

    /// Robokassa's Password #3, for [`crate::service_for_with_refund_key`].
    pub fn robokassa_password3(&self) -> Secret {
        self.emulator.settings.robokassa_password3.clone()
    }

    /// Password #3 and the shop's hash, for [`crate::config::service_for_robokassa`].
    pub fn robokassa_settings(&self) -> RobokassaSettings {
        RobokassaSettings {
            refund_key: Some(self.robokassa_password3()),
            hash: self.emulator.settings.robokassa_hash,
        }
    }
}

fn parse(args: &[&str]) -> Result<Options, RunError> {
    use clap::Parser;
    Options::try_parse_from(std::iter::once("tolem-card-emulator").chain(args.iter().copied()))
        .map_err(|error| RunError::Arguments(error.to_string()))
}

fn emulator(options: &Options, listening: SocketAddr) -> Arc<Emulator> {
    Arc::new(Emulator::new(
        options.settings(),
        options.routing(listening),
        options.faults(),
        options.seed(),
        options::last_number(options.seed),
    ))
}

/// Starts an emulator on a free port of 127.0.0.1 with the binary's command-line `args`
/// (`--listen` is ignored), served on the current Tokio runtime until the runtime ends.
/// Notification addresses can be given in `args` or set on the handle later.
pub async fn start_in_process(args: &[&str]) -> Result<InProcess, RunError> {
    let options = parse(args)?;
    let address: SocketAddr = ([127, 0, 0, 1], 0).into();
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .map_err(|source| RunError::Listen { address, source })?;
    let bound = listener.local_addr().map_err(RunError::Serve)?;
    let emulator = emulator(&options, bound);
    let app = http::app(emulator.clone());
    tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, app).await {
            tracing::error!(%error, "the in-process card emulator stopped");
        }
    });
    Ok(InProcess {
        url: format!("http://{bound}"),
        emulator,
    })
}

/// Listens, announces `listening on http://ADDRESS` as one flushed line on stdout (scripts and
/// tests wait for it), and serves until Ctrl-C or SIGTERM.
pub async fn run(options: Options) -> Result<(), RunError> {
    let listener = tokio::net::TcpListener::bind(options.listen)
        .await
        .map_err(|source| RunError::Listen {
            address: options.listen,
            source,
        })?;
    let address = listener.local_addr().map_err(|source| RunError::Listen {
        address: options.listen,
        source,
    })?;
    let emulator = emulator(&options, address);
    {
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "listening on http://{address}").map_err(RunError::Serve)?;
        stdout.flush().map_err(RunError::Serve)?;
    }
    let routing = emulator.routing();
    tracing::info!(
        %address,
        public_url = routing.public_url.as_deref(),
        tiptop_notify_url = routing.tiptop_notify_url.as_deref(),
        robokassa_result_url = routing.robokassa_result_url.as_deref(),
        "card emulator serving TipTop Pay and Robokassa"
    );
    axum::serve(listener, http::app(emulator))
        .with_graceful_shutdown(shutdown())
        .await
        .map_err(RunError::Serve)
}

async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}

//! An emulated OSMP provider: the other side of [`crate::client`], for tests and demos.
//!
//! It speaks the protocol exactly over real HTTP at `/osmp`, keeps an in-memory account
//! database and the payments it took (a repeated pay gets the first outcome), and misbehaves
//! on demand (slow answers, HTTP 500, temporary results, answers cut after the commit). It
//! shares only the protocol's types ([`crate::osmp`]) with the client, not the gateway's code.
//! Run it as the `tolem-provider-emulator` binary; see [`http`] for the routes.

pub mod accounts;
pub mod faults;
pub mod http;
pub mod ledger;
pub mod options;
pub mod provider;

use std::io::Write;
use std::sync::Arc;

pub use options::Options;
pub use provider::{Provider, SetupError};

/// Why the emulator stopped.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Setup(#[from] SetupError),
    #[error("cannot listen on {address}: {source}")]
    Listen {
        address: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("serving failed: {0}")]
    Serve(std::io::Error),
}

/// An emulator serving inside the caller's runtime (tests of the gateway and end-to-end tests
/// start theirs this way, over real HTTP on 127.0.0.1).
pub struct InProcess {
    /// Where the OSMP protocol is served (`http://127.0.0.1:PORT/osmp`).
    pub url: String,
    /// Its state: the payments it took, its faults.
    pub provider: Arc<Provider>,
}

/// Starts an emulator on a free port of 127.0.0.1 with the binary's command-line `args`
/// (`--open`, `--missing N`, faults…), served on the current Tokio runtime until it ends.
pub async fn start_in_process(args: &[&str]) -> Result<InProcess, RunError> {
    use clap::Parser;
    let options = Options::try_parse_from(
        std::iter::once("tolem-provider-emulator").chain(args.iter().copied()),
    )
    .map_err(|error| RunError::Setup(SetupError::Arguments(error.to_string())))?;
    let provider = Arc::new(Provider::new(&options)?);
    let address: std::net::SocketAddr = ([127, 0, 0, 1], 0).into();
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .map_err(|source| RunError::Listen { address, source })?;
    let bound = listener.local_addr().map_err(RunError::Serve)?;
    let app = http::app(provider.clone());
    tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, app).await {
            tracing::error!(%error, "the in-process provider emulator stopped");
        }
    });
    Ok(InProcess {
        url: format!("http://{bound}/osmp"),
        provider,
    })
}

/// Listens, announces `listening on http://ADDRESS` as one flushed line on stdout (scripts and
/// tests wait for it), and serves until Ctrl-C or SIGTERM.
pub async fn run(options: Options) -> Result<(), RunError> {
    let provider = Arc::new(Provider::new(&options)?);
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
    {
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "listening on http://{address}").map_err(RunError::Serve)?;
        stdout.flush().map_err(RunError::Serve)?;
    }
    tracing::info!(%address, "provider emulator serving OSMP at /osmp");
    axum::serve(listener, http::app(provider))
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

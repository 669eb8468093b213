//! The steps `main` takes to start and stop the gateway, and what can go wrong on the way.
//!
//! Every failure is a [`StartupError`] whose message is one line a person can act on — which
//! address, which database, what to change — printed by `main` before exiting with status 1,
//! instead of a panic and a backtrace.

use std::{
    io::{self, IsTerminal},
    net::SocketAddr,
    path::PathBuf,
};

use axum::Router;
use sqlx::AnyPool;
use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;

use crate::{config::LogFormat, db::seed::DemoCredentials};

/// Why the gateway could not start (or stopped abnormally).
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// Logging could not be set up (a subscriber was already installed).
    #[error("cannot set up logging: {0}")]
    Logging(String),

    /// The directory for an SQLite file could not be created.
    #[error("cannot open the database {url}: cannot create the directory {}: {source}", path.display())]
    DatabaseDirectory {
        /// The database URL, password redacted.
        url: String,
        /// The directory that could not be created.
        path: PathBuf,
        /// What the operating system said.
        source: io::Error,
    },

    /// The database could not be opened: unreachable server, wrong credentials, a path that
    /// is a directory, a file that is not a database...
    #[error("cannot open the database {url}: {source}")]
    DatabaseOpen {
        /// The database URL, password redacted.
        url: String,
        /// What the driver said.
        source: sqlx::Error,
    },

    /// A migration failed or the applied ones do not match the binary.
    #[error("cannot migrate the database {url}: {source}")]
    Migrate {
        /// The database URL, password redacted.
        url: String,
        /// What went wrong.
        source: sqlx::migrate::MigrateError,
    },

    /// The gateway's signing key could not be read or created.
    #[error("{0}; check --gateway-key-file/TOLEM_GATEWAY_KEY_FILE")]
    GatewayKey(#[from] crate::gateway_key::GatewayKeyError),

    /// The mail settings are not usable (SMTP URL, CA file, sender, mail directory).
    #[error("{0}; check the --smtp-*/--mail-* flags (TOLEM_SMTP_*/TOLEM_MAIL_*)")]
    Mail(#[from] crate::mail::transport::MailConfigError),

    /// The payment service for card bills is misconfigured.
    #[error("{0}; check the --card-* flags (TOLEM_CARD_*)")]
    Card(#[from] crate::card::CardConfigError),

    /// The demo data could not be written.
    #[error("cannot write the demo data: {0}")]
    Seed(#[from] crate::db::seed::SeedError),

    /// Another process already listens on the address.
    #[error(
        "cannot listen on {addr}: the address is already in use (another gateway running?); \
         choose another port with --port or TOLEM_PORT"
    )]
    PortTaken {
        /// `host:port` as configured.
        addr: String,
    },

    /// Any other failure to listen: an unknown host name, a privileged port...
    #[error("cannot listen on {addr}: {source}; check --host/TOLEM_HOST and --port/TOLEM_PORT")]
    Bind {
        /// `host:port` as configured.
        addr: String,
        /// What the operating system said.
        source: io::Error,
    },

    /// The certificate or key for HTTPS cannot be used.
    #[error(
        "{0}; check --tls-cert/--tls-key and --lan-ca-file (TOLEM_TLS_CERT/TOLEM_TLS_KEY/TOLEM_LAN_CA_FILE)"
    )]
    Tls(#[from] crate::tls::TlsError),

    /// The server stopped with an I/O error.
    #[error("the server stopped: {0}")]
    Serve(io::Error),
}

/// Installs the global log subscriber. Logs go to stderr so stdout carries only the banner,
/// which scripts and tests read. `RUST_LOG` sets the level, `info` by default.
pub fn init_tracing(format: LogFormat) -> Result<(), StartupError> {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(io::stderr)
        // Colour codes only help a person at a terminal; in a file or journal they are noise.
        .with_ansi(io::stderr().is_terminal());
    match format {
        LogFormat::Pretty => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    }
    .map_err(|error| StartupError::Logging(error.to_string()))
}

/// Binds the listening socket. Port 0 asks the system for any free port.
pub async fn bind(host: &str, port: u16) -> Result<TcpListener, StartupError> {
    // An IPv6 literal needs brackets to be read back as host:port.
    let addr = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    TcpListener::bind((host, port)).await.map_err(|source| {
        if source.kind() == io::ErrorKind::AddrInUse {
            StartupError::PortTaken { addr }
        } else {
            StartupError::Bind { addr, source }
        }
    })
}

/// The start-up banner for a person at the terminal. The first line is fixed —
/// `Tolem gateway listening on http://HOST:PORT` (`https://` when the gateway serves HTTPS)
/// — because scripts and tests parse it.
pub fn banner(addr: SocketAddr, demo: Option<&DemoCredentials>) -> String {
    banner_with_mail("http", addr, demo, None)
}

/// [`banner`] for `scheme` (`http` or `https`) with a line saying where e-mails go (`mail`:
/// the transport's description).
pub fn banner_with_mail(
    scheme: &str,
    addr: SocketAddr,
    demo: Option<&DemoCredentials>,
    mail: Option<&str>,
) -> String {
    use std::fmt::Write;
    let mut text = String::new();
    let base = format!("{scheme}://{addr}");
    // Writing to a String cannot fail.
    let _ = writeln!(text, "Tolem gateway listening on {base}");
    let _ = writeln!(text, "  App:    {base}/");
    let _ = writeln!(text, "  Health: {base}/api/health");
    let _ = writeln!(
        text,
        "  Console:        {base}/console (operator and dealers)"
    );
    let _ = writeln!(text, "  Verify signed messages: {base}/verify");
    if let Some(mail) = mail {
        let _ = writeln!(text, "  E-mail: {mail}");
    }
    if let Some(demo) = demo {
        let _ = writeln!(
            text,
            "  Demo point:           code {}, password {} (enrols one key; the console's New password gives another)",
            demo.point_code, demo.point_password
        );
        let _ = writeln!(
            text,
            "  Demo dealer admin:    {} / {} (full access)",
            demo.admin_email, demo.admin_password
        );
        let _ = writeln!(
            text,
            "  Demo admin TOTP:      secret {} (RFC 6238: SHA-1, 6 digits, 30 s)",
            demo.admin_totp_secret
        );
        let _ = writeln!(
            text,
            "                        {}",
            crate::totp::otpauth_url(demo.admin_totp_secret, demo.admin_email)
        );
        let _ = writeln!(
            text,
            "  Demo operator:        {} / {} (the processing centre: dealers, money, providers)",
            demo.operator_email, demo.operator_password
        );
        let _ = writeln!(
            text,
            "  Demo operator TOTP:   secret {}",
            demo.operator_totp_secret
        );
        // Last: tests read the banner up to this line.
        let _ = writeln!(
            text,
            "  Demo dealer clerk:    {} / {} (create and view)",
            demo.clerk_email, demo.clerk_password
        );
    }
    text
}

/// Serves `app` until SIGINT or SIGTERM, lets requests in flight finish, then closes the pool.
/// Each request carries the client's socket address (`ConnectInfo`): password attempts are
/// throttled per address.
pub async fn serve(listener: TcpListener, app: Router, pool: AnyPool) -> Result<(), StartupError> {
    let stop = shutdown_signal();
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(stop)
    .await
    .map_err(StartupError::Serve)?;
    pool.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// Serves `app` over HTTPS on `tls` — and, with `redirect`, the plain-HTTP redirect port —
/// until SIGINT or SIGTERM, then as [`serve`]: both stop accepting, requests in flight
/// finish, the pool is closed.
pub async fn serve_tls(
    tls: crate::tls::listener::TlsListener,
    app: Router,
    redirect: Option<(TcpListener, Router)>,
    pool: AnyPool,
) -> Result<(), StartupError> {
    use axum::serve::ListenerExt;
    let (stop, stopped) = tokio::sync::watch::channel(());
    let signal = shutdown_signal();
    tokio::spawn(async move {
        signal.await;
        let _ = stop.send(());
    });
    let until_stopped = |mut stopped: tokio::sync::watch::Receiver<()>| async move {
        // An error means the sender is gone, which also means stop.
        let _ = stopped.changed().await;
    };
    let redirect = redirect.map(|(listener, router)| {
        tokio::spawn(
            axum::serve(listener, router)
                .with_graceful_shutdown(until_stopped(stopped.clone()))
                .into_future(),
        )
    });
    // `tap_io` (doing nothing) only to reach axum's `ConnectInfo<SocketAddr>` for a listener
    // of our own: axum implements it for a tapped listener's address, not for any listener's.
    axum::serve(
        tls.tap_io(|_| ()),
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(until_stopped(stopped))
    .await
    .map_err(StartupError::Serve)?;
    if let Some(redirect) = redirect {
        match redirect.await {
            Ok(result) => result.map_err(StartupError::Serve)?,
            Err(error) => tracing::error!(%error, "the redirect port stopped abnormally"),
        }
    }
    pool.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// Listens for the process being asked to stop — Ctrl-C in a terminal, SIGTERM from systemd,
/// Docker or `kill` — from the moment it is called, and resolves at the first.
///
/// The handlers are installed here, before the gateway accepts a connection, not when the
/// returned future is first polled: axum polls it in a task of its own, which on a busy
/// machine ran after the first requests were answered, and a SIGTERM sent in between met the
/// signal's default action — the process killed at once, requests in flight cut, the pool
/// never closed (`tests/startup.rs` caught it under the test command).
fn shutdown_signal() -> impl Future<Output = ()> {
    #[cfg(unix)]
    let (interrupt, terminate) = {
        use tokio::signal::unix::{SignalKind, signal};
        (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        )
    };
    async move {
        #[cfg(unix)]
        let (ctrl_c, terminate) = (
            received(interrupt, "SIGINT"),
            received(terminate, "SIGTERM"),
        );
        #[cfg(not(unix))]
        let (ctrl_c, terminate) = (
            async {
                if let Err(error) = tokio::signal::ctrl_c().await {
                    tracing::error!(%error, "cannot listen for Ctrl-C");
                    std::future::pending::<()>().await;
                }
            },
            std::future::pending::<()>(),
        );
        let signal = tokio::select! {
            () = ctrl_c => "SIGINT",
            () = terminate => "SIGTERM",
        };
        tracing::info!(signal, "shutting down: finishing requests in flight");
    }
}

/// Resolves when `listening` (a signal's handler, installed already) receives its signal;
/// never, when the handler could not be installed (said once, with `name`).
#[cfg(unix)]
async fn received(listening: std::io::Result<tokio::signal::unix::Signal>, name: &str) {
    match listening {
        Ok(mut stream) => {
            stream.recv().await;
        }
        Err(error) => {
            tracing::error!(%error, "cannot listen for {name}");
            std::future::pending::<()>().await;
        }
    }
}

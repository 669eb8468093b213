//! The steps `main` takes to start and stop the gateway, and what can go wrong on the way.
//!
//! Every failure is a [`StartupError`] whose message is one line a person can act on — which
//! address, which database, what to change — printed by `main` before exiting with status 1,
//! instead of a panic and a backtrace.

use std::{
    io::{self, IsTerminal},
    net::SocketAddr,
    path::PathBuf,
    time::Duration,
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

/// How long a client may take to send a request, beyond which its connection is closed.
///
/// `axum::serve` builds hyper's connections without a timer, and hyper 1 without a timer has
/// no header-read timeout at all: a client that trickles a request line or its headers a byte
/// at a time (slowloris), or announces `Content-Length: 2000000` and trickles the body, held a
/// task and a file descriptor for ever, and enough of them stopped the gateway serving the
/// cashiers' phones, the console and the card pages. So the gateway serves each connection
/// itself (`serve_connections`) with these limits.
///
/// There is deliberately no limit on a whole request: a CSV export streams its rows for as
/// long as it takes, and a payment may wait for its dealer's row or the replay lock. Only the
/// client's own sending is timed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlowClients {
    /// The most an HTTP/1 connection may take to deliver a request's line and headers, from
    /// the moment the gateway starts waiting for them (hyper's `header_read_timeout`; an idle
    /// keep-alive connection is closed after as long). 30 s: a request's headers are well under
    /// 2 KiB, which even a 2G phone (a few KiB/s, a second or two of latency) sends in a few
    /// seconds; browsers reopen a closed keep-alive connection without a word.
    pub header_read: Duration,
    /// The most a request's body may take to arrive, counted from when the handler starts
    /// reading it (so a request waiting for a lock is not charged). 60 s: the largest bodies
    /// the gateway takes are a phone's batch (64 KiB) and a pasted e-mail on the verification
    /// page (256 KiB), which need about 1 and 4.3 KiB/s — a 2G link sends more. Larger bodies
    /// are refused by their size limits long before.
    pub body_read: Duration,
}

impl Default for SlowClients {
    fn default() -> Self {
        SlowClients {
            header_read: Duration::from_secs(30),
            body_read: Duration::from_secs(60),
        }
    }
}

/// Serves `app` until SIGINT or SIGTERM, lets requests in flight finish, then closes the pool.
/// Each request carries the client's socket address (`ConnectInfo`): password attempts are
/// throttled per address. Slow clients are cut off after [`SlowClients::default`].
pub async fn serve(listener: TcpListener, app: Router, pool: AnyPool) -> Result<(), StartupError> {
    serve_with(listener, app, pool, SlowClients::default()).await
}

/// [`serve`] with the given limits for slow clients (the tests use short ones).
pub async fn serve_with(
    listener: TcpListener,
    app: Router,
    pool: AnyPool,
    slow: SlowClients,
) -> Result<(), StartupError> {
    serve_connections(listener, app, slow, shutdown_signal()).await;
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
    serve_tls_with(tls, app, redirect, pool, SlowClients::default()).await
}

/// [`serve_tls`] with the given limits for slow clients. The TLS handshake has its own
/// limit (`tls::listener`).
pub async fn serve_tls_with(
    tls: crate::tls::listener::TlsListener,
    app: Router,
    redirect: Option<(TcpListener, Router)>,
    pool: AnyPool,
    slow: SlowClients,
) -> Result<(), StartupError> {
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
        tokio::spawn(serve_connections(
            listener,
            router,
            slow,
            until_stopped(stopped.clone()),
        ))
    });
    serve_connections(tls, app, slow, until_stopped(stopped)).await;
    if let Some(redirect) = redirect
        && let Err(error) = redirect.await
    {
        tracing::error!(%error, "the redirect port stopped abnormally");
    }
    pool.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// Serves `app` on every connection `listener` accepts until `stop` resolves, then stops
/// accepting (the listener is dropped, the port freed), lets each connection finish the
/// request it is serving (HTTP/1 closes after it, HTTP/2 sends GOAWAY) and returns when all
/// are closed — what `axum::serve` with graceful shutdown did, plus the [`SlowClients`]
/// limits, which need hyper's builder with a timer.
async fn serve_connections<L>(
    mut listener: L,
    app: Router,
    slow: SlowClients,
    stop: impl Future<Output = ()>,
) where
    L: axum::serve::Listener<Addr = SocketAddr>,
{
    use hyper_util::{
        rt::{TokioExecutor, TokioIo, TokioTimer},
        server::{conn::auto, graceful::GracefulShutdown},
        service::TowerToHyperService,
    };
    use tower::ServiceExt;

    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(slow.header_read);
    // As `axum::serve`: the CONNECT protocol (RFC 8441) for HTTP/2.
    builder
        .http2()
        .timer(TokioTimer::new())
        .enable_connect_protocol();
    let connections = GracefulShutdown::new();
    let mut stop = std::pin::pin!(stop);
    loop {
        // `accept` waits out errors such as running out of file descriptors itself.
        let (io, peer) = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut stop => break,
        };
        let service = app.clone().map_request(
            move |request: axum::extract::Request<hyper::body::Incoming>| {
                let mut request = request
                    .map(|body| axum::body::Body::new(BodyDeadline::new(body, slow.body_read)));
                // What `into_make_service_with_connect_info` gave each request.
                request
                    .extensions_mut()
                    .insert(axum::extract::ConnectInfo(peer));
                request
            },
        );
        let connection = builder
            .serve_connection_with_upgrades(TokioIo::new(io), TowerToHyperService::new(service))
            .into_owned();
        let connection = connections.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%peer, %error, "connection ended with an error");
            }
        });
    }
    drop(listener);
    connections.shutdown().await;
}

/// A request body that fails once it has taken longer than `limit` to arrive, counted from
/// the first time it is read ([`SlowClients::body_read`]). hyper has no such limit, and
/// tower-http's `RequestBodyTimeoutLayer` restarts its clock at every chunk, so a body sent a
/// byte a second would never end.
struct BodyDeadline<B> {
    body: B,
    limit: Duration,
    deadline: Option<std::pin::Pin<Box<tokio::time::Sleep>>>,
}

impl<B> BodyDeadline<B> {
    fn new(body: B, limit: Duration) -> Self {
        BodyDeadline {
            body,
            limit,
            deadline: None,
        }
    }
}

/// The error a [`BodyDeadline`] body ends with.
#[derive(Debug, thiserror::Error)]
#[error("the request body took longer than {0:?} to arrive")]
struct BodyTooSlow(Duration);

impl<B> http_body::Body for BodyDeadline<B>
where
    B: http_body::Body + Unpin,
    B::Error: Into<axum::BoxError>,
{
    type Data = B::Data;
    type Error = axum::BoxError;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        use std::task::Poll;
        let this = &mut *self;
        if let Poll::Ready(frame) = std::pin::Pin::new(&mut this.body).poll_frame(cx) {
            return Poll::Ready(frame.map(|frame| frame.map_err(Into::into)));
        }
        let limit = this.limit;
        let deadline = this
            .deadline
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        match deadline.as_mut().poll(cx) {
            Poll::Ready(()) => {
                tracing::info!(?limit, "request body too slow: connection closed");
                Poll::Ready(Some(Err(BodyTooSlow(limit).into())))
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
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

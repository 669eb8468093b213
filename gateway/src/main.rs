//! The `tolem-gateway` binary: boots the library (or runs one of its maintenance commands)
//! and nothing else.

use std::{process::ExitCode, sync::Arc, time::Duration};

use clap::Parser;
use tolem_gateway::{
    AppState, Config, StartupError, app,
    audit::chain,
    card, cli,
    config::{Command, OperatorCommand, ProviderCommand},
    db::{self, now_ms, seed},
    delivery::{self, DeliveryQueue},
    gateway_key::GatewayKey,
    jobs, lan,
    mail::{self, MailQueue, MailSettings, transport::Transport, worker},
    payments::group::HeldDealers,
    startup,
    tls::{CA_PATH, listener::TlsListener},
    users,
    web::client_ip::TrustedProxies,
};

/// See Cargo.toml: the gateway allocates per request and per statement, across threads.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let config = Config::parse();
    match config.command {
        Some(Command::VerifyAudit) => return verify_audit(&config).await,
        Some(Command::PurgeAudit) => return purge_audit(&config).await,
        Some(Command::Operator(OperatorCommand::Add { ref email })) => {
            return cli::operator_add(&config, email).await;
        }
        Some(Command::Provider(ProviderCommand::Connect {
            ref provider,
            ref url,
            ref protocol,
            ref username,
            ref password_env,
            timeout_ms,
            ref ca_cert,
            in_flight_max,
        })) => {
            let settings = cli::ConnectSettings {
                provider: provider.clone(),
                url: url.clone(),
                protocol: protocol.clone(),
                username: username.clone(),
                password_env: password_env.clone(),
                timeout_ms,
                ca_cert: ca_cert.clone(),
                in_flight_max,
            };
            return cli::provider_connect(&config, settings).await;
        }
        Some(Command::Provider(ProviderCommand::Registry {
            ref provider,
            ref day,
            ref compare,
        })) => return cli::provider_registry(&config, provider, day, compare.as_deref()).await,
        Some(Command::LanCertificate { ref dir, ref ips }) => {
            return cli::lan_certificate(dir, ips);
        }
        None => {}
    }
    match run(config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // One line a person can act on, not a backtrace.
            eprintln!("tolem-gateway: {}", error.to_string().replace('\n', " "));
            ExitCode::FAILURE
        }
    }
}

/// Config → logging → mail settings → database → demo data → gateway key → socket → mail
/// and provider delivery workers → serve until a signal.
async fn run(config: Config) -> Result<(), StartupError> {
    startup::init_tracing(config.log_format)?;
    let shown_url = db::redact_url(&config.database_url);
    tracing::info!(version = env!("CARGO_PKG_VERSION"), database = %shown_url, "starting");
    // Checked before anything else is touched: a typo in the SMTP URL stops the start at once.
    let mail_settings = MailSettings::from_config(&config)?;
    let mut card_payments = card::from_config(&config)?;
    let transport = Transport::open(&mail_settings.transport)?;

    let pool = db::connect(&config.database_url).await?;
    let health_pool = db::connect_health(&config.database_url).await?;
    db::migrate(&pool, &config.database_url).await?;
    let demo = if config.demo {
        let demo = seed::seed_demo(&pool).await?;
        if let Some(url) = config
            .demo_provider_url
            .as_deref()
            .filter(|u| !u.is_empty())
        {
            seed::connect_demo_providers(&pool, url).await?;
        }
        Some(demo)
    } else {
        None
    };

    let gateway_key = GatewayKey::load_or_create(&config.gateway_key_file)?;
    tracing::info!(public_key = %gateway_key.public_key(), "gateway key loaded");

    // Read before binding: a wrong certificate path stops the start with nothing listening.
    let tls = match (&config.tls_cert, &config.tls_key) {
        (Some(cert), Some(key)) => Some(tolem_gateway::tls::server_config(cert, key)?),
        _ => None,
    };
    let lan_ca = match &config.lan_ca_file {
        Some(path) => Some(tolem_gateway::tls::ca_der(path)?),
        None => None,
    };
    let listener = startup::bind(&config.host, config.port).await?;
    let redirect_listener = match config.http_redirect_port.filter(|_| tls.is_some()) {
        Some(port) => Some(startup::bind(&config.host, port).await?),
        None => None,
    };
    // Catches up on commission days and audit retention at once, then keeps them up.
    let (jobs_pool, purge) = (pool.clone(), !config.no_audit_purge);
    jobs::supervise("daily jobs", move || jobs::spawn(jobs_pool.clone(), purge));
    let addr = listener.local_addr().map_err(StartupError::Serve)?;
    card_payments.set_public_url(config.public_url.as_deref(), addr, tls.is_some())?;
    let card_payments = Arc::new(card_payments);
    let own_url = tls.as_ref().map(|_| format!("https://{addr}"));
    let mail_queue = Arc::new(MailQueue::new(mail::verify_url(
        config.public_url.as_deref().or(own_url.as_deref()),
        addr,
    )));
    // Letters carry the verification page's address to people elsewhere: an address only this
    // machine can open is a link they cannot follow.
    if matches!(transport, Transport::Smtp { .. })
        && config.public_url.is_none()
        && (addr.ip().is_loopback() || addr.ip().is_unspecified())
    {
        tracing::warn!(
            verify_url = %mail_queue.verify_url(),
            "letters sent by SMTP link to an address their recipients cannot open: set --public-url"
        );
    }
    let shown_transport = transport.describe();
    let mail_worker = worker::Worker {
        pool: pool.clone(),
        queue: mail_queue.clone(),
        transport,
        from: mail_settings.from,
        retry: worker::RetryPolicy::default(),
    };
    jobs::supervise("mail delivery", move || mail_worker.clone().spawn());
    let delivery_queue = Arc::new(DeliveryQueue::default());
    let mut delivery_worker = delivery::worker::Worker::new(pool.clone(), delivery_queue.clone());
    delivery_worker.retry.first_delay = Duration::from_millis(config.delivery_first_retry_ms);
    delivery_worker.retry.lease = Duration::from_millis(config.delivery_lease_ms);
    delivery_worker.retry.parallel = config.delivery_in_flight;
    delivery_worker.retry.per_provider = config.delivery_in_flight_per_provider;
    jobs::supervise("provider delivery", move || delivery_worker.clone().spawn());
    let refund_worker = card::refund::Worker::new(pool.clone(), card_payments.clone());
    jobs::supervise("card refunds", move || refund_worker.clone().spawn());
    let state = AppState::new(pool.clone(), &config.dist, gateway_key)
        .with_health_pool(health_pool)
        .with_card_payments(card_payments.clone())
        .with_secure_cookies(config.secure_cookies)
        .with_https(tls.is_some())
        .with_lan_ca(lan_ca.clone())
        .with_metrics_token(config.metrics_token.clone())
        .with_trusted_proxies(
            config
                .trusted_proxies
                .iter()
                .cloned()
                .collect::<TrustedProxies>(),
        )
        .with_mail_queue(mail_queue)
        .with_delivery_queue(delivery_queue);
    let dealer_wait = Duration::from_millis(config.dealer_lock_wait_ms);
    state.payments.wait_for_held_dealers(HeldDealers {
        wait: dealer_wait,
        patience: dealer_wait,
    });
    let scheme = if tls.is_some() { "https" } else { "http" };
    let mut banner = startup::banner_with_mail(scheme, addr, demo.as_ref(), Some(&shown_transport));
    if let Some(url) = config
        .demo_provider_url
        .as_deref()
        .filter(|u| config.demo && !u.is_empty())
    {
        banner +=
            &format!("  Providers:      the demo providers' payments are delivered to {url}\n");
    }
    if let Some(service) = &card_payments.service {
        banner += &format!(
            "  Card payments:  through {} (bills payable for {} min)\n",
            service.kind().name(),
            config.bill_lifetime_min
        );
    }
    let redirect_addr = match &redirect_listener {
        Some(listener) => Some(listener.local_addr().map_err(StartupError::Serve)?),
        None => None,
    };
    if let Some(redirect) = redirect_addr {
        banner += &format!("  Plain HTTP:     http://{redirect} redirects to HTTPS\n");
    }
    if let Some(ca) = &lan_ca {
        banner += &phone_banner(&config, addr, redirect_addr, ca);
    }
    if users::operator_users(&pool).await.unwrap_or(1) == 0 {
        banner += "  No operator user yet: create the first with `tolem-gateway operator add --email …`\n";
    }
    // One write, and a closed standard output (a supervisor that read the first line and went
    // away) is no reason to stop serving: `print!` would panic on it.
    {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(banner.as_bytes()).and_then(|()| out.flush());
    }
    tracing::info!("listening on {scheme}://{addr}");

    match tls {
        Some(tls) => {
            let tls = TlsListener::new(listener, tls).map_err(StartupError::Serve)?;
            let redirect = redirect_listener.map(|listener| {
                let router = tolem_gateway::tls::redirect::router(
                    addr.port(),
                    lan_ca.map(std::sync::Arc::from),
                );
                (listener, router)
            });
            startup::serve_tls(tls, app(state), redirect, pool).await
        }
        None => startup::serve(listener, app(state), pool).await,
    }
}

/// The banner's part for phones: the app's address on this network (`--public-url`, which
/// `run.sh --lan` sets to this machine's LAN address) as a QR code, and how to trust the local
/// certificate authority, downloaded from the plain redirect port when there is one.
fn phone_banner(
    config: &Config,
    addr: std::net::SocketAddr,
    redirect: Option<std::net::SocketAddr>,
    ca_der: &[u8],
) -> String {
    use std::io::IsTerminal;
    let app_url = match config.public_url.as_deref() {
        Some(url) if !url.is_empty() => format!("{}/", url.trim_end_matches('/')),
        _ => format!("https://{addr}/"),
    };
    let host = url::Url::parse(&app_url)
        .ok()
        .and_then(|url| url.host_str().map(str::to_owned))
        .unwrap_or_else(|| addr.ip().to_string());
    let ca_url = match redirect {
        Some(redirect) => format!("http://{host}:{}{CA_PATH}", redirect.port()),
        None => format!("{}{}", app_url.trim_end_matches('/'), CA_PATH),
    };
    lan::phone::PhoneBanner {
        app_url: &app_url,
        ca_url: &ca_url,
        ca_fingerprint: &lan::certificate::fingerprint(ca_der),
        colour: std::io::stdout().is_terminal(),
    }
    .render()
}

/// `tolem-gateway verify-audit`: 0 intact, 1 broken (naming the row), 2 unreadable.
async fn verify_audit(config: &Config) -> ExitCode {
    let url = db::redact_url(&config.database_url);
    let pool = match db::connect(&config.database_url).await {
        Ok(pool) => pool,
        Err(error) => {
            eprintln!("tolem-gateway: {}", error.to_string().replace('\n', " "));
            return ExitCode::from(2);
        }
    };
    let verified = chain::verify(&pool).await;
    pool.close().await;
    match verified {
        Ok(v) => {
            println!(
                "audit chain OK: {} rows verified (seq {} to {}), head hash {}, database {url}",
                v.rows,
                (v.anchor_seq + 1).min(v.head_seq),
                v.head_seq,
                v.head_hash
            );
            ExitCode::SUCCESS
        }
        Err(chain::ChainError::Broken(broken)) => {
            eprintln!(
                "tolem-gateway: audit chain BROKEN at seq {}: {broken}",
                broken.seq()
            );
            ExitCode::FAILURE
        }
        Err(error) => {
            eprintln!("tolem-gateway: {error}");
            ExitCode::from(2)
        }
    }
}

/// `tolem-gateway purge-audit`: deletes audit rows past their 5 years.
async fn purge_audit(config: &Config) -> ExitCode {
    let pool = match db::connect(&config.database_url).await {
        Ok(pool) => pool,
        Err(error) => {
            eprintln!("tolem-gateway: {}", error.to_string().replace('\n', " "));
            return ExitCode::from(2);
        }
    };
    let purged = chain::purge_expired(&pool, now_ms()).await;
    pool.close().await;
    match purged {
        Ok(rows) => {
            println!("audit rows older than 5 years deleted: {rows}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("tolem-gateway: {error}");
            ExitCode::FAILURE
        }
    }
}

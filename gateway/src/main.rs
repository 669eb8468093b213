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
    jobs,
    mail::{self, MailQueue, MailSettings, transport::Transport, worker},
    startup, users,
    web::client_ip::TrustedProxies,
};

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
        })) => {
            let settings = cli::ConnectSettings {
                provider: provider.clone(),
                url: url.clone(),
                protocol: protocol.clone(),
                username: username.clone(),
                password_env: password_env.clone(),
                timeout_ms,
                ca_cert: ca_cert.clone(),
            };
            return cli::provider_connect(&config, settings).await;
        }
        Some(Command::Provider(ProviderCommand::Registry {
            ref provider,
            ref day,
            ref compare,
        })) => return cli::provider_registry(&config, provider, day, compare.as_deref()).await,
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
    let card_payments = Arc::new(card::from_config(&config)?);
    let transport = Transport::open(&mail_settings.transport)?;

    let pool = db::connect(&config.database_url).await?;
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

    let listener = startup::bind(&config.host, config.port).await?;
    // Catches up on commission days and audit retention at once, then keeps them up.
    jobs::spawn(pool.clone(), !config.no_audit_purge);
    let addr = listener.local_addr().map_err(StartupError::Serve)?;
    let mail_queue = Arc::new(MailQueue::new(mail::verify_url(
        config.public_url.as_deref(),
        addr,
    )));
    let shown_transport = transport.describe();
    worker::Worker {
        pool: pool.clone(),
        queue: mail_queue.clone(),
        transport,
        from: mail_settings.from,
        retry: worker::RetryPolicy::default(),
    }
    .spawn();
    let delivery_queue = Arc::new(DeliveryQueue::default());
    let mut delivery_worker = delivery::worker::Worker::new(pool.clone(), delivery_queue.clone());
    delivery_worker.retry.first_delay = Duration::from_millis(config.delivery_first_retry_ms);
    delivery_worker.retry.lease = Duration::from_millis(config.delivery_lease_ms);
    delivery_worker.spawn();
    card::refund::Worker::new(pool.clone(), card_payments.clone()).spawn();
    let state = AppState::new(pool.clone(), &config.dist, gateway_key)
        .with_card_payments(card_payments.clone())
        .with_secure_cookies(config.secure_cookies)
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
    let mut banner = startup::banner_with_mail(addr, demo.as_ref(), Some(&shown_transport));
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
    tracing::info!("listening on http://{addr}");

    startup::serve(listener, app(state), pool).await
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

//! The `tolem-gateway` binary: boots the library and nothing else.

use std::process::ExitCode;

use clap::Parser;
use tolem_gateway::{
    AppState, Config, StartupError, app,
    db::{self, seed},
    gateway_key::GatewayKey,
    startup,
};

#[tokio::main]
async fn main() -> ExitCode {
    let config = Config::parse();
    match run(config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // One line a person can act on, not a backtrace.
            eprintln!("tolem-gateway: {}", error.to_string().replace('\n', " "));
            ExitCode::FAILURE
        }
    }
}

/// Config → logging → database → demo data → gateway key → socket → serve until a signal.
async fn run(config: Config) -> Result<(), StartupError> {
    startup::init_tracing(config.log_format)?;
    let shown_url = db::redact_url(&config.database_url);
    tracing::info!(version = env!("CARGO_PKG_VERSION"), database = %shown_url, "starting");

    let pool = db::connect(&config.database_url).await?;
    db::migrate(&pool, &config.database_url).await?;
    let demo = if config.demo {
        Some(seed::seed_demo(&pool).await?)
    } else {
        None
    };

    let gateway_key = GatewayKey::load_or_create(&config.gateway_key_file)?;
    tracing::info!(public_key = %gateway_key.public_key(), "gateway key loaded");

    let listener = startup::bind(&config.host, config.port).await?;
    let addr = listener.local_addr().map_err(StartupError::Serve)?;
    let state = AppState::new(pool.clone(), &config.dist, gateway_key)
        .with_secure_cookies(config.secure_cookies);
    print!("{}", startup::banner(addr, demo.as_ref()));
    tracing::info!("listening on http://{addr}");

    startup::serve(listener, app(state), pool).await
}

//! TipTop Pay and Robokassa for tests and demos; see `tolem_card_payments::emulator`.

use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> ExitCode {
    // Logs go to stderr: stdout carries only the "listening on" line scripts read.
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    let options = tolem_card_payments::emulator::Options::parse();
    match tolem_card_payments::emulator::run(options).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("tolem-card-emulator: {error}");
            ExitCode::FAILURE
        }
    }
}

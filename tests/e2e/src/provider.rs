//! A provider (Kcell, Alseco…) as the gateway reaches it: the real OSMP emulator of
//! `tolem-providers`, served over real HTTP on 127.0.0.1 from the test process.

/// A running provider emulator (`url`, and its state in `provider`); it stops with the test's
/// runtime.
pub use tolem_providers::emulator::InProcess as ProviderEmulator;

/// Starts one with the binary's command-line `args` (`--open`, `--missing N`, faults…).
pub async fn start_provider(args: &[&str]) -> ProviderEmulator {
    tolem_providers::emulator::start_in_process(args)
        .await
        .expect("a provider emulator")
}

/// A payment service (TipTop Pay, Robokassa) as the gateway reaches it: the real emulator of
/// `tolem-card-payments`, with its hosted card page and 3-D Secure, served over real HTTP on
/// 127.0.0.1 from the test process.
pub use tolem_card_payments::emulator::InProcess as CardService;

/// Starts one, re-sending unanswered notifications quickly.
pub async fn start_card_service() -> CardService {
    tolem_card_payments::emulator::start_in_process(&[
        "--retry-base-ms",
        "100",
        "--retry-max-ms",
        "500",
    ])
    .await
    .expect("a payment-service emulator")
}

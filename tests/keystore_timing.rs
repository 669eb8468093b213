//! Measures, in the real browser, how long a cashier waits for the two slow steps of the point
//! key: making it (random seed, PBKDF2 with the production iteration count, AES-GCM, IndexedDB)
//! and unlocking it at the start of a shift. Prints the times (run with `--nocapture`); asserts
//! nothing about them, since they depend on the machine.
#![cfg(target_arch = "wasm32")]

mod support;

use support::card::sample_card;
use support::forget_key;
use tolem::crypto::KDF_ITERATIONS;
use tolem::storage::keystore;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

const ROUNDS: usize = 3;

fn now_ms() -> f64 {
    leptos::prelude::window().performance().unwrap().now()
}

fn summary(times: &[f64]) -> String {
    let list: Vec<String> = times.iter().map(|t| format!("{t:.0}")).collect();
    let mean = times.iter().sum::<f64>() / times.len() as f64;
    format!("{} ms (mean {mean:.0} ms)", list.join(", "))
}

#[wasm_bindgen_test]
async fn key_generation_and_unlock_times() {
    let card = sample_card();
    let mut generation = Vec::new();
    let mut unlock = Vec::new();
    for _ in 0..ROUNDS {
        forget_key().await;
        let started = now_ms();
        keystore::create(&card, "timing-passphrase").await.unwrap();
        generation.push(now_ms() - started);

        let started = now_ms();
        keystore::unlock("timing-passphrase").await.unwrap();
        unlock.push(now_ms() - started);
    }
    forget_key().await;
    console_log!(
        "PBKDF2-SHA256 {KDF_ITERATIONS} iterations + AES-256-GCM, headless Chromium:\n  key generation + encryption + storing: {}\n  unlock (read + PBKDF2 + decrypt): {}",
        summary(&generation),
        summary(&unlock)
    );
}

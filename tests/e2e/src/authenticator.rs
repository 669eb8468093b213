//! A console user's authenticator app: RFC 6238 codes from a secret — the demo dealer admin's,
//! which the gateway prints in its `--demo` banner, or one read off the enrolment page.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use totp_rs::{Algorithm, Secret, TOTP};

/// The demo admin's TOTP secret (base32), as the `--demo` banner prints it.
pub const DEMO_ADMIN_SECRET: &str = "TOLEMDEMOADMINTOTPSECRETKZ234567";
const STEP_S: u64 = 30;

/// Gives one-time codes the way a person would use them: a code is accepted once, so a second
/// confirmation within the same 30 seconds takes the next step's code (the gateway allows one step
/// of skew), and a third waits for the clock.
pub struct Authenticator {
    totp: TOTP,
    last_step: Option<u64>,
}

impl Authenticator {
    pub fn demo_admin() -> Authenticator {
        Authenticator::new(DEMO_ADMIN_SECRET)
    }

    /// The app after scanning `secret` (base32, spaces allowed, as the enrolment page shows it).
    pub fn new(secret: &str) -> Authenticator {
        let secret: String = secret.split_whitespace().collect();
        let secret = Secret::Encoded(secret).to_bytes().expect("base32 secret");
        let totp = TOTP::new_unchecked(Algorithm::SHA1, 6, 1, STEP_S, secret);
        Authenticator {
            totp,
            last_step: None,
        }
    }

    /// Lets the next code be the previous step's, when at least ten seconds of the current step
    /// remain (the gateway accepts one step of skew either way): a test that needs three
    /// confirmations in a row then needs no wait for the clock.
    pub fn start_one_step_back(&mut self) {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let current = now / STEP_S;
        let left = (current + 1) * STEP_S - now;
        if left >= 10 && self.last_step.is_none() {
            self.last_step = Some(current - 2);
        }
    }

    /// A code that has not been used yet.
    pub async fn next_code(&mut self) -> String {
        loop {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_secs();
            let current = now / STEP_S;
            let step = match self.last_step {
                // Set by `start_one_step_back`: the previous step's code, still valid.
                Some(last) if last == current - 2 => current - 1,
                Some(last) => current.max(last + 1),
                None => current,
            };
            if step <= current + 1 {
                self.last_step = Some(step);
                return self.totp.generate(step * STEP_S);
            }
            let wait = (current + 1) * STEP_S - now;
            tokio::time::sleep(Duration::from_secs(wait)).await;
        }
    }
}

//! The dealer's balance and the point's remaining limits (manual §15): asked with the signed
//! `balance` step, kept on the phone with the time it came, and shared through context so the
//! screen follows a refresh made elsewhere (after each accepted payment). The answer also
//! carries the point's offline limits as the dealer has them now, which replace the key card's,
//! and the dealer's legal details for the receipts.

use leptos::prelude::*;
use leptos::task::spawn_local;
use tolem_protocol::messages::{Outcome, Step};

use crate::api::{ApiError, Unclear};
use crate::session::{KeySession, SignedStepError};
use crate::storage::balance::{self as stored, StoredBalance};
use crate::task::spawn_in_own_task;

/// The last balance known (tracked through context).
#[derive(Clone, Copy)]
pub struct Balance(pub RwSignal<Option<StoredBalance>>);

/// Provides [`Balance`], filled from the phone's copy.
pub fn provide_balance() -> Balance {
    let balance = Balance(RwSignal::new(None));
    provide_context(balance);
    spawn_in_own_task(async move {
        if let Ok(Some(kept)) = stored::load().await {
            // A fresher one may have come meanwhile.
            if balance.0.get_untracked().is_none() {
                balance.0.set(Some(kept));
            }
        }
    });
    balance
}

pub fn use_balance() -> Balance {
    expect_context::<Balance>()
}

impl Balance {
    /// Asks the gateway now (the key must be unlocked), keeps and shows the answer.
    pub async fn check(self, session: KeySession) -> Result<StoredBalance, SignedStepError> {
        let response = session.send(Step::Balance).await?;
        let Some(Outcome::Balance(info)) = response.outcome else {
            return Err(SignedStepError::Api(ApiError::Unclear(
                Unclear::NotAnAnswer,
            )));
        };
        if let Some(limits) = &info.offline {
            session.follow_offline_limits(limits).await;
        }
        if let Some(details) = &info.dealer {
            session.follow_dealer_details(details).await;
        }
        let fresh = StoredBalance {
            info,
            fetched_at_ms: js_sys::Date::now() as i64,
        };
        if let Err(error) = stored::save(&fresh).await {
            leptos::logging::warn!("could not keep the balance: {error}");
        }
        self.0.set(Some(fresh.clone()));
        Ok(fresh)
    }

    /// Refreshes in the background when the key is unlocked (after a payment the balance
    /// shown should be the new one); failures leave the old figure, with its time.
    pub fn refresh_quietly(self, session: KeySession) {
        if session.is_unlocked_untracked() {
            spawn_local(async move {
                let _ = self.check(session).await;
            });
        }
    }
}

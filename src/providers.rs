//! The provider catalogue the app works with: the copy kept on the phone, shown at once (also
//! offline), and refreshed from the gateway on start, when the connection comes back and when
//! the cashier opens the provider list.

use leptos::prelude::*;
use tolem_protocol::providers::{Catalogue, ProviderInfo};

use crate::api::ApiError;
use crate::api::catalogue::{Fetched, fetch};
use crate::connection::{Connection, use_connection};
use crate::storage::catalogue::{self as stored, StoredCatalogue};
use crate::storage::keystore;
use crate::task::spawn_in_own_task;

/// The catalogue, shared through context. Cheap to copy.
#[derive(Clone, Copy)]
pub struct Providers {
    catalogue: RwSignal<Option<Catalogue>>,
    /// Whether the phone's copy has been read yet (until then "none" is not known).
    loaded: RwSignal<bool>,
    refreshing: RwSignal<bool>,
    /// Why the last refresh failed, if it did.
    error: RwSignal<Option<ApiError>>,
    /// When the gateway last confirmed the catalogue (UTC ms).
    checked_at_ms: RwSignal<Option<i64>>,
    etag: StoredValue<Option<String>>,
}

impl Providers {
    fn new() -> Providers {
        Providers {
            catalogue: RwSignal::new(None),
            loaded: RwSignal::new(false),
            refreshing: RwSignal::new(false),
            error: RwSignal::new(None),
            checked_at_ms: RwSignal::new(None),
            etag: StoredValue::new(None),
        }
    }

    /// Every provider (tracked), in the catalogue's order; empty without a catalogue.
    pub fn list(&self) -> Vec<ProviderInfo> {
        self.catalogue
            .with(|c| c.as_ref().map(|c| c.providers.clone()).unwrap_or_default())
    }

    /// Whether there is a catalogue at all (tracked).
    pub fn has_catalogue(&self) -> bool {
        self.catalogue.with(Option::is_some)
    }

    /// The provider with `code` (tracked).
    pub fn find(&self, code: &str) -> Option<ProviderInfo> {
        self.catalogue.with(|c| {
            c.as_ref()
                .and_then(|c| c.providers.iter().find(|p| p.code == code).cloned())
        })
    }

    /// Whether the phone's copy has been read (tracked).
    pub fn is_loaded(&self) -> bool {
        self.loaded.get()
    }

    /// Whether a refresh is under way (tracked).
    pub fn is_refreshing(&self) -> bool {
        self.refreshing.get()
    }

    /// Why the last refresh failed (tracked).
    pub fn error(&self) -> Option<ApiError> {
        self.error.get()
    }

    /// When the gateway last confirmed the catalogue (tracked).
    pub fn checked_at_ms(&self) -> Option<i64> {
        self.checked_at_ms.get()
    }

    /// Asks the gateway for a newer catalogue, in the background.
    ///
    /// Called after awaits too (once the phone's copy is read): an app closed meanwhile (its
    /// signals gone) has no catalogue to refresh, so nothing is asked.
    pub fn refresh(self) {
        if self.refreshing.try_get_untracked() != Some(false) {
            return;
        }
        self.refreshing.set(true);
        spawn_in_own_task(async move {
            self.refresh_now().await;
            self.refreshing.set(false);
        });
    }

    async fn refresh_now(self) {
        // The card's gateway key vouches for the catalogue; a phone without a key yet browses
        // it unverified (see `api::catalogue::fetch`).
        let card = keystore::load()
            .await
            .ok()
            .flatten()
            .map(|record| record.card);
        // The key store was read meanwhile: the app may be gone, and its etag with it.
        let Some(etag) = self.etag.try_get_value() else {
            return;
        };
        let now = js_sys::Date::now() as i64;
        match fetch(etag.as_deref(), card.as_ref()).await {
            Ok(Fetched::NotModified) => {
                self.error.set(None);
                self.checked_at_ms.set(Some(now));
                if let Ok(Some(mut kept)) = stored::load().await {
                    kept.checked_at_ms = now;
                    let _ = stored::save(&kept).await;
                }
            }
            Ok(Fetched::Changed {
                catalogue,
                body,
                etag,
            }) => {
                self.error.set(None);
                let kept = StoredCatalogue {
                    etag: etag.clone(),
                    body,
                    checked_at_ms: now,
                };
                if let Err(error) = stored::save(&kept).await {
                    leptos::logging::warn!("could not keep the catalogue: {error}");
                }
                self.etag.set_value(etag);
                self.checked_at_ms.set(Some(now));
                self.catalogue.set(Some(catalogue));
            }
            Err(error) => self.error.set(Some(error)),
        }
    }

    async fn load(self) {
        if let Ok(Some(kept)) = stored::load().await
            && let Some(catalogue) = kept.catalogue()
        {
            self.etag.set_value(kept.etag.clone());
            self.checked_at_ms.set(Some(kept.checked_at_ms));
            self.catalogue.set(Some(catalogue));
        }
        self.loaded.set(true);
    }
}

/// Reads the phone's copy, refreshes it from the gateway, and refreshes again whenever the
/// connection comes back. Call below [`crate::connection::provide_connection`].
pub fn provide_providers() -> Providers {
    let providers = Providers::new();
    provide_context(providers);
    spawn_in_own_task(async move {
        providers.load().await;
        providers.refresh();
    });
    let connection = use_connection();
    // Keeping the catalogue in step with the gateway when the network returns is what effects
    // are for; the first run (on start) is covered by the refresh above.
    Effect::new(move |was: Option<Connection>| {
        let now = connection.get();
        if was == Some(Connection::Offline)
            && now == Connection::Online
            && providers.loaded.get_untracked()
        {
            providers.refresh();
        }
        now
    });
    providers
}

/// The app's catalogue.
pub fn use_providers() -> Providers {
    expect_context::<Providers>()
}

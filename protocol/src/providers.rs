//! The provider catalogue: who a point can pay, and what their numbers and amounts look like.
//! The gateway serves it at `GET /api/v1/providers`; the phone keeps a copy for offline use.

use serde::{Deserialize, Serialize};

use crate::account::{AccountError, AccountKind, AccountRule};
use crate::messages::{DecodeError, Message};
use crate::signing::MAX_CATALOGUE_BYTES;

/// The catalogue's sections, as the cashier browses them.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProviderGroup {
    Mobile,
    Internet,
    Utilities,
}

crate::read_by_name!(ProviderGroup {
    Mobile = "mobile",
    Internet = "internet",
    Utilities = "utilities",
});

/// One provider.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderInfo {
    pub code: String,
    pub name: String,
    /// A few characters shown where a logo would be (no images: every byte counts offline).
    pub short_label: String,
    pub group: ProviderGroup,
    pub account_kind: AccountKind,
    /// See [`crate::account`].
    pub account_rule: String,
    pub min_tiyn: i64,
    pub max_tiyn: i64,
}

impl ProviderInfo {
    /// Normalises what the cashier typed and checks it against this provider's rule.
    pub fn check_account(&self, typed: &str) -> Result<String, AccountError> {
        let number = AccountRule::normalize(self.account_kind, typed)?;
        // The gateway sends no rule it cannot read itself (it refuses that provider's payments
        // with 914). One this app cannot read — a newer app's syntax reaching an older app —
        // accepts any digits: the gateway checks again, so the cashier is not blocked by it.
        if let Ok(rule) = self.account_rule.parse::<AccountRule>() {
            rule.check(&number)?;
        }
        Ok(number)
    }

    /// Whether `amount_tiyn` (credited to the provider) is within the provider's range.
    pub fn accepts_amount(&self, amount_tiyn: i64) -> bool {
        (self.min_tiyn..=self.max_tiyn).contains(&amount_tiyn)
    }
}

/// The whole catalogue.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Catalogue {
    pub v: u16,
    pub providers: Vec<ProviderInfo>,
    /// When the gateway's catalogue last changed (UTC milliseconds).
    pub updated_at_ms: i64,
}

impl Message for Catalogue {
    const MAX_BYTES: usize = MAX_CATALOGUE_BYTES;

    fn version(&self) -> u16 {
        self.v
    }
    fn validate(&self) -> Result<(), DecodeError> {
        Ok(())
    }
}

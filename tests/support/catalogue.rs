//! A provider catalogue as the gateway serves it (the demo providers' real Kazakh rules), kept
//! on the phone the way the app keeps the one it downloads — so pages that need providers work
//! in the browser tests, where there is no gateway.

use tolem::storage::catalogue::{self, StoredCatalogue};
use tolem_protocol::PROTOCOL_VERSION;
use tolem_protocol::account::AccountKind;
use tolem_protocol::messages::Message;
use tolem_protocol::providers::{Catalogue, ProviderGroup, ProviderInfo};

fn provider(
    code: &str,
    name: &str,
    label: &str,
    group: ProviderGroup,
    kind: AccountKind,
    rule: &str,
    max_tiyn: i64,
) -> ProviderInfo {
    ProviderInfo {
        code: code.into(),
        name: name.into(),
        short_label: label.into(),
        group,
        account_kind: kind,
        account_rule: rule.into(),
        min_tiyn: 100_00,
        max_tiyn,
    }
}

pub fn sample_catalogue() -> Catalogue {
    use AccountKind::{Account, Phone};
    use ProviderGroup::{Internet, Mobile, Utilities};
    Catalogue {
        v: PROTOCOL_VERSION,
        providers: vec![
            provider(
                "beeline",
                "Beeline",
                "Beeline",
                Mobile,
                Phone,
                "digits=10;prefixes=705,771,776,777",
                500_000_00,
            ),
            provider(
                "kcell",
                "Kcell",
                "Kcell",
                Mobile,
                Phone,
                "digits=10;prefixes=701,702,775,778",
                500_000_00,
            ),
            provider(
                "tele2",
                "Tele2",
                "Tele2",
                Mobile,
                Phone,
                "digits=10;prefixes=707,747",
                500_000_00,
            ),
            provider(
                "kazakhtelecom",
                "Казахтелеком — домашний интернет",
                "Казахтелеком",
                Internet,
                Account,
                "digits=10",
                500_000_00,
            ),
            provider(
                "alseco",
                "Алсеко — коммунальные услуги",
                "Алсеко",
                Utilities,
                Account,
                "digits=6-12",
                1_000_000_00,
            ),
        ],
        updated_at_ms: 1_795_000_000_000,
    }
}

/// Keeps [`sample_catalogue`] on the phone, as if it had been downloaded.
pub async fn keep_sample_catalogue() {
    let body = String::from_utf8(sample_catalogue().encode()).unwrap();
    catalogue::save(&StoredCatalogue {
        etag: Some("\"sample\"".into()),
        body,
        checked_at_ms: 1_795_000_000_000,
    })
    .await
    .unwrap();
}

//! Guards the provider catalogue at `GET /api/v1/providers`: public, signed by the gateway key,
//! with the real Kazakh providers and their number rules; revalidated cheaply (`ETag`,
//! `Cache-Control: no-cache`, an empty and unsigned 304 when nothing changed); a change of the
//! catalogue gives a new tag, and a provider switched off disappears from it.

mod support;

use reqwest::{StatusCode, header};
use support::Gateway;
use tolem_protocol::{
    account::AccountKind,
    messages::Message,
    providers::{Catalogue, ProviderGroup, ProviderInfo},
    signing::{GATEWAY_SIGNER, KEY_HEADER, SIGNATURE_HEADER},
};

struct Fetched {
    status: StatusCode,
    etag: Option<String>,
    cache_control: Option<String>,
    signed: bool,
    body: Vec<u8>,
}

async fn fetch(gateway: &Gateway, if_none_match: Option<&str>) -> Fetched {
    let mut request = gateway
        .client
        .get(format!("{}/api/v1/providers", gateway.url));
    if let Some(tag) = if_none_match {
        request = request.header(header::IF_NONE_MATCH, tag);
    }
    let response = request.send().await.unwrap();
    let header_text = |name| {
        response
            .headers()
            .get(name)
            .map(|v: &header::HeaderValue| v.to_str().unwrap().to_owned())
    };
    let status = response.status();
    let etag = header_text(header::ETAG.as_str());
    let cache_control = header_text(header::CACHE_CONTROL.as_str());
    let signature = header_text(SIGNATURE_HEADER);
    let signer = header_text(KEY_HEADER);
    let body = response.bytes().await.unwrap().to_vec();
    if let Some(signature) = &signature {
        assert_eq!(signer.as_deref(), Some(GATEWAY_SIGNER));
        gateway
            .gateway_key
            .verify(&body, &signature.parse().unwrap())
            .expect("the catalogue must be signed by the gateway key");
    }
    Fetched {
        status,
        etag,
        cache_control,
        signed: signature.is_some(),
        body,
    }
}

fn provider<'a>(catalogue: &'a Catalogue, code: &str) -> &'a ProviderInfo {
    catalogue
        .providers
        .iter()
        .find(|p| p.code == code)
        .unwrap_or_else(|| panic!("{code} is not in the catalogue"))
}

#[tokio::test]
async fn the_catalogue_is_public_signed_and_has_the_real_providers() {
    let gateway = support::start().await;
    // No key, no card, no session: a phone needs the catalogue before it has any of them.
    let fetched = fetch(&gateway, None).await;
    assert_eq!(fetched.status, StatusCode::OK);
    assert!(fetched.signed);
    assert_eq!(fetched.cache_control.as_deref(), Some("no-cache"));
    let catalogue = Catalogue::decode(&fetched.body).unwrap();
    assert!(catalogue.updated_at_ms > 0);

    let mobile = [
        ("beeline", "digits=10;prefixes=705,771,776,777"),
        ("kcell", "digits=10;prefixes=701,702,775,778"),
        ("activ", "digits=10;prefixes=701,702,775,778"),
        ("tele2", "digits=10;prefixes=707,747"),
        ("altel", "digits=10;prefixes=700,708"),
    ];
    for (code, rule) in mobile {
        let p = provider(&catalogue, code);
        assert_eq!(
            (p.group, p.account_kind, p.account_rule.as_str()),
            (ProviderGroup::Mobile, AccountKind::Phone, rule),
            "{code}"
        );
    }
    let internet = provider(&catalogue, "kazakhtelecom");
    assert_eq!(internet.group, ProviderGroup::Internet);
    assert_eq!(internet.account_kind, AccountKind::Account);
    let utility = provider(&catalogue, "alseco");
    assert_eq!(utility.group, ProviderGroup::Utilities);
    assert_eq!(utility.account_rule, "digits=6-12");
    // The rules work as the phone will use them.
    let kcell = provider(&catalogue, "kcell");
    assert_eq!(
        kcell.check_account("+7 701 123 45 67").unwrap(),
        "7011234567"
    );
    assert!(kcell.check_account("+7 705 123 45 67").is_err());
    assert!(kcell.accepts_amount(10_000) && !kcell.accepts_amount(9_999));
}

#[tokio::test]
async fn an_unchanged_catalogue_is_an_empty_304_and_a_change_a_new_tag() {
    let gateway = support::start().await;
    let first = fetch(&gateway, None).await;
    let etag = first.etag.clone().expect("an ETag");
    assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");

    let again = fetch(&gateway, Some(&etag)).await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);
    assert!(again.body.is_empty());
    // A 304's headers replace the cached response's: a signature here would be wrong there.
    assert!(!again.signed);
    assert_eq!(again.etag.as_deref(), Some(etag.as_str()));
    assert_eq!(again.cache_control.as_deref(), Some("no-cache"));
    let weak = fetch(&gateway, Some(&format!("W/{etag}"))).await;
    assert_eq!(weak.status, StatusCode::NOT_MODIFIED);
    assert_eq!(
        fetch(&gateway, Some("\"stale\"")).await.status,
        StatusCode::OK
    );

    // The dealer's gateway switches Altel off.
    gateway
        .sql("UPDATE providers SET active = 0, updated_at_ms = updated_at_ms + 1 WHERE code = 'altel'")
        .await;
    let changed = fetch(&gateway, Some(&etag)).await;
    assert_eq!(changed.status, StatusCode::OK);
    assert!(changed.signed);
    assert_ne!(changed.etag.as_deref(), Some(etag.as_str()));
    let catalogue = Catalogue::decode(&changed.body).unwrap();
    assert!(catalogue.providers.iter().all(|p| p.code != "altel"));
    assert_eq!(catalogue.providers.len(), 6);
}

/// An aggregator's catalogue holds hundreds of providers: served whole and signed, and read by
/// the phone's own reader (`Catalogue::decode`), which at 16 KiB refused any catalogue above
/// about 80 providers — and a phone without a catalogue pays no one.
#[tokio::test]
async fn a_catalogue_of_hundreds_of_providers_reaches_the_phone() {
    let gateway = support::start().await;
    gateway
        .sql(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 600) \
             INSERT INTO providers (code, name, short_label, grp, account_kind, account_rule, \
             min_tiyn, max_tiyn, active, updated_at_ms) \
             SELECT 'utility' || i, 'Коммунальные услуги Алматы № ' || i, 'Коммуналка', \
             'utilities', 'account', 'digits=6-12', 100, 100000000, 1, 0 FROM n",
        )
        .await;
    let fetched = fetch(&gateway, None).await;
    assert_eq!(fetched.status, StatusCode::OK);
    assert!(fetched.signed);
    assert!(
        fetched.body.len() > 64 * 1024,
        "more than the answers' old limit: {} bytes",
        fetched.body.len()
    );
    let catalogue = Catalogue::decode(&fetched.body).expect("the phone reads it");
    assert!(
        catalogue.providers.len() > 600,
        "{}",
        catalogue.providers.len()
    );
}

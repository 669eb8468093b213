//! A key card as the gateway issues it, for tests of what the phone does with one (storing a key
//! under it, checking answers with its gateway key). Real keys, made from fixed seeds.

use tolem_protocol::PROTOCOL_VERSION;
use tolem_protocol::keys::SecretKey;
use tolem_protocol::messages::{KeyCard, OfflineLimits};

pub const DEMO_POINT: &str = "P1001";
pub const DEMO_SERIAL: &str = "P1001-1";

/// The gateway's signing key behind [`sample_card`].
pub fn gateway_key() -> SecretKey {
    SecretKey::from_seed(&[0x47; 32])
}

/// The card of the demo point, naming [`gateway_key`]'s public half.
pub fn sample_card() -> KeyCard {
    KeyCard {
        v: PROTOCOL_VERSION,
        dealer: "D001".into(),
        dealer_name: "Демо-дилер".into(),
        point: DEMO_POINT.into(),
        point_name: "Демо-касса".into(),
        cashier: "C1".into(),
        key_serial: DEMO_SERIAL.into(),
        gateway_key: gateway_key().public_key(),
        offline: OfflineLimits {
            max_payment_tiyn: 50_000_00,
            max_total_tiyn: 200_000_00,
            max_age_ms: 72 * 3_600_000,
        },
        issued_at_ms: js_sys::Date::now() as i64,
        dealer_contact: None,
        dealer_details: None,
    }
}

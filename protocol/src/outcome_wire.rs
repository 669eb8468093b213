//! Reading an [`Outcome`] from JSON without buffering it.
//!
//! An outcome is an object tagged by `kind` (`{"kind": "payment", ...the receipt's fields}`).
//! serde's derived reader for such an enum buffers the object into its private `Content` tree
//! and then reads each variant's struct from that tree: every struct is compiled a second time
//! for the tree, which made `Outcome`'s reader the largest function of the app's wasm (~28 KB).
//! Here the object is kept as its raw JSON text, its `kind` read first, then the text read again
//! as the one variant's struct (which skips the `kind` field like any field it does not know),
//! with the same JSON reader the phone's stored records use. The accepted JSON is the derived
//! reader's: unknown fields are skipped, absent options are `None`, an unknown kind is refused.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

use crate::messages::{AccountCheck, KeyState, Outcome};

/// The variants' names on the wire.
enum Kind {
    Checked,
    Payment,
    Bill,
    Balance,
    MessageQueued,
    Revoked,
    ShiftRecorded,
    KeyCard,
    Registered,
}

crate::read_by_name!(Kind {
    Checked = "checked",
    Payment = "payment",
    Bill = "bill",
    Balance = "balance",
    MessageQueued = "message_queued",
    Revoked = "revoked",
    ShiftRecorded = "shift_recorded",
    KeyCard = "key_card",
    Registered = "registered",
});

#[derive(Deserialize)]
struct Tag {
    kind: Kind,
}

#[derive(Deserialize)]
struct Checked {
    #[serde(default)]
    account: Option<AccountCheck>,
}

#[derive(Deserialize)]
struct MessageQueued {
    message_id: String,
}

#[derive(Deserialize)]
struct ShiftRecorded {
    recorded_at_ms: i64,
}

#[derive(Deserialize)]
struct Registered {
    key_serial: String,
    state: KeyState,
}

impl<'de> Deserialize<'de> for Outcome {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = Box::<RawValue>::deserialize(deserializer)?;
        read(raw.get()).map_err(D::Error::custom)
    }
}

/// The outcome in `json` (one JSON object).
fn read(json: &str) -> serde_json::Result<Outcome> {
    use serde_json::from_str;
    Ok(match from_str::<Tag>(json)?.kind {
        Kind::Checked => Outcome::Checked {
            account: from_str::<Checked>(json)?.account,
        },
        Kind::Payment => Outcome::Payment(from_str(json)?),
        Kind::Bill => Outcome::Bill(from_str(json)?),
        Kind::Balance => Outcome::Balance(from_str(json)?),
        Kind::MessageQueued => Outcome::MessageQueued {
            message_id: from_str::<MessageQueued>(json)?.message_id,
        },
        Kind::Revoked => Outcome::Revoked,
        Kind::ShiftRecorded => Outcome::ShiftRecorded {
            recorded_at_ms: from_str::<ShiftRecorded>(json)?.recorded_at_ms,
        },
        Kind::KeyCard => Outcome::KeyCard(from_str(json)?),
        Kind::Registered => {
            let Registered { key_serial, state } = from_str(json)?;
            Outcome::Registered { key_serial, state }
        }
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::keys::SecretKey;
    use crate::messages::*;

    /// Every variant, with its optional fields filled where it has them.
    fn all() -> Vec<Outcome> {
        let details = DealerDetails {
            name: "ТОО Дилер".into(),
            bin: "123456789012".into(),
            legal_address: "Алматы".into(),
        };
        let offline = OfflineLimits {
            max_payment_tiyn: 5_000_00,
            max_total_tiyn: 50_000_00,
            max_age_ms: 86_400_000,
        };
        vec![
            Outcome::Checked { account: None },
            Outcome::Checked {
                account: Some(AccountCheck {
                    exists: false,
                    holder: Some("И. Иванов".into()),
                    fields: vec![("Долг".into(), "100".into())],
                    refusal: Some(ProviderRefusal::AccountNotFound),
                }),
            },
            Outcome::Payment(PaymentReceipt {
                transaction_id: "T-1".into(),
                state: PaymentState::Accepted,
                method: PaymentMethod::default(),
                amount_tiyn: 1_000_00,
                customer_amount_tiyn: 1_010_00,
                accepted_at_ms: 1_700_000_000_000,
                delivery: Some(Delivery {
                    state: DeliveryState::Refunded,
                    provider_txn: Some("P-9".into()),
                    refusal: Some(ProviderRefusal::AmountTooLarge),
                    delayed: true,
                    updated_at_ms: 1_700_000_000_500,
                }),
            }),
            Outcome::Bill(BillStatus {
                state: BillState::Awaiting,
                expires_at_ms: 1_700_000_900_000,
                refusal: Some(CardRefusal::CardExpired),
            }),
            Outcome::Balance(BalanceInfo {
                dealer_balance_tiyn: 42,
                point_day_left_tiyn: Some(7),
                point_payment_limit_tiyn: None,
                offline: Some(offline.clone()),
                dealer: Some(details.clone()),
            }),
            Outcome::MessageQueued {
                message_id: "M-1".into(),
            },
            Outcome::Revoked,
            Outcome::ShiftRecorded {
                recorded_at_ms: 1_700_000_000_001,
            },
            Outcome::KeyCard(KeyCard {
                v: 1,
                dealer: "D1".into(),
                dealer_name: "Дилер".into(),
                point: "P1".into(),
                point_name: "Точка".into(),
                cashier: "C1".into(),
                key_serial: "K1".into(),
                gateway_key: SecretKey::from_seed(&[7; 32]).public_key(),
                offline,
                issued_at_ms: 1_700_000_000_002,
                dealer_contact: Some("+7 700 000 00 00".into()),
                dealer_details: Some(details),
            }),
            Outcome::Registered {
                key_serial: "K1".into(),
                state: KeyState::Pending,
            },
        ]
    }

    #[test]
    fn every_outcome_reads_back_as_written() {
        for outcome in all() {
            let json = serde_json::to_string(&outcome).unwrap();
            let read: Outcome = serde_json::from_str(&json).unwrap();
            assert_eq!(read, outcome, "{json}");
            // Inside an answer, as the phone reads it (bytes, and a JSON value).
            let answer = Response {
                outcome: Some(outcome.clone()),
                ..Response::code(None, crate::codes::ResultCode::Ok, 5)
            };
            let bytes = serde_json::to_vec(&answer).unwrap();
            assert_eq!(Response::decode(&bytes).unwrap(), answer);
            let value = serde_json::to_value(&answer).unwrap();
            assert_eq!(serde_json::from_value::<Response>(value).unwrap(), answer);
        }
    }

    #[test]
    fn the_wire_form_is_the_tag_beside_the_fields() {
        let json = serde_json::to_value(Outcome::Registered {
            key_serial: "K1".into(),
            state: KeyState::Pending,
        })
        .unwrap();
        assert_eq!(
            json,
            json!({"kind": "registered", "key_serial": "K1", "state": "pending"})
        );
        assert_eq!(
            serde_json::to_value(Outcome::Revoked).unwrap(),
            json!({"kind": "revoked"})
        );
    }

    #[test]
    fn the_kind_may_come_anywhere_and_unknown_fields_are_skipped() {
        let read: Outcome = serde_json::from_str(
            r#"{"message_id": "M-1", "added_later": {"x": [1, 2]}, "kind": "message_queued"}"#,
        )
        .unwrap();
        assert_eq!(
            read,
            Outcome::MessageQueued {
                message_id: "M-1".into()
            }
        );
        let read: Outcome = serde_json::from_str(r#"{"kind": "checked"}"#).unwrap();
        assert_eq!(read, Outcome::Checked { account: None });
    }

    #[test]
    fn an_unknown_kind_a_missing_field_or_no_object_is_refused() {
        for json in [
            r#"{"kind": "refund", "message_id": "M-1"}"#,
            r#"{"message_id": "M-1"}"#,
            r#"{"kind": "message_queued"}"#,
            r#"{"kind": "shift_recorded", "recorded_at_ms": "soon"}"#,
            r#""payment""#,
        ] {
            assert!(serde_json::from_str::<Outcome>(json).is_err(), "{json}");
        }
    }
}

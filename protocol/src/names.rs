//! Enums of unit variants read by their names, for the app's module size (issue 14).
//!
//! serde's derived `Deserialize` for such an enum reads it through its own visitors — an enum
//! visitor, a variant visitor, a field visitor with string, bytes and number paths — and each
//! enum's copy of that machinery, compiled for the app's one JSON reader, was 1.0–1.5 KB of the
//! module, thirteen times over. [`read_by_name!`] reads the name as a string, one reader shared by
//! every such enum, and matches it: the same values accepted, the same "unknown variant … expected
//! one of …" error for any other name. Serializing is still serde's derive, from the same
//! `rename_all`; the tests below check both agree for every variant.

pub use serde::{Deserializer, de::Error};

/// Implements `Deserialize` for an enum of unit variants from their names on the wire:
/// `read_by_name!(Enum { Variant = "name", … })`, every variant listed (a variant left out does
/// not compile). `else Variant` names the variant any other name becomes (serde's
/// `#[serde(other)]`, which must stay on that variant for serde's derived `Serialize` and the
/// OpenAPI schema); without it another name is an error.
#[macro_export]
macro_rules! read_by_name {
    ($enum:ident { $($variant:ident = $name:literal),+ $(,)? } else $other:ident) => {
        $crate::read_by_name!(@impl $enum { $($variant = $name),+ } Some($enum::$other));
    };
    ($enum:ident { $($variant:ident = $name:literal),+ $(,)? }) => {
        $crate::read_by_name!(@impl $enum { $($variant = $name),+ } None);
    };
    (@impl $enum:ident { $($variant:ident = $name:literal),+ } $fallback:expr) => {
        impl<'de> ::serde::Deserialize<'de> for $enum {
            fn deserialize<D: $crate::names::Deserializer<'de>>(
                deserializer: D,
            ) -> ::core::result::Result<Self, D::Error> {
                let name = $crate::names::read(deserializer)?;
                match name.as_str() {
                    $($name => Ok($enum::$variant),)+
                    _ => $crate::names::unknown(&name, &[$($name),+], $fallback),
                }
            }
        }

        // Every variant has a name: a variant added to the enum but not to the list above is a
        // compile error here, not a value the app cannot read.
        const _: () = {
            #[allow(dead_code)]
            fn every_variant_is_named(value: $enum) {
                match value {
                    $($enum::$variant => {}),+
                }
            }
        };
    };
}

/// The name, as a string (one reader per JSON reader, whatever the enum).
pub fn read<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    serde::Deserialize::deserialize(deserializer)
}

/// A name none of the variants has: `fallback`, or serde's error naming the `expected` ones.
pub fn unknown<T, E: Error>(
    name: &str,
    expected: &'static [&'static str],
    fallback: Option<T>,
) -> Result<T, E> {
    fallback.ok_or_else(|| E::unknown_variant(name, expected))
}

#[cfg(test)]
mod tests {
    use serde::Serialize;
    use serde::de::DeserializeOwned;

    use crate::account::AccountKind;
    use crate::commission::Formula;
    use crate::messages::{
        BillState, CardRefusal, DeliveryState, KeyState, PaymentMethod, PaymentState,
        ProviderRefusal,
    };
    use crate::providers::ProviderGroup;
    use crate::shift::ShiftState;

    /// Each value serializes to its name and reads back as itself; an unknown name reads as
    /// `unknown_becomes` if given, else fails naming the expected names.
    fn names_agree<T>(values: &[T], unknown_becomes: Option<T>)
    where
        T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug + Copy,
    {
        for value in values {
            let text = serde_json::to_string(value).unwrap();
            assert_eq!(serde_json::from_str::<T>(&text).unwrap(), *value, "{text}");
        }
        let unknown = serde_json::from_str::<T>("\"no_such_name\"");
        match unknown_becomes {
            Some(fallback) => assert_eq!(unknown.unwrap(), fallback),
            None => {
                let error = unknown.unwrap_err().to_string();
                assert!(
                    error.starts_with("unknown variant `no_such_name`, expected "),
                    "{error}"
                );
            }
        }
        assert!(
            serde_json::from_str::<T>("7").is_err(),
            "a number is not a name"
        );
    }

    #[test]
    fn every_enum_read_by_name_reads_what_serde_writes() {
        use KeyState::*;
        names_agree(&[Pending, Certified, Revoked], None);
        names_agree(
            &[
                BillState::Awaiting,
                BillState::Expired,
                BillState::Cancelled,
            ],
            None,
        );
        names_agree(&[PaymentState::Accepted, PaymentState::Rejected], None);
        names_agree(&[PaymentMethod::Cash, PaymentMethod::Card], None);
        names_agree(
            &[
                DeliveryState::Queued,
                DeliveryState::Sent,
                DeliveryState::Retrying,
                DeliveryState::Delivered,
                DeliveryState::Refunded,
            ],
            None,
        );
        names_agree(
            &[
                ProviderRefusal::AccountNotFound,
                ProviderRefusal::BadAccountFormat,
                ProviderRefusal::AccountInactive,
                ProviderRefusal::AmountTooSmall,
                ProviderRefusal::AmountTooLarge,
                ProviderRefusal::PaymentForbidden,
                ProviderRefusal::Other,
            ],
            Some(ProviderRefusal::Other),
        );
        names_agree(
            &[
                CardRefusal::InsufficientFunds,
                CardRefusal::NotEnabledForInternet,
                CardRefusal::CardExpired,
                CardRefusal::WrongCardData,
                CardRefusal::LimitExceeded,
                CardRefusal::AuthenticationFailed,
                CardRefusal::Declined,
            ],
            Some(CardRefusal::Declined),
        );
        names_agree(&[AccountKind::Phone, AccountKind::Account], None);
        names_agree(&[Formula::OnTop, Formula::Included], None);
        names_agree(
            &[
                ProviderGroup::Mobile,
                ProviderGroup::Internet,
                ProviderGroup::Utilities,
            ],
            None,
        );
        names_agree(&ShiftState::ALL, None);
    }

    #[test]
    fn a_name_is_read_inside_a_message_as_before() {
        // Escaped and unescaped alike, as serde_json hands either to the reader.
        let method: PaymentMethod = serde_json::from_str("\"\\u0063ard\"").unwrap();
        assert_eq!(method, PaymentMethod::Card);
        let states: Vec<KeyState> = serde_json::from_str("[\"pending\",\"revoked\"]").unwrap();
        assert_eq!(states, [KeyState::Pending, KeyState::Revoked]);
    }
}

//! Property tests of what travels: every message survives encoding unchanged; a change to any
//! signed byte is refused; malformed, truncated and oversized input gives a typed error, never
//! a panic.

use proptest::prelude::*;
use tolem_protocol::PROTOCOL_VERSION;
use tolem_protocol::ids::SessionId;
use tolem_protocol::keys::SecretKey;
use tolem_protocol::messages::{
    DecodeError, KeyCardRequest, Letter, Message, Payment, Request, Response, Step,
};
use tolem_protocol::providers::Catalogue;
use tolem_protocol::signing::{MAX_BODY_BYTES, MAX_CATALOGUE_BYTES, Signed};

fn code() -> impl Strategy<Value = String> {
    "[A-Za-z0-9_-]{1,32}"
}

fn payment() -> impl Strategy<Value = Payment> {
    (
        code(),
        "[0-9]{6,20}",
        1i64..=100_000_000,
        0i64..=1_000_000,
        proptest::option::of("\\PC{0,64}"),
    )
        .prop_map(|(provider, account, amount, commission, comment)| Payment {
            provider,
            account,
            amount_tiyn: amount,
            customer_amount_tiyn: amount + commission,
            comment,
        })
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        payment().prop_map(Step::Check),
        payment().prop_map(Step::Pay),
        Just(Step::Status),
        Just(Step::Balance),
        Just(Step::Revoke),
        ("[a-z]{1,10}@[a-z]{1,10}\\.kz", "[A-Za-zА-я0-9]\\PC{0,199}")
            .prop_map(|(to, text)| Step::Message(Letter { to, text })),
    ]
}

fn request() -> impl Strategy<Value = Request> {
    (
        code(),
        code(),
        code(),
        code(),
        1i64..=4_102_444_800_000,
        any::<[u8; 8]>(),
        step(),
    )
        .prop_map(
            |(dealer, point, cashier, key_serial, created_at_ms, random, step)| Request {
                v: PROTOCOL_VERSION,
                dealer,
                point,
                cashier,
                key_serial,
                session: SessionId::generate(created_at_ms, random),
                created_at_ms,
                seq: None,
                outbox_lost: None,
                step,
            },
        )
}

proptest! {
    #[test]
    fn requests_round_trip(request in request()) {
        let bytes = request.encode();
        prop_assert_eq!(Request::decode(&bytes), Ok(request));
    }

    #[test]
    fn any_change_to_a_signed_byte_is_refused(
        request in request(),
        seed in any::<[u8; 32]>(),
        position in any::<prop::sample::Index>(),
        flip in 1u8..=255,
    ) {
        let key = SecretKey::from_seed(&seed);
        let mut signed = Signed::sign("P1-1", request.encode(), &key);
        prop_assert!(signed.verify(&key.public_key()).is_ok());
        let i = position.index(signed.body.len());
        signed.body[i] ^= flip;
        prop_assert!(signed.verify(&key.public_key()).is_err());
    }

    #[test]
    fn a_signature_from_another_key_is_refused(request in request(), a in any::<[u8; 32]>(), b in any::<[u8; 32]>()) {
        prop_assume!(a != b);
        let signed = Signed::sign("P1-1", request.encode(), &SecretKey::from_seed(&a));
        prop_assert!(signed.verify(&SecretKey::from_seed(&b).public_key()).is_err());
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = Request::decode(&bytes);
        let _ = Response::decode(&bytes);
        let _ = KeyCardRequest::decode(&bytes);
    }

    #[test]
    fn truncated_messages_are_malformed(request in request(), cut in any::<prop::sample::Index>()) {
        let bytes = request.encode();
        let end = cut.index(bytes.len());
        let result = Request::decode(&bytes[..end]);
        prop_assert!(matches!(result, Err(DecodeError::Malformed(_))), "{:?}", result);
    }
}

#[test]
fn oversized_input_is_refused_before_parsing() {
    let huge = vec![b' '; MAX_BODY_BYTES + 1];
    assert_eq!(
        Request::decode(&huge),
        Err(DecodeError::TooLarge {
            size: MAX_BODY_BYTES + 1,
            most: MAX_BODY_BYTES
        })
    );
}

/// A catalogue has its own, larger limit: an aggregator's holds hundreds of providers.
#[test]
fn a_catalogue_may_be_larger_than_a_request_but_not_without_bound() {
    let huge = vec![b' '; MAX_CATALOGUE_BYTES + 1];
    assert_eq!(
        Catalogue::decode(&huge),
        Err(DecodeError::TooLarge {
            size: MAX_CATALOGUE_BYTES + 1,
            most: MAX_CATALOGUE_BYTES
        })
    );
    let blank = vec![b' '; MAX_BODY_BYTES + 1];
    assert!(matches!(
        Catalogue::decode(&blank),
        Err(DecodeError::Malformed(_))
    ));
}

#[test]
fn another_protocol_version_is_refused_with_its_own_error() {
    let bytes = br#"{"v":2,"point":"P1","password":"x"}"#;
    assert_eq!(
        KeyCardRequest::decode(bytes),
        Err(DecodeError::UnsupportedVersion(2))
    );
}

#[test]
fn invalid_fields_are_refused() {
    let mut request = Request {
        v: PROTOCOL_VERSION,
        dealer: "D1".into(),
        point: "P1".into(),
        cashier: "C1".into(),
        key_serial: "P1-1".into(),
        session: SessionId::generate(1, [0; 8]),
        created_at_ms: 1,
        seq: None,
        outbox_lost: None,
        step: Step::Pay(Payment {
            provider: "kcell".into(),
            account: "7011234567".into(),
            amount_tiyn: 100_00,
            customer_amount_tiyn: 99_00,
            comment: None,
        }),
    };
    assert!(
        matches!(
            Request::decode(&request.encode()),
            Err(DecodeError::Invalid(_))
        ),
        "customer < provider"
    );
    request.step = Step::Pay(Payment {
        provider: "kcell".into(),
        account: "7011234567".into(),
        amount_tiyn: 100_00,
        customer_amount_tiyn: 100_00,
        comment: Some("x".repeat(65)),
    });
    assert!(
        matches!(
            Request::decode(&request.encode()),
            Err(DecodeError::Invalid(_))
        ),
        "comment too long"
    );
    request.dealer = "D 1".into();
    assert!(
        matches!(
            Request::decode(&request.encode()),
            Err(DecodeError::Invalid(_))
        ),
        "bad dealer code"
    );
}

mod commission {
    use proptest::prelude::*;
    use tolem_protocol::commission::{CommissionSettings, Formula};

    /// Valid settings: percentage up to 20 %, a minimum that is a minimum, a maximum that is one.
    fn settings() -> impl Strategy<Value = CommissionSettings> {
        (
            0i64..=2_000,
            any::<bool>(),
            0i64..=2_000_00,
            0i64..=500_00,
            0i64..=1_000_000_00,
        )
            .prop_filter_map(
                "valid settings",
                |(percent_bp, on_top, min_below, extra_min, max_above)| {
                    let formula = if on_top {
                        Formula::OnTop
                    } else {
                        Formula::Included
                    };
                    let mut s = CommissionSettings {
                        percent_bp,
                        formula,
                        ..Default::default()
                    };
                    s.min_below_tiyn = min_below;
                    s.min_fixed_tiyn = (min_below * percent_bp + 5_000) / 10_000 + extra_min;
                    if max_above > min_below {
                        s.max_above_tiyn = max_above;
                        s.max_fixed_tiyn = (max_above * percent_bp + 5_000) / 10_000;
                    }
                    s.validate().ok().map(|_| s)
                },
            )
    }

    proptest! {
        #[test]
        fn every_split_adds_up(s in settings(), amount in 1i64..=500_000_00) {
            for split in [s.from_provider(amount), s.from_customer(amount)] {
                prop_assert_eq!(split.customer_tiyn, split.provider_tiyn + split.commission_tiyn);
                prop_assert!(split.commission_tiyn >= 0);
            }
            prop_assert_eq!(s.from_provider(amount).provider_tiyn, amount);
            prop_assert_eq!(s.from_customer(amount).customer_tiyn, amount);
        }

        #[test]
        fn back_and_forth_gives_the_same_split_or_one_tiyn_more_commission(s in settings(), customer in 1i64..=500_000_00) {
            let split = s.from_customer(customer);
            prop_assume!(split.provider_tiyn > 0);
            let again = s.from_provider(split.provider_tiyn);
            prop_assert_eq!(again.provider_tiyn, split.provider_tiyn);
            let extra = split.commission_tiyn - again.commission_tiyn;
            prop_assert!((0..=1).contains(&extra), "{:?} vs {:?}", split, again);
        }

        #[test]
        fn forth_and_back_gives_the_same_provider_amount(s in settings(), provider in 1i64..=500_000_00) {
            let split = s.from_provider(provider);
            let back = s.from_customer(split.customer_tiyn);
            prop_assert_eq!(back.customer_tiyn, split.customer_tiyn);
            // The provider never gets less than asked; it may get more where the formula is
            // not monotonic (a fixed maximum kicks in), which only helps the customer.
            prop_assert!(back.provider_tiyn >= provider, "{:?} vs {:?}", split, back);
        }
    }
}

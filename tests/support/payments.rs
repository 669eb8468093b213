//! Payments written with the real outbox store, signed by a real point key, for tests of what
//! the history shows.

use tolem_outbox::record::{PaymentDraft, PaymentRecord, SignedPayment, State};
use tolem_outbox::store;
use tolem_protocol::commission::Split;
use tolem_protocol::keys::SecretKey;

use super::card::sample_card;

/// The point's key behind the sample card's serial.
pub fn point_key() -> SecretKey {
    SecretKey::from_seed(&[0x21; 32])
}

/// A payment to `provider` of `amount_tiyn` (1 % commission on top), signed at `at_ms`.
pub fn signed(
    provider: (&str, &str),
    account: &str,
    amount_tiyn: i64,
    at_ms: i64,
    n: u8,
) -> SignedPayment {
    let commission = amount_tiyn / 100;
    let draft = PaymentDraft {
        provider: provider.0.into(),
        provider_name: provider.1.into(),
        account: account.into(),
        split: Split {
            provider_tiyn: amount_tiyn,
            commission_tiyn: commission,
            customer_tiyn: amount_tiyn + commission,
        },
        comment: None,
    };
    SignedPayment::sign(&draft, &sample_card(), &point_key(), at_ms, [n; 8]).unwrap()
}

/// A bill for the customer's card to `provider` of `amount_tiyn` (1 % commission on top),
/// signed at `at_ms` with its status and cancel.
pub fn signed_bill(
    provider: (&str, &str),
    account: &str,
    amount_tiyn: i64,
    at_ms: i64,
    n: u8,
) -> SignedPayment {
    let commission = amount_tiyn / 100;
    let draft = PaymentDraft {
        provider: provider.0.into(),
        provider_name: provider.1.into(),
        account: account.into(),
        split: Split {
            provider_tiyn: amount_tiyn,
            commission_tiyn: commission,
            customer_tiyn: amount_tiyn + commission,
        },
        comment: None,
    };
    SignedPayment::sign_bill(&draft, &sample_card(), &point_key(), at_ms, [n; 8]).unwrap()
}

/// Stores `payment` and brings it to `state` through the store, as a sender would.
pub async fn store_in_state(payment: SignedPayment, state: State) -> PaymentRecord {
    let now = js_sys::Date::now() as i64;
    let mut record = store::save_new(payment, now).await.unwrap();
    if state != State::Deferred {
        record.state = state;
        if state.is_final() {
            record.transaction_id = Some(format!("D001-{:06}", record.payment.amount_tiyn / 100));
        }
        record = store::update(&record).await.unwrap();
    }
    record
}

/// Empties the history and the outbox.
pub async fn forget_payments() {
    use tolem_outbox::db::{self, HISTORY, OUTBOX};
    let database = db::open().await.unwrap();
    let transaction = database
        .transaction(&[HISTORY, OUTBOX], idb::TransactionMode::ReadWrite)
        .unwrap();
    for name in [HISTORY, OUTBOX] {
        transaction
            .object_store(name)
            .unwrap()
            .clear()
            .unwrap()
            .await
            .unwrap();
    }
    db::finish(transaction).await.unwrap();
}

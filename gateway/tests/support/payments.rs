//! Paying from a test phone, and looking at the money afterwards: the dealer's balance, its
//! ledger and the stored payments.

use tolem_gateway::db::ledger::{self, LedgerKind, NewEntry, Posted};
use tolem_protocol::{
    codes::ResultCode,
    messages::{Outcome, Payment, PaymentReceipt, Request, Step},
};

use super::{Gateway, Reply, now_ms, phone::Phone};

/// The demo dealer.
pub const DEALER: &str = "D001";

/// A payment to Kcell of `amount_tiyn` to `account` (ten digits), the customer paying exactly
/// that.
pub fn kcell(account: &str, amount_tiyn: i64) -> Payment {
    Payment {
        provider: "kcell".into(),
        account: account.into(),
        amount_tiyn,
        customer_amount_tiyn: amount_tiyn,
        comment: None,
    }
}

impl Reply {
    /// The receipt of a pay or status answer (accepted or rejected), after checking the
    /// gateway's signature.
    pub fn receipt(&self) -> PaymentReceipt {
        match self.response().outcome {
            Some(Outcome::Payment(receipt)) => receipt,
            other => panic!("no receipt but {other:?}: {}", self.text()),
        }
    }
}

impl Gateway {
    /// Sends `check` for `payment`, created now, and returns the code.
    pub async fn check(&self, phone: &Phone, payment: Payment) -> ResultCode {
        let reply = self.send(phone, &phone.request(Step::Check(payment))).await;
        reply.code()
    }

    /// Sends `pay` for `payment`, created now.
    pub async fn pay(&self, phone: &Phone, payment: Payment) -> (Request, Reply) {
        self.pay_at(phone, payment, now_ms()).await
    }

    /// Sends `pay` for `payment` created at `created_at_ms`.
    pub async fn pay_at(
        &self,
        phone: &Phone,
        payment: Payment,
        created_at_ms: i64,
    ) -> (Request, Reply) {
        let request = phone.request_at(Step::Pay(payment), created_at_ms);
        let reply = self.send(phone, &request).await;
        (request, reply)
    }

    /// Asks for the status of `request`'s session.
    pub async fn status(&self, phone: &Phone, request: &Request) -> Reply {
        let mut status = phone.request(Step::Status);
        status.session = request.session.clone();
        self.send(phone, &status).await
    }

    /// The dealer's balance.
    pub async fn balance_of(&self, dealer: &str) -> i64 {
        sqlx::query_scalar("SELECT balance_tiyn FROM dealers WHERE code = $1")
            .bind(dealer)
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }

    /// The sum of the dealer's ledger entries.
    pub async fn ledger_sum(&self, dealer: &str) -> i64 {
        ledger::sum(&self.pool, dealer).await.unwrap()
    }

    /// Asserts that the dealer's balance is the sum of its ledger entries.
    pub async fn assert_ledger_matches(&self, dealer: &str) {
        assert_eq!(
            self.ledger_sum(dealer).await,
            self.balance_of(dealer).await,
            "the balance must equal the sum of the ledger"
        );
    }

    /// The number of the dealer's ledger entries of `kind` ('payment', 'top_up', ...).
    pub async fn ledger_entries(&self, dealer: &str, kind: &str) -> i64 {
        sqlx::query_scalar(
            "SELECT COUNT(*) FROM ledger_entries WHERE dealer_code = $1 AND kind = $2",
        )
        .bind(dealer)
        .bind(kind)
        .fetch_one(&self.pool)
        .await
        .unwrap()
    }

    /// The number of stored payments in `state` ('accepted' or 'rejected').
    pub async fn payments_in(&self, state: &str) -> i64 {
        sqlx::query_scalar("SELECT COUNT(*) FROM payments WHERE state = $1")
            .bind(state)
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }

    /// Brings the dealer's balance to exactly `tiyn` with a correction entry, as an operator
    /// would, so the balance still equals the sum of the ledger.
    pub async fn set_balance(&self, dealer: &str, tiyn: i64) {
        let change = tiyn - self.balance_of(dealer).await;
        if change == 0 {
            return;
        }
        let reference = format!("test-{}-{}", now_ms(), tiyn);
        let entry = NewEntry {
            dealer_code: dealer,
            kind: LedgerKind::Correction,
            amount_tiyn: change,
            reference: &reference,
            point_code: None,
            created_at_ms: now_ms(),
        };
        let posted = ledger::post(&self.pool, &entry).await.unwrap();
        assert!(
            matches!(posted, Posted::Done { balance_after_tiyn } if balance_after_tiyn == tiyn)
        );
    }
}

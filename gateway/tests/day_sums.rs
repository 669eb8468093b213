//! Guards the day's sums that the daily limits count (migration 0014, `db::day_sums`): kept
//! by the gateway as payments are accepted and refunded, and added up by the migration from
//! the payments a database already held, the two agree — so a gateway upgraded in the middle
//! of a business day holds its points and dealers to the same limits as before.

mod support;

use std::time::Duration;

use support::{
    delivery::{emulator, quick_retry},
    now_ms,
    payments::{DEALER, kcell},
};
use tolem_gateway::{
    db::{
        self,
        day_sums::{self, Scope},
    },
    payments::business_day_start,
};
use tolem_protocol::{codes::ResultCode, messages::DeliveryState};

/// 1 000 tenge.
const THOUSAND: i64 = 100_000;

/// The sums of the two points and their dealer today.
async fn sums_today(pool: &sqlx::AnyPool) -> [i64; 3] {
    let today = business_day_start(now_ms());
    let mut conn = pool.acquire().await.unwrap();
    let mut sums = [0; 3];
    let scopes = [
        Scope::Point("P1001"),
        Scope::Point("P1002"),
        Scope::Dealer(DEALER),
    ];
    for (sum, scope) in sums.iter_mut().zip(scopes) {
        *sum = day_sums::of(&mut conn, scope, today).await.unwrap();
    }
    sums
}

#[tokio::test]
async fn the_migration_adds_up_the_stored_payments_as_the_gateway_keeps_them() {
    let gateway = support::start().await;
    let phone = gateway.ready_phone(1).await;
    gateway.add_point("P1002").await;
    let other = gateway.ready_phone_of("P1002", 2).await;
    let provider = emulator(&["--open", "--missing", "7019999999"]).await;
    gateway
        .connect_provider("kcell", &provider.url, 5_000)
        .await;

    // Accepted at both points; one rejected by a limit; one refused by the provider later.
    for (phone, account, amount) in [
        (&phone, "7011111111", THOUSAND),
        (&phone, "7012222222", 2 * THOUSAND),
        (&other, "7013333333", 3 * THOUSAND),
    ] {
        let (_, reply) = gateway.pay(phone, kcell(account, amount)).await;
        assert_eq!(reply.code(), ResultCode::Ok, "{}", reply.text());
    }
    gateway
        .sql("UPDATE points SET payment_limit_tiyn = 400000 WHERE code = 'P1002'")
        .await;
    let (_, rejected) = gateway.pay(&other, kcell("7014444444", 5 * THOUSAND)).await;
    assert_eq!(rejected.code(), ResultCode::PointPaymentLimit);
    let (refused, reply) = gateway.pay(&phone, kcell("7019999999", THOUSAND / 2)).await;
    assert_eq!(reply.code(), ResultCode::Ok);
    gateway.start_delivery(quick_retry());
    let refunded = gateway
        .delivery_when(&phone, &refused, Duration::from_secs(30), |d| {
            d.state.is_final()
        })
        .await;
    assert_eq!(refunded.state, DeliveryState::Refunded);

    // As the gateway kept them: the refunded and the rejected payment do not count.
    let kept = sums_today(&gateway.pool).await;
    assert_eq!(kept, [3 * THOUSAND, 3 * THOUSAND, 6 * THOUSAND]);

    // The database as it was before the table: the migration runs on its payments.
    gateway.sql("DROP TABLE day_sums").await;
    gateway
        .sql("DELETE FROM _sqlx_migrations WHERE version = 14")
        .await;
    db::migrate(&gateway.pool, &gateway.database_url)
        .await
        .unwrap();
    assert_eq!(sums_today(&gateway.pool).await, kept);
}

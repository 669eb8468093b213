//! Guards the dealer's domain functions without the console: each is limited to the dealer it
//! is given — another dealer's key, point or cashier is `NotFound` and nothing changes, with
//! no audit row — and the letter quota is refused outside 1–1000 before anything is read.

mod support;

use std::net::{IpAddr, Ipv4Addr};

use tolem_gateway::{
    audit::Actor,
    db::{begin_write, network::Switch, now_ms, seed::DEMO_DEALER_CODE},
    dealer::{DealerError, cashiers, keys, limits, points},
};

const OTHER_DEALER: &str = "D999";

fn actor() -> Actor {
    Actor::new(
        "intruder@other.kz",
        Some(OTHER_DEALER),
        IpAddr::V4(Ipv4Addr::LOCALHOST),
    )
}

async fn audit_rows(gateway: &support::Gateway) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM audit_log")
        .fetch_one(&gateway.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn another_dealers_things_are_not_found() {
    let gateway = support::start().await;
    let phone = gateway.registered_phone(1).await;
    let serial = phone.card.key_serial.clone();
    let before = audit_rows(&gateway).await;
    let (actor, now) = (actor(), now_ms());
    let mut tx = begin_write(&gateway.pool).await.unwrap();

    let result = keys::certify_key_in(&mut tx, &actor, OTHER_DEALER, &serial, now).await;
    assert!(matches!(result, Err(DealerError::NotFound)), "{result:?}");
    let result = keys::revoke_key_in(&mut tx, &actor, OTHER_DEALER, &serial, now).await;
    assert!(matches!(result, Err(DealerError::NotFound)), "{result:?}");
    for switch in [Switch::Activate, Switch::Block, Switch::Unblock] {
        let result =
            points::switch_point_in(&mut tx, &actor, OTHER_DEALER, "P1001", switch, now).await;
        assert!(matches!(result, Err(DealerError::NotFound)), "{result:?}");
    }
    let result =
        points::reset_point_password_in(&mut tx, &actor, OTHER_DEALER, "P1001", "x", now).await;
    assert!(matches!(result, Err(DealerError::NotFound)), "{result:?}");
    let result = points::set_message_quota_in(&mut tx, &actor, OTHER_DEALER, "P1001", 5, now).await;
    assert!(matches!(result, Err(DealerError::NotFound)), "{result:?}");
    let point = points::point_in(&mut tx, DEMO_DEALER_CODE, "P1001")
        .await
        .unwrap();
    let result = limits::set_limits_in(
        &mut tx,
        &actor,
        OTHER_DEALER,
        "P1001",
        &point.limits(),
        None,
        now,
    )
    .await;
    assert!(matches!(result, Err(DealerError::NotFound)), "{result:?}");
    let result =
        cashiers::register_cashier_in(&mut tx, &actor, OTHER_DEALER, ("P1001", "Чужой"), true, now)
            .await;
    assert!(matches!(result, Err(DealerError::NotFound)), "{result:?}");
    let result =
        cashiers::set_cashier_active_in(&mut tx, &actor, OTHER_DEALER, ("P1001", "C1"), false, now)
            .await;
    assert!(matches!(result, Err(DealerError::NotFound)), "{result:?}");
    tx.commit().await.unwrap();

    assert_eq!(gateway.key_state(&serial).await, "pending");
    assert_eq!(audit_rows(&gateway).await, before, "nothing was audited");
}

#[tokio::test]
async fn the_dealers_own_key_is_certified_with_its_audit_row() {
    let gateway = support::start().await;
    let phone = gateway.registered_phone(1).await;
    let serial = phone.card.key_serial.clone();
    let mut tx = begin_write(&gateway.pool).await.unwrap();
    let actor = Actor::new(
        "admin@tolem.demo",
        Some(DEMO_DEALER_CODE),
        IpAddr::V4(Ipv4Addr::LOCALHOST),
    );
    let key = keys::certify_key_in(&mut tx, &actor, DEMO_DEALER_CODE, &serial, now_ms())
        .await
        .unwrap();
    assert_eq!(key.certified_by.as_deref(), Some("admin@tolem.demo"));
    // Twice: it is not pending any more.
    let again = keys::certify_key_in(&mut tx, &actor, DEMO_DEALER_CODE, &serial, now_ms()).await;
    assert!(matches!(again, Err(DealerError::NotFound)), "{again:?}");
    tx.commit().await.unwrap();
    assert_eq!(gateway.key_state(&serial).await, "certified");
    let audited: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_log WHERE action = 'key.certified' AND actor = 'admin@tolem.demo'",
    )
    .fetch_one(&gateway.pool)
    .await
    .unwrap();
    assert_eq!(audited, 1);
}

#[tokio::test]
async fn a_quota_out_of_range_is_refused() {
    let gateway = support::start().await;
    let mut tx = begin_write(&gateway.pool).await.unwrap();
    for per_hour in [0, -1, 1001, i64::MAX] {
        let result =
            points::set_message_quota_in(&mut tx, &actor(), DEMO_DEALER_CODE, "P1001", per_hour, 0)
                .await;
        assert!(
            matches!(result, Err(DealerError::BadMessageQuota)),
            "{per_hour}: {result:?}"
        );
        assert_eq!(
            result.unwrap_err().message_key(),
            "points.bad_message_quota"
        );
    }
    for per_hour in [1, 1000] {
        points::set_message_quota_in(&mut tx, &actor(), DEMO_DEALER_CODE, "P1001", per_hour, 0)
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
}

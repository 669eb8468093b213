//! Guards the console's payments pages over real HTTP: the search finds payments by date,
//! point, provider, number, status and session; a payment's page shows the exact request the
//! point signed (with a signature that still verifies) and the gateway's answer; the CSV export
//! of a search is `text/csv` in UTF-8 with a byte-order mark, a header row, one row per
//! payment, amounts in tenge with two decimals, UTC times, and Cyrillic text intact.

mod support;

use base64::{Engine, engine::general_purpose::STANDARD};
use reqwest::{StatusCode, header};
use support::{
    browser::{ADMIN, CLERK, text_by_id},
    payments::kcell,
};
use tolem_gateway::payments::business_date;
use tolem_protocol::{codes::ResultCode, messages::Message};

#[tokio::test]
async fn search_detail_and_csv_export() {
    let gateway = support::start().await;
    let phone = gateway.ready_phone(1).await;
    let mut internet = kcell("1234567890", 1_234_550);
    internet.provider = "kazakhtelecom".into();
    internet.comment = Some("Оплата за март, кв. 5".into());
    let (request, reply) = gateway.pay(&phone, internet).await;
    assert_eq!(reply.code(), ResultCode::Ok);
    let (_, reply) = gateway.pay(&phone, kcell("7011234567", 100_000)).await;
    assert_eq!(reply.code(), ResultCode::Ok);
    let (_, reply) = gateway.pay(&phone, kcell("7011234567", 100_000)).await;
    assert_eq!(reply.code(), ResultCode::Duplicate);

    // Create-and-view users may read payments too.
    let cookie = gateway.console_session(CLERK).await;
    let today = business_date(support::now_ms()).to_string();
    let count = |query: String| {
        let (gateway, cookie) = (&gateway, &cookie);
        async move {
            let (html, _) = gateway
                .console_page(&format!("/console/payments?{query}"), cookie)
                .await;
            text_by_id(&html, "found")
                .unwrap()
                .parse::<usize>()
                .unwrap()
        }
    };
    assert_eq!(count(String::new()).await, 3);
    assert_eq!(count(format!("from={today}&to={today}")).await, 3);
    assert_eq!(count("from=2020-01-01&to=2020-01-31".into()).await, 0);
    assert_eq!(count("status=rejected&code=32".into()).await, 1);
    assert_eq!(count("status=accepted&provider=kcell".into()).await, 1);
    assert_eq!(count("account=456789".into()).await, 1);
    assert_eq!(count("point=P1001".into()).await, 3);
    assert_eq!(count("point=P9999".into()).await, 0);
    assert_eq!(
        count(format!("session={}", request.session.as_str())).await,
        1
    );

    // The payment's page: the signed request as sent, its signature, the answer.
    let path = format!("/console/payments/P1001/{}", request.session.as_str());
    let (html, _) = gateway.console_page(&path, &cookie).await;
    assert!(
        html.contains("data-valid=\"true\""),
        "the stored signature still verifies"
    );
    assert_eq!(
        text_by_id(&html, "request-base64").unwrap(),
        STANDARD.encode(request.encode())
    );
    assert_eq!(
        text_by_id(&html, "key-serial").unwrap(),
        phone.card.key_serial
    );
    assert!(html.contains("Оплата за март, кв. 5"));
    assert_eq!(
        text_by_id(&html, "answer-base64").unwrap(),
        STANDARD.encode(&reply_body(&gateway, &request).await)
    );
    let other = gateway
        .console_get("/console/payments/P1001/NOSUCHSESSION", &cookie)
        .await;
    assert_eq!(other.status(), StatusCode::NOT_FOUND);

    // The export of this month.
    let month = &today[..7];
    let response = gateway
        .console_get(
            &format!("/console/payments.csv?from={month}-01&to={today}&point=P1001"),
            &cookie,
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()[header::CONTENT_TYPE],
        "text/csv; charset=utf-8"
    );
    assert!(
        response.headers()[header::CONTENT_DISPOSITION]
            .to_str()
            .unwrap()
            .starts_with("attachment; filename=")
    );
    let bytes = response.bytes().await.unwrap();
    assert_eq!(
        &bytes[..3],
        b"\xEF\xBB\xBF",
        "UTF-8 byte-order mark for Excel"
    );
    let text = String::from_utf8(bytes[3..].to_vec()).expect("UTF-8");
    let lines: Vec<&str> = text.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), 4, "{text}");
    assert_eq!(
        lines[0],
        "transaction_id,received_at_utc,created_at_utc,point,cashier,key_serial,session,\
         provider,provider_name,account,amount_kzt,customer_amount_kzt,dealer_commission_kzt,\
         status,code,comment"
    );
    let row = lines
        .iter()
        .find(|l| l.contains(",kazakhtelecom,"))
        .expect("the internet payment");
    assert!(row.contains(",Казахтелеком — домашний интернет,"), "{row}");
    assert!(
        row.contains(",12345.50,12345.50,123.45,accepted,0,"),
        "{row}"
    );
    assert!(row.ends_with(",\"Оплата за март, кв. 5\""), "{row}");
    assert!(
        row.contains(&format!(",{today_utc}T", today_utc = &utc_today())),
        "{row}"
    );
    assert!(row.contains("Z,"), "times in UTC: {row}");
    let rejected = lines.iter().find(|l| l.contains(",rejected,32,")).unwrap();
    assert!(
        rejected.contains(",1000.00,1000.00,,rejected,32,"),
        "{rejected}"
    );

    // The admin may export too; a search for nothing is just the header.
    let admin = gateway.console_session(ADMIN).await;
    let response = gateway
        .console_get(
            "/console/payments.csv?from=2020-01-01&to=2020-01-31",
            &admin,
        )
        .await;
    let text = response.text().await.unwrap();
    assert_eq!(text.lines().count(), 1, "{text}");
}

/// The stored answer of a payment, as the gateway sent it.
async fn reply_body(
    gateway: &support::Gateway,
    request: &tolem_protocol::messages::Request,
) -> Vec<u8> {
    let body: String = sqlx::query_scalar("SELECT response_body FROM payments WHERE session = $1")
        .bind(request.session.as_str())
        .fetch_one(&gateway.pool)
        .await
        .unwrap();
    STANDARD.decode(body).unwrap()
}

/// Today's date in UTC, `YYYY-MM-DD`: the business date (UTC+5) of five hours ago.
fn utc_today() -> String {
    business_date(support::now_ms() - 5 * 60 * 60 * 1000).to_string()
}

/// An export is read a page at a time (2 000 payments) while it goes out: one longer than
/// several pages has every payment once, newest first, payments received in the same
/// millisecond on both sides of a page's end included.
#[tokio::test]
async fn an_export_of_thousands_has_every_payment_once() {
    let gateway = support::start().await;
    let phone = gateway.ready_phone(1).await;
    let (_, reply) = gateway.pay(&phone, kcell("7011234567", 100_000)).await;
    assert_eq!(reply.code(), ResultCode::Ok);
    let (_, reply) = gateway.pay(&phone, kcell("7011234568", 100_000)).await;
    assert_eq!(reply.code(), ResultCode::Ok);
    // 4 500 copies of the first, all received at its millisecond: whole pages of ties.
    // One connection for the whole scene: another connection of the pool may still hold the
    // schema of before the DROP COLUMN, and SQLite refuses the INSERT while preparing it there
    // ("22 columns but 23 values") instead of reading the schema again.
    let mut conn = gateway.pool.acquire().await.unwrap();
    sqlx::raw_sql(
        "CREATE TABLE copies AS WITH RECURSIVE numbers (n) AS \
         (SELECT 1 UNION ALL SELECT n + 1 FROM numbers WHERE n < 4500) \
         SELECT p.*, n FROM payments p, numbers WHERE p.transaction_id = 'D001-1'; \
         UPDATE copies SET session = session || '-copy' || n, \
         transaction_id = transaction_id || '-copy' || n; \
         ALTER TABLE copies DROP COLUMN n; \
         INSERT INTO payments SELECT * FROM copies; \
         DROP TABLE copies",
    )
    .execute(&mut *conn)
    .await
    .unwrap();
    drop(conn);

    let cookie = gateway.console_session(ADMIN).await;
    let response = gateway.console_get("/console/payments.csv", &cookie).await;
    assert_eq!(response.status(), StatusCode::OK);
    let text = response.text().await.unwrap();
    let ids: Vec<&str> = text
        .split("\r\n")
        .skip(1)
        .filter(|line| !line.is_empty())
        .map(|line| line.split(',').next().unwrap())
        .collect();
    assert_eq!(ids.len(), 4_502);
    let unique: std::collections::HashSet<&str> = ids.iter().copied().collect();
    assert_eq!(unique.len(), 4_502, "no payment twice");
    assert_eq!(ids[0], "D001-2", "newest first");
}

//! Guards `/metrics`, what the operator's monitoring scrapes (issue 15): off without a token,
//! refused without the right one, and — over real HTTP after real payments — the answers by
//! step and result code, the provider delivery queue waiting in the database, the payment
//! writer's groups and the request latency histogram, in the Prometheus text format.

mod support;

use axum::{body::Body, http::Request};
use reqwest::StatusCode;
use support::{METRICS_TOKEN, payments::kcell};
use tolem_gateway::{AppState, app, db, gateway_key::GatewayKey};
use tolem_protocol::codes::ResultCode;
use tower::ServiceExt;

async fn scrape(gateway: &support::Gateway, token: Option<&str>) -> (StatusCode, String) {
    let mut request = gateway.client.get(format!("{}/metrics", gateway.url));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    (response.status(), response.text().await.unwrap())
}

/// The value of the sample line that starts with `series` (name and labels).
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .map(|value| value.parse().unwrap())
}

#[tokio::test]
async fn the_operator_sees_answers_by_code_and_the_queues_waiting() {
    let gateway = support::start().await;
    assert_eq!(scrape(&gateway, None).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        scrape(&gateway, Some("guessed")).await.0,
        StatusCode::UNAUTHORIZED
    );

    let phone = gateway.ready_phone(1).await;
    let (_, first) = gateway.pay(&phone, kcell("7011234567", 100_000)).await;
    assert_eq!(first.code(), ResultCode::Ok);
    let (_, twin) = gateway.pay(&phone, kcell("7011234567", 100_000)).await;
    assert_eq!(twin.code(), ResultCode::Duplicate);

    let (status, text) = scrape(&gateway, Some(METRICS_TOKEN)).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert_eq!(
        sample(
            &text,
            r#"tolem_protocol_answers_total{step="pay",code="0"}"#
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            r#"tolem_protocol_answers_total{step="pay",code="32"}"#
        ),
        Some(1.0),
        "{text}"
    );
    // No delivery worker runs in this test: the accepted payment waits for its provider.
    assert_eq!(
        sample(&text, "tolem_delivery_queue_depth"),
        Some(1.0),
        "{text}"
    );
    assert_eq!(sample(&text, "tolem_mail_queue_depth"), Some(0.0), "{text}");
    // Each pay was decided in a group of its own (the second waited for the first's answer),
    // every step of each timed.
    assert_eq!(
        sample(&text, "tolem_payment_group_payments_count"),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, "tolem_payment_group_payments_sum"),
        Some(2.0),
        "{text}"
    );
    for step in ["turn", "decide", "riders", "commit"] {
        let series = format!(r#"tolem_payment_group_step_seconds_count{{step="{step}"}}"#);
        assert_eq!(sample(&text, &series), Some(2.0), "{step}: {text}");
    }
    let decided = sample(
        &text,
        r#"tolem_payment_group_step_seconds_sum{step="decide"}"#,
    );
    assert!(decided.is_some_and(|s| s > 0.0), "{text}");
    let api_requests = sample(&text, r#"tolem_request_duration_seconds_count{face="api"}"#);
    assert!(api_requests.is_some_and(|n| n >= 2.0), "{text}");
    assert!(text.ends_with("# EOF\n"), "{text}");
}

#[tokio::test]
async fn without_a_token_there_is_no_metrics_endpoint() {
    let pool = db::connect("sqlite::memory:").await.unwrap();
    let app = app(AppState::new(
        pool,
        "/nonexistent",
        GatewayKey::from_seed(&[1; 32]),
    ));
    let response = app
        .oneshot(
            Request::get("/metrics")
                .header("authorization", "Bearer anything")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

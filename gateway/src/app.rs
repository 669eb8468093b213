//! The whole gateway as one router: each face mounted at its place, plus what every response
//! gets (request logging, `nosniff`, a 500 for a handler's panic). Tests drive exactly what production serves, in-process
//! with `tower::ServiceExt::oneshot` or bound to port 0.

use std::time::Duration;

use axum::{
    Router,
    body::Body,
    http::{HeaderValue, Request, Response, StatusCode, header},
    routing::get,
};
use tolem_protocol::codes::{Lang, ResultCode};
use tower_http::{
    catch_panic::CatchPanicLayer, set_header::SetResponseHeaderLayer, trace::TraceLayer,
};
use tracing::Span;

use crate::{console, http, public, state::AppState, web};

/// The whole gateway: API, dealer console, the public verification page of signed messages,
/// static app, request logging and security headers.
pub fn app(state: AppState) -> Router {
    let https = state.https;
    let mut router = Router::new();
    if let Some(ca) = state.lan_ca.clone() {
        router = router.route(
            crate::tls::CA_PATH,
            get(move || {
                let ca = ca.clone();
                async move { crate::tls::ca_response(&ca) }
            }),
        );
    }
    let router = router
        .nest("/api", http::api_router(&state))
        .nest("/console", console::router())
        .merge(public::router())
        // The nested router's "/" is `/console` only; people type the slash too.
        .route("/console/", get(console::to_home))
        .route("/metrics", get(web::metrics_endpoint::metrics))
        .fallback(web::static_files::serve)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            web::metrics_endpoint::time_requests,
        ))
        .with_state(state);
    every_answer(router, https)
}

/// What every response gets, whichever face answered: `nosniff`, a 500 in place of a handler's
/// panic, the request log, and HSTS when serving HTTPS.
fn every_answer(router: Router, https: bool) -> Router {
    let router = router
        // Innermost: the 500 gets the headers and the log line every answer gets.
        .layer(CatchPanicLayer::custom(panicked))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            // Browsers must not guess a type: a cashier-uploaded text must never run as script.
            HeaderValue::from_static("nosniff"),
        ))
        .layer(
            TraceLayer::new_for_http()
                // The path only: query strings may one day carry things that don't belong in logs.
                .make_span_with(|request: &Request<Body>| {
                    tracing::info_span!(
                        "request",
                        method = %request.method(),
                        path = %request.uri().path(),
                    )
                })
                .on_request(())
                .on_response(
                    |response: &Response<Body>, latency: Duration, _span: &Span| {
                        tracing::info!(
                            status = response.status().as_u16(),
                            latency_ms = latency.as_secs_f64() * 1000.0,
                            "response"
                        );
                    },
                ),
        );
    if https {
        // Outermost: every answer, the static app's and the errors' too.
        router.layer(axum::middleware::from_fn(crate::tls::strict_transport))
    } else {
        router
    }
}

/// The answer to a request whose handler panicked. Without it the connection would close with
/// no answer at all (the server profile unwinds, so the gateway itself keeps serving): a
/// browser shows its own error page and a phone cannot tell a gateway that failed from a
/// network that did. The panic's message went to the log through the panic hook; here only
/// that it happened — the message could quote a request's values.
fn panicked(_: Box<dyn std::any::Any + Send + 'static>) -> Response<Body> {
    tracing::error!("a request's handler panicked; answered 500");
    let text = [Lang::Ru, Lang::Kk, Lang::En]
        .map(|lang| ResultCode::Internal.message(lang))
        .join("\n");
    let mut response = Response::new(Body::from(text));
    *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

#[cfg(test)]
mod tests {
    use tower::ServiceExt;

    use super::*;

    async fn ask(router: &Router, path: &str) -> (StatusCode, String) {
        let request = Request::get(path).body(Body::empty()).unwrap();
        let response = router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        (status, String::from_utf8(body.to_vec()).unwrap())
    }

    async fn response_header(router: &Router, path: &str) -> Option<String> {
        let request = Request::get(path).body(Body::empty()).unwrap();
        let response = router.clone().oneshot(request).await.unwrap();
        let value = response.headers().get(header::X_CONTENT_TYPE_OPTIONS)?;
        Some(value.to_str().unwrap().to_owned())
    }

    async fn broken() -> &'static str {
        panic!("a bug")
    }

    #[tokio::test]
    async fn a_handler_that_panics_is_answered_500_and_the_next_request_is_served() {
        let router = every_answer(
            Router::new()
                .route("/broken", get(broken))
                .route("/fine", get(|| async { "fine" })),
            false,
        );
        let (status, text) = ask(&router, "/broken").await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(text.contains("Внутренняя ошибка шлюза"), "{text}");
        assert!(
            !text.contains("a bug"),
            "the panic's message stays in the log"
        );
        assert_eq!(
            response_header(&router, "/broken").await.as_deref(),
            Some("nosniff")
        );
        assert_eq!(ask(&router, "/fine").await, (StatusCode::OK, "fine".into()));
    }
}

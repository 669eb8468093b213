//! The whole gateway as one router: each face mounted at its place, plus what every response
//! gets (request logging, `nosniff`). Tests drive exactly what production serves, in-process
//! with `tower::ServiceExt::oneshot` or bound to port 0.

use std::time::Duration;

use axum::{
    Router,
    body::Body,
    http::{HeaderValue, Request, Response, header},
    routing::get,
};
use tower_http::{set_header::SetResponseHeaderLayer, trace::TraceLayer};
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
        .with_state(state)
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

//! The public pages: what anyone may open without an account — [`verify`], which checks the
//! signatures of a letter a point sent by e-mail, and [`bill`], the customer's pages of a card
//! bill, and [`receipt`], the public check of a payment document.

pub mod bill;
pub mod frame;
pub mod receipt;
pub mod verify;

use axum::{
    Router,
    extract::Request,
    http::{HeaderValue, header},
    middleware::Next,
    response::Response,
};

use crate::state::AppState;

/// Every public page.
pub fn router() -> Router<AppState> {
    verify::router()
        .merge(bill::router())
        .merge(receipt::router())
}

/// The same strict headers as the console: no scripts, no framing, never cached (a pasted
/// letter, a bill, are private). Forms may post only here — and a bill's form is followed by
/// a redirect to the payment service, which `form-action` must allow: browsers apply it to
/// redirects after a submission, so it names any HTTPS origin for the bill pages.
pub async fn security_headers(request: Request, next: Next) -> Response {
    let bill = request.uri().path().starts_with("/bill/");
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    let form_action = if bill {
        "default-src 'none'; style-src 'self'; form-action 'self' https: http:; \
         frame-ancestors 'none'; base-uri 'none'"
    } else {
        "default-src 'none'; style-src 'self'; form-action 'self'; \
         frame-ancestors 'none'; base-uri 'none'"
    };
    let fixed = [
        (header::CACHE_CONTROL, "no-store"),
        (header::CONTENT_SECURITY_POLICY, form_action),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
    ];
    for (name, value) in fixed {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

//! Money in, the four-eyes way, as the two browsers drive it: a dealer's user asks for a
//! top-up on the money page, the operator confirms it with a one-time code on the top-ups page.

use reqwest::{Response, StatusCode};
use tolem_gateway::payments::business_date;

use super::{
    Gateway,
    browser::{OPERATOR, OPERATOR_TOTP_SECRET},
    now_ms,
};

/// Today as the gateway's business day names it (`YYYY-MM-DD`).
pub fn today() -> String {
    business_date(now_ms()).to_string()
}

impl Gateway {
    /// The demo operator's current one-time code (see [`Gateway::admin_code`]).
    pub async fn operator_code(&self) -> String {
        self.code_of(OPERATOR.0, OPERATOR_TOTP_SECRET).await
    }

    /// A dealer's user (`cookie`) asks for a top-up paid today; returns the response.
    pub async fn request_top_up(&self, cookie: &str, amount: &str, reference: &str) -> Response {
        let (_, csrf) = self.console_page("/console/money", cookie).await;
        self.console_post(
            "/console/money/top-up-requests",
            cookie,
            &[
                ("csrf", &csrf),
                ("amount", amount),
                ("reference", reference),
                ("paid_on", &today()),
            ],
        )
        .await
    }

    /// The id of the dealer's latest request with this bank reference.
    pub async fn request_id(&self, dealer: &str, reference: &str) -> String {
        sqlx::query_scalar(
            "SELECT id FROM top_up_requests WHERE dealer_code = $1 AND bank_reference = $2 \
             ORDER BY requested_at_ms DESC, id DESC",
        )
        .bind(dealer)
        .bind(reference)
        .fetch_one(&self.pool)
        .await
        .unwrap()
    }

    /// The operator (`cookie`) confirms request `id` with a fresh code; returns the response.
    pub async fn confirm_top_up(&self, operator: &str, id: &str) -> Response {
        let (_, csrf) = self
            .console_page("/console/operator/top-ups", operator)
            .await;
        let code = self.operator_code().await;
        self.console_post(
            &format!("/console/operator/top-ups/{id}/confirm"),
            operator,
            &[("csrf", &csrf), ("otp", &code)],
        )
        .await
    }

    /// A dealer's user asks and the operator confirms: the money is credited.
    pub async fn top_up(
        &self,
        dealer: &str,
        cookie: &str,
        operator: &str,
        amount: &str,
        reference: &str,
    ) {
        let response = self.request_top_up(cookie, amount, reference).await;
        assert_eq!(
            response.status(),
            StatusCode::SEE_OTHER,
            "request {reference}"
        );
        let id = self.request_id(dealer, reference).await;
        let response = self.confirm_top_up(operator, &id).await;
        assert_eq!(
            response.status(),
            StatusCode::SEE_OTHER,
            "confirm {reference}"
        );
    }
}

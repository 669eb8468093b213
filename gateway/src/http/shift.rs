//! The `shift` step, `POST /api/v1/shift` (issue 16): a closed shift's report, signed by the
//! point key. It takes [`Authorized`], so the signed-step pipeline has run first (a tampered
//! body is 6, a revoked key 903, a blocked point 53 — the phone keeps the report and sends it
//! again later). The report is stored once per session ([`crate::shift::record`]): sent again,
//! it gets the same `ShiftRecorded` answer; other figures under the same session get 1.

use axum::{Router, extract::State, routing::post};
use tolem_protocol::{
    codes::ResultCode,
    messages::{Outcome, Step},
};

use super::{answer::Answer, signed::Authorized};
use crate::shift::{self, Recorded};
use crate::{db::now_ms, state::AppState};

/// The route of the step, relative to `/api/v1`.
pub fn router() -> Router<AppState> {
    Router::new().route("/shift", post(shift_report))
}

#[utoipa::path(
    post,
    path = "/api/v1/shift",
    tag = "point",
    summary = "A closed shift's report, signed by the point key; stored once per session.",
    params(super::openapi::SignedHeaders),
    request_body(content = tolem_protocol::messages::Request, content_type = "application/json",
        description = "A signed request (at most 16 KiB); its `step` is the URL's last segment."),
    responses(super::openapi::ProtocolAnswers),
)]
pub(crate) async fn shift_report(
    State(state): State<AppState>,
    Authorized(auth): Authorized,
) -> Result<Answer, Answer> {
    let Step::Shift(report) = &auth.request.step else {
        return Err(Answer::internal(
            &"a non-shift request reached the shift step",
        ));
    };
    let session = auth.request.session.clone();
    let point = auth.point.code.clone();
    match shift::record(&state.pool, &auth, report, now_ms()).await? {
        Recorded::New { recorded_at_ms } => {
            tracing::info!(%point, %session, "shift report stored");
            Ok(Answer::outcome(
                Some(session),
                Outcome::ShiftRecorded { recorded_at_ms },
            ))
        }
        Recorded::Replayed { recorded_at_ms } => {
            tracing::info!(%point, %session, "shift report sent again: stored before");
            Ok(Answer::outcome(
                Some(session),
                Outcome::ShiftRecorded { recorded_at_ms },
            ))
        }
        Recorded::SessionTaken => {
            tracing::info!(%point, %session, "shift report refused: the session has another");
            Err(Answer::refusal(Some(session), ResultCode::SessionExists))
        }
    }
}

//! The public pages: what anyone may open without an account. Today one, [`verify`], which
//! checks the signatures of a letter a point sent by e-mail.

pub mod verify;

use axum::Router;

use crate::state::AppState;

/// Every public page.
pub fn router() -> Router<AppState> {
    verify::router()
}

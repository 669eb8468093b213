//! The waiting payments and letters as a file the cashier can take away before deleting the
//! key (issue 13 item 4): every request exactly as signed — the body, byte for byte, the
//! signer's serial and the signature — so a dealer or support can replay them later
//! (`POST /api/v1/<step>` with the body and the `x-tolem-key` / `x-tolem-signature` headers).
//! The gateway's idempotency makes a replay of something that did arrive harmless.
//!
//! JSON, one object: a format name and version, the point and key, then `payments` and
//! `letters`. What the cashier entered is repeated beside the bytes so a person can read the
//! file; only the signed bytes count.

use serde::{Deserialize, Serialize};
use tolem_protocol::messages::KeyCard;

use crate::letters::{self, LetterRecord};
use crate::record::{PaymentRecord, SignedRequest};
use crate::store::{self, StoreError};

/// The format's name, in every file.
pub const FORMAT: &str = "tolem-outbox-export";
/// The format's version; bumped with any change a reader would notice.
pub const VERSION: u32 = 1;

/// The whole file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Export {
    pub format: String,
    pub version: u32,
    pub exported_at_ms: i64,
    /// How to use the file, for whoever finds it.
    pub replay: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dealer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub point: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_serial: Option<String>,
    pub payments: Vec<ExportedPayment>,
    pub letters: Vec<ExportedLetter>,
}

/// One waiting payment (or bill) with its pre-signed requests.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportedPayment {
    pub session: String,
    /// Where it stood on the phone (`deferred`, `unknown`, …).
    pub state: String,
    pub provider: String,
    pub account: String,
    pub amount_tiyn: i64,
    pub customer_amount_tiyn: i64,
    pub created_at_ms: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<i64>,
    /// The step the first request is: `pay`, or `bill` for a card payment.
    pub step: String,
    /// The request that makes the payment.
    pub pay: SignedRequest,
    /// Its status query, signed with it.
    pub status: SignedRequest,
    /// A bill's cancel, signed with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancel: Option<SignedRequest>,
}

/// One waiting letter with its signed `message` request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportedLetter {
    pub session: String,
    pub to: String,
    pub created_at_ms: i64,
    pub request: SignedRequest,
}

/// The file for what waits: `payments` and `letters` not final yet (final ones are left out).
pub fn export(
    card: Option<&KeyCard>,
    payments: &[PaymentRecord],
    letters: &[LetterRecord],
    now_ms: i64,
) -> Export {
    Export {
        format: FORMAT.to_owned(),
        version: VERSION,
        exported_at_ms: now_ms,
        replay: "POST each request's body as it is to /api/v1/<step> with the headers \
                 x-tolem-key: <signer> and x-tolem-signature: <signature>"
            .to_owned(),
        dealer: card.map(|c| c.dealer.clone()),
        point: card.map(|c| c.point.clone()),
        key_serial: card.map(|c| c.key_serial.clone()),
        payments: payments
            .iter()
            .filter(|r| !r.state.is_final())
            .map(|r| ExportedPayment {
                session: r.session.to_string(),
                state: r.state.name().to_owned(),
                provider: r.payment.provider.clone(),
                account: r.payment.account.clone(),
                amount_tiyn: r.payment.amount_tiyn,
                customer_amount_tiyn: r.payment.customer_amount_tiyn,
                created_at_ms: r.payment.created_at_ms,
                seq: r.payment.seq,
                step: if r.payment.is_bill() { "bill" } else { "pay" }.to_owned(),
                pay: r.payment.pay.clone(),
                status: r.payment.status.clone(),
                cancel: r.payment.bill.as_ref().map(|b| b.cancel.clone()),
            })
            .collect(),
        letters: letters
            .iter()
            .filter(|l| !l.state.is_final())
            .map(|l| ExportedLetter {
                session: l.session.to_string(),
                to: l.letter.to.clone(),
                created_at_ms: l.letter.created_at_ms,
                request: l.letter.request.clone(),
            })
            .collect(),
    }
}

/// What waits on this phone now, as the file's text.
pub async fn waiting_json(now_ms: i64) -> Result<String, StoreError> {
    let card = store::key_card().await?;
    let payments = store::waiting().await?;
    let letters = letters::waiting().await?;
    let export = export(card.as_ref(), &payments, &letters, now_ms);
    serde_json::to_string_pretty(&export)
        .map_err(|e| StoreError::Storage(crate::db::StorageError::Failed(e.to_string())))
}

/// The file's name: the point and the time, so two exports never overwrite each other.
pub fn file_name(point: &str, now_ms: i64) -> String {
    format!("tolem-{point}-waiting-{now_ms}.json")
}

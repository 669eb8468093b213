//! The customer's receipt by e-mail, when they left an address on the bill's page: queued in
//! the transaction that settles the bill, so a paid bill always has its receipt on the way, and
//! sent by the mail worker like the points' letters (retried until the mail server takes it,
//! never twice: its message id is the bill's invoice). In the language the customer paid in.

use sha2::{Digest, Sha256};
use sqlx::AnyConnection;

use crate::{
    db::{
        bills::Bill,
        mail::{self, NewMail},
    },
    display::{local_time, tenge},
    sender::Sender,
};

/// What the receipt says.
#[derive(Debug, Clone)]
pub struct Receipt<'a> {
    pub bill: &'a Bill,
    pub sender: &'a Sender,
    pub transaction_id: &'a str,
    pub provider_name: &'a str,
    pub account: &'a str,
    pub amount_tiyn: i64,
    pub customer_amount_tiyn: i64,
    pub paid_at_ms: i64,
}

/// The receipt's subject and text, in `lang` (`ru`, `kk`, `en`).
pub fn compose(receipt: &Receipt<'_>, lang: &str) -> (String, String) {
    let t = |key: &str| rust_i18n::t!(key, locale = lang).into_owned();
    let line = |key: &str, value: String| format!("{}: {value}\n", t(key));
    let subject = format!("{} {}", t("receipt.subject"), receipt.transaction_id);
    let mut body = format!("{}\n\n", t("receipt.heading"));
    body += &line("bill.transaction", receipt.transaction_id.to_owned());
    body += &line("receipt.time", local_time(receipt.paid_at_ms));
    body += &line("bill.provider", receipt.provider_name.to_owned());
    body += &line("bill.account", receipt.account.to_owned());
    body += &line("bill.amount", format!("{} ₸", tenge(receipt.amount_tiyn)));
    body += &line(
        "bill.commission",
        format!(
            "{} ₸",
            tenge(receipt.customer_amount_tiyn - receipt.amount_tiyn)
        ),
    );
    body += &line(
        "receipt.paid",
        format!("{} ₸", tenge(receipt.customer_amount_tiyn)),
    );
    body += &line(
        "bill.point",
        format!(
            "{} ({}), {}",
            receipt.sender.point.name, receipt.sender.point.code, receipt.sender.dealer.name
        ),
    );
    body += &format!("\n{}\n", t("receipt.footer"));
    (subject, body)
}

/// Queues the receipt of a settled bill to `to`, inside the settlement's transaction.
pub async fn queue_in(
    conn: &mut AnyConnection,
    receipt: &Receipt<'_>,
    to: &str,
    now_ms: i64,
) -> Result<String, sqlx::Error> {
    let bill = receipt.bill;
    let (subject, body) = compose(receipt, &bill.language);
    let message_id = format!("{}-R{}", bill.point_code, bill.invoice);
    let hash = hex(&Sha256::digest(format!("{to}\n{body}").as_bytes()));
    let content = bill.content.as_ref();
    mail::insert(
        conn,
        &NewMail {
            message_id: &message_id,
            point_code: &bill.point_code,
            // Not a session of the phone's: the receipt's own key in the outbox.
            session: &format!("receipt-{}", bill.invoice),
            dealer_code: &bill.dealer_code,
            cashier_code: &receipt.sender.cashier.code,
            key_serial: &receipt.sender.key.serial,
            recipient: to,
            content_hash: &hash,
            request_body: content.map(|c| c.request_body.as_slice()).unwrap_or(&[]),
            request_signature: content.map(|c| c.request_signature.as_str()).unwrap_or(""),
            subject: &subject,
            body: &body,
            created_at_ms: now_ms,
        },
    )
    .await?;
    Ok(message_id)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

//! The public receipt check (manual §1: the point gives the customer a payment document): what
//! the gateway recorded about one payment, read by its transaction number *and* its session —
//! the session is chosen at random by the phone and known only to the phone and the gateway, so
//! a receipt's address cannot be guessed from a transaction number, and numbers cannot be walked
//! to read other people's payments.
//!
//! The facts are written as one line of JSON (fields in a fixed order, no spaces) and signed
//! with the gateway's Ed25519 key over exactly those bytes, so anyone holding the page can check
//! them against the gateway's public key with any Ed25519 tool. The first field names what the
//! text is (`"kind":"tolem.receipt"`): such a text is never a protocol answer, so the signature
//! cannot be passed off as one.
//!
//! The account is masked in the facts too: the page is public, and the customer recognises their
//! own number by its first and last digits.

use serde::Serialize;
use sqlx::{AnyPool, Row};
use tolem_protocol::keys::Signature;

use crate::{
    db::{deliveries, network},
    gateway_key::GatewayKey,
};

/// What names the signed text.
pub const KIND: &str = "tolem.receipt";

/// What the gateway recorded about a payment, in the order it is signed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReceiptFacts {
    pub kind: &'static str,
    pub transaction: String,
    pub dealer: String,
    pub dealer_name: String,
    /// The dealer's business identification number, empty when the operator has none.
    pub dealer_bin: String,
    pub dealer_address: String,
    pub point: String,
    pub point_name: String,
    pub cashier: String,
    pub provider: String,
    pub provider_name: String,
    /// Masked: see the module docs.
    pub account: String,
    pub amount_tiyn: i64,
    pub commission_tiyn: i64,
    pub customer_amount_tiyn: i64,
    /// `cash` or `card`.
    pub method: String,
    /// When the customer paid (the phone's signed time, UTC ms).
    pub created_at_ms: i64,
    /// When the gateway decided.
    pub received_at_ms: i64,
    /// `accepted` or `rejected`.
    pub state: String,
    /// The result code answered (0 for accepted).
    pub code: i64,
    /// Where the delivery to the provider is (`queued` … `delivered`, `failed`), if it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivery: Option<String>,
    /// When the money went back (the provider refused), if it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refunded_at_ms: Option<i64>,
    /// When these facts were read: the delivery state is the one at this time.
    pub checked_at_ms: i64,
}

/// The facts with the gateway's signature over [`SignedFacts::text`].
#[derive(Debug, Clone)]
pub struct SignedFacts {
    pub facts: ReceiptFacts,
    /// The exact bytes signed (UTF-8 JSON).
    pub text: String,
    pub signature: Signature,
}

/// An account as the public page shows it: the first three and the last two characters, the
/// rest hidden (`701•••••67`); a short one keeps only its last two.
pub fn mask_account(account: &str) -> String {
    let chars: Vec<char> = account.chars().collect();
    let n = chars.len();
    let (head, tail) = if n >= 8 { (3, 2) } else { (0, 2.min(n)) };
    let mut masked: String = chars[..head].iter().collect();
    masked.extend(std::iter::repeat_n('•', n - head - tail));
    masked.extend(&chars[n - tail..]);
    masked
}

/// The facts of the payment `transaction` made in `session`, if there is one — the same
/// `None` for an unknown transaction and for a wrong session.
pub async fn find(
    pool: &AnyPool,
    transaction: &str,
    session: &str,
    now_ms: i64,
) -> Result<Option<ReceiptFacts>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT p.transaction_id, p.dealer_code, p.point_code, p.cashier_code, p.provider, \
         pr.name AS provider_name, p.account, p.amount_tiyn, p.customer_amount_tiyn, p.method, \
         p.created_at_ms, p.received_at_ms, p.state, p.code, p.refunded_at_ms, \
         d.name AS dealer_name, COALESCE(d.bin, '') AS dealer_bin, d.legal_address \
         FROM payments p JOIN dealers d ON d.code = p.dealer_code \
         LEFT JOIN providers pr ON pr.code = p.provider \
         WHERE p.transaction_id = $1 AND p.session = $2",
    )
    .bind(transaction)
    .bind(session)
    .fetch_optional(pool)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let point_code: String = row.try_get("point_code")?;
    let point_name = network::point(pool, &point_code)
        .await?
        .map(|p| p.name)
        .unwrap_or_default();
    let mut conn = pool.acquire().await?;
    let delivery = deliveries::find(&mut conn, transaction).await?;
    let provider: String = row.try_get("provider")?;
    let provider_name: Option<String> = row.try_get("provider_name")?;
    let account: String = row.try_get("account")?;
    let amount_tiyn: i64 = row.try_get("amount_tiyn")?;
    let customer_amount_tiyn: i64 = row.try_get("customer_amount_tiyn")?;
    Ok(Some(ReceiptFacts {
        kind: KIND,
        transaction: row.try_get("transaction_id")?,
        dealer: row.try_get("dealer_code")?,
        dealer_name: row.try_get("dealer_name")?,
        dealer_bin: row.try_get("dealer_bin")?,
        dealer_address: row.try_get("legal_address")?,
        point: point_code,
        point_name,
        cashier: row.try_get("cashier_code")?,
        provider_name: provider_name.unwrap_or_else(|| provider.clone()),
        provider,
        account: mask_account(&account),
        amount_tiyn,
        commission_tiyn: customer_amount_tiyn - amount_tiyn,
        customer_amount_tiyn,
        method: row.try_get("method")?,
        created_at_ms: row.try_get("created_at_ms")?,
        received_at_ms: row.try_get("received_at_ms")?,
        state: row.try_get("state")?,
        code: row.try_get("code")?,
        delivery: delivery.map(|d| d.state.as_str().to_owned()),
        refunded_at_ms: row.try_get("refunded_at_ms")?,
        checked_at_ms: now_ms,
    }))
}

/// Signs `facts` with the gateway key: see the module docs for what exactly is signed.
pub fn sign(facts: ReceiptFacts, key: &GatewayKey) -> SignedFacts {
    // Serialising a struct of strings and integers cannot fail.
    let text = serde_json::to_string(&facts).expect("receipt facts serialise");
    let signature = key.sign(text.as_bytes());
    SignedFacts {
        facts,
        text,
        signature,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_are_masked_but_recognisable() {
        assert_eq!(mask_account("7011234567"), "701•••••67");
        assert_eq!(mask_account("12345"), "•••45");
        assert_eq!(mask_account("1"), "1");
        assert_eq!(mask_account(""), "");
    }
}

//! Where a payment document's QR code leads: the gateway's public receipt check,
//! `<origin>/receipt/<transaction>/<session>`. The transaction number is printed on the receipt;
//! the session was chosen at random by the phone and is known only to the phone and the
//! gateway, so the address cannot be guessed from a receipt number.

use crate::ids::SessionId;

/// The path under which the gateway serves receipt checks.
pub const RECEIPT_PATH: &str = "/receipt/";

/// The check's address: `origin` is the gateway's public address (a trailing slash is dropped).
pub fn check_link(origin: &str, transaction: &str, session: &SessionId) -> String {
    format!(
        "{}{RECEIPT_PATH}{transaction}/{session}",
        origin.trim_end_matches('/')
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_link_names_the_transaction_and_the_session() {
        let session = SessionId::try_from("01JABCDEFGHJKMNPQRST".to_owned()).unwrap();
        assert_eq!(
            check_link("https://gw.example.kz/", "D001-000042", &session),
            "https://gw.example.kz/receipt/D001-000042/01JABCDEFGHJKMNPQRST"
        );
    }
}

//! The e-mail a recipient gets: a part a person reads (who sent it, when, the text) and the
//! armored block ([`super::envelope`]) that proves it, in one `text/plain; charset=utf-8`
//! body.
//!
//! The text is composed once, when the letter is queued, and stored: every attempt sends the
//! same words, and the console shows what went. The headers are made at each attempt from the
//! stored row, the same each time too: `Date` is when the gateway queued the letter, and
//! `Message-ID` is built from the message id, so a recipient's client recognises a copy that
//! an SMTP retry might deliver twice (the server took it, the connection broke before it said
//! so) as the same message.
//!
//! ```text
//! Subject: Сообщение от точки P1001          (RFC 2047-encoded by lettre)
//!
//! Сообщение от точки P1001 «Киоск на Абая»
//! Дилер: D001 «…»
//! Кассир: C1 «…»
//! Написано: 2025-03-01 14:15:07 UTC+5 (2025-03-01 09:15:07 UTC), по часам телефона точки
//! Передано шлюзом: 2025-03-01 14:15:09 UTC+5 (2025-03-01 09:15:09 UTC)
//! Номер сообщения: P1001-M1
//!
//! ==== Текст сообщения ====
//! <the text, lines starting with "-" (after any quoting or indentation) escaped as "- -">
//! ==== Конец текста ====
//!
//! <what the signatures are and where to check them: <public url>/verify>
//!
//! -----BEGIN TOLEM SIGNED MESSAGE-----
//! …
//! -----END TOLEM SIGNED MESSAGE-----
//! ```
//!
//! Sent as quoted-printable: the Cyrillic is readable by every client, and the block, which is
//! ASCII, stays readable in the raw source too (an `.eml` opened in a text editor).

use std::time::{Duration, UNIX_EPOCH};

use lettre::message::{
    Mailbox, SinglePart,
    header::{ContentTransferEncoding, ContentType},
};

use crate::display::local_time;

/// What the human-readable part says, besides the text.
#[derive(Debug, Clone)]
pub struct Heading<'a> {
    pub point_code: &'a str,
    pub point_name: &'a str,
    pub dealer_code: &'a str,
    pub dealer_name: &'a str,
    pub cashier_code: &'a str,
    pub cashier_name: &'a str,
    pub key_serial: &'a str,
    pub key_fingerprint: &'a str,
    pub message_id: &'a str,
    /// The phone's time of writing (signed).
    pub written_at_ms: i64,
    /// When the gateway queued it.
    pub relayed_at_ms: i64,
    /// The verification page, `https://gateway.example.kz/verify`.
    pub verify_url: &'a str,
}

/// The subject: `Сообщение от точки P1001`.
pub fn subject(point_code: &str) -> String {
    format!("Сообщение от точки {point_code}")
}

/// The body: the readable part, then `armor` (the block of [`super::envelope`]).
pub fn body(heading: &Heading<'_>, text: &str, armor: &str) -> String {
    let h = heading;
    let mut body = format!(
        "Сообщение от точки {} «{}»\n\
         Дилер: {} «{}»\n\
         Кассир: {} «{}»\n\
         Написано: {}, по часам телефона точки\n\
         Передано шлюзом: {}\n\
         Номер сообщения: {}\n\n\
         ==== Текст сообщения ====\n",
        h.point_code,
        h.point_name,
        h.dealer_code,
        h.dealer_name,
        h.cashier_code,
        h.cashier_name,
        both_times(h.written_at_ms),
        both_times(h.relayed_at_ms),
        h.message_id,
    );
    for line in text.replace("\r\n", "\n").replace('\r', "\n").lines() {
        // Dash-escaping: no line of the text can pass for a line of the signed block — as the
        // block's reader sees a line, after the quoting and indentation it forgives.
        if super::envelope::clean(line).starts_with('-') {
            body.push_str("- ");
        }
        body.push_str(line);
        body.push('\n');
    }
    body.push_str(&format!(
        "==== Конец текста ====\n\n\
         Текст подписан ключом точки {} (код-отпечаток {}) и заверен подписью шлюза Tolem.\n\
         Чтобы проверить обе подписи, вставьте это письмо целиком или блок ниже на странице\n\
         {}\n\n",
        h.key_serial, h.key_fingerprint, h.verify_url
    ));
    body.push_str(armor);
    body
}

/// `2025-03-01 14:15:07 UTC+5 (2025-03-01 09:15:07 UTC)`: the point's local time first, the
/// UTC instant beside it for a recipient elsewhere.
fn both_times(ms: i64) -> String {
    let local = local_time(ms);
    let utc = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .map(|t| {
            format!(
                "{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC",
                t.year(),
                u8::from(t.month()),
                t.day(),
                t.hour(),
                t.minute(),
                t.second()
            )
        })
        .unwrap_or_default();
    format!("{local} ({utc})")
}

/// What the worker needs to build the e-mail of a stored letter.
#[derive(Debug, Clone, Copy)]
pub struct Stored<'a> {
    pub message_id: &'a str,
    pub recipient: &'a str,
    pub subject: &'a str,
    pub body: &'a str,
    pub created_at_ms: i64,
}

/// Whether an e-mail can be written to `address` (lettre's rules, stricter than the protocol's
/// plain check: `a..b@mail.kz` passes that one). An address refused here is refused where it
/// is typed, not found out when the letter is composed — an error the mail worker takes for
/// temporary, so the letter would be tried again for ever.
pub fn can_write_to(address: &str) -> bool {
    address.parse::<lettre::Address>().is_ok()
}

/// The e-mail of a stored letter, from `from`.
pub fn email(from: &Mailbox, stored: &Stored<'_>) -> Result<lettre::Message, String> {
    let to = stored
        .recipient
        .parse::<lettre::Address>()
        .map_err(|e| format!("the recipient is not an address: {e}"))?;
    let date = UNIX_EPOCH + Duration::from_millis(u64::try_from(stored.created_at_ms).unwrap_or(0));
    lettre::Message::builder()
        .from(from.clone())
        .to(Mailbox::new(None, to))
        .subject(stored.subject)
        .date(date)
        .message_id(Some(format!(
            "<{}.{}@{}>",
            stored.message_id,
            stored.created_at_ms,
            from.email.domain()
        )))
        .singlepart(
            SinglePart::builder()
                .header(ContentType::TEXT_PLAIN)
                .header(ContentTransferEncoding::QuotedPrintable)
                .body(stored.body.to_owned()),
        )
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn heading() -> Heading<'static> {
        Heading {
            point_code: "P1001",
            point_name: "Киоск",
            dealer_code: "D001",
            dealer_name: "Дилер",
            cashier_code: "C1",
            cashier_name: "Айгуль",
            key_serial: "P1001-1",
            key_fingerprint: "12345 67890 12345 67890 12345 67890",
            message_id: "P1001-M1",
            written_at_ms: 1_740_820_507_000,
            relayed_at_ms: 1_740_820_509_000,
            verify_url: "http://127.0.0.1:8080/verify",
        }
    }

    #[test]
    fn the_readable_part_names_the_point_times_and_text() {
        let body = body(&heading(), "Привет\r\n-----BEGIN X\n- уже", "BLOCK\n");
        assert!(body.contains("Сообщение от точки P1001 «Киоск»"));
        assert!(body.contains("Написано: 2025-03-01 14:15:07 UTC+5 (2025-03-01 09:15:07 UTC)"));
        assert!(body.contains("Передано шлюзом: 2025-03-01 14:15:09 UTC+5"));
        assert!(
            body.contains("\nПривет\n- -----BEGIN X\n- - уже\n"),
            "{body}"
        );
        assert!(body.contains("http://127.0.0.1:8080/verify"));
        assert!(body.ends_with("BLOCK\n"));
    }

    /// The block's reader forgives quoting and indentation (`envelope::clean`): a text line
    /// that would be a block line once they are taken away is escaped too.
    #[test]
    fn no_line_of_the_text_reads_as_a_block_line() {
        use super::super::envelope::{BEGIN, END, clean};
        let text = format!(" {BEGIN}\n>> {END}\n\t-----BEGIN X");
        let body = body(&heading(), &text, "BLOCK\n");
        for line in body.lines() {
            let seen = clean(line);
            assert!(seen != BEGIN && seen != END, "{line:?} in {body}");
            assert!(!seen.starts_with("-----"), "{line:?} in {body}");
        }
    }

    #[test]
    fn the_email_has_the_headers_clients_expect() {
        let from: Mailbox = "Tolem <noreply@tolem.localhost>".parse().unwrap();
        let stored = Stored {
            message_id: "P1001-M1",
            recipient: "a@tolem.kz",
            subject: &subject("P1001"),
            body: "Текст",
            created_at_ms: 1_740_820_507_000,
        };
        let raw = String::from_utf8(email(&from, &stored).unwrap().formatted()).unwrap();
        for header in [
            "From: Tolem <noreply@tolem.localhost>\r\n",
            "To: a@tolem.kz\r\n",
            "Subject: =?utf-8?",
            "Date: Sat, 01 Mar 2025 09:15:07 +0000\r\n",
            "Message-ID: <P1001-M1.1740820507000@tolem.localhost>\r\n",
            "MIME-Version: 1.0\r\n",
            "Content-Type: text/plain; charset=utf-8\r\n",
            "Content-Transfer-Encoding: quoted-printable\r\n",
        ] {
            assert!(raw.contains(header), "{header:?} in\n{raw}");
        }
        let bad = Stored {
            recipient: "not an address",
            ..stored
        };
        assert!(email(&from, &bad).is_err());
    }
}

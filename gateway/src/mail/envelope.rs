//! The armored block that carries a signed message in an e-mail, and how it is checked.
//!
//! ```text
//! -----BEGIN TOLEM SIGNED MESSAGE-----
//! Point-Key: P1001-1
//! Point-Public-Key: <the point's public key, unpadded base64url (43 characters)>
//! Point-Signature: <the point's Ed25519 signature over the body, unpadded base64url (86)>
//! Gateway-Signature: <the gateway's Ed25519 signature over the countersigned bytes (86)>
//!
//! <the exact signed request body, standard base64, 64 characters per line>
//! -----END TOLEM SIGNED MESSAGE-----
//! ```
//!
//! * The body is the very bytes the phone signed and sent (`POST /api/v1/message`): a JSON
//!   protocol `Request` naming dealer, point, cashier, key serial, session, the phone's time and
//!   the letter (recipient and text). Nothing is re-encoded, so the point's signature verifies
//!   over it as it did at the gateway.
//! * The gateway's countersignature is over [`countersigned`]: a fixed context string, the
//!   SHA-256 of the body, then the point's 64-byte signature. It says "this gateway checked this
//!   point signature over this body and relayed it". The context string keeps it apart from
//!   everything else the same gateway key signs (the protocol's answers are JSON bodies), so no
//!   signature made for one purpose can be passed off as the other.
//!
//! ## Surviving mail clients
//! E-mail is rewrapped, quoted and re-encoded on its way, so [`find`] reads the block leniently:
//! CRLF or LF; trailing whitespace added or removed; lines quoted with `>` in a reply; a field
//! value broken over several lines by a client that wraps long lines (its continuation lines
//! are joined up to the blank line); base64 rewrapped at any width, with or without padding;
//! text around the block (the whole e-mail pasted). A pasted *raw* e-mail (its source, with
//! headers, in quoted-printable or base64) is decoded first. The human-readable part of the
//! e-mail dash-escapes the point's text (a line starting with `-` gets `- ` in front, as
//! OpenPGP's cleartext signatures do), so a text cannot smuggle in a block line of its own; and
//! when several blocks are pasted, the last one is read — the relay always puts its own last.

use base64::{
    Engine, alphabet,
    engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig, general_purpose::STANDARD},
};
use sha2::{Digest, Sha256};
use tolem_protocol::keys::{PublicKey, Signature};

use crate::gateway_key::GatewayKey;

/// The first line of a block.
pub const BEGIN: &str = "-----BEGIN TOLEM SIGNED MESSAGE-----";
/// The last line of a block.
pub const END: &str = "-----END TOLEM SIGNED MESSAGE-----";
/// What the gateway's countersignature starts with (see the module docs).
pub const COUNTERSIGNATURE_CONTEXT: &[u8] = b"Tolem countersignature v1\n";
/// Base64 characters per line of the body: PEM's width, which stays under 76 even after
/// quoted-printable encoding turns a padding `=` into `=3D`, so the lines are never split.
const BODY_COLUMNS: usize = 64;

const POINT_KEY: &str = "Point-Key";
const POINT_PUBLIC_KEY: &str = "Point-Public-Key";
const POINT_SIGNATURE: &str = "Point-Signature";
const GATEWAY_SIGNATURE: &str = "Gateway-Signature";
const FIELDS: [&str; 4] = [
    POINT_KEY,
    POINT_PUBLIC_KEY,
    POINT_SIGNATURE,
    GATEWAY_SIGNATURE,
];

/// Standard base64 that takes padding or its absence (a rewrapping client may drop an `=`).
const LENIENT_BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// A signed message as the e-mail carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// The serial of the point key that signed the body.
    pub key_serial: String,
    /// That key's public half, as the relay had it registered.
    pub public_key: PublicKey,
    /// The point's signature over [`Self::body`].
    pub point_signature: Signature,
    /// The gateway's signature over [`countersigned`].
    pub gateway_signature: Signature,
    /// The exact signed request body.
    pub body: Vec<u8>,
}

/// Why no block could be read from a pasted text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ArmorError {
    /// No `BEGIN` line.
    #[error("no signed block in the text")]
    NoBlock,
    /// A `BEGIN` line without an `END` line after it.
    #[error("the signed block has no end line")]
    Unterminated,
    /// A field is absent.
    #[error("the field {0} is missing")]
    Missing(&'static str),
    /// A field is there but unreadable (or there twice).
    #[error("the field {0} is damaged")]
    Damaged(&'static str),
    /// The body is not base64, or empty.
    #[error("the signed body is damaged")]
    BadBody,
}

/// The bytes the gateway signs to countersign `body` signed with `point_signature`.
pub fn countersigned(body: &[u8], point_signature: &Signature) -> Vec<u8> {
    let mut data = Vec::with_capacity(COUNTERSIGNATURE_CONTEXT.len() + 32 + 64);
    data.extend_from_slice(COUNTERSIGNATURE_CONTEXT);
    data.extend_from_slice(&Sha256::digest(body));
    data.extend_from_slice(&point_signature.to_bytes());
    data
}

impl Envelope {
    /// Countersigns a body whose point signature the caller has verified with `public_key`.
    pub fn countersign(
        key_serial: &str,
        public_key: PublicKey,
        body: Vec<u8>,
        point_signature: Signature,
        gateway_key: &GatewayKey,
    ) -> Envelope {
        let gateway_signature = gateway_key.sign(&countersigned(&body, &point_signature));
        Envelope {
            key_serial: key_serial.to_owned(),
            public_key,
            point_signature,
            gateway_signature,
            body,
        }
    }

    /// The block, lines ending in `\n`.
    pub fn armor(&self) -> String {
        let mut text = format!(
            "{BEGIN}\n{POINT_KEY}: {}\n{POINT_PUBLIC_KEY}: {}\n{POINT_SIGNATURE}: {}\n\
             {GATEWAY_SIGNATURE}: {}\n\n",
            self.key_serial, self.public_key, self.point_signature, self.gateway_signature
        );
        let encoded = STANDARD.encode(&self.body);
        // Base64 is ASCII, so byte chunks are whole characters.
        for line in encoded.as_bytes().chunks(BODY_COLUMNS) {
            text.push_str(&String::from_utf8_lossy(line));
            text.push('\n');
        }
        text.push_str(END);
        text.push('\n');
        text
    }

    /// Whether the point's signature verifies over the body with `key`.
    pub fn point_signature_valid(&self, key: &PublicKey) -> bool {
        key.verify(&self.body, &self.point_signature).is_ok()
    }

    /// Whether the gateway's countersignature verifies with `gateway_key`.
    pub fn gateway_signature_valid(&self, gateway_key: &PublicKey) -> bool {
        let data = countersigned(&self.body, &self.point_signature);
        gateway_key.verify(&data, &self.gateway_signature).is_ok()
    }
}

/// Reads the (last) block out of a pasted text: an e-mail as a mail client shows it, its raw
/// source, or just the block. See the module docs for what is tolerated.
pub fn find(text: &str) -> Result<Envelope, ArmorError> {
    match raw_mail_body(text) {
        Some(decoded) => match parse_last_block(&decoded) {
            Err(ArmorError::NoBlock) => parse_last_block(text),
            found => found,
        },
        None => parse_last_block(text),
    }
}

/// A line as a person meant it: without the reply quoting (`> `) a client put in front, or the
/// whitespace it added or took away at either end.
pub(crate) fn clean(line: &str) -> &str {
    line.trim_start_matches(|c: char| c == '>' || c.is_whitespace())
        .trim_end()
}

/// The `Name: value` of a known field, if `line` is one (names compared case-insensitively).
fn field(line: &str) -> Option<(&'static str, &str)> {
    let (name, value) = line.split_once(':')?;
    let name = FIELDS
        .into_iter()
        .find(|known| known.eq_ignore_ascii_case(name.trim()))?;
    Some((name, value))
}

fn parse_last_block(text: &str) -> Result<Envelope, ArmorError> {
    let lines: Vec<&str> = text.lines().map(clean).collect();
    let begin = lines
        .iter()
        .rposition(|line| *line == BEGIN)
        .ok_or(ArmorError::NoBlock)?;
    let inner = &lines[begin + 1..];
    let end = inner
        .iter()
        .position(|line| *line == END)
        .ok_or(ArmorError::Unterminated)?;
    let inner = &inner[..end];

    // Fields, then a blank line, then the body. Should a client have dropped the blank line,
    // the body starts at the first line that is not a field (and continuations are not read).
    let (head, body) = match inner.iter().position(|line| line.is_empty()) {
        Some(blank) => (&inner[..blank], &inner[blank + 1..]),
        None => {
            let fields = inner.iter().take_while(|l| field(l).is_some()).count();
            (&inner[..fields], &inner[fields..])
        }
    };
    let mut values: Vec<(&'static str, String)> = Vec::new();
    for line in head {
        match field(line) {
            Some((name, value)) => {
                if values.iter().any(|(seen, _)| *seen == name) {
                    return Err(ArmorError::Damaged(name));
                }
                values.push((name, value.split_whitespace().collect()));
            }
            // A value a client broke over two lines: none of the values has spaces or colons.
            None => {
                if let Some((_, value)) = values.last_mut() {
                    value.extend(line.split_whitespace());
                }
            }
        }
    }
    let value = |name: &'static str| {
        values
            .iter()
            .find(|(seen, _)| *seen == name)
            .map(|(_, value)| value.as_str())
            .filter(|value| !value.is_empty())
            .ok_or(ArmorError::Missing(name))
    };
    let parsed = |name: &'static str| -> Result<_, ArmorError> { Ok((name, value(name)?)) };
    let key_serial = value(POINT_KEY)?.to_owned();
    let public_key = parsed(POINT_PUBLIC_KEY).and_then(|(name, v)| {
        v.parse::<PublicKey>()
            .map_err(|_| ArmorError::Damaged(name))
    })?;
    let signature = |name: &'static str| {
        parsed(name).and_then(|(name, v)| {
            v.parse::<Signature>()
                .map_err(|_| ArmorError::Damaged(name))
        })
    };
    let point_signature = signature(POINT_SIGNATURE)?;
    let gateway_signature = signature(GATEWAY_SIGNATURE)?;

    let encoded: String = body
        .iter()
        .flat_map(|line| line.split_whitespace())
        .collect();
    let body = LENIENT_BASE64
        .decode(encoded.as_bytes())
        .map_err(|_| ArmorError::BadBody)?;
    if body.is_empty() {
        return Err(ArmorError::BadBody);
    }
    Ok(Envelope {
        key_serial,
        public_key,
        point_signature,
        gateway_signature,
        body,
    })
}

/// The decoded body of `text` when it is the raw source of an e-mail whose body is
/// quoted-printable or base64 (an `.eml` file, "show original" in a web mail); `None` when it
/// does not look like one.
fn raw_mail_body(text: &str) -> Option<String> {
    let text = text.replace("\r\n", "\n");
    let (head, body) = text.split_once("\n\n")?;
    let mut lines = head.lines();
    // A message starts with a header: a name of printable characters without spaces, a colon.
    let first = lines.next()?;
    let (name, _) = first.split_once(':')?;
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_graphic()) {
        return None;
    }
    let encoding = head
        .lines()
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| {
            name.trim()
                .eq_ignore_ascii_case("Content-Transfer-Encoding")
        })
        .map(|(_, value)| value.trim().to_ascii_lowercase())?;
    let bytes = match encoding.as_str() {
        "quoted-printable" => {
            quoted_printable::decode(body.as_bytes(), quoted_printable::ParseMode::Robust).ok()?
        }
        "base64" => {
            let encoded: String = body.split_whitespace().collect();
            LENIENT_BASE64.decode(encoded.as_bytes()).ok()?
        }
        _ => return None,
    };
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

#[cfg(test)]
mod tests {
    use lettre::message::{
        Mailbox, SinglePart,
        header::{ContentTransferEncoding, ContentType},
    };
    use tolem_protocol::keys::SecretKey;

    use super::*;

    fn envelope() -> (Envelope, GatewayKey, SecretKey) {
        let point = SecretKey::from_seed(&[5; 32]);
        let gateway = GatewayKey::from_seed(&[6; 32]);
        let body = r#"{"v":1,"point":"P1001","body":{"to":"a@tolem.kz","text":"Сәлем, мир"}}"#
            .as_bytes()
            .to_vec();
        let signature = point.sign(&body);
        let envelope =
            Envelope::countersign("P1001-1", point.public_key(), body, signature, &gateway);
        (envelope, gateway, point)
    }

    #[test]
    fn the_block_reads_back_and_both_signatures_verify() {
        let (envelope, gateway, point) = envelope();
        let armored = envelope.armor();
        assert!(armored.starts_with(BEGIN) && armored.trim_end().ends_with(END));
        assert!(armored.lines().all(|line| line.len() <= 106), "{armored}");
        let read = find(&armored).unwrap();
        assert_eq!(read, envelope);
        assert!(read.point_signature_valid(&point.public_key()));
        assert!(read.gateway_signature_valid(&gateway.public_key()));
    }

    #[test]
    fn what_mail_clients_do_to_text_is_tolerated() {
        let (envelope, ..) = envelope();
        let armored = envelope.armor();
        // Rewrapped at 30 columns (long fields broken over lines), quoted in a reply, CRLF,
        // trailing spaces, padding dropped, text around it.
        let mut mangled = String::from("Здравствуйте!\r\n\r\n");
        for line in armored.lines() {
            let pieces: Vec<String> = if line.starts_with("-----") {
                vec![line.to_owned()]
            } else {
                line.chars()
                    .collect::<Vec<_>>()
                    .chunks(30)
                    .map(|c| c.iter().collect())
                    .collect()
            };
            let pieces = if pieces.is_empty() {
                vec![String::new()]
            } else {
                pieces
            };
            for piece in pieces {
                mangled.push_str(&format!("> {}  \r\n", piece.trim_end_matches('=')));
            }
        }
        mangled.push_str("\r\n-- \r\nПодпись почтового клиента\r\n");
        assert_eq!(find(&mangled).unwrap(), envelope);
    }

    #[test]
    fn the_last_block_is_read_and_a_text_cannot_forge_one() {
        let (genuine, gateway, point) = envelope();
        let other_point = SecretKey::from_seed(&[7; 32]);
        let body = b"another".to_vec();
        let signature = other_point.sign(&body);
        let other = Envelope::countersign(
            "P2002-1",
            other_point.public_key(),
            body,
            signature,
            &gateway,
        );
        let text = format!("{}\n{}", other.armor(), genuine.armor());
        assert_eq!(find(&text).unwrap(), genuine);
        assert!(
            find(&text)
                .unwrap()
                .point_signature_valid(&point.public_key())
        );
        // Dash-escaped (as the e-mail writes a text's lines), a block is only text.
        let escaped: String = other.armor().lines().map(|l| format!("- {l}\n")).collect();
        assert_eq!(find(&escaped), Err(ArmorError::NoBlock));
    }

    #[test]
    fn any_change_breaks_a_signature() {
        let (envelope, gateway, point) = envelope();
        for i in 0..envelope.body.len() {
            let mut tampered = envelope.clone();
            tampered.body[i] ^= 0x01;
            let read = find(&tampered.armor()).unwrap();
            assert!(!read.point_signature_valid(&point.public_key()), "byte {i}");
            assert!(
                !read.gateway_signature_valid(&gateway.public_key()),
                "byte {i}"
            );
        }
        // The gateway signature of another message, or by another key.
        let mut swapped = envelope.clone();
        swapped.gateway_signature = gateway.sign(b"something else");
        assert!(swapped.point_signature_valid(&point.public_key()));
        assert!(!swapped.gateway_signature_valid(&gateway.public_key()));
        let impostor = GatewayKey::from_seed(&[9; 32]);
        let forged = Envelope::countersign(
            &envelope.key_serial,
            envelope.public_key,
            envelope.body.clone(),
            envelope.point_signature,
            &impostor,
        );
        assert!(!forged.gateway_signature_valid(&gateway.public_key()));
        // A plain signature over the body is not a countersignature.
        let mut plain = envelope.clone();
        plain.gateway_signature = gateway.sign(&envelope.body);
        assert!(!plain.gateway_signature_valid(&gateway.public_key()));
    }

    #[test]
    fn damaged_blocks_say_what_is_wrong() {
        let (envelope, ..) = envelope();
        let armored = envelope.armor();
        assert_eq!(find("просто текст"), Err(ArmorError::NoBlock));
        let cut = armored.replace(END, "");
        assert_eq!(find(&cut), Err(ArmorError::Unterminated));
        let without: String = armored
            .lines()
            .filter(|l| !l.starts_with("Gateway-Signature"))
            .map(|l| format!("{l}\n"))
            .collect();
        assert_eq!(find(&without), Err(ArmorError::Missing(GATEWAY_SIGNATURE)));
        let garbled = armored.replace(&envelope.point_signature.to_string(), "not-a-signature");
        assert_eq!(find(&garbled), Err(ArmorError::Damaged(POINT_SIGNATURE)));
        let twice = armored.replacen(
            "Point-Key: P1001-1\n",
            "Point-Key: P1001-1\nPoint-Key: P1001-2\n",
            1,
        );
        assert_eq!(find(&twice), Err(ArmorError::Damaged(POINT_KEY)));
        let bad_body = armored.replacen("\n\n", "\n\n!!!!\n", 1);
        assert_eq!(find(&bad_body), Err(ArmorError::BadBody));
    }

    #[test]
    fn the_raw_source_of_an_email_is_decoded_first() {
        let (envelope, ..) = envelope();
        let text = format!("Текст письма\n- -----не блок\n\n{}", envelope.armor());
        for encoding in [
            ContentTransferEncoding::QuotedPrintable,
            ContentTransferEncoding::Base64,
        ] {
            let email = lettre::Message::builder()
                .from(
                    "Tolem <noreply@tolem.localhost>"
                        .parse::<Mailbox>()
                        .unwrap(),
                )
                .to("a@tolem.kz".parse::<Mailbox>().unwrap())
                .subject("Сообщение от точки P1001")
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_PLAIN)
                        .header(encoding)
                        .body(text.clone()),
                )
                .unwrap();
            let raw = String::from_utf8(email.formatted()).unwrap();
            assert_eq!(find(&raw).unwrap(), envelope, "{encoding:?}:\n{raw}");
        }
    }
}

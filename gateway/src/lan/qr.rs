//! A QR code drawn with Unicode half blocks, two rows of modules per line of text, for a
//! phone's camera to read off the terminal.
//!
//! Dark modules are drawn and light ones left blank, inside a quiet zone of 4 modules. On a
//! terminal the code is drawn black on white with colour codes, whatever the terminal's own
//! colours: a camera needs dark modules on a light ground, and a dark terminal would invert
//! it. Written to a file it has no colour codes and reads correctly on a light page.

use qrcodegen::{QrCode, QrCodeEcc};

/// The modules of white around the code the standard asks for.
const QUIET: i32 = 4;

/// Black foreground on a bright white background; reset.
const COLOURS: &str = "\x1b[30;107m";
const RESET: &str = "\x1b[0m";

/// `text` as a QR code, one `String` line per two module rows, each ending in `\n`;
/// `colour`: wrap each line in the black-on-white colour codes (for a terminal).
pub fn render(text: &str, colour: bool) -> Option<String> {
    let code = QrCode::encode_text(text, QrCodeEcc::Medium).ok()?;
    let size = code.size();
    let dark = |x: i32, y: i32| code.get_module(x, y);
    let mut out = String::new();
    let mut y = -QUIET;
    while y < size + QUIET {
        if colour {
            out.push_str(COLOURS);
        }
        for x in -QUIET..size + QUIET {
            out.push(match (dark(x, y), dark(x, y + 1)) {
                (true, true) => '█',
                (true, false) => '▀',
                (false, true) => '▄',
                (false, false) => ' ',
            });
        }
        if colour {
            out.push_str(RESET);
        }
        out.push('\n');
        y += 2;
    }
    Some(out)
}

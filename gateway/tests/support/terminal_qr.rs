//! Reads a QR code drawn in a terminal with half blocks back the way a phone's camera would:
//! the text becomes a black-on-white picture (colour codes dropped, each module 4 × 4 pixels)
//! and an independent decoder (`rqrr`) finds and reads the code in it.

/// The text of the one QR code drawn in `lines` (other lines of text around it are fine as
/// long as they hold no block characters).
pub fn decode(lines: &[&str]) -> String {
    const SCALE: usize = 4;
    let rows: Vec<Vec<char>> = lines
        .iter()
        .map(|line| strip_colours(line))
        .filter(|line| line.contains(['█', '▀', '▄']))
        .map(|line| line.chars().collect())
        .collect();
    assert!(!rows.is_empty(), "no QR code in {lines:?}");
    let width = rows.iter().map(Vec::len).max().unwrap_or(0);
    // Module (x, y): the upper or lower half of character (x, y / 2).
    let dark = |x: usize, y: usize| {
        let c = rows
            .get(y / 2)
            .and_then(|row| row.get(x))
            .copied()
            .unwrap_or(' ');
        if y.is_multiple_of(2) {
            matches!(c, '█' | '▀')
        } else {
            matches!(c, '█' | '▄')
        }
    };
    // A white border around it all, as the paper around a printed code.
    let margin = 8;
    let (w, h) = (
        (width + 2 * margin) * SCALE,
        (rows.len() * 2 + 2 * margin) * SCALE,
    );
    let mut image = rqrr::PreparedImage::prepare_from_bitmap(w, h, |x, y| {
        let (mx, my) = (x / SCALE, y / SCALE);
        mx >= margin && my >= margin && dark(mx - margin, my - margin)
    });
    let grids = image.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code expected in {lines:?}");
    grids[0].decode().expect("the QR code decodes").1
}

/// `line` without ANSI colour codes (`ESC [ … m`).
pub fn strip_colours(line: &str) -> String {
    let mut out = String::new();
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            for c in chars.by_ref() {
                if c == 'm' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

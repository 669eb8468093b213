//! A QR code drawn as inline SVG: crisp at any size, no image to download, readable by any
//! phone camera (the dealer can scan the key instead of listening to it).

use leptos::prelude::*;
use qrcodegen::{QrCode as Code, QrCodeEcc};

/// The quiet zone around the code, in modules (the standard asks for four).
const BORDER: i32 = 4;

/// The SVG markup of a QR code for `text`, or `None` if the text is too long for any QR code.
pub fn qr_svg(text: &str) -> Option<String> {
    let code = Code::encode_text(text, QrCodeEcc::Medium).ok()?;
    let size = code.size();
    let mut path = String::with_capacity((size * size * 3) as usize);
    for y in 0..size {
        for x in 0..size {
            if code.get_module(x, y) {
                path.push_str(&format!("M{},{}h1v1h-1z", x + BORDER, y + BORDER));
            }
        }
    }
    let full = size + 2 * BORDER;
    Some(format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {full} {full}" shape-rendering="crispEdges" role="img"><rect width="100%" height="100%" fill="#fff"/><path d="{path}" fill="#000"/></svg>"##
    ))
}

/// The QR code of `text`, with an accessible label.
#[component]
pub fn QrCode(
    /// What the code says.
    #[prop(into)]
    text: Signal<String>,
    /// What the code is, for screen readers.
    label: crate::pages::TextKey,
    #[prop(optional)] id: Option<&'static str>,
) -> impl IntoView {
    view! {
        <div
            class="qr"
            id=id
            role="img"
            aria-label=crate::language::text(label)
            data-text=move || text.get()
            inner_html=move || qr_svg(&text.get()).unwrap_or_default()
        ></div>
    }
}

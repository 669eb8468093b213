//! The receipt as a picture: its lines and its QR code drawn on a canvas the width of a 58 mm
//! receipt printer's line (384 dots), black on white, handed to the phone's share sheet as a PNG
//! file where the sheet takes files (`navigator.canShare`), else saved to the phone's downloads.
//! Drawn from the same lines as the text, so the picture never says something the text does not.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use qrcodegen::{QrCode, QrCodeEcc};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{CanvasRenderingContext2d, HtmlCanvasElement};

use super::Shared;
use crate::download;

/// The picture's width in pixels: a 58 mm printer's 384 dots.
const WIDTH: f64 = 384.0;
const MARGIN: f64 = 12.0;
const LINE: f64 = 22.0;
const FONT: &str = "16px system-ui, sans-serif";
/// The QR code's module in pixels, and its quiet zone in modules.
const MODULE: f64 = 4.0;
const QUIET: i32 = 4;

/// Draws `lines` and the QR code of `check` and shares or saves the PNG as `name`.
pub async fn share_image(title: &str, name: &str, lines: &[String], check: Option<&str>) -> Shared {
    let Ok(blob) = draw(lines, check) else {
        return Shared::ImageFailed;
    };
    let navigator: JsValue = leptos::prelude::window().navigator().into();
    if let Some(data) = shareable(&navigator, title, name, &blob) {
        let share = js_sys::Reflect::get(&navigator, &"share".into())
            .ok()
            .and_then(|f| f.dyn_into::<js_sys::Function>().ok());
        if let Some(share) = share
            && let Ok(promise) = share.call1(&navigator, &data)
        {
            // A cashier who closes the sheet is not an error worth a message.
            return match JsFuture::from(js_sys::Promise::from(promise)).await {
                Ok(_) => Shared::Sheet,
                Err(_) => Shared::Not,
            };
        }
    }
    match download::save_blob(name, &blob) {
        Ok(()) => Shared::Saved,
        Err(_) => Shared::Failed,
    }
}

/// The share data `{title, files: [png]}` if this browser's share sheet takes it.
fn shareable(
    navigator: &JsValue,
    title: &str,
    name: &str,
    blob: &web_sys::Blob,
) -> Option<JsValue> {
    let can_share = js_sys::Reflect::get(navigator, &"canShare".into())
        .ok()?
        .dyn_into::<js_sys::Function>()
        .ok()?;
    let options = web_sys::FilePropertyBag::new();
    options.set_type("image/png");
    let file = web_sys::File::new_with_blob_sequence_and_options(
        &js_sys::Array::of1(blob),
        name,
        &options,
    )
    .ok()?;
    let data = js_sys::Object::new();
    js_sys::Reflect::set(&data, &"title".into(), &title.into()).ok()?;
    js_sys::Reflect::set(&data, &"files".into(), &js_sys::Array::of1(&file)).ok()?;
    let allowed = can_share.call1(navigator, &data).ok()?.as_bool()?;
    allowed.then(|| data.into())
}

/// `text` cut into lines no wider than `width` as the canvas measures them, at spaces where it
/// can (a long address), anywhere in a word longer than a line (a URL).
fn wrap(context: &CanvasRenderingContext2d, text: &str, width: f64) -> Vec<String> {
    let fits = |s: &str| {
        context
            .measure_text(s)
            .map(|m| m.width() <= width)
            .unwrap_or(true)
    };
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split(' ') {
        let candidate = if line.is_empty() {
            word.to_owned()
        } else {
            format!("{line} {word}")
        };
        if fits(&candidate) {
            line = candidate;
            continue;
        }
        if !line.is_empty() {
            lines.push(std::mem::take(&mut line));
        }
        for c in word.chars() {
            line.push(c);
            if !fits(&line) {
                line.pop();
                lines.push(std::mem::replace(&mut line, c.to_string()));
            }
        }
    }
    lines.push(line);
    lines
}

/// The picture as a PNG blob.
fn draw(lines: &[String], check: Option<&str>) -> Result<web_sys::Blob, JsValue> {
    let canvas: HtmlCanvasElement = leptos::prelude::document()
        .create_element("canvas")?
        .unchecked_into();
    let context = |canvas: &HtmlCanvasElement| -> Result<CanvasRenderingContext2d, JsValue> {
        Ok(canvas
            .get_context("2d")?
            .ok_or_else(|| JsValue::from_str("no 2d canvas"))?
            .unchecked_into())
    };
    // Measured first, at the final font: the height follows the wrapped lines.
    canvas.set_width(WIDTH as u32);
    let measure = context(&canvas)?;
    measure.set_font(FONT);
    let text_width = WIDTH - 2.0 * MARGIN;
    let wrapped: Vec<String> = lines
        .iter()
        .flat_map(|line| wrap(&measure, line, text_width))
        .collect();
    let code = check.and_then(|text| QrCode::encode_text(text, QrCodeEcc::Medium).ok());
    let qr_side = code
        .as_ref()
        .map_or(0.0, |c| f64::from(c.size() + 2 * QUIET) * MODULE);
    let height = 2.0 * MARGIN + wrapped.len() as f64 * LINE + qr_side;
    canvas.set_height(height.ceil() as u32);

    // Resizing the canvas reset its state: set it again.
    let context = context(&canvas)?;
    context.set_fill_style_str("#fff");
    context.fill_rect(0.0, 0.0, WIDTH, height);
    context.set_fill_style_str("#000");
    context.set_font(FONT);
    context.set_text_baseline("top");
    for (i, line) in wrapped.iter().enumerate() {
        context.fill_text(line, MARGIN, MARGIN + i as f64 * LINE)?;
    }
    if let Some(code) = code {
        let left = ((WIDTH - qr_side) / 2.0).floor() + f64::from(QUIET) * MODULE;
        let top = MARGIN + wrapped.len() as f64 * LINE + f64::from(QUIET) * MODULE;
        for y in 0..code.size() {
            for x in 0..code.size() {
                if code.get_module(x, y) {
                    context.fill_rect(
                        left + f64::from(x) * MODULE,
                        top + f64::from(y) * MODULE,
                        MODULE,
                        MODULE,
                    );
                }
            }
        }
    }

    let url = canvas.to_data_url_with_type("image/png")?;
    let encoded = url
        .split_once(',')
        .map(|(_, data)| data)
        .ok_or_else(|| JsValue::from_str("not a data URL"))?;
    let bytes = STANDARD
        .decode(encoded)
        .map_err(|_| JsValue::from_str("not base64"))?;
    let options = web_sys::BlobPropertyBag::new();
    options.set_type("image/png");
    web_sys::Blob::new_with_u8_array_sequence_and_options(
        &js_sys::Array::of1(&js_sys::Uint8Array::from(bytes.as_slice())),
        &options,
    )
}

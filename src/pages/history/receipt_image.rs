//! The receipt as a picture: its lines and its QR code drawn on a canvas the width of a 58 mm
//! receipt printer's line (384 dots), black on white, handed to the phone's share sheet as a PNG
//! file where the sheet takes files (`navigator.canShare`), else saved to the phone's downloads.
//! Drawn from the same lines as the text, so the picture never says something the text does not.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use js_sys::{Array, Function, Object, Reflect};
use qrcodegen::{QrCode, QrCodeEcc};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use super::Shared;
use crate::download;

// The canvas, blob and file calls go through `Reflect` rather than typed bindings: each typed
// binding adds its own glue to the first visit's download, and this is a rarely used button.

/// `target.method(args…)`.
fn call(target: &JsValue, method: &str, args: &[JsValue]) -> Result<JsValue, JsValue> {
    let function: Function = Reflect::get(target, &method.into())?.dyn_into()?;
    Reflect::apply(&function, target, &args.iter().collect::<Array>())
}

/// `target[name] = value`.
fn set(target: &JsValue, name: &str, value: JsValue) -> Result<(), JsValue> {
    Reflect::set(target, &name.into(), &value).map(|_| ())
}

/// `new <global name>(args…)`, e.g. `new Blob([bytes], {type})`.
fn construct(name: &str, args: &[JsValue]) -> Result<JsValue, JsValue> {
    let class: Function = Reflect::get(&js_sys::global(), &name.into())?.dyn_into()?;
    Reflect::construct(&class, &args.iter().collect::<Array>())
}

/// `{type: "image/png"}`.
fn png_type() -> Result<JsValue, JsValue> {
    let options = Object::new();
    set(&options, "type", "image/png".into())?;
    Ok(options.into())
}

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
    if let Some(data) = shareable(&navigator, title, name, &blob)
        && let Ok(promise) = call(&navigator, "share", &[data])
    {
        // A cashier who closes the sheet is not an error worth a message.
        return match JsFuture::from(js_sys::Promise::from(promise)).await {
            Ok(_) => Shared::Sheet,
            Err(_) => Shared::Not,
        };
    }
    match download::save_blob(name, blob.unchecked_ref()) {
        Ok(()) => Shared::Saved,
        Err(_) => Shared::Failed,
    }
}

/// The share data `{title, files: [png]}` if this browser's share sheet takes it.
fn shareable(navigator: &JsValue, title: &str, name: &str, blob: &JsValue) -> Option<JsValue> {
    let file = construct(
        "File",
        &[Array::of1(blob).into(), name.into(), png_type().ok()?],
    )
    .ok()?;
    let data: JsValue = Object::new().into();
    set(&data, "title", title.into()).ok()?;
    set(&data, "files", Array::of1(&file).into()).ok()?;
    let allowed = call(navigator, "canShare", std::slice::from_ref(&data))
        .ok()?
        .as_bool()?;
    allowed.then_some(data)
}

/// `text` cut into lines no wider than `width` as the canvas measures them, at spaces where it
/// can (a long address), anywhere in a word longer than a line (a URL).
fn wrap(context: &JsValue, text: &str, width: f64) -> Vec<String> {
    let fits = |s: &str| {
        call(context, "measureText", &[s.into()])
            .and_then(|m| Reflect::get(&m, &"width".into()))
            .ok()
            .and_then(|w| w.as_f64())
            .is_none_or(|w| w <= width)
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
fn draw(lines: &[String], check: Option<&str>) -> Result<JsValue, JsValue> {
    let canvas: JsValue = leptos::prelude::document().create_element("canvas")?.into();
    let context = |canvas: &JsValue| call(canvas, "getContext", &["2d".into()]);
    // Measured first, at the final font: the height follows the wrapped lines.
    set(&canvas, "width", WIDTH.into())?;
    let measure = context(&canvas)?;
    set(&measure, "font", FONT.into())?;
    let text_width = WIDTH - 2.0 * MARGIN;
    let wrapped: Vec<String> = lines
        .iter()
        .flat_map(|line| wrap(&measure, line, text_width))
        .collect();
    let code = check.and_then(|text| QrCode::encode_text(text, QrCodeEcc::Medium).ok());
    let qr_side = code
        .as_ref()
        .map_or(0.0, |c| f64::from(c.size() + 2 * QUIET) * MODULE);
    let height = (2.0 * MARGIN + wrapped.len() as f64 * LINE + qr_side).ceil();
    set(&canvas, "height", height.into())?;

    // Resizing the canvas reset its state: set it again.
    let context = context(&canvas)?;
    let rect = |x: f64, y: f64, w: f64, h: f64| {
        call(
            &context,
            "fillRect",
            &[x.into(), y.into(), w.into(), h.into()],
        )
        .map(|_| ())
    };
    set(&context, "fillStyle", "#fff".into())?;
    rect(0.0, 0.0, WIDTH, height)?;
    set(&context, "fillStyle", "#000".into())?;
    set(&context, "font", FONT.into())?;
    set(&context, "textBaseline", "top".into())?;
    for (i, line) in wrapped.iter().enumerate() {
        let y = MARGIN + i as f64 * LINE;
        call(
            &context,
            "fillText",
            &[line.as_str().into(), MARGIN.into(), y.into()],
        )?;
    }
    if let Some(code) = code {
        let left = ((WIDTH - qr_side) / 2.0).floor() + f64::from(QUIET) * MODULE;
        let top = MARGIN + wrapped.len() as f64 * LINE + f64::from(QUIET) * MODULE;
        for y in 0..code.size() {
            for x in 0..code.size() {
                if code.get_module(x, y) {
                    rect(
                        left + f64::from(x) * MODULE,
                        top + f64::from(y) * MODULE,
                        MODULE,
                        MODULE,
                    )?;
                }
            }
        }
    }

    let url = call(&canvas, "toDataURL", &["image/png".into()])?
        .as_string()
        .unwrap_or_default();
    let encoded = url
        .split_once(',')
        .map(|(_, data)| data)
        .ok_or_else(|| JsValue::from_str("not a data URL"))?;
    let bytes = STANDARD
        .decode(encoded)
        .map_err(|_| JsValue::from_str("not base64"))?;
    let parts = Array::of1(&js_sys::Uint8Array::from(bytes.as_slice()));
    construct("Blob", &[parts.into(), png_type()?])
}

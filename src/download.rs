//! Saving text (or a picture) as a file on the phone: a Blob URL and a click on a temporary link with
//! `download`, which every browser the app runs in supports (Web Share's file sharing is not
//! everywhere, and a file in Downloads is what a dealer or support asks for).

use wasm_bindgen::JsCast;

/// Why the file could not be offered.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the browser could not save the file")]
pub struct DownloadError;

/// Offers `text` as a file named `name` of type `mime`.
pub fn save_text(name: &str, mime: &str, text: &str) -> Result<(), DownloadError> {
    let parts = js_sys::Array::of1(&wasm_bindgen::JsValue::from_str(text));
    let options = web_sys::BlobPropertyBag::new();
    options.set_type(mime);
    let blob = web_sys::Blob::new_with_str_sequence_and_options(&parts, &options)
        .map_err(|_| DownloadError)?;
    save_blob(name, &blob)
}

/// Offers `blob` as a file named `name` (a receipt's picture, too).
pub fn save_blob(name: &str, blob: &web_sys::Blob) -> Result<(), DownloadError> {
    let url = web_sys::Url::create_object_url_with_blob(blob).map_err(|_| DownloadError)?;
    let document = leptos::prelude::document();
    let link: web_sys::HtmlAnchorElement = document
        .create_element("a")
        .map_err(|_| DownloadError)?
        .unchecked_into();
    link.set_href(&url);
    link.set_download(name);
    link.click();
    // Some browsers read the URL after the click returns: it is released a minute later.
    leptos::prelude::set_timeout(
        move || {
            let _ = web_sys::Url::revoke_object_url(&url);
        },
        std::time::Duration::from_secs(60),
    );
    Ok(())
}

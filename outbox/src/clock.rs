//! The gateway's time as this phone knows it. Cheap phones keep bad time, and the gateway refuses
//! a request created more than five minutes in its future (910) and one older than the point's
//! offline limit (909). So the phone learns how far its clock is off — from every signed answer's
//! `gateway_time_ms` — and signs new requests with the corrected time ([`now_ms`]); the app warns
//! the cashier when the clock is off by more than [`WARN_OFFSET_MS`].
//!
//! Only signed answers count. The health answer carries the gateway's time too, but unsigned:
//! anyone on the way could then move the phone's clock days back, and every payment it signs
//! would be refused as too old (909, final) — with the cash in the drawer. A phone meets a signed
//! answer (its key card) before it can sign anything.
//!
//! The latest offset (gateway time − phone time when the answer arrived; the way back is
//! ignored, well under the minutes that matter) is kept in memory and, in a page, in
//! `localStorage` under [`STORAGE_KEY`] so a reload starts corrected even offline. A service
//! worker has no `localStorage`: it keeps its own in memory — it never signs, it only
//! measures.
//!
//! Signing uses the corrected time, and so does every deadline counted from a signed time (a
//! bill's expiry, the offline limit's): compared with the phone's own clock it would fall hours
//! early or late. Schedules (retries) stay on the phone's own clock, which is at least steady.

use std::cell::Cell;

use wasm_bindgen::{JsCast, JsValue};

/// Where a page keeps the offset.
pub const STORAGE_KEY: &str = "tolem.clock_offset_ms";
/// Beyond this the app warns that the phone's clock is wrong.
pub const WARN_OFFSET_MS: i64 = 60_000;
/// Differences this small are noise (the way to the gateway and back): they are not stored.
const NOISE_MS: i64 = 2_000;

thread_local! {
    /// The offset in memory: `None` until read from storage or measured.
    static OFFSET: Cell<Option<i64>> = const { Cell::new(None) };
}

/// The phone's own clock (UTC milliseconds).
pub fn phone_now_ms() -> i64 {
    js_sys::Date::now() as i64
}

/// The latest offset of the gateway's clock from the phone's (gateway − phone, milliseconds); 0
/// until one was measured.
pub fn offset_ms() -> i64 {
    OFFSET.with(|offset| match offset.get() {
        Some(known) => known,
        None => {
            let stored = read_stored().unwrap_or(0);
            offset.set(Some(stored));
            stored
        }
    })
}

/// The time to sign with: the phone's clock corrected by the latest offset.
pub fn now_ms() -> i64 {
    phone_now_ms() + offset_ms()
}

/// Notes the gateway's time `gateway_time_ms` read from an answer that arrived at the phone's
/// `phone_time_ms`. Returns the offset now kept.
pub fn observe(gateway_time_ms: i64, phone_time_ms: i64) -> i64 {
    let measured = gateway_time_ms - phone_time_ms;
    // Within the noise the phone's clock is right: keep 0 rather than chasing latency.
    let measured = if measured.abs() <= NOISE_MS {
        0
    } else {
        measured
    };
    if offset_ms() != measured {
        OFFSET.with(|offset| offset.set(Some(measured)));
        write_stored(measured);
    }
    measured
}

/// Whether the phone's clock is off by more than [`WARN_OFFSET_MS`].
pub fn is_wrong() -> bool {
    offset_ms().abs() > WARN_OFFSET_MS
}

fn storage() -> Option<web_sys::Storage> {
    let storage =
        js_sys::Reflect::get(&js_sys::global(), &JsValue::from_str("localStorage")).ok()?;
    if storage.is_undefined() || storage.is_null() {
        return None;
    }
    storage.dyn_into::<web_sys::Storage>().ok()
}

fn read_stored() -> Option<i64> {
    storage()?.get_item(STORAGE_KEY).ok()??.parse().ok()
}

fn write_stored(offset: i64) {
    if let Some(storage) = storage() {
        let _ = storage.set_item(STORAGE_KEY, &offset.to_string());
    }
}

/// Forgets the offset (tests).
pub fn reset() {
    OFFSET.with(|offset| offset.set(Some(0)));
    if let Some(storage) = storage() {
        let _ = storage.remove_item(STORAGE_KEY);
    }
}

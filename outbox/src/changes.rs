//! Word of changed payments between the tabs of the app and its service worker: after every
//! committed change the store posts the payment's session on the [`CHANNEL`] broadcast channel,
//! and a page showing payments listens and reads them again. Whoever changes a record — a tab,
//! or the worker replaying while every page is closed — posts; every other context hears it.
//!
//! A message is only a hint to re-read: IndexedDB stays the one source of truth, so a missed
//! message (a browser without `BroadcastChannel`) costs freshness, never a payment.

use std::cell::RefCell;

use tolem_protocol::ids::SessionId;
use wasm_bindgen::JsValue;
use wasm_bindgen::prelude::*;
use web_sys::{BroadcastChannel, MessageEvent};

/// The channel's name; the service worker posts on it too.
pub const CHANNEL: &str = "tolem-outbox";

thread_local! {
    /// The sending end, opened once: a channel closed right after posting could drop the message.
    static SENDER: RefCell<Option<BroadcastChannel>> = const { RefCell::new(None) };
}

/// Tells every other context that the payment of `session` changed.
pub fn announce(session: &SessionId) {
    SENDER.with(|sender| {
        let mut sender = sender.borrow_mut();
        if sender.is_none() {
            *sender = BroadcastChannel::new(CHANNEL).ok();
        }
        if let Some(channel) = sender.as_ref() {
            let _ = channel.post_message(&JsValue::from_str(session.as_str()));
        }
    });
}

/// A listener on the channel; dropping it stops listening.
pub struct Subscription {
    channel: BroadcastChannel,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.channel.set_onmessage(None);
        self.channel.close();
    }
}

/// Calls `on_change` with the session of every payment another context (or this one, through
/// [`announce`]) changes. `None` where the browser has no `BroadcastChannel`.
pub fn subscribe(mut on_change: impl FnMut(SessionId) + 'static) -> Option<Subscription> {
    let channel = BroadcastChannel::new(CHANNEL).ok()?;
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
        if let Some(session) = event
            .data()
            .as_string()
            .and_then(|text| SessionId::try_from(text).ok())
        {
            on_change(session);
        }
    });
    channel.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    Some(Subscription {
        channel,
        _on_message: on_message,
    })
}

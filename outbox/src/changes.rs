//! Word of changed payments between the tabs of the app and its service worker: after every
//! committed change the store posts the changed sessions on the [`CHANNEL`] broadcast channel,
//! and a page showing payments listens and reads them again. Whoever changes a record — a tab,
//! or the worker replaying while every page is closed — posts; every other context hears it.
//!
//! One message per committed transaction, not per payment: a single change is the session as a
//! string (what every version of the app understands), the changes of a batch one array of
//! sessions — so a replayed batch of fifty costs an open page one message and one read, not
//! fifty of each competing with the replay for the phone's cores.
//!
//! A message is only a hint to re-read: IndexedDB stays the one source of truth, so a missed
//! message (a browser without `BroadcastChannel`, a page of an older version that does not read
//! arrays) costs freshness, never a payment.

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
    announce_all(&[session]);
}

/// Tells every other context, in ONE message, that the payments of `sessions` changed (the
/// payments of one transaction: a batch marked as being sent, or its answers stored). Nothing is
/// posted for none.
pub fn announce_all(sessions: &[&SessionId]) {
    let message = match sessions {
        [] => return,
        [one] => JsValue::from_str(one.as_str()),
        many => many
            .iter()
            .map(|session| JsValue::from_str(session.as_str()))
            .collect::<js_sys::Array>()
            .into(),
    };
    SENDER.with(|sender| {
        let mut sender = sender.borrow_mut();
        if sender.is_none() {
            *sender = BroadcastChannel::new(CHANNEL).ok();
        }
        if let Some(channel) = sender.as_ref() {
            let _ = channel.post_message(&message);
        }
    });
}

/// The sessions a message names: one string, or an array of them; whatever else is ignored
/// (nothing a page must act on is sent any other way).
fn sessions_in(data: &JsValue) -> Vec<SessionId> {
    let session = |value: JsValue| value.as_string().and_then(|t| SessionId::try_from(t).ok());
    if js_sys::Array::is_array(data) {
        js_sys::Array::from(data)
            .iter()
            .filter_map(session)
            .collect()
    } else {
        session(data.clone()).into_iter().collect()
    }
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

/// Calls `on_change` once per message another context (or this one, through [`announce`] and
/// [`announce_all`]) posts, with the sessions of the payments it changed — one for a single
/// change, all of a batch at once — so a page re-reads once per message. `None` where the
/// browser has no `BroadcastChannel`.
pub fn subscribe(mut on_change: impl FnMut(Vec<SessionId>) + 'static) -> Option<Subscription> {
    let channel = BroadcastChannel::new(CHANNEL).ok()?;
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
        let sessions = sessions_in(&event.data());
        if !sessions.is_empty() {
            on_change(sessions);
        }
    });
    channel.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    Some(Subscription {
        channel,
        _on_message: on_message,
    })
}

//! What an open page hears on the outbox's channel ([`tolem_outbox::changes`]): every message,
//! in order, each as the sessions it names.

use std::cell::RefCell;
use std::rc::Rc;

use tolem_outbox::changes::{self, Subscription};
use tolem_protocol::ids::SessionId;
use wasm_bindgen::{JsCast, JsValue};

/// A listener like a page's, keeping what it heard.
pub struct Heard {
    messages: Rc<RefCell<Vec<Vec<SessionId>>>>,
    _subscription: Subscription,
}

impl Heard {
    /// Starts listening.
    pub fn listen() -> Heard {
        let messages = Rc::new(RefCell::new(Vec::new()));
        let keep = messages.clone();
        let subscription =
            changes::subscribe(move |changed| keep.borrow_mut().push(changed)).unwrap();
        Heard {
            messages,
            _subscription: subscription,
        }
    }

    /// Every message heard, once everything announced before this call has arrived: a last
    /// word is posted after them, and messages from one sender arrive in order.
    pub async fn so_far(&self) -> Vec<Vec<SessionId>> {
        let last = vec![SessionId::generate(js_sys::Date::now() as i64, [7; 8])];
        changes::announce(&last[0]);
        for _ in 0..200 {
            if self.messages.borrow().last() == Some(&last) {
                let mut heard = self.messages.borrow_mut();
                heard.pop();
                return std::mem::take(&mut *heard);
            }
            next_task().await;
        }
        panic!("the channel's messages did not arrive");
    }
}

/// Lets the browser run the tasks queued meanwhile (a channel's message is one).
async fn next_task() {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        let set_timeout = js_sys::Reflect::get(&js_sys::global(), &"setTimeout".into()).unwrap();
        let set_timeout: js_sys::Function = set_timeout.unchecked_into();
        set_timeout
            .call2(&JsValue::NULL, &resolve, &10.into())
            .unwrap();
    });
    wasm_bindgen_futures::JsFuture::from(promise).await.unwrap();
}

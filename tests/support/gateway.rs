//! The gateway as the browser's `fetch` sees it, served from the test: its health answer, and
//! each signed request (`/api/v1/<step>`) answered by a function of the test, signed with the
//! test gateway's key — or not answered at all (a failed connection). Every request that
//! reaches it is kept, so a test can say exactly what left the phone.

use std::cell::RefCell;
use std::rc::Rc;

use tolem_protocol::PROTOCOL_VERSION;
use tolem_protocol::messages::{Message, Request, Response};
use tolem_protocol::signing::{
    GATEWAY_SIGNER, KEY_HEADER, SIGNATURE_HEADER, bound_answer, exchange_digest,
};
use wasm_bindgen::prelude::*;

use super::card::gateway_key;

/// A request that left the phone: the step (the last part of its URL) and its exact body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sent {
    pub step: String,
    pub body: String,
}

/// The served gateway; dropping it puts the real `fetch` back.
pub struct FakeGateway {
    restore: js_sys::Function,
    sent: Rc<RefCell<Vec<Sent>>>,
}

impl FakeGateway {
    /// What left the phone so far, in order.
    pub fn sent(&self) -> Vec<Sent> {
        self.sent.borrow().clone()
    }

    /// The requests sent to `step`.
    pub fn sent_to(&self, step: &str) -> Vec<Sent> {
        self.sent()
            .into_iter()
            .filter(|sent| sent.step == step)
            .collect()
    }
}

impl Drop for FakeGateway {
    fn drop(&mut self) {
        let _ = self.restore.call0(&JsValue::NULL);
    }
}

/// Serves a gateway whose health answer says it is up and that answers every signed request
/// with `answer(step, request)` signed by the gateway key; `None` fails the connection.
pub fn serve(answer: impl Fn(&str, &Request) -> Option<Response> + 'static) -> FakeGateway {
    let sent = Rc::new(RefCell::new(Vec::new()));
    let kept = sent.clone();
    let reply = Closure::<dyn Fn(String, String, String, String) -> JsValue>::new(
        move |step: String, body: String, signer: String, signed: String| {
            kept.borrow_mut().push(Sent {
                step: step.clone(),
                body: body.clone(),
            });
            let Ok(request) = Request::decode(body.as_bytes()) else {
                return JsValue::NULL;
            };
            let Some(response) = answer(&step, &request) else {
                return JsValue::NULL;
            };
            // Bound to the request as it was sent, as the real gateway answers a phone that asks.
            let bytes = response.encode();
            let digest = exchange_digest(&step, &signer, &signed, body.as_bytes());
            let signature = gateway_key().sign(&bound_answer(&digest, &bytes));
            [
                String::from_utf8(bytes).unwrap(),
                GATEWAY_SIGNER.to_owned(),
                signature.to_string(),
            ]
            .iter()
            .map(|s| JsValue::from_str(s))
            .collect::<js_sys::Array>()
            .into()
        },
    );
    let health = format!(
        r#"{{"status":"ok","version":"test","database":"ok","protocol":{PROTOCOL_VERSION}}}"#
    );
    let install = js_sys::Function::new_with_args(
        "reply, health, keyHeader, signatureHeader",
        "const real = globalThis.fetch;
         globalThis.fetch = function (request, init) {
           const url = typeof request === 'string' ? request : request.url;
           if (url.includes('/api/health')) {
             return Promise.resolve(new Response(health, {
               status: 200, headers: { 'content-type': 'application/json' } }));
           }
           const at = url.indexOf('/api/v1/');
           if (at < 0) return real.call(globalThis, request, init);
           const step = url.slice(at + '/api/v1/'.length);
           return request.clone().text().then((text) => {
             const answer = reply(step, text,
               request.headers.get(keyHeader) || '', request.headers.get(signatureHeader) || '');
             if (answer === null) throw new TypeError('Failed to fetch');
             const headers = new Headers();
             headers.set(keyHeader, answer[1]);
             headers.set(signatureHeader, answer[2]);
             return new Response(answer[0], { status: 200, headers });
           });
         };
         return () => { globalThis.fetch = real; };",
    );
    let args = js_sys::Array::new();
    args.push(&reply.into_js_value());
    args.push(&health.into());
    args.push(&KEY_HEADER.into());
    args.push(&SIGNATURE_HEADER.into());
    let restore = install
        .apply(&JsValue::NULL, &args)
        .unwrap()
        .unchecked_into();
    FakeGateway { restore, sent }
}

/// No network at all: every request fails as a lost connection does in a browser (the health
/// check too, so a replayer sees the gateway out of reach). Dropping it puts `fetch` back.
pub fn serve_nothing() -> FakeGateway {
    let restore = js_sys::Function::new_no_args(
        "const real = globalThis.fetch;
         globalThis.fetch = () => Promise.reject(new TypeError('Failed to fetch'));
         return () => { globalThis.fetch = real; };",
    )
    .call0(&JsValue::NULL)
    .unwrap()
    .unchecked_into();
    FakeGateway {
        restore,
        sent: Rc::new(RefCell::new(Vec::new())),
    }
}

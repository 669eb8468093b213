//! The gateway as the browser's `fetch` sees it, served from the test: its health answer, and
//! each signed request (`/api/v1/<step>`) answered by a function of the test, signed with the
//! gateway key — or not answered at all (a failed connection). Every request that reaches it is
//! kept, so a test can say exactly what left the phone.
//!
//! A batch (`/api/v1/batch`) is kept as a `batch` request and each of its payments as a `pay`
//! (what the gateway's pay pipeline sees); each is answered by the same function, bound to its
//! own bytes, as the real gateway answers. When the function gives no answer for any of them,
//! the batch's connection fails after all of them arrived (the answer was cut).
//! [`serve_without_batches`] is a gateway older than batches: 404.

use std::cell::RefCell;
use std::rc::Rc;

use tolem_protocol::PROTOCOL_VERSION;
use tolem_protocol::batch::{BatchAnswer, BatchRequest, ItemAnswer};
use tolem_protocol::messages::{Message, Request, Response};
use tolem_protocol::signing::{
    GATEWAY_SIGNER, KEY_HEADER, SIGNATURE_HEADER, bound_answer, exchange_digest,
};
use wasm_bindgen::prelude::*;

use super::gateway_key;

/// A request that left the phone: the step (the last part of its URL) and its exact body —
/// inflated, as the gateway reads it, when it came gzipped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sent {
    pub step: String,
    pub body: String,
    /// It came with `Content-Encoding: gzip` (a batch's payments never do on their own).
    pub gzipped: bool,
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
    serve_with(answer, true)
}

/// [`serve`], by a gateway that takes no batches (404, as one older than batches answers).
pub fn serve_without_batches(
    answer: impl Fn(&str, &Request) -> Option<Response> + 'static,
) -> FakeGateway {
    serve_with(answer, false)
}

/// The answer to a batch: each payment answered by `answer` and signed bound to its own bytes;
/// `None` when any payment got no answer.
fn batch_answer(
    body: &str,
    kept: &RefCell<Vec<Sent>>,
    answer: &impl Fn(&str, &Request) -> Option<Response>,
) -> Option<String> {
    let batch: BatchRequest = serde_json::from_str(body).ok()?;
    let mut items = Vec::new();
    let mut all_answered = true;
    for item in batch.items {
        kept.borrow_mut().push(Sent {
            step: "pay".into(),
            body: item.body.clone(),
            gzipped: false,
        });
        let response = Request::decode(item.body.as_bytes())
            .ok()
            .and_then(|request| answer("pay", &request));
        let Some(response) = response else {
            all_answered = false;
            continue;
        };
        // Bound to the payment as if sent alone to `pay` with its key and signature.
        let bytes = response.encode();
        let digest = exchange_digest("pay", &item.key, &item.signature, item.body.as_bytes());
        let signature = gateway_key().sign(&bound_answer(&digest, &bytes));
        items.push(ItemAnswer {
            status: 200,
            body: String::from_utf8(bytes).unwrap(),
            signature: signature.to_string(),
        });
    }
    all_answered.then(|| {
        serde_json::to_string(&BatchAnswer {
            v: PROTOCOL_VERSION,
            items,
        })
        .unwrap()
    })
}

fn answer_array(body: String, signer: &str, signature: &str, status: u16) -> JsValue {
    let array: js_sys::Array = [body, signer.to_owned(), signature.to_owned()]
        .iter()
        .map(|s| JsValue::from_str(s))
        .collect();
    array.push(&JsValue::from(status));
    array.into()
}

fn serve_with(
    answer: impl Fn(&str, &Request) -> Option<Response> + 'static,
    batches: bool,
) -> FakeGateway {
    let sent = Rc::new(RefCell::new(Vec::new()));
    let kept = sent.clone();
    let reply = Closure::<dyn Fn(String, String, bool, String, String) -> JsValue>::new(
        move |step: String, body: String, gzipped: bool, signer: String, signed: String| {
            kept.borrow_mut().push(Sent {
                step: step.clone(),
                body: body.clone(),
                gzipped,
            });
            if step == "batch" {
                if !batches {
                    return answer_array(r#"{"error":"not_found"}"#.into(), "", "", 404);
                }
                return match batch_answer(&body, &kept, &answer) {
                    Some(answer) => answer_array(answer, "", "", 200),
                    None => JsValue::NULL,
                };
            }
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
            answer_array(
                String::from_utf8(bytes).unwrap(),
                GATEWAY_SIGNER,
                &signature.to_string(),
                200,
            )
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
           // Read as the gateway reads it: a gzipped body inflated first.
           const gzipped = request.headers.get('content-encoding') === 'gzip';
           const read = gzipped
             ? request.clone().arrayBuffer().then((bytes) => new Response(
                 new Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip'))).text())
             : request.clone().text();
           return read.then((text) => {
             const answer = reply(step, text, gzipped,
               request.headers.get(keyHeader) || '', request.headers.get(signatureHeader) || '');
             if (answer === null) throw new TypeError('Failed to fetch');
             const headers = new Headers();
             if (answer[1]) {
               headers.set(keyHeader, answer[1]);
               headers.set(signatureHeader, answer[2]);
             }
             return new Response(answer[0], { status: answer[3], headers });
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

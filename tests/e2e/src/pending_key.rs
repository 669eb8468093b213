//! A phone's key registered straight over the JSON API, without the app: the console tests
//! that only need a pending key in the dealer's table get one without a release build.

use serde_json::{Value, json};
use tolem_protocol::{
    PROTOCOL_VERSION,
    keys::SecretKey,
    messages::{KeyCardRequest, Message, RegisterKey},
    signing::{KEY_HEADER, SIGNATURE_HEADER},
};

use crate::Browser;

/// Gets a key card for point `point` (password `password`) and registers a key made from
/// `seed` for it, from the page open in `browser` (any gateway page without a
/// Content-Security-Policy that forbids `fetch`: the browser is opened on `/api/health`);
/// returns the key's serial, pending until the dealer certifies it.
pub async fn register_pending_key(
    browser: &Browser,
    app: &str,
    point: &str,
    password: &str,
    seed: u8,
) -> String {
    browser
        .client
        .goto(&format!("{app}api/health"))
        .await
        .unwrap();
    let request = KeyCardRequest {
        v: PROTOCOL_VERSION,
        point: point.into(),
        password: password.into(),
    };
    let card = post(browser, "key-card", &request.encode(), &[]).await;
    let serial = find(&card, "key_serial")
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no key card: {card}"))
        .to_owned();
    let key = SecretKey::from_seed(&[seed; 32]);
    let registration = RegisterKey {
        v: PROTOCOL_VERSION,
        point: point.into(),
        password: password.into(),
        key_serial: serial.clone(),
        public_key: key.public_key(),
        created_at_ms: 1_700_000_000_000,
        outbox_lost: None,
    };
    let body = registration.encode();
    let signature = key.sign(&body).to_string();
    post(
        browser,
        "keys",
        &body,
        &[(KEY_HEADER, &serial), (SIGNATURE_HEADER, &signature)],
    )
    .await;
    serial
}

/// POSTs `body` to `/api/v1/{path}` with `fetch` in the page; the answer's JSON.
async fn post(browser: &Browser, path: &str, body: &[u8], headers: &[(&str, &str)]) -> Value {
    let mut all = serde_json::Map::new();
    all.insert("content-type".into(), json!("application/json"));
    for (name, value) in headers {
        all.insert((*name).into(), json!(value));
    }
    let script = format!(
        "const done = arguments[arguments.length - 1];
         fetch('/api/v1/{path}', {{ method: 'POST', headers: {headers}, body: {body} }})
           .then(r => r.text().then(t => done(JSON.stringify({{ status: r.status, body: t }}))))
           .catch(e => done(JSON.stringify({{ status: 0, body: String(e) }})));",
        headers = Value::Object(all),
        body = json!(String::from_utf8(body.to_vec()).expect("JSON bodies")),
    );
    let answer = browser.eval_async(&script).await;
    let answer: Value = serde_json::from_str(answer.as_str().unwrap_or_default()).unwrap();
    assert_eq!(answer["status"], 200, "POST {path}: {answer}");
    serde_json::from_str(answer["body"].as_str().unwrap_or_default())
        .unwrap_or_else(|e| panic!("POST {path}: not JSON ({e}): {answer}"))
}

/// The first value named `name` anywhere in `value`.
fn find<'a>(value: &'a Value, name: &str) -> Option<&'a Value> {
    match value {
        Value::Object(map) => map
            .get(name)
            .or_else(|| map.values().find_map(|v| find(v, name))),
        Value::Array(items) => items.iter().find_map(|v| find(v, name)),
        _ => None,
    }
}

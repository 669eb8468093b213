//! Guards *Check the number* on the payment form (manual §10) in a real browser, with the
//! catalogue and the point key kept on the phone as the app keeps them and the gateway's signed
//! answers served in place of the network: a locked key is asked to be unlocked first; the
//! check goes out as a `check` request signed by the point key for the typed number and amount;
//! a number the provider knows shows its holder's name and fields; an unknown one (code 8) shows
//! the provider's reason as an alert; a provider that was not asked still lets the cashier pay;
//! the gateway's own refusal (21) is explained as the pay flow explains it; changing the number
//! or the amount clears the old answer; the form fits 320 px in ru/kk/en; without a
//! connection the form says a check needs one, and the payment can still be deferred; a check
//! stores nothing in the history or the outbox; an answer that comes after the cashier left the
//! screen is dropped without breaking the app.
#![cfg(target_arch = "wasm32")]

mod support;

use support::card::{DEMO_SERIAL, gateway_key, sample_card};
use support::catalogue::keep_sample_catalogue;
use support::payments::forget_payments;
use support::*;
use tolem::storage::keystore;
use tolem_protocol::PROTOCOL_VERSION;
use tolem_protocol::codes::ResultCode;
use tolem_protocol::messages::{
    AccountCheck, Message, Outcome, ProviderRefusal, Request, Response, Step,
};
use tolem_protocol::signing::{
    GATEWAY_SIGNER, KEY_HEADER, SIGNATURE_HEADER, Signed, bound_answer, exchange_digest,
};
use wasm_bindgen::prelude::*;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

const PASSPHRASE: &str = "касса-смена-1";

/// Answers the network as the gateway would: its health check says it is up, and every
/// `check` is answered with `code` and `account`, signed by the test gateway's key for the
/// request's own session. Each check's body and signature headers are kept in
/// `globalThis.checkRequests`. Returns a function that puts the real `fetch` back.
fn serve_checks(code: ResultCode, account: Option<AccountCheck>) -> js_sys::Function {
    serve_checks_ahead(code, account, 0)
}

/// [`serve_checks`] from a gateway whose clock is `ahead_ms` ahead of the phone's: the phone
/// notes the offset once it has read and verified an answer (tolem_outbox::clock::observe), a
/// state a test can wait for.
fn serve_checks_ahead(
    code: ResultCode,
    account: Option<AccountCheck>,
    ahead_ms: i64,
) -> js_sys::Function {
    let answer = Closure::<dyn Fn(String, String, String) -> js_sys::Array>::new(
        move |text: String, signer: String, signed: String| {
            let request = Request::decode(text.as_bytes()).unwrap();
            let response = Response {
                v: PROTOCOL_VERSION,
                session: Some(request.session),
                code,
                outcome: Some(Outcome::Checked {
                    account: account.clone(),
                }),
                gateway_time_ms: js_sys::Date::now() as i64 + ahead_ms,
                retry_after_s: None,
            };
            // Bound to the request as it was sent, as the real gateway answers (issue 13 item 11).
            let bytes = response.encode();
            let digest = exchange_digest("check", &signer, &signed, text.as_bytes());
            let signature = gateway_key().sign(&bound_answer(&digest, &bytes));
            [
                String::from_utf8(bytes).unwrap(),
                GATEWAY_SIGNER.to_owned(),
                signature.to_string(),
            ]
            .iter()
            .map(|s| JsValue::from_str(s))
            .collect()
        },
    );
    let health = format!(
        r#"{{"status":"ok","version":"test","database":"ok","protocol":{PROTOCOL_VERSION}}}"#
    );
    let install = js_sys::Function::new_with_args(
        "answer, health, keyHeader, signatureHeader",
        "const real = globalThis.fetch;
         globalThis.checkRequests = [];
         globalThis.fetch = function (request, init) {
           const url = typeof request === 'string' ? request : request.url;
           if (url.includes('/api/health')) {
             return Promise.resolve(new Response(health, {
               status: 200, headers: { 'content-type': 'application/json' } }));
           }
           if (!url.includes('/api/v1/check')) return real.call(globalThis, request, init);
           return request.clone().text().then((text) => {
             globalThis.checkRequests.push([
               text, request.headers.get(keyHeader), request.headers.get(signatureHeader)]);
             const [body, signer, signature] = answer(text,
               request.headers.get(keyHeader) || '', request.headers.get(signatureHeader) || '');
             const headers = new Headers();
             headers.set(keyHeader, signer);
             headers.set(signatureHeader, signature);
             return new Response(body, { status: 200, headers });
           });
         };
         return () => { globalThis.fetch = real; };",
    );
    let args = js_sys::Array::new();
    args.push(&answer.into_js_value());
    args.push(&health.into());
    args.push(&KEY_HEADER.into());
    args.push(&SIGNATURE_HEADER.into());
    install
        .apply(&JsValue::NULL, &args)
        .unwrap()
        .unchecked_into()
}

/// No network at all: every request fails as a lost connection does in a browser.
fn serve_nothing() -> js_sys::Function {
    js_sys::Function::new_no_args(
        "const real = globalThis.fetch;
         globalThis.fetch = () => Promise.reject(new TypeError('Failed to fetch'));
         return () => { globalThis.fetch = real; };",
    )
    .call0(&JsValue::NULL)
    .unwrap()
    .unchecked_into()
}

/// The checks sent so far: (body, signer header, signature header).
fn check_requests() -> Vec<(String, String, String)> {
    let sent: js_sys::Array = js_sys::Reflect::get(&js_sys::global(), &"checkRequests".into())
        .unwrap()
        .unchecked_into();
    sent.iter()
        .map(|entry| {
            let entry: js_sys::Array = entry.unchecked_into();
            let part = |i| entry.get(i).as_string().unwrap_or_default();
            (part(0), part(1), part(2))
        })
        .collect()
}

/// A phone with the catalogue, no payments and a locked point key, on the Kcell form in Russian.
async fn kcell_form() -> Box<dyn std::any::Any> {
    forget_key().await;
    keep_sample_catalogue().await;
    forget_payments().await;
    keystore::create(&sample_card(), PASSPHRASE).await.unwrap();
    let app = start_in_russian_at("/pay/kcell");
    wait_for("#pay-form", 5).await;
    app
}

async fn nothing_stored() {
    assert!(tolem_outbox::store::history().await.unwrap().is_empty());
    assert_eq!(tolem_outbox::store::outbox_len().await.unwrap(), 0);
}

#[wasm_bindgen_test]
async fn the_holders_name_is_shown_for_a_number_the_provider_knows() {
    let restore = serve_checks(
        ResultCode::Ok,
        Some(AccountCheck {
            exists: true,
            holder: Some("Иванов И.".into()),
            fields: vec![("Задолженность".into(), "1 250,00".into())],
            refusal: None,
        }),
    );
    let app = kcell_form().await;

    // Checked like Execute: the fields first, then the key.
    tap("#pay-check");
    settle().await;
    assert_eq!(text_of("#pay-account-error"), "Введите номер.");
    assert!(find("#pay-check-result").is_none());
    type_into("#pay-account", "7011234567");
    type_into("#pay-amount", "2000");
    tap("#pay-check");
    wait_for("#pay-locked", 5).await;
    assert_eq!(
        text_of("#pay-locked"),
        "Сначала разблокируйте ключ кодовой фразой (форма ниже)."
    );
    assert!(check_requests().is_empty());
    unlock_with(PASSPHRASE).await;

    tap("#pay-check");
    wait_for("#pay-check-result[data-code='0']", 10).await;
    assert_eq!(
        attribute_of("#pay-check-result", "data-exists").as_deref(),
        Some("true")
    );
    assert_eq!(
        attribute_of("#pay-check-result", "role").as_deref(),
        Some("status")
    );
    assert_eq!(
        text_of("#pay-check-text"),
        "Провайдер знает номер: Иванов И."
    );
    assert!(text_of("#pay-check-fields").contains("Задолженность"));
    assert!(text_of("#pay-check-fields").contains("1 250,00"));

    // Sent once, as a `check` of the typed number and amount, signed by the phone's point key.
    let sent = check_requests();
    assert_eq!(sent.len(), 1);
    let (body, signer, signature) = sent[0].clone();
    assert_eq!(signer, DEMO_SERIAL);
    let signed = Signed {
        signer,
        body: body.clone().into_bytes(),
        signature: signature.parse().unwrap(),
    };
    let public = keystore::load().await.unwrap().unwrap().public_key;
    assert!(signed.verify(&public).is_ok());
    let request = Request::decode(body.as_bytes()).unwrap();
    assert!(matches!(
        request.step,
        Step::Check(ref p) if p.provider == "kcell" && p.account == "7011234567"
            && p.amount_tiyn == 2_000_00
    ));

    // Another number: the old answer goes.
    type_into("#pay-account", "7011234568");
    wait_until_gone("#pay-check-result", 5).await;

    nothing_stored().await;
    drop(app);
    restore.call0(&JsValue::NULL).unwrap();
    forget_key().await;
}

#[wasm_bindgen_test]
async fn the_providers_reason_is_shown_for_an_unknown_number() {
    let restore = serve_checks(
        ResultCode::BadAccount,
        Some(AccountCheck {
            exists: false,
            holder: None,
            fields: Vec::new(),
            refusal: Some(ProviderRefusal::AccountNotFound),
        }),
    );
    let app = kcell_form().await;
    unlock_with(PASSPHRASE).await;
    type_into("#pay-account", "7011234567");
    type_into("#pay-amount", "2000");
    tap("#pay-check");

    wait_for("#pay-check-result[data-code='8']", 10).await;
    assert_eq!(
        attribute_of("#pay-check-result", "data-exists").as_deref(),
        Some("false")
    );
    assert_eq!(
        attribute_of("#pay-check-result", "role").as_deref(),
        Some("alert")
    );
    assert_eq!(
        text_of("#pay-check-text"),
        "Провайдер отказал: абонент или лицевой счёт не найден."
    );
    // Another amount: the old answer goes too.
    type_into("#pay-amount", "3000");
    wait_until_gone("#pay-check-result", 5).await;

    nothing_stored().await;
    drop(app);
    restore.call0(&JsValue::NULL).unwrap();
    forget_key().await;
}

#[wasm_bindgen_test]
async fn an_unasked_provider_still_lets_the_cashier_pay_and_the_gateways_own_refusal_is_explained()
{
    // The gateway's rules pass, but the provider was not asked.
    let restore = serve_checks(ResultCode::Ok, None);
    let app = kcell_form().await;
    unlock_with(PASSPHRASE).await;
    type_into("#pay-account", "7011234567");
    type_into("#pay-amount", "2000");
    tap("#pay-check");
    wait_for("#pay-check-result[data-code='0']", 10).await;
    assert!(attribute_of("#pay-check-result", "data-exists").is_none());
    assert_eq!(
        text_of("#pay-check-text"),
        "Провайдера спросить не удалось; платить можно."
    );
    restore.call0(&JsValue::NULL).unwrap();

    // The gateway refuses by its own rules: its code, in the words the pay flow uses.
    let restore = serve_checks(ResultCode::InsufficientFunds, None);
    type_into("#pay-amount", "2500");
    wait_until_gone("#pay-check-result", 5).await;
    tap("#pay-check");
    wait_for("#pay-check-result[data-code='21']", 10).await;
    assert!(attribute_of("#pay-check-result", "data-exists").is_none());
    assert_eq!(
        text_of("#pay-check-text"),
        ResultCode::InsufficientFunds.message(tolem_protocol::codes::Lang::Ru)
    );

    nothing_stored().await;
    drop(app);
    restore.call0(&JsValue::NULL).unwrap();
    forget_key().await;
}

#[wasm_bindgen_test]
async fn offline_a_check_needs_a_connection_and_deferring_still_works() {
    let restore = serve_nothing();
    let app = kcell_form().await;
    unlock_with(PASSPHRASE).await;
    type_into("#pay-account", "7011234567");
    type_into("#pay-amount", "2000");
    tap("#pay-check");

    wait_for("#pay-check-result[data-code=offline]", 10).await;
    assert_eq!(
        text_of("#pay-check-text"),
        "Для проверки номера нужна связь. Отложить платёж можно и без неё."
    );
    assert!(
        attribute_of("#pay-check-result", "data-exists").is_none(),
        "no answer, so nothing is said about the number"
    );
    nothing_stored().await;

    // Deferring needs no connection.
    tap("#pay-defer");
    wait_for("#pay-confirm[data-action=defer]", 5).await;
    tap("#confirm-submit");
    wait_for("#pay-result[data-state=deferred]", 10).await;
    assert_eq!(tolem_outbox::store::outbox_len().await.unwrap(), 1);

    drop(app);
    restore.call0(&JsValue::NULL).unwrap();
    forget_payments().await;
    forget_key().await;
}

/// Holds every `check` request at the door until the returned function is called, then lets
/// them through to whatever `fetch` was before (the served gateway). Returns (release, restore).
fn hold_checks() -> (js_sys::Function, js_sys::Function) {
    let made: js_sys::Array = js_sys::Function::new_no_args(
        "const served = globalThis.fetch;
         let release;
         const gate = new Promise((resolve) => { release = resolve; });
         globalThis.fetch = function (request, init) {
           const url = typeof request === 'string' ? request : request.url;
           if (!url.includes('/api/v1/check')) return served.call(globalThis, request, init);
           return gate.then(() => served.call(globalThis, request, init));
         };
         return [release, () => { globalThis.fetch = served; }];",
    )
    .call0(&JsValue::NULL)
    .unwrap()
    .unchecked_into();
    (made.get(0).unchecked_into(), made.get(1).unchecked_into())
}

thread_local! {
    /// Panics seen since [`count_panics`] (in the release build a panic aborts the whole app;
    /// here the test harness would only log one that happens outside the test's own code).
    static PANICS: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// Counts every panic from now on in [`PANICS`], still passing it to the harness's hook.
fn count_panics() {
    let harness = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        PANICS.with(|n| n.set(n.get() + 1));
        harness(info);
    }));
}

#[wasm_bindgen_test]
async fn an_answer_that_comes_after_the_cashier_left_does_not_break_the_app() {
    count_panics();
    tolem_outbox::clock::reset();
    // The gateway's clock runs 30 s ahead (past the noise the phone ignores, short of the
    // wrong-clock warning): the phone noting that offset shows the late answer was read.
    let restore = serve_checks_ahead(
        ResultCode::Ok,
        Some(AccountCheck {
            exists: true,
            holder: Some("Иванов И.".into()),
            fields: Vec::new(),
            refusal: None,
        }),
        30_000,
    );
    let (release, unhold) = hold_checks();
    let app = kcell_form().await;
    unlock_with(PASSPHRASE).await;
    type_into("#pay-account", "7011234567");
    type_into("#pay-amount", "2000");
    tap("#pay-check");
    wait_for("#pay-check:disabled", 5).await;

    // The cashier goes back to the providers while the gateway thinks: the payment screen (and
    // every signal it had) is gone when the answer comes.
    tap("nav.back a");
    wait_for("#provider-search", 5).await;
    assert!(find("#pay-form").is_none());
    release.call0(&JsValue::NULL).unwrap();
    for _ in 0..100 {
        if !check_requests().is_empty() {
            break;
        }
        settle().await;
    }
    assert_eq!(check_requests().len(), 1, "the held check went out");
    // Until the answer was read and verified: the phone noted the gateway's clock. The screen's
    // task goes on in the same turn, so a panic from it would be counted by now.
    for _ in 0..200 {
        if tolem_outbox::clock::offset_ms() != 0 {
            break;
        }
        settle().await;
    }
    assert_ne!(
        tolem_outbox::clock::offset_ms(),
        0,
        "the late answer was never read"
    );
    assert_eq!(
        PANICS.with(std::cell::Cell::get),
        0,
        "the late answer panicked: the release build would have aborted"
    );

    // The app still works: the screen opens again, and the form answers the cashier's typing.
    tap("#provider-kcell");
    wait_for("#pay-form", 5).await;
    type_into("#pay-account", "7011234568");
    settle().await;
    let account: web_sys::HtmlInputElement = find("#pay-account").unwrap().unchecked_into();
    assert_eq!(account.value(), "+7 (701) 123-45-68");
    assert!(
        find("#pay-check-result").is_none(),
        "the old answer went with its screen"
    );

    drop(app);
    unhold.call0(&JsValue::NULL).unwrap();
    restore.call0(&JsValue::NULL).unwrap();
    tolem_outbox::clock::reset();
    forget_key().await;
}

#[wasm_bindgen_test]
async fn the_check_fits_320_pixels_in_every_language() {
    let restore = serve_checks(
        ResultCode::Ok,
        Some(AccountCheck {
            exists: true,
            holder: Some("Константинопольский Константин Константинович".into()),
            fields: vec![("Задолженность по лицевому счёту".into(), "1 250,00".into())],
            refusal: None,
        }),
    );
    let app = kcell_form().await;
    load_style_sheet();
    let root: web_sys::HtmlElement = find_root();
    root.style().set_property("width", "320px").unwrap();
    root.style().set_property("overflow", "auto").unwrap();
    unlock_with(PASSPHRASE).await;
    type_into("#pay-account", "7011234567");
    type_into("#pay-amount", "2000");
    tap("#pay-check");
    wait_for("#pay-check-result[data-code='0']", 10).await;
    for language in ["ru", "kk", "en"] {
        choose_language(language).await;
        settle().await;
        let overflow = root.scroll_width() - root.client_width();
        assert!(
            overflow <= 0,
            "the form in {language} is {overflow} px wider than 320 px"
        );
    }
    drop(app);
    restore.call0(&JsValue::NULL).unwrap();
    forget_language();
    forget_key().await;
}

fn find_root() -> web_sys::HtmlElement {
    leptos::prelude::document()
        .get_element_by_id("app-under-test")
        .unwrap()
        .unchecked_into()
}

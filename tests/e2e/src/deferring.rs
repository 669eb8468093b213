//! Deferring many payments quickly for the benchmarks: the cashier's taps driven inside the page,
//! without a WebDriver round trip per field.

use serde_json::Value;

use crate::Phone;

/// Deferrals driven inside the page per WebDriver call (well within its 30 s script timeout).
const PER_CALL: usize = 50;

/// Takes `count` Kcell payments of 100 ₸ with *Defer* → *Confirm*, the way a cashier's taps
/// reach the app (input events on the fields, clicks on the buttons), timing each from the tap on
/// *Confirm* until the page shows the deferred result. Returns the times in milliseconds.
const DEFER_IN_PAGE: &str = r#"
const [first, count, done] = [arguments[0], arguments[1], arguments[arguments.length - 1]];
const appear = (selector) => new Promise((resolve) => {
  const found = () => document.querySelector(selector);
  if (found()) return resolve(found());
  const watch = new MutationObserver(() => {
    if (found()) { watch.disconnect(); resolve(found()); }
  });
  watch.observe(document.body, { childList: true, subtree: true, attributes: true });
});
const type = (selector, text) => {
  const field = document.querySelector(selector);
  field.value = text;
  field.dispatchEvent(new Event('input', { bubbles: true }));
};
(async () => {
  const times = [];
  for (let n = first; n < first + count; n++) {
    await appear('#pay-form');
    type('#pay-account', '701' + String(1000000 + n));
    type('#pay-amount', '100');
    document.querySelector('#pay-defer').click();
    const confirm = await appear('#confirm-submit');
    const start = performance.now();
    confirm.click();
    const result = await appear('#pay-result[data-state]');
    times.push(performance.now() - start);
    if (result.dataset.state !== 'deferred') return done('payment ' + n + ': ' + result.dataset.state);
    document.querySelector('#pay-new').click();
  }
  done(times);
})().catch((e) => done('error: ' + e));
"#;

/// Defers `count` Kcell payments of 100 ₸ to the numbers [`crate::kcell_number`]`(first..)`
/// with *Defer* → *Confirm*; returns each one's time from *Confirm* to the result shown, in
/// milliseconds.
pub async fn defer_in_page(phone: &Phone, first: usize, count: usize) -> Vec<f64> {
    let mut times = Vec::with_capacity(count);
    for start in (first..first + count).step_by(PER_CALL) {
        let batch = PER_CALL.min(first + count - start);
        let answer = phone
            .browser
            .client
            .execute_async(DEFER_IN_PAGE, vec![start.into(), batch.into()])
            .await
            .expect("the deferrals ran");
        match answer {
            Value::Array(batch) => times.extend(batch.iter().filter_map(Value::as_f64)),
            other => panic!("deferring failed: {other}"),
        }
    }
    assert_eq!(times.len(), count);
    times
}

//! The emulator's HTML: the hosted card page, the bank's 3-D Secure page, and the outcomes,
//! in Russian, Kazakh or English by the order's language.
//!
//! Plain forms, no JavaScript; one column that fits a 320 px wide screen. Every value from
//! an order is escaped. Tests drive these pages with an HTTP client: forms post to the
//! address in their `action`, fields keep the names below.

use crate::service::{Decline, PageLanguage, ServiceKind};
use crate::tiptop::codes;

use super::cards::{self, TEST_CARDS};
use super::state::{Order, language_code};

/// The words of the pages in one language.
pub struct Texts {
    pub pay_title: &'static str,
    pub card_number: &'static str,
    pub expiry: &'static str,
    pub email: &'static str,
    pub pay: &'static str,
    pub test_mode: &'static str,
    pub test_cards: &'static str,
    pub emulator_cards: &'static str,
    pub with_3ds: &'static str,
    pub without_3ds: &'static str,
    pub success: &'static str,
    pub bank_title: &'static str,
    pub bank_prompt: &'static str,
    pub bank_code_is: &'static str,
    pub confirm: &'static str,
    pub cancel: &'static str,
    pub wrong_code: &'static str,
    pub refused_title: &'static str,
    pub paid_title: &'static str,
    pub back_to_shop: &'static str,
    pub another_card: &'static str,
    pub bad_card_number: &'static str,
    pub bad_expiry: &'static str,
    pub bad_cvc: &'static str,
    pub not_found: &'static str,
    pub declines: [&'static str; 7],
    pub shop_refused: &'static str,
}

const RU: Texts = Texts {
    pay_title: "Оплата картой",
    card_number: "Номер карты",
    expiry: "Срок действия (ММ/ГГ)",
    email: "E-mail для чека",
    pay: "Оплатить",
    test_mode: "Тестовый режим: деньги не списываются",
    test_cards: "Тестовые карты",
    emulator_cards: "карты эмулятора; остальные — из документации сервиса",
    with_3ds: "с 3-D Secure",
    without_3ds: "без 3-D Secure",
    success: "Оплата прошла успешно",
    bank_title: "Подтверждение платежа банком",
    bank_prompt: "Введите код из SMS",
    bank_code_is: "Тестовый код:",
    confirm: "Подтвердить",
    cancel: "Отменить",
    wrong_code: "Неверный код, попробуйте ещё раз",
    refused_title: "Платёж отклонён",
    paid_title: "Заказ уже оплачен",
    back_to_shop: "Вернуться в магазин",
    another_card: "Оплатить другой картой",
    bad_card_number: "Проверьте номер карты",
    bad_expiry: "Укажите срок действия в виде ММ/ГГ",
    bad_cvc: "CVC — три цифры на обороте карты",
    not_found: "Заказ не найден",
    declines: [
        "Недостаточно средств на карте",
        "Карта не предназначена для оплаты в интернете",
        "Истёк срок действия карты",
        "Данные карты введены неверно",
        "Превышен лимит по карте",
        "Проверка 3-D Secure не пройдена",
        "Банк отклонил платёж",
    ],
    shop_refused: "Магазин не принял платёж",
};

const KK: Texts = Texts {
    pay_title: "Картамен төлеу",
    card_number: "Карта нөмірі",
    expiry: "Жарамдылық мерзімі (АА/ЖЖ)",
    email: "Чекке арналған e-mail",
    pay: "Төлеу",
    test_mode: "Тест режимі: ақша шешілмейді",
    test_cards: "Тест карталары",
    emulator_cards: "эмулятордың карталары; қалғандары — сервис құжаттамасынан",
    with_3ds: "3-D Secure-пен",
    without_3ds: "3-D Secure-сыз",
    success: "Төлем сәтті өтті",
    bank_title: "Төлемді банктің растауы",
    bank_prompt: "SMS-тегі кодты енгізіңіз",
    bank_code_is: "Тест коды:",
    confirm: "Растау",
    cancel: "Бас тарту",
    wrong_code: "Код қате, қайта көріңіз",
    refused_title: "Төлем қабылданбады",
    paid_title: "Тапсырыс төленіп қойған",
    back_to_shop: "Дүкенге оралу",
    another_card: "Басқа картамен төлеу",
    bad_card_number: "Карта нөмірін тексеріңіз",
    bad_expiry: "Мерзімін АА/ЖЖ түрінде көрсетіңіз",
    bad_cvc: "CVC — картаның артындағы үш сан",
    not_found: "Тапсырыс табылмады",
    declines: [
        "Картада қаражат жеткіліксіз",
        "Карта интернетте төлеуге арналмаған",
        "Картаның мерзімі өтіп кеткен",
        "Карта деректері қате енгізілген",
        "Карта бойынша лимит асып кетті",
        "3-D Secure тексерісінен өтпеді",
        "Банк төлемді қабылдамады",
    ],
    shop_refused: "Дүкен төлемді қабылдамады",
};

const EN: Texts = Texts {
    pay_title: "Card payment",
    card_number: "Card number",
    expiry: "Expiry (MM/YY)",
    email: "E-mail for the receipt",
    pay: "Pay",
    test_mode: "Test mode: no money is taken",
    test_cards: "Test cards",
    emulator_cards: "the emulator's own cards; the others are from the service's documentation",
    with_3ds: "with 3-D Secure",
    without_3ds: "without 3-D Secure",
    success: "Payment successful",
    bank_title: "Payment confirmation by your bank",
    bank_prompt: "Enter the code from the SMS",
    bank_code_is: "Test code:",
    confirm: "Confirm",
    cancel: "Cancel",
    wrong_code: "Wrong code, try again",
    refused_title: "Payment refused",
    paid_title: "This order is paid already",
    back_to_shop: "Return to the shop",
    another_card: "Pay with another card",
    bad_card_number: "Check the card number",
    bad_expiry: "Give the expiry as MM/YY",
    bad_cvc: "The CVC is the three digits on the back of the card",
    not_found: "Order not found",
    declines: [
        "Insufficient funds on the card",
        "The card is not enabled for internet payments",
        "The card has expired",
        "The card details are wrong",
        "The card's limit is exceeded",
        "3-D Secure authentication failed",
        "The bank refused the payment",
    ],
    shop_refused: "The shop did not accept the payment",
};

pub fn texts(language: PageLanguage) -> &'static Texts {
    match language {
        PageLanguage::Ru => &RU,
        PageLanguage::Kk => &KK,
        PageLanguage::En => &EN,
    }
}

/// Why a card was refused, in words for the customer, from a ReasonCode.
pub fn reason_text(language: PageLanguage, reason_code: u32) -> &'static str {
    let texts = texts(language);
    if (3000..3100).contains(&reason_code) {
        return texts.shop_refused;
    }
    let index = match codes::decline_for(reason_code) {
        Decline::InsufficientFunds => 0,
        Decline::NotEnabledForInternet => 1,
        Decline::CardExpired => 2,
        Decline::WrongCardData => 3,
        Decline::LimitExceeded => 4,
        Decline::AuthenticationFailed => 5,
        Decline::Other => 6,
    };
    texts.declines[index]
}

/// HTML-escapes text for element content and quoted attributes.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:0;padding:12px;color:#222}\
main{max-width:420px;margin:0 auto}h1{font-size:1.3em}label{display:block;margin:10px 0}\
input{display:block;width:100%;box-sizing:border-box;font-size:16px;padding:8px;margin-top:4px}\
.row{display:flex;gap:8px}.row label{flex:1}button{font-size:16px;padding:10px;margin:6px 0;width:100%}\
.sum{font-size:1.6em;margin:4px 0}.error{color:#b00020}.test{background:#fff4d6;padding:6px}\
table{font-size:12px;width:100%;border-collapse:collapse}td{padding:2px 4px;border-top:1px solid #ddd;overflow-wrap:anywhere}\
a{display:block;margin:8px 0}";

fn page(language: PageLanguage, title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"{}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{}</title><style>{STYLE}</style></head><body><main>{body}</main></body></html>",
        language_code(language),
        escape(title)
    )
}

fn merchant_line(order: &Order) -> String {
    let service = match order.service {
        ServiceKind::TipTop => "TipTop Pay",
        ServiceKind::Robokassa => "Robokassa",
    };
    format!(
        "<p>{service} · {}</p><p class=\"sum\">{} ₸</p><p>{}</p>",
        escape(&order.invoice),
        escape(&order.amount),
        escape(&order.description)
    )
}

fn error_line(error: Option<&str>) -> String {
    error
        .map(|e| format!("<p class=\"error\" role=\"alert\">{}</p>", escape(e)))
        .unwrap_or_default()
}

/// The card page: number, expiry, CVC, e-mail; test cards in the footer in test mode.
pub fn card_page(order: &Order, error: Option<&str>) -> String {
    let t = texts(order.language);
    let email = order.email.as_deref().unwrap_or("");
    let mut body = format!(
        "<h1>{}</h1>{}{}\
         <form method=\"post\" action=\"/d/{}\" accept-charset=\"utf-8\">\
         <label>{}<input name=\"card\" inputmode=\"numeric\" autocomplete=\"cc-number\" required></label>\
         <div class=\"row\"><label>{}<input name=\"exp\" placeholder=\"MM/YY\" autocomplete=\"cc-exp\" required></label>\
         <label>CVC<input name=\"cvc\" inputmode=\"numeric\" maxlength=\"4\" autocomplete=\"cc-csc\" required></label></div>\
         <label>{}<input name=\"email\" type=\"email\" value=\"{}\" autocomplete=\"email\"></label>\
         <button type=\"submit\">{} {} ₸</button></form>",
        t.pay_title,
        merchant_line(order),
        error_line(error),
        escape(&order.id),
        t.card_number,
        t.expiry,
        t.email,
        escape(email),
        t.pay,
        escape(&order.amount),
    );
    if order.test {
        body.push_str(&test_cards_footer(order.language));
    }
    page(order.language, t.pay_title, &body)
}

fn test_cards_footer(language: PageLanguage) -> String {
    let t = texts(language);
    let rows: String = TEST_CARDS
        .iter()
        .map(|card| {
            let result = match card.outcome {
                cards::Outcome::Approved => t.success.to_owned(),
                cards::Outcome::Declined(code) => {
                    format!("{code}: {}", reason_text(language, code))
                }
            };
            format!(
                "<tr><td>{}{}</td><td>{}</td><td>{}</td></tr>",
                cards::grouped(card.number),
                if card.documented { "" } else { " ✱" },
                if card.three_ds {
                    t.with_3ds
                } else {
                    t.without_3ds
                },
                escape(&result)
            )
        })
        .collect();
    format!(
        "<footer><p class=\"test\">{}</p><h2>{}</h2><table>{rows}</table><p>✱ {}</p></footer>",
        t.test_mode, t.test_cards, t.emulator_cards
    )
}

/// The bank's page: the code to type (shown, it is a test bank), confirm or cancel.
pub fn three_ds_page(
    order: &Order,
    transaction_id: u64,
    code: &str,
    error: Option<&str>,
) -> String {
    let t = texts(order.language);
    let body = format!(
        "<h1>{}</h1>{}{}<p>{} <strong id=\"code\">{}</strong></p>\
         <form method=\"post\" action=\"/acs/{transaction_id}\" accept-charset=\"utf-8\">\
         <label>{}<input name=\"code\" inputmode=\"numeric\" autocomplete=\"one-time-code\"></label>\
         <button type=\"submit\" name=\"action\" value=\"confirm\">{}</button>\
         <button type=\"submit\" name=\"action\" value=\"cancel\">{}</button></form>",
        t.bank_title,
        merchant_line(order),
        error_line(error),
        t.bank_code_is,
        escape(code),
        t.bank_prompt,
        t.confirm,
        t.cancel,
    );
    page(order.language, t.bank_title, &body)
}

/// A refusal: the reason, then the way back to the shop (and another try on this page).
pub fn refused_page(order: &Order, reason_code: u32, fail_url: Option<&str>) -> String {
    let t = texts(order.language);
    let back = fail_url
        .map(|url| {
            format!(
                "<a id=\"fail\" href=\"{}\">{}</a>",
                escape(url),
                t.back_to_shop
            )
        })
        .unwrap_or_default();
    let body = format!(
        "<h1>{}</h1>{}<p class=\"error\" id=\"reason\" data-code=\"{reason_code}\">{}</p>\
         <a href=\"/d/{}\">{}</a>{back}",
        t.refused_title,
        merchant_line(order),
        reason_text(order.language, reason_code),
        escape(&order.id),
        t.another_card,
    );
    page(order.language, t.refused_title, &body)
}

/// Paid, when the shop gave no address to send the browser to.
pub fn success_page(order: &Order) -> String {
    let t = texts(order.language);
    page(
        order.language,
        t.success,
        &format!("<h1>{}</h1>{}", t.success, merchant_line(order)),
    )
}

/// The order was paid before.
pub fn paid_page(order: &Order) -> String {
    let t = texts(order.language);
    page(
        order.language,
        t.paid_title,
        &format!("<h1>{}</h1>{}", t.paid_title, merchant_line(order)),
    )
}

/// A page the service shows instead of the card form (Robokassa's numbered errors, an
/// unknown order).
pub fn error_page(language: PageLanguage, title: &str, detail: &str) -> String {
    page(
        language,
        title,
        &format!(
            "<h1>{}</h1><p class=\"error\" id=\"error\">{}</p>",
            escape(title),
            escape(detail)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }

    #[test]
    fn reasons_in_every_language() {
        assert_eq!(
            reason_text(PageLanguage::Ru, 5051),
            "Недостаточно средств на карте"
        );
        assert_eq!(
            reason_text(PageLanguage::Kk, 5054),
            "Картаның мерзімі өтіп кеткен"
        );
        assert_eq!(
            reason_text(PageLanguage::En, 5206),
            "3-D Secure authentication failed"
        );
        assert_eq!(
            reason_text(PageLanguage::En, 3001),
            "The shop did not accept the payment"
        );
    }
}

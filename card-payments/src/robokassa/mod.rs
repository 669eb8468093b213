//! [`Robokassa`]: the payment-service trait spoken to Robokassa (Kazakhstan: the page at
//! `https://auth.robokassa.kz/Merchant/Index.aspx`).
//!
//! * An order is a signed link to Robokassa's page ([`signature::PaymentBase`]); nothing is
//!   sent to the service until the customer opens it, so making an order cannot fail on the
//!   network. Each payment gets its own SuccessUrl2/FailUrl2, signed into the link.
//! * The one notification is ResultURL, sent when the card was charged (there is no Check and
//!   no Fail): the adapter reads it as [`NotificationKind::Pay`] and answers `OK{InvId}`. That
//!   answer is what settles a payment: SuccessURL/FailURL (and their `2` variants) are only
//!   where the customer's browser is sent afterwards, and prove nothing ("переход
//!   пользователя по ссылке SuccessURL – это формальность", «Переадресация … на SuccessURL»).
//! * A refund needs the operation's OpKey, which only the service knows: the adapter asks
//!   OpStateExt for it ([`op_state`]), then posts a JWT signed with Password #3 to the refund
//!   API ([`jwt`]).
//!
//! Sources, Robokassa's documentation (the Kazakhstan site, <https://docs.robokassa.kz/payment>,
//! has the same interfaces):
//! * <https://docs.robokassa.ru/pay-interface> «Интерфейс оплаты»: `/Merchant/Index.aspx`,
//!   ResultURL and its `OK{InvId}`, SuccessURL/FailURL, SuccessUrl2/FailUrl2, page errors;
//! * <https://docs.robokassa.ru/script-parameters/> «Параметры скрипта»: the parameters and
//!   the SignatureValue base, `Shp_` parameters, Culture, Encoding;
//! * «Тестовый режим» (<https://docs.robokassa.kz/testing-mode>): `IsTest=1`, and "для работы
//!   в тестовом режиме используется специальный тестовый набор паролей, не совпадающих с
//!   основными рабочими паролями" — a shop's test Passwords #1 and #2, set apart in its
//!   technical settings. An adapter in test mode is given those as its `secret`/`secret2`
//!   ([`ServiceConfig`]): a test link signed with the working Password #1 is refused;
//! * the hash of every signature: the one the shop's technical settings name ([`hash`]);
//! * «XML интерфейсы»: OpStateExt (`/Merchant/WebService/Service.asmx/OpStateExt`);
//! * «Осуществление возвратов по API»: `RefundService/Refund/Create` (JWT, Password #3),
//!   `Refund/GetState`.
//!
//! A refund is asynchronous: Refund/Create's `"success": true` only says the request was
//! taken, with its `requestId`; `GET RefundService/Refund/GetState?id={requestId}` answers
//! `{"requestId", "amount", "label"}`, the label `processing` until it is `finished` (the
//! money went back) or `canceled` (it did not). OpStateExt does not show such a refund: the
//! request id is the only way to follow it. (The same page; the protocol as integrations
//! read it, e.g. glama.ai/mcp/servers/artgas1/robokassa-mcp, "store the requestId from
//! Refund/Create and poll Refund/GetState"; labels `finished | processing | canceled`.)

pub mod hash;
pub mod jwt;
pub mod op_state;
pub mod signature;

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use crate::client;
use crate::config::{ConfigError, Secret, ServiceConfig};
use crate::form::Fields;
use crate::money;
use crate::service::{
    Created, Incoming, Notification, NotificationError, NotificationKind, Order, PageLanguage,
    PaymentService, RefundProgress, Refunded, Reply, ServiceError, ServiceKind, Verdict,
};

use hash::HashAlgorithm;
use op_state::OpState;
use signature::PaymentBase;

/// A Kazakhstan shop is paid in tenge: OutSum is in the shop's own currency, so no
/// OutSumCurrency (that parameter converts another currency into the shop's).
pub const CURRENCY: &str = "KZT";

/// The redirects' method: the browser is sent back with a plain GET.
pub const REDIRECT_METHOD: &str = "GET";

/// "Description … максимальная длина — 100 символов."
pub const DESCRIPTION_MAX_CHARS: usize = 100;

/// The page's path, which OpStateExt's address is derived from.
const PAGE_SUFFIX: &str = "Index.aspx";

/// Refund/Create's answer when the operation has nothing left to refund.
const NOTHING_LEFT: &str = "NotEnoughOperationFunds";

/// Robokassa, as the gateway calls it.
pub struct Robokassa {
    login: String,
    password1: Secret,
    password2: Secret,
    password3: Option<Secret>,
    page: url::Url,
    op_state: url::Url,
    refund_create: url::Url,
    refund_state: url::Url,
    /// The shop's «Алгоритм расчета хеша»: every signature with Password #1 or #2.
    hash: HashAlgorithm,
    test: bool,
    http: Result<reqwest::Client, String>,
}

impl fmt::Debug for Robokassa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Robokassa")
            .field("login", &self.login)
            .field("page", &self.page.as_str())
            .field("refund_create", &self.refund_create.as_str())
            .field("passwords", &"…")
            .field("refunds", &self.password3.is_some())
            .field("hash", &self.hash)
            .field("test", &self.test)
            .finish()
    }
}

impl Robokassa {
    /// Checks the configuration: `page_url` is the payment page (`…/Merchant/Index.aspx`),
    /// `api_url` the services host the refund API lives on, `secret`/`secret2` Passwords #1
    /// and #2 (in test mode, the shop's test ones); `password3` signs refunds (without it,
    /// refunds are refused); `hash` is the shop's hash algorithm.
    pub fn new(
        config: &ServiceConfig,
        password3: Option<Secret>,
        hash: HashAlgorithm,
    ) -> Result<Robokassa, ConfigError> {
        let page_text = config.page_url.as_deref().ok_or(ConfigError::Missing(
            "Robokassa's payment page URL (page_url)",
        ))?;
        let page = client::check_url(page_text)?;
        if !page.path().ends_with(&format!("/Merchant/{PAGE_SUFFIX}")) {
            return Err(ConfigError::BadUrl(format!(
                "{page_text}: Robokassa's page ends with /Merchant/{PAGE_SUFFIX}"
            )));
        }
        let mut op_state = page.clone();
        op_state.set_path(
            &page
                .path()
                .replace(PAGE_SUFFIX, "WebService/Service.asmx/OpStateExt"),
        );
        op_state.set_query(None);
        let api = client::check_url(&config.api_url)?;
        if config.login.is_empty() {
            return Err(ConfigError::Missing("Robokassa's merchant login"));
        }
        if config.secret.0.is_empty() {
            return Err(ConfigError::Missing("Robokassa's Password #1"));
        }
        let password2 = config
            .secret2
            .clone()
            .filter(|s| !s.0.is_empty())
            .ok_or(ConfigError::Missing("Robokassa's Password #2"))?;
        Ok(Robokassa {
            login: config.login.clone(),
            password1: config.secret.clone(),
            password2,
            password3: password3.filter(|s| !s.0.is_empty()),
            page,
            op_state,
            refund_create: client::join(&api, "RefundService/Refund/Create"),
            refund_state: client::join(&api, "RefundService/Refund/GetState"),
            hash,
            test: config.test,
            http: client::build(),
        })
    }

    /// The signed link to the payment page for `order`.
    pub fn payment_link(&self, order: &Order) -> Result<String, ServiceError> {
        let out_sum = money::tenge_text(order.amount_tiyn)
            .map_err(|e| ServiceError::Refused(e.to_string()))?;
        let inv_id = order.invoice.to_string();
        let base = PaymentBase {
            login: &self.login,
            out_sum: &out_sum,
            inv_id: Some(&inv_id),
            success_url2: Some((&order.success_url, REDIRECT_METHOD)),
            fail_url2: Some((&order.fail_url, REDIRECT_METHOD)),
            ..PaymentBase::default()
        };
        let description: String = order
            .description
            .chars()
            .take(DESCRIPTION_MAX_CHARS)
            .collect();
        let mut parameters: Vec<(&str, &str)> = vec![
            ("MerchantLogin", &self.login),
            ("OutSum", &out_sum),
            ("InvId", &inv_id),
            ("Description", &description),
            ("Culture", culture(order.language)),
            // The page's default is Windows-1251; our parameters are UTF-8.
            ("Encoding", "utf-8"),
            ("SuccessUrl2", &order.success_url),
            ("SuccessUrl2Method", REDIRECT_METHOD),
            ("FailUrl2", &order.fail_url),
            ("FailUrl2Method", REDIRECT_METHOD),
        ];
        if let Some(email) = &order.email {
            parameters.push(("Email", email));
        }
        // "Для работы в тестовом режиме обязателен параметр IsTest" (=1).
        if self.test {
            parameters.push(("IsTest", "1"));
        }
        let signature_value = base.signature(&self.password1.0, self.hash);
        parameters.push(("SignatureValue", &signature_value));
        let query = parameters
            .iter()
            .map(|(name, value)| format!("{name}={}", signature::urlencode(value)))
            .collect::<Vec<_>>()
            .join("&");
        let separator = if self.page.query().is_some() {
            '&'
        } else {
            '?'
        };
        Ok(format!("{}{separator}{query}", self.page))
    }

    /// OpStateExt for an invoice: its state and OpKey.
    async fn op_state(&self, invoice: u32) -> Result<OpState, ServiceError> {
        let invoice_id = invoice.to_string();
        let signature = self.hash.hex(&signature::op_state_text(
            &self.login,
            &invoice_id,
            &self.password2.0,
        ));
        let mut url = self.op_state.clone();
        url.query_pairs_mut()
            .append_pair("MerchantLogin", &self.login)
            .append_pair("InvoiceID", &invoice_id)
            .append_pair("Signature", &signature);
        let (status, text) = client::send(&self.http, |http| http.get(url.clone())).await?;
        if !(200..300).contains(&status) {
            return Err(client::status_error(status, &text));
        }
        let state = OpState::decode(&text)
            .map_err(|e| ServiceError::Unreadable(format!("OpStateExt: {e}")))?;
        match state.result_code {
            op_state::result_code::OK => Ok(state),
            op_state::result_code::NO_INVOICE => Err(ServiceError::Refused(format!(
                "Robokassa has no payment for invoice {invoice}"
            ))),
            code => Err(ServiceError::Refused(format!(
                "OpStateExt answered code {code}: {}",
                state
                    .result_description
                    .as_deref()
                    .unwrap_or("no description")
            ))),
        }
    }
}

/// Robokassa's page speaks Russian and English ("для значений отличных от ru или en
/// используется английский язык"): a Kazakh-speaking customer gets the Russian page.
pub fn culture(language: PageLanguage) -> &'static str {
    match language {
        PageLanguage::Ru | PageLanguage::Kk => "ru",
        PageLanguage::En => "en",
    }
}

impl PaymentService for Robokassa {
    fn kind(&self) -> ServiceKind {
        ServiceKind::Robokassa
    }

    fn takes_test_payments(&self) -> bool {
        self.test
    }

    fn create_order<'a>(
        &'a self,
        order: &'a Order,
    ) -> Pin<Box<dyn Future<Output = Result<Created, ServiceError>> + Send + 'a>> {
        // The same bill gives the same link: opening it twice is one invoice (InvId) to the
        // service, which refuses to take a second payment for it (error 40).
        Box::pin(async move {
            Ok(Created {
                redirect_url: self.payment_link(order)?,
                service_order: None,
            })
        })
    }

    fn read_notification(
        &self,
        incoming: &Incoming<'_>,
    ) -> Result<Notification, NotificationError> {
        if incoming.path != "result" {
            return Err(NotificationError::Malformed(format!(
                "Robokassa sends only ResultURL, not {:?}",
                incoming.path
            )));
        }
        // ResultURL comes by GET or POST, as the shop's technical settings say.
        let message = if incoming.body.is_empty() {
            incoming.query.as_bytes()
        } else {
            incoming.body
        };
        let fields = Fields::parse(message);
        let malformed = |what: String| NotificationError::Malformed(what);
        let required = |name: &str| {
            fields
                .get(name)
                .ok_or_else(|| malformed(format!("{name} is missing")))
        };
        let out_sum = required("OutSum")?;
        let inv_id = required("InvId")?;
        let given = required("SignatureValue")?;
        let user: Vec<(String, String)> = fields
            .0
            .iter()
            .filter(|(name, _)| signature::is_user_parameter(name))
            .cloned()
            .collect();
        let text = signature::result_text(out_sum, inv_id, &self.password2.0, &user);
        if !signature::verify(&text, given, self.hash) {
            tracing::info!(inv_id, "refused a ResultURL: bad SignatureValue");
            return Err(NotificationError::BadSignature);
        }
        let invoice = inv_id
            .parse::<u32>()
            .map_err(|_| malformed(format!("InvId {inv_id:?} is not one of our bills")))?;
        let amount_tiyn = money::parse_tenge(out_sum).map_err(|e| malformed(e.to_string()))?;
        Ok(Notification {
            kind: NotificationKind::Pay,
            invoice,
            amount_tiyn,
            currency: CURRENCY.to_owned(),
            // ResultURL names no operation; a refund finds it by the invoice (OpStateExt).
            transaction: None,
            // The docs spell it EMail.
            email: fields
                .get("EMail")
                .or(fields.get("Email"))
                .map(str::to_owned),
            decline: None,
            reason: fields.get("PaymentMethod").map(|m| format!("paid by {m}")),
            test: fields.get("IsTest") == Some("1"),
        })
    }

    fn reply(&self, notification: &Notification, verdict: Verdict) -> Reply {
        // Robokassa knows one answer, OK{InvId}: anything else means "not taken", and it sends
        // ResultURL again. It has no way to refuse a charge already made, so a gateway that
        // cannot use the payment should take it (Accept) and refund it.
        let (status, body) = match verdict {
            Verdict::Accept => (200, format!("OK{}", notification.invoice)),
            Verdict::TryLater => (503, "try later".to_owned()),
            Verdict::UnknownInvoice => (400, "not taken: unknown invoice".to_owned()),
            Verdict::WrongAmount => (400, "not taken: wrong amount".to_owned()),
            Verdict::NotPayable => (400, "not taken: the bill cannot be paid".to_owned()),
        };
        Reply {
            status,
            content_type: "text/plain; charset=utf-8",
            body,
        }
    }

    fn reply_refused(&self, error: &NotificationError) -> Reply {
        Reply {
            status: 400,
            content_type: "text/plain; charset=utf-8",
            body: match error {
                NotificationError::BadSignature => "bad SignatureValue".to_owned(),
                NotificationError::Malformed(what) => format!("malformed: {what}"),
            },
        }
    }

    /// Robokassa signs one kind of notification, the ResultURL's, sent once the payment is
    /// done (its signature covers `OutSum:InvId` with Password #2, which nothing sent before
    /// the charge carries): no body of another kind can pass for it.
    fn confirm_paid<'a>(
        &'a self,
        _paid: &'a Notification,
    ) -> Pin<Box<dyn Future<Output = Result<(), ServiceError>> + Send + 'a>> {
        Box::pin(async { Ok(()) })
    }

    fn refund<'a>(
        &'a self,
        invoice: u32,
        _transaction: Option<&'a str>,
        amount_tiyn: i64,
        key: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<Refunded, ServiceError>> + Send + 'a>> {
        Box::pin(async move {
            let password3 = self.password3.as_ref().ok_or_else(|| {
                ServiceError::Refused(
                    "Robokassa's refund API needs Password #3, which is not configured".into(),
                )
            })?;
            let state = self.op_state(invoice).await?;
            match state.state_code {
                Some(op_state::STATE_COMPLETED) => {}
                // Returned already: by an earlier call whose answer was lost, or by the service.
                Some(op_state::STATE_RETURNED) => {
                    tracing::info!(
                        invoice,
                        key,
                        "Robokassa: the money is back with the customer"
                    );
                    return Ok(Refunded::finished(None));
                }
                // A refund asked for as the ResultURL came (or while the service checks the
                // payment) finds it still on its way to the shop: not a refusal.
                Some(code) if op_state::STATES_UNDER_WAY.contains(&code) => {
                    return Err(ServiceError::NotYet(format!(
                        "invoice {invoice}'s payment is in state {code}, not completed (100) yet"
                    )));
                }
                other => {
                    return Err(ServiceError::Refused(format!(
                        "invoice {invoice}'s payment is in state {other:?}: nothing to refund"
                    )));
                }
            }
            let op_key = state
                .op_key
                .ok_or_else(|| ServiceError::Unreadable("OpStateExt gave no OpKey".into()))?;
            // A full refund leaves RefundSum out ("не указывать при полном возврате"); the
            // gateway refunds whole payments, so `amount_tiyn` is the whole amount.
            let payload = serde_json::json!({ "OpKey": op_key }).to_string();
            let token = jwt::sign_hs256(&payload, password3.0.as_bytes());
            let url = self.refund_create.clone();
            let (status, text) = client::send(&self.http, |http| {
                http.post(url.clone())
                    .header(reqwest::header::CONTENT_TYPE, "application/jwt")
                    .body(token)
            })
            .await?;
            if !(200..300).contains(&status) {
                return Err(client::status_error(status, &text));
            }
            let answer: RefundAnswer = serde_json::from_str(&text)
                .map_err(|e| ServiceError::Unreadable(format!("Refund/Create: {e}")))?;
            match (answer.success, answer.message.as_deref()) {
                // Taken, not done: the gateway follows it by its request id.
                (true, _) => {
                    let request_id =
                        answer
                            .request_id
                            .filter(|id| !id.is_empty())
                            .ok_or_else(|| {
                                ServiceError::Unreadable("Refund/Create gave no requestId".into())
                            })?;
                    tracing::info!(invoice, amount_tiyn, key, %request_id,
                        "Robokassa refund requested");
                    Ok(Refunded {
                        refund_id: Some(request_id),
                        progress: RefundProgress::Processing,
                    })
                }
                // The service has no idempotency key. A full refund is refused for lack of
                // funds only once the operation was refunded already, so a repeated call (same
                // key, or a retry after a lost answer) finds it done: the money is back.
                (false, Some(NOTHING_LEFT)) => {
                    tracing::info!(invoice, key, "Robokassa: already refunded");
                    Ok(Refunded::finished(None))
                }
                (false, message) => Err(ServiceError::Refused(
                    message
                        .unwrap_or("Refund/Create refused without a message")
                        .to_owned(),
                )),
            }
        })
    }

    /// Refund/GetState by the request id Refund/Create gave. Its errors are "ask again": an
    /// HTTP error (an id it does not know is a 400, as is a wrong address) or an answer
    /// without a label — never a refusal of the refund, which was taken.
    fn refund_state<'a>(
        &'a self,
        refund_id: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<RefundProgress, ServiceError>> + Send + 'a>> {
        Box::pin(async move {
            let mut url = self.refund_state.clone();
            url.query_pairs_mut().append_pair("id", refund_id);
            let (status, text) = client::send(&self.http, |http| http.get(url.clone())).await?;
            if !(200..300).contains(&status) {
                let excerpt: String = text.chars().take(200).collect();
                return Err(ServiceError::Unreachable(format!(
                    "Refund/GetState answered HTTP {status}: {excerpt}"
                )));
            }
            let answer: RefundStateAnswer = serde_json::from_str(&text)
                .map_err(|e| ServiceError::Unreadable(format!("Refund/GetState: {e}")))?;
            match answer.label.as_deref() {
                Some(refund_label::FINISHED) => Ok(RefundProgress::Finished),
                Some(refund_label::PROCESSING) => Ok(RefundProgress::Processing),
                Some(refund_label::CANCELED) => Ok(RefundProgress::Canceled(format!(
                    "Robokassa canceled the refund (request {refund_id})"
                ))),
                other => Err(ServiceError::Unreadable(format!(
                    "Refund/GetState: label {other:?} ({})",
                    answer.message.as_deref().unwrap_or("no message")
                ))),
            }
        })
    }

    /// Nothing to ask: Robokassa has no idempotency key to forget. Refund/Create sent again
    /// for a refunded operation answers NotEnoughOperationFunds, which [`Self::refund`]
    /// reads as done; and a refund it took is followed by its request id, never sent again.
    fn find_refund<'a>(
        &'a self,
        _invoice: u32,
        _transaction: Option<&'a str>,
    ) -> Pin<Box<dyn Future<Output = Result<Option<Refunded>, ServiceError>> + Send + 'a>> {
        Box::pin(async { Ok(None) })
    }
}

/// Refund/GetState's answer: `{"requestId": guid, "amount": number, "label": string}`, or
/// `{"message": string}` about an id it does not know.
#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct RefundStateAnswer {
    #[serde(default)]
    label: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

/// Refund/GetState's labels.
pub mod refund_label {
    pub const FINISHED: &str = "finished";
    pub const PROCESSING: &str = "processing";
    pub const CANCELED: &str = "canceled";
}

/// Refund/Create's answer: `{"success": bool, "message": string|null, "requestId": guid|null}`.
#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct RefundAnswer {
    success: bool,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    request_id: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> ServiceConfig {
        ServiceConfig {
            kind: ServiceKind::Robokassa,
            api_url: "https://services.robokassa.kz".into(),
            page_url: Some("https://auth.robokassa.kz/Merchant/Index.aspx".into()),
            login: "tolem-demo".into(),
            secret: Secret("password1".into()),
            secret2: Some(Secret("password2".into())),
            test: true,
        }
    }

    fn adapter() -> Robokassa {
        adapter_with(HashAlgorithm::Md5)
    }

    fn adapter_with(hash: HashAlgorithm) -> Robokassa {
        Robokassa::new(&config(), Some(Secret("password3".into())), hash).unwrap()
    }

    fn md5_hex(text: &str) -> String {
        HashAlgorithm::Md5.hex(text)
    }

    fn order() -> Order {
        Order {
            invoice: 42,
            amount_tiyn: 150_000,
            description: "Kcell 7011111111".into(),
            email: Some("a@b.kz".into()),
            language: PageLanguage::Kk,
            success_url: "https://g.kz/ok?bill=42".into(),
            fail_url: "https://g.kz/fail?bill=42".into(),
        }
    }

    #[test]
    fn link_is_signed_as_documented() {
        let link = adapter().payment_link(&order()).unwrap();
        let url = url::Url::parse(&link).unwrap();
        assert_eq!(url.path(), "/Merchant/Index.aspx");
        let fields: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        let get = |name: &str| {
            fields
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
                .unwrap_or_else(|| panic!("{name} missing from {link}"))
        };
        assert_eq!(get("MerchantLogin"), "tolem-demo");
        assert_eq!(get("OutSum"), "1500.00");
        assert_eq!(get("InvId"), "42");
        assert_eq!(get("Culture"), "ru");
        assert_eq!(get("IsTest"), "1");
        assert_eq!(get("SuccessUrl2"), "https://g.kz/ok?bill=42");
        let expected = md5_hex(
            "tolem-demo:1500.00:42:https%3A%2F%2Fg.kz%2Fok%3Fbill%3D42:GET:https%3A%2F%2Fg.kz%2Ffail%3Fbill%3D42:GET:password1",
        );
        assert_eq!(get("SignatureValue"), expected);
    }

    #[test]
    fn reads_a_signed_result_url() {
        let adapter = adapter();
        let signature_value = md5_hex("1500.00:42:password2").to_uppercase();
        let body = format!(
            "OutSum=1500.00&InvId=42&Fee=45.00&EMail=a%40b.kz&SignatureValue={signature_value}&PaymentMethod=BankCard&IncCurrLabel=BankCardPSR&IsTest=1"
        );
        let incoming = Incoming {
            path: "result",
            query: "",
            headers: &[],
            body: body.as_bytes(),
        };
        let notification = adapter.read_notification(&incoming).unwrap();
        assert_eq!(notification.kind, NotificationKind::Pay);
        assert_eq!(notification.invoice, 42);
        assert_eq!(notification.amount_tiyn, 150_000);
        assert_eq!(notification.email.as_deref(), Some("a@b.kz"));
        assert!(notification.test);
        let reply = adapter.reply(&notification, Verdict::Accept);
        assert_eq!((reply.status, reply.body.as_str()), (200, "OK42"));
        assert_ne!(adapter.reply(&notification, Verdict::TryLater).body, "OK42");

        let changed = body.replace("OutSum=1500.00", "OutSum=1500.01");
        let forged = Incoming {
            body: changed.as_bytes(),
            ..incoming.clone()
        };
        assert_eq!(
            adapter.read_notification(&forged),
            Err(NotificationError::BadSignature)
        );
        let elsewhere = Incoming {
            path: "success",
            ..incoming
        };
        assert!(matches!(
            adapter.read_notification(&elsewhere),
            Err(NotificationError::Malformed(_))
        ));
    }

    #[test]
    fn user_parameters_are_part_of_the_result_signature() {
        let adapter = adapter();
        let signature_value = md5_hex("100.26:450009:password2:Shp_login=Vasya:Shp_oplata=1");
        let query = format!(
            "OutSum=100.26&InvId=450009&Shp_oplata=1&Shp_login=Vasya&SignatureValue={signature_value}"
        );
        let incoming = Incoming {
            path: "result",
            query: &query,
            headers: &[],
            body: b"",
        };
        assert_eq!(
            adapter.read_notification(&incoming).unwrap().amount_tiyn,
            10_026
        );
        let without = query.replace("&Shp_login=Vasya", "");
        let incoming = Incoming {
            query: &without,
            ..incoming
        };
        assert_eq!(
            adapter.read_notification(&incoming),
            Err(NotificationError::BadSignature)
        );
    }

    #[test]
    fn checks_its_configuration_and_hides_passwords() {
        let mut no_page = config();
        no_page.page_url = None;
        assert!(matches!(
            Robokassa::new(&no_page, None, HashAlgorithm::Md5),
            Err(ConfigError::Missing(_))
        ));
        let mut wrong_page = config();
        wrong_page.page_url = Some("https://auth.robokassa.kz/pay".into());
        assert!(matches!(
            Robokassa::new(&wrong_page, None, HashAlgorithm::Md5),
            Err(ConfigError::BadUrl(_))
        ));
        let mut no_password2 = config();
        no_password2.secret2 = None;
        assert_eq!(
            Robokassa::new(&no_password2, None, HashAlgorithm::Md5).err(),
            Some(ConfigError::Missing("Robokassa's Password #2"))
        );
        let adapter = adapter();
        assert_eq!(
            adapter.op_state.as_str(),
            "https://auth.robokassa.kz/Merchant/WebService/Service.asmx/OpStateExt"
        );
        let text = format!("{adapter:?}");
        assert!(
            !text.contains("password1") && !text.contains("password3"),
            "{text}"
        );
    }

    /// A shop set to SHA512: the link is signed with it, its ResultURL is checked with it,
    /// and an MD5-signed one (all the adapter made before the setting) is refused.
    #[test]
    fn signs_and_checks_with_the_shops_hash() {
        let adapter = adapter_with(HashAlgorithm::Sha512);
        let link = adapter.payment_link(&order()).unwrap();
        let signature_value = url::Url::parse(&link)
            .unwrap()
            .query_pairs()
            .find(|(name, _)| name == "SignatureValue")
            .map(|(_, value)| value.into_owned())
            .unwrap();
        assert_eq!(
            signature_value,
            HashAlgorithm::Sha512.hex(
                "tolem-demo:1500.00:42:https%3A%2F%2Fg.kz%2Fok%3Fbill%3D42:GET:https%3A%2F%2Fg.kz%2Ffail%3Fbill%3D42:GET:password1"
            )
        );
        let result = |signature_value: String| {
            format!("OutSum=1500.00&InvId=42&SignatureValue={signature_value}&IsTest=1")
        };
        let read = |body: &str| {
            adapter.read_notification(&Incoming {
                path: "result",
                query: "",
                headers: &[],
                body: body.as_bytes(),
            })
        };
        let sha512 = HashAlgorithm::Sha512
            .hex("1500.00:42:password2")
            .to_uppercase();
        assert_eq!(read(&result(sha512)).unwrap().amount_tiyn, 150_000);
        assert_eq!(
            read(&result(md5_hex("1500.00:42:password2"))),
            Err(NotificationError::BadSignature)
        );
    }
}

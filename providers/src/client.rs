//! [`OsmpAdapter`]: the provider trait spoken as OSMP over HTTP(S), with reqwest.
//!
//! One call sends one GET and reads one answer; no retries here (the gateway owns the retry
//! policy). What went wrong on the way is a [`TransportError`], which always means "ask again
//! later with the same txn_id", because the provider may have committed before the answer was
//! lost.

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use crate::adapter::{
    Answer, CheckOrder, Exchange, PayOrder, ProviderAdapter, TransportError, is_provider_txn,
};
use crate::connection::{Auth, Connection, ConnectionError};
use crate::osmp::{self, CheckRequest, Command, PayRequest, Response, Verdict};

/// Answers are a few hundred bytes; a provider sending more is broken, and reading it all
/// would only spend the gateway's memory.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// A provider that speaks OSMP.
pub struct OsmpAdapter {
    http: reqwest::Client,
    url: url::Url,
    auth: Auth,
    timeout: Duration,
}

impl OsmpAdapter {
    /// Builds the client for a connection: its CA added to the public roots, no redirects.
    pub fn new(connection: &Connection) -> Result<OsmpAdapter, ConnectionError> {
        let url = connection.check()?;
        // A payment endpoint that moved is a configuration change to make on purpose, not a
        // redirect to follow with the customer's money; a 3xx is reported as a status.
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("tolem-gateway/", env!("CARGO_PKG_VERSION")));
        if let Some(pem) = &connection.ca_cert_pem {
            let certificates = reqwest::Certificate::from_pem_bundle(pem.as_bytes())
                .map_err(|e| ConnectionError::BadCaPem(error_chain(&e)))?;
            if certificates.is_empty() {
                return Err(ConnectionError::BadCaPem("no certificate in it".into()));
            }
            for certificate in certificates {
                builder = builder.add_root_certificate(certificate);
            }
        }
        let http = builder.build().map_err(|e| {
            // The CA's bytes are only parsed as certificates here.
            if connection.ca_cert_pem.is_some() {
                ConnectionError::BadCaPem(error_chain(&e))
            } else {
                ConnectionError::Client(error_chain(&e))
            }
        })?;
        Ok(OsmpAdapter {
            http,
            url,
            auth: connection.auth.clone(),
            timeout: Duration::from_millis(connection.timeout_ms),
        })
    }

    /// The URL of a command: the provider's URL with the protocol's parameters added to any
    /// query it already has.
    fn url_of(&self, command: &Command) -> url::Url {
        let mut url = self.url.clone();
        let query = match url.query() {
            Some(own) if !own.is_empty() => format!("{own}&{}", command.to_query()),
            _ => command.to_query(),
        };
        url.set_query(Some(&query));
        url
    }

    async fn exchange(&self, command: Command) -> Exchange {
        let url = self.url_of(&command);
        let request = format!("GET {url}");
        let started = Instant::now();
        let (response, result) = self.send(url).await;
        let result = result.and_then(|answer| answer_to(&command, answer));
        let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        match &result {
            Ok(answer) => tracing::debug!(%request, latency_ms, ?answer, "provider answered"),
            Err(error) => tracing::info!(%request, latency_ms, %error, "no answer from provider"),
        }
        Exchange {
            request,
            response,
            latency_ms,
            result,
        }
    }

    async fn send(&self, url: url::Url) -> (Option<String>, Result<Response, TransportError>) {
        let mut request = self.http.get(url).timeout(self.timeout);
        if let Auth::Basic { username, password } = &self.auth {
            request = request.basic_auth(username, Some(password));
        }
        let mut response = match request.send().await {
            Ok(response) => response,
            Err(error) => return (None, Err(transport_error(error))),
        };
        let status = response.status();
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        let mut body = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    if body.len() + chunk.len() > MAX_ANSWER_BYTES {
                        let error = format!("the answer is larger than {MAX_ANSWER_BYTES} bytes");
                        return (None, Err(TransportError::Unreadable(error)));
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(error) => {
                    let partial = (!body.is_empty()).then(|| lossy(&body));
                    return (partial, Err(transport_error(error)));
                }
            }
        }
        let text = decode(&body, content_type.as_deref());
        if !status.is_success() {
            return (Some(text), Err(TransportError::Status(status.as_u16())));
        }
        let result = Response::decode(&text).map_err(|e| TransportError::Unreadable(e.to_string()));
        (Some(text), result)
    }
}

impl ProviderAdapter for OsmpAdapter {
    fn check<'a>(
        &'a self,
        order: &'a CheckOrder,
    ) -> Pin<Box<dyn Future<Output = Exchange> + Send + 'a>> {
        Box::pin(self.exchange(Command::Check(CheckRequest {
            txn_id: order.txn_id,
            account: order.account.clone(),
            sum_tiyn: order.amount_tiyn,
        })))
    }

    fn pay<'a>(
        &'a self,
        order: &'a PayOrder,
    ) -> Pin<Box<dyn Future<Output = Exchange> + Send + 'a>> {
        Box::pin(async move {
            let txn_date = match osmp::format_txn_date(order.txn_date_ms) {
                Ok(date) => date,
                // Only a corrupt stored time gets here (outside years 0–9999); nothing is sent.
                Err(error) => {
                    return Exchange {
                        request: String::new(),
                        response: None,
                        latency_ms: 0,
                        result: Err(TransportError::Connect(format!("not sent: {error}"))),
                    };
                }
            };
            self.exchange(Command::Pay(PayRequest {
                txn_id: order.txn_id,
                txn_date,
                account: order.account.clone(),
                sum_tiyn: order.amount_tiyn,
            }))
            .await
        })
    }
}

/// What `response` means for the payment `command` asked about — unless it is another
/// transaction's: its echo of the aggregator's number (`osmp_txn_id`) or, to a pay, of the sum
/// differs from what was sent. Such an answer (a provider's front cache that mixed answers up,
/// a proxy that replayed one) says nothing about this payment, so it is taken as no answer: the
/// payment is asked again with the same number, and the provider's own answer settles it. An
/// echo that is not a number at all is let pass (a provider that writes it oddly still
/// answered), as is a missing one; the protocol asks for both in every answer. Nor is a
/// provider number the gateway could not keep ([`is_provider_txn`]) taken: the payment waits,
/// asked again, for the operator to mark it delivered with the number the provider gives.
fn answer_to(command: &Command, response: Response) -> Result<Answer, TransportError> {
    let echoed = response
        .osmp_txn_id
        .as_deref()
        .and_then(|text| text.trim().parse::<u64>().ok());
    if let Some(echoed) = echoed.filter(|echoed| *echoed != command.txn_id()) {
        return Err(TransportError::Unreadable(format!(
            "the answer is for txn_id {echoed}, not {}",
            command.txn_id()
        )));
    }
    if let (Command::Pay(pay), Some(sum)) = (command, response.sum_tiyn)
        && sum != pay.sum_tiyn
    {
        return Err(TransportError::Unreadable(format!(
            "the answer is for the sum {}, not {}",
            osmp::format_sum(sum),
            osmp::format_sum(pay.sum_tiyn)
        )));
    }
    let answer = answer_of(response);
    if let Answer::Accepted { provider_txn, .. } = &answer {
        match provider_txn {
            Some(number) if !is_provider_txn(number) => {
                let shown: String = number.chars().take(80).collect();
                return Err(TransportError::Unreadable(format!(
                    "the provider's number {shown:?} is not 1 to 64 letters, digits or - _ /"
                )));
            }
            // The provider's number (`prv_txn`) belongs to the protocol's answer to a pay (a
            // check's may leave it out), and a delivery is recorded with it or not at all
            // (the deliveries table refuses one without it). So an acceptance that names none
            // is not taken: the payment waits, asked again with the same number (the provider
            // pays it once), until the provider names it or the operator marks it delivered
            // with the number the provider gives.
            None if matches!(command, Command::Pay(_)) => {
                return Err(TransportError::Unreadable(
                    "the provider accepted the pay but did not name its number (prv_txn), \
                     which the protocol requires in a pay's answer"
                        .into(),
                ));
            }
            _ => {}
        }
    }
    Ok(answer)
}

/// What a decoded answer means for the payment.
fn answer_of(response: Response) -> Answer {
    match osmp::classify(response.result) {
        Verdict::Accepted => Answer::Accepted {
            provider_txn: response.prv_txn,
            fields: response.fields,
            comment: response.comment,
        },
        Verdict::Later => Answer::Later {
            result: response.result,
            comment: response.comment,
        },
        Verdict::Refused(refusal) => Answer::Refused {
            result: response.result,
            refusal,
            comment: response.comment,
        },
    }
}

fn transport_error(error: reqwest::Error) -> TransportError {
    if error.is_timeout() {
        TransportError::Timeout
    } else {
        // Refused or reset connections, TLS failures and bodies cut short alike: the provider
        // may have acted, the answer did not arrive whole.
        TransportError::Connect(error_chain(&error.without_url()))
    }
}

/// An error with its causes ("error sending request: connection refused"), without the URL
/// reqwest would add (the exchange records it already).
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

fn lossy(body: &[u8]) -> String {
    String::from_utf8_lossy(body).into_owned()
}

/// An answer's text in the character set it declares — its `Content-Type`'s `charset`, else
/// its XML declaration's `encoding` — or UTF-8. A biller answering in windows-1251 would
/// otherwise reach the cashier's "check the number" as replacement characters where the
/// holder's name should be.
fn decode(body: &[u8], content_type: Option<&str>) -> String {
    let declared = content_type
        .and_then(|value| labelled(value, "charset="))
        .or_else(|| {
            let head = &body[..body.len().min(200)];
            let head = std::str::from_utf8(head).unwrap_or_else(|error| {
                std::str::from_utf8(&head[..error.valid_up_to()]).unwrap_or_default()
            });
            head.strip_prefix("<?xml")
                .and_then(|declaration| labelled(declaration.split("?>").next()?, "encoding="))
        });
    match declared.and_then(|label| encoding_rs::Encoding::for_label(label.as_bytes())) {
        Some(encoding) => encoding.decode(body).0.into_owned(),
        None => lossy(body),
    }
}

/// The value after `key` in `text` (`charset=windows-1251`, `encoding="UTF-8"`), unquoted.
fn labelled<'t>(text: &'t str, key: &str) -> Option<&'t str> {
    let at = text.to_ascii_lowercase().find(key)? + key.len();
    let value = text.get(at..)?.trim_start_matches(['"', '\'']);
    let end = value
        .find(|c: char| c == '"' || c == '\'' || c == ';' || c.is_whitespace())
        .unwrap_or(value.len());
    Some(&value[..end]).filter(|label| !label.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A check answer in windows-1251, as billers here send it: the holder's name is read as
    /// written, whether the header or only the XML declaration names the character set.
    #[test]
    fn an_answer_is_read_in_the_character_set_it_declares() {
        let text = r#"<?xml version="1.0" encoding="windows-1251"?><response><osmp_txn_id>1</osmp_txn_id><result>0</result><fields><field1 name="fio">Иванов И.</field1></fields></response>"#;
        let (bytes, _, _) = encoding_rs::WINDOWS_1251.encode(text);
        for content_type in [
            Some("text/xml; charset=windows-1251"),
            Some("text/xml"),
            None,
        ] {
            let answer = Response::decode(&decode(&bytes, content_type)).unwrap();
            assert_eq!(answer.fields, [("fio".to_owned(), "Иванов И.".to_owned())]);
        }
        assert_eq!(decode("Иванов".as_bytes(), Some("text/xml")), "Иванов");
        assert_eq!(
            decode("Иванов".as_bytes(), Some("text/xml; charset=\"utf-8\"")),
            "Иванов"
        );
    }
    use crate::adapter::adapter_for;
    use crate::connection::Protocol;

    fn connection(url: &str, ca_cert_pem: Option<&str>) -> Connection {
        Connection {
            protocol: Protocol::Osmp,
            url: url.into(),
            auth: Auth::None,
            timeout_ms: 1000,
            ca_cert_pem: ca_cert_pem.map(str::to_owned),
        }
    }

    #[test]
    fn keeps_the_providers_own_query() {
        let command = Command::Check(CheckRequest {
            txn_id: 1,
            account: "7011111111".into(),
            sum_tiyn: 100,
        });
        let own = OsmpAdapter::new(&connection("https://biller.kz/osmp?prv_id=3", None)).unwrap();
        assert_eq!(
            own.url_of(&command).as_str(),
            "https://biller.kz/osmp?prv_id=3&command=check&txn_id=1&account=7011111111&sum=1.00"
        );
        let plain = OsmpAdapter::new(&connection("https://biller.kz/osmp", None)).unwrap();
        assert_eq!(
            plain.url_of(&command).as_str(),
            "https://biller.kz/osmp?command=check&txn_id=1&account=7011111111&sum=1.00"
        );
    }

    #[test]
    fn takes_no_answer_for_another_transaction_or_sum() {
        let pay = Command::Pay(PayRequest {
            txn_id: 42,
            txn_date: "20261207010203".into(),
            account: "7011111111".into(),
            sum_tiyn: 100_000,
        });
        let answer = |osmp_txn_id: Option<&str>, sum_tiyn: Option<i64>| Response {
            osmp_txn_id: osmp_txn_id.map(str::to_owned),
            prv_txn: Some("9".into()),
            sum_tiyn,
            ..Response::default()
        };
        let delivered = |result: Result<Answer, TransportError>| matches!(result, Ok(Answer::Accepted { provider_txn: Some(n), .. }) if n == "9");
        assert!(delivered(answer_to(
            &pay,
            answer(Some("42"), Some(100_000))
        )));
        // Written oddly, or left out: still this payment's answer.
        assert!(delivered(answer_to(&pay, answer(Some(" 0042 "), None))));
        assert!(delivered(answer_to(&pay, answer(Some("n/a"), None))));
        assert!(delivered(answer_to(&pay, answer(None, None))));
        let with_number = |number: String| Response {
            prv_txn: Some(number),
            ..answer(Some("42"), None)
        };
        // Accepted without the provider's number: no delivery to record.
        let unnamed = answer_to(
            &pay,
            Response {
                prv_txn: None,
                ..answer(Some("42"), None)
            },
        );
        assert!(
            matches!(&unnamed, Err(TransportError::Unreadable(why)) if why.contains("prv_txn")),
            "{unnamed:?}"
        );
        // A check's answer carries none.
        let check = Command::Check(CheckRequest {
            txn_id: 0,
            account: "7011111111".into(),
            sum_tiyn: 100_000,
        });
        let checked = answer_to(&check, Response::default());
        assert!(
            matches!(
                checked,
                Ok(Answer::Accepted {
                    provider_txn: None,
                    ..
                })
            ),
            "{checked:?}"
        );
        for other in [
            answer(Some("41"), Some(100_000)),
            answer(Some("42"), Some(99_999)),
            with_number("9".repeat(65)),
            with_number("9 9".into()),
        ] {
            let result = answer_to(&pay, other);
            assert!(
                matches!(&result, Err(TransportError::Unreadable(why)) if why.contains(" not ")),
                "{result:?}"
            );
        }
    }

    #[test]
    fn refuses_a_ca_that_is_not_a_certificate() {
        let not_pem = connection("https://biller.kz/", Some("hello"));
        assert!(matches!(
            adapter_for(&not_pem),
            Err(ConnectionError::BadCaPem(_))
        ));
        let garbage = "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n";
        let bad_body = connection("https://biller.kz/", Some(garbage));
        assert!(matches!(
            adapter_for(&bad_body),
            Err(ConnectionError::BadCaPem(_))
        ));
        assert!(matches!(
            adapter_for(&connection("ftp://biller.kz/", None)),
            Err(ConnectionError::NotHttp(_))
        ));
    }
}

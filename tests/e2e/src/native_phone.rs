//! A phone that speaks the protocol natively (the protocol crate's own types and signing, as
//! the gateway's HTTP tests do), for tests that need many payments at once: the app in a
//! browser sends one at a time.

use std::time::Duration;

use tolem_protocol::{
    PROTOCOL_VERSION,
    codes::ResultCode,
    ids::SessionId,
    keys::SecretKey,
    messages::{
        KeyCard, KeyCardRequest, Letter, Message, Outcome, Payment, PaymentReceipt, RegisterKey,
        Request, Response, Step,
    },
    signing::{
        BIND_HEADER, BIND_REQUEST_SHA256, KEY_HEADER, SIGNATURE_HEADER, bound_answer,
        request_digest,
    },
};

/// A phone of a point with its key card and key (registered with [`NativePhone::enrol`]).
pub struct NativePhone {
    pub key: SecretKey,
    pub card: KeyCard,
}

/// A signed request, kept as sent so that it can be sent again byte for byte.
#[derive(Clone, Debug)]
pub struct Signed {
    pub session: String,
    pub body: Vec<u8>,
    pub signature: String,
}

/// A verified answer of the gateway.
#[derive(Clone, Debug, PartialEq)]
pub struct Answer {
    pub body: Vec<u8>,
    pub response: Response,
}

impl Answer {
    pub fn code(&self) -> ResultCode {
        self.response.code
    }

    /// The response without the gateway's time of answering: what every answer about one
    /// decided session repeats (a replay carries the time it was answered, for the phone's clock).
    pub fn decision(&self) -> Response {
        self.response.clone().decision()
    }

    /// The receipt of a pay or status answer.
    pub fn receipt(&self) -> &PaymentReceipt {
        match &self.response.outcome {
            Some(Outcome::Payment(receipt)) => receipt,
            other => panic!("no receipt but {other:?}"),
        }
    }
}

/// A plain HTTP client for the tests (no connection reuse: every request may land on another
/// gateway behind the balancer).
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(0)
        // Payments of one dealer take turns on its row: a burst of them on a loaded machine
        // can keep the last one waiting long.
        .timeout(Duration::from_secs(120))
        .build()
        .expect("an HTTP client")
}

impl NativePhone {
    /// Gets a key card for `point` with `password` from the gateway at `base` (`http://…/`),
    /// makes a key from `seed` and registers it (pending until the dealer certifies it).
    pub async fn enrol(base: &str, point: &str, password: &str, seed: u8) -> NativePhone {
        let client = http_client();
        let request = KeyCardRequest {
            v: PROTOCOL_VERSION,
            point: point.into(),
            password: password.into(),
        };
        let reply = client
            .post(format!("{base}api/v1/key-card"))
            .header("content-type", "application/json")
            .body(request.encode())
            .send()
            .await
            .expect("key card request");
        let body = reply.bytes().await.unwrap();
        let response = Response::decode(&body).expect("a protocol answer");
        let Some(Outcome::KeyCard(card)) = response.outcome else {
            panic!("no key card: {}", String::from_utf8_lossy(&body));
        };
        let phone = NativePhone {
            key: SecretKey::from_seed(&[seed; 32]),
            card,
        };
        let registration = RegisterKey {
            v: PROTOCOL_VERSION,
            point: point.into(),
            password: password.into(),
            key_serial: phone.card.key_serial.clone(),
            public_key: phone.key.public_key(),
            created_at_ms: 1_700_000_000_000,
            outbox_lost: None,
        };
        let body = registration.encode();
        let signed = Signed {
            session: String::new(),
            signature: phone.key.sign(&body).to_string(),
            body,
        };
        let answer = phone
            .send(&client, base, "keys", &signed)
            .await
            .expect("the registration's answer");
        assert_eq!(answer.code(), ResultCode::Ok, "{answer:?}");
        phone
    }

    /// A signed `pay` of `payment` in a new session, created now.
    pub fn pay(&self, payment: Payment, random: u64) -> Signed {
        self.sign(Step::Pay(payment), random)
    }

    /// A signed `message` step: `letter` for the gateway to countersign and e-mail.
    pub fn letter(&self, letter: Letter, random: u64) -> Signed {
        self.sign(Step::Message(letter), random)
    }

    /// `step` signed in a new session, created now.
    fn sign(&self, step: Step, random: u64) -> Signed {
        let now = now_ms();
        let request = Request {
            v: PROTOCOL_VERSION,
            dealer: self.card.dealer.clone(),
            point: self.card.point.clone(),
            cashier: self.card.cashier.clone(),
            key_serial: self.card.key_serial.clone(),
            session: SessionId::generate(now, random.to_be_bytes()),
            created_at_ms: now,
            seq: None,
            outbox_lost: None,
            step,
        };
        let body = request.encode();
        Signed {
            session: request.session.as_str().to_owned(),
            signature: self.key.sign(&body).to_string(),
            body,
        }
    }

    /// POSTs `signed` to `{base}api/v1/{path}` asking for a bound answer, and returns the answer
    /// once its signature holds under the gateway key of the key card — or why there is none
    /// (the connection broke, the balancer answered 5xx: the answer was lost).
    pub async fn send(
        &self,
        client: &reqwest::Client,
        base: &str,
        path: &str,
        signed: &Signed,
    ) -> Result<Answer, String> {
        let reply = client
            .post(format!("{base}api/v1/{path}"))
            .header("content-type", "application/json")
            .header(BIND_HEADER, BIND_REQUEST_SHA256)
            .header(KEY_HEADER, &self.card.key_serial)
            .header(SIGNATURE_HEADER, &signed.signature)
            .body(signed.body.clone())
            .send()
            .await
            .map_err(|e| format!("no answer: {e}"))?;
        let status = reply.status();
        let signature = reply
            .headers()
            .get(SIGNATURE_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = reply
            .bytes()
            .await
            .map_err(|e| format!("answer cut: {e}"))?
            .to_vec();
        let Some(signature) = signature.and_then(|s| s.parse().ok()) else {
            return Err(format!(
                "HTTP {status} without the gateway's signature: {}",
                String::from_utf8_lossy(&body)
            ));
        };
        // Every instance signs with the one shared key: the key card's.
        self.card
            .gateway_key
            .verify(
                &bound_answer(&request_digest(&signed.body), &body),
                &signature,
            )
            .map_err(|e| format!("HTTP {status}: answer not signed by the gateway key: {e}"))?;
        let response = Response::decode(&body).map_err(|e| format!("not an answer: {e}"))?;
        Ok(Answer { body, response })
    }
}

fn now_ms() -> i64 {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
}

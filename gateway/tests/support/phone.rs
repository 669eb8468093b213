//! A phone of the demo point as the cashier app will be: it gets a key card, registers its key
//! (signed by the key itself) and sends signed steps, all over real HTTP.

use reqwest::StatusCode;
use tolem_protocol::{
    PROTOCOL_VERSION,
    ids::SessionId,
    keys::SecretKey,
    messages::{KeyCard, KeyCardRequest, Message, Outcome, RegisterKey, Request, Step},
    signing::{KEY_HEADER, SIGNATURE_HEADER},
};

use super::{Gateway, PASSWORD, POINT, Reply, now_ms};

impl Gateway {
    /// Asks for a key card from `client`'s address.
    pub async fn key_card_from(
        &self,
        client: &reqwest::Client,
        point: &str,
        password: &str,
    ) -> Reply {
        let request = KeyCardRequest {
            v: PROTOCOL_VERSION,
            point: point.into(),
            password: password.into(),
        };
        self.post_from(client, "key-card", request.encode(), &[])
            .await
    }

    pub async fn key_card(&self, point: &str, password: &str) -> Reply {
        self.key_card_from(&self.client, point, password).await
    }

    /// A new phone of the demo point: its key card and a fresh key (not registered yet).
    pub async fn new_phone(&self, seed: u8) -> Phone {
        self.new_phone_of(POINT, seed).await
    }

    /// A new phone of `point` (whose password is the demo one). A password enrols one key, so
    /// the dealer gives the point a new one first — the demo password again, unused.
    pub async fn new_phone_of(&self, point: &str, seed: u8) -> Phone {
        self.renew_point_password(point).await;
        let reply = self.key_card(point, PASSWORD).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        let Some(Outcome::KeyCard(card)) = reply.response().outcome else {
            panic!("no key card: {}", reply.text());
        };
        Phone {
            key: SecretKey::from_seed(&[seed; 32]),
            card,
        }
    }

    /// The point's password as the dealer just gave it: unused (its text stays the demo one).
    pub async fn renew_point_password(&self, point: &str) {
        sqlx::query("UPDATE points SET password_used_at_ms = NULL WHERE code = $1")
            .bind(point)
            .execute(&self.pool)
            .await
            .unwrap();
    }

    /// A phone whose key is registered (pending).
    pub async fn registered_phone(&self, seed: u8) -> Phone {
        self.registered_phone_of(POINT, seed).await
    }

    /// A phone of `point` whose key is registered (pending).
    pub async fn registered_phone_of(&self, point: &str, seed: u8) -> Phone {
        let phone = self.new_phone_of(point, seed).await;
        let reply = self.register(&phone, &phone.registration(PASSWORD)).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        phone
    }

    /// Sends a registration signed by the phone's key.
    pub async fn register(&self, phone: &Phone, registration: &RegisterKey) -> Reply {
        let body = registration.encode();
        let headers = phone.signature_headers(&registration.key_serial, &body);
        self.post("keys", body, &headers).await
    }

    /// POSTs `body` to `/api/v1/{path}`, signed by `phone`'s key under `serial` as it is.
    pub async fn send_raw(&self, phone: &Phone, serial: &str, path: &str, body: Vec<u8>) -> Reply {
        let headers = phone.signature_headers(serial, &body);
        self.post(path, body, &headers).await
    }

    /// Sends a signed step to `/api/v1/{step name}`.
    pub async fn send(&self, phone: &Phone, request: &Request) -> Reply {
        let body = request.encode();
        let headers = phone.signature_headers(&phone.card.key_serial, &body);
        self.post(request.step.name(), body, &headers).await
    }

    /// Certifies the phone's key and activates its point, as the dealer would in the console.
    pub async fn certify_and_activate(&self, phone: &Phone) {
        let serial = &phone.card.key_serial;
        self.sql(&format!(
            "UPDATE keys SET state = 'certified' WHERE serial = '{serial}'"
        ))
        .await;
        let point = &phone.card.point;
        self.sql(&format!(
            "UPDATE points SET active = 1 WHERE code = '{point}'"
        ))
        .await;
    }

    /// A phone of `point` that may pay: registered, certified, its point active.
    pub async fn ready_phone_of(&self, point: &str, seed: u8) -> Phone {
        let phone = self.registered_phone_of(point, seed).await;
        self.certify_and_activate(&phone).await;
        phone
    }

    /// A phone of the demo point that may pay.
    pub async fn ready_phone(&self, seed: u8) -> Phone {
        self.ready_phone_of(POINT, seed).await
    }

    /// A second dealer D002 with a ready phone (`seed`) of its point P2001 and 10 000 tenge to
    /// pay with.
    pub async fn second_dealer_phone(&self, seed: u8) -> Phone {
        self.sql(
            "INSERT INTO dealers (code, name, created_at_ms) VALUES ('D002', 'Second dealer', 0)",
        )
        .await;
        self.sql(
            "INSERT INTO points (code, dealer_code, name, password_hash, created_at_ms) \
             SELECT 'P2001', 'D002', 'Second point', password_hash, 0 FROM points \
             WHERE code = 'P1001'",
        )
        .await;
        self.sql(
            "INSERT INTO cashiers (point_code, code, name, created_at_ms) \
             VALUES ('P2001', 'C1', 'Cashier', 0)",
        )
        .await;
        self.set_balance("D002", 1_000_000).await;
        self.ready_phone_of("P2001", seed).await
    }

    /// Adds a point `code` of the demo dealer, with the demo point's password and a cashier C1.
    pub async fn add_point(&self, code: &str) {
        self.sql(&format!(
            "INSERT INTO points (code, dealer_code, name, password_hash, created_at_ms) \
             SELECT '{code}', dealer_code, 'Test point {code}', password_hash, 0 \
             FROM points WHERE code = '{POINT}'"
        ))
        .await;
        self.sql(&format!(
            "INSERT INTO cashiers (point_code, code, name, created_at_ms) \
             VALUES ('{code}', 'C1', 'Cashier', 0)"
        ))
        .await;
    }
}

/// A phone with its key card and key pair.
pub struct Phone {
    pub key: SecretKey,
    pub card: KeyCard,
}

impl Phone {
    /// The registration of this phone's key under its card's serial.
    pub fn registration(&self, password: &str) -> RegisterKey {
        RegisterKey {
            v: PROTOCOL_VERSION,
            point: self.card.point.clone(),
            password: password.into(),
            key_serial: self.card.key_serial.clone(),
            public_key: self.key.public_key(),
            created_at_ms: 1_700_000_000_000,
            outbox_lost: None,
        }
    }

    /// A signed request of this phone for `step`, with a fresh session, created now.
    pub fn request(&self, step: Step) -> Request {
        self.request_at(step, now_ms())
    }

    /// A signed request of this phone for `step`, with a fresh session, created at `now`
    /// (UTC milliseconds): a deferred payment, a phone whose clock is wrong.
    pub fn request_at(&self, step: Step, now: i64) -> Request {
        Request {
            v: PROTOCOL_VERSION,
            dealer: self.card.dealer.clone(),
            point: self.card.point.clone(),
            cashier: self.card.cashier.clone(),
            key_serial: self.card.key_serial.clone(),
            session: SessionId::generate(now, rand_bytes()),
            created_at_ms: now,
            seq: None,
            outbox_lost: None,
            step,
        }
    }

    /// The headers that sign `body` with this phone's key under `serial`.
    pub fn signature_headers(&self, serial: &str, body: &[u8]) -> Vec<(&'static str, String)> {
        vec![
            (KEY_HEADER, serial.to_owned()),
            (SIGNATURE_HEADER, self.key.sign(body).to_string()),
        ]
    }
}

/// Eight bytes that differ between calls (sessions must be unique, not unpredictable here).
fn rand_bytes() -> [u8; 8] {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(1);
    COUNTER.fetch_add(1, Ordering::Relaxed).to_be_bytes()
}

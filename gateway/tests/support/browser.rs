//! The dealer console as a browser drives it: log in, keep the session cookie, read pages,
//! post forms, type one-time codes from an authenticator app. Redirects are not followed, so
//! tests see them.

use hmac::{Hmac, Mac};
use reqwest::{Response, StatusCode, header};
use sha1::Sha1;

use super::{Gateway, now_ms};

/// The demo console users: (e-mail, password).
pub const ADMIN: (&str, &str) = ("admin@tolem.demo", "tolem-admin-demo");
pub const CLERK: (&str, &str) = ("clerk@tolem.demo", "tolem-clerk-demo");
/// The demo operator (the processing centre's console user, full access).
pub const OPERATOR: (&str, &str) = ("operator@tolem.demo", "tolem-operator-demo");

/// The demo admin's one-time-code secret, as the `--demo` banner prints it.
pub const ADMIN_TOTP_SECRET: &str = "TOLEMDEMOADMINTOTPSECRETKZ234567";
/// The demo operator's one-time-code secret, as the `--demo` banner prints it.
pub const OPERATOR_TOTP_SECRET: &str = "TOLEMDEMOOPERATORTOTPSECRET23456";

/// RFC 4648 base32 (no padding) to bytes.
fn base32_decode(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let (mut bits, mut value, mut out) = (0u32, 0u64, Vec::new());
    for c in text.bytes().filter(|c| *c != b'=' && *c != b' ') {
        let index = ALPHABET
            .iter()
            .position(|a| *a == c.to_ascii_uppercase())
            .expect("a base32 character") as u64;
        value = (value << 5) | index;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((value >> bits) as u8);
        }
    }
    out
}

/// The code an authenticator app shows for `secret` (base32) at `unix_ms`: RFC 6238 with
/// HMAC-SHA-1, 30-second steps and 6 digits, written here independently of the gateway.
pub fn totp_at(secret: &str, unix_ms: i64) -> String {
    let step = (unix_ms / 1000 / 30) as u64;
    let mut mac = Hmac::<Sha1>::new_from_slice(&base32_decode(secret)).unwrap();
    mac.update(&step.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = usize::from(digest[19] & 0x0f);
    let number = u32::from_be_bytes(digest[offset..offset + 4].try_into().unwrap()) & 0x7fff_ffff;
    format!("{:06}", number % 1_000_000)
}

impl Gateway {
    /// Posts the login form — with the current one-time code for the demo users that have
    /// codes set up (the admin, the operator), as a person types it from the app — and returns
    /// the response (not followed).
    pub async fn login(&self, (email, password): (&str, &str)) -> Response {
        let otp = match email {
            e if e == ADMIN.0 => self.code_of(ADMIN.0, ADMIN_TOTP_SECRET).await,
            e if e == OPERATOR.0 => self.code_of(OPERATOR.0, OPERATOR_TOTP_SECRET).await,
            _ => String::new(),
        };
        self.login_with_code((email, password), &otp).await
    }

    /// Posts the login form with `otp` as the one-time code; returns the response.
    pub async fn login_with_code(&self, (email, password): (&str, &str), otp: &str) -> Response {
        self.client
            .post(format!("{}/console/login", self.url))
            .form(&[("email", email), ("password", password), ("otp", otp)])
            .send()
            .await
            .unwrap()
    }

    /// `email`'s current code for `secret`, after forgetting which step they used last (see
    /// [`Self::admin_code`]).
    pub async fn code_of(&self, email: &str, secret: &str) -> String {
        self.sql(&format!(
            "UPDATE console_users SET totp_last_step = 0 WHERE email = '{email}'"
        ))
        .await;
        totp_at(secret, now_ms())
    }

    /// Logs in and returns the `Cookie` header value of the new session.
    pub async fn console_session(&self, user: (&str, &str)) -> String {
        let response = self.login(user).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        let set_cookie = response.headers()[header::SET_COOKIE].to_str().unwrap();
        set_cookie.split(';').next().unwrap().to_owned()
    }

    /// GETs a console page with `cookie`.
    pub async fn console_get(&self, path: &str, cookie: &str) -> Response {
        self.client
            .get(format!("{}{path}", self.url))
            .header(header::COOKIE, cookie)
            .send()
            .await
            .unwrap()
    }

    /// Posts a console form with `cookie`.
    pub async fn console_post(&self, path: &str, cookie: &str, form: &[(&str, &str)]) -> Response {
        self.client
            .post(format!("{}{path}", self.url))
            .header(header::COOKIE, cookie)
            .form(form)
            .send()
            .await
            .unwrap()
    }

    /// The keys page's HTML and the CSRF token in its forms.
    pub async fn keys_page(&self, cookie: &str) -> (String, String) {
        self.console_page("/console/keys", cookie).await
    }

    /// A console page's HTML (which must be 200 OK) and the CSRF token in its forms.
    pub async fn console_page(&self, path: &str, cookie: &str) -> (String, String) {
        let response = self.console_get(path, cookie).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let html = response.text().await.unwrap();
        let csrf = html
            .split("name=\"csrf\" value=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .expect("a form with a CSRF token")
            .to_owned();
        (html, csrf)
    }

    /// The demo admin's current one-time code, after forgetting which step the admin used
    /// last. A test confirms several operations within one 30-second step, which a person
    /// cannot (each confirmation needs the app's next code); tests of that rule do not call
    /// this.
    pub async fn admin_code(&self) -> String {
        self.code_of(ADMIN.0, ADMIN_TOTP_SECRET).await
    }

    /// Posts a sensitive form as the admin: `form` plus the CSRF token and a fresh code.
    pub async fn confirmed_post(
        &self,
        path: &str,
        cookie: &str,
        csrf: &str,
        form: &[(&str, &str)],
    ) -> Response {
        let code = self.admin_code().await;
        let mut fields = form.to_vec();
        fields.push(("csrf", csrf));
        fields.push(("otp", &code));
        self.console_post(path, cookie, &fields).await
    }
}

/// The text of the element with `id` (its first text, tags removed), if there is one.
pub fn text_by_id(html: &str, id: &str) -> Option<String> {
    let start = html.find(&format!("id=\"{id}\""))?;
    let rest = &html[start..];
    let open_end = rest.find('>')?;
    let inner = &rest[open_end + 1..];
    let close = inner.find("</")?;
    Some(text_of(&inner[..close]).trim().to_owned())
}

/// The text of an HTML page, tags removed (roughly what a person reads).
pub fn text_of(html: &str) -> String {
    let mut text = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            _ if !in_tag => text.push(c),
            _ => {}
        }
    }
    text
}

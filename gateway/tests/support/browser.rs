//! The dealer console as a browser drives it: log in, keep the session cookie, read pages,
//! post forms. Redirects are not followed, so tests see them.

use reqwest::{Response, StatusCode, header};

use super::Gateway;

/// The demo console users: (e-mail, password).
pub const ADMIN: (&str, &str) = ("admin@tolem.demo", "tolem-admin-demo");
pub const OPERATOR: (&str, &str) = ("operator@tolem.demo", "tolem-operator-demo");

impl Gateway {
    /// Posts the login form; returns the response (not followed).
    pub async fn login(&self, (email, password): (&str, &str)) -> Response {
        self.client
            .post(format!("{}/console/login", self.url))
            .form(&[("email", email), ("password", password)])
            .send()
            .await
            .unwrap()
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
        let response = self.console_get("/console/keys", cookie).await;
        assert_eq!(response.status(), StatusCode::OK);
        let html = response.text().await.unwrap();
        let csrf = html
            .split("name=\"csrf\" value=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .expect("a form with a CSRF token")
            .to_owned();
        (html, csrf)
    }
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

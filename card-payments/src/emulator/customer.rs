//! A customer's browser without JavaScript on the emulator's pages, step by step: what the
//! gateway's tests and the end-to-end tests use to "pay by card" over real HTTP, and this
//! crate's own tests. Each step is explicit (no redirect is followed by itself), so a test can
//! look at every page on the way.

/// One HTTP answer, as a browser without JavaScript sees it.
#[derive(Debug)]
pub struct Page {
    pub status: u16,
    pub location: Option<String>,
    pub body: String,
}

impl Page {
    /// The `action` of the page's form.
    pub fn form_action(&self) -> String {
        between(&self.body, "<form method=\"post\" action=\"", "\"")
            .unwrap_or_else(|| panic!("no form on the page: {}", self.body))
    }

    /// The code the bank's page shows.
    pub fn bank_code(&self) -> String {
        between(&self.body, "<strong id=\"code\">", "<")
            .unwrap_or_else(|| panic!("no code on the page: {}", self.body))
    }

    /// The fail link of a refusal page.
    pub fn fail_link(&self) -> Option<String> {
        between(&self.body, "<a id=\"fail\" href=\"", "\"").map(|href| href.replace("&amp;", "&"))
    }

    /// The ReasonCode a refusal page shows.
    pub fn reason_code(&self) -> Option<u32> {
        between(&self.body, "data-code=\"", "\"").and_then(|code| code.parse().ok())
    }
}

fn between(text: &str, start: &str, end: &str) -> Option<String> {
    let from = text.find(start)? + start.len();
    let to = text[from..].find(end)? + from;
    Some(text[from..to].to_owned())
}

/// A browser that follows nothing by itself: each step is explicit.
pub struct Browser {
    base: String,
    http: reqwest::Client,
}

impl Browser {
    pub fn new(base: &str) -> Browser {
        Browser {
            base: base.to_owned(),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
        }
    }

    fn absolute(&self, url: &str) -> String {
        if url.starts_with("http") {
            url.to_owned()
        } else {
            format!("{}{url}", self.base)
        }
    }

    async fn page(response: reqwest::Response) -> Page {
        Page {
            status: response.status().as_u16(),
            location: response
                .headers()
                .get("location")
                .map(|l| l.to_str().unwrap().to_owned()),
            body: response.text().await.unwrap(),
        }
    }

    pub async fn get(&self, url: &str) -> Page {
        Self::page(self.http.get(self.absolute(url)).send().await.unwrap()).await
    }

    pub async fn post(&self, url: &str, fields: &[(&str, &str)]) -> Page {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        Self::page(
            self.http
                .post(self.absolute(url))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    /// Opens an order's page (following Robokassa's redirect to the card form), pays with a
    /// card, passes 3-D Secure when asked (or cancels it), and returns the last answer: a
    /// redirect to the shop, or a page.
    pub async fn pay(&self, page_url: &str, card: &str, expiry: &str, cancel_3ds: bool) -> Page {
        let mut page = self.get(page_url).await;
        if page.status == 303 {
            page = self.get(page.location.as_deref().unwrap()).await;
        }
        assert_eq!(page.status, 200, "the card page: {}", page.body);
        let action = page.form_action();
        let answer = self
            .post(
                &action,
                &[
                    ("card", card),
                    ("exp", expiry),
                    ("cvc", "123"),
                    ("email", "buyer@example.kz"),
                ],
            )
            .await;
        let Some(location) = answer.location.clone().filter(|l| l.starts_with("/acs/")) else {
            return answer;
        };
        let bank = self.get(&location).await;
        assert_eq!(bank.status, 200, "the bank's page: {}", bank.body);
        let action = bank.form_action();
        if cancel_3ds {
            self.post(&action, &[("action", "cancel")]).await
        } else {
            let code = bank.bank_code();
            self.post(&action, &[("action", "confirm"), ("code", &code)])
                .await
        }
    }
}

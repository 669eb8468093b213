//! Guards that a real Tolem network can be started from an EMPTY database with no SQL and no demo
//! data, each party doing its own part in a real browser against the real gateway binary:
//! the command line creates the operator's first user → the operator logs in with the one-time
//! password, chooses a password, sets up one-time codes, registers a dealer and its admin, adds
//! a provider → the dealer's admin logs in with the invitation, chooses a password, sets up codes,
//! registers a point → a phone gets the point's key card and registers its key, the admin
//! certifies it and activates the point → the admin asks for a top-up, which changes nothing
//! until the operator confirms it → the phone's payment is accepted and the balance moves.

use serde_json::json;
use tolem_e2e::{Authenticator, Browser, Gateway, console_log_in, free_port, path_from_env};

const OPERATOR_EMAIL: &str = "ops@tolem.kz";
const OPERATOR_PASSWORD: &str = "оператор-пароль-2026";
const DEALER_ADMIN_EMAIL: &str = "admin@kiosk.kz";
const DEALER_ADMIN_PASSWORD: &str = "киоск-админ-пароль";
const PASSPHRASE: &str = "касса-смена-1";
/// A BIN whose control digit is right (the gateway checks it).
const DEALER_BIN: &str = "080640001122";
/// An IBAN whose check digits are right (ISO 13616).
const DEALER_IBAN: &str = "KZ86125KZT5004100100";

/// The first-login journey every invited user makes: the console sends them to choose a
/// password, then to set up one-time codes; returns their authenticator app.
async fn first_login(browser: &Browser, new_password: &str) -> Authenticator {
    browser
        .wait_for(
            "the new-password page",
            "return location.pathname === '/console/password'",
        )
        .await;
    browser.wait_for_element("#must-change").await;
    browser.fill("#password-form #new", new_password).await;
    browser.fill("#password-form #again", new_password).await;
    browser.click("#password-form button").await;
    browser
        .wait_for(
            "the one-time codes page",
            "return location.pathname === '/console/totp'",
        )
        .await;
    let secret = browser.text_of("#totp-secret").await;
    let mut app = Authenticator::new(&secret);
    browser
        .fill("#totp-enrol input[name=otp]", &app.next_code().await)
        .await;
    browser.click("#totp-enrol button").await;
    browser
        .wait_for(
            "the console's home after enrolment",
            "return location.pathname !== '/console/totp'",
        )
        .await;
    app
}

#[tokio::test(flavor = "multi_thread")]
async fn a_network_starts_from_an_empty_database_and_takes_a_payment() {
    let dist = path_from_env("TOLEM_DIST");
    let data = tempfile::tempdir().unwrap();

    // The machine's administrator creates the operator's first user.
    let (code, out) =
        Gateway::command(data.path(), &["operator", "add", "--email", OPERATOR_EMAIL]);
    assert_eq!(code, Some(0), "{out}");
    let one_time = out
        .lines()
        .find_map(|l| l.trim().strip_prefix("One-time password:"))
        .expect("a one-time password printed")
        .trim()
        .to_owned();

    let gateway = Gateway::start_without_demo(free_port(), &dist, data.path());
    let app = gateway.url();

    // The operator: first login, a dealer with its admin, a provider.
    let operator = Browser::start().await;
    console_log_in(&operator, &app, OPERATOR_EMAIL, &one_time, None).await;
    let mut operator_codes = first_login(&operator, OPERATOR_PASSWORD).await;
    operator
        .wait_for(
            "the operator's dealers page",
            "return location.pathname === '/console/operator/dealers'",
        )
        .await;
    operator
        .fill("#register-dealer [name=name]", "ТОО «Киоск»")
        .await;
    operator
        .fill("#register-dealer [name=bin]", DEALER_BIN)
        .await;
    operator
        .fill(
            "#register-dealer [name=legal_address]",
            "Алматы, пр. Абая, 10",
        )
        .await;
    operator
        .fill("#register-dealer [name=bank_account]", DEALER_IBAN)
        .await;
    operator
        .fill(
            "#register-dealer [name=contact]",
            "Айгерим, +7 701 000 00 00",
        )
        .await;
    operator.click("#register-dealer button").await;
    operator
        .wait_for(
            "the new dealer's page",
            "return /^\\/console\\/operator\\/dealers\\/D\\d+$/.test(location.pathname)",
        )
        .await;
    operator
        .fill("#invite-dealer-user [name=email]", DEALER_ADMIN_EMAIL)
        .await;
    operator
        .eval("document.querySelector('#invite-dealer-user [name=access_level]').value = 'full'; return true")
        .await;
    operator
        .fill(
            "#invite-dealer-user [name=otp]",
            &operator_codes.next_code().await,
        )
        .await;
    operator.click("#invite-dealer-user button").await;
    let admin_one_time = operator.text_of("#one-time-password").await;
    assert!(admin_one_time.len() >= 8, "{admin_one_time:?}");

    operator
        .client
        .goto(&format!("{app}console/operator/providers"))
        .await
        .unwrap();
    for (field, value) in [
        ("code", "kcell"),
        ("name", "Kcell"),
        ("short_label", "Kcell"),
        ("digits", "10"),
        ("prefixes", "701,702,775,778"),
        ("account_format", "7XX XXX XX XX"),
        ("min", "100"),
        ("max", "100000"),
        ("rate", "1"),
    ] {
        operator
            .fill(&format!("#add-provider [name={field}]"), value)
            .await;
    }
    operator
        .eval(
            "const f = document.querySelector('#add-provider'); \
             f.querySelector('[name=category]').value = 'mobile'; \
             f.querySelector('[name=account_kind]').value = 'phone'; return true",
        )
        .await;
    operator
        .fill(
            "#add-provider [name=otp]",
            &operator_codes.next_code().await,
        )
        .await;
    operator.click("#add-provider button").await;
    operator.wait_for_text("Kcell").await;
    operator
        .wait_for(
            "no error after adding the provider",
            "return document.querySelector('#error, .error') === null",
        )
        .await;

    // The dealer's admin: first login with the invitation, then a point.
    let admin = Browser::start().await;
    console_log_in(&admin, &app, DEALER_ADMIN_EMAIL, &admin_one_time, None).await;
    let mut admin_codes = first_login(&admin, DEALER_ADMIN_PASSWORD).await;
    admin
        .client
        .goto(&format!("{app}console/points"))
        .await
        .unwrap();
    admin
        .fill("form#register-point #name", "Киоск у рынка")
        .await;
    admin
        .fill("form#register-point #cashier_name", "Айгерим")
        .await;
    admin.click("form#register-point button").await;
    let point = admin.text_of("#new-point-code").await;
    let point_password = admin.text_of("#new-point-password").await;

    // The phone registers its key; the admin certifies it and activates the point.
    let phone = Browser::start().await;
    phone
        .client
        .goto(&format!("{app}settings/keys/card"))
        .await
        .unwrap();
    phone.fill("#point-code", &point).await;
    phone.fill("#point-password", &point_password).await;
    phone.click("#card-submit").await;
    let serial = phone.text_of("#card-serial").await;
    phone.click("#card-next").await;
    phone.fill("#passphrase", PASSPHRASE).await;
    phone.fill("#passphrase-repeat", PASSPHRASE).await;
    phone.click("#generate-submit").await;
    phone
        .wait_for_element("#register-result[data-outcome=registered]")
        .await;

    admin
        .client
        .goto(&format!("{app}console/keys"))
        .await
        .unwrap();
    let certify = format!("tr.key[data-serial='{serial}'][data-state=pending] form.certify");
    admin
        .fill(
            &format!("{certify} input[name=otp]"),
            &admin_codes.next_code().await,
        )
        .await;
    admin.click(&format!("{certify} button")).await;
    admin
        .wait_for_element(&format!(
            "tr.key[data-serial='{serial}'][data-state=certified]"
        ))
        .await;
    let activate = format!("section.point[data-point='{point}'] form.activate");
    admin
        .fill(
            &format!("{activate} input[name=otp]"),
            &admin_codes.next_code().await,
        )
        .await;
    admin.click(&format!("{activate} button")).await;
    admin
        .wait_for_element(&format!(
            "section.point[data-point='{point}'][data-active=true]"
        ))
        .await;

    // Money in: the admin asks, nothing moves until the operator confirms.
    admin
        .client
        .goto(&format!("{app}console/money"))
        .await
        .unwrap();
    admin.fill("#top-up-request [name=amount]", "50000").await;
    admin
        .fill("#top-up-request [name=reference]", "ПП-000123")
        .await;
    let today = admin
        .eval("const d = new Date(); return d.toISOString().slice(0, 10)")
        .await
        .as_str()
        .unwrap()
        .to_owned();
    admin
        .eval(&format!(
            "document.querySelector('#top-up-request [name=paid_on]').value = {}; return true",
            json!(today)
        ))
        .await;
    admin.click("#top-up-request button").await;
    admin.wait_for_text("ПП-000123").await;
    assert_eq!(
        admin.attribute("#balance", "data-tiyn").await.as_deref(),
        Some("0"),
        "a request credits nothing by itself"
    );

    operator
        .client
        .goto(&format!("{app}console/operator/top-ups"))
        .await
        .unwrap();
    let waiting = "tr[data-request][data-state=requested]";
    operator.wait_for_element(waiting).await;
    operator
        .fill(
            &format!("{waiting} form.confirm-top-up input[name=otp]"),
            &operator_codes.next_code().await,
        )
        .await;
    operator
        .click(&format!("{waiting} form.confirm-top-up button"))
        .await;
    operator
        .wait_for_element("tr[data-request][data-state=confirmed]")
        .await;

    admin
        .client
        .goto(&format!("{app}console/money"))
        .await
        .unwrap();
    assert_eq!(
        admin.attribute("#balance", "data-tiyn").await.as_deref(),
        Some("5000000")
    );

    // The phone pays; the gateway accepts and the dealer's balance moves by the amount.
    phone.client.goto(&format!("{app}pay/kcell")).await.unwrap();
    phone.wait_for_element("#pay-form").await;
    phone.fill("#unlock-passphrase", PASSPHRASE).await;
    phone.click("#unlock-submit").await;
    phone
        .wait_for(
            "the key to unlock",
            "return document.querySelector('#unlock-form') === null",
        )
        .await;
    phone.fill("#pay-account", "7011234567").await;
    phone.fill("#pay-amount", "2000").await;
    phone.click("#pay-execute").await;
    phone.click("#confirm-submit").await;
    phone.wait_for_element("#pay-result[data-session]").await;
    assert_eq!(
        phone
            .attribute("#pay-result", "data-state")
            .await
            .as_deref(),
        Some("accepted")
    );
    let credited: i64 = phone
        .attribute("#pay-result-provider-amount", "data-tiyn")
        .await
        .and_then(|t| t.parse().ok())
        .expect("the provider amount on the result");
    assert!(credited > 0);

    admin
        .client
        .goto(&format!("{app}console/money"))
        .await
        .unwrap();
    assert_eq!(
        admin.attribute("#balance", "data-tiyn").await.as_deref(),
        Some((5_000_000 - credited).to_string().as_str()),
        "the balance moves by what the provider is paid"
    );

    phone.close().await;
    admin.close().await;
    operator.close().await;
}

//! Robokassa's signatures: a hex digest of parameters joined by `:` with a password in a
//! documented place, made with the hash the shop's technical settings name ([`HashAlgorithm`];
//! MD5 unless changed there); the page accepts the hex "in any case".
//!
//! Sources, docs.robokassa.ru:
//! * <https://docs.robokassa.ru/script-parameters/> «Параметры скрипта»: the payment link's base is
//!   `MerchantLogin:OutSum:InvId:OutSumCurrency:UserIp:Receipt:Пароль#1`, optional parts left
//!   out when not sent (InvId keeps its empty slot: `MerchantLogin:OutSum::Пароль#1`); user
//!   parameters go after the password as `Shp_name=value`, sorted alphabetically.
//! * <https://docs.robokassa.ru/pay-interface> «Интерфейс оплаты», «Дополнительная переадресация … (SuccessUrl2/FailUrl2)»: per-payment
//!   redirects add `…:Receipt:StepByStep:ResultUrl2:SuccessUrl2:SuccessUrl2Method:FailUrl2:
//!   FailUrl2Method:Пароль#1`, the URLs URL-encoded in the base as in the link
//!   (`https%3A%2F%2Frobokassa.com%2F`).
//! * «Оповещение об оплате на ResultURL»: the notification's base is `OutSum:InvId:Пароль#2`
//!   plus the user parameters; SuccessURL's is the same with Пароль#1.
//! * «XML интерфейсы», OpStateExt: `MerchantLogin:InvoiceID:Пароль#2`.

use crate::client::constant_time_eq;

use super::hash::HashAlgorithm;

/// What a payment link signs, besides the password.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PaymentBase<'a> {
    pub login: &'a str,
    /// Exactly as sent in the link.
    pub out_sum: &'a str,
    pub inv_id: Option<&'a str>,
    pub out_sum_currency: Option<&'a str>,
    pub user_ip: Option<&'a str>,
    /// As sent (already URL-encoded once, per the docs).
    pub receipt: Option<&'a str>,
    /// The URL (plain; encoded here as the base wants it) and its method (`GET`/`POST`).
    pub success_url2: Option<(&'a str, &'a str)>,
    pub fail_url2: Option<(&'a str, &'a str)>,
    /// `Shp_` parameters, names with their prefix.
    pub user: &'a [(String, String)],
}

impl PaymentBase<'_> {
    /// The text hashed with Password #1.
    pub fn text(&self, password1: &str) -> String {
        let mut parts: Vec<String> = vec![
            self.login.to_owned(),
            self.out_sum.to_owned(),
            self.inv_id.unwrap_or("").to_owned(),
        ];
        parts.extend(self.out_sum_currency.map(str::to_owned));
        parts.extend(self.user_ip.map(str::to_owned));
        parts.extend(self.receipt.map(str::to_owned));
        for (url, method) in [self.success_url2, self.fail_url2].into_iter().flatten() {
            parts.push(urlencode(url));
            parts.push(method.to_owned());
        }
        parts.push(password1.to_owned());
        parts.extend(user_parts(self.user));
        parts.join(":")
    }

    /// The link's SignatureValue, with the shop's hash.
    pub fn signature(&self, password1: &str, hash: HashAlgorithm) -> String {
        hash.hex(&self.text(password1))
    }
}

/// The ResultURL notification's base: `OutSum:InvId:Пароль#2[:Shp_…]`.
pub fn result_text(
    out_sum: &str,
    inv_id: &str,
    password2: &str,
    user: &[(String, String)],
) -> String {
    let mut parts = vec![out_sum.to_owned(), inv_id.to_owned(), password2.to_owned()];
    parts.extend(user_parts(user));
    parts.join(":")
}

/// The SuccessURL redirect's base: `OutSum:InvId:Пароль#1[:Shp_…]`.
pub fn success_text(
    out_sum: &str,
    inv_id: &str,
    password1: &str,
    user: &[(String, String)],
) -> String {
    result_text(out_sum, inv_id, password1, user)
}

/// OpStateExt's base: `MerchantLogin:InvoiceID:Пароль#2`.
pub fn op_state_text(login: &str, invoice_id: &str, password2: &str) -> String {
    format!("{login}:{invoice_id}:{password2}")
}

/// Whether `given` is the signature of `text` with the shop's hash: hex in any case ("число в
/// 16-ричной форме и любом регистре"), compared in constant time. A signature made with
/// another hash never matches.
pub fn verify(text: &str, given: &str, hash: HashAlgorithm) -> bool {
    constant_time_eq(
        hash.hex(text).as_bytes(),
        given.trim().to_ascii_lowercase().as_bytes(),
    )
}

/// `Shp_` parameters as `name=value`, sorted alphabetically by name.
fn user_parts(user: &[(String, String)]) -> Vec<String> {
    let mut user: Vec<&(String, String)> = user.iter().collect();
    user.sort_by(|a, b| a.0.cmp(&b.0));
    user.iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect()
}

/// Whether a parameter is a user parameter ("Shp_", "SHP_" or "shp_").
pub fn is_user_parameter(name: &str) -> bool {
    name.get(..4)
        .is_some_and(|prefix| prefix.eq_ignore_ascii_case("shp_"))
}

/// URL-encoding as the docs' examples show it (PHP's `urlencode`, which their samples use):
/// letters, digits and `-_.` kept, space as `+`, every other byte `%XX` in uppercase.
pub fn urlencode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => out.push(byte as char),
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const MD5: HashAlgorithm = HashAlgorithm::Md5;

    fn md5_hex(text: &str) -> String {
        MD5.hex(text)
    }

    /// Vectors computed by hand with `echo -n TEXT | md5sum`.
    #[test]
    fn known_vectors() {
        let base = PaymentBase {
            login: "tolem-demo",
            out_sum: "1500.00",
            inv_id: Some("42"),
            ..PaymentBase::default()
        };
        assert_eq!(base.text("password1"), "tolem-demo:1500.00:42:password1");
        assert_eq!(
            base.signature("password1", MD5),
            "8bd2951605a6ee1a62ba0ad5f30d5211"
        );
        assert_eq!(
            md5_hex(&result_text("1500.00", "42", "password2", &[])),
            "73c7499aeef8ae74737081cad5302847"
        );
        assert_eq!(
            md5_hex(&op_state_text("demo", "7", "password2")),
            "fa7f4c2c66ed1ebe6d307f7192300098"
        );
    }

    /// The docs' ResultURL example (OutSum 100.26, InvId 450009, Shp_login=Vasya,
    /// Shp_oplata=1), given in the opposite order to show the sorting.
    #[test]
    fn user_parameters_follow_the_password_sorted() {
        let user = vec![
            ("Shp_oplata".to_owned(), "1".to_owned()),
            ("Shp_login".to_owned(), "Vasya".to_owned()),
        ];
        let text = result_text("100.26", "450009", "password2", &user);
        assert_eq!(text, "100.26:450009:password2:Shp_login=Vasya:Shp_oplata=1");
        assert_eq!(md5_hex(&text), "454f2b45fad7ec51599bdcc6d2b1a319");
        assert!(verify(&text, "454F2B45FAD7EC51599BDCC6D2B1A319", MD5));
        assert!(!verify(&text, "454f2b45fad7ec51599bdcc6d2b1a318", MD5));
        // The shop set to SHA256 (`echo -n TEXT | sha256sum`): the same base, another
        // signature; MD5's is not taken.
        let sha256 = HashAlgorithm::Sha256.hex(&text);
        assert_eq!(
            sha256,
            "20e6194684821143f002fd280c482fbca93dea73d5ca8f8fb55d1c93e47deb82"
        );
        assert!(verify(&text, &sha256.to_uppercase(), HashAlgorithm::Sha256));
        assert!(!verify(&text, &md5_hex(&text), HashAlgorithm::Sha256));
        assert!(!verify(&text, &sha256, MD5));
    }

    #[test]
    fn redirect_urls_are_signed_encoded_in_their_place() {
        let base = PaymentBase {
            login: "demo",
            out_sum: "1.00",
            inv_id: Some("7"),
            success_url2: Some(("https://shop.kz/ok", "GET")),
            fail_url2: Some(("https://shop.kz/fail", "GET")),
            ..PaymentBase::default()
        };
        assert_eq!(
            base.text("password1"),
            "demo:1.00:7:https%3A%2F%2Fshop.kz%2Fok:GET:https%3A%2F%2Fshop.kz%2Ffail:GET:password1"
        );
        assert_eq!(
            base.signature("password1", MD5),
            "1a65ed597172bf4b7ea528ac8d16dc98"
        );
        let everything = PaymentBase {
            login: "m",
            out_sum: "1.00",
            inv_id: None,
            out_sum_currency: Some("KZT"),
            user_ip: Some("10.0.0.1"),
            receipt: Some("%7B%7D"),
            success_url2: None,
            fail_url2: None,
            user: &[("Shp_a".into(), "b".into())],
        };
        assert_eq!(
            everything.text("p"),
            "m:1.00::KZT:10.0.0.1:%7B%7D:p:Shp_a=b"
        );
    }

    #[test]
    fn encodes_like_the_docs() {
        assert_eq!(
            urlencode("https://robokassa.com/"),
            "https%3A%2F%2Frobokassa.com%2F"
        );
        assert_eq!(urlencode("a b~*"), "a+b%7E%2A");
        assert_eq!(urlencode("Вася"), "%D0%92%D0%B0%D1%81%D1%8F");
        assert!(
            is_user_parameter("Shp_x") && is_user_parameter("SHP_x") && is_user_parameter("shp_")
        );
        assert!(!is_user_parameter("Sh") && !is_user_parameter("OutSum"));
    }
}

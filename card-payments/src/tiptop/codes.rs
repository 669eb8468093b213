//! TipTop Pay's numbers: what we answer a notification, and why a card was refused.
//!
//! Source for every table here: <https://developers.cloudpayments.ru/en/> (the TipTop Pay
//! Kazakhstan copy, <https://developers.tiptoppay.kz/>, has the same sections): "Check"
//! (`#check`, answer codes), "Error Codes" (`#error-codes`, ReasonCode), "Check notification
//! processing responses" (how the service records our Check answer in a Fail).

use crate::service::{Decline, Verdict};

/// What the service does with our answer to a Check (section «Check»):
///
/// | code | meaning                     | result                         |
/// |------|-----------------------------|--------------------------------|
/// | 0    | payment can be made         | the card is authorized         |
/// | 10   | wrong invoice number        | declined                       |
/// | 11   | wrong AccountId             | declined                       |
/// | 12   | wrong amount                | declined                       |
/// | 13   | payment cannot be accepted  | declined                       |
/// | 20   | payment expired             | declined, the payer is told    |
///
/// Pay, Fail, Confirm and Refund document only 0 ("registered"). We answer a refusal code to
/// them too when the gateway refuses: it is still an answer (the service stops repeating),
/// and the code records why in the service's console.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AnswerCode {
    Accepted = 0,
    WrongInvoice = 10,
    WrongAccount = 11,
    WrongAmount = 12,
    NotAccepted = 13,
    Expired = 20,
}

impl AnswerCode {
    /// The code for a gateway verdict; `None` for [`Verdict::TryLater`], which is answered
    /// with an HTTP error so the service sends the notification again.
    pub fn for_verdict(verdict: Verdict) -> Option<AnswerCode> {
        match verdict {
            Verdict::Accept => Some(AnswerCode::Accepted),
            Verdict::UnknownInvoice => Some(AnswerCode::WrongInvoice),
            Verdict::WrongAmount => Some(AnswerCode::WrongAmount),
            // Expired, cancelled and paid-by-another-transaction bills alike: 13 says "cannot
            // be accepted" without claiming which (20 would tell the payer it expired).
            Verdict::NotPayable => Some(AnswerCode::NotAccepted),
            Verdict::TryLater => None,
        }
    }

    pub fn code(self) -> u16 {
        self as u16
    }

    /// The answer body, `{"code":N}`.
    pub fn body(self) -> String {
        format!("{{\"code\":{}}}", self.code())
    }
}

/// The ReasonCode the service puts in a Fail when our Check answer refused the payment
/// ("Check notification processing responses"), by the code we answered; `None` for 0.
pub fn check_refusal_reason(answer: u16) -> Option<(u32, &'static str)> {
    match answer {
        0 => None,
        10 => Some((3001, "InvalidInvoiceId")),
        11 => Some((3002, "InvalidAccountId")),
        12 => Some((3003, "InvalidAmount")),
        20 => Some((3004, "OutOfDate")),
        13 => Some((3008, "NotAccepted")),
        _ => Some((3005, "FormatError")),
    }
}

/// The Check handler could not be reached or answered with an HTTP error (404, 504, 508…).
pub const CHECK_UNABLE_TO_CONNECT: (u32, &str) = (3007, "UnableToConnect");

/// Why a card was refused, for the customer, from a Fail's ReasonCode ("Error Codes").
pub fn decline_for(reason_code: u32) -> Decline {
    match reason_code {
        // Insufficient Funds.
        5051 => Decline::InsufficientFunds,
        // Expired Card ("card is expired or expiration date is incorrect"); Expired Card Pickup.
        5054 | 5033 => Decline::CardExpired,
        // Invalid Transaction and Restricted Card (2): "the card is not intended for online
        // payments"; Transaction Not Permitted (to card): "card is not allowed for online
        // payments or has no 3-D Secure".
        5012 | 5036 | 5062 | 5057 | 5058 => Decline::NotEnabledForInternet,
        // Exceeds Approval Amount, Exceed Withdrawal Frequency ("card transactions limit is
        // exceeded"), Anti Fraud ("acquirer transaction limits").
        5061 | 5065 | 5300 => Decline::LimitExceeded,
        // Error ("incorrect CVV code"), Invalid Card Number, No Such Issuer, Invalid PIN,
        // Incorrect CVV: "check the correctness of entered card data".
        5006 | 5014 | 5015 | 5055 | 5082 => Decline::WrongCardData,
        // 3-D Secure authentication failed / unavailable.
        5206 | 5207 => Decline::AuthenticationFailed,
        _ => Decline::Other,
    }
}

/// The Reason text the service writes next to a ReasonCode (the "Name" column, as the API
/// writes it: "InsufficientFunds"), for the codes the emulator produces.
pub fn reason_name(reason_code: u32) -> &'static str {
    match reason_code {
        0 => "Approved",
        5014 => "InvalidCardNumber",
        5051 => "InsufficientFunds",
        5054 => "ExpiredCard",
        5057 => "TransactionNotPermitted",
        5065 => "ExceedWithdrawalFrequency",
        5082 => "IncorrectCVV",
        5206 => "AuthenticationFailed",
        5207 => "AuthenticationUnavailable",
        code => check_refusal_reason_name(code).unwrap_or("Error"),
    }
}

fn check_refusal_reason_name(code: u32) -> Option<&'static str> {
    [10, 11, 12, 13, 20, 99]
        .into_iter()
        .filter_map(check_refusal_reason)
        .chain([CHECK_UNABLE_TO_CONNECT, (3006, "Unavailable")])
        .find(|(c, _)| *c == code)
        .map(|(_, name)| name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_become_documented_codes() {
        assert_eq!(
            AnswerCode::for_verdict(Verdict::Accept).unwrap().body(),
            r#"{"code":0}"#
        );
        assert_eq!(
            AnswerCode::for_verdict(Verdict::UnknownInvoice).map(AnswerCode::code),
            Some(10)
        );
        assert_eq!(
            AnswerCode::for_verdict(Verdict::WrongAmount).map(AnswerCode::code),
            Some(12)
        );
        assert_eq!(
            AnswerCode::for_verdict(Verdict::NotPayable).map(AnswerCode::code),
            Some(13)
        );
        assert_eq!(AnswerCode::for_verdict(Verdict::TryLater), None);
    }

    #[test]
    fn reason_codes_map_to_declines() {
        assert_eq!(decline_for(5051), Decline::InsufficientFunds);
        assert_eq!(decline_for(5054), Decline::CardExpired);
        assert_eq!(decline_for(5057), Decline::NotEnabledForInternet);
        assert_eq!(decline_for(5058), Decline::NotEnabledForInternet);
        assert_eq!(decline_for(5061), Decline::LimitExceeded);
        assert_eq!(decline_for(5065), Decline::LimitExceeded);
        assert_eq!(decline_for(5014), Decline::WrongCardData);
        assert_eq!(decline_for(5082), Decline::WrongCardData);
        assert_eq!(decline_for(5206), Decline::AuthenticationFailed);
        assert_eq!(decline_for(5207), Decline::AuthenticationFailed);
        assert_eq!(decline_for(5005), Decline::Other);
        assert_eq!(decline_for(3001), Decline::Other);
    }

    #[test]
    fn check_answers_become_fail_reasons() {
        assert_eq!(check_refusal_reason(0), None);
        assert_eq!(check_refusal_reason(10), Some((3001, "InvalidInvoiceId")));
        assert_eq!(check_refusal_reason(13), Some((3008, "NotAccepted")));
        assert_eq!(check_refusal_reason(7), Some((3005, "FormatError")));
        assert_eq!(reason_name(3007), "UnableToConnect");
        assert_eq!(reason_name(3001), "InvalidInvoiceId");
        assert_eq!(reason_name(5051), "InsufficientFunds");
    }
}

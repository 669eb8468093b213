//! The protocol's result codes and what each means for the payment: done, ask again, or refused.
//!
//! The protocol's table has a "fatal" column. Only two codes are not fatal: 1 (temporary error)
//! and 90 (payment not finished yet). For those the aggregator must ask again later with the
//! SAME txn_id — a new number would be a second payment. Every other code is a final refusal.
//! A code we do not know is treated as final too: the protocol lists the non-fatal codes
//! exhaustively, so a provider's private code cannot mean "try again", and retrying a refusal
//! forever would hold the customer's money without end.

use tolem_protocol::messages::ProviderRefusal;

/// The codes of the protocol's table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ResultCode {
    /// 0: OK.
    Ok,
    /// 1: temporary error, ask again later (not fatal).
    Temporary,
    /// 4: the account is not in the provider's format.
    BadAccountFormat,
    /// 5: no such account (a wrong number).
    AccountNotFound,
    /// 7: the provider does not take this payment.
    PaymentForbidden,
    /// 8: the provider does not take payments now, for technical reasons.
    ForbiddenTechnical,
    /// 79: the account exists but is not active.
    AccountInactive,
    /// 90: the payment is not finished yet, ask again later (not fatal).
    NotFinished,
    /// 241: the sum is too small.
    AmountTooSmall,
    /// 242: the sum is too big.
    AmountTooLarge,
    /// 243: the provider cannot check the account's state.
    CannotCheckAccount,
    /// 300: another error of the provider.
    Other,
}

/// The table: each code, its number, whether the protocol calls it fatal, and its meaning
/// (the protocol's Russian wording, as providers write it in comments).
const TABLE: [(ResultCode, u16, bool, &str); 12] = [
    (ResultCode::Ok, 0, false, "ОК"),
    (
        ResultCode::Temporary,
        1,
        false,
        "Временная ошибка. Повторите запрос позже",
    ),
    (
        ResultCode::BadAccountFormat,
        4,
        true,
        "Неверный формат идентификатора абонента",
    ),
    (
        ResultCode::AccountNotFound,
        5,
        true,
        "Идентификатор абонента не найден (Ошиблись номером)",
    ),
    (
        ResultCode::PaymentForbidden,
        7,
        true,
        "Прием платежа запрещен провайдером",
    ),
    (
        ResultCode::ForbiddenTechnical,
        8,
        true,
        "Прием платежа запрещен по техническим причинам",
    ),
    (
        ResultCode::AccountInactive,
        79,
        true,
        "Счет абонента не активен",
    ),
    (
        ResultCode::NotFinished,
        90,
        false,
        "Проведение платежа не окончено",
    ),
    (ResultCode::AmountTooSmall, 241, true, "Сумма слишком мала"),
    (
        ResultCode::AmountTooLarge,
        242,
        true,
        "Сумма слишком велика",
    ),
    (
        ResultCode::CannotCheckAccount,
        243,
        true,
        "Невозможно проверить состояние счета",
    ),
    (ResultCode::Other, 300, true, "Другая ошибка провайдера"),
];

impl ResultCode {
    fn row(self) -> (ResultCode, u16, bool, &'static str) {
        TABLE
            .into_iter()
            .find(|row| row.0 == self)
            .expect("every code is in the table")
    }

    /// The number on the wire.
    pub fn code(self) -> u16 {
        self.row().1
    }

    /// The protocol's meaning, in its Russian wording.
    pub fn description(self) -> &'static str {
        self.row().3
    }

    /// Whether the protocol calls the code fatal (final). 0 is not an error at all.
    pub fn is_fatal(self) -> bool {
        self.row().2
    }

    /// The code for a number, if it is one of the table's.
    pub fn from_code(code: u16) -> Option<ResultCode> {
        TABLE.into_iter().find(|row| row.1 == code).map(|row| row.0)
    }
}

/// What a result number means for the payment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// 0: done.
    Accepted,
    /// 1 or 90: ask again later with the same txn_id.
    Later,
    /// Anything else, known or not: final, with the reason shown to the cashier.
    Refused(ProviderRefusal),
}

/// Classifies a result number (see the module doc for why unknown codes are final).
pub fn classify(result: u16) -> Verdict {
    match ResultCode::from_code(result) {
        Some(ResultCode::Ok) => Verdict::Accepted,
        Some(code) if !code.is_fatal() => Verdict::Later,
        code => Verdict::Refused(refusal(code)),
    }
}

fn refusal(code: Option<ResultCode>) -> ProviderRefusal {
    match code {
        Some(ResultCode::AccountNotFound) => ProviderRefusal::AccountNotFound,
        Some(ResultCode::BadAccountFormat) => ProviderRefusal::BadAccountFormat,
        Some(ResultCode::AccountInactive) => ProviderRefusal::AccountInactive,
        Some(ResultCode::AmountTooSmall) => ProviderRefusal::AmountTooSmall,
        Some(ResultCode::AmountTooLarge) => ProviderRefusal::AmountTooLarge,
        Some(ResultCode::PaymentForbidden | ResultCode::ForbiddenTechnical) => {
            ProviderRefusal::PaymentForbidden
        }
        _ => ProviderRefusal::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_round_trip() {
        for (code, number, _, _) in TABLE {
            assert_eq!(code.code(), number);
            assert_eq!(ResultCode::from_code(number), Some(code));
        }
        assert_eq!(ResultCode::from_code(2), None);
    }

    #[test]
    fn only_1_and_90_are_later() {
        assert_eq!(classify(0), Verdict::Accepted);
        assert_eq!(classify(1), Verdict::Later);
        assert_eq!(classify(90), Verdict::Later);
        for number in [4, 5, 7, 8, 79, 241, 242, 243, 300] {
            assert!(matches!(classify(number), Verdict::Refused(_)), "{number}");
        }
    }

    #[test]
    fn refusals_carry_the_reason() {
        use ProviderRefusal as R;
        let cases = [
            (5, R::AccountNotFound),
            (4, R::BadAccountFormat),
            (79, R::AccountInactive),
            (241, R::AmountTooSmall),
            (242, R::AmountTooLarge),
            (7, R::PaymentForbidden),
            (8, R::PaymentForbidden),
            (243, R::Other),
            (300, R::Other),
        ];
        for (number, reason) in cases {
            assert_eq!(classify(number), Verdict::Refused(reason), "{number}");
        }
    }

    #[test]
    fn unknown_codes_are_final() {
        for number in [2, 3, 10, 91, 244, 500, u16::MAX] {
            assert_eq!(
                classify(number),
                Verdict::Refused(ProviderRefusal::Other),
                "{number}"
            );
        }
    }
}

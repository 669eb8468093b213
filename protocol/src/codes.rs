//! Result codes of every step, with a message for the cashier or dealer in each language.
//!
//! Numbers below 900 are Cyberplat's, kept so dealers' reports and habits carry over; 900 and
//! above are Tolem's own, for cases the Cyberplat protocol had no number for.

use serde::{Deserialize, Serialize};

/// The languages Tolem speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    Ru,
    Kk,
    En,
}

impl Lang {
    pub const ALL: [Lang; 3] = [Lang::Ru, Lang::Kk, Lang::En];

    /// From a language tag such as `kk`, `kk-KZ` or `en-US`; Russian for anything else.
    pub fn from_tag(tag: &str) -> Lang {
        match tag.get(..2).map(str::to_ascii_lowercase).as_deref() {
            Some("kk") => Lang::Kk,
            Some("en") => Lang::En,
            _ => Lang::Ru,
        }
    }

    pub fn tag(self) -> &'static str {
        match self {
            Lang::Ru => "ru",
            Lang::Kk => "kk",
            Lang::En => "en",
        }
    }
}

macro_rules! result_codes {
    ($($(#[$doc:meta])* $name:ident = $number:literal, $ru:literal, $kk:literal, $en:literal;)*) => {
        /// The outcome of a step. Travels as its number.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum ResultCode {
            $($(#[$doc])* $name,)*
        }

        impl ResultCode {
            /// Every code, for tests and documentation.
            pub const ALL: &'static [ResultCode] = &[$(ResultCode::$name,)*];

            /// The number that travels and appears in reports.
            pub fn number(self) -> u16 {
                match self { $(ResultCode::$name => $number,)* }
            }

            /// The code with this number, if Tolem knows it.
            pub fn from_number(number: u16) -> Option<ResultCode> {
                match number { $($number => Some(ResultCode::$name),)* _ => None }
            }

            /// What the code means, in words a cashier can act on.
            pub fn message(self, lang: Lang) -> &'static str {
                match (self, lang) {
                    $((ResultCode::$name, Lang::Ru) => $ru,
                      (ResultCode::$name, Lang::Kk) => $kk,
                      (ResultCode::$name, Lang::En) => $en,)*
                }
            }
        }
    };
}

result_codes! {
    /// Done.
    Ok = 0, "Выполнено", "Орындалды", "Done";
    /// The session id was already used with different content.
    SessionExists = 1,
        "Сессия с таким номером уже есть, но с другими данными",
        "Бұл нөмірлі сессия бар, бірақ деректері басқа",
        "This session already exists with different data";
    /// The signature does not match the bytes and the key.
    BadSignature = 6,
        "Неверная подпись запроса",
        "Сұраныс қолтаңбасы дұрыс емес",
        "The request signature is not valid";
    /// The amount is missing, not positive, or outside the provider's range.
    BadAmount = 7,
        "Неверная сумма платежа",
        "Төлем сомасы дұрыс емес",
        "The payment amount is not valid";
    /// The phone or account number does not fit the provider's rule.
    BadAccount = 8,
        "Неверный номер телефона или лицевого счёта",
        "Телефон немесе дербес шот нөмірі дұрыс емес",
        "The phone or account number is not valid";
    /// No payment with this session.
    NoSuchSession = 11,
        "Платёж с такой сессией не найден",
        "Мұндай сессиясы бар төлем табылмады",
        "No payment with this session";
    /// The dealer's balance does not cover the payment.
    InsufficientFunds = 21,
        "Недостаточно средств на балансе дилера",
        "Дилер балансында қаражат жеткіліксіз",
        "The dealer's balance is too low for this payment";
    /// The same payment was accepted within the previous hour.
    Duplicate = 32,
        "Такой же платёж уже принят в течение последнего часа",
        "Дәл осындай төлем соңғы бір сағатта қабылданған",
        "The same payment was accepted within the last hour";
    /// The dealer is blocked.
    DealerBlocked = 52,
        "Дилер заблокирован",
        "Дилер бұғатталған",
        "The dealer is blocked";
    /// The point is blocked or not yet activated.
    PointBlocked = 53,
        "Точка заблокирована или ещё не активирована",
        "Нүкте бұғатталған немесе әлі іске қосылмаған",
        "The point is blocked or not activated yet";
    /// The cashier is blocked.
    CashierBlocked = 54,
        "Кассир заблокирован",
        "Кассир бұғатталған",
        "The cashier is blocked";
    /// Over the point's limit for one payment.
    PointPaymentLimit = 81,
        "Превышен лимит точки на один платёж",
        "Нүктенің бір төлемге арналған лимиті асып кетті",
        "Over the point's limit for one payment";
    /// Over the point's daily limit.
    PointDailyLimit = 82,
        "Превышен дневной лимит точки",
        "Нүктенің күндізгі лимиті асып кетті",
        "Over the point's daily limit";
    /// Over the dealer's limit for one payment.
    DealerPaymentLimit = 83,
        "Превышен лимит дилера на один платёж",
        "Дилердің бір төлемге арналған лимиті асып кетті",
        "Over the dealer's limit for one payment";
    /// Over the dealer's daily limit.
    DealerDailyLimit = 84,
        "Превышен дневной лимит дилера",
        "Дилердің күндізгі лимиті асып кетті",
        "Over the dealer's daily limit";
    /// No key with this serial is registered.
    KeyNotRegistered = 134,
        "Ключ не зарегистрирован",
        "Кілт тіркелмеген",
        "The key is not registered";
    /// The request could not be read.
    Malformed = 900,
        "Запрос повреждён или имеет неверный формат",
        "Сұраныс бүлінген немесе пішімі дұрыс емес",
        "The request is damaged or malformed";
    /// The phone speaks a protocol version the gateway does not.
    UnsupportedVersion = 901,
        "Версия приложения не поддерживается: обновите приложение",
        "Қолданба нұсқасына қолдау жоқ: қолданбаны жаңартыңыз",
        "This app version is not supported: update the app";
    /// The key is registered but the dealer has not certified it yet.
    KeyNotCertified = 902,
        "Ключ ещё не заверен дилером",
        "Кілтті дилер әлі растамаған",
        "The dealer has not certified the key yet";
    /// The key was revoked.
    KeyRevoked = 903,
        "Ключ отозван",
        "Кілт кері қайтарылған",
        "The key has been revoked";
    /// Wrong point code or password.
    BadCredentials = 904,
        "Неверный код точки или пароль",
        "Нүкте коды немесе құпиясөз қате",
        "Wrong point code or password";
    /// Too many failed attempts; wait before trying again.
    TooManyAttempts = 905,
        "Слишком много неудачных попыток. Подождите и попробуйте снова",
        "Сәтсіз әрекеттер тым көп. Күте тұрып, қайталап көріңіз",
        "Too many failed attempts. Wait and try again";
    /// The key serial on the card is already bound to another key.
    KeyAlreadyRegistered = 906,
        "Для этой карточки ключ уже зарегистрирован: получите новую карточку",
        "Бұл карточкаға кілт тіркелген: жаңа карточка алыңыз",
        "A key is already registered for this card: get a new card";
    /// The request names a different step than the address it was sent to.
    WrongStep = 907,
        "Запрос отправлен не по адресу",
        "Сұраныс қате мекенжайға жіберілді",
        "The request was sent to the wrong address";
    /// The provider is unknown (a switched-off one answers [`ResultCode::ProviderDisabled`]).
    UnknownProvider = 908,
        "Провайдер не найден или отключён",
        "Провайдер табылмады немесе өшірілген",
        "Unknown or disabled provider";
    /// The payment waited on the phone longer than the point's offline limit allows.
    TooOld = 909,
        "Платёж слишком долго ждал отправки и не может быть проведён",
        "Төлем жіберуді тым ұзақ күтті, оны өткізу мүмкін емес",
        "The payment waited too long to be sent and cannot be made";
    /// The phone's clock is too far ahead of the gateway's.
    ClockAhead = 910,
        "Часы телефона спешат: проверьте дату и время",
        "Телефон сағаты алға кеткен: күн мен уақытты тексеріңіз",
        "The phone's clock is ahead: check the date and time";
    /// The point sent more messages this hour than its limit allows.
    TooManyMessages = 911,
        "Превышен лимит сообщений в час. Попробуйте позже",
        "Сағатына хабар лимиті асып кетті. Кейінірек көріңіз",
        "Too many messages this hour. Try again later";
    /// The recipient is not a valid e-mail address.
    BadRecipient = 912,
        "Неверный адрес электронной почты",
        "Электрондық пошта мекенжайы дұрыс емес",
        "The e-mail address is not valid";
    /// The message is empty or longer than allowed.
    BadMessageText = 913,
        "Текст сообщения пуст или слишком длинный",
        "Хабар мәтіні бос немесе тым ұзын",
        "The message text is empty or too long";
    /// The operator switched the provider off: it takes no payments until switched on again.
    ProviderDisabled = 914,
        "Провайдер временно отключён: платёж не принят. Предложите клиенту оплатить позже или другому провайдеру",
        "Провайдер уақытша өшірілген: төлем қабылданбады. Клиентке кейінірек немесе басқа провайдерге төлеуді ұсыныңыз",
        "The provider is switched off for now: the payment was not accepted. Ask the customer to pay later or choose another provider";
    /// A bill for payment by card: the customer has not paid it (yet). The answer's outcome
    /// says whether it can still be paid, and why the last card was refused.
    BillNotPaid = 915,
        "Клиент ещё не оплатил счёт картой",
        "Клиент шотты картамен әлі төлеген жоқ",
        "The customer has not paid the bill by card yet";
    /// The bill's time ran out before it was paid; it can no longer be paid.
    BillExpired = 916,
        "Срок счёта истёк: оплатить его картой уже нельзя. Создайте новый счёт или примите наличные",
        "Шоттың мерзімі өтті: оны картамен төлеу мүмкін емес. Жаңа шот жасаңыз немесе қолма-қол алыңыз",
        "The bill has expired and can no longer be paid by card. Make a new bill or take cash";
    /// The cashier cancelled the bill; it can no longer be paid.
    BillCancelled = 917,
        "Счёт отменён кассиром: оплатить его уже нельзя",
        "Шотты кассир болдырмады: оны енді төлеу мүмкін емес",
        "The cashier cancelled the bill; it can no longer be paid";
    /// The gateway has no payment service for cards: bills cannot be paid.
    CardPaymentsOff = 918,
        "Оплата картой на этом шлюзе не подключена. Примите наличные",
        "Бұл шлюзде картамен төлеу қосылмаған. Қолма-қол алыңыз",
        "Card payments are not set up on this gateway. Take cash";
    /// The point's password is right but a key was already registered with it: a password
    /// enrols one key, and a new key needs a new password from the dealer.
    PasswordUsed = 919,
        "Этот пароль точки уже использован для ключа. Попросите у дилера новый пароль",
        "Нүктенің бұл құпиясөзі кілтке бұрын пайдаланылған. Дилерден жаңа құпиясөз сұраңыз",
        "This point password was already used for a key. Ask the dealer for a new password";
    /// A batch of payments (`/api/v1/batch`) carries more payments or more bytes than the
    /// gateway takes at once; none of them was looked at, so each may be sent again.
    BatchTooLarge = 920,
        "Слишком много платежей в одном пакете: отправьте их по отдельности",
        "Бір топтамада төлем тым көп: оларды бөлек жіберіңіз",
        "Too many payments in one batch: send them separately";
    /// Something failed inside the gateway; the request may be repeated.
    Internal = 999,
        "Внутренняя ошибка шлюза. Повторите позже",
        "Шлюздің ішкі қатесі. Кейінірек қайталаңыз",
        "Internal gateway error. Try again later";
}

impl Serialize for ResultCode {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u16(self.number())
    }
}

impl<'de> Deserialize<'de> for ResultCode {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let number = u16::deserialize(deserializer)?;
        ResultCode::from_number(number)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown result code {number}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_unique_and_round_trip() {
        let mut seen = std::collections::HashSet::new();
        for code in ResultCode::ALL {
            assert!(
                seen.insert(code.number()),
                "{code:?} reuses {}",
                code.number()
            );
            assert_eq!(ResultCode::from_number(code.number()), Some(*code));
        }
    }

    #[test]
    fn cyberplat_numbers_are_kept() {
        let expected = [
            (ResultCode::SessionExists, 1),
            (ResultCode::BadSignature, 6),
            (ResultCode::BadAmount, 7),
        ];
        for (code, number) in expected {
            assert_eq!(code.number(), number);
        }
        assert_eq!(ResultCode::Duplicate.number(), 32);
        assert_eq!(ResultCode::KeyNotRegistered.number(), 134);
        assert_eq!(ResultCode::InsufficientFunds.number(), 21);
    }

    #[test]
    fn every_code_has_a_distinct_message_in_every_language() {
        for code in ResultCode::ALL {
            let texts: Vec<_> = Lang::ALL.iter().map(|l| code.message(*l)).collect();
            assert!(texts.iter().all(|t| !t.is_empty()), "{code:?}");
            assert_ne!(
                texts[0], texts[2],
                "{code:?}: Russian and English must differ"
            );
        }
    }

    #[test]
    fn language_tags() {
        assert_eq!(Lang::from_tag("kk-KZ"), Lang::Kk);
        assert_eq!(Lang::from_tag("en"), Lang::En);
        assert_eq!(Lang::from_tag("de"), Lang::Ru);
        assert_eq!(Lang::from_tag(""), Lang::Ru);
    }
}

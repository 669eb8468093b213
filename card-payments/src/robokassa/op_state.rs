//! OpStateExt: Robokassa's XML answer about one invoice's operation (docs.robokassa.ru,
//! «XML интерфейсы», «Получение расширенной информации об операции и ее текущего состояния»).
//!
//! A refund names the operation by its OpKey, which only the service knows: it is read here,
//! from `<Info><OpKey>`. The request is `GET …/Merchant/WebService/Service.asmx/OpStateExt?
//! MerchantLogin=…&InvoiceID=…&Signature=MD5(MerchantLogin:InvoiceID:Пароль#2)`.

use quick_xml::Reader;
use quick_xml::escape::escape;
use quick_xml::events::Event;

/// The documented namespace of the answer's root element.
pub const NAMESPACE: &str = "http://auth.robokassa.ru/Merchant/WebService/";

/// `<Result><Code>`: 0 done; 1 bad signature; 2 no such shop; 3 no such invoice; 4 two
/// operations with this InvoiceID (a test payment shares it); 1000 internal error.
pub mod result_code {
    pub const OK: i32 = 0;
    pub const BAD_SIGNATURE: i32 = 1;
    pub const NO_SHOP: i32 = 2;
    pub const NO_INVOICE: i32 = 3;
}

/// `<State><Code>` 100: "the payment went through, the money is on the shop's balance, the
/// notification was sent". (5: started, 10: cancelled, 20: on hold, 50: being credited, 60:
/// returned to the customer, 80: suspended.)
pub const STATE_COMPLETED: i32 = 100;
/// 60: the money went back to the customer.
pub const STATE_RETURNED: i32 = 60;
/// 5, 20, 50 and 80: under way — started, on hold, being credited to the shop, suspended for
/// the service's checks. Each ends in 100 (or 10, 60); a refund waits for it.
pub const STATES_UNDER_WAY: [i32; 4] = [5, 20, 50, 80];

/// What we read from an OpStateExt answer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OpState {
    pub result_code: i32,
    pub result_description: Option<String>,
    pub state_code: Option<i32>,
    pub op_key: Option<String>,
    /// What the customer paid, as the service writes it.
    pub inc_sum: Option<String>,
    pub out_sum: Option<String>,
}

/// Why an answer could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OpStateError {
    #[error("the answer is not XML: {0}")]
    Xml(String),
    #[error("the answer has no <Result><Code>")]
    NoResult,
    #[error("a code is not a number: {0:?}")]
    BadCode(String),
}

impl OpState {
    /// Reads an answer: elements by local name (the namespace is ignored), texts trimmed.
    pub fn decode(xml: &str) -> Result<OpState, OpStateError> {
        let mut reader = Reader::from_str(xml);
        let error = |e: &dyn std::fmt::Display| OpStateError::Xml(e.to_string());
        let mut path: Vec<String> = Vec::new();
        let mut text = String::new();
        let mut state = OpState::default();
        let mut result_code: Option<String> = None;
        loop {
            match reader.read_event().map_err(|e| error(&e))? {
                Event::Start(start) => {
                    path.push(String::from_utf8_lossy(start.local_name().as_ref()).into_owned());
                    text.clear();
                }
                Event::Text(t) => text.push_str(&t.decode().map_err(|e| error(&e))?),
                Event::GeneralRef(reference) => {
                    if let Some(ch) = reference.resolve_char_ref().map_err(|e| error(&e))? {
                        text.push(ch);
                    } else {
                        let name = reference.decode().map_err(|e| error(&e))?;
                        let resolved = quick_xml::escape::resolve_predefined_entity(&name)
                            .ok_or_else(|| OpStateError::Xml(format!("unknown entity &{name};")))?;
                        text.push_str(resolved);
                    }
                }
                Event::End(_) => {
                    let value = text.trim().to_owned();
                    let non_empty = (!value.is_empty()).then(|| value.clone());
                    let names: Vec<&str> = path.iter().skip(1).map(String::as_str).collect();
                    match names.as_slice() {
                        ["Result", "Code"] => result_code = Some(value),
                        ["Result", "Description"] => state.result_description = non_empty,
                        ["State", "Code"] if !value.is_empty() => {
                            state.state_code = Some(parse_code(&value)?)
                        }
                        ["Info", "OpKey"] => state.op_key = non_empty,
                        ["Info", "IncSum"] => state.inc_sum = non_empty,
                        ["Info", "OutSum"] => state.out_sum = non_empty,
                        _ => {}
                    }
                    path.pop();
                    text.clear();
                }
                Event::Eof if !path.is_empty() => {
                    return Err(OpStateError::Xml("the answer is cut short".into()));
                }
                Event::Eof => break,
                _ => {}
            }
        }
        state.result_code = parse_code(&result_code.ok_or(OpStateError::NoResult)?)?;
        Ok(state)
    }

    /// Writes the answer in the documented structure (the emulator's side).
    pub fn encode(&self) -> String {
        let mut xml = format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<OperationStateResponse xmlns=\"{NAMESPACE}\"><Result><Code>{}</Code>",
            self.result_code
        );
        if let Some(description) = &self.result_description {
            xml.push_str(&format!(
                "<Description>{}</Description>",
                escape(description.as_str())
            ));
        }
        xml.push_str("</Result>");
        if let Some(code) = self.state_code {
            xml.push_str(&format!("<State><Code>{code}</Code></State>"));
        }
        if self.op_key.is_some() || self.inc_sum.is_some() || self.out_sum.is_some() {
            xml.push_str("<Info><IncCurrLabel>BankCard</IncCurrLabel>");
            let element = |name: &str, value: &Option<String>| {
                value
                    .as_ref()
                    .map(|v| format!("<{name}>{}</{name}>", escape(v.as_str())))
                    .unwrap_or_default()
            };
            xml.push_str(&element("IncSum", &self.inc_sum));
            xml.push_str(
                "<PaymentMethod><Code>BankCard</Code><Description>Bank card</Description></PaymentMethod>",
            );
            xml.push_str(&element("OutSum", &self.out_sum));
            xml.push_str(&element("OpKey", &self.op_key));
            xml.push_str("</Info>");
        }
        xml.push_str("</OperationStateResponse>");
        xml
    }
}

fn parse_code(text: &str) -> Result<i32, OpStateError> {
    text.parse()
        .map_err(|_| OpStateError::BadCode(text.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The documented structure, filled in.
    #[test]
    fn reads_the_documented_answer() {
        let xml = r#"<?xml version="1.0" encoding="utf-8" ?>
          <OperationStateResponse xmlns="http://auth.robokassa.ru/Merchant/WebService/">
            <Result><Code>0</Code><Description>OK</Description></Result>
            <State><Code>100</Code><RequestDate>2010-02-11T16:07:11.6973153+03:00</RequestDate>
              <StateDate>2010-02-11T16:07:11.6973153+03:00</StateDate></State>
            <Info><IncCurrLabel>BankCard</IncCurrLabel><IncSum>1500.00</IncSum>
              <IncAccount>424242******4242</IncAccount>
              <PaymentMethod><Code>BankCard</Code><Description>Card</Description></PaymentMethod>
              <OutCurrLabel>KZT</OutCurrLabel><OutSum>1455.00</OutSum>
              <OpKey>0005F891-8CCD-434B-8455-816AFFFDBF37-0VOisWikFF</OpKey>
              <BankCardRRN>123</BankCardRRN></Info>
            <UserField><Field><Name>Shp_a</Name><Value>b</Value></Field></UserField>
          </OperationStateResponse>"#;
        let state = OpState::decode(xml).unwrap();
        assert_eq!(state.result_code, result_code::OK);
        assert_eq!(state.state_code, Some(STATE_COMPLETED));
        assert_eq!(
            state.op_key.as_deref(),
            Some("0005F891-8CCD-434B-8455-816AFFFDBF37-0VOisWikFF")
        );
        assert_eq!(state.inc_sum.as_deref(), Some("1500.00"));
        assert_eq!(state.out_sum.as_deref(), Some("1455.00"));
    }

    #[test]
    fn round_trips_and_reads_errors() {
        let state = OpState {
            result_code: 0,
            result_description: None,
            state_code: Some(100),
            op_key: Some("K<&>".into()),
            inc_sum: Some("1.00".into()),
            out_sum: Some("1.00".into()),
        };
        assert_eq!(OpState::decode(&state.encode()), Ok(state));
        let missing = OpState {
            result_code: result_code::NO_INVOICE,
            result_description: Some("no such invoice".into()),
            ..OpState::default()
        };
        assert_eq!(OpState::decode(&missing.encode()), Ok(missing));
        assert_eq!(OpState::decode("<a></a>"), Err(OpStateError::NoResult));
        assert!(matches!(
            OpState::decode("<a><Result>"),
            Err(OpStateError::Xml(_))
        ));
        assert!(matches!(
            OpState::decode("<a><Result><Code>x</Code></Result></a>"),
            Err(OpStateError::BadCode(_))
        ));
    }
}

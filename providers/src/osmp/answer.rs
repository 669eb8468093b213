//! The provider's answer: a small XML document, `Content-Type: text/xml`.
//!
//! ```xml
//! <?xml version="1.0" encoding="UTF-8"?>
//! <response><osmp_txn_id>1234567</osmp_txn_id><prv_txn>2016</prv_txn><sum>10.45</sum>
//! <result>0</result><comment>OK</comment></response>
//! ```
//! A check answer may carry display fields:
//! `<fields><field1 name="fio">Иванов И.</field1><field2 name="debt">1500.00</field2></fields>`.

use quick_xml::Reader;
use quick_xml::escape::{escape, resolve_predefined_entity};
use quick_xml::events::Event;

use super::money::{SumError, format_sum, parse_sum};

/// One answer of the protocol.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Response {
    /// The aggregator's txn_id, echoed. Kept as text: a provider that writes it oddly still
    /// answered; a numeric echo of another number is another transaction's answer
    /// (`client::answer_to`).
    pub osmp_txn_id: Option<String>,
    /// The provider's own number of the payment (a pay answer).
    pub prv_txn: Option<String>,
    pub sum_tiyn: Option<i64>,
    /// The result number (see [`super::result_code`]).
    pub result: u16,
    pub comment: Option<String>,
    /// Display fields of a check answer, in order: (name attribute, text).
    pub fields: Vec<(String, String)>,
}

/// Why a body is not an answer of the protocol.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AnswerError {
    #[error("not well-formed XML: {0}")]
    Xml(String),
    #[error("the root element is <{0}>, not <response>")]
    WrongRoot(String),
    #[error("no <response> element")]
    NoResponse,
    #[error("no <result> in the answer")]
    NoResult,
    #[error("<result> {0:?} is not a number")]
    BadResult(String),
    #[error("<sum>: {0}")]
    BadSum(#[from] SumError),
}

impl Response {
    /// The XML body, with the declaration, every text escaped.
    pub fn encode(&self) -> String {
        let mut xml = String::from(r#"<?xml version="1.0" encoding="UTF-8"?><response>"#);
        let mut element = |name: &str, text: &str| {
            xml.push_str(&format!("<{name}>{}</{name}>", escape(text)));
        };
        if let Some(id) = &self.osmp_txn_id {
            element("osmp_txn_id", id);
        }
        if let Some(prv_txn) = &self.prv_txn {
            element("prv_txn", prv_txn);
        }
        if let Some(sum) = self.sum_tiyn {
            element("sum", &format_sum(sum));
        }
        element("result", &self.result.to_string());
        if !self.fields.is_empty() {
            xml.push_str("<fields>");
            for (index, (name, value)) in self.fields.iter().enumerate() {
                let tag = format!("field{}", index + 1);
                xml.push_str(&format!(
                    r#"<{tag} name="{}">{}</{tag}>"#,
                    escape(name.as_str()),
                    escape(value.as_str())
                ));
            }
            xml.push_str("</fields>");
        }
        if let Some(comment) = &self.comment {
            xml.push_str(&format!("<comment>{}</comment>", escape(comment.as_str())));
        }
        xml.push_str("</response>");
        xml
    }

    /// Reads an answer. Unknown elements are skipped (providers add their own); `<result>` is
    /// required; texts are trimmed; empty `<prv_txn/>`/`<comment/>` read as absent.
    pub fn decode(body: &str) -> Result<Response, AnswerError> {
        let mut reader = Reader::from_str(body);
        let xml = |e: &dyn std::fmt::Display| AnswerError::Xml(e.to_string());
        // Open elements from the root down, and the text of the innermost one.
        let mut path: Vec<String> = Vec::new();
        let mut text = String::new();
        let mut field_name: Option<String> = None;
        let mut answer = Response::default();
        let mut result: Option<String> = None;
        let mut seen_root = false;
        loop {
            match reader.read_event().map_err(|e| xml(&e))? {
                Event::Start(start) => {
                    let name = String::from_utf8_lossy(start.local_name().as_ref()).into_owned();
                    if path.is_empty() {
                        if seen_root {
                            return Err(AnswerError::Xml("a second root element".into()));
                        }
                        if name != "response" {
                            return Err(AnswerError::WrongRoot(name));
                        }
                        seen_root = true;
                    }
                    if path.len() == 2 && path[1] == "fields" {
                        field_name = match start.try_get_attribute("name").map_err(|e| xml(&e))? {
                            Some(attribute) => Some(
                                attribute
                                    .unescape_value()
                                    .map_err(|e| xml(&e))?
                                    .into_owned(),
                            ),
                            None => Some(name.clone()),
                        };
                    }
                    path.push(name);
                    text.clear();
                }
                // An empty root: `<response/>` is an answer without a result, anything else
                // is not an answer. Empty elements inside carry nothing (`<prv_txn/>`).
                Event::Empty(empty) if path.is_empty() => {
                    let name = String::from_utf8_lossy(empty.local_name().as_ref()).into_owned();
                    if name != "response" || seen_root {
                        return Err(AnswerError::WrongRoot(name));
                    }
                    seen_root = true;
                }
                Event::Text(t) => text.push_str(&t.decode().map_err(|e| xml(&e))?),
                Event::CData(t) => text.push_str(&t.decode().map_err(|e| xml(&e))?),
                Event::GeneralRef(reference) => {
                    if let Some(ch) = reference.resolve_char_ref().map_err(|e| xml(&e))? {
                        text.push(ch);
                    } else {
                        let name = reference.decode().map_err(|e| xml(&e))?;
                        let resolved = resolve_predefined_entity(&name)
                            .ok_or_else(|| AnswerError::Xml(format!("unknown entity &{name};")))?;
                        text.push_str(resolved);
                    }
                }
                Event::End(_) => {
                    let value = text.trim().to_owned();
                    let non_empty = (!value.is_empty()).then(|| value.clone());
                    match path.len() {
                        2 => match path[1].as_str() {
                            "osmp_txn_id" => answer.osmp_txn_id = non_empty,
                            "prv_txn" => answer.prv_txn = non_empty,
                            "sum" if !value.is_empty() => {
                                answer.sum_tiyn = Some(parse_echoed_sum(&value)?)
                            }
                            "result" => result = Some(value),
                            "comment" => answer.comment = non_empty,
                            _ => {}
                        },
                        3 if path[1] == "fields" => {
                            let name = field_name.take().unwrap_or_default();
                            answer.fields.push((name, value));
                        }
                        _ => {}
                    }
                    path.pop();
                    text.clear();
                }
                Event::Eof if !path.is_empty() => {
                    // A body cut short must not pass for an answer.
                    return Err(AnswerError::Xml(format!(
                        "the answer ends inside <{}>",
                        path[path.len() - 1]
                    )));
                }
                Event::Eof => break,
                _ => {}
            }
        }
        if !seen_root {
            return Err(AnswerError::NoResponse);
        }
        let result = result.ok_or(AnswerError::NoResult)?;
        answer.result = result.parse().map_err(|_| AnswerError::BadResult(result))?;
        Ok(answer)
    }
}

/// The sum a provider echoes: as [`parse_sum`] reads it, with any decimals past the second
/// allowed when they are zeros. A provider's database keeping four decimals echoes
/// `1000.0000` for exactly the sum sent; refusing it would make every answer of that provider
/// unreadable — each payment committed at the provider yet asked again for ever, each refusal
/// never reversed. A third decimal that is not zero is still refused.
fn parse_echoed_sum(text: &str) -> Result<i64, SumError> {
    let two_decimals = text.find('.').map(|dot| dot + 3);
    match two_decimals.and_then(|end| Some((text.get(..end)?, text.get(end..)?))) {
        Some((kept, zeros)) if !zeros.is_empty() && zeros.bytes().all(|b| b == b'0') => {
            parse_sum(kept)
        }
        _ => parse_sum(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_echoed_sum_with_more_decimals_of_zeros_is_read() {
        let answer = |sum: &str| {
            Response::decode(&format!(
                "<response><osmp_txn_id>1</osmp_txn_id><sum>{sum}</sum><result>0</result></response>"
            ))
        };
        assert_eq!(answer("10.4500").unwrap().sum_tiyn, Some(1045));
        assert_eq!(answer("1000.0000").unwrap().sum_tiyn, Some(100_000));
        assert_eq!(answer("10.45").unwrap().sum_tiyn, Some(1045));
        assert!(
            answer("1.005").is_err(),
            "a third decimal that counts is refused"
        );
        assert!(answer("1.00x").is_err());
        assert!(
            answer("1.0€0").is_err(),
            "not a byte boundary: refused, no panic"
        );
    }

    #[test]
    fn reads_the_protocols_example() {
        let body = r#"<?xml version="1.0" encoding="UTF-8"?><response><osmp_txn_id>1234567</osmp_txn_id><prv_txn>2016</prv_txn><sum>10.45</sum><result>0</result><comment>OK</comment></response>"#;
        let answer = Response::decode(body).unwrap();
        assert_eq!(
            answer,
            Response {
                osmp_txn_id: Some("1234567".into()),
                prv_txn: Some("2016".into()),
                sum_tiyn: Some(1045),
                result: 0,
                comment: Some("OK".into()),
                fields: vec![],
            }
        );
        assert_eq!(answer.encode(), body);
    }

    #[test]
    fn fields_and_escapes_round_trip() {
        let answer = Response {
            osmp_txn_id: Some("1".into()),
            result: 0,
            fields: vec![
                ("fio".into(), "Иванов И.".into()),
                ("debt".into(), "1500.00".into()),
                ("note".into(), r#"<a & "b">"#.into()),
            ],
            comment: Some("ok & <ok>".into()),
            ..Response::default()
        };
        assert_eq!(Response::decode(&answer.encode()), Ok(answer));
    }

    #[test]
    fn reads_loose_layout() {
        let body = "<?xml version=\"1.0\"?>\n<response>\n  <osmp_txn_id> 5 </osmp_txn_id>\n  <extra><x>1</x></extra>\n  <prv_txn/>\n  <result>\n 90 </result>\n  <fields>\n    <field1 name=\"fio\"><![CDATA[A & B]]></field1>\n  </fields>\n</response>\n";
        let answer = Response::decode(body).unwrap();
        assert_eq!(answer.result, 90);
        assert_eq!(answer.osmp_txn_id.as_deref(), Some("5"));
        assert_eq!(answer.prv_txn, None);
        assert_eq!(
            answer.fields,
            vec![("fio".to_string(), "A & B".to_string())]
        );
    }

    #[test]
    fn refuses_what_is_not_an_answer() {
        assert_eq!(Response::decode(""), Err(AnswerError::NoResponse));
        assert_eq!(
            Response::decode("<html>502</html>"),
            Err(AnswerError::WrongRoot("html".into()))
        );
        assert_eq!(
            Response::decode("<response></response>"),
            Err(AnswerError::NoResult)
        );
        assert!(matches!(
            Response::decode("<response><result>ok</result></response>"),
            Err(AnswerError::BadResult(_))
        ));
        assert!(matches!(
            Response::decode("<response><result>0</result>"),
            Err(AnswerError::Xml(_))
        ));
        assert!(matches!(
            Response::decode("<response><sum>1.005</sum><result>0</result></response>"),
            Err(AnswerError::BadSum(_))
        ));
    }
}

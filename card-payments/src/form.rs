//! Form-encoded parameters (`application/x-www-form-urlencoded`): how both services send
//! their notifications, and how Robokassa's page takes its link.

/// Parameters, decoded, in the order sent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Fields(pub Vec<(String, String)>);

impl Fields {
    /// Parses an `application/x-www-form-urlencoded` body (or a GET query).
    pub fn parse(form: &[u8]) -> Fields {
        Fields(form_urlencoded::parse(form).into_owned().collect())
    }

    /// The first value of `name`, if given and not empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }

    /// Encodes the fields as a form body, in order.
    pub fn encode(&self) -> String {
        form_urlencoded::Serializer::new(String::new())
            .extend_pairs(self.0.iter())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_round_trip() {
        let fields = Fields(vec![
            ("InvoiceId".into(), "42".into()),
            ("Description".into(), "Оплата & сдача".into()),
            ("Email".into(), String::new()),
        ]);
        let parsed = Fields::parse(fields.encode().as_bytes());
        assert_eq!(parsed, fields);
        assert_eq!(parsed.get("Description"), Some("Оплата & сдача"));
        assert_eq!(parsed.get("Email"), None);
        assert_eq!(parsed.get("Missing"), None);
    }
}

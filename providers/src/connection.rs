//! How to reach one provider: its protocol, URL, credentials, timeout and, for a provider with
//! its own certificate authority, that CA.
//!
//! A connection holds a password, so its `Debug` and `Display` print `***` in its place: the
//! gateway logs connections and shows them in the console, and neither may leak it.

use std::fmt;
use std::str::FromStr;

/// The language a provider speaks. Text form: `osmp`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// The OSMP/QIWI provider protocol (see [`crate::osmp`]).
    Osmp,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Osmp => "osmp",
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A protocol name we do not speak.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown provider protocol {0:?}: only \"osmp\" is spoken")]
pub struct UnknownProtocol(pub String);

impl FromStr for Protocol {
    type Err = UnknownProtocol;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "osmp" => Ok(Protocol::Osmp),
            other => Err(UnknownProtocol(other.to_owned())),
        }
    }
}

/// How requests prove who sends them.
#[derive(Clone, PartialEq, Eq)]
pub enum Auth {
    None,
    /// HTTP Basic authentication.
    Basic {
        username: String,
        password: String,
    },
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Auth::None => f.write_str("None"),
            Auth::Basic {
                username,
                password: _,
            } => f
                .debug_struct("Basic")
                .field("username", username)
                .field("password", &format_args!("***"))
                .finish(),
        }
    }
}

impl fmt::Display for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Auth::None => f.write_str("no authentication"),
            Auth::Basic {
                username,
                password: _,
            } => write!(f, "basic {username}:***"),
        }
    }
}

/// How to reach a provider.
#[derive(Clone, PartialEq, Eq)]
pub struct Connection {
    pub protocol: Protocol,
    /// The provider's http(s) URL; it may carry a query of its own (`?prv_id=12`), which the
    /// protocol's parameters are added to. Checked by [`Connection::check`].
    pub url: String,
    pub auth: Auth,
    /// How long one request may take, connecting to the end of the answer.
    pub timeout_ms: u64,
    /// An extra root CA (PEM) for a provider whose certificate its own CA signed; the usual
    /// public roots are trusted as well.
    pub ca_cert_pem: Option<String>,
}

/// Why a connection cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConnectionError {
    #[error("the provider's URL {url:?} is not a URL: {reason}")]
    BadUrl { url: String, reason: String },
    #[error("the provider's URL must start with http:// or https://, not {0}://")]
    NotHttp(String),
    #[error(
        "the provider's URL must not carry a user name or password: put them in the authentication settings"
    )]
    CredentialsInUrl,
    #[error("the provider's CA certificate is not a PEM certificate: {0}")]
    BadCaPem(String),
    #[error("the timeout must be more than 0 ms")]
    ZeroTimeout,
    #[error("the HTTP client could not be set up: {0}")]
    Client(String),
}

impl Connection {
    /// Checks the URL and timeout (the CA is checked when the client is built) and returns
    /// the parsed URL.
    pub fn check(&self) -> Result<url::Url, ConnectionError> {
        let url = url::Url::parse(&self.url).map_err(|e| ConnectionError::BadUrl {
            url: self.url.clone(),
            reason: e.to_string(),
        })?;
        if url.scheme() != "http" && url.scheme() != "https" {
            return Err(ConnectionError::NotHttp(url.scheme().to_owned()));
        }
        // Credentials in the URL would end up in logs and in every exchange's record.
        if !url.username().is_empty() || url.password().is_some() {
            return Err(ConnectionError::CredentialsInUrl);
        }
        if url.host().is_none() {
            return Err(ConnectionError::BadUrl {
                url: self.url.clone(),
                reason: "no host".into(),
            });
        }
        if self.timeout_ms == 0 {
            return Err(ConnectionError::ZeroTimeout);
        }
        Ok(url)
    }
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("protocol", &self.protocol)
            .field("url", &self.url)
            .field("auth", &self.auth)
            .field("timeout_ms", &self.timeout_ms)
            .field("ca_cert_pem", &self.ca_cert_pem.as_ref().map(|_| "<PEM>"))
            .finish()
    }
}

impl fmt::Display for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} ({}, timeout {} ms{})",
            self.protocol,
            self.url,
            self.auth,
            self.timeout_ms,
            if self.ca_cert_pem.is_some() {
                ", own CA"
            } else {
                ""
            }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connection(url: &str) -> Connection {
        Connection {
            protocol: Protocol::Osmp,
            url: url.into(),
            auth: Auth::Basic {
                username: "tolem".into(),
                password: "s3cr3t-pw".into(),
            },
            timeout_ms: 5000,
            ca_cert_pem: None,
        }
    }

    #[test]
    fn never_prints_the_password() {
        let c = connection("https://biller.kz/osmp");
        for text in [
            format!("{c:?}"),
            format!("{c:#?}"),
            c.to_string(),
            format!("{:?}", c.auth),
        ] {
            assert!(!text.contains("s3cr3t-pw"), "{text}");
            assert!(text.contains("***"), "{text}");
        }
    }

    #[test]
    fn protocol_text() {
        assert_eq!("osmp".parse::<Protocol>(), Ok(Protocol::Osmp));
        assert_eq!(Protocol::Osmp.to_string(), "osmp");
        assert!("OSMP".parse::<Protocol>().is_err());
    }

    #[test]
    fn checks_the_url() {
        assert!(
            connection("https://biller.kz/osmp?prv_id=3")
                .check()
                .is_ok()
        );
        assert!(connection("http://127.0.0.1:8080/osmp").check().is_ok());
        assert_eq!(
            connection("ftp://biller.kz/").check(),
            Err(ConnectionError::NotHttp("ftp".into()))
        );
        assert_eq!(
            connection("https://u:p@biller.kz/").check(),
            Err(ConnectionError::CredentialsInUrl)
        );
        assert!(matches!(
            connection("biller.kz/osmp").check(),
            Err(ConnectionError::BadUrl { .. })
        ));
        let mut zero = connection("https://biller.kz/");
        zero.timeout_ms = 0;
        assert_eq!(zero.check(), Err(ConnectionError::ZeroTimeout));
    }
}

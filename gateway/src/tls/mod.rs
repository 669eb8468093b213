//! HTTPS served by the gateway itself: the certificate and key it is given
//! (`--tls-cert`/`--tls-key`), the listener that shakes hands with each client
//! ([`listener`]), the plain-HTTP port that sends everyone to HTTPS ([`redirect`]), and the
//! `Strict-Transport-Security` header every HTTPS answer carries.
//!
//! A phone's browser gives a page a service worker and WebCrypto only over HTTPS (or on
//! localhost), so without this the app cannot be tried on a phone without a reverse proxy.

pub mod listener;
pub mod redirect;

use std::{io, path::Path, path::PathBuf, sync::Arc};

use axum::{
    extract::Request,
    http::{HeaderValue, header},
    middleware::Next,
    response::Response,
};
use rustls::{
    ServerConfig,
    pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject},
};

use crate::web::host::request_host;

/// What HTTPS answers say: browsers must come back over HTTPS only, for a year.
pub const HSTS: &str = "max-age=31536000";

/// Why the certificate or key given to the gateway cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file named by the flag.
        path: PathBuf,
        /// What the operating system said.
        source: io::Error,
    },
    /// The certificate file holds no PEM `CERTIFICATE`.
    #[error("{} holds no PEM certificate (-----BEGIN CERTIFICATE-----)", path.display())]
    NoCertificate {
        /// The file named by `--tls-cert`.
        path: PathBuf,
    },
    /// The key file holds no PEM private key.
    #[error("{} holds no PEM private key (PKCS#8, PKCS#1 or SEC1)", path.display())]
    NoKey {
        /// The file named by `--tls-key`.
        path: PathBuf,
    },
    /// rustls refused the pair: most often a key that is not the certificate's.
    #[error("the certificate {} and the key {} do not go together: {source}", cert.display(), key.display())]
    Mismatch {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
        /// What rustls said.
        source: rustls::Error,
    },
}

/// The server side of TLS for the certificate chain in `cert` and the private key in `key`
/// (both PEM; the chain's first certificate is the server's, intermediates follow).
pub fn server_config(cert: &Path, key: &Path) -> Result<Arc<ServerConfig>, TlsError> {
    let read = |path: &Path| {
        std::fs::read(path).map_err(|source| TlsError::Read {
            path: path.to_owned(),
            source,
        })
    };
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&read(cert)?)
        .filter_map(Result::ok)
        .collect();
    if chain.is_empty() {
        return Err(TlsError::NoCertificate {
            path: cert.to_owned(),
        });
    }
    let private_key = PrivateKeyDer::from_pem_slice(&read(key)?).map_err(|_| TlsError::NoKey {
        path: key.to_owned(),
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mismatch = |source| TlsError::Mismatch {
        cert: cert.to_owned(),
        key: key.to_owned(),
        source,
    };
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(mismatch)?
        .with_no_client_auth()
        .with_single_cert(chain, private_key)
        .map_err(mismatch)?;
    // HTTP/2 first: a page's requests share one connection instead of opening up to six, each
    // with its own handshake (two round trips, 300 ms and more on a phone's slow line).
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Adds `Strict-Transport-Security` to every answer, except to a request addressed to
/// `localhost`: browsers ignore the header for IP addresses, but Chromium would remember it
/// for `localhost` and then refuse the plain `http://localhost:8080` of the local demo for a
/// year.
pub async fn strict_transport(request: Request, next: Next) -> Response {
    let localhost = request_host(request.headers(), request.uri()).is_some_and(|host| {
        let name = redirect::host_name(host).to_ascii_lowercase();
        name == "localhost" || name.ends_with(".localhost")
    });
    let mut response = next.run(request).await;
    if !localhost {
        response
            .headers_mut()
            .entry(header::STRICT_TRANSPORT_SECURITY)
            .or_insert(HeaderValue::from_static(HSTS));
    }
    response
}

/// The certificate-authority file phones download at `/lan-ca.crt` (DER, which Android's
/// installer and iOS's profile installer both take), from the PEM file given to
/// `--lan-ca-file`.
pub fn ca_der(path: &Path) -> Result<Vec<u8>, TlsError> {
    let pem = std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_owned(),
        source,
    })?;
    CertificateDer::from_pem_slice(&pem)
        .map(|der| der.to_vec())
        .map_err(|_| TlsError::NoCertificate {
            path: path.to_owned(),
        })
}

/// The path the local CA is served at, on the HTTPS port and on the redirect port (a phone
/// that does not trust it yet gets it there without a certificate warning).
pub const CA_PATH: &str = "/lan-ca.crt";

/// The answer to `GET /lan-ca.crt`.
pub fn ca_response(der: &[u8]) -> Response {
    use axum::response::IntoResponse;
    (
        // The type alone makes iOS offer the profile and Android save the file to install.
        [(header::CONTENT_TYPE, "application/x-x509-ca-cert")],
        der.to_vec(),
    )
        .into_response()
}

//! The host a request was sent to, over HTTP/1.1 and HTTP/2 alike.
//!
//! HTTP/1.1 names it in the `Host` header. HTTP/2 (which HTTPS offers, `crate::tls`) names it
//! in the `:authority` pseudo-header, which hyper puts into the request's URI and not into a
//! `Host` header. Code that reads only `Host` would find no host in a browser's HTTP/2
//! requests: the console would take every form as cross-origin, and `localhost` would be
//! sent HSTS.

use axum::http::{HeaderMap, Uri, header};

/// `host[:port]` as the client wrote it: the `Host` header, or else the URI's authority.
pub fn request_host<'a>(headers: &'a HeaderMap, uri: &'a Uri) -> Option<&'a str> {
    headers
        .get(header::HOST)
        .and_then(|host| host.to_str().ok())
        .or_else(|| uri.authority().map(|authority| authority.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_host_header_first_then_the_authority_of_an_http2_request() {
        let mut headers = HeaderMap::new();
        let http2: Uri = "https://192.168.1.5:8443/console/login".parse().unwrap();
        assert_eq!(request_host(&headers, &http2), Some("192.168.1.5:8443"));
        let http1: Uri = "/console/login".parse().unwrap();
        assert_eq!(request_host(&headers, &http1), None);
        headers.insert(header::HOST, "localhost:8080".parse().unwrap());
        assert_eq!(request_host(&headers, &http1), Some("localhost:8080"));
    }
}

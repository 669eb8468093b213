//! Slow clients cannot hold the gateway's connections for ever: a request whose headers never
//! end, or whose body trickles, is cut off after the configured time (`startup::SlowClients`),
//! while other clients are served meanwhile and still carry their address (`ConnectInfo`).
//!
//! The tests run the gateway's own serving function, [`startup::serve_with`] (what
//! `startup::serve` runs with the product's 30 s and 60 s), with 1 s limits to stay fast.

use std::{net::SocketAddr, time::Duration};

use axum::{Router, body::Bytes, extract::ConnectInfo, routing::get};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    time::{Instant, timeout},
};
use tolem_gateway::startup::{self, SlowClients};

/// The limits the test gateway runs with.
const LIMIT: Duration = Duration::from_secs(1);

/// The most a test waits for the gateway to cut a slow client off (or to answer): generous, as
/// a busy machine runs timers late; a closed connection ends the wait at once.
const PATIENCE: Duration = Duration::from_secs(30);

/// A gateway served by `startup::serve_with` with [`LIMIT`] for headers and bodies: `GET /`
/// answers the client's address as the gateway sees it, `POST /` the length of the body.
async fn start() -> SocketAddr {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect("sqlite::memory:").await.unwrap();
    let app = Router::new().route(
        "/",
        get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move { peer.to_string() })
            .post(|body: Bytes| async move { body.len().to_string() }),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let slow = SlowClients {
        header_read: LIMIT,
        body_read: LIMIT,
    };
    tokio::spawn(startup::serve_with(listener, app, pool, slow));
    addr
}

/// Reads until the gateway closes the connection (end of stream or an error, such as a reset)
/// and returns what came.
async fn read_to_close(stream: &mut (impl tokio::io::AsyncRead + Unpin)) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buffer = [0; 1024];
    loop {
        match stream.read(&mut buffer).await {
            Ok(0) | Err(_) => return got,
            Ok(n) => got.extend_from_slice(&buffer[..n]),
        }
    }
}

/// A plain `GET /` on a connection of its own: the answer's body, the client's address.
async fn get_from_another_connection(addr: SocketAddr) -> (String, SocketAddr) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let local = stream.local_addr().unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let answer = timeout(PATIENCE, read_to_close(&mut stream))
        .await
        .expect("a normal request is answered while a slow client waits");
    (String::from_utf8_lossy(&answer).into_owned(), local)
}

#[tokio::test]
async fn unfinished_headers_are_cut_off_while_others_are_served() {
    let addr = start().await;
    let mut slow = TcpStream::connect(addr).await.unwrap();
    // The request line and one header, never the empty line that ends them.
    slow.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let began = Instant::now();

    let (answer, local) = get_from_another_connection(addr).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with(&local.to_string()), "{answer}");

    let got = timeout(PATIENCE, read_to_close(&mut slow))
        .await
        .expect("the gateway closes a connection whose headers never end");
    // hyper may say 408 Request Timeout before closing; it never serves the request.
    let got = String::from_utf8_lossy(&got);
    assert!(!got.contains(" 200 "), "{got}");
    assert!(began.elapsed() >= LIMIT / 2, "cut off too early: {got}");
}

#[tokio::test]
async fn trickled_body_is_cut_off() {
    let addr = start().await;
    let mut slow = TcpStream::connect(addr).await.unwrap();
    slow.write_all(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n")
        .await
        .unwrap();
    let (mut reading, mut writing) = slow.into_split();
    // One byte every 100 ms, far faster than any per-read idle timeout would notice.
    let trickle = tokio::spawn(async move {
        while writing.write_all(b"x").await.is_ok() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });

    let (answer, local) = get_from_another_connection(addr).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with(&local.to_string()), "{answer}");

    let got = timeout(PATIENCE, read_to_close(&mut reading))
        .await
        .expect("the gateway stops waiting for a body that trickles");
    trickle.abort();
    let got = String::from_utf8_lossy(&got);
    // The handler never sees the body: an error status, or the connection closed.
    assert!(!got.contains(" 200 "), "{got}");
}

/// Over HTTPS, served by `startup::serve_tls_with`, where it mattered most: a client that
/// finishes the handshake and then never ends its headers is cut off as over plain HTTP,
/// while a browser's request (HTTP/2) is answered meanwhile with its own address.
#[tokio::test]
async fn unfinished_headers_are_cut_off_over_https() {
    use std::sync::Arc;

    use rustls::pki_types::{CertificateDer, ServerName, pem::PemObject};
    use tolem_gateway::{lan::certificate::ensure, tls};

    let dir = tempfile::tempdir().unwrap();
    let certificate = ensure(dir.path(), &[], time::OffsetDateTime::now_utc()).unwrap();
    let config = tls::server_config(&certificate.server_cert, &certificate.server_key).unwrap();
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect("sqlite::memory:").await.unwrap();
    let app = Router::new().route(
        "/",
        get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move { peer.to_string() }),
    );
    let tcp = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = tcp.local_addr().unwrap();
    let listener = tls::listener::TlsListener::new(tcp, config).unwrap();
    let slow = SlowClients {
        header_read: LIMIT,
        body_read: LIMIT,
    };
    tokio::spawn(startup::serve_tls_with(listener, app, None, pool, slow));

    let ca = std::fs::read(&certificate.ca_cert).unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(&ca).unwrap())
        .unwrap();
    let client = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(client));
    let tcp = TcpStream::connect(addr).await.unwrap();
    let name = ServerName::try_from("127.0.0.1").unwrap();
    let mut slow = connector.connect(name, tcp).await.unwrap();
    slow.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    slow.flush().await.unwrap();

    let browser = reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(&ca).unwrap())
        .build()
        .unwrap();
    let answer = timeout(PATIENCE, browser.get(format!("https://{addr}/")).send())
        .await
        .expect("a browser is answered while a slow client waits")
        .unwrap();
    assert_eq!(answer.version(), reqwest::Version::HTTP_2);
    let seen = answer.text().await.unwrap();
    assert!(seen.starts_with("127.0.0.1:"), "{seen}");

    let got = timeout(PATIENCE, read_to_close(&mut slow))
        .await
        .expect("the gateway closes a TLS connection whose headers never end");
    let got = String::from_utf8_lossy(&got);
    assert!(!got.contains(" 200 "), "{got}");
}

//! Guards `tolem-gateway lan-certificate`, what `scripts/run.sh --lan` makes so a phone can
//! open the app over HTTPS: a local certificate authority and a server certificate it signs
//! for the given addresses and loopback, which a TLS client trusting only that authority
//! accepts for exactly those addresses; kept and reused as they are on the next run (the
//! phone trusts the authority once); the server certificate made again — the authority kept —
//! when the addresses change or the certificate nears its end.

mod support;

use std::{net::IpAddr, path::Path, sync::Arc};

use rustls::{
    RootCertStore,
    client::{WebPkiServerVerifier, danger::ServerCertVerifier},
    pki_types::{CertificateDer, ServerName, UnixTime, pem::PemObject},
};
use time::{Duration, OffsetDateTime};
use tolem_gateway::lan::certificate::{LanCertificate, ensure};

fn ips(list: &[&str]) -> Vec<IpAddr> {
    list.iter().map(|ip| ip.parse().unwrap()).collect()
}

fn der(path: &Path) -> CertificateDer<'static> {
    CertificateDer::from_pem_file(path).unwrap()
}

/// Whether a client trusting only `made`'s authority accepts its server certificate for
/// `name` (an address or a host name) at `at`.
fn accepted_for(made: &LanCertificate, name: &str, at: OffsetDateTime) -> bool {
    let mut roots = RootCertStore::empty();
    roots.add(der(&made.ca_cert)).unwrap();
    let verifier = WebPkiServerVerifier::builder_with_provider(
        Arc::new(roots),
        Arc::new(rustls::crypto::ring::default_provider()),
    )
    .build()
    .unwrap();
    let name = ServerName::try_from(name.to_owned()).unwrap();
    let at = UnixTime::since_unix_epoch(std::time::Duration::from_secs(at.unix_timestamp() as u64));
    verifier
        .verify_server_cert(&der(&made.server_cert), &[], &name, &[], at)
        .is_ok()
}

fn bytes(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap()
}

#[test]
fn the_server_certificate_is_trusted_through_the_authority_for_its_addresses_only() {
    let dir = tempfile::tempdir().unwrap();
    let now = OffsetDateTime::now_utc();
    let made = ensure(dir.path(), &ips(&["192.168.1.5", "fd00::5"]), now).unwrap();
    assert!(made.ca_made && made.server_made);
    assert_eq!(
        made.addresses,
        ips(&["127.0.0.1", "192.168.1.5", "::1", "fd00::5"])
    );
    for name in ["192.168.1.5", "fd00::5", "127.0.0.1", "::1", "localhost"] {
        assert!(accepted_for(&made, name, now), "{name}");
    }
    for name in ["192.168.1.6", "example.com"] {
        assert!(!accepted_for(&made, name, now), "{name}");
    }
    // Valid from now for a year and a month, not past what iOS accepts (825 days).
    assert!(accepted_for(
        &made,
        "192.168.1.5",
        now + Duration::days(396)
    ));
    assert!(!accepted_for(
        &made,
        "192.168.1.5",
        now + Duration::days(398)
    ));

    // The keys are the owner's only; the phones' file is the authority's certificate.
    #[cfg(unix)]
    for key in ["ca.key", "server.key"] {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join(key))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{key}");
    }
    let ca = der(&made.ca_cert);
    assert_eq!(
        made.ca_fingerprint,
        tolem_gateway::lan::certificate::fingerprint(&ca)
    );
    assert_eq!(made.ca_fingerprint.len(), 32 * 3 - 1);
}

#[test]
fn kept_when_nothing_changed_and_remade_for_new_addresses_or_near_its_end() {
    let dir = tempfile::tempdir().unwrap();
    let now = OffsetDateTime::now_utc();
    let first = ensure(dir.path(), &ips(&["192.168.1.5"]), now).unwrap();
    let ca = bytes(&first.ca_cert);
    let server = bytes(&first.server_cert);

    // The same addresses (in another order, loopback repeated): everything kept as it was.
    let again = ensure(dir.path(), &ips(&["127.0.0.1", "192.168.1.5"]), now).unwrap();
    assert!(!again.ca_made && !again.server_made);
    assert_eq!(bytes(&again.ca_cert), ca);
    assert_eq!(bytes(&again.server_cert), server);
    assert_eq!(again.ca_fingerprint, first.ca_fingerprint);

    // Another network: a new server certificate for it, from the same authority.
    let moved = ensure(dir.path(), &ips(&["10.0.0.7"]), now).unwrap();
    assert!(!moved.ca_made && moved.server_made);
    assert_eq!(bytes(&moved.ca_cert), ca, "the phone keeps trusting it");
    assert_ne!(bytes(&moved.server_cert), server);
    assert!(accepted_for(&moved, "10.0.0.7", now));
    assert!(!accepted_for(&moved, "192.168.1.5", now));

    // Within 30 days of its end: made again, so it never expires under a running demo.
    let later = now + Duration::days(370);
    let renewed = ensure(dir.path(), &ips(&["10.0.0.7"]), later).unwrap();
    assert!(!renewed.ca_made && renewed.server_made);
    assert!(accepted_for(
        &renewed,
        "10.0.0.7",
        later + Duration::days(300)
    ));
}

#[tokio::test]
async fn the_command_prints_the_files_and_whether_phones_must_trust_again() {
    let dir = tempfile::tempdir().unwrap();
    let run = |ip: &'static str| {
        let mut command = support::binary_in(dir.path());
        command.args(["lan-certificate", "--dir", "data/lan", "--ip", ip]);
        command
    };
    let output = run("192.168.1.5").output().await.unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(
        stdout.contains("data/lan/ca.crt (new: phones must trust it"),
        "{stdout}"
    );
    assert!(stdout.contains("data/lan/server.crt"), "{stdout}");
    assert!(stdout.contains("192.168.1.5"), "{stdout}");
    assert!(dir.path().join("data/lan/server.key").is_file());

    let output = run("192.168.1.5").output().await.unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("data/lan/ca.crt (kept"), "{stdout}");
    assert!(stdout.contains("(kept for localhost"), "{stdout}");

    let output = run("not-an-address").output().await.unwrap();
    assert!(!output.status.success());
}

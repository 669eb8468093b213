//! `tolem-gateway lan-certificate`: a certificate authority made once on this machine, and a
//! server certificate it signs for this machine's addresses (plus `localhost`, 127.0.0.1 and
//! ::1), kept in one directory (`data/lan`). A phone trusts the authority once; the server
//! certificate is made again whenever the addresses change (another Wi-Fi, a new DHCP lease)
//! or it nears its end, without the phone noticing.
//!
//! Files: `ca.crt` (what phones install), `ca.key`, `server.crt`, `server.key` (keys mode
//! 0600) and `server.json` (which addresses `server.crt` names, and until when).

use std::{
    collections::BTreeSet,
    fs::{self, OpenOptions},
    io::{self, Write},
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
    path::{Path, PathBuf},
};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use rustls::pki_types::pem::PemObject;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime};

/// The authority's lifetime: a phone trusts it for as long as Tolem is tried on this machine.
const CA_DAYS: i64 = 3650;
/// The server certificate's lifetime: iOS refuses TLS certificates valid for more than 825
/// days, and 397 is what every browser accepts.
const SERVER_DAYS: i64 = 397;
/// A server certificate this close to its end is made again.
const RENEW_DAYS: i64 = 30;

/// Why the certificates could not be made or read.
#[derive(Debug, thiserror::Error)]
pub enum LanCertificateError {
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    File {
        /// The file or directory.
        path: PathBuf,
        /// What the operating system said.
        source: io::Error,
    },
    /// A kept key or the generator failed.
    #[error("cannot make the certificate: {0}")]
    Generate(#[from] rcgen::Error),
}

/// What [`ensure`] left in the directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LanCertificate {
    /// The authority's certificate (PEM), for `--lan-ca-file` and the phones.
    pub ca_cert: PathBuf,
    /// The server certificate (PEM), for `--tls-cert`.
    pub server_cert: PathBuf,
    /// Its key (PEM), for `--tls-key`.
    pub server_key: PathBuf,
    /// Whether the authority was made now (phones must trust it again).
    pub ca_made: bool,
    /// Whether the server certificate was made now.
    pub server_made: bool,
    /// The addresses the server certificate names, sorted.
    pub addresses: Vec<IpAddr>,
    /// SHA-256 of the authority's certificate, as phones show it (`AB:CD:…`).
    pub ca_fingerprint: String,
}

/// `server.json`: what `server.crt` was made for.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct Made {
    addresses: Vec<IpAddr>,
    /// Unix seconds.
    not_after: i64,
}

/// Makes what is missing in `dir` and keeps the rest: the authority once, the server
/// certificate for `addresses` (with loopback added) unless the kept one names exactly them
/// and has more than 30 days left at `now`.
pub fn ensure(
    dir: &Path,
    addresses: &[IpAddr],
    now: OffsetDateTime,
) -> Result<LanCertificate, LanCertificateError> {
    fs::create_dir_all(dir).map_err(file_error(dir))?;
    let paths = Paths::in_dir(dir);
    let wanted: Vec<IpAddr> = addresses
        .iter()
        .copied()
        .chain([
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(Ipv6Addr::LOCALHOST),
        ])
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();

    let (ca_key, ca_made) = match (read(&paths.ca_key), paths.ca_cert.is_file()) {
        (Ok(pem), true) => (KeyPair::from_pem(&pem)?, false),
        _ => {
            let key = KeyPair::generate()?;
            let cert = ca_params(&key, now).self_signed(&key)?;
            write(&paths.ca_cert, cert.pem().as_bytes(), false)?;
            write(&paths.ca_key, key.serialize_pem().as_bytes(), true)?;
            (key, true)
        }
    };

    let kept = read(&paths.made)
        .ok()
        .and_then(|json| serde_json::from_str::<Made>(&json).ok())
        .filter(|made| {
            made.addresses == wanted
                && made.not_after - now.unix_timestamp() > RENEW_DAYS * 86_400
                && paths.server_cert.is_file()
                && paths.server_key.is_file()
        });
    let server_made = ca_made || kept.is_none();
    if server_made {
        let key = KeyPair::generate()?;
        let not_after = now + Duration::days(SERVER_DAYS);
        let issuer = Issuer::new(ca_params(&ca_key, now), &ca_key);
        let cert = server_params(&wanted, now, not_after).signed_by(&key, &issuer)?;
        write(&paths.server_key, key.serialize_pem().as_bytes(), true)?;
        write(&paths.server_cert, cert.pem().as_bytes(), false)?;
        let made = Made {
            addresses: wanted.clone(),
            not_after: not_after.unix_timestamp(),
        };
        let json = serde_json::to_string_pretty(&made).unwrap_or_default();
        write(&paths.made, json.as_bytes(), false)?;
    }

    let ca_pem = read(&paths.ca_cert)?;
    let ca_der = rustls::pki_types::CertificateDer::from_pem_slice(ca_pem.as_bytes())
        .map(|der| der.to_vec())
        .unwrap_or_default();
    Ok(LanCertificate {
        ca_cert: paths.ca_cert,
        server_cert: paths.server_cert,
        server_key: paths.server_key,
        ca_made,
        server_made,
        addresses: wanted,
        ca_fingerprint: fingerprint(&ca_der),
    })
}

/// SHA-256 of a DER certificate as `AB:CD:…`, the way iOS and Android show it.
pub fn fingerprint(der: &[u8]) -> String {
    Sha256::digest(der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// The authority's parameters. The server certificate is signed with an issuer rebuilt from
/// them and the kept key, so they depend on nothing but the key: its name carries the key's
/// fingerprint, which tells two machines' authorities apart in a phone's list.
fn ca_params(key: &KeyPair, now: OffsetDateTime) -> CertificateParams {
    let mut params = CertificateParams::default();
    let id = Sha256::digest(key.public_key_raw());
    let short: String = id.iter().take(4).map(|b| format!("{b:02x}")).collect();
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, format!("Tolem local CA {short}"));
    name.push(DnType::OrganizationName, "Tolem (local, for trying it out)");
    params.distinguished_name = name;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.not_before = now - Duration::days(1);
    params.not_after = now + Duration::days(CA_DAYS);
    params
}

/// The server certificate's parameters: the addresses and `localhost`.
fn server_params(
    addresses: &[IpAddr],
    now: OffsetDateTime,
    not_after: OffsetDateTime,
) -> CertificateParams {
    let mut params = CertificateParams::default();
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, "Tolem gateway (local network)");
    params.distinguished_name = name;
    params.subject_alt_names = addresses.iter().map(|ip| SanType::IpAddress(*ip)).collect();
    if let Ok(localhost) = "localhost".try_into() {
        params.subject_alt_names.push(SanType::DnsName(localhost));
    }
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    // An hour back: a phone whose clock is a little behind still accepts a fresh one.
    params.not_before = now - Duration::hours(1);
    params.not_after = not_after;
    params
}

struct Paths {
    ca_cert: PathBuf,
    ca_key: PathBuf,
    server_cert: PathBuf,
    server_key: PathBuf,
    made: PathBuf,
}

impl Paths {
    fn in_dir(dir: &Path) -> Paths {
        Paths {
            ca_cert: dir.join("ca.crt"),
            ca_key: dir.join("ca.key"),
            server_cert: dir.join("server.crt"),
            server_key: dir.join("server.key"),
            made: dir.join("server.json"),
        }
    }
}

fn file_error(path: &Path) -> impl FnOnce(io::Error) -> LanCertificateError + '_ {
    move |source| LanCertificateError::File {
        path: path.to_owned(),
        source,
    }
}

fn read(path: &Path) -> Result<String, LanCertificateError> {
    fs::read_to_string(path).map_err(file_error(path))
}

/// Replaces `path` with `bytes`; a key is readable by its owner only.
fn write(path: &Path, bytes: &[u8], secret: bool) -> Result<(), LanCertificateError> {
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if secret {
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    }
    #[cfg(not(unix))]
    let _ = secret;
    let mut file = options.open(path).map_err(file_error(path))?;
    file.write_all(bytes).map_err(file_error(path))
}

//! The gateway's own Ed25519 key: it signs every answer to the phone, and its public half is
//! on every key card so the phone can tell a real answer from a forged one.
//!
//! The key lives in one file (`--gateway-key-file`), made on first start from the OS random
//! source with mode 0600. Losing or replacing the file means every phone holds the wrong
//! gateway key and needs a new key card, so the gateway never replaces a file it cannot read:
//! it stops with a message instead. The secret is never logged; `Debug` shows the public key.

use std::{
    fmt,
    fs::{self, OpenOptions},
    io::{self, Write},
    path::{Path, PathBuf},
};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use tolem_protocol::keys::{PublicKey, SecretKey, Signature};

use crate::secrets::{RandomError, random_bytes};

/// Why the gateway key could not be loaded or created.
#[derive(Debug, thiserror::Error)]
pub enum GatewayKeyError {
    /// The file exists but could not be read, or its directory could not be created.
    #[error("cannot read the gateway key {}: {source}", path.display())]
    Read { path: PathBuf, source: io::Error },
    /// A new key could not be written.
    #[error("cannot create the gateway key {}: {source}", path.display())]
    Create { path: PathBuf, source: io::Error },
    /// The file does not hold a key. Not replaced automatically: see the module docs.
    #[error(
        "{} is not a gateway key (expected one line of 43 base64url characters); restore it \
         from a backup, or delete it to make a new key (every phone then needs a new key card)",
        path.display()
    )]
    Corrupt { path: PathBuf },
    /// No randomness for a new key.
    #[error(transparent)]
    Random(#[from] RandomError),
}

/// The gateway's signing key.
pub struct GatewayKey {
    secret: SecretKey,
    public: PublicKey,
}

impl GatewayKey {
    /// A key from 32 seed bytes (tests; [`Self::load_or_create`] in production).
    pub fn from_seed(seed: &[u8; 32]) -> GatewayKey {
        let secret = SecretKey::from_seed(seed);
        let public = secret.public_key();
        GatewayKey { secret, public }
    }

    /// A new key from the OS random source, kept only in memory.
    pub fn generate() -> Result<GatewayKey, GatewayKeyError> {
        Ok(GatewayKey::from_seed(&random_bytes::<32>()?))
    }

    /// Reads the key from `path`, or makes one there (mode 0600, directory created) if the
    /// file does not exist.
    pub fn load_or_create(path: &Path) -> Result<GatewayKey, GatewayKeyError> {
        match fs::read_to_string(path) {
            Ok(text) => {
                warn_if_readable_by_others(path);
                parse(&text).ok_or_else(|| GatewayKeyError::Corrupt {
                    path: path.to_owned(),
                })
            }
            Err(error) if error.kind() == io::ErrorKind::NotFound => create(path),
            Err(source) => Err(GatewayKeyError::Read {
                path: path.to_owned(),
                source,
            }),
        }
    }

    /// The public half, for key cards.
    pub fn public_key(&self) -> PublicKey {
        self.public
    }

    /// Signs exactly `data`.
    pub fn sign(&self, data: &[u8]) -> Signature {
        self.secret.sign(data)
    }
}

impl fmt::Debug for GatewayKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "GatewayKey(public {})", self.public)
    }
}

fn parse(text: &str) -> Option<GatewayKey> {
    let bytes = URL_SAFE_NO_PAD.decode(text.trim()).ok()?;
    Some(GatewayKey::from_seed(&bytes.try_into().ok()?))
}

/// Writes a new key with `create_new`, so two gateways starting at once cannot both write:
/// the loser reads the winner's key.
fn create(path: &Path) -> Result<GatewayKey, GatewayKeyError> {
    let create_error = |source| GatewayKeyError::Create {
        path: path.to_owned(),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir).map_err(create_error)?;
    }
    let seed = random_bytes::<32>()?;
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = match options.open(path) {
        Ok(file) => file,
        Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {
            return GatewayKey::load_or_create(path);
        }
        Err(source) => return Err(create_error(source)),
    };
    writeln!(file, "{}", URL_SAFE_NO_PAD.encode(seed)).map_err(create_error)?;
    file.sync_all().map_err(create_error)?;
    let key = GatewayKey::from_seed(&seed);
    tracing::info!(path = %path.display(), public_key = %key.public, "gateway key created");
    Ok(key)
}

/// A key file others can read is a leak waiting to happen, but refusing to start would turn a
/// chmod mistake into an outage; a warning in the log is the balance.
fn warn_if_readable_by_others(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = fs::metadata(path)
            && meta.permissions().mode() & 0o077 != 0
        {
            tracing::warn!(
                path = %path.display(),
                "the gateway key file is readable by other users: chmod 600 it"
            );
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_once_then_loaded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data/gateway.key");
        let first = GatewayKey::load_or_create(&path).unwrap();
        let again = GatewayKey::load_or_create(&path).unwrap();
        assert_eq!(first.public_key(), again.public_key());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(!format!("{first:?}").contains(fs::read_to_string(&path).unwrap().trim()));
    }

    #[test]
    fn a_corrupt_file_is_not_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gateway.key");
        fs::write(&path, "not a key").unwrap();
        let error = GatewayKey::load_or_create(&path).unwrap_err();
        assert!(matches!(error, GatewayKeyError::Corrupt { .. }), "{error}");
        assert_eq!(fs::read_to_string(&path).unwrap(), "not a key");
    }
}

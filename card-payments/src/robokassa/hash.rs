//! The hash Robokassa's signatures are made with: the one the shop's technical settings name.
//!
//! Every signature made with Password #1 or #2 — the payment link's SignatureValue, ResultURL's
//! and SuccessURL's, OpStateExt's Signature — is "хэш, число в 16-ричной форме и любом
//! регистре (0-9, A-F), рассчитанное методом указанным в Технических настройках магазина"
//! (docs.robokassa.ru, <https://docs.robokassa.ru/script-parameters/> «Параметры скрипта»,
//! SignatureValue; «Оповещение об оплате на ResultURL»; «XML интерфейсы», OpStateExt). The
//! settings offer MD5, RIPEMD160, SHA1, SHA256, SHA384 and SHA512, MD5 by default; a shop set
//! to another one refuses a link signed with MD5 (error 29) and signs its notifications with
//! the one it is set to. (Integrations list the same six, e.g. the Node.js client
//! `@martcarrefour/robokassa`'s `hashAlgorithm?: 'md5' | 'sha1' | 'sha256' | 'sha384' |
//! 'sha512' | 'ripemd160'`, default `'md5'`.)

use std::fmt;
use std::str::FromStr;

use md5::Md5;
use ripemd::Ripemd160;
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha384, Sha512};

/// «Алгоритм расчета хеша» in the shop's technical settings.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum HashAlgorithm {
    /// What a shop is set up with unless its owner changed it.
    #[default]
    Md5,
    Ripemd160,
    Sha1,
    Sha256,
    Sha384,
    Sha512,
}

/// A name that is none of the settings' algorithms.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "{0:?} is not one of Robokassa's hash algorithms (md5, ripemd160, sha1, sha256, sha384, sha512)"
)]
pub struct UnknownHashAlgorithm(pub String);

impl HashAlgorithm {
    /// All of them, in the settings' order.
    pub const ALL: [HashAlgorithm; 6] = [
        HashAlgorithm::Md5,
        HashAlgorithm::Ripemd160,
        HashAlgorithm::Sha1,
        HashAlgorithm::Sha256,
        HashAlgorithm::Sha384,
        HashAlgorithm::Sha512,
    ];

    /// The name settings and command lines use: `md5`, `ripemd160`, `sha1`, `sha256`,
    /// `sha384`, `sha512`.
    pub fn name(self) -> &'static str {
        match self {
            HashAlgorithm::Md5 => "md5",
            HashAlgorithm::Ripemd160 => "ripemd160",
            HashAlgorithm::Sha1 => "sha1",
            HashAlgorithm::Sha256 => "sha256",
            HashAlgorithm::Sha384 => "sha384",
            HashAlgorithm::Sha512 => "sha512",
        }
    }

    /// Lowercase hex of the hash of the UTF-8 text.
    pub fn hex(self, text: &str) -> String {
        let bytes = text.as_bytes();
        let digest: Vec<u8> = match self {
            HashAlgorithm::Md5 => Md5::digest(bytes).to_vec(),
            HashAlgorithm::Ripemd160 => Ripemd160::digest(bytes).to_vec(),
            HashAlgorithm::Sha1 => Sha1::digest(bytes).to_vec(),
            HashAlgorithm::Sha256 => Sha256::digest(bytes).to_vec(),
            HashAlgorithm::Sha384 => Sha384::digest(bytes).to_vec(),
            HashAlgorithm::Sha512 => Sha512::digest(bytes).to_vec(),
        };
        digest.iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl FromStr for HashAlgorithm {
    type Err = UnknownHashAlgorithm;

    /// A name in any case, as the settings page spells it (`SHA256`) or as [`Self::name`].
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        HashAlgorithm::ALL
            .into_iter()
            .find(|algorithm| algorithm.name().eq_ignore_ascii_case(text.trim()))
            .ok_or_else(|| UnknownHashAlgorithm(text.to_owned()))
    }
}

impl fmt::Display for HashAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Vectors of "abc" from each algorithm's standard (RFC 1321, the RIPEMD-160 paper,
    /// FIPS 180-2).
    #[test]
    fn known_vectors() {
        let abc = |algorithm: HashAlgorithm| algorithm.hex("abc");
        assert_eq!(abc(HashAlgorithm::Md5), "900150983cd24fb0d6963f7d28e17f72");
        assert_eq!(
            abc(HashAlgorithm::Ripemd160),
            "8eb208f7e05d987a9b044a8e98c6b087f15a0bfc"
        );
        assert_eq!(
            abc(HashAlgorithm::Sha1),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
        assert_eq!(
            abc(HashAlgorithm::Sha256),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(abc(HashAlgorithm::Sha384).starts_with("cb00753f45a35e8bb5a03d699ac65007"));
        assert!(abc(HashAlgorithm::Sha512).starts_with("ddaf35a193617abacc417349ae204131"));
        assert_eq!(abc(HashAlgorithm::Sha384).len(), 96);
        assert_eq!(abc(HashAlgorithm::Sha512).len(), 128);
    }

    #[test]
    fn names_read_in_any_case() {
        for algorithm in HashAlgorithm::ALL {
            assert_eq!(algorithm.name().parse(), Ok(algorithm));
            assert_eq!(algorithm.name().to_uppercase().parse(), Ok(algorithm));
        }
        assert_eq!(HashAlgorithm::default(), HashAlgorithm::Md5);
        assert!("sha3".parse::<HashAlgorithm>().is_err());
    }
}

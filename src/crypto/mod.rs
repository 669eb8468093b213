//! The point key's seed at rest: sealed under the cashier's passphrase with the browser's WebCrypto.
//!
//! PBKDF2-SHA256 turns the passphrase into a non-extractable AES-256-GCM key (the derived key
//! never exists as bytes the page could read), which seals the 32-byte seed under a fresh 12-byte
//! IV, with the key serial as additional data so a sealed seed cannot be moved to another key's
//! record. WebCrypto rather than a Rust KDF: it runs as native code, which matters for 600 000
//! iterations on a cheap phone, and adds nothing to the download.
//!
//! The parameters travel with every sealed seed, so the iteration count can be raised later
//! without locking out phones whose keys were sealed with the old one.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use js_sys::{Array, ArrayBuffer, Object, Uint8Array};
use serde::{Deserialize, Serialize};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{AesDerivedKeyParams, AesGcmParams, CryptoKey, Pbkdf2Params, SubtleCrypto};
use zeroize::{Zeroize, Zeroizing};

/// PBKDF2-SHA256 iterations for new keys: OWASP's 2023 recommendation for PBKDF2-HMAC-SHA256.
pub const KDF_ITERATIONS: u32 = 600_000;
/// The fewest iterations a stored record may name: the count this app has written since its first
/// version. Not tied to [`KDF_ITERATIONS`], so raising that never locks out older keys.
pub const MIN_KDF_ITERATIONS: u32 = 600_000;
/// The most iterations a stored record may name: room to raise [`KDF_ITERATIONS`] tenfold, while
/// a record changed to ask for billions (damaged, or tampered with) is refused at once instead of
/// hanging the unlock — PBKDF2 in WebCrypto cannot be interrupted.
pub const MAX_KDF_ITERATIONS: u32 = 10 * KDF_ITERATIONS;
/// The only key-derivation function this version writes.
pub const KDF_NAME: &str = "PBKDF2-SHA256";
/// The only cipher this version writes.
pub const CIPHER_NAME: &str = "AES-256-GCM";
/// Length of the random salt, in bytes.
pub const SALT_LEN: usize = 16;
/// Length of the AES-GCM nonce, in bytes (the size GCM is designed for).
pub const IV_LEN: usize = 12;

/// Why sealing or opening failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    /// The passphrase is not the one the seed was sealed with (or the record was tampered with:
    /// AES-GCM cannot tell the two apart, and neither should an attacker).
    #[error("wrong passphrase")]
    WrongPassphrase,
    /// The browser has no WebCrypto (it exists only on HTTPS pages and `localhost`).
    #[error("the browser's cryptography is not available: {0}")]
    Unavailable(String),
    /// The sealed record names parameters this version does not know (or an iteration count out
    /// of bounds, [`check`]), or its fields are damaged.
    #[error("the stored key is damaged or was written by an unknown version: {0}")]
    Damaged(String),
}

/// Bytes kept in a record as unpadded base64url text, so records stay plain JSON-like objects.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Bytes(pub Vec<u8>);

impl TryFrom<String> for Bytes {
    type Error = base64::DecodeError;
    fn try_from(text: String) -> Result<Bytes, Self::Error> {
        URL_SAFE_NO_PAD.decode(text).map(Bytes)
    }
}

impl From<Bytes> for String {
    fn from(bytes: Bytes) -> String {
        URL_SAFE_NO_PAD.encode(bytes.0)
    }
}

impl std::fmt::Debug for Bytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} bytes", self.0.len())
    }
}

/// A seed sealed under a passphrase, with everything needed to open it again except the
/// passphrase and the additional data (the key serial, kept beside it in the record).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedSeed {
    /// Always [`KDF_NAME`] for now.
    pub kdf: String,
    pub iterations: u32,
    pub salt: Bytes,
    /// Always [`CIPHER_NAME`] for now.
    pub cipher: String,
    pub iv: Bytes,
    /// The encrypted seed followed by GCM's 16-byte tag.
    pub ciphertext: Bytes,
}

/// Bytes from the browser's cryptographic random source.
pub fn random_bytes<const N: usize>() -> Result<[u8; N], CryptoError> {
    let mut bytes = [0u8; N];
    leptos::prelude::window()
        .crypto()
        .and_then(|crypto| crypto.get_random_values_with_u8_array(&mut bytes))
        .map_err(unavailable)?;
    Ok(bytes)
}

/// Seals `seed` under `passphrase`, binding it to `additional_data`.
pub async fn seal(
    seed: &[u8; 32],
    passphrase: &str,
    additional_data: &[u8],
) -> Result<SealedSeed, CryptoError> {
    let salt: [u8; SALT_LEN] = random_bytes()?;
    let iv: [u8; IV_LEN] = random_bytes()?;
    let key = derive_key(passphrase, &salt, KDF_ITERATIONS).await?;
    let params = gcm_params(&iv, additional_data);
    let promise = subtle()?
        .encrypt_with_object_and_u8_array(&params, &key, seed)
        .map_err(unavailable)?;
    let ciphertext = JsFuture::from(promise).await.map_err(unavailable)?;
    Ok(SealedSeed {
        kdf: KDF_NAME.into(),
        iterations: KDF_ITERATIONS,
        salt: Bytes(salt.to_vec()),
        cipher: CIPHER_NAME.into(),
        iv: Bytes(iv.to_vec()),
        ciphertext: Bytes(Uint8Array::new(&ciphertext).to_vec()),
    })
}

/// Opens a sealed seed ([`check`]ed first). A wrong passphrase (or a changed byte anywhere,
/// including the additional data) is [`CryptoError::WrongPassphrase`].
pub async fn open(
    sealed: &SealedSeed,
    passphrase: &str,
    additional_data: &[u8],
) -> Result<Zeroizing<[u8; 32]>, CryptoError> {
    check(sealed)?;
    let key = derive_key(passphrase, &sealed.salt.0, sealed.iterations).await?;
    let params = gcm_params(&sealed.iv.0, additional_data);
    let promise = subtle()?
        .decrypt_with_object_and_u8_array(&params, &key, &sealed.ciphertext.0)
        .map_err(unavailable)?;
    // WebCrypto rejects with an `OperationError` when the tag does not verify: that is the only
    // way a wrong passphrase shows itself.
    let plain = JsFuture::from(promise)
        .await
        .map_err(|_| CryptoError::WrongPassphrase)?;
    let plain = Uint8Array::new(&plain.unchecked_into::<ArrayBuffer>());
    let mut seed = Zeroizing::new([0u8; 32]);
    let copied = if plain.length() == 32 {
        plain.copy_to(seed.as_mut());
        true
    } else {
        false
    };
    // The browser's copy of the plaintext is overwritten too (the garbage collector frees
    // memory, it does not clear it).
    plain.fill(0, 0, plain.length());
    if copied {
        Ok(seed)
    } else {
        Err(CryptoError::Damaged(
            "the sealed seed has the wrong length".into(),
        ))
    }
}

/// Whether `sealed` names parameters this version can open in bounded time: its algorithms, its
/// IV's length and an iteration count within [`MIN_KDF_ITERATIONS`]..=[`MAX_KDF_ITERATIONS`].
/// Checked before any key is derived, so a damaged record costs no PBKDF2 run at all.
pub fn check(sealed: &SealedSeed) -> Result<(), CryptoError> {
    if sealed.kdf != KDF_NAME || sealed.cipher != CIPHER_NAME {
        return Err(CryptoError::Damaged(format!(
            "{} with {}",
            sealed.kdf, sealed.cipher
        )));
    }
    if sealed.iv.0.len() != IV_LEN
        || !(MIN_KDF_ITERATIONS..=MAX_KDF_ITERATIONS).contains(&sealed.iterations)
    {
        return Err(CryptoError::Damaged("IV or iteration count".into()));
    }
    Ok(())
}

/// PBKDF2-SHA256(passphrase, salt, iterations) as a non-extractable AES-256-GCM key.
async fn derive_key(
    passphrase: &str,
    salt: &[u8],
    iterations: u32,
) -> Result<CryptoKey, CryptoError> {
    let subtle = subtle()?;
    let mut secret = Zeroizing::new(passphrase.as_bytes().to_vec());
    let secret_js = Uint8Array::from(secret.as_slice());
    secret.zeroize();
    let usages = Array::of1(&"deriveKey".into());
    let imported = subtle.import_key_with_str("raw", &secret_js, "PBKDF2", false, &usages);
    // importKey copied the bytes; the page's copy can go.
    secret_js.fill(0, 0, secret_js.length());
    let base_key: CryptoKey = JsFuture::from(imported.map_err(unavailable)?)
        .await
        .map_err(unavailable)?
        .unchecked_into();

    let salt = Uint8Array::from(salt);
    let params = Pbkdf2Params::new_with_str("PBKDF2", "SHA-256", iterations, &salt);
    let target = AesDerivedKeyParams::new("AES-GCM", 256);
    let usages = Array::of2(&"encrypt".into(), &"decrypt".into());
    let derived = subtle
        .derive_key_with_object_and_object(&params, &base_key, &target, false, &usages)
        .map_err(unavailable)?;
    Ok(JsFuture::from(derived)
        .await
        .map_err(unavailable)?
        .unchecked_into())
}

fn gcm_params(iv: &[u8], additional_data: &[u8]) -> Object {
    let params = AesGcmParams::new_with_u8_array("AES-GCM", &Uint8Array::from(iv));
    params.set_additional_data_u8_array(&Uint8Array::from(additional_data));
    params.into()
}

fn subtle() -> Result<SubtleCrypto, CryptoError> {
    let crypto = leptos::prelude::window().crypto().map_err(unavailable)?;
    // `crypto.subtle` is undefined on plain-HTTP pages; web-sys would hand back `undefined`.
    let subtle = js_sys::Reflect::get(&crypto, &"subtle".into()).map_err(unavailable)?;
    if subtle.is_undefined() {
        return Err(CryptoError::Unavailable(
            "WebCrypto needs HTTPS (or localhost)".into(),
        ));
    }
    Ok(subtle.unchecked_into())
}

fn unavailable(error: JsValue) -> CryptoError {
    CryptoError::Unavailable(
        js_sys::JSON::stringify(&error)
            .ok()
            .and_then(|s| s.as_string())
            .filter(|s| s != "{}")
            .or_else(|| {
                error
                    .dyn_ref::<js_sys::Error>()
                    .map(|e| e.to_string().into())
            })
            .unwrap_or_else(|| format!("{error:?}")),
    )
}

//! ed25519 signatures over package digests.
//!
//! A signature covers `b"kino-plugin-v1" || digest`, where `digest` is the
//! 32-byte [`PackageDigest`]. It is stored *inside* the package as
//! `kino-plugin.sig` (one line, `kino-ed25519-signature:KEY_ID:BASE64`), which
//! the digest excludes, so signing does not change what is signed and a
//! signed directory packs into a signed archive.
//!
//! Native kernel libraries (shared libraries an operator installs, loaded
//! by `kino-native`) are signed with the same keys over
//! `b"kino-native-kernel-v1" || sha256(library file)`: a separate domain, so
//! a package's signature can never pass for a library's, nor the reverse.
//! Their signature is `LIBRARY.sig` beside the library, in the same format.
//!
//! Keys are text: `kino-ed25519-secret:BASE64` (the 32-byte seed) and
//! `kino-ed25519-public:BASE64`. A [`KeyId`] is the first 8 bytes of the
//! sha256 of the public key, in hex.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::Signer as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::RegistryError;
use crate::package::{Package, PackageDigest};

/// The signature's file name inside a package.
pub const SIGNATURE_FILE: &str = "kino-plugin.sig";

const DOMAIN: &[u8] = b"kino-plugin-v1";
const NATIVE_DOMAIN: &[u8] = b"kino-native-kernel-v1";
const SECRET_PREFIX: &str = "kino-ed25519-secret:";
const PUBLIC_PREFIX: &str = "kino-ed25519-public:";
const SIGNATURE_PREFIX: &str = "kino-ed25519-signature:";

/// Whether installing a package needs a signature by a trusted key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SignaturePolicy {
    /// A valid signature by a trusted key is required.
    #[default]
    Required,
    /// Unsigned packages are accepted; a signature that *is* present must
    /// still be valid and by a trusted key.
    Optional,
}

/// A short, stable name for a public key: 16 hex digits.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct KeyId(String);

impl KeyId {
    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for KeyId {
    type Error = RegistryError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        if s.len() == 16
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            Ok(KeyId(s))
        } else {
            Err(RegistryError::InvalidKey {
                reason: format!("key id `{s}` is not 16 lowercase hex digits"),
            })
        }
    }
}

impl From<KeyId> for String {
    fn from(k: KeyId) -> String {
        k.0
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A secret signing key. Its `Debug` output does not show the key.
#[derive(Clone)]
pub struct SigningKey(ed25519_dalek::SigningKey);

/// A public key that verifies signatures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyingKey(ed25519_dalek::VerifyingKey);

/// Generates a new key pair from the operating system's randomness.
pub fn keygen() -> Result<(SigningKey, VerifyingKey), RegistryError> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| RegistryError::InvalidKey {
        reason: format!("no randomness available: {e}"),
    })?;
    let key = SigningKey(ed25519_dalek::SigningKey::from_bytes(&seed));
    let public = key.verifying_key();
    Ok((key, public))
}

fn decode_key(text: &str, prefix: &str) -> Result<[u8; 32], RegistryError> {
    let body = text
        .trim()
        .strip_prefix(prefix)
        .ok_or_else(|| RegistryError::InvalidKey {
            reason: format!("expected text starting with `{prefix}`"),
        })?;
    let bytes = BASE64.decode(body).map_err(|e| RegistryError::InvalidKey {
        reason: format!("bad base64: {e}"),
    })?;
    bytes
        .try_into()
        .map_err(|b: Vec<u8>| RegistryError::InvalidKey {
            reason: format!("expected 32 bytes, found {}", b.len()),
        })
}

impl SigningKey {
    /// The key as text: `kino-ed25519-secret:BASE64`.
    pub fn to_text(&self) -> String {
        format!("{SECRET_PREFIX}{}", BASE64.encode(self.0.to_bytes()))
    }

    /// The matching public key.
    pub fn verifying_key(&self) -> VerifyingKey {
        VerifyingKey(self.0.verifying_key())
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningKey({})", self.verifying_key().key_id())
    }
}

impl FromStr for SigningKey {
    type Err = RegistryError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(SigningKey(ed25519_dalek::SigningKey::from_bytes(
            &decode_key(s, SECRET_PREFIX)?,
        )))
    }
}

impl VerifyingKey {
    /// The key as text: `kino-ed25519-public:BASE64`.
    pub fn to_text(&self) -> String {
        format!("{PUBLIC_PREFIX}{}", BASE64.encode(self.0.as_bytes()))
    }

    /// The key's id.
    pub fn key_id(&self) -> KeyId {
        let hash = Sha256::digest(self.0.as_bytes());
        KeyId(hex::encode(&hash[..8]))
    }
}

impl FromStr for VerifyingKey {
    type Err = RegistryError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bytes = decode_key(s, PUBLIC_PREFIX)?;
        ed25519_dalek::VerifyingKey::from_bytes(&bytes)
            .map(VerifyingKey)
            .map_err(|e| RegistryError::InvalidKey {
                reason: format!("not an ed25519 public key: {e}"),
            })
    }
}

/// A signature over a package digest, naming the key that made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    key_id: KeyId,
    bytes: [u8; 64],
}

impl Signature {
    /// The id of the key that made it.
    pub fn key_id(&self) -> &KeyId {
        &self.key_id
    }

    /// The signature as one line of text (the content of `kino-plugin.sig`).
    pub fn to_text(&self) -> String {
        format!(
            "{SIGNATURE_PREFIX}{}:{}\n",
            self.key_id,
            BASE64.encode(self.bytes)
        )
    }

    /// Parses the content of `kino-plugin.sig`.
    pub fn parse(text: &str) -> Result<Signature, RegistryError> {
        let err = |reason: &str| RegistryError::InvalidSignature {
            text: text.chars().take(120).collect(),
            reason: reason.to_owned(),
        };
        let body = text
            .trim()
            .strip_prefix(SIGNATURE_PREFIX)
            .ok_or_else(|| err("expected `kino-ed25519-signature:KEY_ID:BASE64`"))?;
        let (key_id, sig) = body.split_once(':').ok_or_else(|| err("missing key id"))?;
        let key_id = KeyId::try_from(key_id.to_owned()).map_err(|_| err("bad key id"))?;
        let bytes = BASE64
            .decode(sig)
            .ok()
            .and_then(|b| <[u8; 64]>::try_from(b).ok())
            .ok_or_else(|| err("expected 64 bytes of base64"))?;
        Ok(Signature { key_id, bytes })
    }
}

fn message(digest: &PackageDigest) -> Vec<u8> {
    [DOMAIN, &digest.0].concat()
}

/// Signs `package`'s digest with `key`. Store the result with
/// [`Package::set_signature`] or write [`Signature::to_text`] into the
/// package directory as [`SIGNATURE_FILE`].
pub fn sign(package: &Package, key: &SigningKey) -> Signature {
    let sig = key.0.sign(&message(&package.digest()));
    Signature {
        key_id: key.verifying_key().key_id(),
        bytes: sig.to_bytes(),
    }
}

/// Verifies `package`'s signature against `trusted` keys; returns the signer.
pub fn verify(package: &Package, trusted: &[VerifyingKey]) -> Result<KeyId, RegistryError> {
    let m = package.manifest();
    let name = m.name().to_string();
    let version = m.version().to_string();
    let sig = package.signature().ok_or_else(|| RegistryError::Unsigned {
        name: name.clone(),
        version: version.clone(),
    })?;
    let key = trusted
        .iter()
        .find(|k| &k.key_id() == sig.key_id())
        .ok_or_else(|| RegistryError::UntrustedKey {
            name: name.clone(),
            version: version.clone(),
            key_id: sig.key_id().to_string(),
        })?;
    let signature = ed25519_dalek::Signature::from_bytes(&sig.bytes);
    key.0
        .verify_strict(&message(&package.digest()), &signature)
        .map_err(|_| RegistryError::BadSignature {
            name,
            version,
            key_id: sig.key_id().to_string(),
        })?;
    Ok(sig.key_id().clone())
}

/// Applies `policy`: `Ok(Some(signer))` for a valid trusted signature,
/// `Ok(None)` for an unsigned package under [`SignaturePolicy::Optional`].
pub fn check(
    package: &Package,
    policy: SignaturePolicy,
    trusted: &[VerifyingKey],
) -> Result<Option<KeyId>, RegistryError> {
    match (policy, package.signature()) {
        (SignaturePolicy::Optional, None) => Ok(None),
        _ => verify(package, trusted).map(Some),
    }
}

fn native_message(sha256: &[u8; 32]) -> Vec<u8> {
    [NATIVE_DOMAIN, sha256].concat()
}

/// What a native library is called in errors: `native-library@sha256:HEX`.
fn native_name(sha256: &[u8; 32]) -> (String, String) {
    (
        "native-library".to_owned(),
        format!("sha256:{}", hex::encode(sha256)),
    )
}

/// Signs a native kernel library, given the sha256 of its file's bytes.
/// Write [`Signature::to_text`] to `LIBRARY.sig`.
pub fn sign_native(sha256: &[u8; 32], key: &SigningKey) -> Signature {
    let sig = key.0.sign(&native_message(sha256));
    Signature {
        key_id: key.verifying_key().key_id(),
        bytes: sig.to_bytes(),
    }
}

/// Verifies a native kernel library's `signature` against `trusted` keys,
/// given the sha256 of the library file's bytes; returns the signer.
///
/// Errors name the library as `native-library@sha256:HEX`:
/// [`RegistryError::UntrustedKey`] when no trusted key has the signature's
/// key id, [`RegistryError::BadSignature`] when it does not verify (the
/// library was modified, or the signature is for another file or forged).
pub fn verify_native(
    sha256: &[u8; 32],
    signature: &Signature,
    trusted: &[VerifyingKey],
) -> Result<KeyId, RegistryError> {
    let key = trusted
        .iter()
        .find(|k| &k.key_id() == signature.key_id())
        .ok_or_else(|| {
            let (name, version) = native_name(sha256);
            RegistryError::UntrustedKey {
                name,
                version,
                key_id: signature.key_id().to_string(),
            }
        })?;
    let bytes = ed25519_dalek::Signature::from_bytes(&signature.bytes);
    key.0
        .verify_strict(&native_message(sha256), &bytes)
        .map_err(|_| {
            let (name, version) = native_name(sha256);
            RegistryError::BadSignature {
                name,
                version,
                key_id: signature.key_id().to_string(),
            }
        })?;
    Ok(signature.key_id().clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_as_text() {
        let (secret, public) = keygen().expect("randomness");
        let secret2: SigningKey = secret.to_text().parse().expect("valid");
        let public2: VerifyingKey = public.to_text().parse().expect("valid");
        assert_eq!(secret2.verifying_key(), public);
        assert_eq!(public2, public);
        assert!(!format!("{secret:?}").contains(&secret.to_text()));
        assert!("kino-ed25519-public:AAAA".parse::<VerifyingKey>().is_err());
        assert!(public.to_text().parse::<SigningKey>().is_err());
    }

    #[test]
    fn native_libraries_sign_and_verify() {
        let (key, public) = keygen().expect("randomness");
        let (_, stranger) = keygen().expect("randomness");
        let digest: [u8; 32] = Sha256::digest(b"a kernel library").into();
        let signature = sign_native(&digest, &key);
        let parsed = Signature::parse(&signature.to_text()).expect("round trip");
        let signer =
            verify_native(&digest, &parsed, &[stranger.clone(), public.clone()]).expect("verified");
        assert_eq!(signer, public.key_id());

        let untrusted = verify_native(&digest, &signature, &[stranger]).expect_err("untrusted");
        assert!(
            matches!(&untrusted, RegistryError::UntrustedKey { key_id, .. } if *key_id == public.key_id().to_string()),
            "{untrusted}"
        );
        assert!(untrusted.to_string().starts_with(&format!(
            "native-library@sha256:{} is signed by untrusted key",
            hex::encode(digest)
        )));

        let mut tampered = digest;
        tampered[0] ^= 1;
        let bad = verify_native(&tampered, &signature, std::slice::from_ref(&public))
            .expect_err("tampered");
        assert!(matches!(bad, RegistryError::BadSignature { .. }), "{bad}");
    }

    #[test]
    fn native_and_package_signatures_do_not_cross() {
        let (key, public) = keygen().expect("randomness");
        let digest = [7u8; 32];
        // A package signature over the same 32 bytes is not a library's.
        let package_style = Signature {
            key_id: public.key_id(),
            bytes: key.0.sign(&message(&PackageDigest(digest))).to_bytes(),
        };
        assert!(matches!(
            verify_native(&digest, &package_style, &[public]),
            Err(RegistryError::BadSignature { .. })
        ));
    }
}

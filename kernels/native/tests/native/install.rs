//! Signing and installing libraries into a kernel directory.

use std::path::{Path, PathBuf};

use kino_native::{NativeError, NativeKernels, install, sign};
use kino_registry::{RegistryError, SignaturePolicy, keygen};

use crate::{entries, noise_gate};

/// A fresh copy of the noise gate in `dir`, under `name`.
fn copy_of_gate(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::copy(noise_gate(), &path).expect("copying the library");
    path
}

fn write_signature(library: &Path, key: &kino_registry::SigningKey) -> PathBuf {
    let signature = sign(library, key).expect("signed");
    let path = PathBuf::from(format!("{}.sig", library.display()));
    std::fs::write(&path, signature.to_text()).expect("writing the signature");
    path
}

#[test]
fn unsigned_installs_under_optional_and_is_refused_under_required() {
    let source = tempfile::tempdir().expect("temp dir");
    let data = tempfile::tempdir().expect("temp dir");
    let kernels_dir = data.path().join("kernels");
    let library = copy_of_gate(source.path(), "libkino_noise_gate.so");

    let error =
        install(&library, &kernels_dir, None, SignaturePolicy::Required, &[]).expect_err("refused");
    assert!(
        matches!(&error, NativeError::Unsigned { library: l } if l == &library),
        "{error}"
    );
    assert!(error.to_string().contains("not signed"), "{error}");
    assert!(entries(&kernels_dir).is_empty(), "nothing left behind");

    let installed =
        install(&library, &kernels_dir, None, SignaturePolicy::Optional, &[]).expect("installed");
    assert_eq!(installed.file_name, "libkino_noise_gate.so");
    assert_eq!(installed.path, kernels_dir.join("libkino_noise_gate.so"));
    assert_eq!(installed.signer, None);
    assert!(!installed.replaced);
    assert_eq!(installed.kernels.len(), 1);
    assert_eq!(installed.kernels[0].name, "noise-gate");
    assert_eq!(entries(&kernels_dir), ["libkino_noise_gate.so"]);

    let loaded = NativeKernels::load_dir(&kernels_dir).expect("loads");
    let handle = loaded.get("noise-gate").expect("installed kernel");
    assert_eq!(handle.library_sha256(), installed.sha256);
}

#[test]
fn a_library_signed_by_a_trusted_key_installs_with_its_signature() {
    let source = tempfile::tempdir().expect("temp dir");
    let kernels_dir = tempfile::tempdir().expect("temp dir");
    let library = copy_of_gate(source.path(), "libgate.so");
    let (key, public) = keygen().expect("keys");
    let (_, stranger) = keygen().expect("keys");
    let signature = write_signature(&library, &key);

    // Untrusted: refused under either policy.
    for policy in [SignaturePolicy::Optional, SignaturePolicy::Required] {
        let error = install(
            &library,
            kernels_dir.path(),
            Some(&signature),
            policy,
            std::slice::from_ref(&stranger),
        )
        .expect_err("untrusted");
        assert!(
            matches!(
                &error,
                NativeError::Signature {
                    source: RegistryError::UntrustedKey { .. },
                    ..
                }
            ),
            "{error}"
        );
        assert!(error.to_string().contains("untrusted key"), "{error}");
        assert!(entries(kernels_dir.path()).is_empty());
    }

    let installed = install(
        &library,
        kernels_dir.path(),
        Some(&signature),
        SignaturePolicy::Required,
        &[stranger, public.clone()],
    )
    .expect("installed");
    assert_eq!(installed.signer, Some(public.key_id()));
    assert_eq!(
        entries(kernels_dir.path()),
        ["libgate.so", "libgate.so.sig"]
    );
    let written = std::fs::read_to_string(kernels_dir.path().join("libgate.so.sig")).expect("read");
    let parsed = kino_registry::Signature::parse(&written).expect("a signature");
    let digest: [u8; 32] = hex_digest(&installed.sha256);
    assert_eq!(
        kino_registry::verify_native(&digest, &parsed, &[public]).expect("verifies"),
        installed.signer.expect("signed")
    );
}

fn hex_digest(hex: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).expect("hex");
    }
    out
}

#[test]
fn a_tampered_library_is_refused_and_leaves_nothing() {
    let source = tempfile::tempdir().expect("temp dir");
    let kernels_dir = tempfile::tempdir().expect("temp dir");
    let library = copy_of_gate(source.path(), "libgate.so");
    let (key, public) = keygen().expect("keys");
    let signature = write_signature(&library, &key);
    // Bytes appended after signing: the library still loads, its hash differs.
    let mut bytes = std::fs::read(&library).expect("read");
    bytes.extend_from_slice(b"tampered");
    let tampered = source.path().join("libtampered.so");
    std::fs::write(&tampered, bytes).expect("write");
    let error = install(
        &tampered,
        kernels_dir.path(),
        Some(&signature),
        SignaturePolicy::Optional,
        &[public],
    )
    .expect_err("tampered");
    assert!(
        matches!(
            &error,
            NativeError::Signature {
                source: RegistryError::BadSignature { .. },
                library,
            } if library == &tampered
        ),
        "{error}"
    );
    assert!(error.to_string().contains("bad signature"), "{error}");
    assert!(entries(kernels_dir.path()).is_empty());
}

#[test]
fn a_kernel_name_is_provided_by_one_library_only() {
    let source = tempfile::tempdir().expect("temp dir");
    let kernels_dir = tempfile::tempdir().expect("temp dir");
    let first = copy_of_gate(source.path(), "libgate.so");
    let second = copy_of_gate(source.path(), "libgate-copy.so");
    install(
        &first,
        kernels_dir.path(),
        None,
        SignaturePolicy::Optional,
        &[],
    )
    .expect("installed");

    let error = install(
        &second,
        kernels_dir.path(),
        None,
        SignaturePolicy::Optional,
        &[],
    )
    .expect_err("conflict");
    assert!(
        matches!(&error, NativeError::AlreadyProvided { kernel, installed, .. }
            if kernel == "noise-gate" && installed == &kernels_dir.path().join("libgate.so")),
        "{error}"
    );
    assert_eq!(entries(kernels_dir.path()), ["libgate.so"]);

    // The same file name replaces the installed library, and a stale
    // signature beside it goes with it.
    std::fs::write(kernels_dir.path().join("libgate.so.sig"), "stale").expect("write");
    let replaced = install(
        &first,
        kernels_dir.path(),
        None,
        SignaturePolicy::Optional,
        &[],
    )
    .expect("replaced");
    assert!(replaced.replaced);
    assert_eq!(entries(kernels_dir.path()), ["libgate.so"]);
}

#[test]
fn only_library_files_are_installed() {
    let source = tempfile::tempdir().expect("temp dir");
    let kernels_dir = tempfile::tempdir().expect("temp dir");
    let library = copy_of_gate(source.path(), "gate.bin");
    let error = install(
        &library,
        kernels_dir.path(),
        None,
        SignaturePolicy::Optional,
        &[],
    )
    .expect_err("refused");
    assert!(matches!(error, NativeError::BadFileName { .. }), "{error}");

    let junk = source.path().join("libjunk.so");
    std::fs::write(&junk, b"not a library").expect("write");
    let error = install(
        &junk,
        kernels_dir.path(),
        None,
        SignaturePolicy::Optional,
        &[],
    )
    .expect_err("refused");
    assert!(matches!(error, NativeError::Open { .. }), "{error}");
    assert!(sign(&junk, &keygen().expect("keys").0).is_err());
    assert!(entries(kernels_dir.path()).is_empty());
}

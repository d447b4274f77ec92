//! Packages, signatures and the store, end to end on real files.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use kino_registry::signing::SIGNATURE_FILE;
use kino_registry::{
    Package, PluginName, RegistryError, SignaturePolicy, Store, keygen, pack, sign, verify,
};
use semver::Version;

fn manifest(name: &str, version: &str) -> String {
    format!(
        r#"format = 1

[plugin]
name = "{name}"
version = "{version}"
world = "kino:stage/director-style@0.1.0"
description = "test plugin"

[[config]]
key = "contrast"
type = "number"
default = 1.5
"#
    )
}

/// Writes a package directory with a dummy component and one asset.
fn package_dir(root: &Path, name: &str, version: &str, wasm: &[u8]) -> PathBuf {
    let dir = root.join(format!("{name}-{version}"));
    fs::create_dir_all(dir.join("luts")).expect("mkdir");
    fs::write(dir.join("kino-plugin.toml"), manifest(name, version)).expect("write");
    fs::write(dir.join("plugin.wasm"), wasm).expect("write");
    fs::write(dir.join("luts/noir.cube"), b"LUT_3D_SIZE 2\n").expect("write");
    dir
}

/// A `.tar.gz` with raw entries, built by hand so hostile names and types get in.
fn hostile_archive(path: &Path, entries: &[(&[u8], tar::EntryType, &[u8])]) {
    let file = fs::File::create(path).expect("create");
    let gz = flate2::write::GzEncoder::new(file, flate2::Compression::fast());
    let mut tar = tar::Builder::new(gz);
    for (name, ty, data) in entries {
        let mut h = tar::Header::new_old();
        // `set_path` refuses `..` and absolute paths: write the name bytes directly.
        h.as_old_mut().name[..name.len()].copy_from_slice(name);
        h.set_entry_type(*ty);
        if *ty == tar::EntryType::Symlink || *ty == tar::EntryType::Link {
            h.set_link_name("/etc/passwd").expect("link name");
        }
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        tar.append(&h, *data).expect("append");
    }
    tar.into_inner().expect("finish").finish().expect("gzip");
}

fn good_entries() -> Vec<(Vec<u8>, Vec<u8>)> {
    vec![
        (
            b"kino-plugin.toml".to_vec(),
            manifest("noir", "1.0.0").into_bytes(),
        ),
        (b"plugin.wasm".to_vec(), b"\0asm fake".to_vec()),
    ]
}

fn open_err(path: &Path) -> RegistryError {
    Package::open(path).expect_err("must be refused")
}

#[test]
fn dir_and_archive_have_the_same_digest() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = package_dir(tmp.path(), "noir", "1.0.0", b"\0asm one");
    let from_dir = Package::open(&dir).expect("open dir");
    let archive = tmp.path().join("noir.tar.gz");
    let digest = pack(&dir, &archive).expect("pack");
    let from_archive = Package::open(&archive).expect("open archive");
    assert_eq!(from_dir.digest(), digest);
    assert_eq!(from_archive.digest(), digest);
    assert_eq!(from_archive.files(), from_dir.files());
    assert_eq!(from_archive.component(), b"\0asm one");
    assert_eq!(from_archive.assets().count(), 1);
    // Packing is deterministic.
    let again = tmp.path().join("again.tar.gz");
    pack(&dir, &again).expect("pack");
    assert_eq!(
        fs::read(&archive).expect("read"),
        fs::read(&again).expect("read")
    );
    // Contents change the digest.
    fs::write(dir.join("luts/noir.cube"), b"changed").expect("write");
    assert_ne!(Package::open(&dir).expect("open").digest(), digest);
}

#[test]
fn missing_files_and_bad_manifests_are_refused() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = package_dir(tmp.path(), "noir", "1.0.0", b"x");
    fs::remove_file(dir.join("plugin.wasm")).expect("rm");
    assert!(matches!(
        open_err(&dir),
        RegistryError::MissingFile {
            file: "plugin.wasm",
            ..
        }
    ));
    fs::write(dir.join("plugin.wasm"), b"x").expect("write");
    fs::write(
        dir.join("kino-plugin.toml"),
        "format = 1\n[plugin]\nname = \"X\"\n",
    )
    .expect("write");
    let e = open_err(&dir);
    assert!(
        e.to_string()
            .contains("kino-plugin.toml:3:8: `plugin.name`"),
        "{e}"
    );
    assert!(matches!(
        open_err(&tmp.path().join("x.zip")),
        RegistryError::Io { .. }
    ));
    fs::write(tmp.path().join("x.zip"), b"").expect("write");
    assert!(matches!(
        open_err(&tmp.path().join("x.zip")),
        RegistryError::NotAPackage { .. }
    ));
}

#[test]
fn path_traversal_is_refused() {
    let tmp = tempfile::tempdir().expect("tempdir");
    for (name, reason) in [
        (&b"../evil.wasm"[..], "`..` in path"),
        (b"luts/../../evil", "`..` in path"),
        (b"/etc/evil", "absolute path"),
    ] {
        let archive = tmp.path().join("evil.tar.gz");
        let mut entries: Vec<(&[u8], tar::EntryType, &[u8])> =
            vec![(b"kino-plugin.toml", tar::EntryType::Regular, b"format = 1")];
        entries.push((name, tar::EntryType::Regular, b"boom"));
        hostile_archive(&archive, &entries);
        match open_err(&archive) {
            RegistryError::UnsafeEntry {
                entry, reason: r, ..
            } => {
                assert_eq!(entry.as_bytes(), name);
                assert_eq!(r, reason);
            }
            other => panic!("unexpected: {other}"),
        }
    }
}

#[test]
fn links_and_devices_are_refused() {
    let tmp = tempfile::tempdir().expect("tempdir");
    for ty in [
        tar::EntryType::Symlink,
        tar::EntryType::Link,
        tar::EntryType::Char,
        tar::EntryType::Fifo,
    ] {
        let archive = tmp.path().join("links.tar.gz");
        hostile_archive(&archive, &[(b"plugin.wasm", ty, b"")]);
        let e = open_err(&archive);
        assert!(
            matches!(&e, RegistryError::UnsafeEntry { entry, .. } if entry == "plugin.wasm"),
            "{ty:?}: {e}"
        );
    }
    // Symlinks in a package directory too.
    let dir = package_dir(tmp.path(), "noir", "1.0.0", b"x");
    std::os::unix::fs::symlink("/etc/passwd", dir.join("passwd")).expect("symlink");
    let e = open_err(&dir);
    assert!(
        e.to_string().contains("`passwd` refused: symbolic links"),
        "{e}"
    );
}

#[test]
fn oversized_and_crowded_archives_are_refused() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let archive = tmp.path().join("big.tar.gz");
    let big = vec![0u8; (kino_registry::package::MAX_ENTRY_BYTES + 1) as usize];
    hostile_archive(&archive, &[(b"plugin.wasm", tar::EntryType::Regular, &big)]);
    assert!(matches!(
        open_err(&archive),
        RegistryError::EntryTooLarge { entry, .. } if entry == "plugin.wasm"
    ));

    let half = vec![0u8; (kino_registry::package::MAX_ENTRY_BYTES) as usize];
    let names: Vec<Vec<u8>> = (0..3).map(|i| format!("asset{i}").into_bytes()).collect();
    let entries: Vec<(&[u8], tar::EntryType, &[u8])> = names
        .iter()
        .map(|n| (n.as_slice(), tar::EntryType::Regular, half.as_slice()))
        .collect();
    hostile_archive(&archive, &entries);
    assert!(matches!(
        open_err(&archive),
        RegistryError::PackageTooLarge { entry, .. } if entry == "asset2"
    ));

    let names: Vec<Vec<u8>> = (0..=kino_registry::package::MAX_ENTRIES)
        .map(|i| format!("f{i}").into_bytes())
        .collect();
    let entries: Vec<(&[u8], tar::EntryType, &[u8])> = names
        .iter()
        .map(|n| (n.as_slice(), tar::EntryType::Regular, &b""[..]))
        .collect();
    hostile_archive(&archive, &entries);
    assert!(matches!(
        open_err(&archive),
        RegistryError::TooManyEntries { .. }
    ));

    // Duplicate entries would let a later one shadow a checked one.
    let good = good_entries();
    let mut entries: Vec<(&[u8], tar::EntryType, &[u8])> = good
        .iter()
        .map(|(n, d)| (n.as_slice(), tar::EntryType::Regular, d.as_slice()))
        .collect();
    entries.push((b"./plugin.wasm", tar::EntryType::Regular, b"other"));
    hostile_archive(&archive, &entries);
    assert!(matches!(
        open_err(&archive),
        RegistryError::UnsafeEntry {
            reason: "duplicate entry",
            ..
        }
    ));
}

#[test]
fn signatures() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = package_dir(tmp.path(), "noir", "1.0.0", b"\0asm");
    let (key, public) = keygen().expect("keygen");
    let (_, stranger) = keygen().expect("keygen");

    let unsigned = Package::open(&dir).expect("open");
    assert!(matches!(
        verify(&unsigned, std::slice::from_ref(&public)),
        Err(RegistryError::Unsigned { .. })
    ));

    // Sign the directory, then pack it: the archive carries the signature.
    let sig = sign(&unsigned, &key);
    fs::write(dir.join(SIGNATURE_FILE), sig.to_text()).expect("write sig");
    let archive = tmp.path().join("signed.tar.gz");
    pack(&dir, &archive).expect("pack");
    let signed = Package::open(&archive).expect("open");
    assert_eq!(signed.digest(), unsigned.digest());
    assert_eq!(
        verify(&signed, &[stranger.clone(), public.clone()]).expect("valid"),
        public.key_id()
    );
    assert!(matches!(
        verify(&signed, &[stranger]),
        Err(RegistryError::UntrustedKey { .. })
    ));

    // Tampering breaks it.
    fs::write(dir.join("plugin.wasm"), b"\0asm evil").expect("write");
    let tampered = Package::open(&dir).expect("open");
    assert!(matches!(
        verify(&tampered, std::slice::from_ref(&public)),
        Err(RegistryError::BadSignature { .. })
    ));

    // Garbage in the signature file is refused at open.
    fs::write(dir.join(SIGNATURE_FILE), "kino-ed25519-signature:nope").expect("write");
    assert!(matches!(
        open_err(&dir),
        RegistryError::InvalidSignature { .. }
    ));
}

fn name(s: &str) -> PluginName {
    s.parse().expect("valid name")
}

#[test]
fn install_respects_the_signature_policy() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let store = Store::open(tmp.path().join("store")).expect("store");
    let (key, public) = keygen().expect("keygen");
    let package = Package::open(package_dir(tmp.path(), "noir", "1.0.0", b"\0asm")).expect("open");

    let e = store
        .install(
            &package,
            SignaturePolicy::Required,
            std::slice::from_ref(&public),
        )
        .expect_err("unsigned refused");
    assert!(matches!(e, RegistryError::Unsigned { .. }), "{e}");
    assert!(store.list().expect("list").is_empty());

    let installed = store
        .install(&package, SignaturePolicy::Optional, &[])
        .expect("unsigned accepted under optional");
    assert_eq!(installed.signer, None);
    assert_eq!(store.get(&installed.component).expect("blob"), b"\0asm");
    assert_eq!(installed.assets.len(), 1);
    let manifest = store.manifest(&installed).expect("manifest");
    assert_eq!(manifest.version(), &Version::new(1, 0, 0));
    assert_eq!(
        manifest
            .validate_config(&BTreeMap::new())
            .expect("defaults")["contrast"],
        "1.5"
    );

    let mut signed =
        Package::open(package_dir(tmp.path(), "noir", "1.1.0", b"\0asm 2")).expect("open");
    signed.set_signature(Some(sign(&signed, &key)));
    let installed = store
        .install(
            &signed,
            SignaturePolicy::Required,
            std::slice::from_ref(&public),
        )
        .expect("signed accepted");
    assert_eq!(installed.signer, Some(public.key_id()));

    // Under Optional a present but bad signature is still refused.
    let mut forged =
        Package::open(package_dir(tmp.path(), "noir", "1.2.0", b"\0asm 3")).expect("open");
    forged.set_signature(signed.signature().cloned());
    assert!(matches!(
        store.install(&forged, SignaturePolicy::Optional, &[public]),
        Err(RegistryError::BadSignature { .. })
    ));
    assert_eq!(store.list().expect("list").len(), 2);
}

#[test]
fn duplicates_and_host_checks() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let store = Store::open(tmp.path().join("store")).expect("store");
    let a =
        Package::open(package_dir(&tmp.path().join("a"), "noir", "1.0.0", b"one")).expect("open");
    let b =
        Package::open(package_dir(&tmp.path().join("b"), "noir", "1.0.0", b"two")).expect("open");

    // The host's check runs and can refuse; nothing is recorded.
    let e = store
        .install_with(&a, SignaturePolicy::Optional, &[], |m, wasm| {
            assert_eq!(m.name().as_str(), "noir");
            assert_eq!(wasm, b"one");
            Err("missing export `direct`".into())
        })
        .expect_err("refused");
    assert_eq!(e.to_string(), "noir@1.0.0 refused: missing export `direct`");
    assert!(store.list().expect("list").is_empty());

    let first = store
        .install(&a, SignaturePolicy::Optional, &[])
        .expect("install");
    // The same contents again: idempotent.
    assert_eq!(
        store
            .install(&a, SignaturePolicy::Optional, &[])
            .expect("again"),
        first
    );
    // Different contents under the same version: refused.
    let e = store
        .install(&b, SignaturePolicy::Optional, &[])
        .expect_err("dup");
    assert!(matches!(e, RegistryError::DuplicateVersion { .. }), "{e}");
    assert_eq!(store.list().expect("list"), vec![first]);
}

#[test]
fn resolve_yank_and_remove() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let store = Store::open(tmp.path().join("store")).expect("store");
    for (v, wasm) in [
        ("1.0.0", "a"),
        ("1.2.0", "b"),
        ("1.3.1", "c"),
        ("2.0.0", "d"),
    ] {
        let p = Package::open(package_dir(tmp.path(), "noir", v, wasm.as_bytes())).expect("open");
        store
            .install(&p, SignaturePolicy::Optional, &[])
            .expect("install");
    }
    let other = Package::open(package_dir(tmp.path(), "grain", "9.0.0", b"g")).expect("open");
    store
        .install(&other, SignaturePolicy::Optional, &[])
        .expect("install");

    let v = |s: &str| Version::parse(s).expect("version");
    assert_eq!(
        store.resolve("noir@^1.2").expect("match").version,
        v("1.3.1")
    );
    assert_eq!(store.resolve("noir").expect("match").version, v("2.0.0"));
    assert_eq!(
        store.resolve("noir@~1.2").expect("match").version,
        v("1.2.0")
    );

    store.yank(&name("noir"), &v("1.3.1")).expect("yank");
    assert_eq!(
        store.resolve("noir@^1.2").expect("match").version,
        v("1.2.0")
    );
    store
        .set_enabled(&name("noir"), &v("1.2.0"), false)
        .expect("disable");
    let e = store.resolve("noir@^1.2").expect_err("none left");
    assert_eq!(
        e.to_string(),
        "no installed, enabled, non-yanked version of noir matches `^1.2`"
    );
    // A binding made before the yank keeps the yanked version; a newer
    // non-yanked match wins over it; a disabled version is never run.
    let kept = store.resolve_bound("noir@^1.2").expect("the yanked one");
    assert_eq!((kept.version.clone(), kept.yanked), (v("1.3.1"), true));
    assert_eq!(
        store.resolve_bound("noir").expect("match").version,
        v("2.0.0")
    );
    assert!(
        store.resolve_bound("noir@~1.2").is_err(),
        "1.2.0 is disabled"
    );
    store.unyank(&name("noir"), &v("1.3.1")).expect("unyank");
    assert_eq!(
        store.resolve("noir@^1.2").expect("match").version,
        v("1.3.1")
    );
    assert!(matches!(
        store.resolve("noir@^3"),
        Err(RegistryError::NoMatch { .. })
    ));
    assert!(matches!(
        store.resolve("Noir@^1"),
        Err(RegistryError::InvalidRequirement { .. })
    ));
    assert!(matches!(
        store.yank(&name("noir"), &v("9.9.9")),
        Err(RegistryError::NotInstalled { .. })
    ));

    let used = store.resolve("noir@=2.0.0").expect("match");
    let e = store
        .remove(&name("noir"), &v("2.0.0"), |n, ver| {
            n == "noir" && ver.major == 2
        })
        .expect_err("in use");
    assert_eq!(
        e.to_string(),
        "noir@2.0.0 is in use; unbind it before removing it"
    );
    assert!(store.path(&used.component).is_file());

    store
        .remove(&name("noir"), &v("2.0.0"), |_, _| false)
        .expect("remove");
    assert!(!store.path(&used.component).exists());
    // The shared manifest-less blobs of other versions survive.
    for installed in store.list().expect("list") {
        assert!(store.get(&installed.component).is_ok());
        assert!(store.get(&installed.manifest).is_ok());
        for asset in installed.assets.values() {
            assert!(store.get(asset).is_ok(), "shared asset blob kept");
        }
    }
    assert_eq!(store.resolve("noir").expect("match").version, v("1.3.1"));
    assert_eq!(store.list().expect("list").len(), 4);
}

#[test]
fn a_store_reopens_with_its_index() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let p = Package::open(package_dir(tmp.path(), "noir", "1.0.0", b"x")).expect("open");
    let installed = Store::open(tmp.path().join("s"))
        .expect("store")
        .install(&p, SignaturePolicy::Optional, &[])
        .expect("install");
    let reopened = Store::open(tmp.path().join("s")).expect("store");
    assert_eq!(reopened.resolve("noir@1").expect("match"), installed);
    let mut f = fs::OpenOptions::new()
        .append(true)
        .open(tmp.path().join("s/index.json"))
        .expect("open index");
    f.write_all(b"garbage").expect("write");
    assert!(matches!(
        reopened.list(),
        Err(RegistryError::CorruptIndex { .. })
    ));
}

#[test]
fn in_memory_packages_obey_the_same_rules() {
    let files = |extra: (&str, &[u8])| -> BTreeMap<String, Vec<u8>> {
        let mut f: BTreeMap<String, Vec<u8>> = good_entries()
            .into_iter()
            .map(|(n, d)| (String::from_utf8(n).expect("utf-8"), d))
            .collect();
        f.insert(extra.0.to_owned(), extra.1.to_vec());
        f
    };
    let ok = Package::from_files("mem", files(("luts/a.cube", b"x"))).expect("valid");
    assert_eq!(ok.assets().count(), 1);
    assert!(matches!(
        Package::from_files("mem", files(("../a.cube", b"x"))),
        Err(RegistryError::UnsafeEntry { .. })
    ));
}

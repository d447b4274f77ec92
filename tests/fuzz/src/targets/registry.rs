//! Plugin manifests and package archives (`kino-registry`).

use std::collections::BTreeMap;
use std::io::{Read as _, Write as _};

use kino_registry::{Manifest, Package};

use super::{Outcome, TOML_TOKENS, Target, bucket, no_seeds, text};

/// `kino-plugin.toml`, as `Manifest::parse` reads it when a package is
/// opened or installed.
pub const MANIFEST: Target = Target {
    name: "manifest",
    about: "kino-plugin.toml: Manifest::parse, then validate_config",
    run: manifest,
    dictionary: &[TOML_TOKENS, MANIFEST_TOKENS],
    max_len: 16 << 10,
    generated_seeds: no_seeds,
};

const MANIFEST_TOKENS: &[&[u8]] = &[
    b"format = 1",
    b"format = 2",
    b"[plugin]",
    b"name = ",
    b"version = ",
    b"\"1.2.3-rc.1+build.5\"",
    b"world = ",
    b"\"kino:stage/director-style@0.1.0\"",
    b"\"kino:stage/translator@0.1.0\"",
    b"kino:stage/",
    b"@0.1.0",
    b"description = ",
    b"authors = ",
    b"license = ",
    b"[capabilities]",
    b"outbound-hosts = ",
    b"\"https://api.example.com\"",
    b"\"https://*.example.com:8443\"",
    b"http://",
    b"https://",
    b"*.",
    b":443",
    b":0",
    b":65536",
    b"[::1]",
    b"[limits]",
    b"memory = ",
    b"\"64MiB\"",
    b"\"1GiB\"",
    b"KiB",
    b"timeout-ms = ",
    b"fuel = ",
    b"[[config]]",
    b"key = ",
    b"type = ",
    b"\"string\"",
    b"\"integer\"",
    b"\"number\"",
    b"\"boolean\"",
    b"default = ",
    b"required = true",
];

fn manifest(bytes: &[u8]) -> Outcome {
    let text = text(bytes);
    match Manifest::parse(&text, "kino-plugin.toml") {
        Ok(m) => {
            // What the host does next with a manifest: show it, and check a
            // binding's config against its schema.
            let hosts: Vec<String> = m.outbound_hosts().iter().map(ToString::to_string).collect();
            let _ = (m.name().to_string(), m.version().to_string(), m.limits());
            let defaults = m.validate_config(&BTreeMap::new());
            Outcome::all([
                Outcome::ok(format!(
                    "config={} hosts={}",
                    bucket(m.config().len()),
                    bucket(hosts.len())
                )),
                defaults.map(|_| ()).into(),
            ])
        }
        Err(e) => Outcome::err(e),
    }
}

/// A plugin package archive, as `Package::open` reads an uploaded
/// `.tar.gz`. An input that starts with the gzip magic is the archive
/// itself; any other is a tar stream, gzipped here first, so mutations reach
/// the tar reader and the package checks instead of breaking the deflate
/// stream.
pub const PACKAGE: Target = Target {
    name: "package",
    about: "plugin .tar.gz: Package::open (tar inputs gzipped first)",
    run: package,
    dictionary: &[PACKAGE_TOKENS],
    max_len: 64 << 10,
    generated_seeds: package_seeds,
};

const PACKAGE_TOKENS: &[&[u8]] = &[
    b"ustar\x0000",
    b"ustar  \x00",
    b"kino-plugin.toml",
    b"plugin.wasm",
    b"kino-plugin.sig",
    b"luts/",
    b"../",
    b"./",
    b"/",
    b"//",
    b"\\",
    b"././@LongLink",
    b"0000644\x00",
    b"0000755\x00",
    b"00000000000\x00",
    b"77777777777\x00",
    b"\x80\x00\x00\x00\x00\x00\x00\xff\xff\xff\xff\xff",
    b"0",
    b"1",
    b"2",
    b"3",
    b"5",
    b"6",
    b"7",
    b"L",
    b"K",
    b"x",
    b"g",
    b"S",
    b"path=",
    b"size=",
    b"\x00asm\x01\x00\x00\x00",
    b"\x1f\x8b\x08\x00",
    b"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00",
];

fn package(bytes: &[u8]) -> Outcome {
    let archive = if bytes.starts_with(&[0x1f, 0x8b]) {
        bytes.to_vec()
    } else {
        gzip(bytes)
    };
    let mut file = tempfile::Builder::new()
        .prefix("kino-fuzz-")
        .suffix(".tar.gz")
        .tempfile()
        .expect("a temporary file");
    file.write_all(&archive).expect("writing the archive");
    match Package::open(file.path()) {
        Ok(p) => {
            // What installing reads next: the digest and the component.
            let _ = (p.digest(), p.component().len());
            Outcome::ok(format!(
                "files={} assets={} signed={}",
                bucket(p.files().len()),
                bucket(p.assets().count()),
                p.signature().is_some()
            ))
        }
        Err(e) => {
            // The path is a fresh temporary name each time: not part of the
            // outcome.
            let message = format!("{e:#}").replace(&file.path().display().to_string(), "PKG");
            Outcome::err(tar_message(&message))
        }
    }
}

/// The tar reader's messages quote raw header bytes and the entry's path
/// unquoted (`numeric field was not a number: BYTES when getting size for
/// PATH`): both go, the field stays.
fn tar_message(message: &str) -> String {
    let Some(when) = message.find(" when getting ") else {
        return message.to_owned();
    };
    let head = &message[..when];
    let head = head.rfind(": ").map_or(head, |colon| &head[..colon]);
    let tail = &message[when..];
    let tail = tail.find(" for ").map_or(tail, |f| &tail[..f]);
    format!("{head}{tail}")
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(bytes).expect("gzip into memory");
    gz.finish().expect("gzip into memory")
}

const SEED_MANIFEST: &str = include_str!("../../corpus/manifest/echo.toml");

/// Files beside the manifest and the component: (path, contents).
type Assets = &'static [(&'static str, &'static [u8])];

/// Archives written by the registry's own writer (`Package::write_archive`,
/// what `kino plugin pack` runs): plain, with a LUT asset at a long path,
/// signed; each as `.tar.gz` and as the bare tar stream.
fn package_seeds() -> Vec<Vec<u8>> {
    let dir = tempfile::tempdir().expect("a temporary directory");
    // A fixed key: the same seeds on every run.
    let key: kino_registry::SigningKey =
        "kino-ed25519-secret:KioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKio="
            .parse()
            .expect("a valid signing key");
    let mut seeds = Vec::new();
    let variants: [(Assets, bool); 3] = [
        (&[], false),
        (
            &[(
                "luts/a-rather-long-directory-name-for-the-tar-header/and-a-long-file-name-that-passes-one-hundred-bytes.cube",
                b"LUT_3D_SIZE 2\n0 0 0\n1 0 0\n0 1 0\n1 1 0\n0 0 1\n1 0 1\n0 1 1\n1 1 1\n",
            )],
            false,
        ),
        (&[("README.md", b"a plugin\n")], true),
    ];
    for (i, (assets, signed)) in variants.into_iter().enumerate() {
        let mut files = BTreeMap::new();
        files.insert(
            "kino-plugin.toml".to_owned(),
            SEED_MANIFEST.as_bytes().to_vec(),
        );
        files.insert("plugin.wasm".to_owned(), b"\0asm\x0d\0\x01\0".to_vec());
        for (path, bytes) in assets {
            files.insert((*path).to_owned(), bytes.to_vec());
        }
        let mut package = Package::from_files("seed", files).expect("a valid seed package");
        if signed {
            let signature = kino_registry::sign(&package, &key);
            package.set_signature(Some(signature));
        }
        let out = dir.path().join(format!("seed-{i}.tar.gz"));
        package.write_archive(&out).expect("writing a seed archive");
        let gz = std::fs::read(&out).expect("reading a seed archive");
        let mut tar = Vec::new();
        flate2::read::GzDecoder::new(gz.as_slice())
            .read_to_end(&mut tar)
            .expect("a seed archive decompresses");
        seeds.push(gz);
        seeds.push(tar);
    }
    seeds
}

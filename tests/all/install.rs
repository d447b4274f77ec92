//! Operators pack, sign and install the reference plugins; the host refuses
//! what it cannot run and nothing half-installed remains.

use std::path::{Path, PathBuf};

use kino_registry::{SignaturePolicy, Store};
use kino_runtime::CallCtx;
use kino_runtime::plugins;
use kino_tests::{brief, plugin_path, runtime, scene};

const REFERENCE: [(&str, &str); 5] = [
    ("script-arc", "kino-script-arc"),
    ("director-styles", "kino-director-styles"),
    ("translator-phrasebook", "kino-translator-phrasebook"),
    ("grader-palette", "kino-grader-palette"),
    ("fallback-backoff", "kino-fallback-backoff"),
];

fn plugin_dir(dir: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../plugins")
        .join(dir)
}

#[tokio::test]
async fn signed_reference_plugins_install_resolve_and_run() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let (secret, public) = plugins::keygen(&tmp.path().join("keys/operator")).expect("keygen");
    let trusted = plugins::read_trusted_keys(&[public]).expect("trusted key");
    let registry = Store::open(tmp.path().join("registry")).expect("registry");

    for (dir, package) in REFERENCE {
        let archive = tmp.path().join(format!("{package}.tar.gz"));
        plugins::pack(&plugin_dir(dir), Some(&plugin_path(package)), &archive).expect("pack");
        plugins::sign(&archive, &secret).expect("sign");
        let installed = plugins::install(
            runtime(),
            &registry,
            &archive,
            SignaturePolicy::Required,
            &trusted,
        )
        .unwrap_or_else(|e| panic!("installing {package}: {e:#}"));
        assert_eq!(installed.name.as_str(), package);
        assert!(installed.signer.is_some());
    }
    assert_eq!(registry.list().expect("list").len(), 5);

    let (installed, plugin) =
        plugins::load_installed(runtime(), &registry, "kino-director-styles@^0.1").expect("load");
    assert_eq!(installed.version.to_string(), "0.1.0");
    let call = CallCtx::new("acme").with_config([("style", "noir-high-contrast")]);
    let directed = runtime()
        .director(&plugin, &call)
        .expect("director")
        .direct(&scene(), &brief(30))
        .await
        .expect("no trap")
        .expect("no plugin error");
    assert_eq!(directed.grade.look, "noir-high-contrast");
}

#[test]
fn refused_packages_leave_nothing_installed() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let (secret, public) = plugins::keygen(&tmp.path().join("op")).expect("keygen");
    let trusted = plugins::read_trusted_keys(&[public]).expect("trusted key");
    let registry = Store::open(tmp.path().join("registry")).expect("registry");
    let install = |archive: &Path, policy| {
        plugins::install(runtime(), &registry, archive, policy, &trusted)
            .map(drop)
            .map_err(|e| format!("{e:#}"))
    };

    // The manifest says grader; the component is a fallback policy.
    let wrong_world = tmp.path().join("wrong.tar.gz");
    plugins::pack(
        &plugin_dir("grader-palette"),
        Some(&plugin_path("kino-fallback-backoff")),
        &wrong_world,
    )
    .expect("pack");
    let error = install(&wrong_world, SignaturePolicy::Optional).expect_err("wrong world");
    assert!(
        error.contains("does not implement kino:stage/grader"),
        "{error}"
    );

    // A component importing an interface the host does not provide.
    let escape = tmp.path().join("escape.tar.gz");
    plugins::pack(
        &plugin_dir("director-styles"),
        Some(&plugin_path("kino-test-hostile-import")),
        &escape,
    )
    .expect("pack");
    let error = install(&escape, SignaturePolicy::Optional).expect_err("unknown import");
    assert!(error.contains("kino:hostile/escape"), "{error}");

    // Unsigned under a signature policy; signed by an untrusted key.
    let unsigned = tmp.path().join("unsigned.tar.gz");
    plugins::pack(
        &plugin_dir("director-styles"),
        Some(&plugin_path("kino-director-styles")),
        &unsigned,
    )
    .expect("pack");
    let error = install(&unsigned, SignaturePolicy::Required).expect_err("unsigned");
    assert!(error.contains("not signed"), "{error}");
    let (stranger, _) = plugins::keygen(&tmp.path().join("stranger")).expect("keygen");
    plugins::sign(&unsigned, &stranger).expect("sign");
    let error = install(&unsigned, SignaturePolicy::Required).expect_err("untrusted signer");
    assert!(!error.is_empty());

    assert!(
        registry.list().expect("list").is_empty(),
        "nothing half-installed"
    );

    // The same package signed by the operator installs.
    plugins::sign(&unsigned, &secret).expect("sign");
    install(&unsigned, SignaturePolicy::Required).expect("installs once signed properly");
    assert_eq!(registry.list().expect("list").len(), 1);
}

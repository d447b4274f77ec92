//! The model repository and the loaded-model cache on small fake models.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use kino_models::{Error, Models, Repository};

/// Writes a model folder `name/version` with `files` and its manifest.
fn model(dir: &Path, name: &str, version: &str, files: &[(&str, &[u8])]) -> std::path::PathBuf {
    let folder = dir.join(format!("{name}-{version}"));
    std::fs::create_dir_all(&folder).expect("mkdir");
    let mut manifest = format!(
        "name = \"{name}\"\nversion = \"{version}\"\nkind = \"vad\"\nformat = \"onnx\"\n\
         licence = \"MIT\"\n\n[files]\n"
    );
    for (file, bytes) in files {
        if let Some(parent) = folder.join(file).parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(folder.join(file), bytes).expect("write");
        let hash = kino_models::repository::sha256_file(&folder.join(file)).expect("hash");
        manifest.push_str(&format!("\"{file}\" = \"{hash}\"\n"));
    }
    std::fs::write(folder.join("model.toml"), manifest).expect("manifest");
    folder
}

#[test]
fn add_list_get_verify_remove() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let repo = Repository::new(tmp.path().join("repo"));
    assert!(repo.list().expect("empty list").is_empty());
    let err = repo.get("tiny").expect_err("not installed").to_string();
    assert!(err.contains("make models"), "{err}");

    let v1 = model(tmp.path(), "tiny", "1", &[("w.bin", b"one")]);
    let v10 = model(tmp.path(), "tiny", "10", &[("w.bin", b"ten")]);
    let v2 = model(tmp.path(), "tiny", "2", &[("w.bin", b"two")]);
    for source in [&v1, &v10, &v2] {
        repo.add(source).expect("add");
    }
    let ids: Vec<String> = repo.list().expect("list").iter().map(|m| m.id()).collect();
    assert_eq!(ids, ["tiny@1", "tiny@2", "tiny@10"]);
    // The newest version by number, not by string.
    let newest = repo.get("tiny").expect("get");
    assert_eq!(newest.id(), "tiny@10");
    newest.verify().expect("verifies");

    // One byte off: refused, naming the file.
    std::fs::write(newest.dir.join("w.bin"), b"tex").expect("corrupt");
    match newest.verify() {
        Err(Error::HashMismatch { file, .. }) => assert!(file.ends_with("w.bin")),
        other => panic!("expected a hash mismatch, got {other:?}"),
    }

    assert_eq!(
        repo.remove("tiny", Some("10")).expect("remove"),
        ["tiny@10"]
    );
    assert_eq!(repo.get("tiny").expect("get").id(), "tiny@2");
    assert_eq!(repo.remove("tiny", None).expect("remove all").len(), 2);
    assert!(repo.list().expect("list").is_empty());
}

#[test]
fn a_source_that_does_not_match_its_manifest_is_not_installed() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let repo = Repository::new(tmp.path().join("repo"));
    let source = model(tmp.path(), "m", "1", &[("a.bin", b"aaaa")]);
    std::fs::write(source.join("a.bin"), b"aaab").expect("tamper");
    let err = repo.add(&source).expect_err("tampered").to_string();
    assert!(
        err.contains("a.bin") && err.contains("does not match"),
        "{err}"
    );
    assert!(repo.list().expect("list").is_empty(), "nothing installed");

    // A manifest naming a file outside its folder is refused.
    let evil = model(tmp.path(), "e", "1", &[("x.bin", b"x")]);
    let text = std::fs::read_to_string(evil.join("model.toml")).expect("read");
    std::fs::write(
        evil.join("model.toml"),
        text.replace("\"x.bin\"", "\"../x.bin\""),
    )
    .expect("write");
    let err = repo.add(&evil).expect_err("path escape").to_string();
    assert!(err.contains("plain name"), "{err}");
    for escape in ["unet/../../x.bin", "/x.bin", "unet//x.bin", "unet/.x.bin"] {
        std::fs::write(
            evil.join("model.toml"),
            text.replace("\"x.bin\"", &format!("\"{escape}\"")),
        )
        .expect("write");
        let err = repo.add(&evil).expect_err("path escape").to_string();
        assert!(err.contains("plain name"), "{escape}: {err}");
    }

    // Files in folders of the model's folder (a diffusers export's layout).
    let nested = model(
        tmp.path(),
        "sd",
        "1",
        &[("unet/model.onnx", b"u"), ("tokenizer/vocab.json", b"{}")],
    );
    let installed = repo.add(&nested).expect("nested files install");
    let unet = installed.file("unet/model.onnx").expect("listed");
    assert_eq!(std::fs::read(unet).expect("read"), b"u");
    installed.verify().expect("verified");
}

#[test]
fn a_model_loads_once_and_the_least_recently_used_is_dropped_beyond_the_budget() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let repo = Repository::new(tmp.path().join("repo"));
    for name in ["a", "b", "c"] {
        repo.add(&model(tmp.path(), name, "1", &[("w.bin", &[0u8; 100])]))
            .expect("add");
    }
    // Room for two 100-byte models.
    let models = Models::new(repo, 250);
    let loads = AtomicUsize::new(0);
    let load = |name: &str| {
        models
            .load(name, |m| {
                loads.fetch_add(1, Ordering::SeqCst);
                Ok(m.id())
            })
            .expect("load")
            .0
    };
    // Concurrent stages wanting the same model share one load.
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| assert_eq!(*load("a"), "a@1"));
        }
    });
    assert_eq!(loads.load(Ordering::SeqCst), 1);
    let held: Arc<String> = load("b");
    load("a"); // a is now more recent than b
    load("c"); // over budget: b, the least recently used, goes
    let loaded: Vec<String> = models.loaded().into_iter().map(|m| m.id).collect();
    assert_eq!(loaded, ["c@1", "a@1"]);
    assert_eq!(*held, "b@1", "a stage still using b keeps it");
    load("b");
    assert_eq!(
        loads.load(Ordering::SeqCst),
        4,
        "b loaded again after eviction"
    );
}

#[test]
fn a_torchscript_model_names_its_entry_point_and_tensors() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let repo = Repository::new(tmp.path().join("repo"));
    let source = model(tmp.path(), "voc", "1", &[("vocoder.pt", b"pt")]);
    let plain = std::fs::read_to_string(source.join("model.toml")).expect("read");
    let torchscript = plain.replace(
        "kind = \"vad\"\nformat = \"onnx\"",
        "kind = \"vocoder\"\nformat = \"torchscript\"",
    );
    let with = |signature: &str| {
        std::fs::write(
            source.join("model.toml"),
            format!("{torchscript}\n{signature}"),
        )
        .expect("write");
        repo.add(&source)
    };

    let err = with("").expect_err("no signature").to_string();
    assert!(err.contains("needs a [signatures.NAME]"), "{err}");
    let cases = [
        (
            "file = \"other.pt\"\ninputs = [{ name = \"mel\", dtype = \"f32\", shape = [1] }]\noutputs = [{ name = \"audio\", dtype = \"f32\", shape = [1] }]",
            "`other.pt` is not among",
        ),
        (
            "file = \"vocoder.pt\"\ninputs = []\noutputs = [{ name = \"audio\", dtype = \"f32\", shape = [1] }]",
            "at least one input",
        ),
        (
            "file = \"vocoder.pt\"\ninputs = [{ name = \"x\", dtype = \"f32\", shape = [1] }]\noutputs = [{ name = \"x\", dtype = \"f32\", shape = [1] }]",
            "`x` is named twice",
        ),
        (
            "file = \"vocoder.pt\"\ninputs = [{ name = \"mel\", dtype = \"f32\", shape = [0, 80] }]\noutputs = [{ name = \"audio\", dtype = \"f32\", shape = [1] }]",
            "dimension `0`",
        ),
        (
            "file = \"vocoder.pt\"\ninputs = [{ name = \"mel\", dtype = \"f16\", shape = [1] }]\noutputs = [{ name = \"audio\", dtype = \"f32\", shape = [1] }]",
            "f16",
        ),
    ];
    for (signature, expect) in cases {
        let err = with(&format!("[signatures.vocoder]\n{signature}\n"))
            .expect_err(expect)
            .to_string();
        assert!(
            err.contains(expect)
                && (err.contains("signatures.vocoder: ") || err.contains("TOML parse error")),
            "{expect}: {err}"
        );
    }
    assert!(repo.list().expect("list").is_empty(), "nothing installed");

    let installed = with(
        "[signatures.vocoder]\nfile = \"vocoder.pt\"\n\
         inputs = [{ name = \"mel\", dtype = \"f32\", shape = [1, 80, \"frames\"] }]\n\
         outputs = [{ name = \"audio\", dtype = \"f32\", shape = [1, 1, \"samples\"] }]\n\
         [parameters]\nhop = 256\n",
    )
    .expect("a whole signature installs");
    let signature = &installed.manifest.signatures["vocoder"];
    assert_eq!(
        signature.inputs[0].shape[2],
        kino_models::Dim::Named("frames".into())
    );
    assert_eq!(signature.outputs[0].shape[0], kino_models::Dim::Fixed(1));
    assert_eq!(installed.manifest.parameters["hop"].as_integer(), Some(256));
}

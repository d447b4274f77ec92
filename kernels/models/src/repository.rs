//! The model repository: a directory the operator owns, one folder per model
//! and version, each with a `model.toml` manifest (laid out like Triton's
//! model repository):
//!
//! ```text
//! models/
//!   whisper-tiny.en/1/model.toml, model.bin, config.json, vocabulary.txt
//!   piper-en_US-joe-medium/1/model.toml, voice.onnx, voice.onnx.json
//! ```
//!
//! A manifest names the model's kind, format, languages, licence and source,
//! and the sha256 of every file; a model whose files differ is refused,
//! naming the file. Folders starting with `.` are installs in progress and
//! are ignored.

use std::collections::BTreeMap;
use std::fs;
use std::io::Read as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// The command that installs the default models, for errors that need it.
pub const INSTALL_HINT: &str = "`make models` installs the default models";

/// What a model does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// Speech recognition (Whisper).
    Asr,
    /// A neural voice (Piper).
    TtsVoice,
    /// Voice-activity detection (Silero).
    Vad,
    /// Vocal/background separation.
    Separation,
    /// Lip-sync.
    Lipsync,
    /// Image diffusion.
    Diffusion,
    /// A neural vocoder.
    Vocoder,
    /// A runtime library models of another format need (ONNX Runtime).
    Runtime,
}

/// How its weights are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// Safetensors.
    Safetensors,
    /// A CTranslate2 `model.bin`.
    Ctranslate2,
    /// ONNX.
    Onnx,
    /// A TorchScript archive.
    Torchscript,
    /// A native shared library.
    SharedLibrary,
}

/// A model's `model.toml`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// The model's name (`whisper-tiny.en`), its folder's name.
    pub name: String,
    /// Its version, the folder under the name.
    pub version: String,
    /// What it does.
    pub kind: Kind,
    /// How it is stored.
    pub format: Format,
    /// The languages it handles (BCP 47 primary tags); empty when that
    /// doesn't apply.
    #[serde(default)]
    pub languages: Vec<String>,
    /// Its licence, as the operator should read it.
    pub licence: String,
    /// Where it came from.
    #[serde(default)]
    pub source: String,
    /// Every file, by name in the folder, with its sha256 (hex).
    pub files: BTreeMap<String, String>,
    /// The networks of a model whose format doesn't describe itself
    /// (TorchScript), by the name its kernel knows each by (`vocoder`;
    /// `text_encoder`, `unet`, `vae_decoder`): the file and the tensors it
    /// takes and returns.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub signatures: BTreeMap<String, Signature>,
    /// Numbers the kernel using the model needs that its files don't carry
    /// (a vocoder's mel spectrogram: `sample_rate`, `n_fft`, `hop`, …).
    #[serde(default, skip_serializing_if = "toml::Table::is_empty")]
    pub parameters: toml::Table,
}

/// One network of a model: the file holding it and the tensors its
/// `forward` takes and returns, in order.
///
/// ```toml
/// [signatures.vocoder]
/// file = "vocoder.pt"
/// inputs = [{ name = "mel", dtype = "f32", shape = [1, 80, "frames"] }]
/// outputs = [{ name = "audio", dtype = "f32", shape = [1, 1, "samples"] }]
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Signature {
    /// The file, one of the manifest's `files`.
    pub file: String,
    /// What `forward` takes, in order.
    pub inputs: Vec<TensorSpec>,
    /// What it returns, in order (a tuple when there are several).
    pub outputs: Vec<TensorSpec>,
}

/// One tensor of a [`Signature`].
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TensorSpec {
    /// Its name, for the kernel and for errors.
    pub name: String,
    /// Its element type.
    pub dtype: Dtype,
    /// Its dimensions: a size, or a name that stands for any size (the same
    /// name must be the same size wherever it appears in one call).
    pub shape: Vec<Dim>,
}

/// A tensor's element type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Dtype {
    /// 32-bit float.
    F32,
    /// 64-bit integer (token ids, timesteps).
    I64,
}

/// One dimension of a [`TensorSpec`].
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum Dim {
    /// Exactly this size.
    Fixed(u64),
    /// Any size, named.
    Named(String),
}

impl std::fmt::Display for Dim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Dim::Fixed(n) => write!(f, "{n}"),
            Dim::Named(name) => f.write_str(name),
        }
    }
}

impl Signature {
    /// What is wrong with it for a model listing `files`, if anything.
    fn problem(&self, files: &BTreeMap<String, String>) -> Option<String> {
        if !files.contains_key(&self.file) {
            return Some(format!(
                "file `{}` is not among the model's files",
                self.file
            ));
        }
        if self.inputs.is_empty() || self.outputs.is_empty() {
            return Some("it needs at least one input and one output".into());
        }
        let tensors = self.inputs.iter().chain(&self.outputs);
        let mut seen = std::collections::BTreeSet::new();
        for t in tensors {
            if !seen.insert(&t.name) {
                return Some(format!("tensor `{}` is named twice", t.name));
            }
            if t.shape.is_empty() {
                return Some(format!("tensor `{}` has no dimensions", t.name));
            }
            if let Some(d) = t.shape.iter().find(|d| {
                matches!(d, Dim::Fixed(0)) || matches!(d, Dim::Named(n) if !is_plain_name(n))
            }) {
                return Some(format!(
                    "tensor `{}`: dimension `{d}` must be a positive size or a plain name",
                    t.name
                ));
            }
        }
        None
    }
}

/// An installed model: its manifest and folder.
#[derive(Debug, Clone)]
pub struct Installed {
    /// The manifest.
    pub manifest: Manifest,
    /// The folder its files are in.
    pub dir: PathBuf,
    /// The sha256 of `model.toml`: identifies exactly this model, files
    /// included, in cache keys.
    pub digest: String,
}

impl Installed {
    /// `name@version`.
    pub fn id(&self) -> String {
        format!("{}@{}", self.manifest.name, self.manifest.version)
    }

    /// A file of the model; an error if the manifest doesn't list it.
    pub fn file(&self, name: &str) -> Result<PathBuf, Error> {
        if self.manifest.files.contains_key(name) {
            Ok(self.dir.join(name))
        } else {
            Err(Error::NoSuchFile {
                model: self.id(),
                file: name.to_owned(),
            })
        }
    }

    /// Total size of its files in bytes.
    pub fn size(&self) -> u64 {
        self.manifest
            .files
            .keys()
            .filter_map(|f| fs::metadata(self.dir.join(f)).ok())
            .map(|m| m.len())
            .sum()
    }

    /// Checks every file against its hash; the error names the first that differs.
    pub fn verify(&self) -> Result<(), Error> {
        for (file, want) in &self.manifest.files {
            let path = self.dir.join(file);
            let got = sha256_file(&path).map_err(|e| Error::Io(path.clone(), e))?;
            if !got.eq_ignore_ascii_case(want) {
                return Err(Error::HashMismatch {
                    model: self.id(),
                    file: path,
                    want: want.clone(),
                    got,
                });
            }
        }
        Ok(())
    }
}

/// What can go wrong with the repository.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The model isn't installed.
    #[error("model `{name}` is not installed in {}; {INSTALL_HINT}, `kino models add DIR` adds another", dir.display())]
    NotInstalled {
        /// Its name.
        name: String,
        /// The repository.
        dir: PathBuf,
    },
    /// A file's hash differs from its manifest.
    #[error("model `{model}`: {} does not match its manifest (sha256 {got}, expected {want}); reinstall it", file.display())]
    HashMismatch {
        /// The model.
        model: String,
        /// The file that differs.
        file: PathBuf,
        /// The manifest's hash.
        want: String,
        /// The file's hash.
        got: String,
    },
    /// A manifest that doesn't parse or doesn't match its folder.
    #[error("{}: {reason}", path.display())]
    BadManifest {
        /// The manifest.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A file the caller needs isn't part of the model.
    #[error("model `{model}` has no file `{file}`")]
    NoSuchFile {
        /// The model.
        model: String,
        /// The file asked for.
        file: String,
    },
    /// Reading or writing failed.
    #[error("{path}: {source}", path = .0.display(), source = .1)]
    Io(PathBuf, #[source] std::io::Error),
}

/// A model repository on disk.
#[derive(Debug, Clone)]
pub struct Repository {
    dir: PathBuf,
}

impl Repository {
    /// The repository at `dir` (which need not exist yet).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// Its folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The name of the first model (by name) of `kind` in `format`, if any:
    /// the one a pipeline uses when nothing names another.
    pub fn first_of(&self, kind: Kind, format: Format) -> Option<String> {
        self.list()
            .ok()?
            .into_iter()
            .filter(|m| m.manifest.kind == kind && m.manifest.format == format)
            .map(|m| m.manifest.name)
            .min()
    }

    /// Every installed model, by name then version.
    pub fn list(&self) -> Result<Vec<Installed>, Error> {
        let mut all = Vec::new();
        for name in read_dirs(&self.dir)? {
            for version in read_dirs(&self.dir.join(&name))? {
                all.push(self.load(&name, &version)?);
            }
        }
        all.sort_by(|a, b| {
            (&a.manifest.name, version_key(&a.manifest.version))
                .cmp(&(&b.manifest.name, version_key(&b.manifest.version)))
        });
        Ok(all)
    }

    /// The newest installed version of `name` (its files not yet verified).
    pub fn get(&self, name: &str) -> Result<Installed, Error> {
        let not_installed = || Error::NotInstalled {
            name: name.to_owned(),
            dir: self.dir.clone(),
        };
        if !is_plain_name(name) {
            return Err(not_installed());
        }
        let versions = read_dirs(&self.dir.join(name))?;
        let newest = versions
            .iter()
            .filter(|v| self.dir.join(name).join(v).join("model.toml").is_file())
            .max_by_key(|v| version_key(v))
            .ok_or_else(not_installed)?;
        self.load(name, newest)
    }

    /// Installs the model in `source` (a folder with a `model.toml` and the
    /// files it lists), after checking every hash; the install is atomic and
    /// replaces the same name and version.
    pub fn add(&self, source: &Path) -> Result<Installed, Error> {
        let candidate = read_manifest(source)?;
        candidate.verify()?;
        let Manifest { name, version, .. } = &candidate.manifest;
        let final_dir = self.dir.join(name).join(version);
        let staging = self.dir.join(name).join(format!(".{version}.partial"));
        let io = |p: &Path| {
            let p = p.to_path_buf();
            move |e| Error::Io(p, e)
        };
        let _ = fs::remove_dir_all(&staging);
        fs::create_dir_all(&staging).map_err(io(&staging))?;
        for file in candidate
            .manifest
            .files
            .keys()
            .map(String::as_str)
            .chain(["model.toml"])
        {
            let to = staging.join(file);
            if let Some(parent) = to.parent() {
                fs::create_dir_all(parent).map_err(io(parent))?;
            }
            fs::copy(source.join(file), &to).map_err(io(&to))?;
        }
        if final_dir.exists() {
            fs::remove_dir_all(&final_dir).map_err(io(&final_dir))?;
        }
        fs::rename(&staging, &final_dir).map_err(io(&final_dir))?;
        self.load(name, version)
    }

    /// Removes one version of a model (or every version when `version` is `None`).
    pub fn remove(&self, name: &str, version: Option<&str>) -> Result<Vec<String>, Error> {
        let installed: Vec<Installed> = self
            .list()?
            .into_iter()
            .filter(|m| m.manifest.name == name)
            .filter(|m| version.is_none_or(|v| m.manifest.version == v))
            .collect();
        if installed.is_empty() {
            return Err(Error::NotInstalled {
                name: version.map_or_else(|| name.to_owned(), |v| format!("{name}@{v}")),
                dir: self.dir.clone(),
            });
        }
        let mut removed = Vec::new();
        for model in installed {
            fs::remove_dir_all(&model.dir).map_err(|e| Error::Io(model.dir.clone(), e))?;
            removed.push(model.id());
        }
        let name_dir = self.dir.join(name);
        if read_dirs(&name_dir)?.is_empty() {
            let _ = fs::remove_dir_all(&name_dir);
        }
        Ok(removed)
    }

    fn load(&self, name: &str, version: &str) -> Result<Installed, Error> {
        let model = read_manifest(&self.dir.join(name).join(version))?;
        if model.manifest.name != name || model.manifest.version != version {
            return Err(Error::BadManifest {
                path: model.dir.join("model.toml"),
                reason: format!(
                    "it says {}@{}, but it is installed as {name}@{version}",
                    model.manifest.name, model.manifest.version
                ),
            });
        }
        Ok(model)
    }
}

fn read_manifest(dir: &Path) -> Result<Installed, Error> {
    let path = dir.join("model.toml");
    let text = fs::read_to_string(&path).map_err(|e| Error::Io(path.clone(), e))?;
    let bad = |reason: String| Error::BadManifest {
        path: path.clone(),
        reason,
    };
    let manifest: Manifest = toml::from_str(&text).map_err(|e| bad(e.to_string()))?;
    if !is_plain_name(&manifest.name) || !is_plain_name(&manifest.version) {
        return Err(bad(
            "name and version must be plain folder names (letters, digits, `.`, `_`, `-`)".into(),
        ));
    }
    if manifest.files.is_empty() {
        return Err(bad("it lists no files".into()));
    }
    if let Some(file) = manifest.files.keys().find(|f| !is_inner_path(f)) {
        return Err(bad(format!(
            "file `{file}` must be a plain name in the model's folder (or in a folder of it: `unet/model.onnx`)"
        )));
    }
    if let Some((file, _)) = manifest
        .files
        .iter()
        .find(|(_, h)| h.len() != 64 || !h.bytes().all(|b| b.is_ascii_hexdigit()))
    {
        return Err(bad(format!(
            "file `{file}`: the sha256 is not 64 hex digits"
        )));
    }
    if manifest.signatures.is_empty() && manifest.format == Format::Torchscript {
        return Err(bad(
            "a torchscript model needs a [signatures.NAME] for each network: its file, inputs and outputs"
                .into(),
        ));
    }
    for (name, signature) in &manifest.signatures {
        if let Some(problem) = signature.problem(&manifest.files) {
            return Err(bad(format!("signatures.{name}: {problem}")));
        }
    }
    Ok(Installed {
        manifest,
        dir: dir.to_path_buf(),
        digest: hex::encode(Sha256::digest(text.as_bytes())),
    })
}

/// Paths that stay inside the model's folder: plain names joined by `/`
/// (a diffusers export keeps each network in a folder of its own).
fn is_inner_path(s: &str) -> bool {
    s.split('/').all(is_plain_name)
}

/// Names that stay inside their folder.
fn is_plain_name(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with('.')
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// Sub-folders of `dir` that aren't hidden; none if `dir` doesn't exist.
fn read_dirs(dir: &Path) -> Result<Vec<String>, Error> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::Io(dir.to_path_buf(), e)),
    };
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::Io(dir.to_path_buf(), e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with('.') && entry.path().is_dir() {
            names.push(name);
        }
    }
    names.sort();
    Ok(names)
}

/// Versions compare numerically part by part (`1.10` after `1.9`).
fn version_key(v: &str) -> Vec<(u64, String)> {
    v.split('.')
        .map(|part| (part.parse().unwrap_or(0), part.to_owned()))
        .collect()
}

/// The sha256 of a file, hex.
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut file = fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

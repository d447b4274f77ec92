//! Which pipelines a host runs: the built-ins, and the operator's own spec
//! files in a pipelines directory (`DIR/NAME.toml` for every tenant,
//! `DIR/tenants/TENANT_ID/NAME.toml` for one), checked against what the
//! host offers (its native kernels, the slots tenants bind) when read.
//!
//! The directory is read on every lookup, so an operator's new or edited
//! file applies to the next job without a restart. A job records the hash
//! of the spec it was submitted with, and the spec's text is stored as an
//! artifact under that hash: a job resumed or edited later runs the spec it
//! was submitted with, whatever happened to the file since.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use sha2::{Digest as _, Sha256};

use super::ops::DataKind;
use super::spec::{BUILT_IN, HostOffer, PipelineSpec};
use kino_native::{Kind, NativeKernels};
use kino_store::TenantId;

/// Where a pipeline's spec came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PipelineSource {
    /// Compiled into Kino.
    BuiltIn,
    /// An operator's file.
    File(PathBuf),
}

/// A pipeline a job can be submitted to: its checked spec, the text it was
/// read from, and that text's SHA-256 (what the job records).
#[derive(Debug, Clone)]
pub struct Pipeline {
    /// The checked spec.
    pub spec: PipelineSpec,
    /// The spec's text.
    pub text: String,
    /// SHA-256 of the text, hex.
    pub sha256: String,
    /// Where it came from.
    pub source: PipelineSource,
}

impl Pipeline {
    fn new(spec: PipelineSpec, text: String, source: PipelineSource) -> Self {
        Self {
            spec,
            sha256: hex::encode(Sha256::digest(text.as_bytes())),
            text,
            source,
        }
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.spec.name
    }
}

/// The pipelines a host runs.
#[derive(Clone)]
pub struct Catalog {
    dir: Option<PathBuf>,
    kernels: NativeKernels,
}

impl Catalog {
    /// The built-ins, the spec files in `dir` (if any), and `kernels` for
    /// their `native:` ops.
    pub fn new(dir: Option<PathBuf>, kernels: NativeKernels) -> Self {
        Self { dir, kernels }
    }

    /// The native kernels pipelines can run.
    pub fn kernels(&self) -> &NativeKernels {
        &self.kernels
    }

    /// The pipelines directory, if there is one.
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    /// What a spec file may use: the native kernels and the slots tenants bind.
    pub fn offer(&self) -> HostOffer {
        let kind = |k: Kind| match k {
            Kind::Video => DataKind::Video,
            Kind::Audio => DataKind::Audio,
            Kind::Json => DataKind::Json,
        };
        HostOffer {
            kernels: self
                .kernels
                .list()
                .into_iter()
                .map(|(info, _)| (info.name.clone(), (kind(info.input), kind(info.output))))
                .collect(),
            slots: Some(super::slots::known_slots()),
        }
    }

    /// The pipeline `name` as `tenant` sees it: a built-in, else the
    /// tenant's own file, else the operator's.
    pub fn get(&self, tenant: &TenantId, name: &str) -> Result<Pipeline> {
        if let Some((_, text)) = BUILT_IN.iter().find(|(n, _)| *n == name) {
            let spec = PipelineSpec::built_in(name)?;
            return Ok(Pipeline::new(
                spec,
                (*text).to_owned(),
                PipelineSource::BuiltIn,
            ));
        }
        check_name(name)?;
        for file in self.candidates(Some(tenant), name) {
            if file.is_file() {
                return self.load_file(&file);
            }
        }
        let mut known: Vec<String> = BUILT_IN.iter().map(|(n, _)| (*n).to_owned()).collect();
        known.extend(self.installed_names(Some(tenant)));
        bail!(
            "no pipeline named `{name}`; the pipelines are {}",
            known.join(", ")
        )
    }

    /// A spec file, wherever it is (`kino run path/to/pipeline.toml`): its
    /// `name` must be the file's name without `.toml`, and not a built-in's.
    pub fn load_file(&self, path: &Path) -> Result<Pipeline> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading pipeline spec {}", path.display()))?;
        let origin = path.display().to_string();
        let spec = PipelineSpec::parse_for(&origin, &text, &self.offer())?;
        check_name(&spec.name).with_context(|| origin.clone())?;
        let stem = path.file_stem().map(|s| s.to_string_lossy());
        if stem.as_deref() != Some(spec.name.as_str()) {
            bail!(
                "{origin}: the pipeline is named `{}`; its file must be named `{}.toml`",
                spec.name,
                spec.name
            );
        }
        if BUILT_IN.iter().any(|(n, _)| *n == spec.name) {
            bail!(
                "{origin}: `{}` is a built-in pipeline's name; give this one another",
                spec.name
            );
        }
        Ok(Pipeline::new(
            spec,
            text,
            PipelineSource::File(path.to_path_buf()),
        ))
    }

    /// The spec a job was submitted with (its recorded text), checked
    /// against what the host offers now: a kernel uninstalled since fails
    /// the job, naming it.
    pub fn recorded(&self, name: &str, sha256: &str, text: &str) -> Result<PipelineSpec> {
        let short = &sha256[..sha256.len().min(12)];
        let origin = format!("pipeline `{name}` as submitted (sha256 {short})");
        PipelineSpec::parse_for(&origin, text, &self.offer())
    }

    /// Every pipeline `tenant` can run (all tenants' when `None`): the
    /// built-ins, then the files; a file that does not load is returned as
    /// its error, so one bad file hides nothing else.
    pub fn list(&self, tenant: Option<&TenantId>) -> Vec<Result<Pipeline>> {
        let mut all: Vec<Result<Pipeline>> = BUILT_IN
            .iter()
            .map(|(name, text)| {
                PipelineSpec::built_in(name)
                    .map(|spec| Pipeline::new(spec, (*text).to_owned(), PipelineSource::BuiltIn))
            })
            .collect();
        let mut seen = std::collections::BTreeSet::new();
        for dir in self.dirs(tenant) {
            for file in spec_files(&dir) {
                let name = file
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default();
                // A tenant's file hides the operator's of the same name.
                if seen.insert(name) {
                    all.push(self.load_file(&file));
                }
            }
        }
        all
    }

    /// The directories searched for `tenant`, most specific first.
    fn dirs(&self, tenant: Option<&TenantId>) -> Vec<PathBuf> {
        let Some(dir) = &self.dir else {
            return Vec::new();
        };
        let mut dirs = Vec::new();
        if let Some(t) = tenant {
            dirs.push(dir.join("tenants").join(t.as_str()));
        }
        dirs.push(dir.clone());
        dirs
    }

    fn candidates(&self, tenant: Option<&TenantId>, name: &str) -> Vec<PathBuf> {
        self.dirs(tenant)
            .into_iter()
            .map(|d| d.join(format!("{name}.toml")))
            .collect()
    }

    fn installed_names(&self, tenant: Option<&TenantId>) -> Vec<String> {
        let mut names: Vec<String> = self
            .dirs(tenant)
            .iter()
            .flat_map(|d| spec_files(d))
            .filter_map(|f| Some(f.file_stem()?.to_string_lossy().into_owned()))
            .collect();
        names.sort();
        names.dedup();
        names
    }
}

/// The `*.toml` files of `dir`, sorted; none when it does not exist.
fn spec_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
}

/// A pipeline name: lowercase letters, digits and `-`, so that it can never
/// be a path.
fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !ok {
        bail!("`{name}` is not a pipeline name (lowercase letters, digits and `-`)");
    }
    Ok(())
}

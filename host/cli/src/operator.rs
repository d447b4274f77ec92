//! What an operator adds to the host without rebuilding it: pipelines from
//! spec files (`kino pipelines`, `kino run path/to/pipeline.toml`) and
//! native kernels from shared libraries (`kino kernel ...`).

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use clap::Subcommand;
use kino_pipeline::{Catalog, Pipeline, PipelineSource};

/// `kino kernel ...`: the operator's native kernels (trusted shared
/// libraries behind Kino's C ABI, `kernels/native/include/kino_kernel.h`).
#[derive(Subcommand)]
pub enum KernelCommand {
    /// Check a library (ABI version, kernel table, signature) and install it
    /// into DATA_DIR/kernels, where jobs find its kernels.
    Install {
        /// The shared library (`libmy_kernels.so`).
        library: PathBuf,
        /// Its signature (`kino kernel sign`); default LIBRARY.sig if present.
        #[arg(long)]
        signature: Option<PathBuf>,
        /// Trusted public keys; a signature must verify against one of them.
        #[arg(long = "trusted-key")]
        trusted_keys: Vec<PathBuf>,
        /// Refuse an unsigned library.
        #[arg(long)]
        require_signature: bool,
        /// The data directory.
        #[arg(long, default_value = ".kino")]
        data_dir: PathBuf,
    },
    /// Sign a library with a secret key (`kino plugin keygen`): writes LIBRARY.sig.
    Sign {
        /// The shared library.
        library: PathBuf,
        /// The secret key file.
        #[arg(long)]
        key: PathBuf,
    },
    /// List the installed native kernels.
    List {
        /// The data directory.
        #[arg(long, default_value = ".kino")]
        data_dir: PathBuf,
    },
}

/// Runs a `kino kernel` command.
pub fn run_kernel(command: KernelCommand) -> Result<()> {
    match command {
        KernelCommand::Install {
            library,
            signature,
            trusted_keys,
            require_signature,
            data_dir,
        } => {
            let policy = if require_signature {
                kino_registry::SignaturePolicy::Required
            } else {
                kino_registry::SignaturePolicy::Optional
            };
            let trusted = kino_runtime::plugins::read_trusted_keys(&trusted_keys)?;
            let beside = sig_path(&library);
            let signature = signature.or_else(|| beside.is_file().then_some(beside));
            let installed = kino_native::install(
                &library,
                &data_dir.join("kernels"),
                signature.as_deref(),
                policy,
                &trusted,
            )
            .with_context(|| format!("installing {}", library.display()))?;
            let names: Vec<&str> = installed.kernels.iter().map(|k| k.name.as_str()).collect();
            println!(
                "installed {} ({}){}",
                installed.file_name,
                names.join(", "),
                installed
                    .signer
                    .map(|k| format!(", signed by {k}"))
                    .unwrap_or_default()
            );
        }
        KernelCommand::Sign { library, key } => {
            let text = std::fs::read_to_string(&key)
                .with_context(|| format!("reading {}", key.display()))?;
            let key: kino_registry::SigningKey = text
                .trim()
                .parse()
                .with_context(|| format!("parsing secret key {}", key.display()))?;
            let signature = kino_native::sign(&library, &key)?;
            let to = sig_path(&library);
            std::fs::write(&to, signature.to_text())
                .with_context(|| format!("writing {}", to.display()))?;
            println!("wrote {}", to.display());
        }
        KernelCommand::List { data_dir } => {
            let kernels = kino_native::NativeKernels::load_dir(&data_dir.join("kernels"))?;
            for (info, library) in kernels.list() {
                println!(
                    "native:{}  v{}  {} -> {}  ({})\n    {}",
                    info.name,
                    info.version,
                    info.input,
                    info.output,
                    library.display(),
                    info.description
                );
            }
        }
    }
    Ok(())
}

/// `LIBRARY.sig`.
fn sig_path(library: &Path) -> PathBuf {
    let mut name = library.as_os_str().to_owned();
    name.push(".sig");
    PathBuf::from(name)
}

/// The catalog of a local data directory: its pipelines and native kernels.
pub fn catalog(data_dir: &Path) -> Result<Catalog> {
    let kernels = kino_native::NativeKernels::load_dir(&data_dir.join("kernels"))
        .context("loading the native kernels")?;
    Ok(Catalog::new(Some(data_dir.join("pipelines")), kernels))
}

/// The pipeline a `kino run` argument names: a spec file when it looks like
/// a path (`pipelines/denoise.toml`), else a pipeline by name.
pub fn pipeline_arg(
    catalog: &Catalog,
    tenant: &kino_store::TenantId,
    arg: &str,
) -> Result<Pipeline> {
    if arg.ends_with(".toml") || arg.contains('/') {
        catalog.load_file(Path::new(arg))
    } else {
        catalog.get(tenant, arg)
    }
}

/// `kino pipelines`: each pipeline with its inputs, slots and outputs; a
/// spec file that does not load is printed with its error.
pub fn print_pipelines(catalog: &Catalog) -> Result<()> {
    let mut broken = 0;
    for entry in catalog.list(None) {
        let pipeline = match entry {
            Ok(p) => p,
            Err(e) => {
                broken += 1;
                eprintln!("error: {e:#}\n");
                continue;
            }
        };
        let spec = &pipeline.spec;
        let from = match &pipeline.source {
            PipelineSource::BuiltIn => "built in".to_owned(),
            PipelineSource::File(path) => path.display().to_string(),
        };
        println!("{} ({from}): {}", spec.name, spec.description);
        for (input, decl) in &spec.inputs {
            let how = match (&decl.default, decl.optional) {
                (Some(d), _) => format!(" (default `{d}`)"),
                (None, true) => " (optional)".to_owned(),
                (None, false) => String::new(),
            };
            println!("  {input}={:?}{how}: {}", decl.kind, decl.description);
        }
        let slots: Vec<String> = spec
            .slots()
            .into_iter()
            .map(|(slot, world)| format!("{slot} (kino:stage/{world})"))
            .collect();
        if !slots.is_empty() {
            println!("  plugin slots (--bind SLOT=PLUGIN): {}", slots.join(", "));
        }
        let kernels: Vec<&str> = spec.native_kernels().collect();
        if !kernels.is_empty() {
            println!("  native kernels: {}", kernels.join(", "));
        }
        let outputs: Vec<&str> = spec.outputs.keys().map(String::as_str).collect();
        println!("  -> {}\n", outputs.join(", "));
    }
    if broken > 0 {
        anyhow::bail!("{broken} pipeline spec file(s) do not load (above)");
    }
    Ok(())
}

//! The `kino` command line: thin glue over the library. `main.rs` (and the
//! test suite's copy of the binary) call [`main`].

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use crate::progress::{self, JobProgress};
use crate::tools::{self, StretchTarget};
use anyhow::{Context as _, Result};
use clap::{Parser, Subcommand};
use kino_pipeline::local::{self, BundledPlugins, LocalHost};
use kino_runtime::plugins;
use kino_runtime::{Runtime, RuntimeConfig};

/// Kino: a plugin-host runtime for generative media pipelines.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a pipeline locally (SQLite, CPU kernels, the bundled plugins) and say where its outputs are.
    Run {
        /// The pipeline: `dub`, `caption`, `ad-creative`, one in
        /// DATA_DIR/pipelines by name, or a spec file (`path/to/mine.toml`).
        pipeline: String,
        /// Inputs as name=value: a path for file inputs, text otherwise
        /// (`video=clip.mp4 transcript=clip.srt language=es`).
        inputs: Vec<String>,
        /// Fill a slot with an installed plugin for this job:
        /// `director-style=my-director@^1` (see `kino plugin list`).
        #[arg(long, value_name = "SLOT=PLUGIN")]
        bind: Vec<String>,
        /// Set a slot's plugin config for this job: `director-style.style=noir`.
        #[arg(long, value_name = "SLOT.KEY=VALUE")]
        config: Vec<String>,
        /// A TOML file of bindings: `[director-style]` with `plugin = "my-director@^1"`
        /// and `config = { style = "noir" }`; --bind and --config override it.
        #[arg(long, value_name = "FILE")]
        bindings: Option<PathBuf>,
        #[command(flatten)]
        local: LocalArgs,
    },
    /// List the pipelines (built in, and DATA_DIR/pipelines/*.toml) with their inputs and outputs.
    Pipelines {
        /// The data directory.
        #[arg(long, default_value = ".kino")]
        data_dir: PathBuf,
    },
    /// Install, sign and list native kernels (trusted shared libraries).
    #[command(subcommand)]
    Kernel(crate::operator::KernelCommand),
    /// List or edit the scenes of a finished local ad-creative job.
    #[command(subcommand)]
    Scenes(ScenesCommand),
    /// Make, list and forget the local tenant's voices, cloned by the speech
    /// plugin bound to the `speech` slot; a dub speaks with one by `voice=NAME`.
    #[command(subcommand)]
    Voices(VoicesCommand),
    /// Resume a local job that was interrupted (finished stages are not recomputed).
    Resume {
        /// The job's id, as `kino run` printed it.
        job: String,
        #[command(flatten)]
        local: LocalArgs,
    },
    /// Apply 3D LUTs to videos.
    #[command(subcommand)]
    Lut(LutCommand),
    /// Raise a video's frame rate with optical-flow interpolation.
    Interpolate {
        /// Multiply the frame rate by this factor.
        #[arg(long, conflicts_with = "fps", required_unless_present = "fps")]
        factor: Option<u32>,
        /// The target frame rate.
        #[arg(long)]
        fps: Option<f64>,
        /// The input video.
        input: PathBuf,
        /// Where to write the MP4.
        output: PathBuf,
    },
    /// Show a media file's container, duration and streams.
    Probe {
        /// The media file.
        input: PathBuf,
    },
    /// Time-stretch a WAV file without changing its pitch (WSOLA); exact output length.
    Stretch {
        /// Output duration / input duration (0.5 = twice as fast).
        #[arg(
            long,
            conflicts_with = "to_duration",
            required_unless_present = "to_duration"
        )]
        ratio: Option<f64>,
        /// The exact output duration, in seconds.
        #[arg(long)]
        to_duration: Option<f64>,
        /// The WAV file to stretch.
        input: PathBuf,
        /// Where to write the stretched WAV.
        output: PathBuf,
        /// How to store the output's samples: u8, s16, s24, s32 or f32
        /// (default: as the input stores them).
        #[arg(long)]
        sample_format: Option<kino_kernels::wav::SampleFormat>,
    },
    /// Measure a WAV file's integrated loudness (EBU R128) and true peak.
    Loudness {
        /// The WAV file.
        input: PathBuf,
    },
    /// Normalise a WAV file's loudness (EBU R128), keeping the true peak under a ceiling.
    Normalize {
        /// Target integrated loudness, LUFS.
        #[arg(long, default_value_t = kino_kernels::mix::DEFAULT_TARGET_LUFS, allow_hyphen_values = true)]
        target: f64,
        /// True-peak ceiling, dBTP.
        #[arg(long, default_value_t = kino_kernels::mix::DEFAULT_MAX_TRUE_PEAK_DBTP, allow_hyphen_values = true)]
        true_peak: f64,
        /// The WAV file to normalise.
        input: PathBuf,
        /// Where to write the result.
        output: PathBuf,
        /// How to store the output's samples: u8, s16, s24, s32 or f32
        /// (default: as the input stores them).
        #[arg(long)]
        sample_format: Option<kino_kernels::wav::SampleFormat>,
    },
    /// Pack, sign and install plugins.
    #[command(subcommand)]
    Plugin(PluginCommand),
    /// List the compute devices the kernels can use, and the models installed for them.
    Devices {
        #[command(flatten)]
        repo: crate::models::ModelsArg,
    },
    /// Serve the admin and tenant HTTP API (KINO_ADMIN_TOKEN must be set).
    Serve {
        /// The configuration file (TOML); KINO_LISTEN and KINO_DATA_DIR override it.
        #[arg(long)]
        config: Option<PathBuf>,
        /// The store: `postgres://...`, or a SQLite file (default
        /// DATA_DIR/kino.db); overrides the file and KINO_DATABASE.
        #[arg(long)]
        database: Option<String>,
        /// Node workers in this process; 0 serves the API only, leaving the
        /// nodes to `kino worker`s (default: each job runs whole here).
        #[arg(long)]
        workers: Option<usize>,
    },
    /// Run jobs' nodes from a shared store's queue, until SIGTERM (which
    /// drains: the nodes held are finished, no more are claimed).
    Worker {
        /// The store the `kino serve`s and workers share (`postgres://...`).
        #[arg(long, env = "KINO_DATABASE")]
        database: String,
        /// The artifact store they share: a directory, or
        /// `s3://BUCKET/PREFIX?endpoint=URL&region=R` (AWS_* credentials).
        #[arg(long, env = "KINO_SHARED_ARTIFACTS")]
        artifacts: Option<String>,
        /// Its own directory: registry, compiled plugins, artifact cache.
        #[arg(long, default_value = ".kino-worker")]
        data_dir: PathBuf,
        /// Nodes run at once (default: one per core).
        #[arg(long)]
        slots: Option<usize>,
        /// Built plugin components to install first (default: the bundled
        /// ones beside this binary's build, when they are there).
        #[arg(long, env = "KINO_PLUGINS")]
        plugins: Option<PathBuf>,
        /// A private `host:port` its plugins may reach, as `kino serve`'s
        /// `allow-private-hosts` (a self-hosted backend on the local
        /// network); repeat, or separate with commas.
        #[arg(
            long = "allow-private-host",
            value_name = "HOST:PORT",
            env = "KINO_ALLOW_PRIVATE_HOSTS",
            value_delimiter = ','
        )]
        allow_private_hosts: Vec<String>,
    },
    /// List the workers of a shared store: state, leases held, nodes run.
    Workers {
        /// The store (`postgres://...`).
        #[arg(long, env = "KINO_DATABASE")]
        database: String,
    },
    /// Speak text into a WAV file: with the neural voice installed for the
    /// language (Piper), else espeak-ng.
    Speak {
        /// Language (BCP 47, e.g. en, es, fr); picks the voice.
        #[arg(long, default_value = "en")]
        lang: String,
        /// espeak-ng's speaking rate, words per minute.
        #[arg(long, default_value_t = 175)]
        rate: u32,
        /// Use espeak-ng even where a neural voice is installed.
        #[arg(long)]
        espeak: bool,
        /// The text to speak.
        text: String,
        /// Where to write the WAV.
        output: PathBuf,
        /// How to store its samples: u8, s16, s24, s32 or f32.
        #[arg(long, default_value = "s16")]
        sample_format: kino_kernels::wav::SampleFormat,
        #[command(flatten)]
        repo: crate::models::ModelsArg,
    },
    /// Transcribe a video's or audio file's speech (Whisper) into SRT or WebVTT.
    Transcribe {
        /// The media file.
        input: PathBuf,
        /// Where to write the subtitles (`.srt` or `.vtt`).
        #[arg(long)]
        out: PathBuf,
        /// The spoken language; `auto` detects it (multilingual model).
        #[arg(long, default_value = "en")]
        language: String,
        /// The Whisper model (default: whisper-tiny.en for English, whisper-base otherwise).
        #[arg(long)]
        model: Option<String>,
        #[command(flatten)]
        repo: crate::models::ModelsArg,
    },
    /// Resynthesise a media file's audio through a vocoder (its mel
    /// spectrogram, then back to sound): a check that an installed
    /// TorchScript vocoder works, or Griffin-Lim's rendering where none is.
    Vocode {
        /// The media file (any audio FFmpeg reads; resampled to the vocoder's rate).
        input: PathBuf,
        /// Where to write the WAV.
        output: PathBuf,
        /// The vocoder model (default: the first TorchScript vocoder
        /// installed, else Griffin-Lim).
        #[arg(long)]
        model: Option<String>,
        #[command(flatten)]
        repo: crate::models::ModelsArg,
    },
    /// The model repository: list, add, verify, remove.
    #[command(subcommand)]
    Models(crate::models::ModelsCommand),
}

#[derive(Subcommand)]
enum ScenesCommand {
    /// Show a job's scenes in playing order, with their ids for editing.
    List {
        /// The job.
        job: String,
        #[command(flatten)]
        local: LocalArgs,
    },
    /// Edit scenes and re-render: a new job that reuses every unchanged
    /// artifact; the original job and its video are kept.
    Edit {
        /// The job to edit.
        job: String,
        /// The scene (by id, see `kino scenes list`) the options below change.
        #[arg(long)]
        scene: Option<u32>,
        /// New visual description (the prompt).
        #[arg(long, requires = "scene")]
        visual: Option<String>,
        /// New narration.
        #[arg(long, requires = "scene")]
        narration: Option<String>,
        /// New on-screen text.
        #[arg(long, requires = "scene")]
        text: Option<String>,
        /// Another director style for this scene.
        #[arg(long, requires = "scene")]
        style: Option<String>,
        /// In and out points within the scene, ms: `IN:OUT`.
        #[arg(long, requires = "scene")]
        trim: Option<String>,
        /// Render the scene again (a new take).
        #[arg(long, requires = "scene")]
        regenerate: bool,
        /// The playing order, as scene ids: `2,0,1,3,4`.
        #[arg(long)]
        order: Option<String>,
        #[command(flatten)]
        local: LocalArgs,
    },
}

#[derive(Subcommand)]
enum VoicesCommand {
    /// The voices made so far, with the plugin and the backend's id of each.
    List {
        #[command(flatten)]
        local: LocalArgs,
    },
    /// Make a voice from recordings of one speaker (WAV, MP3, ...).
    Add {
        /// The name jobs ask for it by.
        name: String,
        /// The recordings.
        #[arg(required = true)]
        samples: Vec<PathBuf>,
        #[command(flatten)]
        local: LocalArgs,
    },
    /// Forget a voice (the backend keeps it).
    Rm {
        /// The voice's name.
        name: String,
        #[command(flatten)]
        local: LocalArgs,
    },
}

/// Where a local run keeps its state and finds the bundled plugins.
#[derive(clap::Args)]
struct LocalArgs {
    /// The data directory: the SQLite store, the plugin registry, artifacts.
    #[arg(long, default_value = ".kino")]
    data_dir: PathBuf,
    /// The bundled plugins' built components (default: where `make plugins`
    /// puts them beside this binary's build, or `PREFIX/share/kino/plugins`
    /// beside `PREFIX/bin/kino`).
    #[arg(long, env = "KINO_PLUGINS")]
    plugins: Option<PathBuf>,
    /// Where to copy the job's outputs.
    #[arg(long, default_value = "out")]
    out: PathBuf,
    /// The model repository (default: `$KINO_MODELS`, else `DATA_DIR/models`).
    #[arg(long, env = "KINO_MODELS")]
    models: Option<PathBuf>,
}

impl LocalArgs {
    async fn open(&self) -> Result<LocalHost> {
        let bundled = match &self.plugins {
            Some(dir) => BundledPlugins {
                components: dir.clone(),
            },
            None => BundledPlugins::beside(
                &std::env::current_exe().context("finding this program's path")?,
            ),
        };
        let progress: kino_pipeline::Observer = std::sync::Arc::new(JobProgress::new());
        let mut host = LocalHost::open(&self.data_dir, &bundled, Some(progress)).await?;
        if let Some(dir) = &self.models {
            let models = kino_models::Models::new(
                kino_models::Repository::new(dir),
                kino_models::DEFAULT_BUDGET,
            );
            host.executor = host.executor.with_models(std::sync::Arc::new(models));
        }
        Ok(host)
    }
}

/// The local tenant's job `id`.
async fn local_job(host: &LocalHost, id: &str) -> Result<kino_store::Job> {
    let id: kino_store::JobId = id.parse()?;
    host.executor
        .store()
        .get_job(&host.tenant, &id)
        .await?
        .with_context(|| format!("no local job {id}"))
}

/// Edits with the order given as `2,0,1` (or none).
fn kino_edits(order: Option<&str>) -> Result<kino_pipeline::Edits> {
    let order = order
        .map(|o| {
            o.split(',')
                .map(|id| id.trim().parse::<u32>())
                .collect::<Result<Vec<_>, _>>()
                .with_context(|| format!("--order is scene ids separated by commas, not `{o}`"))
        })
        .transpose()?;
    Ok(kino_pipeline::Edits {
        order,
        ..Default::default()
    })
}

/// Runs a local job to its end, then delivers its outputs into `out` and
/// prints where they are and where the time went.
async fn run_local(host: &LocalHost, job: &kino_store::Job, out: &std::path::Path) -> Result<()> {
    let report = host
        .executor
        .run(job)
        .await
        .with_context(|| format!("job {}", job.id))?;
    let delivered = local::deliver(&report, out)?;
    eprintln!("time per stage:\n{}", local::stage_times(&report));
    println!("job {} completed; outputs:", report.job);
    for path in delivered {
        println!("  {}", path.display());
    }
    Ok(())
}

#[derive(Subcommand)]
enum LutCommand {
    /// Grade every frame of a video with a .cube LUT (tetrahedral); the audio is kept.
    Apply {
        /// The .cube file.
        #[arg(long)]
        lut: PathBuf,
        /// The input video.
        input: PathBuf,
        /// Where to write the MP4.
        output: PathBuf,
    },
}

#[derive(Subcommand)]
enum PluginCommand {
    /// Write a new plugin project: code, manifest, fixture, README and a copy
    /// of the SDK, ready for `kino plugin test`.
    New {
        /// The plugin's name (lowercase letters, digits and `-`).
        name: String,
        /// The world it implements: script-strategy, director-style,
        /// translator, grader, fallback-policy or caption-style.
        #[arg(long)]
        world: kino_registry::World,
        /// The language it is written in.
        #[arg(long, value_enum, default_value = "rust")]
        lang: crate::author::Lang,
        /// Where to create the project directory.
        #[arg(long, default_value = ".")]
        dir: PathBuf,
    },
    /// Call a plugin on fixture inputs: each answer with its time, peak
    /// memory and fuel, checked against its world's rules.
    Test {
        /// A plugin project (Rust projects are built first), an unpacked
        /// package, or a .tar.gz package.
        target: PathBuf,
        /// The component, instead of building it or taking the package's.
        #[arg(long)]
        wasm: Option<PathBuf>,
        /// The inputs, JSON (default: TARGET/fixture.json, else the world's sample).
        #[arg(long = "fixture")]
        fixtures: Vec<PathBuf>,
        /// A config value, KEY=VALUE; the manifest's defaults fill the rest.
        #[arg(long)]
        config: Vec<String>,
        /// The answer the main call must give, JSON as printed.
        #[arg(long)]
        expect: Option<PathBuf>,
    },
    /// Generate an ed25519 key pair: BASE.secret and BASE.pub.
    Keygen {
        /// Path of the key files, without extension.
        base: PathBuf,
    },
    /// Pack a plugin directory (kino-plugin.toml + component + assets) into a .tar.gz.
    Pack {
        /// The plugin directory.
        dir: PathBuf,
        /// The component, if it is not DIR/plugin.wasm.
        #[arg(long)]
        wasm: Option<PathBuf>,
        /// Where to write the package.
        #[arg(long)]
        out: PathBuf,
    },
    /// Sign a package (directory or .tar.gz) in place.
    Sign {
        /// The package.
        package: PathBuf,
        /// The secret key file.
        #[arg(long)]
        key: PathBuf,
    },
    /// Check and install a package into the registry.
    Install {
        /// The package (directory or .tar.gz).
        package: PathBuf,
        /// Trusted public keys; signatures must verify against one of them.
        #[arg(long = "trusted-key")]
        trusted_keys: Vec<PathBuf>,
        /// Refuse unsigned packages.
        #[arg(long)]
        require_signature: bool,
        #[command(flatten)]
        dirs: DataDirs,
    },
    /// List installed plugin versions.
    List {
        #[command(flatten)]
        dirs: DataDirs,
    },
    /// Yank NAME@VERSION: it stays installed but is never picked again.
    Yank {
        /// The version, as NAME@VERSION.
        version: String,
        #[command(flatten)]
        dirs: DataDirs,
    },
}

/// Where the registry and the compiled-component cache live.
#[derive(clap::Args)]
struct DataDirs {
    /// The data directory (registry/ and cache/ inside).
    #[arg(long, default_value = ".kino")]
    data_dir: PathBuf,
}

impl DataDirs {
    fn registry(&self) -> Result<kino_registry::Store> {
        Ok(kino_registry::Store::open(self.data_dir.join("registry"))?)
    }

    fn runtime(&self) -> Result<Runtime> {
        Runtime::new(RuntimeConfig {
            cache_dir: Some(self.data_dir.join("cache")),
            ..RuntimeConfig::default()
        })
    }
}

fn run_plugin(command: PluginCommand) -> Result<()> {
    match command {
        PluginCommand::New {
            name,
            world,
            lang,
            dir,
        } => {
            let project = crate::author::new_plugin(&name, world, lang, &dir)?;
            println!(
                "wrote {}; next: kino plugin test {}",
                project.display(),
                project.display()
            );
        }
        PluginCommand::Test {
            target,
            wasm,
            fixtures,
            config,
            expect,
        } => crate::plugin_test::run(&crate::plugin_test::TestOptions {
            target,
            wasm,
            fixtures,
            config,
            expect,
        })?,
        PluginCommand::Keygen { base } => {
            let (secret, public) = plugins::keygen(&base)?;
            println!(
                "wrote {} (keep it secret) and {}",
                secret.display(),
                public.display()
            );
        }
        PluginCommand::Pack { dir, wasm, out } => {
            let digest = plugins::pack(&dir, wasm.as_deref(), &out)?;
            println!("wrote {} (digest {digest})", out.display());
        }
        PluginCommand::Sign { package, key } => {
            let key_id = plugins::sign(&package, &key)?;
            println!("signed {} with key {key_id}", package.display());
        }
        PluginCommand::Install {
            package,
            trusted_keys,
            require_signature,
            dirs,
        } => {
            let policy = if require_signature {
                kino_registry::SignaturePolicy::Required
            } else {
                kino_registry::SignaturePolicy::Optional
            };
            let trusted = plugins::read_trusted_keys(&trusted_keys)?;
            let installed = plugins::install(
                &dirs.runtime()?,
                &dirs.registry()?,
                &package,
                policy,
                &trusted,
            )?;
            println!(
                "installed {}@{} ({}){}",
                installed.name,
                installed.version,
                installed.world,
                installed
                    .signer
                    .map(|k| format!(", signed by {k}"))
                    .unwrap_or_default()
            );
        }
        PluginCommand::List { dirs } => {
            for v in dirs.registry()?.list()? {
                let flags = match (v.yanked, v.enabled) {
                    (true, _) => " [yanked]",
                    (false, false) => " [disabled]",
                    _ => "",
                };
                println!("{}@{}  {}{flags}", v.name, v.version, v.world);
            }
        }
        PluginCommand::Yank { version, dirs } => {
            let (name, version) = version
                .split_once('@')
                .context("give the version as NAME@VERSION")?;
            let name: kino_registry::PluginName = name.parse()?;
            let version: semver::Version = version
                .parse()
                .with_context(|| format!("`{version}` is not a semver version"))?;
            dirs.registry()?.yank(&name, &version)?;
            println!("yanked {name}@{version}");
        }
    }
    Ok(())
}

/// Parses the command line, runs the command, and reports an error on stderr.
pub fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "kino=info,warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Run {
            pipeline,
            inputs,
            bind,
            config,
            bindings,
            local,
        } => {
            let tokio = tokio::runtime::Runtime::new().context("starting tokio")?;
            tokio.block_on(async {
                let bindings = crate::bind::job_bindings(bindings.as_deref(), &bind, &config)?;
                let host = local.open().await?;
                let pipeline = crate::operator::pipeline_arg(
                    host.executor.catalog(),
                    &host.tenant,
                    &pipeline,
                )?;
                let (mut files, texts) = local::parse_inputs(&pipeline.spec, &inputs)?;
                // A folder given for a file input (an asset folder) goes in as
                // one archive, the same bytes for the same files.
                let packed = tempfile::tempdir().context("creating a temporary directory")?;
                for (name, path) in files.iter_mut() {
                    if path.is_dir() {
                        let archive = packed.path().join(format!("{name}.tar"));
                        kino_pipeline::assets::pack_folder(path, &archive)?;
                        *path = archive;
                    }
                }
                let job = host
                    .executor
                    .submit_local_bound(&host.tenant, &pipeline, &files, &texts, &bindings)
                    .await?;
                eprintln!("job {} ({}) started", job.id, pipeline.name());
                run_local(&host, &job, &local.out).await
            })
        }
        Command::Pipelines { data_dir } => {
            crate::operator::print_pipelines(&crate::operator::catalog(&data_dir)?)
        }
        Command::Kernel(command) => crate::operator::run_kernel(command),
        Command::Scenes(ScenesCommand::List { job, local }) => {
            let tokio = tokio::runtime::Runtime::new().context("starting tokio")?;
            tokio.block_on(async {
                let host = local.open().await?;
                let job = local_job(&host, &job).await?;
                let plan = host.executor.scenes(&job)?;
                println!("job {}: {} scenes, {:.2} s", job.id, plan.shots.len(), f64::from(plan.total_ms) / 1000.0);
                for shot in &plan.shots {
                    let s = &shot.scene;
                    println!(
                        "  scene {} (take {}) at {:6.2} s for {:5.2} s{}\n    visual:    {}\n    narration: {}\n    text:      {}",
                        shot.id,
                        shot.take,
                        f64::from(s.start_ms) / 1000.0,
                        f64::from(s.duration_ms) / 1000.0,
                        shot.style.as_ref().map(|st| format!(", style {st}")).unwrap_or_default(),
                        s.visual,
                        s.narration,
                        s.on_screen_text
                    );
                }
                Ok(())
            })
        }
        Command::Scenes(ScenesCommand::Edit {
            job,
            scene,
            visual,
            narration,
            text,
            style,
            trim,
            regenerate,
            order,
            local,
        }) => {
            let mut edits = kino_edits(order.as_deref())?;
            if let Some(id) = scene {
                let trim = trim
                    .map(|t| {
                        let (a, b) = t.split_once(':').context("no `:`")?;
                        Ok::<_, anyhow::Error>([a.trim().parse()?, b.trim().parse()?])
                    })
                    .transpose()
                    .context("--trim is IN:OUT in ms, like 500:3000")?;
                edits.scenes.insert(
                    id,
                    kino_pipeline::SceneEdit {
                        visual,
                        narration,
                        on_screen_text: text,
                        style,
                        trim,
                        take: regenerate.then_some(1),
                    },
                );
            }
            let tokio = tokio::runtime::Runtime::new().context("starting tokio")?;
            tokio.block_on(async {
                let host = local.open().await?;
                let original = local_job(&host, &job).await?;
                let edited = host.executor.edit(&original, &edits).await?;
                eprintln!("job {} (edit of {}) started", edited.id, original.id);
                run_local(&host, &edited, &local.out).await?;
                println!(
                    "the original render is kept: {}",
                    host.executor.job_dir(&original.id).join("ad.mp4").display()
                );
                Ok(())
            })
        }
        Command::Voices(command) => {
            let tokio = tokio::runtime::Runtime::new().context("starting tokio")?;
            tokio.block_on(voices(command))
        }
        Command::Resume { job, local } => {
            let tokio = tokio::runtime::Runtime::new().context("starting tokio")?;
            tokio.block_on(async {
                let host = local.open().await?;
                let job = local_job(&host, &job).await?;
                run_local(&host, &job, &local.out).await
            })
        }
        Command::Stretch {
            ratio,
            to_duration,
            input,
            output,
            sample_format,
        } => {
            let target = match (ratio, to_duration) {
                (Some(ratio), _) => StretchTarget::Ratio(ratio),
                (None, Some(secs)) => StretchTarget::Duration(secs),
                (None, None) => anyhow::bail!("give --ratio or --to-duration"),
            };
            let secs = tools::stretch_file(&input, &output, target, sample_format)?;
            println!("wrote {} ({secs:.3} s)", output.display());
            Ok(())
        }
        Command::Loudness { input } => {
            let (lufs, peak) = tools::loudness_of(&input)?;
            println!(
                "{}: {lufs:.2} LUFS, true peak {peak:.2} dBTP",
                input.display()
            );
            Ok(())
        }
        Command::Normalize {
            target,
            true_peak,
            input,
            output,
            sample_format,
        } => {
            let report = progress::with_bar(progress::spinner(), |bar| {
                tools::normalize_file(&input, &output, (target, true_peak), sample_format, bar)
            })?;
            println!(
                "{}: {:.2} -> {:.2} LUFS, true peak {:.2} -> {:.2} dBTP{}",
                output.display(),
                report.before_lufs,
                report.after_lufs,
                report.before_true_peak_dbtp,
                report.after_true_peak_dbtp,
                if report.target_met {
                    ""
                } else {
                    " (target not reachable under the peak ceiling)"
                }
            );
            Ok(())
        }
        Command::Plugin(command) => run_plugin(command),
        Command::Lut(LutCommand::Apply { lut, input, output }) => {
            let devices = Arc::new(kino_cuda::Pool::from_env().map_err(anyhow::Error::msg)?);
            let (frames, tally) = progress::with_bar(progress::frames(0), |bar| {
                tools::lut_apply_file(&lut, &input, &output, &devices, bar)
            })?;
            report_placements(&tally);
            let graded = tally.summary().unwrap_or_else(|| "nowhere".to_owned());
            println!(
                "wrote {} ({frames} frames, graded on {graded})",
                output.display()
            );
            Ok(())
        }
        Command::Interpolate {
            factor,
            fps,
            input,
            output,
        } => {
            let target = match (factor, fps) {
                (Some(factor), _) => tools::FrameRateTarget::Factor(factor),
                (None, Some(fps)) => tools::FrameRateTarget::Fps(fps),
                (None, None) => anyhow::bail!("give --factor or --fps"),
            };
            let devices = kino_cuda::Pool::from_env().map_err(anyhow::Error::msg)?;
            let (frames, tally) = progress::with_bar(progress::frames(0), |bar| {
                tools::interpolate_file(&input, &output, target, &devices, bar)
            })?;
            report_placements(&tally);
            let warped = tally
                .summary()
                .unwrap_or_else(|| "nowhere (no frame needed it)".to_owned());
            println!(
                "wrote {} ({frames} frames, warped on {warped})",
                output.display()
            );
            Ok(())
        }
        Command::Probe { input } => {
            print!("{}", tools::describe(&input)?);
            Ok(())
        }
        Command::Serve {
            config,
            database,
            workers,
        } => {
            let mut config = kino_api::serve::ServeConfig::load(config.as_deref(), |name| {
                std::env::var(name).ok()
            })?;
            if let Some(database) = database {
                config.database = database;
            }
            if workers.is_some() {
                config.workers = workers;
            }
            let tokio = tokio::runtime::Runtime::new().context("starting tokio")?;
            tokio.block_on(kino_api::serve::serve(config))
        }
        Command::Worker {
            database,
            artifacts,
            data_dir,
            slots,
            plugins,
            allow_private_hosts,
        } => {
            let bundled = match plugins {
                Some(dir) => Some(BundledPlugins { components: dir }),
                None => std::env::current_exe()
                    .ok()
                    .map(|exe| BundledPlugins::beside(&exe))
                    .filter(|b| b.components.is_dir()),
            };
            let config = kino_api::worker::WorkerConfig {
                database,
                data_dir,
                shared_artifacts: artifacts,
                slots: slots
                    .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get())),
                bundled,
                allow_private_hosts,
                devices: kino_cuda::detect()
                    .devices
                    .iter()
                    .filter_map(|d| match d {
                        kino_cuda::Device::Cuda { ordinal, .. } => {
                            Some(format!("device:cuda:{ordinal}"))
                        }
                        kino_cuda::Device::Cpu { .. } => None,
                    })
                    .collect(),
            };
            let tokio = tokio::runtime::Runtime::new().context("starting tokio")?;
            tokio.block_on(kino_api::worker::work(config))
        }
        Command::Workers { database } => {
            let tokio = tokio::runtime::Runtime::new().context("starting tokio")?;
            print!("{}", tokio.block_on(kino_api::worker::list(&database))?);
            Ok(())
        }
        Command::Devices { repo } => {
            let found = kino_cuda::detect();
            for device in &found.devices {
                println!("{device}");
            }
            if let Some(why) = found.cuda_unavailable {
                println!("no CUDA: {why}");
            }
            // What the pool will do with them, as KINO_DEVICE says.
            let pool = kino_cuda::Pool::from_env().map_err(anyhow::Error::msg)?;
            match pool.no_gpu() {
                Some(why) => println!("kernels run on the CPU ({why})"),
                None => {
                    for (ordinal, budget) in pool.budgets() {
                        println!("kernels may use {} MiB of cuda:{ordinal}", budget >> 20);
                    }
                }
            }
            crate::models::summary(&repo)
        }
        Command::Speak {
            lang,
            rate,
            espeak,
            text,
            output,
            sample_format,
            repo,
        } => {
            if !espeak
                && let Some((voice, secs)) = crate::models::speak_neural(
                    &repo.open(),
                    &text,
                    &lang,
                    (&output, sample_format),
                )?
            {
                println!("wrote {} ({secs:.3} s, {voice})", output.display());
                return Ok(());
            }
            let secs = tools::speak_to_file(&text, &lang, rate, (&output, sample_format))?;
            println!("wrote {} ({secs:.3} s, espeak-ng)", output.display());
            Ok(())
        }
        Command::Vocode {
            input,
            output,
            model,
            repo,
        } => {
            let started = std::time::Instant::now();
            let (vocoder, secs) =
                crate::models::vocode_file(&repo.open(), &input, &output, model.as_deref())?;
            println!(
                "wrote {} ({secs:.3} s, {vocoder}, {:.1} s)",
                output.display(),
                started.elapsed().as_secs_f64()
            );
            Ok(())
        }
        Command::Transcribe {
            input,
            out,
            language,
            model,
            repo,
        } => {
            let started = std::time::Instant::now();
            let (language, n) = crate::models::transcribe_file(
                &repo.open(),
                &input,
                &out,
                &language,
                model.as_deref(),
            )?;
            println!(
                "wrote {} ({n} segments, {language}, {:.1} s)",
                out.display(),
                started.elapsed().as_secs_f64()
            );
            Ok(())
        }
        Command::Models(command) => crate::models::run(command),
    }
}

async fn voices(command: VoicesCommand) -> Result<()> {
    match command {
        VoicesCommand::List { local } => {
            let host = local.open().await?;
            let voices = host.executor.store().list_voices(&host.tenant).await?;
            if voices.is_empty() {
                println!("no voices yet: `kino voices add NAME RECORDING...` makes one");
            }
            for v in voices {
                println!("{}\t{}\t{}", v.name, v.plugin, v.voice_id);
            }
        }
        VoicesCommand::Add {
            name,
            samples,
            local,
        } => {
            let host = local.open().await?;
            let voice = host
                .executor
                .make_voice(&host.tenant, &name, &samples)
                .await?;
            println!(
                "voice {} made by {} (its id there: {}); dub with voice={}",
                voice.name, voice.plugin, voice.voice_id, voice.name
            );
        }
        VoicesCommand::Rm { name, local } => {
            let host = local.open().await?;
            if !host
                .executor
                .store()
                .delete_voice(&host.tenant, &name)
                .await?
            {
                anyhow::bail!("there is no voice {name:?}");
            }
            println!("forgot voice {name} (the backend keeps it)");
        }
    }
    Ok(())
}

/// Says on stderr which GPU errors a command's kernels fell back from.
fn report_placements(tally: &kino_cuda::pool::Tally) {
    for error in tally.fallbacks() {
        eprintln!("a GPU kernel fell back to the CPU: {error}");
    }
}

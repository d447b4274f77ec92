//! The `kino` command: thin glue over the `kino_host` library.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use clap::{Parser, Subcommand};
use kino_host::plan::{self, Planner};
use kino_host::runtime::{CallCtx, Runtime, RuntimeConfig};

/// Kino: a plugin-host runtime for generative media pipelines.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Plan an ad creative from a brief: scripts, direction and grading LUTs, all by plugins.
    Plan {
        /// The brief, as TOML (see examples/brief.toml).
        brief: PathBuf,
        /// Where the built plugin components are.
        #[arg(long, default_value = "target/wasm-plugins/wasm32-wasip2/plugin")]
        plugins: PathBuf,
        /// Where to write plan.json and the scene LUTs.
        #[arg(long, default_value = "out")]
        out: PathBuf,
        /// The director style: symmetric-pastel, noir-high-contrast or teal-orange-epic.
        #[arg(long, default_value = "teal-orange-epic")]
        style: String,
        /// How many script variations to write.
        #[arg(long, default_value_t = 5)]
        variations: u32,
        /// Where compiled plugins are cached between runs.
        #[arg(long, default_value = ".kino/cache")]
        cache_dir: PathBuf,
    },
}

fn main() -> ExitCode {
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
        Command::Plan {
            brief,
            plugins,
            out,
            style,
            variations,
            cache_dir,
        } => {
            let brief = plan::read_brief(&brief)?;
            let runtime = Runtime::new(RuntimeConfig {
                cache_dir: Some(cache_dir),
                ..RuntimeConfig::default()
            })?;
            let [strategy, director, grader] = plan::load_reference_plugins(&runtime, &plugins)?;
            let planner = Planner {
                runtime,
                strategy,
                director,
                grader,
                director_call: CallCtx::new("local").with_config([("style", style.as_str())]),
                call: CallCtx::new("local"),
            };
            let tokio = tokio::runtime::Runtime::new().context("starting tokio")?;
            let plan = tokio.block_on(planner.plan(brief, variations))?;
            let written = plan::write_plan(&plan, &out)?;
            let top = &plan.variations[0];
            println!(
                "top script: {} ({} scenes, score {:.2}); {} variations",
                top.script.variation,
                top.script.scenes.len(),
                top.overall,
                plan.variations.len()
            );
            for path in written {
                println!("wrote {}", path.display());
            }
            Ok(())
        }
    }
}

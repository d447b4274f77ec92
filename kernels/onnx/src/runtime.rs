//! Loading ONNX Runtime once per process and building sessions on it.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use ort::environment::Environment;
use ort::session::Session;
use ort::session::builder::GraphOptimizationLevel;

use crate::error::{Error, Result};

struct Runtime {
    library: PathBuf,
    env: Environment,
}

static RUNTIME: OnceLock<Runtime> = OnceLock::new();
static INIT: Mutex<()> = Mutex::new(());

/// Loads ONNX Runtime from `library` (`libonnxruntime.so`, API 1.31 or newer)
/// and creates the process-wide environment.
///
/// Call it before loading any model. Calling it again with the same library is
/// a no-op; with another library it is [`Error::RuntimeMismatch`] (a process
/// holds one ONNX Runtime). A missing or unloadable library is an error naming
/// the path.
pub fn init_runtime(library: &Path) -> Result<()> {
    let requested = std::path::absolute(library).unwrap_or_else(|_| library.to_path_buf());
    let requested = requested.canonicalize().unwrap_or(requested);
    if !requested.is_file() {
        return Err(Error::LibraryMissing { path: requested });
    }
    // One initialiser at a time; a poisoned lock only means an earlier
    // attempt panicked, and the OnceLock below is still consistent.
    let _guard = INIT.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(rt) = RUNTIME.get() {
        return if rt.library == requested {
            Ok(())
        } else {
            Err(Error::RuntimeMismatch {
                loaded: rt.library.clone(),
                requested,
            })
        };
    }
    let load_err = |reason: String| Error::LibraryLoad {
        path: requested.clone(),
        reason,
    };
    // ort reports load failures as errors; catch a panic from the foreign
    // library's initialisation all the same, so it surfaces as an error.
    let built = catch_unwind(AssertUnwindSafe(|| {
        ort::init_from(&requested)
            .map_err(|e| e.to_string())?
            .with_name("kino")
            .with_telemetry(false)
            .build()
            .map_err(|e| e.to_string())
    }))
    .map_err(|panic| load_err(panic_message(&panic)))?
    .map_err(load_err)?;
    tracing::debug!(library = %requested.display(), "onnx runtime loaded");
    // Cannot fail: we hold INIT and checked RUNTIME is empty.
    let _ = RUNTIME.set(Runtime {
        library: requested,
        env: built,
    });
    Ok(())
}

/// The library `init_runtime` loaded, if any.
pub fn runtime_library() -> Option<&'static Path> {
    RUNTIME.get().map(|rt| rt.library.as_path())
}

/// How a model's session runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionOptions {
    /// Threads ONNX Runtime uses inside one operator (intra-op). Default 1:
    /// Kino runs stages in parallel and a single thread keeps results
    /// independent of the machine.
    pub intra_threads: usize,
    /// The CUDA GPU to run on (its ordinal), through ONNX Runtime's CUDA
    /// execution provider; `None` (the default), the CPU. Ask
    /// [`gpu_for`] first: a runtime without the provider is an error here.
    pub gpu: Option<usize>,
}

impl Default for SessionOptions {
    fn default() -> Self {
        Self {
            intra_threads: 1,
            gpu: None,
        }
    }
}

/// The GPU ONNX models go on when the host would put work on GPU `gpu`
/// (`None`: the CPU): `gpu` itself where the loaded ONNX Runtime has a CUDA
/// execution provider, else the CPU and why. The `onnxruntime` wheel
/// `make models` installs is the CPU build; the `onnxruntime-gpu` one
/// (with CUDA 13, cuBLAS and cuDNN 9 on the library path) has the provider.
pub fn gpu_for(gpu: Option<usize>) -> (Option<usize>, Option<String>) {
    let Some(ordinal) = gpu else {
        return (None, None);
    };
    match cuda_provider() {
        Ok(()) => (Some(ordinal), None),
        Err(why) => (None, Some(format!("{why}: it runs on the CPU"))),
    }
}

/// Whether the loaded ONNX Runtime has a CUDA execution provider.
fn cuda_provider() -> std::result::Result<(), String> {
    use ort::ep::ExecutionProvider as _;
    let rt = RUNTIME
        .get()
        .ok_or("ONNX Runtime is not loaded".to_owned())?;
    match ort::ep::CUDA::is_available() {
        Ok(true) => Ok(()),
        Ok(false) => Err(format!(
            "ONNX Runtime {} has no CUDA execution provider (the onnxruntime-gpu build has)",
            rt.library.display()
        )),
        Err(e) => Err(format!("asking ONNX Runtime for its providers: {e}")),
    }
}

/// Builds a CPU session for `model`, checking the file exists first.
pub(crate) fn session(model: &Path, opts: &SessionOptions) -> Result<Session> {
    let rt = RUNTIME.get().ok_or(Error::NotInitialised)?;
    if !model.is_file() {
        return Err(Error::ModelMissing {
            path: model.to_path_buf(),
        });
    }
    if opts.intra_threads == 0 {
        return Err(Error::InvalidArgument {
            name: "intra_threads",
            value: "0".into(),
            reason: "must be at least 1",
        });
    }
    let load_err = |reason: String| Error::ModelLoad {
        path: model.to_path_buf(),
        reason,
    };
    catch_unwind(AssertUnwindSafe(|| {
        let builder = Session::builder(&rt.env).map_err(|e| e.to_string())?;
        let builder = match opts.gpu {
            None => builder,
            Some(n) => builder
                .with_execution_providers([ort::ep::CUDA::default()
                    .with_device_id(n as i32)
                    // f32 as on the CPU (the provider's default is TF32),
                    // the same convolution algorithms from run to run,
                    // and an arena that grows by what is asked, not by
                    // doubling past the room the pool lent.
                    .with_tf32(false)
                    .with_conv_algorithm_search(ort::ep::cuda::ConvAlgorithmSearch::Heuristic)
                    .with_arena_extend_strategy(ort::ep::ArenaExtendStrategy::SameAsRequested)
                    .build()
                    .error_on_failure()])
                .map_err(|e| format!("on cuda:{n}, ONNX Runtime's CUDA execution provider: {e}"))?,
        };
        builder
            .with_optimization_level(GraphOptimizationLevel::Level3)
            .map_err(|e| e.to_string())?
            .with_intra_threads(opts.intra_threads)
            .map_err(|e| e.to_string())?
            .with_inter_threads(1)
            .map_err(|e| e.to_string())?
            .commit_from_file(model)
            .map_err(|e| e.to_string())
    }))
    .map_err(|panic| load_err(panic_message(&panic)))?
    .map_err(load_err)
}

pub(crate) fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        format!("panicked: {s}")
    } else if let Some(s) = panic.downcast_ref::<String>() {
        format!("panicked: {s}")
    } else {
        "panicked".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // This unit-test binary never loads the real runtime, so these see an
    // uninitialised process.

    #[test]
    fn garbage_library_is_an_error_naming_it() {
        let dir = std::env::temp_dir().join(format!("kino-onnx-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let lib = dir.join("libonnxruntime.so");
        std::fs::write(&lib, b"not a shared object").expect("write");
        let err = init_runtime(&lib).expect_err("garbage loads");
        assert!(matches!(err, Error::LibraryLoad { .. }), "{err}");
        assert!(err.to_string().contains("libonnxruntime.so"), "{err}");
        let missing = dir.join("nope.so");
        let err = init_runtime(&missing).expect_err("missing loads");
        assert!(matches!(err, Error::LibraryMissing { .. }), "{err}");
        assert!(err.to_string().contains("nope.so"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn without_the_runtime_models_stay_on_the_cpu_and_say_why() {
        assert_eq!(gpu_for(None), (None, None));
        let (gpu, why) = gpu_for(Some(0));
        assert_eq!(gpu, None);
        assert_eq!(
            why.as_deref(),
            Some("ONNX Runtime is not loaded: it runs on the CPU")
        );
    }

    #[test]
    fn models_need_the_runtime_first() {
        let err = session(
            Path::new("/nonexistent/model.onnx"),
            &SessionOptions::default(),
        )
        .expect_err("no runtime");
        assert!(matches!(err, Error::NotInitialised), "{err}");
    }
}

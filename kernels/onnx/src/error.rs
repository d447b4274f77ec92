//! The crate's one error type.

use std::path::PathBuf;

/// What went wrong in an ONNX kernel. Messages are lowercase and name the
/// offending path or value.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The ONNX Runtime shared library is not at the given path.
    #[error("onnx runtime library {path} does not exist (run `python3 models/install.py`)")]
    LibraryMissing {
        /// Where the library was looked for.
        path: PathBuf,
    },
    /// The library exists but could not be loaded (not a shared object, wrong
    /// version, missing symbols).
    #[error("cannot load onnx runtime library {path}: {reason}")]
    LibraryLoad {
        /// The library.
        path: PathBuf,
        /// What the loader said.
        reason: String,
    },
    /// `init_runtime` was called again with another library: a process can
    /// hold only one ONNX Runtime.
    #[error("onnx runtime already initialised from {loaded}, cannot switch to {requested}")]
    RuntimeMismatch {
        /// The library in use.
        loaded: PathBuf,
        /// The library asked for.
        requested: PathBuf,
    },
    /// A model was loaded before `init_runtime`.
    #[error("onnx runtime not initialised: call kino_onnx::init_runtime first")]
    NotInitialised,
    /// A model file (or its config) does not exist.
    #[error("model file {path} does not exist")]
    ModelMissing {
        /// The file.
        path: PathBuf,
    },
    /// ONNX Runtime refused the model file.
    #[error("cannot load model {path}: {reason}")]
    ModelLoad {
        /// The model.
        path: PathBuf,
        /// What ONNX Runtime said.
        reason: String,
    },
    /// The model loaded but its inputs or outputs are not the expected ones.
    #[error("model {path} has an unexpected signature: {reason}")]
    ModelSignature {
        /// The model.
        path: PathBuf,
        /// What was missing or wrong.
        reason: String,
    },
    /// A voice's JSON config could not be read or is invalid.
    #[error("invalid voice config {path}: {reason}")]
    Config {
        /// The config file.
        path: PathBuf,
        /// What was wrong.
        reason: String,
    },
    /// espeak-ng could not be run or failed.
    #[error("espeak-ng (voice {voice}) failed: {reason}")]
    Espeak {
        /// The espeak-ng voice.
        voice: String,
        /// What failed.
        reason: String,
    },
    /// A call to ONNX Runtime failed while running a model.
    #[error("inference with {model} failed: {reason}")]
    Inference {
        /// Which model (`piper` or `silero-vad`).
        model: &'static str,
        /// What ONNX Runtime said.
        reason: String,
    },
    /// An argument was out of range.
    #[error("invalid argument {name} = {value}: {reason}")]
    InvalidArgument {
        /// The argument.
        name: &'static str,
        /// Its value.
        value: String,
        /// Why it is rejected.
        reason: &'static str,
    },
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

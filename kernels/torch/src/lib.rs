//! TorchScript models in Kino's kernels, through libtorch (tch).
//!
//! - [`script`]: a TorchScript model whose manifest names its file and its
//!   tensors; every call is checked against that signature.
//! - [`vocoder`]: log-mel spectrograms to audio by a TorchScript vocoder
//!   from the model repository, or by Griffin-Lim when there is none.
//! - [`diffusion`]: Stable-Diffusion-class models exported as TorchScript,
//!   drawn by the same pipeline as their ONNX exports (`kino_onnx::Diffusion`).
//!
//! - [`whisper`]: Whisper's network on libtorch, so speech recognition
//!   runs on a GPU too; decoding is kino-whisper's.
//!
//! - [`device`]: where models run: the CPU, or a GPU when a CUDA libtorch
//!   is on the library path.
//!
//! libtorch is big (its CPU library alone is 450 MB), so it is behind the
//! `torch` feature. Without it this crate still builds: the vocoder falls
//! back to Griffin-Lim, saying why, and loading a TorchScript model is an
//! error that says how to build a host that can.

#![deny(missing_docs)]

pub mod device;
pub mod diffusion;
pub mod script;
pub mod vocoder;
pub mod whisper;

/// Whether this build runs TorchScript (the `torch` feature).
pub const ENABLED: bool = cfg!(feature = "torch");

/// Why a build without the feature can't run a TorchScript model.
pub const NOT_BUILT: &str = "this host was built without TorchScript support \
     (build it with `--features torch` against libtorch 2.11: `make libtorch`, see kernels/torch/README.md)";

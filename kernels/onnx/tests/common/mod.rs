//! What the tests on tiny generated models share.

use std::path::Path;

/// Loads ONNX Runtime from the model repository (`make models`); fails,
/// never skips, when it is absent.
pub fn init_ort() {
    let models = kino_tool_probe::models_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."));
    let ort = models.join("onnxruntime/1.31.1/libonnxruntime.so");
    assert!(
        ort.is_file(),
        "{} is missing: run `make models`",
        ort.display()
    );
    kino_onnx::init_runtime(&ort).expect("loading onnx runtime");
}

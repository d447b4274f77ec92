//! Writes the macro that runs `wit_bindgen::generate!` in a plugin crate.
//!
//! A world's exports must be generated in the crate that implements them
//! (the component-type section that wit-component reads is linked from
//! there), and `generate!` needs the WIT directory as a literal path. The
//! SDK carries its own copy of the WIT (`wit/`, kept identical to the
//! repository's by a test), so this script bakes that path into the macro
//! and the SDK builds wherever it is unpacked.

use std::path::PathBuf;

fn main() {
    let manifest_dir = PathBuf::from(
        std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"),
    );
    let wit = manifest_dir.join("wit");
    let wit = wit.canonicalize().unwrap_or(wit);
    println!("cargo:rerun-if-changed={}", wit.display());
    let wit = wit.to_str().expect("the wit directory path is UTF-8");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let source = format!(
        r#"/// Generates the bindings of one `kino:stage` world in the calling crate.
#[doc(hidden)]
#[macro_export]
macro_rules! __generate_world {{
    ($world:literal) => {{
        $crate::__wit_bindgen::generate!({{
            world: $world,
            path: {wit:?},
            runtime_path: "::kino_plugin_sdk::__wit_bindgen::rt",
            with: {{
                "kino:stage/types@0.1.0": ::kino_plugin_sdk::types,
                "kino:stage/host@0.1.0": ::kino_plugin_sdk::host,
            }},
        }});
    }};
}}
"#
    );
    std::fs::write(out.join("generate_world.rs"), source).expect("writing generate_world.rs");
}

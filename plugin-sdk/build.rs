//! Writes the code that runs `wit_bindgen::generate!`, for the `kino:stage`
//! version this build targets.
//!
//! A world's exports must be generated in the crate that implements them
//! (the component-type section that wit-component reads is linked from
//! there), and `generate!` needs the WIT directory as a literal path. The
//! SDK carries its own copy of the WIT (`wit/`, kept identical to the
//! repository's by a test), so this script bakes that path into the macro
//! and the SDK builds wherever it is unpacked.
//!
//! By default plugins target `kino:stage@0.2.0` (`wit/`); the `stage-0-1`
//! feature builds them against the frozen `kino:stage@0.1.0`
//! (`wit/since_v0.1.0/`), for hosts that run only 0.1.

use std::fmt::Write as _;
use std::path::PathBuf;

/// The worlds of `kino:stage@0.1.0`, which 0.2.0 keeps as they were.
const WORLDS_0_1: [&str; 8] = [
    "script-strategy",
    "director-style",
    "script-strategy-with-assets",
    "director-style-with-assets",
    "translator",
    "grader",
    "fallback-policy",
    "caption-style",
];

/// The worlds 0.2.0 adds, which move media.
const BACKEND_WORLDS: [&str; 4] = ["transcriber", "speech", "clip-generator", "lipsync"];

fn main() {
    let manifest_dir = PathBuf::from(
        std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"),
    );
    let frozen = std::env::var_os("CARGO_FEATURE_STAGE_0_1").is_some();
    let (version, wit) = if frozen {
        ("0.1.0", manifest_dir.join("wit").join("since_v0.1.0"))
    } else {
        ("0.2.0", manifest_dir.join("wit"))
    };
    let wit = wit.canonicalize().unwrap_or(wit);
    println!(
        "cargo:rerun-if-changed={}",
        manifest_dir.join("wit").display()
    );
    let wit = wit.to_str().expect("the wit directory path is UTF-8");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));

    // The shared interfaces, generated once in the SDK.
    let mut imports =
        format!("import kino:stage/types@{version}; import kino:stage/host@{version};");
    let mut with = String::new();
    if !frozen {
        write!(
            imports,
            " import kino:stage/media@{version}; import kino:stage/backend-types@{version};"
        )
        .expect("writing to a String");
        with.push_str(r#""wasi:io/streams@0.2.12": ::wasip2::io::streams, "wasi:io/error@0.2.12": ::wasip2::io::error, "wasi:io/poll@0.2.12": ::wasip2::io::poll,"#);
    }
    let bindings = format!(
        r#"wit_bindgen::generate!({{
    inline: "package kino:sdk; world imports {{ {imports} }}",
    path: {wit:?},
    additional_derives: [Clone, PartialEq],
    with: {{ {with} }},
    generate_all,
}});
"#
    );
    std::fs::write(out.join("bindings.rs"), bindings).expect("writing bindings.rs");

    // One arm per world: its full name, and the shared interfaces it reuses.
    let mut arms = String::new();
    let worlds = WORLDS_0_1
        .iter()
        .map(|w| (w, false))
        .chain(BACKEND_WORLDS.iter().map(|w| (w, true)).filter(|_| !frozen));
    for (world, backend) in worlds {
        let mut with = format!(
            r#""kino:stage/types@{version}": ::kino_plugin_sdk::types,
                "kino:stage/host@{version}": ::kino_plugin_sdk::host,"#
        );
        if backend {
            write!(
                with,
                r#"
                "kino:stage/media@{version}": ::kino_plugin_sdk::media,
                "kino:stage/backend-types@{version}": ::kino_plugin_sdk::backend_types,
                "wasi:io/streams@0.2.12": ::kino_plugin_sdk::__wasip2::io::streams,
                "wasi:io/error@0.2.12": ::kino_plugin_sdk::__wasip2::io::error,
                "wasi:io/poll@0.2.12": ::kino_plugin_sdk::__wasip2::io::poll,"#
            )
            .expect("writing to a String");
        }
        write!(
            arms,
            r#"
    ({world:?}) => {{
        $crate::__wit_bindgen::generate!({{
            world: "kino:stage/{world}@{version}",
            path: {wit:?},
            runtime_path: "::kino_plugin_sdk::__wit_bindgen::rt",
            with: {{
                {with}
            }},
        }});
    }};"#
        )
        .expect("writing to a String");
    }
    let source = format!(
        r#"/// Generates the bindings of one `kino:stage` world, by its bare name, in the calling crate.
#[doc(hidden)]
#[macro_export]
macro_rules! __generate_world {{{arms}
}}

/// The `kino:stage` version this SDK build targets: what a plugin's
/// manifest declares in its `world`.
pub const STAGE_VERSION: &str = "{version}";
"#
    );
    std::fs::write(out.join("generate_world.rs"), source).expect("writing generate_world.rs");
}

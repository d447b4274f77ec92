//! Host bindings for the `kino:stage` WIT package, one `bindgen!` per world.
//!
//! The worlds are bound from `wit/`, `kino:stage@0.2.0`. Plugins built
//! against the frozen `kino:stage@0.1.0` (`wit/since_v0.1.0/`) run through
//! the same bindings: their exports have the same structure (0.2 only adds),
//! and component-model records and variants type-check by structure, so the
//! one thing a 0.1 plugin needs besides is its `host@0.1.0` import, which
//! [`v0_1`] binds.
//!
//! The first world generates the shared `types` and `host` interfaces; the
//! others reuse them through `with`, so a `Scene` is one Rust type no matter
//! which world it crosses. The `*-with-assets` worlds are not bound: a
//! plugin is loaded as its base world, and the host looks their optional
//! exports up beside it, at either package version (`worlds::optional`).

/// The script-strategy world; also the home of the shared `types` and `host` bindings.
pub mod script_strategy {
    wasmtime::component::bindgen!({
        world: "script-strategy",
        path: "../../wit",
        exports: { default: async },
        additional_derives: [serde::Serialize, serde::Deserialize, PartialEq],
    });
}

/// Generates the bindings of one world, reusing the shared interfaces.
macro_rules! world {
    ($(#[$doc:meta])* $module:ident, $world:literal) => {
        $(#[$doc])*
        pub mod $module {
            wasmtime::component::bindgen!({
                world: $world,
                path: "../../wit",
                exports: { default: async },
                with: {
                    "kino:stage/types": super::script_strategy::kino::stage::types,
                    "kino:stage/host": super::script_strategy::kino::stage::host,
                },
            });
        }
    };
}

world!(
    /// The director-style world.
    director_style,
    "director-style"
);
world!(
    /// The translator world.
    translator,
    "translator"
);
world!(
    /// The grader world.
    grader,
    "grader"
);
world!(
    /// The fallback-policy world.
    fallback_policy,
    "fallback-policy"
);

world!(
    /// The caption-style world.
    caption_style,
    "caption-style"
);
/// The transcriber world; also the home of the shared `media` and
/// `backend-types` bindings. Media handles are the host's
/// [`crate::media::MediaIn`] and [`crate::media::MediaOut`]; streams are
/// wasmtime-wasi's, so a plugin can splice them into `wasi:http` bodies.
pub mod transcriber {
    wasmtime::component::bindgen!({
        world: "transcriber",
        path: "../../wit",
        exports: { default: async },
        with: {
            "kino:stage/types": super::script_strategy::kino::stage::types,
            "kino:stage/host": super::script_strategy::kino::stage::host,
            "kino:stage/media.media-in": crate::media::MediaIn,
            "kino:stage/media.media-out": crate::media::MediaOut,
            "wasi:io": wasmtime_wasi::p2::bindings::io,
        },
        additional_derives: [serde::Serialize, serde::Deserialize, PartialEq],
    });
}

/// Generates the bindings of one backend world, reusing the shared interfaces.
macro_rules! backend_world {
    ($(#[$doc:meta])* $module:ident, $world:literal) => {
        $(#[$doc])*
        pub mod $module {
            wasmtime::component::bindgen!({
                world: $world,
                path: "../../wit",
                exports: { default: async },
                with: {
                    "kino:stage/types": super::script_strategy::kino::stage::types,
                    "kino:stage/host": super::script_strategy::kino::stage::host,
                    "kino:stage/media": super::transcriber::kino::stage::media,
                    "kino:stage/backend-types": super::transcriber::kino::stage::backend_types,
                    "wasi:io": wasmtime_wasi::p2::bindings::io,
                },
            });
        }
    };
}

backend_world!(
    /// The speech world.
    speech,
    "speech"
);
backend_world!(
    /// The clip-generator world.
    clip_generator,
    "clip-generator"
);
backend_world!(
    /// The lipsync world.
    lipsync,
    "lipsync"
);

/// The `host` interface of the frozen `kino:stage@0.1.0`, which plugins
/// built against it import (`kino:stage/host@0.1.0`).
pub mod v0_1 {
    wasmtime::component::bindgen!({
        world: "fallback-policy",
        path: "../../wit/since_v0.1.0",
    });
}

pub use script_strategy::kino::stage::host;
pub use script_strategy::kino::stage::types;
pub use transcriber::kino::stage::{backend_types, media};

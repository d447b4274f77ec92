//! Host bindings for the `kino:stage` WIT package, one `bindgen!` per world.
//!
//! The first world generates the shared `types` and `host` interfaces; the
//! others reuse them through `with`, so a `Scene` is one Rust type no matter
//! which world it crosses.

/// The script-strategy world; also the home of the shared `types` and `host` bindings.
pub mod script_strategy {
    wasmtime::component::bindgen!({
        world: "script-strategy",
        path: "../wit",
        exports: { default: async },
        additional_derives: [serde::Serialize, serde::Deserialize, PartialEq],
    });
}

/// The director-style world.
pub mod director_style {
    wasmtime::component::bindgen!({
        world: "director-style",
        path: "../wit",
        exports: { default: async },
        with: {
            "kino:stage/types": super::script_strategy::kino::stage::types,
            "kino:stage/host": super::script_strategy::kino::stage::host,
        },
    });
}

/// The translator world.
pub mod translator {
    wasmtime::component::bindgen!({
        world: "translator",
        path: "../wit",
        exports: { default: async },
        with: {
            "kino:stage/types": super::script_strategy::kino::stage::types,
            "kino:stage/host": super::script_strategy::kino::stage::host,
        },
    });
}

/// The grader world.
pub mod grader {
    wasmtime::component::bindgen!({
        world: "grader",
        path: "../wit",
        exports: { default: async },
        with: {
            "kino:stage/types": super::script_strategy::kino::stage::types,
            "kino:stage/host": super::script_strategy::kino::stage::host,
        },
    });
}

/// The fallback-policy world.
pub mod fallback_policy {
    wasmtime::component::bindgen!({
        world: "fallback-policy",
        path: "../wit",
        exports: { default: async },
        with: {
            "kino:stage/types": super::script_strategy::kino::stage::types,
            "kino:stage/host": super::script_strategy::kino::stage::host,
        },
    });
}

pub use script_strategy::kino::stage::host;
pub use script_strategy::kino::stage::types;

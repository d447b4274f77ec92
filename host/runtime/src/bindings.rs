//! Host bindings for the `kino:stage` WIT package, one `bindgen!` per world.
//!
//! The first world generates the shared `types` and `host` interfaces; the
//! others reuse them through `with`, so a `Scene` is one Rust type no matter
//! which world it crosses.

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

pub use script_strategy::kino::stage::host;
pub use script_strategy::kino::stage::types;

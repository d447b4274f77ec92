//! Host bindings for the `kino:stage` WIT package, one `bindgen!` per world.
//!
//! The first world generates the shared `types` and `host` interfaces; the
//! others reuse them through `with`, so a `Scene` is one Rust type no matter
//! which world it crosses. The `*-with-assets` worlds are bound only for
//! their exported interfaces (`asset-scripts`, `asset-picker`): a plugin is
//! loaded as its base world, and the host looks those up beside it.

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
world!(
    /// The script-strategy world with the optional `asset-scripts` export.
    script_strategy_with_assets,
    "script-strategy-with-assets"
);
world!(
    /// The director-style world with the optional `asset-picker` export.
    director_style_with_assets,
    "director-style-with-assets"
);

pub use director_style_with_assets::exports::kino::stage::asset_picker;
pub use script_strategy::kino::stage::host;
pub use script_strategy::kino::stage::types;
pub use script_strategy_with_assets::exports::kino::stage::asset_scripts;

//! A `director-style` plugin that imports `kino:hostile/escape`, which no
//! host provides: loading it must fail and name the import.

wit_bindgen::generate!({
    world: "kino:hostile/director-with-escape",
    path: ["../../../wit/since_v0.1.0", "wit"],
    with: {
        "kino:stage/types@0.1.0": kino_plugin_sdk::types,
        "kino:stage/host@0.1.0": kino_plugin_sdk::host,
    },
});

struct Escapee;

impl Guest for Escapee {
    fn direct(scene: Scene, _brief: Brief) -> Result<DirectedScene, PluginError> {
        let out = kino::hostile::escape::run("cat /etc/passwd");
        Err(PluginError::internal(format!("{}: {out}", scene.index)))
    }
}

export!(Escapee);

//! A hostile `director-style` plugin for sandbox tests. The tenant config key
//! `mode` picks the misbehaviour; any other mode answers normally. It also
//! exports `asset-picker`, whose answers break the rules in modes of their own.

use kino_plugin_sdk::{
    Asset, AssetPick, AssetPicker, Brief, CameraMove, DirectedScene, DirectorStyle, GradeIntent,
    PluginError, Scene, ShotSize, Transition, config, log,
};

struct Hostile;

/// Recursion that the optimiser cannot turn into a loop: the second call
/// depends on the first's result.
fn recurse(depth: u64) -> u64 {
    if depth == 0 {
        return 1;
    }
    let first = recurse(depth - 1);
    first.wrapping_mul(31).wrapping_add(recurse(first % 2))
}

impl DirectorStyle for Hostile {
    fn direct(scene: Scene, _brief: Brief) -> Result<DirectedScene, PluginError> {
        let mode = config("mode").unwrap_or_default();
        let mut styled_prompt = scene.visual.clone();
        match mode.as_str() {
            "loop" => {
                let mut n = 0u64;
                loop {
                    n = std::hint::black_box(n.wrapping_add(1));
                }
            }
            "grow" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![1u8; 1 << 20]);
                    std::hint::black_box(&hoard);
                }
            }
            "panic" => panic!("hostile plugin panics on purpose"),
            "recurse" => {
                let depth = config("depth")
                    .and_then(|d| d.parse().ok())
                    .unwrap_or(u64::MAX);
                styled_prompt = recurse(std::hint::black_box(depth)).to_string();
            }
            "huge" => styled_prompt = "x".repeat(20 << 20),
            "log-flood" => {
                for i in 0..10_000 {
                    log::info(&format!("line {i} {}", "y".repeat(10_000)));
                }
                println!("{}", "z".repeat(1 << 20));
                eprintln!("stderr is bounded too");
            }
            "error" => return Err(PluginError::rate_limited(250, "try again soon")),
            "probe" => {
                // Reports what of the host environment it can reach; a
                // sandbox with nothing ambient reaches none of it.
                let port = config("port").unwrap_or_default();
                styled_prompt = format!(
                    "env={} args={} root={} passwd={} tcp={}",
                    std::env::vars().count(),
                    std::env::args().count(),
                    std::fs::read_dir("/").is_ok(),
                    std::fs::read("/etc/passwd").is_ok(),
                    std::net::TcpStream::connect(format!("127.0.0.1:{port}")).is_ok(),
                );
            }
            _ => {}
        }
        let mut directed = DirectedScene {
            scene_index: scene.index,
            styled_prompt,
            camera_move: CameraMove::Locked,
            shot_size: ShotSize::Medium,
            pacing: 1.0,
            transition: Transition::Cut,
            transition_ms: 0,
            grade: GradeIntent::neutral(),
        };
        // Answers of the right type that break the world's rules.
        match mode.as_str() {
            "nan" => directed.pacing = f32::NAN,
            "out-of-range" => directed.grade.warmth = 7.0,
            "wrong-scene" => directed.scene_index += 1,
            _ => {}
        }
        Ok(directed)
    }
}

impl AssetPicker for Hostile {
    fn pick_assets(
        _scene: Scene,
        _brief: Brief,
        assets: Vec<Asset>,
    ) -> Result<Vec<AssetPick>, PluginError> {
        let first = assets.first().map(AssetPick::of);
        let mut picks: Vec<AssetPick> = first.into_iter().collect();
        match config("mode").unwrap_or_default().as_str() {
            "too-many-picks" => picks = assets.iter().cycle().take(4).map(AssetPick::of).collect(),
            "unknown-asset" => {
                picks = vec![AssetPick::of(&Asset {
                    name: "elsewhere".into(),
                    ..assets[0].clone()
                })]
            }
            "nan-speed" => picks.iter_mut().for_each(|p| p.speed_end = f32::NAN),
            "past-the-clip" => picks.iter_mut().for_each(|p| p.in_ms = u32::MAX),
            "panic" => panic!("hostile plugin panics on purpose"),
            _ => {}
        }
        Ok(picks)
    }
}

kino_plugin_sdk::export_director_style_with_assets!(Hostile);

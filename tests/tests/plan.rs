//! The README's main job, `kino plan examples/brief.toml`, run as a test:
//! script strategy -> director -> grader, on the built reference plugins.

use std::path::Path;

use kino_host::plan::{self, Planner};
use kino_host::runtime::CallCtx;
use kino_kernels::lut::{CubeLut, parse_cube};
use kino_tests::{PLUGIN_DIR, runtime};

#[tokio::test]
async fn example_brief_plans_directed_graded_scenes() {
    let brief_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/brief.toml");
    let brief = plan::read_brief(&brief_path).expect("the example brief is valid");
    let [strategy, director, grader] =
        plan::load_reference_plugins(runtime(), Path::new(PLUGIN_DIR)).expect("plugins load");
    let planner = Planner {
        runtime: runtime().clone(),
        strategy,
        director,
        grader,
        director_call: CallCtx::new("local").with_config([("style", "noir-high-contrast")]),
        call: CallCtx::new("local"),
    };
    let plan = planner.plan(brief.clone(), 5).await.expect("the plan runs");

    assert_eq!(plan.variations.len(), 5);
    let top = &plan.variations[0];
    assert!(plan.variations.iter().all(|v| v.overall <= top.overall));
    assert_eq!(plan.directed.len(), top.script.scenes.len());
    assert_eq!(plan.luts.len(), plan.directed.len());
    for (scene, directed) in top.script.scenes.iter().zip(&plan.directed) {
        assert_eq!(directed.scene_index, scene.index);
        assert!(directed.styled_prompt.contains(&scene.visual));
        assert_eq!(directed.grade.look, "noir-high-contrast");
    }

    // What `kino plan` writes is a plan a person can read and LUTs any
    // .cube reader accepts.
    let out = tempfile::tempdir().expect("temp dir");
    let written = plan::write_plan(&plan, out.path()).expect("written");
    assert_eq!(written.len(), 1 + plan.directed.len());
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&written[0]).expect("plan.json")).expect("json");
    assert_eq!(json["brief"]["brand"], brief.brand.as_str());
    for path in &written[1..] {
        let lut = CubeLut::read(path).expect("a valid .cube");
        assert_eq!(lut.size(), 33);
        // Noir: a mid-grey input comes out grey (near-monochrome grade).
        let [r, g, b] = lut.entry(16, 16, 16);
        assert!((r - g).abs() < 0.05 && (g - b).abs() < 0.05, "{r} {g} {b}");
    }
    let text = std::fs::read_to_string(&written[1]).expect("cube text");
    assert!(parse_cube(&text).is_ok());
}

#[test]
fn bad_briefs_are_refused_with_the_reason() {
    let dir = tempfile::tempdir().expect("temp dir");
    for (body, expected) in [
        ("brand = \"X\"\n", "missing field"),
        (
            "brand = \"\"\nproduct = \"p\"\naudience = \"a\"\ntone = \"t\"\nobjective = \"o\"\ncall-to-action = \"c\"\ntarget-length-s = 30\n",
            "`brand` must not be empty",
        ),
        (
            "brand = \"b\"\nproduct = \"p\"\naudience = \"a\"\ntone = \"t\"\nobjective = \"o\"\ncall-to-action = \"c\"\ntarget-length-s = 30\nmood = \"x\"\n",
            "unknown field `mood`",
        ),
        (
            "brand = \"b\"\nproduct = \"p\"\naudience = \"a\"\ntone = \"t\"\nobjective = \"o\"\ncall-to-action = \"c\"\ntarget-length-s = 30\nmode = \"opera\"\n",
            "mode must be",
        ),
    ] {
        let path = dir.path().join("brief.toml");
        std::fs::write(&path, body).expect("write");
        let error = format!("{:#}", plan::read_brief(&path).expect_err(body));
        assert!(error.contains(expected), "{error}");
        assert!(error.contains("brief.toml"), "the file is named: {error}");
    }
}

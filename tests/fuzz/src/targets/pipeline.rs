//! Briefs, pipeline specs and scene edits (`kino-pipeline`).

use std::sync::OnceLock;

use kino_pipeline::brief::{MAX_FACTS, MAX_NAME_CHARS, MAX_TEXT_CHARS, parse_brief};
use kino_pipeline::exec::check_job;
use kino_pipeline::ops::DataKind;
use kino_pipeline::ops::ad::ScriptPlan;
use kino_pipeline::ops::edit::apply;
use kino_pipeline::spec::{HostOffer, PipelineSpec};
use kino_pipeline::{Edits, slots};
use kino_runtime::types::{Brief, BriefMode, Scene};

use super::{JSON_TOKENS, Outcome, TOML_TOKENS, Target, bucket, no_seeds, text};

/// A creative brief (TOML), as the ad pipeline reads an uploaded one.
pub const BRIEF: Target = Target {
    name: "brief",
    about: "brief.toml: parse_brief (what read_brief runs)",
    run: brief,
    dictionary: &[TOML_TOKENS, BRIEF_TOKENS],
    max_len: 64 << 10,
    generated_seeds: no_seeds,
};

const BRIEF_TOKENS: &[&[u8]] = &[
    b"brand = ",
    b"product = ",
    b"audience = ",
    b"tone = ",
    b"objective = ",
    b"facts = ",
    b"call-to-action = ",
    b"target-length-s = ",
    b"mode = ",
    b"\"ad-creative\"",
    b"\"music-video\"",
    b"5",
    b"600",
    b"601",
    b"\"\"",
    b"\" \"",
    b"\"\\u00e9\"",
    b"=",
    b"\"",
    b"\n",
    b"[",
    b"]",
    b",",
    b"#",
    b"'''",
];

fn brief(bytes: &[u8]) -> Outcome {
    let text = text(bytes);
    match parse_brief(&text, "brief.toml") {
        Ok(brief) => {
            // What a plugin may rely on: the limits the host documents.
            let chars = |s: &str| s.chars().count();
            for name in [&brief.brand, &brief.product, &brief.call_to_action] {
                assert!(!name.trim().is_empty() && chars(name) <= MAX_NAME_CHARS);
            }
            for t in [&brief.audience, &brief.tone, &brief.objective] {
                assert!(chars(t) <= MAX_TEXT_CHARS);
            }
            assert!(brief.facts.len() <= MAX_FACTS);
            assert!(brief.facts.iter().all(|f| chars(f) <= MAX_TEXT_CHARS));
            assert!((5..=600).contains(&brief.target_length_s));
            Outcome::ok(format!(
                "facts={} music-video={}",
                bucket(brief.facts.len()),
                matches!(brief.mode, BriefMode::MusicVideo)
            ))
        }
        Err(e) => Outcome::err(e),
    }
}

/// A pipeline spec (TOML), as the catalog reads an operator's spec file:
/// against no host offer (`parse`) and against one with three native
/// kernels and the built-in slots (`parse_for`, as `host/pipeline/tests/ui.rs`).
pub const SPEC: Target = Target {
    name: "spec",
    about: "pipeline spec: PipelineSpec::parse and parse_for, order, check_job",
    run: spec,
    dictionary: &[TOML_TOKENS, SPEC_TOKENS],
    max_len: 64 << 10,
    generated_seeds: no_seeds,
};

const SPEC_TOKENS: &[&[u8]] = &[
    b"name = ",
    b"description = ",
    b"[inputs.",
    b"[inputs]",
    b"kind = \"file\"",
    b"kind = \"text\"",
    b"default = ",
    b"optional = true",
    b"max-length = ",
    b"[[stage]]",
    b"op = ",
    b"\"native:unsharp-mask\"",
    b"\"native:noise-gate\"",
    b"\"native:tag-lines\"",
    b"native:",
    b"\"extract-audio\"",
    b"\"transcribe\"",
    b"\"translate\"",
    b"\"parse-subtitles\"",
    b"\"caption-cues\"",
    b"\"burn-captions\"",
    b"\"write-script\"",
    b"\"direct-scene\"",
    b"\"grade\"",
    b"slot = ",
    b"\"translator\"",
    b"\"director-style\"",
    b"\"grader\"",
    b"each = ",
    b"inputs = ",
    b"[]",
    b"\"[]\"",
    b"params = ",
    b"[params]",
    b"[outputs]",
    b"\"out.mp4\" = ",
    b".field",
];

/// The host of `host/pipeline/tests/ui.rs`: three native kernels and the
/// built-in pipelines' slots.
fn host() -> &'static HostOffer {
    static HOST: OnceLock<HostOffer> = OnceLock::new();
    HOST.get_or_init(|| HostOffer {
        kernels: [
            ("unsharp-mask", DataKind::Video, DataKind::Video),
            ("noise-gate", DataKind::Audio, DataKind::Audio),
            ("tag-lines", DataKind::Json, DataKind::Json),
        ]
        .into_iter()
        .map(|(name, reads, writes)| (name.to_owned(), (reads, writes)))
        .collect(),
        slots: Some(slots::known_slots()),
    })
}

fn spec(bytes: &[u8]) -> Outcome {
    let text = text(bytes);
    let bare = PipelineSpec::parse("fuzz.toml", &text);
    let offered = PipelineSpec::parse_for("fuzz.toml", &text, host());
    let mut parts = Vec::new();
    for parsed in [bare, offered] {
        parts.push(match parsed {
            Ok(spec) => {
                // A valid spec has an order (no cycles), and a job with no
                // inputs is checked against it without a panic.
                let order = spec
                    .order()
                    .unwrap_or_else(|e| panic!("property: a valid spec has an order: {e:#}"));
                assert_eq!(order.len(), spec.stages.len(), "property: every stage runs");
                let _ = (spec.slots(), spec.native_kernels().count());
                let job = check_job(&spec, &serde_json::json!({}));
                Outcome::all([
                    Outcome::ok(format!(
                        "stages={} inputs={}",
                        bucket(spec.stages.len()),
                        bucket(spec.inputs.len())
                    )),
                    job.map(|_| ()).into(),
                ])
            }
            Err(e) => Outcome::err(e),
        });
    }
    Outcome::all(parts)
}

/// Scene edits (JSON), as `POST /jobs/{id}/edits` and `kino scenes edit`
/// give them: parsed, layered on earlier edits, and applied to a script.
pub const EDITS: Target = Target {
    name: "edits",
    about: "edit JSON: Edits::parse, then, check and apply to a 3-scene script",
    run: edits,
    dictionary: &[JSON_TOKENS, EDIT_TOKENS],
    max_len: 16 << 10,
    generated_seeds: no_seeds,
};

const EDIT_TOKENS: &[&[u8]] = &[
    b"\"order\"",
    b"\"scenes\"",
    b"\"visual\"",
    b"\"narration\"",
    b"\"on-screen-text\"",
    b"\"style\"",
    b"\"trim\"",
    b"\"take\"",
    b"\"0\"",
    b"\"1\"",
    b"\"2\"",
    b"\"4294967295\"",
    b"[0, 1, 2]",
    b"[2, 2, 2]",
    b"[500, 3000]",
    b"[0, 4294967295]",
    b"1000",
    b"1001",
];

/// The script the edits are applied to: three scenes of 3, 2 and 4 s.
fn script() -> &'static ScriptPlan {
    static SCRIPT: OnceLock<ScriptPlan> = OnceLock::new();
    SCRIPT.get_or_init(|| {
        let scene = |index: u32, start_ms: u32, duration_ms: u32| Scene {
            index,
            start_ms,
            duration_ms,
            visual: format!("visual {index}"),
            camera: String::new(),
            narration: format!("narration {index}"),
            on_screen_text: String::new(),
        };
        ScriptPlan {
            brief: Brief {
                brand: "b".into(),
                product: "p".into(),
                audience: String::new(),
                tone: String::new(),
                objective: String::new(),
                facts: Vec::new(),
                call_to_action: "c".into(),
                target_length_s: 9,
                mode: BriefMode::AdCreative,
            },
            variations: Vec::new(),
            scenes: vec![
                scene(0, 0, 3000),
                scene(1, 3000, 2000),
                scene(2, 5000, 4000),
            ],
            music: String::new(),
            total_ms: 9000,
        }
    })
}

fn edits(bytes: &[u8]) -> Outcome {
    let text = text(bytes);
    let edits = match Edits::parse(&text) {
        Ok(edits) => edits,
        Err(e) => return Outcome::err(e),
    };
    // Stored as JSON between jobs: it must read back the same.
    let json = serde_json::to_string(&edits).expect("edits serialise");
    let back = Edits::parse(&json).expect("property: stored edits read back");
    assert_eq!(back, edits, "property: stored edits read back the same");
    // An edit of an edited job layers on the earlier edits.
    let twice = edits.clone().then(&edits);
    let applied = apply(script(), &edits);
    if let Ok(plan) = &applied {
        let mut ids: Vec<u32> = plan.shots.iter().map(|s| s.id).collect();
        ids.sort_unstable();
        assert_eq!(ids, [0, 1, 2], "property: every scene plays once");
        let total: u32 = plan.shots.iter().map(|s| s.scene.duration_ms).sum();
        assert_eq!(plan.total_ms, total, "property: the piece lasts its shots");
    }
    let shape = |e: &Edits| {
        format!(
            "order={} scenes={}",
            e.order.is_some(),
            bucket(e.scenes.len())
        )
    };
    Outcome::all([
        Outcome::ok(shape(&edits)),
        applied.map(|_| ()).into(),
        apply(script(), &twice).map(|_| ()).into(),
    ])
}

//! Pipeline specs: a pipeline is a declared graph of stages, written in TOML.
//!
//! ```toml
//! name = "dub"
//! description = "Voice-over dub of a video into another language"
//!
//! [inputs]
//! video = { kind = "file", description = "the video to dub" }
//! language = { kind = "text", default = "es" }
//!
//! [[stage]]
//! name = "segments"
//! op = "parse-subtitles"
//! inputs = ["transcript"]
//!
//! [[stage]]
//! name = "voice"
//! op = "speak-line"
//! each = "translate"          # one run per element of translate's output
//! inputs = ["language"]
//!
//! [outputs]
//! "dubbed.mp4" = "dubbed"
//! ```
//!
//! A stage reads job inputs and earlier stages' outputs by name. A stage with
//! `each = "stage"` (or `"stage.field"`) runs once per element of that
//! stage's JSON array output (or of the array under `field`): this is how long
//! media is processed segment-first, and how an ad's scenes render in
//! parallel. A later stage that reads a fanned-out stage gets all its outputs,
//! in order.

use std::collections::{BTreeMap, HashMap, HashSet};

use anyhow::{Context as _, Result, bail};
use serde::{Deserialize, Serialize};

use super::ops::Op;

/// The pipelines that ship with Kino, as (name, spec text).
pub const BUILT_IN: &[(&str, &str)] = &[
    ("dub", include_str!("../pipelines/dub.toml")),
    ("caption", include_str!("../pipelines/caption.toml")),
    ("ad-creative", include_str!("../pipelines/ad-creative.toml")),
];

/// What kind of value a job input is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum InputKind {
    /// A file (video, transcript, image, audio): stored as an artifact.
    File,
    /// A short string (a language tag, a mode).
    Text,
}

/// One declared input of a pipeline.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct InputSpec {
    /// File or text.
    pub kind: InputKind,
    /// What it is, for `--help` and errors.
    #[serde(default)]
    pub description: String,
    /// The value used when the job gives none (text inputs only).
    pub default: Option<String>,
    /// Whether a job may leave it out.
    #[serde(default)]
    pub optional: bool,
}

/// One stage of a pipeline.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct StageSpec {
    /// Its name, unique in the pipeline.
    pub name: String,
    /// The operation it runs: a native kernel or a plugin call.
    pub op: Op,
    /// For plugin ops: the slot whose tenant binding provides the plugin.
    pub slot: Option<String>,
    /// Run once per element of this stage's output (`stage` or `stage.field`).
    pub each: Option<String>,
    /// Job inputs and earlier stages it reads, in the order the op expects.
    #[serde(default)]
    pub inputs: Vec<String>,
    /// Settings of the op (part of the cache key).
    #[serde(default)]
    pub params: serde_json::Map<String, serde_json::Value>,
}

impl StageSpec {
    /// The stage `each` fans out over, and the field of its output, if any.
    pub fn each_source(&self) -> Option<(&str, Option<&str>)> {
        let each = self.each.as_deref()?;
        Some(match each.split_once('.') {
            Some((stage, field)) => (stage, Some(field)),
            None => (each, None),
        })
    }

    /// Every stage or input this stage waits for.
    pub fn dependencies(&self) -> impl Iterator<Item = &str> {
        self.inputs
            .iter()
            .map(|i| input_name(i).0)
            .chain(self.each_source().map(|(stage, _)| stage))
    }
}

/// An input reference: the name, and whether it is `name[]`, the element of
/// a fanned-out stage that matches this node's element.
pub fn input_name(input: &str) -> (&str, bool) {
    match input.strip_suffix("[]") {
        Some(name) => (name, true),
        None => (input, false),
    }
}

/// A pipeline spec, validated: names unique, references resolve, no cycles,
/// plugin ops have slots, arities match.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct PipelineSpec {
    /// The pipeline's name (`dub`).
    pub name: String,
    /// What it does.
    #[serde(default)]
    pub description: String,
    /// Its inputs by name.
    #[serde(default)]
    pub inputs: BTreeMap<String, InputSpec>,
    /// Its stages, in any order that respects their dependencies.
    #[serde(rename = "stage")]
    pub stages: Vec<StageSpec>,
    /// Files the job delivers: file name -> stage whose output it is.
    #[serde(default)]
    pub outputs: BTreeMap<String, String>,
}

impl PipelineSpec {
    /// Parses and validates a spec; errors name the pipeline and the stage.
    pub fn parse(origin: &str, text: &str) -> Result<Self> {
        let spec: PipelineSpec =
            toml::from_str(text).with_context(|| format!("parsing pipeline spec {origin}"))?;
        spec.validate()
            .with_context(|| format!("checking pipeline spec {origin}"))?;
        Ok(spec)
    }

    /// A built-in pipeline by name.
    pub fn built_in(name: &str) -> Result<Self> {
        let Some((_, text)) = BUILT_IN.iter().find(|(n, _)| *n == name) else {
            let known: Vec<_> = BUILT_IN.iter().map(|(n, _)| *n).collect();
            bail!(
                "no pipeline named `{name}`; the built-in ones are {}",
                known.join(", ")
            );
        };
        Self::parse(&format!("`{name}` (built in)"), text)
    }

    /// A stage by name.
    pub fn stage(&self, name: &str) -> Option<&StageSpec> {
        self.stages.iter().find(|s| s.name == name)
    }

    fn validate(&self) -> Result<()> {
        let mut names = HashSet::new();
        for input in self.inputs.keys() {
            names.insert(input.as_str());
        }
        for stage in &self.stages {
            if !names.insert(stage.name.as_str()) {
                bail!(
                    "stage `{}`: the name is already used by an input or another stage",
                    stage.name
                );
            }
        }
        for stage in &self.stages {
            let at = || format!("stage `{}`", stage.name);
            for dep in stage.dependencies() {
                if !names.contains(dep) {
                    bail!(
                        "{}: reads `{dep}`, which is neither an input nor a stage",
                        at()
                    );
                }
            }
            if let Some((source, _)) = stage.each_source()
                && self.stage(source).is_none()
            {
                bail!(
                    "{}: `each` must name a stage, not the input `{source}`",
                    at()
                );
            }
            let (min, max) = stage.op.arity();
            let n = stage.inputs.len();
            if n < min || n > max {
                bail!(
                    "{}: op `{}` takes {} inputs, the stage gives {n}",
                    at(),
                    stage.op,
                    if min == max {
                        min.to_string()
                    } else {
                        format!("{min} to {max}")
                    }
                );
            }
            match (stage.op.world(), &stage.slot) {
                (Some(_), None) => bail!(
                    "{}: op `{}` calls a plugin and needs a `slot`",
                    at(),
                    stage.op
                ),
                (None, Some(slot)) => bail!(
                    "{}: op `{}` is a native kernel; it has no plugin slot (`{slot}`)",
                    at(),
                    stage.op
                ),
                _ => {}
            }
            if stage.op.needs_each() && stage.each.is_none() {
                bail!(
                    "{}: op `{}` runs per element and needs `each`",
                    at(),
                    stage.op
                );
            }
        }
        for (file, stage) in &self.outputs {
            if self.stage(stage).is_none() {
                bail!("output `{file}` names `{stage}`, which is not a stage");
            }
        }
        self.order().map(|_| ())
    }

    /// The stages in an order where every stage comes after what it reads;
    /// an error names a stage on a cycle.
    pub fn order(&self) -> Result<Vec<&StageSpec>> {
        let by_name: HashMap<&str, &StageSpec> =
            self.stages.iter().map(|s| (s.name.as_str(), s)).collect();
        let mut done: HashSet<&str> = self.inputs.keys().map(String::as_str).collect();
        let mut order = Vec::with_capacity(self.stages.len());
        while order.len() < self.stages.len() {
            let before = order.len();
            for stage in &self.stages {
                if !done.contains(stage.name.as_str())
                    && stage.dependencies().all(|d| done.contains(d))
                {
                    done.insert(stage.name.as_str());
                    order.push(by_name[stage.name.as_str()]);
                }
            }
            if order.len() == before {
                let stuck = self
                    .stages
                    .iter()
                    .find(|s| !done.contains(s.name.as_str()))
                    .map_or("?", |s| s.name.as_str());
                bail!("stage `{stuck}` is on a dependency cycle");
            }
        }
        Ok(order)
    }

    /// The plugin slots the pipeline uses, with the world each needs.
    pub fn slots(&self) -> BTreeMap<&str, kino_registry::World> {
        self.stages
            .iter()
            .filter_map(|s| Some((s.slot.as_deref()?, s.op.world()?)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_ins_are_valid() {
        for (name, _) in BUILT_IN {
            let spec = PipelineSpec::built_in(name).expect(name);
            assert_eq!(spec.name, *name);
            assert!(!spec.outputs.is_empty(), "{name} delivers nothing");
        }
    }

    fn err(text: &str) -> String {
        format!("{:#}", PipelineSpec::parse("test", text).expect_err(text))
    }

    #[test]
    fn bad_specs_say_what_is_wrong() {
        let e = err(r#"name = "x"
[[stage]]
name = "a"
op = "parse-subtitles"
inputs = ["nope"]"#);
        assert!(e.contains("stage `a`: reads `nope`"), "{e}");

        let e = err(r#"name = "x"
[inputs]
t = { kind = "file" }
[[stage]]
name = "a"
op = "translate"
inputs = ["t", "t"]"#);
        assert!(e.contains("needs a `slot`"), "{e}");

        let e = err(r#"name = "x"
[[stage]]
name = "a"
op = "write-subtitles"
inputs = ["b"]
[[stage]]
name = "b"
op = "write-subtitles"
inputs = ["a"]"#);
        assert!(e.contains("cycle"), "{e}");

        let e = err(r#"name = "x"
[[stage]]
name = "a"
op = "no-such-op"
"#);
        assert!(e.contains("no-such-op"), "{e}");
    }
}

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
use std::ops::Range;

use anyhow::{Result, anyhow, bail};
use serde::{Deserialize, Serialize};

use super::ops::{DataKind, StageOp};
use kino_registry::World;

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
    /// The longest text value, in bytes (text inputs; default
    /// [`MAX_TEXT_INPUT`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_length: Option<usize>,
}

/// The longest text input a pipeline takes unless it declares otherwise:
/// a language tag or a style is a few bytes, a job's scene edits a few
/// kilobytes.
pub const MAX_TEXT_INPUT: usize = 64 * 1024;

/// One stage of a pipeline.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct StageSpec {
    /// Its name, unique in the pipeline.
    pub name: String,
    /// The operation it runs: a built-in op, a plugin call, or a native kernel.
    pub op: StageOp,
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

/// What the host offers a pipeline beyond its built-in ops, checked when a
/// spec is loaded: the native kernels installed, and the slots tenants bind.
#[derive(Debug, Clone, Default)]
pub struct HostOffer {
    /// Native kernels by name: what each reads and what it writes.
    pub kernels: BTreeMap<String, (DataKind, DataKind)>,
    /// The slots a pipeline may use, with the world each needs; `None`
    /// accepts any slot name (the built-in pipelines define the slots).
    pub slots: Option<BTreeMap<String, World>>,
}

/// A pipeline spec, validated: names unique, references resolve, no cycles,
/// plugin ops have known slots, arities match, fan-outs are over lists,
/// native kernels exist and get the kind of data they read.
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

/// Where in a spec a problem is, for its `file:line:column`.
#[derive(Debug, Clone)]
enum At {
    /// Stage `i`.
    Stage(usize),
    /// A field of stage `i`.
    Field(usize, &'static str),
    /// Input `j` of stage `i`.
    Input(usize, usize),
    /// The output named so.
    Output(String),
}

/// One thing wrong with a spec, and where.
struct Problem {
    at: At,
    message: String,
}

fn problem(at: At, message: String) -> Problem {
    Problem { at, message }
}

impl PipelineSpec {
    /// Parses and validates a spec with no native kernels; an error is
    /// `origin:line:column: what is wrong`.
    pub fn parse(origin: &str, text: &str) -> Result<Self> {
        Self::parse_for(origin, text, &HostOffer::default())
    }

    /// Parses and validates a spec against what `host` offers.
    pub fn parse_for(origin: &str, text: &str, host: &HostOffer) -> Result<Self> {
        let spec: PipelineSpec = toml::from_str(text).map_err(|e| {
            anyhow!(
                "{}: {}",
                located(origin, text, e.span().map(|s| s.start)),
                e.message().trim_end()
            )
        })?;
        spec.validate(host).map_err(|p| {
            anyhow!(
                "{}: {}",
                located(origin, text, locate(text, &p.at)),
                p.message
            )
        })?;
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

    fn validate(&self, host: &HostOffer) -> Result<(), Problem> {
        let mut names = HashSet::new();
        for input in self.inputs.keys() {
            names.insert(input.as_str());
        }
        for (i, stage) in self.stages.iter().enumerate() {
            if !names.insert(stage.name.as_str()) {
                return Err(problem(
                    At::Field(i, "name"),
                    format!(
                        "stage `{}`: the name is already used by an input or another stage",
                        stage.name
                    ),
                ));
            }
        }
        for (i, stage) in self.stages.iter().enumerate() {
            self.validate_stage(i, stage, &names, host)
                .map_err(|(at, message)| {
                    problem(at, format!("stage `{}`: {message}", stage.name))
                })?;
        }
        for (file, stage) in &self.outputs {
            let at = || At::Output(file.clone());
            match self.stage(stage) {
                None => {
                    return Err(problem(
                        at(),
                        format!("output `{file}` names `{stage}`, which is not a stage"),
                    ));
                }
                Some(s) if s.each.is_some() => {
                    return Err(problem(
                        at(),
                        format!(
                            "output `{file}` names `{stage}`, which has one output per element, not one file"
                        ),
                    ));
                }
                Some(_) => {}
            }
        }
        self.order_checked()
            .map(|_| ())
            .map_err(|(i, message)| problem(At::Stage(i), message))
    }

    /// Checks one stage; the error is where and what (without the stage's name).
    fn validate_stage(
        &self,
        i: usize,
        stage: &StageSpec,
        names: &HashSet<&str>,
        host: &HostOffer,
    ) -> Result<(), (At, String)> {
        for (j, input) in stage.inputs.iter().enumerate() {
            let dep = input_name(input).0;
            if !names.contains(dep) {
                return Err((
                    At::Input(i, j),
                    format!("reads `{dep}`, which is neither an input nor a stage"),
                ));
            }
        }
        if let Some((source, field)) = stage.each_source() {
            let at = || At::Field(i, "each");
            let Some(from) = self.stage(source) else {
                return Err(if names.contains(source) {
                    (
                        at(),
                        format!("`each` must name a stage, not the input `{source}`"),
                    )
                } else {
                    (
                        at(),
                        format!("`each` names `{source}`, which is not a stage"),
                    )
                });
            };
            let kind = self.output_kind(from, host);
            match (from.each.is_some(), field) {
                (true, Some(f)) => {
                    return Err((
                        at(),
                        format!(
                            "`each` over the fanned-out stage `{source}` cannot pick a field (`{f}`)"
                        ),
                    ));
                }
                (true, None) if kind.is_some_and(|k| !k.is_json()) => {
                    return Err((
                        at(),
                        format!(
                            "`each` over the fanned-out stage `{source}` needs JSON outputs, and each of them is {}",
                            kind.unwrap_or(DataKind::Any)
                        ),
                    ));
                }
                (false, None) if kind.is_some_and(|k| !k.is_list()) => {
                    return Err((
                        at(),
                        format!(
                            "cannot fan out over `{source}`: its output is {}, not a list",
                            kind.unwrap_or(DataKind::Any)
                        ),
                    ));
                }
                (false, Some(f)) if kind.is_some_and(|k| !k.is_record()) => {
                    return Err((
                        at(),
                        format!(
                            "cannot fan out over `{source}.{f}`: `{source}`'s output is {}, not a JSON object with a list under `{f}`",
                            kind.unwrap_or(DataKind::Any)
                        ),
                    ));
                }
                _ => {}
            }
        }
        let (min, max) = stage.op.arity();
        let n = stage.inputs.len();
        if n < min || n > max {
            return Err((
                At::Field(i, "inputs"),
                format!(
                    "op `{}` takes {} input{}, the stage gives {n}",
                    stage.op,
                    if min == max {
                        min.to_string()
                    } else {
                        format!("{min} to {max}")
                    },
                    if max == 1 { "" } else { "s" }
                ),
            ));
        }
        match (stage.op.world(), &stage.slot) {
            // An op with a host-made form runs it when no slot is named.
            (Some(_), None) if stage.op.plugin_optional() => {}
            (Some(_), None) => {
                return Err((
                    At::Field(i, "op"),
                    format!("op `{}` calls a plugin and needs a `slot`", stage.op),
                ));
            }
            (None, Some(slot)) => {
                return Err((
                    At::Field(i, "slot"),
                    format!(
                        "op `{}` is not a plugin call; it has no plugin slot (`{slot}`)",
                        stage.op
                    ),
                ));
            }
            (Some(world), Some(slot)) => {
                if let Some(slots) = &host.slots {
                    match slots.get(slot) {
                        Some(w) if *w == world => {}
                        Some(w) => {
                            return Err((
                                At::Field(i, "slot"),
                                format!(
                                    "slot `{slot}` holds a {w} plugin; op `{}` needs a {world} plugin",
                                    stage.op
                                ),
                            ));
                        }
                        None => {
                            let known: Vec<String> = slots
                                .iter()
                                .filter(|(_, w)| **w == world)
                                .map(|(s, _)| format!("`{s}`"))
                                .collect();
                            return Err((
                                At::Field(i, "slot"),
                                format!(
                                    "unknown slot `{slot}`; the {world} slots tenants can bind are {}",
                                    if known.is_empty() {
                                        "none".to_owned()
                                    } else {
                                        known.join(", ")
                                    }
                                ),
                            ));
                        }
                    }
                }
            }
            (None, None) => {}
        }
        if stage.op.needs_each() && stage.each.is_none() {
            return Err((
                At::Field(i, "op"),
                format!("op `{}` runs per element and needs `each`", stage.op),
            ));
        }
        if let StageOp::Native(kernel) = &stage.op {
            let Some((reads, _)) = host.kernels.get(kernel) else {
                let known: Vec<String> = host.kernels.keys().map(|k| format!("`{k}`")).collect();
                return Err((
                    At::Field(i, "op"),
                    format!(
                        "no native kernel `{kernel}` is installed (installed: {})",
                        if known.is_empty() {
                            "none".to_owned()
                        } else {
                            known.join(", ")
                        }
                    ),
                ));
            };
            let (name, element) = input_name(&stage.inputs[0]);
            let at = || At::Input(i, 0);
            let source = match (self.stage(name), self.inputs.get(name)) {
                (Some(from), _) => {
                    if from.each.is_some() && !element {
                        return Err((
                            at(),
                            format!(
                                "native kernel `{kernel}` reads one file, and `{name}` has one output per element: run the stage per element (`each` with `{name}[]`)"
                            ),
                        ));
                    }
                    self.output_kind(from, host).unwrap_or(DataKind::Any)
                }
                (None, Some(decl)) if decl.kind == InputKind::Text => {
                    return Err((
                        at(),
                        format!(
                            "native kernel `{kernel}` reads {reads}, not the text input `{name}`"
                        ),
                    ));
                }
                _ => DataKind::Any,
            };
            if !can_read(*reads, source) {
                return Err((
                    at(),
                    format!("native kernel `{kernel}` reads {reads}, and `{name}` is {source}"),
                ));
            }
        }
        Ok(())
    }

    /// What a stage writes, when the spec can know.
    fn output_kind(&self, stage: &StageSpec, host: &HostOffer) -> Option<DataKind> {
        match &stage.op {
            StageOp::Builtin(op) => Some(op.output()),
            StageOp::Native(kernel) => host.kernels.get(kernel).map(|(_, writes)| *writes),
        }
    }

    /// The stages in an order where every stage comes after what it reads;
    /// an error names a stage on a cycle (and gives its index).
    fn order_checked(&self) -> Result<Vec<&StageSpec>, (usize, String)> {
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
                let (i, stuck) = self
                    .stages
                    .iter()
                    .enumerate()
                    .find(|(_, s)| !done.contains(s.name.as_str()))
                    .map_or((0, "?"), |(i, s)| (i, s.name.as_str()));
                return Err((i, format!("stage `{stuck}` is on a dependency cycle")));
            }
        }
        Ok(order)
    }

    /// The stages in an order where every stage comes after what it reads;
    /// an error names a stage on a cycle.
    pub fn order(&self) -> Result<Vec<&StageSpec>> {
        self.order_checked()
            .map_err(|(_, message)| anyhow!(message))
    }

    /// The plugin slots the pipeline uses, with the world each needs.
    pub fn slots(&self) -> BTreeMap<&str, World> {
        self.stages
            .iter()
            .filter_map(|s| Some((s.slot.as_deref()?, s.op.world()?)))
            .collect()
    }

    /// The native kernels the pipeline runs.
    pub fn native_kernels(&self) -> impl Iterator<Item = &str> {
        self.stages.iter().filter_map(|s| match &s.op {
            StageOp::Native(k) => Some(k.as_str()),
            StageOp::Builtin(_) => None,
        })
    }
}

/// Whether a native kernel that reads `reads` can take a value of kind `value`.
fn can_read(reads: DataKind, value: DataKind) -> bool {
    match (reads, value) {
        (_, DataKind::Any) => true,
        (DataKind::Video, v) => v == DataKind::Video,
        // A video's sound is audio too.
        (DataKind::Audio, v) => matches!(v, DataKind::Audio | DataKind::Video),
        (r, v) if r.is_json() => v.is_json(),
        _ => false,
    }
}

/// `origin:line:column`, or just `origin` when the place is unknown.
fn located(origin: &str, text: &str, offset: Option<usize>) -> String {
    let Some(offset) = offset else {
        return origin.to_owned();
    };
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map_or(0, |n| n + 1) + 1;
    format!("{origin}:{line}:{column}")
}

/// The spans of what validation can complain about: a second, lenient
/// reading of the same text that keeps where each value was written.
#[derive(Deserialize)]
struct Spans {
    #[serde(default)]
    stage: Vec<toml::Spanned<StageSpans>>,
    #[serde(default)]
    outputs: BTreeMap<String, toml::Spanned<toml::Value>>,
}

#[derive(Deserialize)]
struct StageSpans {
    name: Option<toml::Spanned<toml::Value>>,
    op: Option<toml::Spanned<toml::Value>>,
    slot: Option<toml::Spanned<toml::Value>>,
    each: Option<toml::Spanned<toml::Value>>,
    inputs: Option<toml::Spanned<Vec<toml::Spanned<toml::Value>>>>,
}

/// The byte offset of `at` in `text`.
fn locate(text: &str, at: &At) -> Option<usize> {
    let spans: Spans = toml::from_str(text).ok()?;
    let start = |r: Range<usize>| Some(r.start);
    let stage = |i: usize| spans.stage.get(i);
    match at {
        At::Stage(i) => stage(*i)
            .and_then(|s| {
                s.get_ref()
                    .name
                    .as_ref()
                    .map(|n| n.span())
                    .or(Some(s.span()))
            })
            .and_then(start),
        At::Field(i, field) => {
            let s = stage(*i)?;
            let f = s.get_ref();
            let span = match *field {
                "name" => f.name.as_ref().map(toml::Spanned::span),
                "op" => f.op.as_ref().map(toml::Spanned::span),
                "slot" => f.slot.as_ref().map(toml::Spanned::span),
                "each" => f.each.as_ref().map(toml::Spanned::span),
                "inputs" => f.inputs.as_ref().map(toml::Spanned::span),
                _ => None,
            };
            start(span.unwrap_or_else(|| s.span()))
        }
        At::Input(i, j) => {
            let s = stage(*i)?;
            let inputs = s.get_ref().inputs.as_ref()?;
            start(
                inputs
                    .get_ref()
                    .get(*j)
                    .map_or_else(|| inputs.span(), toml::Spanned::span),
            )
        }
        At::Output(file) => start(spans.outputs.get(file)?.span()),
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

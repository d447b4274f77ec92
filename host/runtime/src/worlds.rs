//! The typed, async API of each `kino:stage` world.

use std::fmt;

use wasmtime::component::types::ComponentItem;
use wasmtime::component::{ComponentExportIndex, InstancePre};

use super::bindings::caption_style::CaptionStylePre;
use super::bindings::clip_generator::ClipGeneratorPre;
use super::bindings::director_style::DirectorStylePre;
use super::bindings::fallback_policy::FallbackPolicyPre;
use super::bindings::grader::GraderPre;
use super::bindings::lipsync::LipsyncPre;
use super::bindings::script_strategy::ScriptStrategyPre;
use super::bindings::speech::SpeechPre;
use super::bindings::transcriber::TranscriberPre;
use super::bindings::translator::TranslatorPre;
use super::bindings::types::{
    Asset, AssetPick, BrandLook, Brief, CueStyle, Decision, DirectedScene, Failure, FrameStats,
    GradeIntent, LanguagePair, Lut3d, PluginError, Scene, ScoreCard, Script, Segment,
    TranslatedSegment, WordCue,
};
use super::{CallCtx, Plugin, StageCtx, Trap};

/// The newest version of the `kino:stage` package this host implements:
/// the one in `wit/`, which the SDK builds plugins against.
pub const PACKAGE_VERSION: &str = "0.2.0";

/// Every `kino:stage` version whose plugins this host runs, oldest first:
/// `0.1.0` is frozen in `wit/since_v0.1.0/`.
pub const SUPPORTED_VERSIONS: [&str; 2] = ["0.1.0", PACKAGE_VERSION];

/// One world of the `kino:stage` package. The registry owns the type (it
/// validates manifests against it); the runtime maps each world to bindings.
pub use kino_registry::World;

/// A plugin was asked for a world it does not implement.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{plugin} implements kino:stage/{actual}, not kino:stage/{expected}")]
pub struct WrongWorld {
    /// The plugin.
    pub plugin: String,
    /// The world that was asked for.
    pub expected: World,
    /// The world it implements.
    pub actual: World,
}

/// An interface a plugin may export beside its world's functions, which
/// the host uses when it is there and does without when it is not: plugins
/// built before it existed keep working unchanged.
///
/// A plugin does not declare it: loading finds it among the component's
/// exports (and checks its type, refusing a component whose export of that
/// name does not match the WIT).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Capability {
    /// `kino:stage/asset-scripts`: a script strategy writes with the brief's
    /// assets in view ([`ScriptStrategy::generate_with_assets`]).
    AssetScripts,
    /// `kino:stage/asset-picker`: a director style picks each scene's assets
    /// ([`Director::pick_assets`]).
    AssetPicker,
}

impl Capability {
    /// Every capability.
    pub const ALL: [Capability; 2] = [Capability::AssetScripts, Capability::AssetPicker];

    /// The interface's WIT name, such as `asset-picker`.
    pub fn interface(self) -> &'static str {
        match self {
            Capability::AssetScripts => "asset-scripts",
            Capability::AssetPicker => "asset-picker",
        }
    }

    /// The world whose plugins may export it.
    pub fn world(self) -> World {
        match self {
            Capability::AssetScripts => World::ScriptStrategy,
            Capability::AssetPicker => World::DirectorStyle,
        }
    }

    /// The component export's names, such as `kino:stage/asset-picker@0.2.0`,
    /// one per version of [`SUPPORTED_VERSIONS`], newest first.
    pub fn export_names(self) -> impl Iterator<Item = String> {
        SUPPORTED_VERSIONS
            .into_iter()
            .rev()
            .map(move |version| format!("kino:stage/{}@{version}", self.interface()))
    }

    /// The interface's one function.
    fn function(self) -> &'static str {
        match self {
            Capability::AssetScripts => "generate-with-assets",
            Capability::AssetPicker => "pick-assets",
        }
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.interface())
    }
}

/// Looks up `capability`'s interface among the exports of `pre`'s component,
/// at any supported package version: `None` when it is not exported, the
/// index of its function when it is, an error when the function is missing
/// or of another type than the WIT's.
///
/// The export is found by hand rather than by `bindgen!`'s `GuestIndices`,
/// which know only the `kino:stage` version they were generated from.
fn optional(
    pre: &InstancePre<StageCtx>,
    capability: Capability,
    typecheck: impl FnOnce(
        &wasmtime::component::types::ComponentFunc,
        &InstancePre<StageCtx>,
    ) -> wasmtime::Result<()>,
) -> wasmtime::Result<Option<ComponentExportIndex>> {
    let component = pre.component();
    let Some((name, (item, instance))) = capability
        .export_names()
        .find_map(|name| Some((name.clone(), component.get_export(None, &name)?)))
    else {
        return Ok(None);
    };
    if !matches!(item, ComponentItem::ComponentInstance(_)) {
        wasmtime::bail!("export `{name}` is not an instance of the `{capability}` interface");
    }
    let function = capability.function();
    match component.get_export(Some(&instance), function) {
        Some((ComponentItem::ComponentFunc(func), index)) => {
            typecheck(&func, pre).map_err(|e| {
                wasmtime::format_err!("`{name}` exports `{function}` of the wrong type: {e:#}")
            })?;
            Ok(Some(index))
        }
        _ => wasmtime::bail!("`{name}` does not export the function `{function}`"),
    }
}

/// A script strategy's exports, with `asset-scripts` when it has it.
pub(crate) struct ScriptStrategyExports {
    world: ScriptStrategyPre<StageCtx>,
    assets: Option<ComponentExportIndex>,
}

/// A director style's exports, with `asset-picker` when it has it.
pub(crate) struct DirectorStyleExports {
    world: DirectorStylePre<StageCtx>,
    assets: Option<ComponentExportIndex>,
}

/// A plugin prepared for fast instantiation, with its exports resolved.
pub(crate) enum Pre {
    ScriptStrategy(ScriptStrategyExports),
    DirectorStyle(DirectorStyleExports),
    Translator(TranslatorPre<StageCtx>),
    Grader(GraderPre<StageCtx>),
    FallbackPolicy(FallbackPolicyPre<StageCtx>),
    CaptionStyle(CaptionStylePre<StageCtx>),
    Transcriber(TranscriberPre<StageCtx>),
    Speech(SpeechPre<StageCtx>),
    ClipGenerator(ClipGeneratorPre<StageCtx>),
    Lipsync(LipsyncPre<StageCtx>),
}

impl Pre {
    /// Resolves `world`'s exports in `pre`, and those of the capabilities
    /// the world may have; fails if any is missing or mistyped.
    pub(crate) fn new(world: World, pre: InstancePre<StageCtx>) -> wasmtime::Result<Self> {
        // The type checks of `bindgen!`'s own `*Indices::new`, for the
        // functions of an optional interface (its `GuestIndices::new` only
        // looks the names up; calls would type-check them too late).
        Ok(match world {
            World::ScriptStrategy => Pre::ScriptStrategy(ScriptStrategyExports {
                assets: optional(&pre, Capability::AssetScripts, |func, pre| {
                    func.typecheck::<(&Brief, &[Asset], u32), (Result<Vec<Script>, PluginError>,)>(
                        &pre.instance_type(),
                    )
                })?,
                world: ScriptStrategyPre::new(pre)?,
            }),
            World::DirectorStyle => Pre::DirectorStyle(DirectorStyleExports {
                assets: optional(&pre, Capability::AssetPicker, |func, pre| {
                    func.typecheck::<(&Scene, &Brief, &[Asset]), (Result<Vec<AssetPick>, PluginError>,)>(
                            &pre.instance_type(),
                        )
                })?,
                world: DirectorStylePre::new(pre)?,
            }),
            World::Translator => Pre::Translator(TranslatorPre::new(pre)?),
            World::Grader => Pre::Grader(GraderPre::new(pre)?),
            World::FallbackPolicy => Pre::FallbackPolicy(FallbackPolicyPre::new(pre)?),
            World::CaptionStyle => Pre::CaptionStyle(CaptionStylePre::new(pre)?),
            World::Transcriber => Pre::Transcriber(TranscriberPre::new(pre)?),
            World::Speech => Pre::Speech(SpeechPre::new(pre)?),
            World::ClipGenerator => Pre::ClipGenerator(ClipGeneratorPre::new(pre)?),
            World::Lipsync => Pre::Lipsync(LipsyncPre::new(pre)?),
        })
    }

    pub(crate) fn world(&self) -> World {
        match self {
            Pre::ScriptStrategy(_) => World::ScriptStrategy,
            Pre::DirectorStyle(_) => World::DirectorStyle,
            Pre::Translator(_) => World::Translator,
            Pre::Grader(_) => World::Grader,
            Pre::FallbackPolicy(_) => World::FallbackPolicy,
            Pre::CaptionStyle(_) => World::CaptionStyle,
            Pre::Transcriber(_) => World::Transcriber,
            Pre::Speech(_) => World::Speech,
            Pre::ClipGenerator(_) => World::ClipGenerator,
            Pre::Lipsync(_) => World::Lipsync,
        }
    }

    /// The optional interfaces the plugin exports.
    pub(crate) fn capabilities(&self) -> Vec<Capability> {
        match self {
            Pre::ScriptStrategy(p) if p.assets.is_some() => vec![Capability::AssetScripts],
            Pre::DirectorStyle(p) if p.assets.is_some() => vec![Capability::AssetPicker],
            _ => Vec::new(),
        }
    }
}

/// Defines the handle type of one world: a plugin of that world plus the call context.
macro_rules! world_handle {
    ($(#[$doc:meta])* $name:ident, $variant:ident, $pre:ty) => {
        $(#[$doc])*
        pub struct $name<'a> {
            plugin: &'a Plugin,
            pre: &'a $pre,
            call: &'a CallCtx,
        }

        impl<'a> $name<'a> {
            pub(crate) fn new(plugin: &'a Plugin, call: &'a CallCtx) -> Result<Self, WrongWorld> {
                match &plugin.inner.pre {
                    Pre::$variant(pre) => Ok(Self { plugin, pre, call }),
                    other => Err(WrongWorld {
                        plugin: plugin.id().to_owned(),
                        expected: World::$variant,
                        actual: other.world(),
                    }),
                }
            }
        }
    };
}

pub(crate) use world_handle;

world_handle!(
    /// Calls into a `script-strategy` plugin.
    ScriptStrategy,
    ScriptStrategy,
    ScriptStrategyExports
);
world_handle!(
    /// Calls into a `director-style` plugin.
    Director,
    DirectorStyle,
    DirectorStyleExports
);
world_handle!(
    /// Calls into a `translator` plugin.
    Translator,
    Translator,
    TranslatorPre<StageCtx>
);
world_handle!(
    /// Calls into a `grader` plugin.
    Grader,
    Grader,
    GraderPre<StageCtx>
);
world_handle!(
    /// Calls into a `fallback-policy` plugin.
    Fallback,
    FallbackPolicy,
    FallbackPolicyPre<StageCtx>
);
world_handle!(
    /// Calls into a `caption-style` plugin.
    CaptionStyle,
    CaptionStyle,
    CaptionStylePre<StageCtx>
);

/// What a call returns: the sandbox's verdict outside, the plugin's answer inside.
pub type CallResult<T> = Result<Result<T, PluginError>, Trap>;

impl ScriptStrategy<'_> {
    /// Writes `count` script variations for `brief`, best first.
    pub async fn generate(&self, brief: &Brief, count: u32) -> CallResult<Vec<Script>> {
        let pre = &self.pre.world;
        self.plugin
            .invoke(self.call, async |store| {
                let instance = pre.instantiate_async(&mut *store).await?;
                instance.call_generate(&mut *store, brief, count).await
            })
            .await
    }

    /// Scores how well `script` serves `brief`.
    pub async fn score(&self, brief: &Brief, script: &Script) -> CallResult<ScoreCard> {
        let pre = &self.pre.world;
        self.plugin
            .invoke(self.call, async |store| {
                let instance = pre.instantiate_async(&mut *store).await?;
                instance.call_score(&mut *store, brief, script).await
            })
            .await
    }

    /// Whether the plugin exports `asset-scripts`
    /// ([`Capability::AssetScripts`]).
    pub fn writes_with_assets(&self) -> bool {
        self.pre.assets.is_some()
    }

    /// Writes `count` script variations for `brief` with `assets` in view,
    /// best first; `Ok(Ok(None))`, and no call, when the plugin does not
    /// export `asset-scripts` (then [`ScriptStrategy::generate`] it).
    pub async fn generate_with_assets(
        &self,
        brief: &Brief,
        assets: &[Asset],
        count: u32,
    ) -> CallResult<Option<Vec<Script>>> {
        let Some(indices) = &self.pre.assets else {
            return Ok(Ok(None));
        };
        let pre = self.pre.world.instance_pre();
        let outcome =
            self.plugin
                .invoke(self.call, async |store| {
                    let instance = pre.instantiate_async(&mut *store).await?;
                    let func = instance.get_typed_func::<
                    (&Brief, &[Asset], u32),
                    (Result<Vec<Script>, PluginError>,),
                >(&mut *store, indices)?;
                    Ok(func
                        .call_async(&mut *store, (brief, assets, count))
                        .await?
                        .0)
                })
                .await;
        outcome.map(|answer| answer.map(Some))
    }
}

impl Director<'_> {
    /// Directs `scene` of a script written for `brief`.
    pub async fn direct(&self, scene: &Scene, brief: &Brief) -> CallResult<DirectedScene> {
        let pre = &self.pre.world;
        self.plugin
            .invoke(self.call, async |store| {
                let instance = pre.instantiate_async(&mut *store).await?;
                instance.call_direct(&mut *store, scene, brief).await
            })
            .await
    }

    /// Whether the plugin exports `asset-picker` ([`Capability::AssetPicker`]).
    pub fn picks_assets(&self) -> bool {
        self.pre.assets.is_some()
    }

    /// The assets of `assets` (the brief's) that `scene` shows, and how;
    /// `Ok(Ok(None))`, and no call, when the plugin does not export
    /// `asset-picker`.
    pub async fn pick_assets(
        &self,
        scene: &Scene,
        brief: &Brief,
        assets: &[Asset],
    ) -> CallResult<Option<Vec<AssetPick>>> {
        let Some(indices) = &self.pre.assets else {
            return Ok(Ok(None));
        };
        let pre = self.pre.world.instance_pre();
        let outcome = self
            .plugin
            .invoke(self.call, async |store| {
                let instance = pre.instantiate_async(&mut *store).await?;
                let func = instance.get_typed_func::<
                    (&Scene, &Brief, &[Asset]),
                    (Result<Vec<AssetPick>, PluginError>,),
                >(&mut *store, indices)?;
                Ok(func
                    .call_async(&mut *store, (scene, brief, assets))
                    .await?
                    .0)
            })
            .await;
        outcome.map(|answer| answer.map(Some))
    }
}

impl Translator<'_> {
    /// The language pairs the translator handles.
    pub async fn supported_pairs(&self) -> Result<Vec<LanguagePair>, Trap> {
        let pre = self.pre;
        self.plugin
            .invoke(self.call, async |store| {
                let instance = pre.instantiate_async(&mut *store).await?;
                instance.call_supported_pairs(&mut *store).await
            })
            .await
    }

    /// The most segments one `translate` call accepts.
    pub async fn max_batch_size(&self) -> Result<u32, Trap> {
        let pre = self.pre;
        self.plugin
            .invoke(self.call, async |store| {
                let instance = pre.instantiate_async(&mut *store).await?;
                instance.call_max_batch_size(&mut *store).await
            })
            .await
    }

    /// Translates `segments` from `source` to `target`.
    pub async fn translate(
        &self,
        source: &str,
        target: &str,
        segments: &[Segment],
    ) -> CallResult<Vec<TranslatedSegment>> {
        let pre = self.pre;
        self.plugin
            .invoke(self.call, async |store| {
                let instance = pre.instantiate_async(&mut *store).await?;
                instance
                    .call_translate(&mut *store, source, target, segments)
                    .await
            })
            .await
    }
}

impl Grader<'_> {
    /// Computes the LUT that gives frames with `stats` the look `intent` asks for.
    pub async fn grade(&self, stats: &FrameStats, intent: &GradeIntent) -> CallResult<Lut3d> {
        let pre = self.pre;
        self.plugin
            .invoke(self.call, async |store| {
                let instance = pre.instantiate_async(&mut *store).await?;
                instance.call_grade(&mut *store, stats, intent).await
            })
            .await
    }
}

impl Fallback<'_> {
    /// Decides what to do about `failure`.
    pub async fn decide(&self, failure: &Failure) -> Result<Decision, Trap> {
        let pre = self.pre;
        self.plugin
            .invoke(self.call, async |store| {
                let instance = pre.instantiate_async(&mut *store).await?;
                instance.call_decide(&mut *store, failure).await
            })
            .await
    }
}

impl CaptionStyle<'_> {
    /// Styles `cues` for a piece of `brand`: one style per cue, in order.
    pub async fn style_cues(
        &self,
        cues: &[WordCue],
        brand: &BrandLook,
    ) -> CallResult<Vec<CueStyle>> {
        let pre = self.pre;
        self.plugin
            .invoke(self.call, async |store| {
                let instance = pre.instantiate_async(&mut *store).await?;
                instance.call_style_cues(&mut *store, cues, brand).await
            })
            .await
    }
}

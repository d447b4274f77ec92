//! The typed, async API of each `kino:stage` world.

use wasmtime::component::InstancePre;

use super::bindings::director_style::DirectorStylePre;
use super::bindings::fallback_policy::FallbackPolicyPre;
use super::bindings::grader::GraderPre;
use super::bindings::script_strategy::ScriptStrategyPre;
use super::bindings::translator::TranslatorPre;
use super::bindings::types::{
    Brief, Decision, DirectedScene, Failure, FrameStats, GradeIntent, LanguagePair, Lut3d,
    PluginError, Scene, ScoreCard, Script, Segment, TranslatedSegment,
};
use super::{CallCtx, Plugin, StageCtx, Trap};

/// The version of the `kino:stage` package this host implements.
pub const PACKAGE_VERSION: &str = "0.1.0";

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

/// A plugin prepared for fast instantiation, with its exports resolved.
pub(crate) enum Pre {
    ScriptStrategy(ScriptStrategyPre<StageCtx>),
    DirectorStyle(DirectorStylePre<StageCtx>),
    Translator(TranslatorPre<StageCtx>),
    Grader(GraderPre<StageCtx>),
    FallbackPolicy(FallbackPolicyPre<StageCtx>),
}

impl Pre {
    /// Resolves `world`'s exports in `pre`; fails if any is missing or mistyped.
    pub(crate) fn new(world: World, pre: InstancePre<StageCtx>) -> wasmtime::Result<Self> {
        Ok(match world {
            World::ScriptStrategy => Pre::ScriptStrategy(ScriptStrategyPre::new(pre)?),
            World::DirectorStyle => Pre::DirectorStyle(DirectorStylePre::new(pre)?),
            World::Translator => Pre::Translator(TranslatorPre::new(pre)?),
            World::Grader => Pre::Grader(GraderPre::new(pre)?),
            World::FallbackPolicy => Pre::FallbackPolicy(FallbackPolicyPre::new(pre)?),
        })
    }

    pub(crate) fn world(&self) -> World {
        match self {
            Pre::ScriptStrategy(_) => World::ScriptStrategy,
            Pre::DirectorStyle(_) => World::DirectorStyle,
            Pre::Translator(_) => World::Translator,
            Pre::Grader(_) => World::Grader,
            Pre::FallbackPolicy(_) => World::FallbackPolicy,
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

world_handle!(
    /// Calls into a `script-strategy` plugin.
    ScriptStrategy,
    ScriptStrategy,
    ScriptStrategyPre<StageCtx>
);
world_handle!(
    /// Calls into a `director-style` plugin.
    Director,
    DirectorStyle,
    DirectorStylePre<StageCtx>
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

/// What a call returns: the sandbox's verdict outside, the plugin's answer inside.
pub type CallResult<T> = Result<Result<T, PluginError>, Trap>;

impl ScriptStrategy<'_> {
    /// Writes `count` script variations for `brief`, best first.
    pub async fn generate(&self, brief: &Brief, count: u32) -> CallResult<Vec<Script>> {
        let pre = self.pre;
        self.plugin
            .invoke(self.call, async |store| {
                let instance = pre.instantiate_async(&mut *store).await?;
                instance.call_generate(&mut *store, brief, count).await
            })
            .await
    }

    /// Scores how well `script` serves `brief`.
    pub async fn score(&self, brief: &Brief, script: &Script) -> CallResult<ScoreCard> {
        let pre = self.pre;
        self.plugin
            .invoke(self.call, async |store| {
                let instance = pre.instantiate_async(&mut *store).await?;
                instance.call_score(&mut *store, brief, script).await
            })
            .await
    }
}

impl Director<'_> {
    /// Directs `scene` of a script written for `brief`.
    pub async fn direct(&self, scene: &Scene, brief: &Brief) -> CallResult<DirectedScene> {
        let pre = self.pre;
        self.plugin
            .invoke(self.call, async |store| {
                let instance = pre.instantiate_async(&mut *store).await?;
                instance.call_direct(&mut *store, scene, brief).await
            })
            .await
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

//! What happens to a job, as one enum: the executor and the API write
//! [`JobEvent`]s, the store keeps them (its `kind` in the `kind` column, the
//! rest as JSON in `data_json`), and the SSE stream, the metrics and the CLI's
//! progress reporter read them back as the same type.
//!
//! The JSON is the one the event-name strings produced before this enum
//! existed, so stored rows and streamed events keep their shape:
//! `{"kind": "stage-finished", "stage": "render[2]", "ms": 812, "plugin": null}`
//! stored as kind `stage-finished` and data `{"stage": ..., "ms": ..., "plugin": ...}`.
//! Rows are read back as written ([`Event`](crate::Event) keeps kind and
//! data); [`Event::job_event`](crate::Event::job_event) types them, so a row
//! this version does not know is still streamed, not an error.

use serde::{Deserialize, Serialize};

use crate::{JobId, JobState};

/// One thing that happened to a job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum JobEvent {
    /// The job was submitted.
    Created {
        /// Its pipeline.
        pipeline: String,
        /// Its state then (pending), as the API has always recorded it; jobs
        /// created by `kino run` and by scene edits leave it out.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        state: Option<JobState>,
        /// The job this one edits (scene editing), if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        edit_of: Option<JobId>,
    },
    /// A host took over a job that another host left running.
    Resumed {
        /// Stage attempts that were running when that host stopped.
        interrupted_stages: u64,
    },
    /// The job's stages are known; fanned-out stages add nodes later.
    Planned {
        /// How many stages the pipeline has.
        stages: u64,
    },
    /// A stage runs once per element of an earlier stage's output.
    FannedOut {
        /// The stage.
        stage: String,
        /// How many nodes it became (0: it has nothing to do).
        nodes: u64,
    },
    /// A node's output came from the artifact cache.
    StageCached {
        /// `stage` or `stage[i]`.
        stage: String,
    },
    /// A node's attempt started.
    StageStarted {
        /// `stage` or `stage[i]`.
        stage: String,
        /// 1 for the first attempt.
        attempt: u32,
        /// `name@version` of the plugin serving it, for plugin stages.
        plugin: Option<String>,
    },
    /// A node's attempt finished with an output.
    StageFinished {
        /// `stage` or `stage[i]`.
        stage: String,
        /// How long it ran.
        ms: u64,
        /// `name@version` of the plugin serving it, for plugin stages.
        plugin: Option<String>,
        /// Where its device-placed kernels ran (`cuda:0`, `cpu`, or both
        /// with their call counts), for nodes that ran any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        device: Option<String>,
    },
    /// What a node's op wants said: the model it used, a fallback it took
    /// (e.g. espeak-ng where no neural voice is installed).
    StageNote {
        /// `stage` or `stage[i]`.
        stage: String,
        /// The note, in words.
        note: String,
    },
    /// A node's attempt failed.
    StageFailed {
        /// `stage` or `stage[i]`.
        stage: String,
        /// 1 for the first attempt.
        attempt: u32,
        /// Why, in words.
        error: String,
        /// `name@version` of the plugin serving it, for plugin stages.
        plugin: Option<String>,
        /// How a plugin call ended (`plugin_error`, `trap`); none when the
        /// host failed around it.
        plugin_outcome: Option<String>,
    },
    /// The tenant's fallback policy decided what to do about a failure.
    Fallback {
        /// `stage` or `stage[i]`.
        stage: String,
        /// `name@version` of the policy.
        policy: String,
        /// Its decision, in words (`retry after 100 ms`, ...).
        decision: String,
    },
    /// A node was given its degraded output (e.g. the untranslated text).
    StageDegraded {
        /// `stage` or `stage[i]`.
        stage: String,
        /// The policy's reason.
        reason: String,
    },
    /// The job finished with its outputs.
    Completed {
        /// The outputs' names (never host paths: events reach tenants).
        outputs: Vec<String>,
    },
    /// The job failed.
    Failed {
        /// Why, in words.
        error: String,
    },
}

impl JobEvent {
    /// The event's name: the SSE event type and the `kind` column.
    pub fn kind(&self) -> &'static str {
        match self {
            JobEvent::Created { .. } => "created",
            JobEvent::Resumed { .. } => "resumed",
            JobEvent::Planned { .. } => "planned",
            JobEvent::FannedOut { .. } => "fanned-out",
            JobEvent::StageCached { .. } => "stage-cached",
            JobEvent::StageStarted { .. } => "stage-started",
            JobEvent::StageFinished { .. } => "stage-finished",
            JobEvent::StageNote { .. } => "stage-note",
            JobEvent::StageFailed { .. } => "stage-failed",
            JobEvent::Fallback { .. } => "fallback",
            JobEvent::StageDegraded { .. } => "stage-degraded",
            JobEvent::Completed { .. } => "completed",
            JobEvent::Failed { .. } => "failed",
        }
    }

    /// Everything but the kind, as a JSON object: the `data_json` column and
    /// the `data` of a streamed event.
    pub fn data(&self) -> serde_json::Value {
        let mut value = serde_json::to_value(self).unwrap_or_default();
        if let Some(object) = value.as_object_mut() {
            object.remove("kind");
        }
        value
    }

    /// The event stored as `kind` and `data` (the inverse of [`kind`](Self::kind)
    /// and [`data`](Self::data)).
    pub fn from_parts(kind: &str, data: serde_json::Value) -> Result<Self, serde_json::Error> {
        let mut object = match data {
            serde_json::Value::Object(object) => object,
            serde_json::Value::Null => serde_json::Map::new(),
            other => {
                return Err(serde::de::Error::custom(format!(
                    "event data is not an object: {other}"
                )));
            }
        };
        object.insert("kind".to_owned(), kind.into());
        serde_json::from_value(serde_json::Value::Object(object))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn events_keep_the_shape_of_the_stored_json() {
        let finished = JobEvent::StageFinished {
            stage: "render[2]".into(),
            ms: 812,
            plugin: None,
            device: None,
        };
        assert_eq!(finished.kind(), "stage-finished");
        assert_eq!(
            finished.data(),
            json!({ "stage": "render[2]", "ms": 812, "plugin": null })
        );
        // A node's kernels' device, when it has one, is said too, and
        // events stored before there was one still read.
        let on_gpu = JobEvent::StageFinished {
            stage: "render[2]".into(),
            ms: 812,
            plugin: None,
            device: Some("cuda:0".into()),
        };
        assert_eq!(on_gpu.data()["device"], "cuda:0");
        assert_eq!(
            JobEvent::from_parts("stage-finished", finished.data()).unwrap(),
            finished
        );
        let failed = JobEvent::StageFailed {
            stage: "translate".into(),
            attempt: 2,
            error: "boom".into(),
            plugin: Some("kino-translator-phrasebook@0.1.0".into()),
            plugin_outcome: Some("trap".into()),
        };
        assert_eq!(
            failed.data(),
            json!({
                "stage": "translate", "attempt": 2, "error": "boom",
                "plugin": "kino-translator-phrasebook@0.1.0", "plugin_outcome": "trap",
            })
        );
        let fanned = JobEvent::FannedOut {
            stage: "shots".into(),
            nodes: 5,
        };
        assert_eq!(fanned.kind(), "fanned-out");
        for event in [finished, failed, fanned] {
            assert_eq!(
                JobEvent::from_parts(event.kind(), event.data()).unwrap(),
                event
            );
        }
    }

    #[test]
    fn every_kind_round_trips_through_its_parts() {
        let events = [
            JobEvent::Created {
                pipeline: "dub".into(),
                state: Some(JobState::Pending),
                edit_of: None,
            },
            JobEvent::Created {
                pipeline: "ad-creative".into(),
                state: None,
                edit_of: Some("0123456789abcdef0123456789abcdef".parse().unwrap()),
            },
            JobEvent::Resumed {
                interrupted_stages: 1,
            },
            JobEvent::Planned { stages: 7 },
            JobEvent::StageCached {
                stage: "plan".into(),
            },
            JobEvent::StageStarted {
                stage: "plan".into(),
                attempt: 1,
                plugin: None,
            },
            JobEvent::Fallback {
                stage: "translate".into(),
                policy: "kino-fallback-backoff@0.1.0".into(),
                decision: "retry after 100 ms".into(),
            },
            JobEvent::StageDegraded {
                stage: "translate".into(),
                reason: "down".into(),
            },
            JobEvent::Completed {
                outputs: vec!["dubbed.mp4".into()],
            },
            JobEvent::Failed { error: "no".into() },
        ];
        for event in events {
            let data = event.data();
            assert!(data.get("kind").is_none(), "{data}");
            assert_eq!(JobEvent::from_parts(event.kind(), data).unwrap(), event);
            // The tag serde writes is the kind the store and SSE use.
            assert_eq!(serde_json::to_value(&event).unwrap()["kind"], event.kind());
        }
    }

    #[test]
    fn created_events_keep_each_writers_shape() {
        // `kino run` wrote only the pipeline; the API adds the state; an edit
        // names the job it edits. Each reads back and writes out as it was.
        for data in [
            json!({ "pipeline": "caption" }),
            json!({ "pipeline": "dub", "state": "pending" }),
            json!({ "pipeline": "ad-creative", "edit_of": "0123456789abcdef0123456789abcdef" }),
        ] {
            let event = JobEvent::from_parts("created", data.clone()).unwrap();
            assert_eq!(event.data(), data);
        }
    }

    #[test]
    fn unknown_kinds_and_bad_data_are_errors() {
        assert!(JobEvent::from_parts("exploded", json!({})).is_err());
        assert!(JobEvent::from_parts("planned", json!({ "stages": "many" })).is_err());
        assert!(JobEvent::from_parts("planned", json!([1, 2])).is_err());
    }
}

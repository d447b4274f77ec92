//! The job/metadata store on both engines (SQLite in memory and on disk, and
//! PostgreSQL when it is installed: see `harness.rs`): tenant isolation, job
//! state machine, events, bindings, secrets, API keys, and the node queue
//! (`nodes.rs`).

mod harness;
mod nodes;

use anyhow::Context as _;
use harness::on_both_engines;
use kino_store::{
    JobEvent, JobState, NewArtifact, NewBinding, NewPluginVersion, StageOutcome, StageState, Store,
    StoreError,
};
use serde_json::json;
use sqlx::ConnectOptions as _;

on_both_engines!(
    store_applies_migrations,
    tenant_names_are_unique,
    api_keys_are_issued_looked_up_and_revoked,
    a_tenant_cannot_see_another_tenants_jobs,
    list_jobs_is_newest_first_and_limited,
    job_state_transitions,
    stages_record_start_and_finish,
    artifacts_by_key,
    events_are_ordered_and_resumable,
    bindings_crud_and_bindings_using,
    plugin_versions_are_recorded_and_yanked,
    secrets_are_write_only_but_readable_by_the_host,
    unknown_tenants_are_refused_by_foreign_keys,
    one_host_at_a_time_holds_a_job,
    stage_workers_and_interruptions,
    job_priority_and_tenant_quota_are_kept,
    remote_jobs_keep_their_tickets,
    voices_are_kept_per_tenant,
);
on_both_engines!(concurrent: only_one_executor_starts_a_job);

pub(crate) fn store_error(err: &anyhow::Error) -> Option<&StoreError> {
    err.downcast_ref::<StoreError>()
}

/// The hash of the pipeline spec a job is submitted with, as the host records it.
pub(crate) const SPEC_SHA256: &str =
    "5f2b4a1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a";

async fn store_applies_migrations(store: Store) -> anyhow::Result<()> {
    let tenant = store.create_tenant("acme").await?;
    assert_eq!(store.get_tenant(&tenant.id).await?, Some(tenant.clone()));
    assert_eq!(store.tenant_by_name("acme").await?, Some(tenant));
    assert_eq!(store.tenant_by_name("nobody").await?, None);
    Ok(())
}

#[tokio::test]
async fn in_memory_stores_are_separate() -> anyhow::Result<()> {
    let store = Store::in_memory().await?;
    assert_eq!(store.engine(), "sqlite");
    store.create_tenant("acme").await?;
    let other = Store::in_memory().await?;
    assert_eq!(other.tenant_by_name("acme").await?, None);
    Ok(())
}

async fn tenant_names_are_unique(store: Store) -> anyhow::Result<()> {
    store.create_tenant("acme").await?;
    let err = store
        .create_tenant("acme")
        .await
        .err()
        .context("a second tenant with the same name was created")?;
    assert!(matches!(
        store_error(&err),
        Some(StoreError::TenantNameTaken { name }) if name == "acme"
    ));
    assert!(store.create_tenant("  ").await.is_err());
    Ok(())
}

async fn api_keys_are_issued_looked_up_and_revoked(store: Store) -> anyhow::Result<()> {
    let acme = store.create_tenant("acme").await?;
    let globex = store.create_tenant("globex").await?;

    let issued = store.issue_api_key(&acme.id).await?;
    assert!(issued.key.starts_with("kino_"));
    assert_eq!(issued.key.len(), "kino_".len() + 64);
    assert!(issued.key.starts_with(&issued.record.prefix));
    assert!(
        !format!("{issued:?}").contains(&issued.key),
        "Debug leaks the key"
    );

    let second = store.issue_api_key(&acme.id).await?;
    assert_ne!(second.key, issued.key);

    assert_eq!(
        store.tenant_for_api_key(&issued.key).await?,
        Some(acme.clone())
    );
    assert_eq!(
        store.tenant_for_api_key(&second.key).await?,
        Some(acme.clone())
    );
    assert_eq!(store.tenant_for_api_key("kino_nope").await?, None);
    assert_eq!(store.tenant_for_api_key("").await?, None);

    // Another tenant cannot revoke acme's key.
    assert!(!store.revoke_api_key(&globex.id, &issued.record.id).await?);
    assert_eq!(
        store.tenant_for_api_key(&issued.key).await?,
        Some(acme.clone())
    );

    assert!(store.revoke_api_key(&acme.id, &issued.record.id).await?);
    assert_eq!(
        store.tenant_for_api_key(&issued.key).await?,
        None,
        "revoked key accepted"
    );
    assert!(!store.revoke_api_key(&acme.id, &issued.record.id).await?);
    // The other key still works.
    assert_eq!(
        store.tenant_for_api_key(&second.key).await?,
        Some(acme.clone())
    );

    let keys = store.list_api_keys(&acme.id).await?;
    assert_eq!(keys.len(), 2);
    assert!(
        keys.iter()
            .any(|k| k.id == issued.record.id && k.revoked_at.is_some())
    );
    assert!(store.list_api_keys(&globex.id).await?.is_empty());
    Ok(())
}

async fn a_tenant_cannot_see_another_tenants_jobs(store: Store) -> anyhow::Result<()> {
    let a = store.create_tenant("a").await?;
    let b = store.create_tenant("b").await?;

    let inputs = json!({ "video": "sha256:00ff" });
    let job_a = store.create_job(&a.id, "dub", SPEC_SHA256, &inputs).await?;
    let job_b = store
        .create_job(&b.id, "caption", SPEC_SHA256, &json!({}))
        .await?;
    assert_eq!(job_a.state, JobState::Pending);
    assert_eq!(job_a.inputs, inputs);
    assert_eq!(job_a.pipeline_sha256.as_deref(), Some(SPEC_SHA256));

    assert_eq!(store.get_job(&a.id, &job_a.id).await?, Some(job_a.clone()));
    assert_eq!(store.get_job(&b.id, &job_a.id).await?, None);
    assert_eq!(store.get_job(&a.id, &job_b.id).await?, None);

    let listed = store.list_jobs(&a.id, 100).await?;
    assert_eq!(listed, vec![job_a.clone()]);
    let listed = store.list_jobs(&b.id, 100).await?;
    assert_eq!(listed, vec![job_b.clone()]);

    // Nor change them, nor read their events or stages.
    let err = store
        .set_job_state(&b.id, &job_a.id, JobState::Running, None)
        .await
        .err()
        .context("tenant b moved tenant a's job")?;
    assert!(matches!(
        store_error(&err),
        Some(StoreError::NotFound { what: "job", .. })
    ));
    store
        .append_event(&job_a.id, &JobEvent::Planned { stages: 1 })
        .await?;
    assert!(
        store
            .events_since(&b.id, &job_a.id, 0, 100)
            .await?
            .is_empty()
    );
    assert_eq!(store.events_since(&a.id, &job_a.id, 0, 100).await?.len(), 1);
    store
        .record_stage_start(&job_a.id, "translate", None, 1)
        .await?;
    assert!(store.list_stages(&b.id, &job_a.id).await?.is_empty());
    assert_eq!(store.list_stages(&a.id, &job_a.id).await?.len(), 1);
    Ok(())
}

async fn list_jobs_is_newest_first_and_limited(store: Store) -> anyhow::Result<()> {
    let t = store.create_tenant("t").await?;
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(
            store
                .create_job(&t.id, "dub", SPEC_SHA256, &json!({}))
                .await?
                .id,
        );
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    let listed = store.list_jobs(&t.id, 3).await?;
    let listed: Vec<_> = listed.into_iter().map(|j| j.id).collect();
    assert_eq!(listed, vec![ids[4].clone(), ids[3].clone(), ids[2].clone()]);
    Ok(())
}

async fn job_state_transitions(store: Store) -> anyhow::Result<()> {
    let t = store.create_tenant("t").await?;

    let job = store
        .create_job(&t.id, "dub", SPEC_SHA256, &json!({}))
        .await?;
    // pending -> completed skips running.
    let err = store
        .set_job_state(&t.id, &job.id, JobState::Completed, None)
        .await
        .err()
        .context("pending -> completed was allowed")?;
    assert!(matches!(
        store_error(&err),
        Some(StoreError::IllegalJobTransition {
            from: JobState::Pending,
            to: JobState::Completed,
            ..
        })
    ));

    let running = store
        .set_job_state(&t.id, &job.id, JobState::Running, None)
        .await?;
    assert_eq!(running.state, JobState::Running);
    // Only one executor can start it.
    assert!(
        store
            .set_job_state(&t.id, &job.id, JobState::Running, None)
            .await
            .is_err()
    );
    let done = store
        .set_job_state(&t.id, &job.id, JobState::Completed, Some("ignored"))
        .await?;
    assert_eq!(done.state, JobState::Completed);
    assert_eq!(done.error, None);
    // Terminal states stay terminal.
    for to in [JobState::Pending, JobState::Running, JobState::Failed] {
        let err = store
            .set_job_state(&t.id, &job.id, to, None)
            .await
            .err()
            .with_context(|| format!("completed -> {to} was allowed"))?;
        assert!(matches!(
            store_error(&err),
            Some(StoreError::IllegalJobTransition {
                from: JobState::Completed,
                ..
            })
        ));
    }

    let job = store
        .create_job(&t.id, "dub", SPEC_SHA256, &json!({}))
        .await?;
    store
        .set_job_state(&t.id, &job.id, JobState::Running, None)
        .await?;
    let failed = store
        .set_job_state(
            &t.id,
            &job.id,
            JobState::Failed,
            Some("translator timed out"),
        )
        .await?;
    assert_eq!(failed.state, JobState::Failed);
    assert_eq!(failed.error.as_deref(), Some("translator timed out"));
    assert_eq!(store.get_job(&t.id, &job.id).await?, Some(failed));
    assert!(
        store
            .set_job_state(&t.id, &job.id, JobState::Running, None)
            .await
            .is_err()
    );

    // A pending job may be refused before it runs.
    let job = store
        .create_job(&t.id, "dub", SPEC_SHA256, &json!({}))
        .await?;
    let refused = store
        .set_job_state(
            &t.id,
            &job.id,
            JobState::Failed,
            Some("no binding for slot director"),
        )
        .await?;
    assert_eq!(refused.state, JobState::Failed);
    Ok(())
}

async fn stages_record_start_and_finish(store: Store) -> anyhow::Result<()> {
    let t = store.create_tenant("t").await?;
    let job = store
        .create_job(&t.id, "dub", SPEC_SHA256, &json!({}))
        .await?;

    let first = store
        .record_stage_start(&job.id, "translate", Some("kino-translate-deepl@1.0.0"), 1)
        .await?;
    assert_eq!(first.state, StageState::Running);
    let failed = store
        .record_stage_finish(
            &first.id,
            &StageOutcome::Failed {
                error: "429".into(),
            },
        )
        .await?;
    assert_eq!(failed.state, StageState::Failed);
    assert_eq!(failed.error.as_deref(), Some("429"));
    assert!(failed.finished_at.is_some());
    let err = store
        .record_stage_finish(
            &first.id,
            &StageOutcome::Completed {
                output_artifact: None,
            },
        )
        .await
        .err()
        .context("a failed stage was finished again")?;
    assert!(matches!(
        store_error(&err),
        Some(StoreError::StageNotRunning { .. })
    ));

    let second = store
        .record_stage_start(&job.id, "translate", Some("kino-translate-deepl@1.0.0"), 2)
        .await?;
    let artifact = store
        .put_artifact(&NewArtifact {
            key: "translate/kino-translate-deepl@1.0.0/cfg/in".into(),
            hash: "ab".repeat(32),
            path: "/var/lib/kino/artifacts/ab".into(),
            size: 42,
        })
        .await?;
    let done = store
        .record_stage_finish(
            &second.id,
            &StageOutcome::Completed {
                output_artifact: Some(artifact.key.clone()),
            },
        )
        .await?;
    assert_eq!(done.state, StageState::Completed);
    assert_eq!(done.output_artifact.as_deref(), Some(artifact.key.as_str()));

    // The same attempt of the same stage cannot be started twice.
    assert!(
        store
            .record_stage_start(&job.id, "translate", None, 2)
            .await
            .is_err()
    );

    let stages = store.list_stages(&t.id, &job.id).await?;
    assert_eq!(stages.len(), 2);
    assert_eq!(
        stages.iter().map(|s| s.attempt).collect::<Vec<_>>(),
        vec![1, 2]
    );
    Ok(())
}

async fn artifacts_by_key(store: Store) -> anyhow::Result<()> {
    assert_eq!(store.artifact_by_key("k").await?, None);
    let new = NewArtifact {
        key: "k".into(),
        hash: "h".into(),
        path: "/a".into(),
        size: 7,
    };
    let put = store.put_artifact(&new).await?;
    assert_eq!(store.artifact_by_key("k").await?, Some(put));
    // Another key may name the same content.
    let same_content = NewArtifact {
        key: "k2".into(),
        ..new.clone()
    };
    store.put_artifact(&same_content).await?;
    // Re-recording a key replaces it.
    let moved = NewArtifact {
        path: "/b".into(),
        ..new
    };
    store.put_artifact(&moved).await?;
    let got = store
        .artifact_by_key("k")
        .await?
        .context("artifact k gone")?;
    assert_eq!(got.path, "/b");
    assert_eq!(got.size, 7);
    Ok(())
}

async fn events_are_ordered_and_resumable(store: Store) -> anyhow::Result<()> {
    let t = store.create_tenant("t").await?;
    let job = store
        .create_job(&t.id, "dub", SPEC_SHA256, &json!({}))
        .await?;
    let other = store
        .create_job(&t.id, "dub", SPEC_SHA256, &json!({}))
        .await?;

    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(
            store
                .append_event(&job.id, &JobEvent::Planned { stages: i })
                .await?,
        );
        store
            .append_event(
                &other.id,
                &JobEvent::Failed {
                    error: "noise".into(),
                },
            )
            .await?;
    }
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]),
        "event ids not increasing: {ids:?}"
    );

    let all = store.events_since(&t.id, &job.id, 0, 100).await?;
    assert_eq!(all.len(), 5);
    assert!(
        all.iter()
            .all(|e| e.job_id == job.id && e.kind == "planned")
    );
    let steps: Vec<_> = all.iter().map(|e| e.data["stages"].clone()).collect();
    // Each row reads back as the typed event that wrote it.
    for (i, event) in all.iter().enumerate() {
        assert_eq!(event.job_event()?, JobEvent::Planned { stages: i as u64 });
    }
    assert_eq!(steps, (0..5).map(|i| json!(i)).collect::<Vec<_>>());

    let rest = store.events_since(&t.id, &job.id, ids[2], 100).await?;
    assert_eq!(
        rest.iter().map(|e| e.id).collect::<Vec<_>>(),
        ids[3..].to_vec()
    );
    let page = store.events_since(&t.id, &job.id, 0, 2).await?;
    assert_eq!(
        page.iter().map(|e| e.id).collect::<Vec<_>>(),
        ids[..2].to_vec()
    );
    assert!(
        store
            .events_since(&t.id, &job.id, ids[4], 100)
            .await?
            .is_empty()
    );
    Ok(())
}

fn binding(slot: &str, plugin: &str, requirement: &str) -> NewBinding {
    NewBinding {
        slot: slot.into(),
        plugin_name: plugin.into(),
        requirement: requirement.into(),
        config: json!({ "strength": 0.5 }),
        grants: json!({ "hosts": ["api.example.com"] }),
    }
}

async fn bindings_crud_and_bindings_using(store: Store) -> anyhow::Result<()> {
    let a = store.create_tenant("a").await?;
    let b = store.create_tenant("b").await?;

    let set = store
        .set_binding(&a.id, &binding("director", "noir", "^1.2"))
        .await?;
    assert_eq!(
        store.get_binding(&a.id, "director").await?,
        Some(set.clone())
    );
    assert_eq!(store.get_binding(&b.id, "director").await?, None);

    // Replacing a slot's binding.
    let replaced = store
        .set_binding(&a.id, &binding("director", "noir", "=1.3.0"))
        .await?;
    assert_eq!(store.get_binding(&a.id, "director").await?, Some(replaced));

    store
        .set_binding(&a.id, &binding("grader", "teal-orange", "^2"))
        .await?;
    store
        .set_binding(&b.id, &binding("director", "noir", "^1"))
        .await?;
    let slots: Vec<_> = store
        .list_bindings(&a.id)
        .await?
        .into_iter()
        .map(|b| b.slot)
        .collect();
    assert_eq!(slots, vec!["director", "grader"]);
    assert_eq!(store.list_bindings(&b.id).await?.len(), 1);

    let users = |v: &'static str| {
        let store = store.clone();
        async move {
            anyhow::Ok(
                store
                    .bindings_using("noir", v)
                    .await?
                    .into_iter()
                    .map(|b| b.tenant_id)
                    .collect::<Vec<_>>(),
            )
        }
    };
    let mut both = vec![a.id.clone(), b.id.clone()];
    both.sort();
    assert_eq!(users("1.3.0").await?, both);
    assert_eq!(users("1.4.0").await?, vec![b.id.clone()]);
    assert!(users("2.0.0").await?.is_empty());

    // Removing a version still bound is refused; an unbound one goes.
    for version in ["1.3.0", "2.0.0"] {
        store
            .upsert_plugin_version(&NewPluginVersion {
                name: "noir".into(),
                version: version.into(),
                world: "director-style".into(),
                component_sha256: "00".repeat(32),
                package_digest: "11".repeat(32),
                signer: None,
            })
            .await?;
    }
    let err = store
        .remove_plugin_version("noir", "1.3.0")
        .await
        .err()
        .context("a bound version was removed")?;
    assert!(matches!(
        store_error(&err),
        Some(StoreError::PluginVersionInUse { count: 2, .. })
    ));
    assert!(store.remove_plugin_version("noir", "2.0.0").await?);

    // Tenant b cannot delete a's binding.
    assert!(!store.delete_binding(&b.id, "grader").await?);
    assert!(store.delete_binding(&a.id, "grader").await?);
    assert!(!store.delete_binding(&a.id, "grader").await?);
    assert_eq!(store.get_binding(&a.id, "grader").await?, None);
    Ok(())
}

async fn plugin_versions_are_recorded_and_yanked(store: Store) -> anyhow::Result<()> {
    let mut new = NewPluginVersion {
        name: "noir".into(),
        version: "1.0.0".into(),
        world: "director-style".into(),
        component_sha256: "00".repeat(32),
        package_digest: "11".repeat(32),
        signer: Some("ops@example.com".into()),
    };
    let first = store.upsert_plugin_version(&new).await?;
    assert!(first.enabled && !first.yanked);
    assert!(store.set_yanked("noir", "1.0.0", true).await?);
    assert!(!store.set_yanked("noir", "9.9.9", true).await?);

    new.package_digest = "22".repeat(32);
    let again = store.upsert_plugin_version(&new).await?;
    assert_eq!(again.package_digest, "22".repeat(32));
    assert!(again.yanked, "a reinstall unyanked the version");
    assert_eq!(again.installed_at, first.installed_at);

    new.version = "1.1.0".into();
    store.upsert_plugin_version(&new).await?;
    new.name = "other".into();
    store.upsert_plugin_version(&new).await?;
    assert_eq!(store.list_plugin_versions(Some("noir")).await?.len(), 2);
    assert_eq!(store.list_plugin_versions(None).await?.len(), 3);
    assert!(store.set_enabled("noir", "1.1.0", false).await?);
    let v = store
        .plugin_version("noir", "1.1.0")
        .await?
        .context("noir@1.1.0 gone")?;
    assert!(!v.enabled);
    Ok(())
}

async fn secrets_are_write_only_but_readable_by_the_host(store: Store) -> anyhow::Result<()> {
    let a = store.create_tenant("a").await?;
    let b = store.create_tenant("b").await?;

    store.set_secret(&a.id, "deepl", "s3cret").await?;
    let value = store
        .secret_value(&a.id, "deepl")
        .await?
        .context("secret gone")?;
    assert_eq!(value.expose(), "s3cret");
    assert!(
        !format!("{value:?}").contains("s3cret"),
        "Debug leaks the secret"
    );
    assert_eq!(store.secret_value(&b.id, "deepl").await?, None);

    store.set_secret(&a.id, "deepl", "rotated").await?;
    let value = store
        .secret_value(&a.id, "deepl")
        .await?
        .context("secret gone")?;
    assert_eq!(value.expose(), "rotated");
    assert_eq!(store.secret_names(&a.id).await?, vec!["deepl"]);
    assert!(store.secret_names(&b.id).await?.is_empty());

    assert!(store.delete_secret(&a.id, "deepl").await?);
    assert_eq!(store.secret_value(&a.id, "deepl").await?, None);
    Ok(())
}

async fn unknown_tenants_are_refused_by_foreign_keys(store: Store) -> anyhow::Result<()> {
    let ghost: kino_store::TenantId = "0123456789abcdef0123456789abcdef".parse()?;
    assert!(
        store
            .create_job(&ghost, "dub", SPEC_SHA256, &json!({}))
            .await
            .is_err()
    );
    assert!(store.set_secret(&ghost, "x", "y").await.is_err());
    assert!(store.issue_api_key(&ghost).await.is_err());
    Ok(())
}

#[tokio::test]
async fn on_disk_store_persists_and_uses_wal() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    // The directory is created too.
    let path = dir.path().join("nested").join("kino.db");

    let store = Store::open_sqlite(&path).await?;
    let tenant = store.create_tenant("acme").await?;
    let key = store.issue_api_key(&tenant.id).await?;
    let job = store
        .create_job(
            &tenant.id,
            "dub",
            SPEC_SHA256,
            &json!({ "in": "sha256:aa" }),
        )
        .await?;
    store
        .set_job_state(&tenant.id, &job.id, JobState::Running, None)
        .await?;
    let event = store
        .append_event(&job.id, &JobEvent::Planned { stages: 50 })
        .await?;
    store.close().await;
    assert!(path.exists());

    // Reopening (and migrating again) keeps everything.
    let store = Store::open_sqlite(&path).await?;
    assert_eq!(store.tenant_by_name("acme").await?, Some(tenant.clone()));
    assert_eq!(
        store.tenant_for_api_key(&key.key).await?,
        Some(tenant.clone())
    );
    let reread = store
        .get_job(&tenant.id, &job.id)
        .await?
        .context("job lost")?;
    assert_eq!(reread.state, JobState::Running);
    let events = store.events_since(&tenant.id, &job.id, 0, 10).await?;
    assert_eq!(events.iter().map(|e| e.id).collect::<Vec<_>>(), vec![event]);
    // New events keep increasing after a reopen.
    let next = store
        .append_event(&job.id, &JobEvent::Planned { stages: 60 })
        .await?;
    assert!(next > event);
    store.close().await;

    // WAL is a property of the file: a plain connection sees it.
    let mut conn = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(&path)
        .connect()
        .await?;
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&mut conn)
        .await?;
    assert_eq!(mode, "wal");
    Ok(())
}

async fn only_one_executor_starts_a_job(store: Store) -> anyhow::Result<()> {
    let t = store.create_tenant("t").await?;
    let job = store
        .create_job(&t.id, "dub", SPEC_SHA256, &json!({}))
        .await?;

    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (store, tenant, job) = (store.clone(), t.id.clone(), job.id.clone());
            tokio::spawn(async move {
                store
                    .set_job_state(&tenant, &job, JobState::Running, None)
                    .await
                    .is_ok()
            })
        })
        .collect();
    let mut started = 0;
    for task in tasks {
        started += usize::from(task.await?);
    }
    assert_eq!(started, 1, "{started} executors started the same job");
    Ok(())
}

async fn one_host_at_a_time_holds_a_job(store: Store) -> anyhow::Result<()> {
    let tenant = store.create_tenant("acme").await?;
    let job = store
        .create_job(&tenant.id, "dub", SPEC_SHA256, &json!({}))
        .await?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_millis() as i64;

    let (claimed, was) = store
        .claim_job(&job.id, "a:1:x", now - 30_000, None)
        .await?
        .context("a pending job is claimed")?;
    assert_eq!((claimed.state, was), (JobState::Running, JobState::Pending));
    // Held and fresh: another host cannot take it, nor the same job twice.
    assert!(
        store
            .claim_job(&job.id, "b:2:y", now - 30_000, None)
            .await?
            .is_none()
    );
    assert!(store.heartbeat(&job.id, "a:1:x").await?);
    assert!(!store.heartbeat(&job.id, "b:2:y").await?, "not b's lease");
    // A known-dead owner, or a lease that lapsed, lets another host resume it.
    let (_, was) = store
        .claim_job(&job.id, "b:2:y", now - 30_000, Some("a:1:x"))
        .await?
        .context("the dead owner's job is resumed")?;
    assert_eq!(was, JobState::Running);
    assert!(
        store
            .claim_job(&job.id, "c:3:z", now - 30_000, None)
            .await?
            .is_none()
    );
    let later = now + 60_000;
    assert!(
        store
            .claim_job(&job.id, "c:3:z", later, None)
            .await?
            .is_some(),
        "lapsed lease"
    );
    assert_eq!(
        store.job_owner(&job.id).await?.map(|(o, _)| o).as_deref(),
        Some("c:3:z")
    );
    // A host that leaves gives its jobs up: another takes them at once.
    assert_eq!(store.release_jobs("c:3:z").await?, 1);
    assert!(!store.heartbeat(&job.id, "c:3:z").await?, "given up");
    let (_, was) = store
        .claim_job(&job.id, "e:5:v", now - 30_000, None)
        .await?
        .context("a given-up job is claimed before its lease would lapse")?;
    assert_eq!(was, JobState::Running);
    assert_eq!(store.release_jobs("c:3:z").await?, 0);
    // An ended job is nobody's to claim.
    store
        .set_job_state(&tenant.id, &job.id, JobState::Completed, None)
        .await?;
    assert!(
        store
            .claim_job(&job.id, "d:4:w", later, None)
            .await?
            .is_none()
    );
    Ok(())
}

async fn stage_workers_and_interruptions(store: Store) -> anyhow::Result<()> {
    let t = store.create_tenant("t").await?;
    let job = store
        .create_job(&t.id, "dub", SPEC_SHA256, &json!({}))
        .await?;
    let local = store.record_stage_start(&job.id, "speak", None, 1).await?;
    assert_eq!(local.worker, None);
    let remote = store
        .record_stage_start_by(&job.id, "speak", Some("tts@1.0.0"), 2, "w1")
        .await?;
    assert_eq!(remote.worker.as_deref(), Some("w1"));

    assert!(
        store
            .interrupt_stage(&remote.id, "interrupted: test")
            .await?
    );
    assert!(
        !store.interrupt_stage(&remote.id, "again").await?,
        "a failed stage was interrupted again"
    );
    let stages = store.list_stages(&t.id, &job.id).await?;
    let remote = stages
        .iter()
        .find(|s| s.id == remote.id)
        .context("stage gone")?;
    assert_eq!(remote.state, StageState::Failed);
    assert_eq!(remote.error.as_deref(), Some("interrupted: test"));
    assert_eq!(remote.worker.as_deref(), Some("w1"));
    assert!(remote.finished_at.is_some());
    Ok(())
}

async fn job_priority_and_tenant_quota_are_kept(store: Store) -> anyhow::Result<()> {
    let a = store.create_tenant("a").await?;
    let b = store.create_tenant("b").await?;
    assert_eq!(a.node_quota, None);
    let job = store
        .create_job(&a.id, "dub", SPEC_SHA256, &json!({}))
        .await?;
    assert_eq!(job.priority, 0);
    store.set_job_priority(&a.id, &job.id, -7).await?;
    let job = store.get_job(&a.id, &job.id).await?.context("job gone")?;
    assert_eq!(job.priority, -7);
    // Another tenant's job is not found.
    let err = store
        .set_job_priority(&b.id, &job.id, 9)
        .await
        .err()
        .context("tenant b set the priority of a's job")?;
    assert!(matches!(
        store_error(&err),
        Some(StoreError::NotFound { what: "job", .. })
    ));

    store.set_tenant_node_quota(&a.id, Some(3)).await?;
    let read = store.get_tenant(&a.id).await?.context("tenant gone")?;
    assert_eq!(read.node_quota, Some(3));
    store.set_tenant_node_quota(&a.id, None).await?;
    assert_eq!(
        store.tenant_by_name("a").await?.context("gone")?.node_quota,
        None
    );
    let ghost: kino_store::TenantId = "0123456789abcdef0123456789abcdef".parse()?;
    assert!(store.set_tenant_node_quota(&ghost, Some(1)).await.is_err());
    Ok(())
}

#[tokio::test]
async fn open_picks_the_engine_from_its_argument() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("kino.db");
    let store = Store::open(path.to_str().context("path not UTF-8")?).await?;
    assert_eq!(store.engine(), "sqlite");
    store.close().await;
    assert!(path.exists());
    let Some(url) = harness::postgres_database("open_picks_the_engine")? else {
        return Ok(());
    };
    let store = Store::open(&url).await?;
    assert_eq!(store.engine(), "postgres");
    let alias = url.replacen("postgres://", "postgresql://", 1);
    assert_eq!(Store::open(&alias).await?.engine(), "postgres");
    Ok(())
}

/// Table name -> column names, and the names of the indexes the migrations
/// create, for one engine.
type Schema = (
    std::collections::BTreeMap<String, std::collections::BTreeSet<String>>,
    std::collections::BTreeSet<String>,
);

#[tokio::test]
async fn both_engines_migrate_to_the_same_tables_and_columns() -> anyhow::Result<()> {
    let Some(url) = harness::postgres_database("same_schema")? else {
        return Ok(());
    };
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("kino.db");
    Store::open_sqlite(&path).await?.close().await;
    let mut conn = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(&path)
        .connect()
        .await?;
    let columns: Vec<(String, String)> = sqlx::query_as(
        "SELECT m.name, p.name FROM sqlite_master m, pragma_table_info(m.name) p \
         WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name <> '_sqlx_migrations'",
    )
    .fetch_all(&mut conn)
    .await?;
    let indexes: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND name NOT LIKE 'sqlite_%'",
    )
    .fetch_all(&mut conn)
    .await?;
    let sqlite = schema(columns, indexes);

    Store::open_postgres(&url).await?.close().await;
    let mut conn = url
        .parse::<sqlx::postgres::PgConnectOptions>()?
        .connect()
        .await?;
    let columns: Vec<(String, String)> = sqlx::query_as(
        "SELECT table_name::TEXT, column_name::TEXT FROM information_schema.columns \
         WHERE table_schema = 'public' AND table_name <> '_sqlx_migrations'",
    )
    .fetch_all(&mut conn)
    .await?;
    // Primary keys and UNIQUE constraints get indexes of their own names in
    // PostgreSQL (`_pkey`, `_key`) and unnamed ones in SQLite.
    let indexes: Vec<String> = sqlx::query_scalar(
        "SELECT indexname::TEXT FROM pg_indexes WHERE schemaname = 'public' \
         AND indexname NOT LIKE '%\\_pkey' AND indexname NOT LIKE '%\\_key'",
    )
    .fetch_all(&mut conn)
    .await?;
    let postgres = schema(columns, indexes);

    assert!(sqlite.0.contains_key("nodes") && sqlite.0.contains_key("workers"));
    assert_eq!(sqlite, postgres);
    Ok(())
}

fn schema(columns: Vec<(String, String)>, indexes: Vec<String>) -> Schema {
    let mut tables = std::collections::BTreeMap::<_, std::collections::BTreeSet<_>>::new();
    for (table, column) in columns {
        tables.entry(table).or_default().insert(column);
    }
    (tables, indexes.into_iter().collect())
}

async fn remote_jobs_keep_their_tickets(store: Store) -> anyhow::Result<()> {
    assert_eq!(store.remote_job("clip:abc").await?, None);
    store
        .record_remote_job("clip:abc", "kino-clips-replicate@0.1.0", "pred-1")
        .await?;
    store.remote_job_checked("clip:abc").await?;
    store.remote_job_checked("clip:abc").await?;
    let job = store.remote_job("clip:abc").await?.context("recorded")?;
    assert_eq!(job.ticket, "pred-1");
    assert_eq!(job.plugin, "kino-clips-replicate@0.1.0");
    assert_eq!(job.state, kino_store::RemoteState::Pending);
    assert_eq!(job.checks, 2);
    assert!(job.updated_at >= job.created_at);

    store
        .finish_remote_job("clip:abc", Some("the backend said no"))
        .await?;
    let failed = store.remote_job("clip:abc").await?.context("still there")?;
    assert_eq!(failed.state, kino_store::RemoteState::Failed);
    assert_eq!(failed.error.as_deref(), Some("the backend said no"));
    // Checks after the end count nothing.
    store.remote_job_checked("clip:abc").await?;
    assert_eq!(
        store.remote_job("clip:abc").await?.context("there")?.checks,
        2
    );

    // Starting the work again replaces the failed job.
    store
        .record_remote_job("clip:abc", "kino-clips-replicate@0.2.0", "pred-2")
        .await?;
    let again = store.remote_job("clip:abc").await?.context("recorded")?;
    assert_eq!(
        (
            again.ticket.as_str(),
            again.state,
            again.checks,
            again.error
        ),
        ("pred-2", kino_store::RemoteState::Pending, 0, None)
    );
    store.finish_remote_job("clip:abc", None).await?;
    assert_eq!(
        store.remote_job("clip:abc").await?.context("there")?.state,
        kino_store::RemoteState::Done
    );
    assert_eq!(store.remote_job("clip:other").await?, None);
    Ok(())
}

async fn voices_are_kept_per_tenant(store: Store) -> anyhow::Result<()> {
    let a = store.create_tenant("a").await?;
    let b = store.create_tenant("b").await?;
    let kept = store
        .add_voice(&a.id, "ana", "kino-speech-elevenlabs", "v-123")
        .await?;
    assert_eq!(
        (
            kept.name.as_str(),
            kept.plugin.as_str(),
            kept.voice_id.as_str()
        ),
        ("ana", "kino-speech-elevenlabs", "v-123")
    );
    assert_eq!(store.voice(&a.id, "ana").await?, Some(kept.clone()));
    // Names are the tenant's own: another tenant may use it, nobody sees
    // another's voices, and a name is taken once per tenant.
    assert_eq!(store.voice(&b.id, "ana").await?, None);
    let theirs = store.add_voice(&b.id, "ana", "other", "v-9").await?;
    assert_eq!(store.list_voices(&b.id).await?, vec![theirs]);
    let err = store
        .add_voice(&a.id, "ana", "kino-speech-elevenlabs", "v-456")
        .await
        .expect_err("taken");
    assert_eq!(
        store_error(&err),
        Some(&StoreError::VoiceNameTaken { name: "ana".into() })
    );
    assert_eq!(
        store.voice(&a.id, "ana").await?.map(|v| v.voice_id),
        Some("v-123".into())
    );
    store.add_voice(&a.id, "bo", "p", "v-2").await?;
    let names: Vec<String> = store
        .list_voices(&a.id)
        .await?
        .into_iter()
        .map(|v| v.name)
        .collect();
    assert_eq!(names, ["ana", "bo"]);
    assert!(
        store.add_voice(&a.id, " ", "p", "v").await.is_err(),
        "an empty name"
    );

    // A's clone is not B's to use by its id; B's own and stock ids are.
    assert!(
        store
            .voice_of_another_tenant(&b.id, "kino-speech-elevenlabs", "v-123")
            .await?
    );
    assert!(
        !store
            .voice_of_another_tenant(&a.id, "kino-speech-elevenlabs", "v-123")
            .await?
    );
    assert!(
        !store
            .voice_of_another_tenant(&b.id, "other-plugin", "v-123")
            .await?
    );
    assert!(
        !store
            .voice_of_another_tenant(&b.id, "kino-speech-elevenlabs", "stock")
            .await?
    );
    assert!(store.delete_voice(&a.id, "ana").await?);
    assert!(!store.delete_voice(&a.id, "ana").await?);
    assert_eq!(store.voice(&a.id, "ana").await?, None);
    assert!(
        store.voice(&b.id, "ana").await?.is_some(),
        "b's voice stays"
    );
    Ok(())
}

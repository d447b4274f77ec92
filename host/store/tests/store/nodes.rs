//! The node queue and the worker table, on both engines.

use std::collections::HashSet;
use std::time::Duration;

use anyhow::Context as _;
use kino_store::{
    Job, JobId, NewNode, NodeState, StageState, Store, StoreError, Tenant, TenantId, WorkerState,
};
use serde_json::json;

use crate::harness::on_both_engines;
use crate::{SPEC_SHA256, store_error};

on_both_engines!(
    enqueue_returns_the_open_node,
    claims_follow_capabilities,
    claims_respect_the_tenant_quota,
    the_tenant_holding_fewest_nodes_goes_first,
    tenants_take_turns_when_none_holds_a_node,
    higher_priority_jobs_go_first,
    results_need_a_live_lease,
    a_lapsed_lease_is_reaped,
    a_released_node_goes_back,
    workers_are_listed_with_their_counts,
);
on_both_engines!(
    concurrent: concurrent_claimers_never_share_a_node,
    concurrent_enqueuers_get_one_node,
);

/// Long enough never to lapse during a test.
const LONG: Duration = Duration::from_secs(600);

/// Lapses almost at once; tests wait [`PAST_SHORT`] to be sure it did.
const SHORT: Duration = Duration::from_millis(1);
const PAST_SHORT: Duration = Duration::from_millis(20);

async fn tenant_and_job(store: &Store, name: &str) -> anyhow::Result<(Tenant, Job)> {
    let tenant = store.create_tenant(name).await?;
    let job = store
        .create_job(&tenant.id, "dub", SPEC_SHA256, &json!({}))
        .await?;
    Ok((tenant, job))
}

fn node(tenant: &TenantId, job: &JobId, name: &str, needs: &[&str]) -> NewNode {
    NewNode {
        job: job.clone(),
        tenant: tenant.clone(),
        node: name.to_owned(),
        key: format!("key-of-{name}"),
        task: json!({ "stage": name, "inputs": ["sha256:aa"] }),
        needs: needs.iter().map(|s| (*s).to_owned()).collect(),
        priority: 0,
    }
}

fn caps(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

async fn enqueue_returns_the_open_node(store: Store) -> anyhow::Result<()> {
    let (t, job) = tenant_and_job(&store, "t").await?;
    let new = node(&t.id, &job.id, "speak[3]", &["tts"]);
    let first = store.enqueue_node(&new).await?;
    assert_eq!(first.state, NodeState::Ready);
    assert_eq!(first.needs, vec!["tts"]);
    assert_eq!(first.task, new.task);
    assert_eq!((first.claims, first.owner.clone()), (0, None));
    assert_eq!(store.get_node(&first.id).await?, Some(first.clone()));

    // Ready or claimed, the same node and key are the same row.
    assert_eq!(store.enqueue_node(&new).await?, first);
    let claimed = store
        .claim_node("w1", &caps(&["tts"]), LONG)
        .await?
        .context("nothing claimed")?;
    assert_eq!(claimed.id, first.id);
    assert_eq!(store.enqueue_node(&new).await?.id, first.id);
    // Another key is another node.
    let other_key = NewNode {
        key: "other".into(),
        ..new.clone()
    };
    assert_ne!(store.enqueue_node(&other_key).await?.id, first.id);

    // Once it failed, enqueueing it again queues a new row; the attempt
    // linked to it failed with the failure's message.
    let stage = store
        .record_stage_start_by(&job.id, "speak[3]", None, 1, "w1")
        .await?;
    assert!(store.link_node_stage(&first.id, "w1", &stage.id).await?);
    let oom = json!({ "message": "out of memory", "retryable": true });
    assert!(store.fail_node(&first.id, "w1", &oom).await?);
    let failed = store.get_node(&first.id).await?.context("node gone")?;
    assert_eq!(failed.state, NodeState::Failed);
    assert_eq!(failed.error, Some(oom));
    let stages = store.list_stages(&t.id, &job.id).await?;
    assert_eq!(stages[0].state, StageState::Failed);
    assert_eq!(stages[0].error.as_deref(), Some("out of memory"));
    assert_eq!(stages[0].output_artifact, None);
    let again = store.enqueue_node(&new).await?;
    assert_ne!(again.id, first.id);
    assert_eq!(again.state, NodeState::Ready);
    let rows = store.nodes_of_job(&job.id).await?;
    assert_eq!(rows.len(), 3);

    // Another tenant's job takes no nodes.
    let (other, _) = tenant_and_job(&store, "other").await?;
    let err = store
        .enqueue_node(&node(&other.id, &job.id, "x", &[]))
        .await
        .err()
        .context("a node was queued on another tenant's job")?;
    assert!(matches!(
        store_error(&err),
        Some(StoreError::NotFound { what: "job", .. })
    ));
    Ok(())
}

async fn claims_follow_capabilities(store: Store) -> anyhow::Result<()> {
    let (t, job) = tenant_and_job(&store, "t").await?;
    let gpu = store
        .enqueue_node(&node(&t.id, &job.id, "render", &["gpu", "ffmpeg"]))
        .await?;
    assert_eq!(store.claim_node("w1", &caps(&[]), LONG).await?, None);
    assert_eq!(store.claim_node("w1", &caps(&["gpu"]), LONG).await?, None);
    let any = store
        .enqueue_node(&node(&t.id, &job.id, "mix", &[]))
        .await?;
    let got = store
        .claim_node("w1", &caps(&["ffmpeg"]), LONG)
        .await?
        .context("a node without needs was not claimed")?;
    assert_eq!(got.id, any.id);
    let got = store
        .claim_node("w2", &caps(&["cpu", "ffmpeg", "gpu"]), LONG)
        .await?
        .context("the gpu node was not claimed")?;
    assert_eq!(got.id, gpu.id);
    assert_eq!(got.state, NodeState::Claimed);
    assert_eq!(got.owner.as_deref(), Some("w2"));
    assert_eq!(got.claims, 1);
    assert!(got.claimed_at.is_some());
    let lease_until = got.lease_until.context("no lease")?;
    assert!(lease_until >= got.claimed_at.unwrap_or(0) + 599_000);
    Ok(())
}

async fn claims_respect_the_tenant_quota(store: Store) -> anyhow::Result<()> {
    let (a, job_a) = tenant_and_job(&store, "a").await?;
    let (b, job_b) = tenant_and_job(&store, "b").await?;
    store.set_tenant_node_quota(&a.id, Some(2)).await?;
    for i in 0..3 {
        store
            .enqueue_node(&node(&a.id, &job_a.id, &format!("a[{i}]"), &[]))
            .await?;
    }
    let first = store.claim_node("w", &[], LONG).await?.context("none")?;
    let second = store.claim_node("w", &[], LONG).await?.context("none")?;
    assert_eq!(
        (first.tenant_id.clone(), second.tenant_id),
        (a.id.clone(), a.id.clone())
    );
    assert_eq!(
        store.claim_node("w", &[], LONG).await?,
        None,
        "a third node of a tenant with quota 2 was claimed"
    );
    // Another tenant is not held back.
    store
        .enqueue_node(&node(&b.id, &job_b.id, "b[0]", &[]))
        .await?;
    let got = store.claim_node("w", &[], LONG).await?.context("none")?;
    assert_eq!(got.tenant_id, b.id);
    // A finished node frees a place.
    assert!(
        store
            .complete_node(&first.id, "w", &"ab".repeat(32))
            .await?
    );
    let got = store.claim_node("w", &[], LONG).await?.context("none")?;
    assert_eq!(got.tenant_id, a.id);
    assert!(![&first.id, &second.id].contains(&&got.id));
    // No quota, no limit.
    store.set_tenant_node_quota(&a.id, None).await?;
    store
        .enqueue_node(&node(&a.id, &job_a.id, "a[3]", &[]))
        .await?;
    assert!(store.claim_node("w", &[], LONG).await?.is_some());
    Ok(())
}

async fn the_tenant_holding_fewest_nodes_goes_first(store: Store) -> anyhow::Result<()> {
    let (a, job_a) = tenant_and_job(&store, "a").await?;
    let (b, job_b) = tenant_and_job(&store, "b").await?;
    for i in 0..12 {
        store
            .enqueue_node(&node(&a.id, &job_a.id, &format!("a[{i}]"), &[]))
            .await?;
    }
    for _ in 0..2 {
        let got = store.claim_node("w", &[], LONG).await?.context("none")?;
        assert_eq!(got.tenant_id, a.id);
    }
    // Higher priority and older nodes of a do not beat b's share.
    store.set_job_priority(&a.id, &job_a.id, 100).await?;
    let b_node = store
        .enqueue_node(&node(&b.id, &job_b.id, "b[0]", &[]))
        .await?;
    let got = store.claim_node("w", &[], LONG).await?.context("none")?;
    assert_eq!(
        got.id, b_node.id,
        "tenant a (2 held) went before b (0 held)"
    );
    // Then a again: b has nothing ready.
    let got = store.claim_node("w", &[], LONG).await?.context("none")?;
    assert_eq!(got.tenant_id, a.id);
    Ok(())
}

async fn tenants_take_turns_when_none_holds_a_node(store: Store) -> anyhow::Result<()> {
    // One worker slot: nothing is ever held when it claims, so the count of
    // held nodes cannot tell the tenants apart; their last claims do.
    let (a, job_a) = tenant_and_job(&store, "a").await?;
    let (b, job_b) = tenant_and_job(&store, "b").await?;
    for i in 0..6 {
        store
            .enqueue_node(&node(&a.id, &job_a.id, &format!("a[{i}]"), &[]))
            .await?;
    }
    let first = store.claim_node("w", &[], LONG).await?.context("none")?;
    assert_eq!(first.tenant_id, a.id, "the oldest first");
    assert!(store.complete_node(&first.id, "w", &"0".repeat(64)).await?);
    tokio::time::sleep(Duration::from_millis(3)).await;
    for i in 0..2 {
        store
            .enqueue_node(&node(&b.id, &job_b.id, &format!("b[{i}]"), &[]))
            .await?;
    }
    let mut order = Vec::new();
    while let Some(got) = store.claim_node("w", &[], LONG).await? {
        order.push(if got.tenant_id == a.id { 'a' } else { 'b' });
        assert!(store.complete_node(&got.id, "w", &"0".repeat(64)).await?);
        // Claims a millisecond apart at least: turns go by claim times.
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
    assert_eq!(
        order.iter().collect::<String>(),
        "babaaaa",
        "b, never served, first; then turns while both have nodes"
    );
    Ok(())
}

async fn higher_priority_jobs_go_first(store: Store) -> anyhow::Result<()> {
    let (t, slow) = tenant_and_job(&store, "t").await?;
    let urgent = store
        .create_job(&t.id, "dub", SPEC_SHA256, &json!({}))
        .await?;
    store
        .enqueue_node(&node(&t.id, &slow.id, "old", &[]))
        .await?;
    let mut low = node(&t.id, &urgent.id, "low", &[]);
    low.priority = -1;
    store.enqueue_node(&low).await?;
    let mut high = node(&t.id, &urgent.id, "high", &[]);
    high.priority = 3;
    store.enqueue_node(&high).await?;
    store.set_job_priority(&t.id, &urgent.id, 10).await?;

    let mut order = Vec::new();
    while let Some(node) = store.claim_node("w", &[], LONG).await? {
        order.push(node.node);
    }
    assert_eq!(
        order,
        ["high", "low", "old"],
        "the urgent job's nodes (by node priority), then the other job's"
    );

    // Equal priorities: the oldest first.
    for name in ["first", "second", "third"] {
        store
            .enqueue_node(&node(&t.id, &slow.id, name, &[]))
            .await?;
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let mut order = Vec::new();
    while let Some(node) = store.claim_node("w", &[], LONG).await? {
        order.push(node.node);
    }
    assert_eq!(order, ["first", "second", "third"]);
    Ok(())
}

async fn results_need_a_live_lease(store: Store) -> anyhow::Result<()> {
    let (t, job) = tenant_and_job(&store, "t").await?;
    store.enqueue_node(&node(&t.id, &job.id, "n", &[])).await?;
    let got = store.claim_node("w1", &[], LONG).await?.context("none")?;
    // Only the holder renews, links and finishes.
    assert!(store.heartbeat_node(&got.id, "w1", LONG).await?);
    assert!(!store.heartbeat_node(&got.id, "w2", LONG).await?);
    let stage = store
        .record_stage_start_by(&job.id, "n", None, 1, "w1")
        .await?;
    assert!(!store.link_node_stage(&got.id, "w2", &stage.id).await?);
    assert!(store.link_node_stage(&got.id, "w1", &stage.id).await?);
    assert!(!store.complete_node(&got.id, "w2", "hash").await?);
    assert!(store.complete_node(&got.id, "w1", "hash").await?);
    let done = store.get_node(&got.id).await?.context("node gone")?;
    assert_eq!(done.state, NodeState::Completed);
    assert_eq!(done.output.as_deref(), Some("hash"));
    assert_eq!(done.stage_id, Some(stage.id.clone()));
    assert!(done.finished_at.is_some());
    // Its attempt completed in the same commit, its output the node's key.
    let stages = store.list_stages(&t.id, &job.id).await?;
    assert_eq!(stages[0].id, stage.id);
    assert_eq!(stages[0].state, StageState::Completed);
    assert_eq!(stages[0].output_artifact.as_deref(), Some("key-of-n"));
    assert_eq!(stages[0].finished_at, done.finished_at);
    // Once completed, the node is that row: a host whose cache lookup raced
    // the completion waits on it rather than queueing the node again.
    let again = store.enqueue_node(&node(&t.id, &job.id, "n", &[])).await?;
    assert_eq!(again.id, got.id);
    // Finished is final.
    assert!(!store.complete_node(&got.id, "w1", "other").await?);
    assert!(!store.fail_node(&got.id, "w1", &json!("late")).await?);
    assert!(!store.heartbeat_node(&got.id, "w1", LONG).await?);

    // A lease that lapsed is not renewed, and a late result is refused even
    // before the reaper has run.
    store.enqueue_node(&node(&t.id, &job.id, "m", &[])).await?;
    let got = store.claim_node("w1", &[], SHORT).await?.context("none")?;
    tokio::time::sleep(PAST_SHORT).await;
    assert!(!store.heartbeat_node(&got.id, "w1", LONG).await?);
    assert!(!store.complete_node(&got.id, "w1", "late").await?);
    assert!(!store.fail_node(&got.id, "w1", &json!("late")).await?);
    let row = store.get_node(&got.id).await?.context("node gone")?;
    assert_eq!((row.state, row.output), (NodeState::Claimed, None));

    let mut counts = store.node_state_counts().await?;
    counts.sort_by_key(|(state, _)| state.as_str());
    assert_eq!(
        counts,
        vec![(NodeState::Claimed, 1), (NodeState::Completed, 1)]
    );
    Ok(())
}

async fn a_lapsed_lease_is_reaped(store: Store) -> anyhow::Result<()> {
    let (t, job) = tenant_and_job(&store, "t").await?;
    store.enqueue_node(&node(&t.id, &job.id, "n", &[])).await?;
    store
        .enqueue_node(&node(&t.id, &job.id, "kept", &[]))
        .await?;
    let lapsing = store.claim_node("w1", &[], SHORT).await?.context("none")?;
    let kept = store.claim_node("w2", &[], LONG).await?.context("none")?;
    let stage = store
        .record_stage_start_by(&job.id, "n", None, 1, "w1")
        .await?;
    assert!(store.link_node_stage(&lapsing.id, "w1", &stage.id).await?);
    tokio::time::sleep(PAST_SHORT).await;

    assert_eq!(store.reap_nodes().await?, 1);
    assert_eq!(store.reap_nodes().await?, 0);
    let back = store.get_node(&lapsing.id).await?.context("node gone")?;
    assert_eq!(back.state, NodeState::Ready);
    assert_eq!(
        (back.owner, back.lease_until, back.stage_id),
        (None, None, None)
    );
    assert_eq!(back.claims, 1);
    let kept = store.get_node(&kept.id).await?.context("node gone")?;
    assert_eq!(kept.state, NodeState::Claimed);

    let stages = store.list_stages(&t.id, &job.id).await?;
    assert_eq!(stages.len(), 1);
    assert_eq!(stages[0].state, StageState::Failed);
    assert_eq!(
        stages[0].error.as_deref(),
        Some("interrupted: worker w1 stopped renewing its lease")
    );

    // The late worker's result is refused; the next claimant's is kept.
    assert!(!store.complete_node(&lapsing.id, "w1", "late").await?);
    let again = store.claim_node("w3", &[], LONG).await?.context("none")?;
    assert_eq!((again.id.clone(), again.claims), (lapsing.id.clone(), 2));
    assert!(!store.complete_node(&again.id, "w1", "late").await?);
    assert!(store.complete_node(&again.id, "w3", "fresh").await?);
    let done = store.get_node(&again.id).await?.context("node gone")?;
    assert_eq!(
        (done.state, done.output.as_deref(), done.owner.as_deref()),
        (NodeState::Completed, Some("fresh"), Some("w3"))
    );
    Ok(())
}

async fn a_released_node_goes_back(store: Store) -> anyhow::Result<()> {
    let (t, job) = tenant_and_job(&store, "t").await?;
    store.enqueue_node(&node(&t.id, &job.id, "n", &[])).await?;
    let got = store.claim_node("w1", &[], LONG).await?.context("none")?;
    let stage = store
        .record_stage_start_by(&job.id, "n", None, 1, "w1")
        .await?;
    assert!(store.link_node_stage(&got.id, "w1", &stage.id).await?);
    assert!(!store.release_node(&got.id, "w2").await?, "not w2's node");
    assert!(store.release_node(&got.id, "w1").await?);
    assert!(!store.release_node(&got.id, "w1").await?, "released twice");
    let back = store.get_node(&got.id).await?.context("node gone")?;
    assert_eq!((back.state, back.owner), (NodeState::Ready, None));
    let stages = store.list_stages(&t.id, &job.id).await?;
    assert_eq!(stages[0].state, StageState::Failed);
    assert_eq!(
        stages[0].error.as_deref(),
        Some("interrupted: worker w1 gave the node back")
    );
    assert!(!store.complete_node(&got.id, "w1", "late").await?);
    let again = store.claim_node("w2", &[], LONG).await?.context("none")?;
    assert_eq!(again.id, got.id);
    // An attempt recorded but not yet linked is found by what it runs.
    let unlinked = store
        .record_stage_start_by(&job.id, "n", None, 2, "w2")
        .await?;
    assert!(store.release_node(&got.id, "w2").await?);
    let stages = store.list_stages(&t.id, &job.id).await?;
    let second = stages
        .iter()
        .find(|s| s.id == unlinked.id)
        .context("gone")?;
    assert_eq!(second.state, StageState::Failed);
    assert_eq!(
        second.error.as_deref(),
        Some("interrupted: worker w2 gave the node back")
    );
    Ok(())
}

async fn workers_are_listed_with_their_counts(store: Store) -> anyhow::Result<()> {
    let (t, job) = tenant_and_job(&store, "t").await?;
    store
        .register_worker("w1", "box-a", 41, &caps(&["gpu"]))
        .await?;
    tokio::time::sleep(Duration::from_millis(2)).await;
    store.register_worker("w2", "box-b", 42, &[]).await?;
    for i in 0..4 {
        store
            .enqueue_node(&node(&t.id, &job.id, &format!("n[{i}]"), &[]))
            .await?;
    }
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(
            store
                .claim_node("w1", &caps(&["gpu"]), LONG)
                .await?
                .context("none")?,
        );
    }
    assert!(store.complete_node(&held[0].id, "w1", "h").await?);
    assert!(
        store
            .fail_node(&held[1].id, "w1", &json!({ "why": "x" }))
            .await?
    );
    store.worker_heartbeat("w2", WorkerState::Draining).await?;
    let err = store
        .worker_heartbeat("ghost", WorkerState::Running)
        .await
        .err()
        .context("an unknown worker's heartbeat was kept")?;
    assert!(matches!(
        store_error(&err),
        Some(StoreError::NotFound { what: "worker", .. })
    ));

    let workers = store.list_workers().await?;
    let ids: Vec<_> = workers.iter().map(|w| w.id.as_str()).collect();
    assert_eq!(ids, ["w1", "w2"]);
    let w1 = &workers[0];
    assert_eq!((w1.host.as_str(), w1.pid), ("box-a", 41));
    assert_eq!(w1.caps, vec!["gpu"]);
    assert_eq!(w1.state, WorkerState::Running);
    assert_eq!((w1.leases, w1.nodes_completed, w1.nodes_failed), (1, 1, 1));
    let w2 = &workers[1];
    assert_eq!(w2.state, WorkerState::Draining);
    assert_eq!((w2.leases, w2.nodes_completed, w2.nodes_failed), (0, 0, 0));
    assert!(w2.heartbeat_at >= w2.started_at);

    // Registering again replaces the record.
    store
        .register_worker("w2", "box-c", 7, &caps(&["cpu"]))
        .await?;
    let workers = store.list_workers().await?;
    let w2 = workers.iter().find(|w| w.id == "w2").context("w2 gone")?;
    assert_eq!(
        (w2.host.as_str(), w2.pid, w2.state),
        ("box-c", 7, WorkerState::Running)
    );
    Ok(())
}

async fn concurrent_claimers_never_share_a_node(store: Store) -> anyhow::Result<()> {
    let (a, job_a) = tenant_and_job(&store, "a").await?;
    let (b, job_b) = tenant_and_job(&store, "b").await?;
    for i in 0..20 {
        let (tenant, job) = if i % 2 == 0 {
            (&a, &job_a)
        } else {
            (&b, &job_b)
        };
        store
            .enqueue_node(&node(&tenant.id, &job.id, &format!("n[{i}]"), &[]))
            .await?;
    }
    let tasks: Vec<_> = (0..8)
        .map(|w| {
            let store = store.clone();
            tokio::spawn(async move {
                let worker = format!("w{w}");
                let mut got = Vec::new();
                while let Some(node) = store.claim_node(&worker, &[], LONG).await? {
                    assert_eq!(node.owner.as_deref(), Some(worker.as_str()));
                    got.push(node.id);
                }
                anyhow::Ok(got)
            })
        })
        .collect();
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await??);
    }
    let distinct: HashSet<_> = all.iter().collect();
    assert_eq!(
        distinct.len(),
        all.len(),
        "a node was claimed twice: {all:?}"
    );
    assert_eq!(all.len(), 20);
    for id in &all {
        let row = store.get_node(id).await?.context("node gone")?;
        assert_eq!((row.state, row.claims), (NodeState::Claimed, 1));
    }
    Ok(())
}

async fn concurrent_enqueuers_get_one_node(store: Store) -> anyhow::Result<()> {
    let (t, job) = tenant_and_job(&store, "t").await?;
    let new = node(&t.id, &job.id, "speak[0]", &[]);
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (store, new) = (store.clone(), new.clone());
            tokio::spawn(async move { store.enqueue_node(&new).await })
        })
        .collect();
    let mut ids = HashSet::new();
    for task in tasks {
        ids.insert(task.await??.id);
    }
    assert_eq!(ids.len(), 1, "two open rows for one node: {ids:?}");
    assert_eq!(store.nodes_of_job(&job.id).await?.len(), 1);
    Ok(())
}

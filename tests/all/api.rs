//! The admin and tenant HTTP API, through its router (`oneshot`) and once on
//! a real socket.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use futures::StreamExt as _;
use kino_api as api;
use kino_api::{Access, AppState, Metrics, ROUTES};
use kino_pipeline::Executor;
use kino_pipeline::slots::Resolver;
use kino_pipeline::worker::JobQueue;
use kino_registry::SignaturePolicy;
use kino_runtime::plugins;
use kino_store::{JobEvent, JobState, Store};
use kino_tests::{plugin_path, runtime};
use serde_json::{Value, json};
use tower::ServiceExt as _;

const ADMIN: &str = "admin-token-for-tests";

struct App {
    router: Router,
    store: Store,
    registry: kino_registry::Store,
    jobs: JobQueue,
    _tmp: tempfile::TempDir,
}

async fn app(upload_limit: usize) -> App {
    app_with(upload_limit, SignaturePolicy::Optional, Vec::new()).await
}

async fn app_with(
    upload_limit: usize,
    signature_policy: SignaturePolicy,
    trusted: Vec<kino_registry::VerifyingKey>,
) -> App {
    app_in(
        tempfile::tempdir().expect("temp dir"),
        upload_limit,
        signature_policy,
        trusted,
    )
    .await
}

/// An app whose data directory is `tmp`, as the operator prepared it.
async fn app_in(
    tmp: tempfile::TempDir,
    upload_limit: usize,
    signature_policy: SignaturePolicy,
    trusted: Vec<kino_registry::VerifyingKey>,
) -> App {
    let store = Store::in_memory().await.expect("store");
    let registry = kino_registry::Store::open(tmp.path().join("registry")).expect("registry");
    let resolver = Resolver::new(
        runtime().clone(),
        registry.clone(),
        store.clone(),
        BTreeMap::new(),
    );
    let executor = Executor::new(store.clone(), resolver, tmp.path(), 2, None).expect("executor");
    let registry_for_app = registry.clone();
    let jobs = JobQueue::new(executor);
    let state = AppState {
        store: store.clone(),
        registry,
        jobs: jobs.clone(),
        runtime: runtime().clone(),
        admin_token_hash: api::admin_token_hash(ADMIN),
        trusted_keys: Arc::from(trusted),
        signature_policy,
        upload_limit,
        metrics: Metrics::new(),
    };
    App {
        router: api::router(state),
        store,
        registry: registry_for_app,
        jobs,
        _tmp: tmp,
    }
}

impl App {
    async fn send(&self, request: Request<Body>) -> (StatusCode, Value) {
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("infallible");
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body");
        let body = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        (status, body)
    }

    async fn call(
        &self,
        method: Method,
        uri: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = Request::builder().method(method).uri(uri);
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let request = match body {
            Some(body) => request
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body.to_string())),
            None => request.body(Body::empty()),
        };
        self.send(request.expect("request")).await
    }

    async fn tenant(&self, name: &str) -> (String, String) {
        let (status, tenant) = self
            .call(
                Method::POST,
                "/admin/tenants",
                Some(ADMIN),
                Some(json!({ "name": name })),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{tenant}");
        let id = tenant["id"].as_str().expect("id").to_owned();
        let (status, key) = self
            .call(
                Method::POST,
                &format!("/admin/tenants/{id}/keys"),
                Some(ADMIN),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{key}");
        (id, key["key"].as_str().expect("key").to_owned())
    }

    /// Uploads `bytes` as a job input; answers the job's reference to it.
    async fn input(&self, key: &str, bytes: Vec<u8>, name: &str) -> Value {
        let request = Request::post("/inputs")
            .header(header::AUTHORIZATION, format!("Bearer {key}"))
            .body(Body::from(bytes))
            .expect("request");
        let (status, body) = self.send(request).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        json!({ "sha256": body["sha256"], "name": name })
    }

    async fn job(&self, key: &str) -> String {
        let video = self
            .input(key, b"not really a video".to_vec(), "v.mp4")
            .await;
        let transcript = self
            .input(
                key,
                b"1\n00:00:00,000 --> 00:00:01,000\nhi\n".to_vec(),
                "t.srt",
            )
            .await;
        let (status, job) = self
            .call(
                Method::POST,
                "/jobs",
                Some(key),
                Some(json!({ "pipeline": "caption", "inputs": { "video": video, "transcript": transcript } })),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{job}");
        assert_eq!(job["state"], "pending");
        job["id"].as_str().expect("job id").to_owned()
    }
}

fn package(tmp: &std::path::Path) -> Vec<u8> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins/director-styles");
    let archive = tmp.join("director-styles.tar.gz");
    plugins::pack(&dir, Some(&plugin_path("kino-director-styles")), &archive).expect("pack");
    std::fs::read(&archive).expect("read package")
}

async fn upload(app: &App, bytes: Vec<u8>) -> (StatusCode, Value) {
    let request = Request::post("/admin/plugins")
        .header(header::AUTHORIZATION, format!("Bearer {ADMIN}"))
        .header(header::CONTENT_TYPE, "application/gzip")
        .body(Body::from(bytes))
        .expect("request");
    app.send(request).await
}

#[tokio::test]
async fn quotas_and_priorities_are_set_through_the_api() {
    let app = app(api::DEFAULT_UPLOAD_LIMIT).await;
    let (tenant, key) = app.tenant("acme").await;
    let uri = format!("/admin/tenants/{tenant}/quota");
    let (status, body) = app
        .call(
            Method::PUT,
            &uri,
            Some(ADMIN),
            Some(json!({ "node_quota": 3 })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["node_quota"], 3);
    let id: kino_store::TenantId = tenant.parse().expect("tenant id");
    let stored = app
        .store
        .get_tenant(&id)
        .await
        .expect("read")
        .expect("tenant");
    assert_eq!(stored.node_quota, Some(3));
    // null lifts it; a body without the field is refused, not read as null.
    let (status, _) = app
        .call(
            Method::PUT,
            &uri,
            Some(ADMIN),
            Some(json!({ "node_quota": null })),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let stored = app
        .store
        .get_tenant(&id)
        .await
        .expect("read")
        .expect("tenant");
    assert_eq!(stored.node_quota, None);
    let (status, body) = app
        .call(Method::PUT, &uri, Some(ADMIN), Some(json!({})))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, _) = app
        .call(
            Method::PUT,
            &uri,
            Some(&key),
            Some(json!({ "node_quota": 1 })),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "a tenant key is not the admin's"
    );
    let (status, _) = app
        .call(
            Method::PUT,
            &format!("/admin/tenants/{}/quota", "0".repeat(32)),
            Some(ADMIN),
            Some(json!({ "node_quota": 1 })),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // A job's priority, and one out of range.
    let video = app.input(&key, b"v".to_vec(), "v.mp4").await;
    let submit = |priority: i64| json!({ "pipeline": "caption", "priority": priority, "inputs": { "video": video.clone() } });
    let (status, job) = app
        .call(Method::POST, "/jobs", Some(&key), Some(submit(7)))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{job}");
    assert_eq!(job["priority"], 7);
    let (_, got) = app
        .call(
            Method::GET,
            &format!("/jobs/{}", job["id"].as_str().expect("id")),
            Some(&key),
            None,
        )
        .await;
    assert_eq!(got["priority"], 7);
    let (status, _) = app
        .call(Method::POST, "/jobs", Some(&key), Some(submit(5000)))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn tenants_submit_get_list_and_watch_jobs() {
    let app = app(api::DEFAULT_UPLOAD_LIMIT).await;
    let (_, key) = app.tenant("acme").await;
    let job = app.job(&key).await;

    let (status, got) = app
        .call(Method::GET, &format!("/jobs/{job}"), Some(&key), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(got["id"], job.as_str());
    assert_eq!(got["pipeline"], "caption");
    assert_eq!(got["inputs"]["video"]["name"], "v.mp4");

    let (status, list) = app.call(Method::GET, "/jobs", Some(&key), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list.as_array().map(Vec::len), Some(1));

    let response = app
        .router
        .clone()
        .oneshot(
            Request::get(format!("/jobs/{job}/events"))
                .header(header::AUTHORIZATION, format!("Bearer {key}"))
                .body(Body::empty())
                .expect("request"),
        )
        .await
        .expect("infallible");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()[header::CONTENT_TYPE],
        "text/event-stream"
    );
    // The job stays pending (no queue worker runs in this test), so the stream stays open:
    // read until the creation event arrives.
    let mut stream = response.into_body().into_data_stream();
    let mut text = String::new();
    tokio::time::timeout(Duration::from_secs(10), async {
        while !text.contains("event: created") {
            let chunk = stream.next().await.expect("stream open").expect("chunk");
            text.push_str(&String::from_utf8_lossy(&chunk));
        }
    })
    .await
    .expect("the creation event within 10 s");
    assert!(text.contains("\"state\":\"pending\""), "{text}");
}

#[tokio::test]
async fn the_event_stream_ends_when_the_job_does() {
    let app = app(api::DEFAULT_UPLOAD_LIMIT).await;
    let (tenant, key) = app.tenant("acme").await;
    let job = app.job(&key).await;
    let (tenant, job_id) = (
        tenant.parse().expect("tenant id"),
        job.parse().expect("job id"),
    );
    app.store
        .set_job_state(&tenant, &job_id, JobState::Running, None)
        .await
        .expect("running");
    app.store
        .append_event(
            &job_id,
            &JobEvent::StageCached {
                stage: "script".into(),
            },
        )
        .await
        .expect("event");
    app.store
        .set_job_state(&tenant, &job_id, JobState::Completed, None)
        .await
        .expect("completed");
    let request = Request::get(format!("/jobs/{job}/events"))
        .header(header::AUTHORIZATION, format!("Bearer {key}"))
        .body(Body::empty())
        .expect("request");
    let (status, body) = tokio::time::timeout(Duration::from_secs(10), app.send(request))
        .await
        .expect("the stream ends within 10 s");
    assert_eq!(status, StatusCode::OK);
    let text = body.as_str().expect("text");
    let created = text.find("event: created").expect("created event");
    let progress = text
        .find("event: stage-cached")
        .expect("stage-cached event");
    assert!(created < progress, "{text}");
}

#[tokio::test]
async fn every_endpoint_refuses_missing_wrong_and_foreign_credentials() {
    let app = app(api::DEFAULT_UPLOAD_LIMIT).await;
    let (tenant_a, key_a) = app.tenant("a").await;
    let (_, key_b) = app.tenant("b").await;
    let job_a = app.job(&key_a).await;

    for route in ROUTES {
        let method: Method = route.method.to_uppercase().parse().expect("method");
        let id = match route.access {
            Access::Tenant => &job_a,
            _ => &tenant_a,
        };
        let uri = route
            .path
            .replace("{id}", id)
            .replace("{key_id}", "00000000000000000000000000000000")
            .replace("{slot}", "director")
            .replace("{name}", "kino-director-styles")
            .replace("{version}", "0.1.0");
        let body = route.body.map(|_| json!({}));
        match route.access {
            Access::Open => {
                let (status, _) = app.call(method, &uri, None, None).await;
                assert_eq!(status, StatusCode::OK, "{route:?}");
            }
            Access::Admin | Access::Tenant => {
                for token in [None, Some("wrong"), Some("kino_0000")] {
                    let (status, error) = app.call(method.clone(), &uri, token, body.clone()).await;
                    assert_eq!(status, StatusCode::UNAUTHORIZED, "{route:?} with {token:?}");
                    assert!(error["error"].is_string(), "{route:?}: {error}");
                }
                let foreign = match route.access {
                    Access::Admin => Some(StatusCode::UNAUTHORIZED),
                    // A tenant's own listing and submissions are allowed; a
                    // specific job of another tenant does not exist for it.
                    _ if route.path.contains("{id}") => Some(StatusCode::NOT_FOUND),
                    _ => None,
                };
                if let Some(expected) = foreign {
                    let (status, error) = app.call(method, &uri, Some(&key_b), body).await;
                    assert_eq!(status, expected, "{route:?} with the other tenant's key");
                    assert!(error["error"].is_string(), "{route:?}: {error}");
                }
            }
        }
    }
    let (_, list) = app.call(Method::GET, "/jobs", Some(&key_b), None).await;
    assert_eq!(list, json!([]), "tenant b sees none of a's jobs");
}

#[tokio::test]
async fn bad_json_is_a_400_naming_the_problem() {
    let app = app(api::DEFAULT_UPLOAD_LIMIT).await;
    let request = Request::post("/admin/tenants")
        .header(header::AUTHORIZATION, format!("Bearer {ADMIN}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from("{\"name\": "))
        .expect("request");
    let (status, error) = app.send(request).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let message = error["error"].as_str().expect("error message");
    assert!(message.contains("JSON"), "{message}");

    let (status, error) = app
        .call(
            Method::POST,
            "/admin/tenants",
            Some(ADMIN),
            Some(json!({ "nom": "x" })),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        error["error"].as_str().is_some_and(|m| m.contains("nom")),
        "{error}"
    );

    let (status, error) = app.call(Method::GET, "/nope", None, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(error["error"].is_string());
}

#[tokio::test]
async fn operators_install_bind_yank_and_remove_plugins() {
    let app = app(api::DEFAULT_UPLOAD_LIMIT).await;
    let tmp = tempfile::tempdir().expect("temp dir");
    let (tenant, _) = app.tenant("acme").await;

    let (status, installed) = upload(&app, package(tmp.path())).await;
    assert_eq!(status, StatusCode::CREATED, "{installed}");
    assert_eq!(installed["name"], "kino-director-styles");

    let (status, garbage) = upload(&app, b"not a package".to_vec()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{garbage}");
    let reason = garbage["error"].as_str().expect("reason");
    assert!(!reason.contains("/tmp"), "the temp path leaks: {reason}");

    let (status, list) = app
        .call(Method::GET, "/admin/plugins", Some(ADMIN), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
    let one = "/admin/plugins/kino-director-styles/0.1.0";
    let (status, got) = app.call(Method::GET, one, Some(ADMIN), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(got["version"], "0.1.0");

    // The README once showed `bindings/director`; the slot is `director-style`.
    let (status, error) = app
        .call(
            Method::PUT,
            &format!("/admin/tenants/{tenant}/bindings/director"),
            Some(ADMIN),
            Some(json!({ "plugin": "kino-director-styles@^0.1" })),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
    let message = error["error"].as_str().expect("a reason");
    assert!(
        message.contains("no slot `director`") && message.contains("director-style, "),
        "{message}"
    );
    let (status, error) = app
        .call(
            Method::PUT,
            &format!("/admin/tenants/{tenant}/bindings/grader"),
            Some(ADMIN),
            Some(json!({ "plugin": "kino-director-styles@^0.1" })),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
    assert!(
        error["error"]
            .as_str()
            .is_some_and(|m| m.contains("needs a kino:stage/grader plugin")),
        "{error}"
    );
    let slot = format!("/admin/tenants/{tenant}/bindings/director-style");
    let (status, error) = app
        .call(
            Method::PUT,
            &slot,
            Some(ADMIN),
            Some(json!({ "plugin": "kino-director-styles@^0.1", "config": { "colour": "red" } })),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
    assert!(
        error["error"]
            .as_str()
            .is_some_and(|m| m.contains("colour")),
        "{error}"
    );
    let (status, error) = app
        .call(
            Method::PUT,
            &slot,
            Some(ADMIN),
            Some(json!({ "plugin": "kino-director-styles@^9", "config": {} })),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{error}");
    let (status, error) = app
        .call(
            Method::PUT,
            &slot,
            Some(ADMIN),
            Some(json!({ "plugin": "kino-director-styles@^0.1", "grants": ["https://api.example.com"] })),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
    assert!(
        error["error"]
            .as_str()
            .is_some_and(|m| m.contains("does not request")),
        "{error}"
    );
    let (status, binding) = app
        .call(
            Method::PUT,
            &slot,
            Some(ADMIN),
            Some(json!({ "plugin": "kino-director-styles@^0.1", "config": { "style": "noir-high-contrast" } })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{binding}");
    assert_eq!(binding["requirement"], "^0.1");
    assert_eq!(binding["config"]["style"], "noir-high-contrast");
    let (status, tenants) = app
        .call(Method::GET, "/admin/tenants", Some(ADMIN), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{tenants}");
    let acme = tenants
        .as_array()
        .and_then(|all| all.iter().find(|t| t["name"] == "acme"))
        .unwrap_or_else(|| panic!("acme is listed: {tenants}"));
    assert_eq!(acme["id"], tenant.as_str());
    assert_eq!(acme["bindings"][0]["slot"], "director-style", "{acme}");
    assert_eq!(acme["live_keys"], 1, "{acme}");

    let (status, secret) = app
        .call(
            Method::PUT,
            &format!("/admin/tenants/{tenant}/secrets/openai"),
            Some(ADMIN),
            Some(json!({ "value": "sk-very-secret" })),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{secret}");

    let (status, error) = app.call(Method::DELETE, one, Some(ADMIN), None).await;
    assert_eq!(status, StatusCode::CONFLICT, "{error}");

    let (status, yanked) = app
        .call(Method::POST, &format!("{one}/yank"), Some(ADMIN), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{yanked}");
    assert_eq!(yanked["yanked"], true);
    // The answer names the bindings that keep the version until rebound,
    // and they do: a job on that binding still runs it.
    assert_eq!(
        yanked["still_bound"][0]["slot"], "director-style",
        "{yanked}"
    );
    let tenant_id: kino_store::TenantId = tenant.parse().expect("tenant id");
    let job = app
        .store
        .create_job(&tenant_id, "ad-creative", &"0".repeat(64), &json!({}))
        .await
        .expect("job");
    let resolver = Resolver::new(
        runtime().clone(),
        app.registry.clone(),
        app.store.clone(),
        BTreeMap::new(),
    );
    let kept = resolver
        .slot(
            &tenant_id,
            &job.id,
            "director-style",
            kino_registry::World::DirectorStyle,
        )
        .await
        .expect("a binding made before the yank still resolves")
        .expect("bound");
    assert!(
        kept.yanked && kept.id.starts_with("kino-director-styles@"),
        "{}",
        kept.id
    );
    let (status, _) = app
        .call(
            Method::PUT,
            &format!("/admin/tenants/{tenant}/bindings/director-style"),
            Some(ADMIN),
            Some(json!({ "plugin": "kino-director-styles@^0.1" })),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "a yanked version is not resolved"
    );
}

#[tokio::test]
async fn unsigned_uploads_are_refused_when_signatures_are_required() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let (secret, public) = plugins::keygen(&tmp.path().join("operator")).expect("keygen");
    let trusted = plugins::read_trusted_keys(&[public]).expect("trusted key");
    let app = app_with(
        api::DEFAULT_UPLOAD_LIMIT,
        SignaturePolicy::Required,
        trusted,
    )
    .await;
    let unsigned = package(tmp.path());
    let (status, error) = upload(&app, unsigned).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
    assert!(
        error["error"]
            .as_str()
            .is_some_and(|m| m.contains("not signed")),
        "{error}"
    );
    let (_, list) = app
        .call(Method::GET, "/admin/plugins", Some(ADMIN), None)
        .await;
    assert_eq!(list, json!([]), "nothing half-installed");

    let archive = tmp.path().join("director-styles.tar.gz");
    plugins::sign(&archive, &secret).expect("sign");
    let (status, installed) = upload(&app, std::fs::read(&archive).expect("read")).await;
    assert_eq!(status, StatusCode::CREATED, "{installed}");
    assert!(installed["signer"].is_string(), "{installed}");
}

#[tokio::test]
async fn uploads_over_the_limit_are_413() {
    let app = app(1024).await;
    let (status, error) = upload(&app, vec![0u8; 4096]).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(
        error["error"].as_str().is_some_and(|m| m.contains("1024")),
        "{error}"
    );
}

#[tokio::test]
async fn keys_can_be_revoked() {
    let app = app(api::DEFAULT_UPLOAD_LIMIT).await;
    let (tenant, key) = app.tenant("acme").await;
    let (status, issued) = app
        .call(
            Method::POST,
            &format!("/admin/tenants/{tenant}/keys"),
            Some(ADMIN),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let key_id = issued["id"].as_str().expect("key id");
    let second = issued["key"].as_str().expect("key");
    let uri = format!("/admin/tenants/{tenant}/keys/{key_id}");
    let (status, _) = app.call(Method::DELETE, &uri, Some(ADMIN), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = app.call(Method::DELETE, &uri, Some(ADMIN), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app.call(Method::GET, "/jobs", Some(second), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = app.call(Method::GET, "/jobs", Some(&key), None).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn metrics_and_openapi_describe_the_api() {
    let app = app(api::DEFAULT_UPLOAD_LIMIT).await;
    let (_, key) = app.tenant("acme").await;
    app.job(&key).await;
    let (status, text) = app.call(Method::GET, "/metrics", None, None).await;
    assert_eq!(status, StatusCode::OK);
    let text = text.as_str().expect("text");
    assert!(
        text.contains("kino_http_requests_total{method=\"POST\",route=\"/jobs\",status=\"201\"} 1"),
        "{text}"
    );
    assert!(text.contains("kino_jobs{state=\"pending\"} 1"), "{text}");
    assert!(text.contains("kino_plugin_calls"), "{text}");
    // The device pool's counters are there before any kernel call.
    for device in ["cpu", "gpu"] {
        let line = format!("kino_kernel_calls_total{{device=\"{device}\"}} 0");
        assert!(text.contains(&line), "{text}");
    }
    assert!(text.contains("kino_kernel_gpu_fallbacks_total 0"), "{text}");
    let sqlite: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("kino_sqlite_memory_bytes "))
        .and_then(|v| v.trim().parse().ok())
        .expect("SQLite's memory, in bytes");
    assert!(sqlite > 0, "{text}");

    let (status, doc) = app.call(Method::GET, "/openapi.json", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(doc["openapi"], "3.1.0");
    for route in ROUTES {
        assert!(
            doc["paths"][route.path][route.method].is_object(),
            "{route:?}"
        );
    }
}

#[tokio::test]
async fn a_bad_query_is_a_json_400_naming_it() {
    // axum's own rejection was text/plain, which the
    // OpenAPI document (every error is `{"error": ...}`) did not allow.
    let app = app(api::DEFAULT_UPLOAD_LIMIT).await;
    let (_, key) = app.tenant("acme").await;
    let (status, body) = app
        .call(Method::GET, "/jobs?limit=-1", Some(&key), None)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let error = body["error"].as_str().expect("a JSON error");
    assert!(error.contains("limit"), "{error}");
    let (status, _) = app
        .call(Method::GET, "/jobs?limit=2", Some(&key), None)
        .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn serves_on_a_real_socket() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    let app = app(api::DEFAULT_UPLOAD_LIMIT).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    let server = tokio::spawn(axum::serve(listener, app.router.clone()).into_future());

    let mut socket = tokio::net::TcpStream::connect(addr).await.expect("connect");
    socket
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .expect("write");
    let mut response = String::new();
    tokio::time::timeout(
        Duration::from_secs(10),
        socket.read_to_string(&mut response),
    )
    .await
    .expect("answered within 10 s")
    .expect("read");
    assert!(response.starts_with("HTTP/1.1 200 OK"), "{response}");
    assert!(response.ends_with("ok"), "{response}");
    server.abort();
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    any(missing = "ffmpeg", missing = "espeak-ng"),
    ignore = "needs ffmpeg and espeak-ng (apt-get install ffmpeg espeak-ng)"
)]
async fn a_job_submitted_over_http_runs_and_delivers_its_outputs() {
    let app = app(api::DEFAULT_UPLOAD_LIMIT).await;
    let (_, key) = app.tenant("acme").await;
    let (_, other) = app.tenant("globex").await;
    let tmp = tempfile::tempdir().expect("tempdir");
    let video_path = tmp.path().join("clip.mp4");
    kino_tests::test_video(&video_path, 4, "320x240", true);
    let video = app
        .input(&key, std::fs::read(&video_path).expect("read"), "clip.mp4")
        .await;
    let srt = "1\n00:00:00,500 --> 00:00:02,500\nHello from the API.\n";
    let transcript = app.input(&key, srt.as_bytes().to_vec(), "clip.srt").await;

    // Another tenant cannot name this tenant's uploads.
    let (status, error) = app
        .call(
            Method::POST,
            "/jobs",
            Some(&other),
            Some(json!({ "pipeline": "caption", "inputs": { "video": video, "transcript": transcript } })),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        error["error"]
            .as_str()
            .unwrap_or("")
            .contains("uploaded nothing"),
        "{error}"
    );

    // Inputs that do not match the pipeline are refused up front.
    let (status, error) = app
        .call(
            Method::POST,
            "/jobs",
            Some(&key),
            Some(json!({ "pipeline": "caption", "inputs": { "transcript": transcript } })),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        error["error"].as_str().unwrap_or("").contains("video"),
        "{error}"
    );
    let (status, error) = app
        .call(
            Method::POST,
            "/jobs",
            Some(&key),
            Some(json!({ "pipeline": "remix", "inputs": {} })),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        error["error"]
            .as_str()
            .unwrap_or("")
            .contains("no pipeline named `remix`"),
        "{error}"
    );

    tokio::spawn(app.jobs.clone().work(1));
    let (status, job) = app
        .call(
            Method::POST,
            "/jobs",
            Some(&key),
            Some(json!({ "pipeline": "caption", "inputs": { "video": video, "transcript": transcript } })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{job}");
    let id = job["id"].as_str().expect("id").to_owned();
    let state = tokio::time::timeout(Duration::from_secs(300), async {
        loop {
            let (_, job) = app
                .call(Method::GET, &format!("/jobs/{id}"), Some(&key), None)
                .await;
            if job["state"] == "completed" || job["state"] == "failed" {
                return job;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await
    .expect("the job finishes");
    assert_eq!(state["state"], "completed", "{state}");

    let request = |key: &str, name: &str| {
        Request::get(format!("/jobs/{id}/outputs/{name}"))
            .header(header::AUTHORIZATION, format!("Bearer {key}"))
            .body(Body::empty())
            .expect("request")
    };
    let response = app
        .router
        .clone()
        .oneshot(request(&key, "captioned.mp4"))
        .await
        .expect("infallible");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[header::CONTENT_TYPE], "video/mp4");
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body");
    let out = tmp.path().join("out.mp4");
    std::fs::write(&out, &bytes).expect("write");
    let info = kino_media::probe(&out).expect("a real mp4");
    assert!(info.video().is_some() && info.audio().is_some());
    // Another tenant, or a name the pipeline does not declare: not found.
    for (k, name) in [
        (other.as_str(), "captioned.mp4"),
        (key.as_str(), "../kino.db"),
    ] {
        let response = app
            .router
            .clone()
            .oneshot(request(k, name))
            .await
            .expect("infallible");
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{name}");
    }
}

/// Polls a job until it has finished; answers its last state.
async fn finished(app: &App, key: &str, id: &str) -> Value {
    tokio::time::timeout(Duration::from_secs(300), async {
        loop {
            let (_, job) = app
                .call(Method::GET, &format!("/jobs/{id}"), Some(key), None)
                .await;
            if job["state"] == "completed" || job["state"] == "failed" {
                return job;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await
    .expect("the job finishes")
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    any(missing = "ffmpeg", missing = "espeak-ng"),
    ignore = "needs ffmpeg and espeak-ng (apt-get install ffmpeg espeak-ng)"
)]
async fn an_ad_made_over_http_can_have_its_scenes_edited() {
    let app = app(api::DEFAULT_UPLOAD_LIMIT).await;
    kino_pipeline::local::install_bundled(runtime(), &app.registry, &kino_tests::bundled_plugins())
        .expect("installing the reference plugins");
    let (tenant, key) = app.tenant("acme").await;
    let (_, other) = app.tenant("globex").await;
    for (slot, plugin) in [
        ("script-strategy", "kino-script-arc@^0.1"),
        ("director-style", "kino-director-styles@^0.1"),
        ("grader", "kino-grader-palette@^0.1"),
    ] {
        let (status, body) = app
            .call(
                Method::PUT,
                &format!("/admin/tenants/{tenant}/bindings/{slot}"),
                Some(ADMIN),
                Some(json!({ "plugin": plugin })),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let examples = kino_tests::workspace_root().join("examples");
    let brief = std::fs::read_to_string(examples.join("brief.toml"))
        .expect("brief")
        .replace("target-length-s = 30", "target-length-s = 8");
    let brief = app.input(&key, brief.into_bytes(), "brief.toml").await;
    let product = app
        .input(
            &key,
            std::fs::read(examples.join("assets/product.png")).expect("png"),
            "product.png",
        )
        .await;
    tokio::spawn(app.jobs.clone().work(2));
    let (status, job) = app
        .call(
            Method::POST,
            "/jobs",
            Some(&key),
            Some(json!({ "pipeline": "ad-creative",
                         "inputs": { "brief": brief, "product": product, "size": "320x180" } })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{job}");
    let id = job["id"].as_str().expect("id").to_owned();
    let done = finished(&app, &key, &id).await;
    assert_eq!(done["state"], "completed", "{done}");
    // Each plugin's calls and fuel are counted.
    let (_, metrics) = app.call(Method::GET, "/metrics", None, None).await;
    let metrics = metrics.as_str().expect("text");
    let calls = metrics
        .lines()
        .find(|l| {
            l.starts_with("kino_plugin_usage_calls_total{plugin=\"kino-director-styles@0.1.0\"}")
        })
        .unwrap_or_else(|| panic!("director calls counted: {metrics}"));
    assert!(!calls.ends_with(" 0"), "{calls}");
    assert!(
        metrics.contains("kino_plugin_usage_fuel_total{plugin=\"kino-grader-palette@0.1.0\"}"),
        "{metrics}"
    );

    let (status, plan) = app
        .call(Method::GET, &format!("/jobs/{id}/scenes"), Some(&key), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{plan}");
    let shots = plan["shots"].as_array().expect("shots");
    assert!(shots.len() >= 2, "{plan}");
    let (status, _) = app
        .call(
            Method::GET,
            &format!("/jobs/{id}/scenes"),
            Some(&other),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "another tenant's job");

    let (status, error) = app
        .call(
            Method::POST,
            &format!("/jobs/{id}/edits"),
            Some(&key),
            Some(json!({ "scenes": { "99": { "narration": "x" } } })),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        error["error"].as_str().unwrap_or("").contains("scene 99"),
        "{error}"
    );

    // Reverse the scenes and retitle scene 1.
    let order: Vec<u64> = shots
        .iter()
        .rev()
        .map(|s| s["id"].as_u64().expect("id"))
        .collect();
    let (status, edited) = app
        .call(
            Method::POST,
            &format!("/jobs/{id}/edits"),
            Some(&key),
            Some(json!({ "order": order, "scenes": { "1": { "on-screen-text": "Edited over HTTP" } } })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{edited}");
    check_edit(&app, &key, &id, &edited).await;
}

async fn check_edit(app: &App, key: &str, original: &str, edited: &Value) {
    let new_id = edited["id"].as_str().expect("id").to_owned();
    assert_ne!(new_id, original);
    let done = finished(app, key, &new_id).await;
    assert_eq!(done["state"], "completed", "{done}");
    let (_, plan) = app
        .call(
            Method::GET,
            &format!("/jobs/{new_id}/scenes"),
            Some(key),
            None,
        )
        .await;
    let texts: Vec<&str> = plan["shots"]
        .as_array()
        .expect("shots")
        .iter()
        .map(|s| s["scene"]["on_screen_text"].as_str().unwrap_or(""))
        .collect();
    assert!(texts.contains(&"Edited over HTTP"), "{plan}");
    // Both renders can be downloaded: the original is kept.
    for job in [original, new_id.as_str()] {
        let request = Request::get(format!("/jobs/{job}/outputs/ad.mp4"))
            .header(header::AUTHORIZATION, format!("Bearer {key}"))
            .body(Body::empty())
            .expect("request");
        let response = app
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("infallible");
        assert_eq!(response.status(), StatusCode::OK, "{job}");
    }
}

/// A pipeline spec file: subtitles in, WebVTT out.
const TO_VTT: &str = r#"name = "to-vtt"
description = "A transcript as WebVTT"

[inputs]
transcript = { kind = "file", description = "SRT or WebVTT" }

[[stage]]
name = "segments"
op = "parse-subtitles"
inputs = ["transcript"]

[[stage]]
name = "vtt"
op = "write-subtitles"
inputs = ["segments"]
params = { format = "vtt" }

[outputs]
"captions.vtt" = "vtt"
"#;

fn names(listed: &Value) -> Vec<String> {
    listed["pipelines"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|p| p["name"].as_str().expect("a name").to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn operators_pipelines_are_listed_and_run_over_http() {
    let app = app(api::DEFAULT_UPLOAD_LIMIT).await;
    let (acme_id, acme) = app.tenant("acme").await;
    let (_, globex) = app.tenant("globex").await;
    let pipelines = app._tmp.path().join("pipelines");
    std::fs::create_dir_all(pipelines.join("tenants").join(&acme_id)).expect("mkdir");
    std::fs::write(pipelines.join("to-vtt.toml"), TO_VTT).expect("write");
    std::fs::write(
        pipelines
            .join("tenants")
            .join(&acme_id)
            .join("acme-only.toml"),
        TO_VTT.replace("to-vtt", "acme-only"),
    )
    .expect("write");
    std::fs::write(
        pipelines.join("broken.toml"),
        TO_VTT
            .replace("to-vtt", "broken")
            .replace("\"segments\"]", "\"segmnets\"]"),
    )
    .expect("write");

    // Each tenant sees the built-ins, the operator's files, and its own.
    let (status, listed) = app.call(Method::GET, "/pipelines", Some(&acme), None).await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    assert_eq!(
        names(&listed),
        ["dub", "caption", "ad-creative", "acme-only", "to-vtt"]
    );
    let (_, listed) = app
        .call(Method::GET, "/pipelines", Some(&globex), None)
        .await;
    assert_eq!(names(&listed), ["dub", "caption", "ad-creative", "to-vtt"]);
    let to_vtt = &listed["pipelines"][3];
    assert_eq!(to_vtt["source"], "file");
    assert_eq!(to_vtt["outputs"], json!(["captions.vtt"]));
    assert_eq!(to_vtt["inputs"]["transcript"]["kind"], "file");
    // The operator sees why a file does not load, line and column.
    let (status, all) = app
        .call(Method::GET, "/admin/pipelines", Some(ADMIN), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{all}");
    let errors = all["errors"].to_string();
    assert!(
        errors.contains("broken.toml:15:11: stage `vtt`: reads `segmnets`, which is neither an input nor a stage"),
        "{errors}"
    );

    let srt = "1\n00:00:00,500 --> 00:00:02,500\nHello from a file pipeline.\n";
    let transcript = app
        .input(&globex, srt.as_bytes().to_vec(), "talk.srt")
        .await;
    // A tenant's own pipeline is not another's.
    let (status, error) = app
        .call(
            Method::POST,
            "/jobs",
            Some(&globex),
            Some(json!({ "pipeline": "acme-only", "inputs": { "transcript": transcript } })),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        error.to_string().contains("no pipeline named `acme-only`"),
        "{error}"
    );

    tokio::spawn(app.jobs.clone().work(1));
    let (status, job) = app
        .call(
            Method::POST,
            "/jobs",
            Some(&globex),
            Some(json!({ "pipeline": "to-vtt", "inputs": { "transcript": transcript } })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{job}");
    let id = job["id"].as_str().expect("id").to_owned();
    let sha256 = {
        use sha2::Digest as _;
        hex::encode(sha2::Sha256::digest(TO_VTT.as_bytes()))
    };
    assert_eq!(job["pipeline_sha256"], sha256.as_str());
    let done = finished(&app, &globex, &id).await;
    assert_eq!(done["state"], "completed", "{done}");

    // Editing the file later changes nothing about the finished job.
    std::fs::write(
        pipelines.join("to-vtt.toml"),
        TO_VTT.replace("captions.vtt", "subtitles.vtt"),
    )
    .expect("write");
    let (status, vtt) = app
        .call(
            Method::GET,
            &format!("/jobs/{id}/outputs/captions.vtt"),
            Some(&globex),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let vtt = vtt.as_str().expect("text").to_owned();
    assert!(
        vtt.starts_with("WEBVTT") && vtt.contains("Hello from a file pipeline."),
        "{vtt}"
    );
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(missing = "ffmpeg", ignore = "needs ffmpeg (apt-get install ffmpeg)")]
async fn a_native_kernel_runs_in_a_job_submitted_over_http() {
    // The operator installs the C example kernel and a pipeline using it
    // before the host starts.
    let tmp = tempfile::tempdir().expect("temp dir");
    kino_native::install(
        &crate::operator::example_kernels()[0],
        &tmp.path().join("kernels"),
        None,
        SignaturePolicy::Optional,
        &[],
    )
    .expect("install");
    std::fs::create_dir_all(tmp.path().join("pipelines")).expect("mkdir");
    std::fs::write(
        tmp.path().join("pipelines/sharpen.toml"),
        r#"name = "sharpen"
[inputs]
video = { kind = "file" }
[[stage]]
name = "sharp"
op = "native:unsharp-mask"
inputs = ["video"]
params = { amount = 1.0 }
[outputs]
"sharp.mp4" = "sharp"
"#,
    )
    .expect("write");
    let app = app_in(
        tmp,
        api::DEFAULT_UPLOAD_LIMIT,
        SignaturePolicy::Optional,
        Vec::new(),
    )
    .await;
    let (_, key) = app.tenant("acme").await;
    let (_, listed) = app.call(Method::GET, "/pipelines", Some(&key), None).await;
    let sharpen = listed["pipelines"]
        .as_array()
        .expect("list")
        .iter()
        .find(|p| p["name"] == "sharpen")
        .cloned()
        .expect("listed");
    assert_eq!(sharpen["native_kernels"], json!(["unsharp-mask"]));

    let clip = tempfile::tempdir().expect("temp dir");
    let video_path = clip.path().join("clip.mp4");
    kino_tests::test_video(&video_path, 2, "160x120", true);
    let video = app
        .input(&key, std::fs::read(&video_path).expect("read"), "clip.mp4")
        .await;
    tokio::spawn(app.jobs.clone().work(1));
    let (status, job) = app
        .call(
            Method::POST,
            "/jobs",
            Some(&key),
            Some(json!({ "pipeline": "sharpen", "inputs": { "video": video } })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{job}");
    let id = job["id"].as_str().expect("id").to_owned();
    let done = finished(&app, &key, &id).await;
    assert_eq!(done["state"], "completed", "{done}");
    let (status, stages) = app
        .call(Method::GET, &format!("/jobs/{id}/events"), Some(&key), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        stages.to_string().contains("native:unsharp-mask"),
        "{stages}"
    );
    let response = app
        .router
        .clone()
        .oneshot(
            Request::get(format!("/jobs/{id}/outputs/sharp.mp4"))
                .header(header::AUTHORIZATION, format!("Bearer {key}"))
                .body(Body::empty())
                .expect("request"),
        )
        .await
        .expect("infallible");
    assert_eq!(response.status(), StatusCode::OK);
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body");
    let out = clip.path().join("sharp.mp4");
    std::fs::write(&out, &bytes).expect("write");
    let info = kino_media::probe(&out).expect("a real mp4");
    assert!(info.video().is_some() && info.audio().is_some());
}

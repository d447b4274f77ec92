//! The admin and tenant HTTP API (axum), served by `kino serve`.
//!
//! - Admin routes (`/admin/...`) need `Authorization: Bearer <admin token>`;
//!   the host keeps only the token's SHA-256 and compares digests in constant
//!   time.
//! - Tenant routes (`/jobs...`) need `Authorization: Bearer <tenant API key>`.
//!   A tenant only ever sees its own jobs: another tenant's job is a 404.
//! - `/healthz`, `/metrics` (Prometheus) and `/openapi.json` are open.
//!
//! Every route is declared once in [`ROUTES`]: the router and the OpenAPI
//! document are both built from that table, so they cannot drift apart.
//!
//! Jobs are checked against their pipeline's inputs, recorded `pending` with a
//! `created` event, and run by the [`JobQueue`] in the background; their
//! input files are uploaded first (`POST /inputs`) and referenced by hash.
//!
//! Uploads (`POST /inputs`, `POST /admin/plugins`) are streamed to disk,
//! refused with 413 before their body is read when they declare more than
//! the upload limit, and with 503 + `Retry-After` when the uploads in flight
//! hold the whole [`UploadBudget`]; [`serve::serve_on`] bounds connections
//! and the time to send headers.
//!
//! Every error is `{"error": "..."}` ([`ApiError`]): 4xx bodies say what was
//! wrong, 500 bodies are opaque and the cause is logged, a 503 says which
//! limit is reached.

mod admin;
mod auth;
mod error;
#[doc(hidden)]
pub mod fuzzing;
mod metrics;
mod openapi;
mod pipelines;
pub mod serve;
mod tenant;
mod upload;

use std::sync::Arc;

use axum::routing::{MethodRouter, delete, get, post, put};
use axum::{Extension, Router};
use kino_registry::{SignaturePolicy, VerifyingKey};

pub use auth::admin_token_hash;
pub use error::{ApiError, Json};
pub use metrics::Metrics;
pub use openapi::openapi;
pub use upload::{DEFAULT_UPLOAD_BUDGET, UPLOAD_RETRY_AFTER_SECS, UploadBudget};

use kino_pipeline::worker::JobQueue;
use kino_runtime::Runtime;
use kino_store::Store;

/// The default largest upload (an input file or a plugin package): 64 MiB.
pub const DEFAULT_UPLOAD_LIMIT: usize = 64 << 20;

/// Everything the handlers share. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// The job/metadata store.
    pub store: Store,
    /// The plugin registry.
    pub registry: kino_registry::Store,
    /// The plugin runtime (compiles uploads to check them).
    pub runtime: Runtime,
    /// The SHA-256 of the admin token ([`admin_token_hash`]).
    pub admin_token_hash: [u8; 32],
    /// Keys whose signatures the registry trusts.
    pub trusted_keys: Arc<[VerifyingKey]>,
    /// Whether uploads must be signed.
    pub signature_policy: SignaturePolicy,
    /// The largest upload (an input file or a plugin package), in bytes.
    pub upload_limit: usize,
    /// The Prometheus metrics.
    pub metrics: Metrics,
    /// The job queue: submitted jobs run here, uploads land in its artifact store.
    pub jobs: JobQueue,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("registry", &self.registry)
            .field("signature_policy", &self.signature_policy)
            .field("upload_limit", &self.upload_limit)
            .finish_non_exhaustive()
    }
}

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone.
    Open,
    /// The operator, with the admin token.
    Admin,
    /// A tenant, with its API key.
    Tenant,
}

/// One route of the API: how it is served and how it is documented.
#[derive(Clone, Copy)]
pub struct Route {
    /// The HTTP method, lowercase (`get`, `post`, ...).
    pub method: &'static str,
    /// The path template, axum/OpenAPI style (`/jobs/{id}`).
    pub path: &'static str,
    /// A one-line summary.
    pub summary: &'static str,
    /// Who may call it.
    pub access: Access,
    /// The request body: its content type and a description, if it takes one.
    pub body: Option<(&'static str, &'static str)>,
    /// The responses it documents: status and description.
    pub responses: &'static [(u16, &'static str)],
    /// The handler.
    handler: fn(&AppState) -> MethodRouter<AppState>,
}

impl std::fmt::Debug for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.method.to_uppercase(), self.path)
    }
}

const JSON: &str = "application/json";

/// An upload's 413, as the route table documents it.
const UPLOAD_TOO_LARGE: &str = "over the upload limit: answered before the body is read when \
     `Content-Length` declares it (no `100 Continue`), else as soon as the body passes it";

/// An upload's 503, as the route table documents it.
const UPLOAD_BUSY: &str = "the uploads in flight hold the server's whole upload budget; \
     retry after `Retry-After` seconds";

/// Every route of the API.
pub const ROUTES: &[Route] = &[
    Route {
        method: "get",
        path: "/healthz",
        summary: "Liveness: 200 with `ok`",
        access: Access::Open,
        body: None,
        responses: &[(200, "alive")],
        handler: |_| get(|| async { "ok" }),
    },
    Route {
        method: "get",
        path: "/metrics",
        summary: "Prometheus metrics (OpenMetrics text)",
        access: Access::Open,
        body: None,
        responses: &[(200, "the metrics")],
        handler: |_| get(metrics::metrics),
    },
    Route {
        method: "get",
        path: "/openapi.json",
        summary: "This document",
        access: Access::Open,
        body: None,
        responses: &[(200, "the OpenAPI 3.1 document")],
        handler: |_| get(|| async { axum::Json(openapi()) }),
    },
    Route {
        method: "post",
        path: "/admin/tenants",
        summary: "Create a tenant",
        access: Access::Admin,
        body: Some((JSON, "`{\"name\": \"acme\"}`")),
        responses: &[(201, "`{id, name}`"), (409, "the name is taken")],
        handler: |_| post(admin::create_tenant),
    },
    Route {
        method: "get",
        path: "/admin/tenants",
        summary: "List tenants with their bindings, secret names and live key count",
        access: Access::Admin,
        body: None,
        responses: &[(
            200,
            "`[{id, name, created_at, bindings, secrets, live_keys}]`",
        )],
        handler: |_| get(admin::list_tenants),
    },
    Route {
        method: "post",
        path: "/admin/tenants/{id}/keys",
        summary: "Issue a tenant API key; the plaintext is shown only in this answer",
        access: Access::Admin,
        body: None,
        responses: &[(201, "`{id, key}`"), (404, "no such tenant")],
        handler: |_| post(admin::issue_key),
    },
    Route {
        method: "delete",
        path: "/admin/tenants/{id}/keys/{key_id}",
        summary: "Revoke a tenant API key",
        access: Access::Admin,
        body: None,
        responses: &[(204, "revoked"), (404, "no such live key")],
        handler: |_| delete(admin::revoke_key),
    },
    Route {
        method: "put",
        path: "/admin/tenants/{id}/bindings/{slot}",
        summary: "Bind a plugin to a tenant's pipeline slot",
        access: Access::Admin,
        body: Some((
            JSON,
            "`{\"plugin\": \"name@^1.2\", \"config\": {k: v}, \"grants\": [\"https://host\"]}`; \
             the config is checked against the plugin's schema, grants against its requested hosts",
        )),
        responses: &[
            (200, "the binding"),
            (404, "no such tenant, or no installed version matches"),
            (422, "the config or a grant is refused"),
        ],
        handler: |_| put(admin::set_binding),
    },
    Route {
        method: "put",
        path: "/admin/tenants/{id}/secrets/{name}",
        summary: "Set a tenant secret (write-only: never returned)",
        access: Access::Admin,
        body: Some((JSON, "`{\"value\": \"...\"}`")),
        responses: &[(204, "set"), (404, "no such tenant")],
        handler: |_| put(admin::set_secret),
    },
    Route {
        method: "post",
        path: "/admin/plugins",
        summary: "Upload and install a plugin package (.tar.gz)",
        access: Access::Admin,
        body: Some(("application/gzip", "the package archive")),
        responses: &[
            (201, "the installed version"),
            (409, "the same version is installed with other contents"),
            (413, UPLOAD_TOO_LARGE),
            (422, "the package is refused, with the reason"),
            (503, UPLOAD_BUSY),
        ],
        handler: |_| post(admin::install_plugin),
    },
    Route {
        method: "get",
        path: "/admin/pipelines",
        summary: "Every pipeline (built in, and the operator's spec files), and why a spec file does not load",
        access: Access::Admin,
        body: None,
        responses: &[(
            200,
            "`{\"pipelines\": [...], \"errors\": [\"file:line:column: ...\"]}`",
        )],
        handler: |_| get(pipelines::list_all),
    },
    Route {
        method: "get",
        path: "/pipelines",
        summary: "The pipelines this tenant can submit jobs to: inputs, outputs, plugin slots",
        access: Access::Tenant,
        body: None,
        responses: &[(200, "`{\"pipelines\": [...]}`")],
        handler: |_| get(pipelines::list),
    },
    Route {
        method: "get",
        path: "/admin/plugins",
        summary: "List installed plugin versions",
        access: Access::Admin,
        body: None,
        responses: &[(200, "the installed versions")],
        handler: |_| get(admin::list_plugins),
    },
    Route {
        method: "get",
        path: "/admin/plugins/{name}/{version}",
        summary: "One installed plugin version",
        access: Access::Admin,
        body: None,
        responses: &[(200, "the version"), (404, "not installed")],
        handler: |_| get(admin::get_plugin),
    },
    Route {
        method: "delete",
        path: "/admin/plugins/{name}/{version}",
        summary: "Remove a plugin version (refused while a binding uses it)",
        access: Access::Admin,
        body: None,
        responses: &[
            (204, "removed"),
            (404, "not installed"),
            (409, "bound by a tenant"),
        ],
        handler: |_| delete(admin::remove_plugin),
    },
    Route {
        method: "post",
        path: "/admin/plugins/{name}/{version}/yank",
        summary: "Yank a plugin version: installed, but never resolved again",
        access: Access::Admin,
        body: None,
        responses: &[(200, "the yanked version"), (404, "not installed")],
        handler: |_| post(admin::yank_plugin),
    },
    Route {
        method: "post",
        path: "/inputs",
        summary: "Upload an input file; answers its sha256 for a job's `inputs`",
        access: Access::Tenant,
        body: Some(("application/octet-stream", "the file")),
        responses: &[
            (201, "`{sha256, size}`"),
            (413, UPLOAD_TOO_LARGE),
            (503, UPLOAD_BUSY),
        ],
        handler: |_| post(tenant::upload_input),
    },
    Route {
        method: "post",
        path: "/jobs",
        summary: "Submit a job; it is queued and run in the background",
        access: Access::Tenant,
        body: Some((
            JSON,
            "`{\"pipeline\": \"dub\", \"inputs\": {\"video\": {\"sha256\": \"...\", \"name\": \"clip.mp4\"}, \"language\": \"es\"}}`",
        )),
        responses: &[
            (201, "the job, `pending`"),
            (422, "no such pipeline, or the inputs do not match it"),
        ],
        handler: |_| post(tenant::submit_job),
    },
    Route {
        method: "get",
        path: "/jobs",
        summary: "The tenant's own jobs, newest first (`?limit=`, default 100)",
        access: Access::Tenant,
        body: None,
        responses: &[(200, "the jobs")],
        handler: |_| get(tenant::list_jobs),
    },
    Route {
        method: "get",
        path: "/jobs/{id}",
        summary: "One of the tenant's jobs",
        access: Access::Tenant,
        body: None,
        responses: &[(200, "the job"), (404, "no such job of this tenant")],
        handler: |_| get(tenant::get_job),
    },
    Route {
        method: "get",
        path: "/jobs/{id}/events",
        summary: "The job's events as server-sent events; ends when the job completes or fails",
        access: Access::Tenant,
        body: None,
        responses: &[
            (200, "`text/event-stream`"),
            (404, "no such job of this tenant"),
        ],
        handler: |_| get(tenant::job_events),
    },
    Route {
        method: "get",
        path: "/jobs/{id}/scenes",
        summary: "The scenes of a completed ad-creative job, in playing order, with their ids",
        access: Access::Tenant,
        body: None,
        responses: &[
            (200, "the scene plan"),
            (404, "no such job of this tenant"),
            (409, "not a completed ad-creative job"),
        ],
        handler: |_| get(tenant::job_scenes),
    },
    Route {
        method: "post",
        path: "/jobs/{id}/edits",
        summary: "Edit scenes (text, prompt, style, order, trim, regenerate): a new job that reuses every unchanged artifact",
        access: Access::Tenant,
        body: Some((
            JSON,
            "`{\"order\": [2, 0, 1], \"scenes\": {\"1\": {\"narration\": \"...\", \"on-screen-text\": \"...\", \"visual\": \"...\", \"style\": \"noir-high-contrast\", \"trim\": [500, 3000], \"take\": 1}}}`",
        )),
        responses: &[
            (201, "the new job, `pending`; the original is kept"),
            (404, "no such job of this tenant"),
            (409, "not a completed ad-creative job"),
            (422, "the edits do not fit the job's scenes"),
        ],
        handler: |_| post(tenant::edit_job),
    },
    Route {
        method: "get",
        path: "/jobs/{id}/outputs/{name}",
        summary: "Download one output of a completed job (`dubbed.mp4`, `ad.mp4`, ...)",
        access: Access::Tenant,
        body: None,
        responses: &[
            (200, "the file"),
            (404, "no such job of this tenant, or no such output (yet)"),
        ],
        handler: |_| get(tenant::job_output),
    },
];

/// The API's router, built from [`ROUTES`], counting requests into the
/// metrics, with an upload budget of [`DEFAULT_UPLOAD_BUDGET`].
pub fn router(state: AppState) -> Router {
    router_with(state, UploadBudget::new(DEFAULT_UPLOAD_BUDGET))
}

/// [`router`], its uploads sharing `uploads` (the bytes of uploads in flight).
pub fn router_with(state: AppState, uploads: UploadBudget) -> Router {
    ROUTES
        .iter()
        .fold(Router::new(), |router, route| {
            router.route(route.path, (route.handler)(&state))
        })
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            metrics::track,
        ))
        .fallback(|| async { ApiError::NotFound("no such endpoint".into()) })
        .layer(Extension(uploads))
        .with_state(state)
}

//! The admin and tenant HTTP API (axum), served by `kino serve`.
//!
//! - Admin routes (`/admin/...`) need `Authorization: Bearer <admin token>`;
//!   the host keeps only the token's SHA-256 and compares digests in constant
//!   time.
//! - Tenant routes (`/jobs...`) need `Authorization: Bearer <tenant API key>`.
//!   A tenant only ever sees its own jobs: another tenant's job is a 404.
//! - `/healthz`, `/metrics` (Prometheus) and `/openapi.json` are open, and so
//!   is the web console's static front end (`/console`, [`console`]), which
//!   calls the routes above with the credential its user types.
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
mod console;
mod error;
#[doc(hidden)]
pub mod fuzzing;
mod metrics;
mod openapi;
mod pipelines;
pub mod serve;
mod tenant;
mod upload;
mod voices;
pub mod worker;

use std::sync::Arc;

use axum::routing::{MethodRouter, delete, get, post, put};
use axum::{Extension, Router};
use kino_registry::{SignaturePolicy, VerifyingKey};
use serde_json::json;

pub use auth::admin_token_hash;
pub use error::{ApiError, Json, Query};
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
    /// Its parameters: every query parameter, and the path parameters
    /// whose values are constrained (the others are any string).
    pub params: &'static [Param],
    /// The request body, if it takes one.
    pub body: Option<Body>,
    /// What it answers besides the errors every route of its kind can
    /// answer (401 without credentials, 400/415/422 for a JSON body, 400 for
    /// a bad query), which the OpenAPI document adds.
    pub responses: &'static [Reply],
    /// The handler.
    handler: fn(&AppState) -> MethodRouter<AppState>,
}

/// A parameter: where it is, its name, what it means and its JSON Schema.
#[derive(Debug, Clone, Copy)]
pub struct Param {
    /// In the path or in the query.
    pub location: Location,
    /// The name (`limit`).
    pub name: &'static str,
    /// What it does.
    pub description: &'static str,
    /// Its JSON Schema.
    pub schema: fn() -> serde_json::Value,
}

/// Where a parameter is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Location {
    /// A segment of the path template (`{id}`).
    Path,
    /// The query string.
    Query,
}

/// A request body.
#[derive(Debug, Clone, Copy)]
pub enum Body {
    /// JSON conforming to a schema of [`openapi::schemas`], by name.
    Json(&'static str),
    /// Bytes of a content type, described.
    Bytes(&'static str, &'static str),
}

/// One documented answer of a route.
#[derive(Debug, Clone, Copy)]
pub struct Reply {
    /// The status code.
    pub status: u16,
    /// What it means here.
    pub description: &'static str,
    /// What its body is.
    pub content: Content,
}

/// What a reply's body is.
#[derive(Debug, Clone, Copy)]
pub enum Content {
    /// No body.
    Empty,
    /// JSON conforming to a schema of [`openapi::schemas`], by name.
    Json(&'static str),
    /// A JSON array of one schema of [`openapi::schemas`].
    JsonList(&'static str),
    /// `{"error": "..."}`.
    Error,
    /// Text or bytes, in any of these content types.
    Raw(&'static [&'static str]),
}

impl Reply {
    const fn json(status: u16, description: &'static str, schema: &'static str) -> Self {
        Self {
            status,
            description,
            content: Content::Json(schema),
        }
    }

    const fn list(status: u16, description: &'static str, schema: &'static str) -> Self {
        Self {
            status,
            description,
            content: Content::JsonList(schema),
        }
    }

    const fn error(status: u16, description: &'static str) -> Self {
        Self {
            status,
            description,
            content: Content::Error,
        }
    }

    const fn empty(status: u16, description: &'static str) -> Self {
        Self {
            status,
            description,
            content: Content::Empty,
        }
    }

    const fn raw(status: u16, description: &'static str, types: &'static [&'static str]) -> Self {
        Self {
            status,
            description,
            content: Content::Raw(types),
        }
    }
}

impl std::fmt::Debug for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.method.to_uppercase(), self.path)
    }
}

/// An upload's 413, as the route table documents it.
const UPLOAD_TOO_LARGE: Reply = Reply::error(
    413,
    "over the upload limit: answered before the body is read when \
     `Content-Length` declares it (no `100 Continue`), else as soon as the body passes it",
);

/// An upload's 503, as the route table documents it.
const UPLOAD_BUSY: Reply = Reply::error(
    503,
    "the uploads in flight hold the server's whole upload budget; \
     retry after `Retry-After` seconds",
);

/// A tenant's id in the path: any other value is a 404.
const TENANT_ID: Param = Param {
    location: Location::Path,
    name: "id",
    description: "the tenant's id",
    schema: openapi::id,
};

/// A plugin name and version in the path.
const PLUGIN_VERSION: &[Param] = &[
    Param {
        location: Location::Path,
        name: "name",
        description: "the plugin's name",
        schema: || json!({ "type": "string", "minLength": 2, "maxLength": 64, "pattern": "^[a-z](-?[a-z0-9])+$" }),
    },
    Param {
        location: Location::Path,
        name: "version",
        description: "a semver version",
        // Release versions (pre-releases are versions too, but nothing
        // rejects them either: not installed is a 404 all the same).
        schema: || json!({ "type": "string", "pattern": r"^(0|[1-9][0-9]{0,17})\.(0|[1-9][0-9]{0,17})\.(0|[1-9][0-9]{0,17})$" }),
    },
];

/// A job's id in the path: any other value is a 404.
const JOB_ID: Param = Param {
    location: Location::Path,
    name: "id",
    description: "the job's id",
    schema: openapi::id,
};

/// A tenant's job that is not there (or is another tenant's).
const NO_JOB: Reply = Reply::error(404, "no such job of this tenant");

/// A tenant that is not there.
const NO_TENANT: Reply = Reply::error(404, "no such tenant");

/// No such plugin version in the registry.
const NOT_INSTALLED: Reply = Reply::error(404, "not installed");

/// A plugin name or version in the path that cannot be one.
const BAD_PLUGIN_PATH: Reply = Reply::error(400, "not a plugin name, or not a semver version");

/// Every route of the API.
pub const ROUTES: &[Route] = &[
    Route {
        method: "get",
        path: "/healthz",
        summary: "Liveness: 200 with `ok`",
        access: Access::Open,
        params: &[],
        body: None,
        responses: &[Reply::raw(200, "alive", &["text/plain"])],
        handler: |_| get(|| async { "ok" }),
    },
    Route {
        method: "get",
        path: "/metrics",
        summary: "Prometheus metrics (OpenMetrics text)",
        access: Access::Open,
        params: &[],
        body: None,
        responses: &[Reply::raw(
            200,
            "the metrics",
            &["application/openmetrics-text"],
        )],
        handler: |_| get(metrics::metrics),
    },
    Route {
        method: "get",
        path: "/openapi.json",
        summary: "This document",
        access: Access::Open,
        params: &[],
        body: None,
        responses: &[Reply::raw(
            200,
            "the OpenAPI 3.1 document",
            &["application/json"],
        )],
        handler: |_| get(|| async { axum::Json(openapi()) }),
    },
    Route {
        method: "post",
        path: "/admin/tenants",
        summary: "Create a tenant",
        access: Access::Admin,
        params: &[],
        body: Some(Body::Json("NewTenant")),
        responses: &[
            Reply::json(201, "the tenant", "Tenant"),
            Reply::error(409, "the name is taken"),
        ],
        handler: |_| post(admin::create_tenant),
    },
    Route {
        method: "get",
        path: "/admin/tenants",
        summary: "List tenants with their bindings, secret names and live key count",
        access: Access::Admin,
        params: &[],
        body: None,
        responses: &[Reply::list(200, "every tenant", "TenantSummary")],
        handler: |_| get(admin::list_tenants),
    },
    Route {
        method: "post",
        path: "/admin/tenants/{id}/keys",
        summary: "Issue a tenant API key; the plaintext is shown only in this answer",
        access: Access::Admin,
        params: &[TENANT_ID],
        body: None,
        responses: &[Reply::json(201, "the key", "IssuedKey"), NO_TENANT],
        handler: |_| post(admin::issue_key),
    },
    Route {
        method: "get",
        path: "/admin/tenants/{id}/keys",
        summary: "A tenant's API keys: ids, display prefixes, issue and revoke times (never the keys)",
        access: Access::Admin,
        params: &[TENANT_ID],
        body: None,
        responses: &[
            Reply::list(200, "the keys, oldest first", "ApiKey"),
            NO_TENANT,
        ],
        handler: |_| get(admin::list_keys),
    },
    Route {
        method: "delete",
        path: "/admin/tenants/{id}/keys/{key_id}",
        summary: "Revoke a tenant API key",
        access: Access::Admin,
        params: &[
            TENANT_ID,
            Param {
                location: Location::Path,
                name: "key_id",
                description: "the key's id",
                schema: openapi::id,
            },
        ],
        body: None,
        responses: &[
            Reply::empty(204, "revoked"),
            Reply::error(404, "no such live key"),
        ],
        handler: |_| delete(admin::revoke_key),
    },
    Route {
        method: "put",
        path: "/admin/tenants/{id}/bindings/{slot}",
        summary: "Bind a plugin to a tenant's pipeline slot; the config is checked against the \
                  plugin's schema, the grants against the hosts it requests",
        access: Access::Admin,
        params: &[
            TENANT_ID,
            Param {
                location: Location::Path,
                name: "slot",
                description: "a pipeline slot (`translator`, `director-style`, ...)",
                schema: || json!({ "enum": kino_pipeline::slots::known_slots().keys().collect::<Vec<_>>() }),
            },
        ],
        body: Some(Body::Json("BindingRequest")),
        responses: &[
            Reply::json(200, "the binding", "Binding"),
            Reply::error(404, "no such tenant, or no installed version matches"),
            Reply::error(
                422,
                "the body is not a binding, or the slot, the config or a grant is refused",
            ),
        ],
        handler: |_| put(admin::set_binding),
    },
    Route {
        method: "put",
        path: "/admin/tenants/{id}/secrets/{name}",
        summary: "Set a tenant secret (write-only: never returned)",
        access: Access::Admin,
        params: &[
            TENANT_ID,
            Param {
                location: Location::Path,
                name: "name",
                description: "the secret's name, as a grant names it",
                schema: openapi::not_blank,
            },
        ],
        body: Some(Body::Json("SecretRequest")),
        responses: &[
            Reply::empty(204, "set"),
            Reply::error(400, "the body is malformed, or the name is blank"),
            NO_TENANT,
        ],
        handler: |_| put(admin::set_secret),
    },
    Route {
        method: "put",
        path: "/admin/tenants/{id}/quota",
        summary: "Set how many of a tenant's nodes workers run at once (null: no limit)",
        access: Access::Admin,
        params: &[TENANT_ID],
        body: Some(Body::Json("Quota")),
        responses: &[
            Reply::json(200, "the quota now", "Quota"),
            Reply::error(400, "the body is malformed"),
            NO_TENANT,
        ],
        handler: |_| put(admin::set_quota),
    },
    Route {
        method: "post",
        path: "/admin/plugins",
        summary: "Upload and install a plugin package (.tar.gz)",
        access: Access::Admin,
        params: &[],
        body: Some(Body::Bytes("application/gzip", "the package archive")),
        responses: &[
            Reply::json(201, "the installed version", "InstalledVersion"),
            Reply::error(400, "the body is empty"),
            Reply::error(409, "the same version is installed with other contents"),
            UPLOAD_TOO_LARGE,
            Reply::error(422, "the package is refused, with the reason"),
            UPLOAD_BUSY,
        ],
        handler: |_| post(admin::install_plugin),
    },
    Route {
        method: "get",
        path: "/admin/pipelines",
        summary: "Every pipeline (built in, and the operator's spec files), and why a spec file does not load",
        access: Access::Admin,
        params: &[],
        body: None,
        responses: &[Reply::json(
            200,
            "the pipelines, and the errors of spec files that do not load",
            "AdminPipelines",
        )],
        handler: |_| get(pipelines::list_all),
    },
    Route {
        method: "get",
        path: "/pipelines",
        summary: "The pipelines this tenant can submit jobs to: inputs, outputs, plugin slots",
        access: Access::Tenant,
        params: &[],
        body: None,
        responses: &[Reply::json(200, "the pipelines", "Pipelines")],
        handler: |_| get(pipelines::list),
    },
    Route {
        method: "get",
        path: "/admin/plugins",
        summary: "List installed plugin versions",
        access: Access::Admin,
        params: &[],
        body: None,
        responses: &[Reply::list(
            200,
            "the installed versions",
            "InstalledVersion",
        )],
        handler: |_| get(admin::list_plugins),
    },
    Route {
        method: "get",
        path: "/admin/plugins/{name}/{version}",
        summary: "One installed plugin version",
        access: Access::Admin,
        params: PLUGIN_VERSION,
        body: None,
        responses: &[
            Reply::json(200, "the version", "InstalledVersion"),
            BAD_PLUGIN_PATH,
            NOT_INSTALLED,
        ],
        handler: |_| get(admin::get_plugin),
    },
    Route {
        method: "get",
        path: "/admin/plugins/{name}/{version}/manifest",
        summary: "What a binding needs of a plugin version: its config entries and the hosts it requests",
        access: Access::Admin,
        params: PLUGIN_VERSION,
        body: None,
        responses: &[
            Reply::json(
                200,
                "the manifest's binding-relevant parts",
                "PluginManifest",
            ),
            BAD_PLUGIN_PATH,
            NOT_INSTALLED,
        ],
        handler: |_| get(admin::get_manifest),
    },
    Route {
        method: "delete",
        path: "/admin/plugins/{name}/{version}",
        summary: "Remove a plugin version (refused while a binding uses it)",
        access: Access::Admin,
        params: PLUGIN_VERSION,
        body: None,
        responses: &[
            Reply::empty(204, "removed"),
            BAD_PLUGIN_PATH,
            NOT_INSTALLED,
            Reply::error(409, "bound by a tenant"),
        ],
        handler: |_| delete(admin::remove_plugin),
    },
    Route {
        method: "post",
        path: "/admin/plugins/{name}/{version}/yank",
        summary: "Yank a plugin version: installed, but never resolved again; bindings made \
                  before keep it until they are rebound",
        access: Access::Admin,
        params: PLUGIN_VERSION,
        body: None,
        responses: &[
            Reply::json(
                200,
                "the yanked version, and the bindings that keep it",
                "YankedVersion",
            ),
            BAD_PLUGIN_PATH,
            NOT_INSTALLED,
        ],
        handler: |_| post(admin::yank_plugin),
    },
    Route {
        method: "get",
        path: "/me",
        summary: "The tenant this API key belongs to",
        access: Access::Tenant,
        params: &[],
        body: None,
        responses: &[Reply::json(200, "the tenant", "Tenant")],
        handler: |_| get(tenant::me),
    },
    Route {
        method: "post",
        path: "/inputs",
        summary: "Upload an input file; answers its sha256 for a job's `inputs`",
        access: Access::Tenant,
        params: &[],
        body: Some(Body::Bytes("application/octet-stream", "the file")),
        responses: &[
            Reply::json(201, "the stored file", "Uploaded"),
            Reply::error(400, "the body is empty"),
            UPLOAD_TOO_LARGE,
            UPLOAD_BUSY,
        ],
        handler: |_| post(tenant::upload_input),
    },
    Route {
        method: "post",
        path: "/voices",
        summary: "Make a voice from uploaded recordings of one speaker with the tenant's speech \
                  plugin (voice cloning); a dub's `voice` names it",
        access: Access::Tenant,
        params: &[],
        body: Some(Body::Json("NewVoice")),
        responses: &[
            Reply::json(201, "the voice", "Voice"),
            Reply::error(
                409,
                "the tenant has a voice of that name, or binds no speech plugin",
            ),
            Reply::error(
                422,
                "the body is not a voice, or a sample is not an upload of this tenant",
            ),
            Reply::error(502, "the speech plugin or its backend failed or refused"),
        ],
        handler: |_| post(voices::create_voice),
    },
    Route {
        method: "get",
        path: "/voices",
        summary: "The tenant's voices",
        access: Access::Tenant,
        params: &[],
        body: None,
        responses: &[Reply::list(200, "the voices, by name", "Voice")],
        handler: |_| get(voices::list_voices),
    },
    Route {
        method: "delete",
        path: "/voices/{name}",
        summary: "Forget a voice (the backend keeps its own copy)",
        access: Access::Tenant,
        params: &[Param {
            location: Location::Path,
            name: "name",
            description: "the voice's name",
            schema: openapi::not_blank,
        }],
        body: None,
        responses: &[
            Reply::empty(204, "forgotten"),
            Reply::error(404, "no such voice of this tenant"),
        ],
        handler: |_| delete(voices::delete_voice),
    },
    Route {
        method: "post",
        path: "/jobs",
        summary: "Submit a job; it is queued and run in the background",
        access: Access::Tenant,
        params: &[],
        body: Some(Body::Json("NewJob")),
        responses: &[
            Reply::json(201, "the job, `pending`", "Job"),
            Reply::error(
                422,
                "the body is not a job, there is no such pipeline, or the inputs do not match it",
            ),
        ],
        handler: |_| post(tenant::submit_job),
    },
    Route {
        method: "get",
        path: "/jobs",
        summary: "The tenant's own jobs, newest first",
        access: Access::Tenant,
        params: &[Param {
            location: Location::Query,
            name: "limit",
            description: "the most jobs to list (default 100)",
            schema: openapi::u32,
        }],
        body: None,
        responses: &[Reply::list(200, "the jobs", "Job")],
        handler: |_| get(tenant::list_jobs),
    },
    Route {
        method: "get",
        path: "/jobs/{id}",
        summary: "One of the tenant's jobs",
        access: Access::Tenant,
        params: &[JOB_ID],
        body: None,
        responses: &[Reply::json(200, "the job", "Job"), NO_JOB],
        handler: |_| get(tenant::get_job),
    },
    Route {
        method: "get",
        path: "/jobs/{id}/events",
        summary: "The job's events as server-sent events (`id`, `event` = its kind, `data` = \
                  `{at, kind, data}`); ends when the job completes or fails; `Last-Event-ID` resumes",
        access: Access::Tenant,
        params: &[JOB_ID],
        body: None,
        responses: &[
            Reply::raw(200, "the event stream", &["text/event-stream"]),
            NO_JOB,
        ],
        handler: |_| get(tenant::job_events),
    },
    Route {
        method: "get",
        path: "/jobs/{id}/scenes",
        summary: "The scenes of a completed ad-creative job, in playing order, with their ids",
        access: Access::Tenant,
        params: &[JOB_ID],
        body: None,
        responses: &[
            Reply::json(200, "the scene plan", "ScenePlan"),
            NO_JOB,
            Reply::error(409, "not a completed ad-creative job"),
        ],
        handler: |_| get(tenant::job_scenes),
    },
    Route {
        method: "post",
        path: "/jobs/{id}/edits",
        summary: "Edit scenes (text, prompt, style, order, trim, regenerate): a new job that reuses every unchanged artifact",
        access: Access::Tenant,
        params: &[JOB_ID],
        body: Some(Body::Json("Edits")),
        responses: &[
            Reply::json(201, "the new job, `pending`; the original is kept", "Job"),
            NO_JOB,
            Reply::error(409, "not a completed ad-creative job"),
            Reply::error(
                422,
                "the body is not edits, or the edits do not fit the job's scenes",
            ),
        ],
        handler: |_| post(tenant::edit_job),
    },
    Route {
        method: "get",
        path: "/jobs/{id}/outputs/{name}",
        summary: "Download one output of a completed job (`dubbed.mp4`, `ad.mp4`, ...)",
        access: Access::Tenant,
        params: &[
            JOB_ID,
            Param {
                location: Location::Path,
                name: "name",
                description: "an output the job's pipeline declares",
                schema: || json!({ "type": "string" }),
            },
        ],
        body: None,
        responses: &[
            Reply::raw(
                200,
                "the file",
                &[
                    "video/mp4",
                    "application/json",
                    "text/vtt",
                    "application/x-subrip",
                    "application/octet-stream",
                ],
            ),
            Reply::error(404, "no such job of this tenant, or no such output (yet)"),
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
        .merge(console::routes())
        .fallback(|| async { ApiError::NotFound("no such endpoint".into()) })
        .layer(Extension(uploads))
        .with_state(state)
}

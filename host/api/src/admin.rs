//! The operator's endpoints: tenants, API keys, plugins, bindings, secrets.

use std::collections::BTreeMap;

use anyhow::Context as _;
use axum::Extension;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use kino_registry::{InstalledVersion, Origin, PluginName, RegistryError, parse_requirement};
use serde::{Deserialize, Serialize};

use super::auth::Admin;
use super::upload::{self, UploadBudget};
use super::{ApiError, AppState, Json};
use kino_pipeline::slots::GrantSpec;
use kino_runtime::plugins;
use kino_store::{ApiKeyId, Binding, NewBinding, NewPluginVersion, TenantId};

/// `POST /admin/tenants` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewTenant {
    name: String,
}

/// A tenant as the API shows it.
#[derive(Debug, Serialize)]
pub struct TenantView {
    id: TenantId,
    name: String,
}

/// A freshly issued key: the only time its plaintext is shown.
#[derive(Debug, Serialize)]
pub struct IssuedKeyView {
    id: ApiKeyId,
    key: String,
}

/// `PUT /admin/tenants/{id}/bindings/{slot}` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BindingRequest {
    plugin: String,
    #[serde(default)]
    config: BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    grants: Vec<serde_json::Value>,
}

/// Reads one grant: an origin string, or an object with a credential.
fn grant(value: &serde_json::Value) -> Result<GrantSpec, ApiError> {
    let bad = |why: String| ApiError::Unprocessable(format!("grant {value}: {why}"));
    match value {
        serde_json::Value::String(text) => text
            .parse::<Origin>()
            .map(GrantSpec::Origin)
            .map_err(|e: RegistryError| bad(e.to_string())),
        serde_json::Value::Object(_) => {
            #[derive(Deserialize)]
            #[serde(deny_unknown_fields)]
            struct Raw {
                origin: String,
                secret: String,
                header: Option<String>,
                prefix: Option<String>,
            }
            let raw: Raw = serde_json::from_value(value.clone()).map_err(|e| {
                bad(format!(
                    "{e}; a grant object has `origin`, `secret` and optionally `header`, `prefix`"
                ))
            })?;
            let origin = raw
                .origin
                .parse::<Origin>()
                .map_err(|e: RegistryError| bad(e.to_string()))?;
            if raw.secret.trim().is_empty() {
                return Err(bad(
                    "`secret` names the tenant secret to inject; it cannot be empty".into(),
                ));
            }
            Ok(GrantSpec::WithCredential {
                origin,
                secret: raw.secret,
                header: raw.header,
                prefix: raw.prefix,
            })
        }
        _ => Err(bad("a grant is an origin string or an object".into())),
    }
}

/// `PUT /admin/tenants/{id}/secrets/{name}` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretRequest {
    value: String,
}

fn tenant_id(id: &str) -> Result<TenantId, ApiError> {
    id.parse()
        .map_err(|_| ApiError::NotFound(format!("tenant {id} not found")))
}

async fn existing_tenant(state: &AppState, id: &str) -> Result<TenantId, ApiError> {
    let id = tenant_id(id)?;
    match state.store.get_tenant(&id).await? {
        Some(tenant) => Ok(tenant.id),
        None => Err(ApiError::NotFound(format!("tenant {id} not found"))),
    }
}

fn plugin_version(name: &str, version: &str) -> Result<(PluginName, semver::Version), ApiError> {
    let parsed_name = name
        .parse()
        .map_err(|e: RegistryError| ApiError::BadRequest(e.to_string()))?;
    let parsed_version = version
        .parse()
        .map_err(|e| ApiError::BadRequest(format!("`{version}` is not a semver version: {e}")))?;
    Ok((parsed_name, parsed_version))
}

/// Runs blocking registry work off the async threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .context("a registry task panicked")?
}

pub(super) async fn create_tenant(
    _: Admin,
    State(state): State<AppState>,
    Json(body): Json<NewTenant>,
) -> Result<(StatusCode, Json<TenantView>), ApiError> {
    if body.name.trim().is_empty() {
        return Err(ApiError::Unprocessable(
            "a tenant name cannot be empty".into(),
        ));
    }
    let tenant = state.store.create_tenant(&body.name).await?;
    Ok((
        StatusCode::CREATED,
        Json(TenantView {
            id: tenant.id,
            name: tenant.name,
        }),
    ))
}

/// One tenant as `GET /admin/tenants` lists it: its bindings, and the
/// names (never the values) of its secrets.
#[derive(Debug, Serialize)]
pub struct TenantSummary {
    id: TenantId,
    name: String,
    created_at: i64,
    bindings: Vec<kino_store::Binding>,
    secrets: Vec<String>,
    live_keys: usize,
}

pub(super) async fn list_tenants(
    _: Admin,
    State(state): State<AppState>,
) -> Result<Json<Vec<TenantSummary>>, ApiError> {
    let mut out = Vec::new();
    for tenant in state.store.list_tenants().await? {
        let bindings = state.store.list_bindings(&tenant.id).await?;
        let secrets = state.store.secret_names(&tenant.id).await?;
        let live_keys = state
            .store
            .list_api_keys(&tenant.id)
            .await?
            .iter()
            .filter(|k| k.revoked_at.is_none())
            .count();
        out.push(TenantSummary {
            id: tenant.id,
            name: tenant.name,
            created_at: tenant.created_at,
            bindings,
            secrets,
            live_keys,
        });
    }
    Ok(Json(out))
}

pub(super) async fn issue_key(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<IssuedKeyView>), ApiError> {
    let tenant = existing_tenant(&state, &id).await?;
    let issued = state.store.issue_api_key(&tenant).await?;
    Ok((
        StatusCode::CREATED,
        Json(IssuedKeyView {
            id: issued.record.id,
            key: issued.key,
        }),
    ))
}

pub(super) async fn list_keys(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Vec<kino_store::ApiKey>>, ApiError> {
    let tenant = existing_tenant(&state, &id).await?;
    Ok(Json(state.store.list_api_keys(&tenant).await?))
}

pub(super) async fn revoke_key(
    _: Admin,
    State(state): State<AppState>,
    Path((id, key_id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let tenant = existing_tenant(&state, &id).await?;
    let not_found =
        || ApiError::NotFound(format!("live key {key_id} of tenant {tenant} not found"));
    let key: ApiKeyId = key_id.parse().map_err(|_| not_found())?;
    if state.store.revoke_api_key(&tenant, &key).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(not_found())
    }
}

/// Streams the package to a scratch file (see [`upload::receive`]), then
/// installs it from there.
pub(super) async fn install_plugin(
    _: Admin,
    State(state): State<AppState>,
    Extension(budget): Extension<UploadBudget>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<InstalledVersion>), ApiError> {
    let received = upload::receive(
        "package",
        "upload.tar.gz",
        state.upload_limit,
        &budget,
        state.jobs.executor().artifacts(),
        &headers,
        body,
    )
    .await?;
    if received.size() == 0 {
        return Err(ApiError::BadRequest(
            "the body must be the package (.tar.gz)".into(),
        ));
    }
    let worker = state.clone();
    let installed = blocking(move || {
        let (path, dir) = (received.path(), received.dir());
        plugins::install(
            &worker.runtime,
            &worker.registry,
            path,
            worker.signature_policy,
            &worker.trusted_keys,
        )
        .map_err(|err| {
            // Name the upload, not the temporary file it was written to.
            let hide = |m: String| m.replace(&path.display().to_string(), "upload");
            // Reading the upload itself failed: it is not a readable archive.
            let unreadable = err.chain().any(|e| {
                matches!(
                    e.downcast_ref::<RegistryError>(),
                    Some(RegistryError::Io { path: p, .. }) if p.starts_with(dir)
                )
            });
            if unreadable {
                return ApiError::Unprocessable(format!(
                    "the upload is not a readable .tar.gz package: {}",
                    hide(
                        err.chain()
                            .find_map(|e| e.downcast_ref::<RegistryError>())
                            .map_or_else(|| err.to_string(), ToString::to_string)
                    )
                ));
            }
            match ApiError::from(err) {
                ApiError::Unprocessable(m) => ApiError::Unprocessable(hide(m)),
                ApiError::Conflict(m) => ApiError::Conflict(hide(m)),
                ApiError::NotFound(m) => ApiError::Unprocessable(hide(m)),
                other => other,
            }
        })
    })
    .await?;
    state
        .store
        .upsert_plugin_version(&NewPluginVersion {
            name: installed.name.to_string(),
            version: installed.version.to_string(),
            world: installed.world.to_string(),
            component_sha256: installed.component.as_str().to_owned(),
            package_digest: installed.package_digest.clone(),
            signer: installed.signer.as_ref().map(|k| k.as_str().to_owned()),
        })
        .await?;
    Ok((StatusCode::CREATED, Json(installed)))
}

pub(super) async fn list_plugins(
    _: Admin,
    State(state): State<AppState>,
) -> Result<Json<Vec<InstalledVersion>>, ApiError> {
    let registry = state.registry.clone();
    Ok(Json(blocking(move || Ok(registry.list()?)).await?))
}

pub(super) async fn get_plugin(
    _: Admin,
    State(state): State<AppState>,
    Path((name, version)): Path<(String, String)>,
) -> Result<Json<InstalledVersion>, ApiError> {
    let (name, version) = plugin_version(&name, &version)?;
    let registry = state.registry.clone();
    Ok(Json(
        blocking(move || Ok(registry.get_version(&name, &version)?)).await?,
    ))
}

/// What a binding form needs of a plugin version's manifest.
#[derive(Debug, Serialize)]
pub struct PluginManifestView {
    name: String,
    version: String,
    world: String,
    description: String,
    outbound_hosts: Vec<String>,
    config: Vec<ConfigEntryView>,
}

/// One `[[config]]` entry of a manifest.
#[derive(Debug, Serialize)]
pub struct ConfigEntryView {
    key: String,
    #[serde(rename = "type")]
    ty: &'static str,
    default: Option<String>,
    description: String,
    required: bool,
    values: Vec<String>,
}

pub(super) async fn get_manifest(
    _: Admin,
    State(state): State<AppState>,
    Path((name, version)): Path<(String, String)>,
) -> Result<Json<PluginManifestView>, ApiError> {
    let (name, version) = plugin_version(&name, &version)?;
    let registry = state.registry.clone();
    let (installed, manifest) = blocking(move || {
        let installed = registry.get_version(&name, &version)?;
        let manifest = registry.manifest(&installed)?;
        Ok((installed, manifest))
    })
    .await?;
    Ok(Json(PluginManifestView {
        name: installed.name.to_string(),
        version: installed.version.to_string(),
        world: installed.world.to_string(),
        description: manifest.description().to_owned(),
        outbound_hosts: manifest
            .outbound_hosts()
            .iter()
            .map(ToString::to_string)
            .collect(),
        config: manifest
            .config()
            .iter()
            .map(|entry| ConfigEntryView {
                key: entry.key.clone(),
                ty: entry.ty.name(),
                default: entry.default.as_ref().map(ToString::to_string),
                description: entry.description.clone(),
                required: entry.required,
                values: entry.values.clone(),
            })
            .collect(),
    }))
}

pub(super) async fn yank_plugin(
    _: Admin,
    State(state): State<AppState>,
    Path((name, version)): Path<(String, String)>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let (name, version) = plugin_version(&name, &version)?;
    let registry = state.registry.clone();
    let yanked = blocking(move || {
        registry.yank(&name, &version)?;
        Ok(registry.get_version(&name, &version)?)
    })
    .await?;
    let (plugin, version) = (yanked.name.as_str(), yanked.version.to_string());
    state.store.set_yanked(plugin, &version, true).await?;
    // A yank stops new uses; bindings made before keep the version until
    // they are rebound (their jobs' events say so): the answer names them.
    let still_bound: Vec<serde_json::Value> = state
        .store
        .bindings_using(plugin, &version)
        .await?
        .into_iter()
        .map(|b| serde_json::json!({ "tenant": b.tenant_id, "slot": b.slot, "requirement": b.requirement }))
        .collect();
    if !still_bound.is_empty() {
        tracing::warn!(
            "{plugin}@{version} is yanked but still bound ({} bindings keep it until rebound)",
            still_bound.len()
        );
    }
    let mut answer = serde_json::to_value(&yanked).map_err(anyhow::Error::from)?;
    answer["still_bound"] = serde_json::Value::Array(still_bound);
    Ok(Json(answer))
}

pub(super) async fn remove_plugin(
    _: Admin,
    State(state): State<AppState>,
    Path((name, version)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let (name, version) = plugin_version(&name, &version)?;
    let users = state
        .store
        .bindings_using(name.as_str(), &version.to_string())
        .await?;
    if !users.is_empty() {
        return Err(ApiError::Conflict(format!(
            "{name}@{version} is used by {} binding(s); rebind them first",
            users.len()
        )));
    }
    let registry = state.registry.clone();
    let (n, v) = (name.clone(), version.clone());
    blocking(move || Ok(registry.remove(&n, &v, |_, _| false)?)).await?;
    state
        .store
        .remove_plugin_version(name.as_str(), &version.to_string())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

fn config_text(key: &str, value: &serde_json::Value) -> Result<String, ApiError> {
    match value {
        serde_json::Value::String(s) => Ok(s.clone()),
        serde_json::Value::Number(n) => Ok(n.to_string()),
        serde_json::Value::Bool(b) => Ok(b.to_string()),
        _ => Err(ApiError::Unprocessable(format!(
            "config key `{key}` must be a string, number or boolean"
        ))),
    }
}

pub(super) async fn set_binding(
    _: Admin,
    State(state): State<AppState>,
    Path((id, slot)): Path<(String, String)>,
    Json(body): Json<BindingRequest>,
) -> Result<Json<Binding>, ApiError> {
    let tenant = existing_tenant(&state, &id).await?;
    let (name, requirement) = parse_requirement(&body.plugin)?;
    let registry = state.registry.clone();
    let plugin = body.plugin.clone();
    let manifest = blocking(move || {
        let installed = registry.resolve(&plugin)?;
        Ok(registry.manifest(&installed)?)
    })
    .await?;
    kino_pipeline::slots::check_slot(&slot, manifest.world().world)
        .map_err(|e| ApiError::Unprocessable(format!("{e:#}")))?;
    let given = body
        .config
        .iter()
        .map(|(k, v)| Ok((k.clone(), config_text(k, v)?)))
        .collect::<Result<BTreeMap<_, _>, ApiError>>()?;
    manifest
        .validate_config(&given)
        .map_err(|e| ApiError::Unprocessable(e.to_string()))?;
    let grants = body
        .grants
        .iter()
        .map(grant)
        .collect::<Result<Vec<_>, _>>()?;
    for grant in &grants {
        let origin = grant.origin();
        let requested = manifest.outbound_hosts().iter().any(|h| {
            h.to_string() == origin.to_string()
                || h.matches(origin.scheme().as_str(), origin.host(), origin.port())
        });
        if !requested {
            return Err(ApiError::Unprocessable(format!(
                "{name} does not request outbound host `{origin}`; it cannot be granted"
            )));
        }
    }
    let binding = state
        .store
        .set_binding(
            &tenant,
            &NewBinding {
                slot,
                plugin_name: name.to_string(),
                requirement: requirement.to_string(),
                config: serde_json::to_value(&given).context("encoding a binding's config")?,
                grants: serde_json::to_value(&grants).context("encoding grants")?,
            },
        )
        .await?;
    Ok(Json(binding))
}

pub(super) async fn set_secret(
    _: Admin,
    State(state): State<AppState>,
    Path((id, name)): Path<(String, String)>,
    Json(body): Json<SecretRequest>,
) -> Result<StatusCode, ApiError> {
    let tenant = existing_tenant(&state, &id).await?;
    if name.trim().is_empty() {
        return Err(ApiError::BadRequest("a secret name cannot be empty".into()));
    }
    state.store.set_secret(&tenant, &name, &body.value).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `PUT /admin/tenants/{id}/quota` body and answer: how many of the
/// tenant's nodes workers run at once; `null` for no limit.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Quota {
    /// Required, `null` included: a body that forgot it must not lift the limit.
    #[serde(default, deserialize_with = "present")]
    node_quota: Option<Option<u32>>,
}

/// A field that is there, `null` or not.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<u32>>, D::Error> {
    Option::<u32>::deserialize(d).map(Some)
}

pub(super) async fn set_quota(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Json(body): Json<Quota>,
) -> Result<Json<Quota>, ApiError> {
    let tenant = existing_tenant(&state, &id).await?;
    let Some(quota) = body.node_quota else {
        return Err(ApiError::Unprocessable(
            "`node_quota` is required: a number of nodes, or null for no limit".into(),
        ));
    };
    state.store.set_tenant_node_quota(&tenant, quota).await?;
    Ok(Json(body))
}

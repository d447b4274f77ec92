//! Installed plugin versions, tenant bindings of plugins to pipeline slots, and
//! tenant secrets.

use std::fmt;

use anyhow::Context as _;

use super::{Dialect as _, JobId, Store, StoreError, TenantId, now_ms, parse_column, parse_json};

/// A plugin version as the registry installed it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PluginVersion {
    /// Plugin name.
    pub name: String,
    /// Semver version.
    pub version: String,
    /// The `kino:stage` world it implements.
    pub world: String,
    /// SHA-256 (hex) of the component.
    pub component_sha256: String,
    /// Digest of the whole package.
    pub package_digest: String,
    /// Who signed it, if it was signed.
    pub signer: Option<String>,
    /// When it was first installed, in ms since the Unix epoch.
    pub installed_at: i64,
    /// Yanked versions are not picked by resolution, but keep running where pinned.
    pub yanked: bool,
    /// Disabled versions are not run at all.
    pub enabled: bool,
}

/// What [`Store::upsert_plugin_version`] records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPluginVersion {
    /// Plugin name.
    pub name: String,
    /// Semver version.
    pub version: String,
    /// The `kino:stage` world it implements.
    pub world: String,
    /// SHA-256 (hex) of the component.
    pub component_sha256: String,
    /// Digest of the whole package.
    pub package_digest: String,
    /// Who signed it, if it was signed.
    pub signer: Option<String>,
}

/// A tenant's choice of plugin for one pipeline slot.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Binding {
    /// Whose binding.
    pub tenant_id: TenantId,
    /// The pipeline slot (`director-style`, `translator`, ...).
    pub slot: String,
    /// Plugin name.
    pub plugin_name: String,
    /// Semver requirement (`^1.2`, `=1.2.3`).
    pub requirement: String,
    /// Plugin configuration.
    pub config: serde_json::Value,
    /// Capabilities granted to the plugin (outbound hosts, ...).
    pub grants: serde_json::Value,
    /// Last change, in ms since the Unix epoch.
    pub updated_at: i64,
}

/// What [`Store::set_binding`] records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewBinding {
    /// The pipeline slot.
    pub slot: String,
    /// Plugin name.
    pub plugin_name: String,
    /// Semver requirement.
    pub requirement: String,
    /// Plugin configuration.
    pub config: serde_json::Value,
    /// Capabilities granted to the plugin.
    pub grants: serde_json::Value,
}

/// A secret's value, for the host to inject; `Debug` leaves it out.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretValue(String);

impl SecretValue {
    /// The plaintext. Never log it, never return it to a tenant or a plugin.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretValue(<redacted>)")
    }
}

#[derive(sqlx::FromRow)]
struct PluginVersionRow {
    name: String,
    version: String,
    world: String,
    component_sha256: String,
    package_digest: String,
    signer: Option<String>,
    installed_at: i64,
    yanked: bool,
    enabled: bool,
}

impl From<PluginVersionRow> for PluginVersion {
    fn from(row: PluginVersionRow) -> Self {
        Self {
            name: row.name,
            version: row.version,
            world: row.world,
            component_sha256: row.component_sha256,
            package_digest: row.package_digest,
            signer: row.signer,
            installed_at: row.installed_at,
            yanked: row.yanked,
            enabled: row.enabled,
        }
    }
}

const PLUGIN_VERSION_COLUMNS: &str =
    "name, version, world, component_sha256, package_digest, signer, installed_at, yanked, enabled";

#[derive(sqlx::FromRow)]
struct BindingRow {
    tenant_id: String,
    slot: String,
    plugin_name: String,
    requirement: String,
    config_json: String,
    grants_json: String,
    updated_at: i64,
}

impl TryFrom<BindingRow> for Binding {
    type Error = anyhow::Error;

    fn try_from(row: BindingRow) -> anyhow::Result<Self> {
        Ok(Self {
            tenant_id: parse_column("bindings.tenant_id", &row.tenant_id)?,
            slot: row.slot,
            plugin_name: row.plugin_name,
            requirement: row.requirement,
            config: parse_json("bindings.config_json", &row.config_json)?,
            grants: parse_json("bindings.grants_json", &row.grants_json)?,
            updated_at: row.updated_at,
        })
    }
}

/// Whether `requirement` could resolve to `version`. Anything that does not parse
/// counts as a match: when in doubt, a version is in use.
fn requirement_matches(requirement: &str, version: &semver::Version) -> bool {
    semver::VersionReq::parse(requirement).map_or(true, |req| req.matches(version))
}

impl Store {
    /// Records an installed plugin version, or updates the record of a reinstall
    /// (keeping its first install time, yanked and enabled flags).
    pub async fn upsert_plugin_version(
        &self,
        new: &NewPluginVersion,
    ) -> anyhow::Result<PluginVersion> {
        let context = || format!("recording plugin {}@{}", new.name, new.version);
        with_pool!(self, |pool| sqlx::query(pool.sql(
            "INSERT INTO plugin_versions \
             (name, version, world, component_sha256, package_digest, signer, installed_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?) \
             ON CONFLICT (name, version) DO UPDATE SET \
             world = excluded.world, component_sha256 = excluded.component_sha256, \
             package_digest = excluded.package_digest, signer = excluded.signer"
        ))
        .bind(&new.name)
        .bind(&new.version)
        .bind(&new.world)
        .bind(&new.component_sha256)
        .bind(&new.package_digest)
        .bind(new.signer.as_deref())
        .bind(now_ms())
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))
        .with_context(context)?;
        self.plugin_version(&new.name, &new.version)
            .await?
            .with_context(context)
    }

    /// One plugin version, if installed.
    pub async fn plugin_version(
        &self,
        name: &str,
        version: &str,
    ) -> anyhow::Result<Option<PluginVersion>> {
        let sql = format!(
            "SELECT {PLUGIN_VERSION_COLUMNS} FROM plugin_versions WHERE name = ? AND version = ?"
        );
        Ok(
            with_pool!(self, |pool| sqlx::query_as::<_, PluginVersionRow>(
                pool.sql(sql)
            )
            .bind(name)
            .bind(version)
            .fetch_optional(pool)
            .await)
            .with_context(|| format!("reading plugin {name}@{version}"))?
            .map(PluginVersion::from),
        )
    }

    /// Installed versions of one plugin (`Some(name)`) or of all plugins, by name
    /// then install time. Semver ordering is the registry's business.
    pub async fn list_plugin_versions(
        &self,
        name: Option<&str>,
    ) -> anyhow::Result<Vec<PluginVersion>> {
        let sql = format!(
            "SELECT {PLUGIN_VERSION_COLUMNS} FROM plugin_versions \
             WHERE (? IS NULL OR name = ?) ORDER BY name, installed_at, version"
        );
        Ok(
            with_pool!(self, |pool| sqlx::query_as::<_, PluginVersionRow>(
                pool.sql(sql)
            )
            .bind(name)
            .bind(name)
            .fetch_all(pool)
            .await)
            .context("listing plugin versions")?
            .into_iter()
            .map(PluginVersion::from)
            .collect(),
        )
    }

    /// Marks a version yanked (or not). `false` if it is not installed.
    pub async fn set_yanked(
        &self,
        name: &str,
        version: &str,
        yanked: bool,
    ) -> anyhow::Result<bool> {
        let done = with_pool!(self, |pool| sqlx::query(
            pool.sql("UPDATE plugin_versions SET yanked = ? WHERE name = ? AND version = ?")
        )
        .bind(yanked)
        .bind(name)
        .bind(version)
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))
        .with_context(|| format!("yanking plugin {name}@{version}"))?;
        Ok(done == 1)
    }

    /// Enables or disables a version. `false` if it is not installed.
    pub async fn set_enabled(
        &self,
        name: &str,
        version: &str,
        enabled: bool,
    ) -> anyhow::Result<bool> {
        let done = with_pool!(self, |pool| sqlx::query(
            pool.sql("UPDATE plugin_versions SET enabled = ? WHERE name = ? AND version = ?")
        )
        .bind(enabled)
        .bind(name)
        .bind(version)
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))
        .with_context(|| format!("enabling plugin {name}@{version}"))?;
        Ok(done == 1)
    }

    /// Removes a version's record, refusing with [`StoreError::PluginVersionInUse`]
    /// while any binding's requirement matches it. `false` if it was not installed.
    ///
    /// The check and the delete are two statements: a binding set in between is
    /// not seen. Bindings are admin-paced, so this is accepted for now.
    pub async fn remove_plugin_version(&self, name: &str, version: &str) -> anyhow::Result<bool> {
        let users = self.bindings_using(name, version).await?;
        if !users.is_empty() {
            return Err(StoreError::PluginVersionInUse {
                name: name.to_owned(),
                version: version.to_owned(),
                count: users.len(),
            }
            .into());
        }
        let done = with_pool!(self, |pool| sqlx::query(
            pool.sql("DELETE FROM plugin_versions WHERE name = ? AND version = ?")
        )
        .bind(name)
        .bind(version)
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))
        .with_context(|| format!("removing plugin {name}@{version}"))?;
        Ok(done == 1)
    }

    /// Binds a plugin to one of the tenant's slots, replacing what was there.
    pub async fn set_binding(
        &self,
        tenant: &TenantId,
        new: &NewBinding,
    ) -> anyhow::Result<Binding> {
        let binding = Binding {
            tenant_id: tenant.clone(),
            slot: new.slot.clone(),
            plugin_name: new.plugin_name.clone(),
            requirement: new.requirement.clone(),
            config: new.config.clone(),
            grants: new.grants.clone(),
            updated_at: now_ms(),
        };
        with_pool!(self, |pool| sqlx::query(pool.sql(
            "INSERT INTO bindings \
             (tenant_id, slot, plugin_name, requirement, config_json, grants_json, updated_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?) \
             ON CONFLICT (tenant_id, slot) DO UPDATE SET \
             plugin_name = excluded.plugin_name, requirement = excluded.requirement, \
             config_json = excluded.config_json, grants_json = excluded.grants_json, \
             updated_at = excluded.updated_at"
        ))
        .bind(tenant.as_str())
        .bind(&binding.slot)
        .bind(&binding.plugin_name)
        .bind(&binding.requirement)
        .bind(binding.config.to_string())
        .bind(binding.grants.to_string())
        .bind(binding.updated_at)
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))
        .with_context(|| format!("binding slot {:?} of tenant {tenant}", new.slot))?;
        Ok(binding)
    }

    /// The tenant's binding for `slot`, if any.
    pub async fn get_binding(
        &self,
        tenant: &TenantId,
        slot: &str,
    ) -> anyhow::Result<Option<Binding>> {
        with_pool!(self, |pool| sqlx::query_as::<_, BindingRow>(pool.sql("SELECT tenant_id, slot, plugin_name, requirement, config_json, grants_json, updated_at \
             FROM bindings WHERE tenant_id = ? AND slot = ?"))
        .bind(tenant.as_str())
        .bind(slot)
        .fetch_optional(pool)
        .await)
        .with_context(|| format!("reading slot {slot:?} of tenant {tenant}"))?
        .map(Binding::try_from)
        .transpose()
    }

    /// Binds a plugin to one slot of one job, over the tenant's binding.
    pub async fn set_job_binding(&self, job: &JobId, new: &NewBinding) -> anyhow::Result<()> {
        with_pool!(self, |pool| sqlx::query(pool.sql(
            "INSERT INTO job_bindings \
             (job_id, slot, plugin_name, requirement, config_json, grants_json) \
             VALUES (?, ?, ?, ?, ?, ?) \
             ON CONFLICT (job_id, slot) DO UPDATE SET \
             plugin_name = excluded.plugin_name, requirement = excluded.requirement, \
             config_json = excluded.config_json, grants_json = excluded.grants_json"
        ))
        .bind(job.as_str())
        .bind(&new.slot)
        .bind(&new.plugin_name)
        .bind(&new.requirement)
        .bind(new.config.to_string())
        .bind(new.grants.to_string())
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))
        .with_context(|| format!("binding slot {:?} of job {job}", new.slot))?;
        Ok(())
    }

    /// The job's own binding for `slot`, if it was given one.
    pub async fn job_binding(&self, job: &JobId, slot: &str) -> anyhow::Result<Option<NewBinding>> {
        let row: Option<(String, String, String, String, String)> =
            with_pool!(self, |pool| sqlx::query_as(pool.sql(
                "SELECT slot, plugin_name, requirement, config_json, grants_json \
             FROM job_bindings WHERE job_id = ? AND slot = ?"
            ))
            .bind(job.as_str())
            .bind(slot)
            .fetch_optional(pool)
            .await)
            .with_context(|| format!("reading slot {slot:?} of job {job}"))?;
        row.map(|(slot, plugin_name, requirement, config, grants)| {
            Ok(NewBinding {
                slot,
                plugin_name,
                requirement,
                config: parse_json("job_bindings.config_json", &config)?,
                grants: parse_json("job_bindings.grants_json", &grants)?,
            })
        })
        .transpose()
    }

    /// All of the tenant's bindings, by slot.
    pub async fn list_bindings(&self, tenant: &TenantId) -> anyhow::Result<Vec<Binding>> {
        with_pool!(self, |pool| sqlx::query_as::<_, BindingRow>(pool.sql("SELECT tenant_id, slot, plugin_name, requirement, config_json, grants_json, updated_at \
             FROM bindings WHERE tenant_id = ? ORDER BY slot"))
        .bind(tenant.as_str())
        .fetch_all(pool)
        .await)
        .with_context(|| format!("listing bindings of tenant {tenant}"))?
        .into_iter()
        .map(Binding::try_from)
        .collect()
    }

    /// Unbinds a slot. `false` if it was not bound.
    pub async fn delete_binding(&self, tenant: &TenantId, slot: &str) -> anyhow::Result<bool> {
        let done = with_pool!(self, |pool| sqlx::query(
            pool.sql("DELETE FROM bindings WHERE tenant_id = ? AND slot = ?")
        )
        .bind(tenant.as_str())
        .bind(slot)
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))
        .with_context(|| format!("unbinding slot {slot:?} of tenant {tenant}"))?;
        Ok(done == 1)
    }

    /// Every binding, of any tenant, whose requirement `version` of `plugin_name`
    /// satisfies (an unparsable requirement or version counts as a match). Used by
    /// the operator to refuse removing a version that is still bound.
    pub async fn bindings_using(
        &self,
        plugin_name: &str,
        version: &str,
    ) -> anyhow::Result<Vec<Binding>> {
        let bindings = with_pool!(self, |pool| sqlx::query_as::<_, BindingRow>(pool.sql("SELECT tenant_id, slot, plugin_name, requirement, config_json, grants_json, updated_at \
             FROM bindings WHERE plugin_name = ? ORDER BY tenant_id, slot"))
        .bind(plugin_name)
        .fetch_all(pool)
        .await)
        .with_context(|| format!("finding bindings of {plugin_name}@{version}"))?
        .into_iter()
        .map(Binding::try_from)
        .collect::<anyhow::Result<Vec<_>>>()?;
        let Ok(version) = semver::Version::parse(version) else {
            return Ok(bindings);
        };
        Ok(bindings
            .into_iter()
            .filter(|b| requirement_matches(&b.requirement, &version))
            .collect())
    }

    /// Sets (or replaces) one of the tenant's secrets. Values are write-only from
    /// the API's side: there is no call that lists them.
    pub async fn set_secret(
        &self,
        tenant: &TenantId,
        name: &str,
        value: &str,
    ) -> anyhow::Result<()> {
        with_pool!(self, |pool| sqlx::query(pool.sql(
            "INSERT INTO secrets (tenant_id, name, value, updated_at) VALUES (?, ?, ?, ?) \
             ON CONFLICT (tenant_id, name) DO UPDATE SET \
             value = excluded.value, updated_at = excluded.updated_at"
        ))
        .bind(tenant.as_str())
        .bind(name)
        .bind(value)
        .bind(now_ms())
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))
        .with_context(|| format!("setting secret {name:?} of tenant {tenant}"))?;
        Ok(())
    }

    /// The names (never the values) of the tenant's secrets.
    pub async fn secret_names(&self, tenant: &TenantId) -> anyhow::Result<Vec<String>> {
        with_pool!(self, |pool| sqlx::query_scalar::<_, String>(
            pool.sql("SELECT name FROM secrets WHERE tenant_id = ? ORDER BY name")
        )
        .bind(tenant.as_str())
        .fetch_all(pool)
        .await)
        .with_context(|| format!("listing secrets of tenant {tenant}"))
    }

    /// Deletes a secret. `false` if there was none.
    pub async fn delete_secret(&self, tenant: &TenantId, name: &str) -> anyhow::Result<bool> {
        let done = with_pool!(self, |pool| sqlx::query(
            pool.sql("DELETE FROM secrets WHERE tenant_id = ? AND name = ?")
        )
        .bind(tenant.as_str())
        .bind(name)
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))
        .with_context(|| format!("deleting secret {name:?} of tenant {tenant}"))?;
        Ok(done == 1)
    }

    /// A secret's value, **for the host only** (to inject credentials into a plugin's
    /// outbound requests). Never hand it to a tenant or a plugin.
    pub async fn secret_value(
        &self,
        tenant: &TenantId,
        name: &str,
    ) -> anyhow::Result<Option<SecretValue>> {
        Ok(with_pool!(self, |pool| sqlx::query_scalar::<_, String>(
            pool.sql("SELECT value FROM secrets WHERE tenant_id = ? AND name = ?")
        )
        .bind(tenant.as_str())
        .bind(name)
        .fetch_optional(pool)
        .await)
        .with_context(|| format!("reading secret {name:?} of tenant {tenant}"))?
        .map(SecretValue))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requirements_match_like_cargo() -> anyhow::Result<()> {
        let v = semver::Version::parse("1.2.3")?;
        assert!(requirement_matches("^1.2", &v));
        assert!(requirement_matches("=1.2.3", &v));
        assert!(!requirement_matches("^2", &v));
        assert!(!requirement_matches("=1.2.4", &v));
        assert!(requirement_matches("not a requirement", &v));
        Ok(())
    }
}

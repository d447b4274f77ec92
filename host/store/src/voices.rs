//! Voices tenants made on speech backends (voice cloning).
//!
//! A speech plugin's `create-voice` answers the backend's id for the new
//! voice; the host keeps it here under the name the tenant chose, per
//! tenant, with the plugin (by name: any version talks to the same backend
//! account). A job then asks for the voice by name.

use anyhow::Context as _;

use crate::{Dialect as _, Store, StoreError, TenantId, is_unique_violation, now_ms, parse_column};

/// A voice a tenant made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredVoice {
    /// The tenant's name for it.
    pub name: String,
    /// The speech plugin that made it, by name.
    pub plugin: String,
    /// The backend's id for it.
    pub voice_id: String,
    /// When it was made (ms since the epoch).
    pub created_at: i64,
}

#[derive(sqlx::FromRow)]
struct VoiceRow {
    tenant_id: String,
    name: String,
    plugin: String,
    voice_id: String,
    created_at: i64,
}

impl TryFrom<VoiceRow> for StoredVoice {
    type Error = anyhow::Error;

    fn try_from(row: VoiceRow) -> anyhow::Result<Self> {
        // Read to check it, as every row's ids are.
        let _: TenantId = parse_column("voices.tenant_id", &row.tenant_id)?;
        Ok(Self {
            name: row.name,
            plugin: row.plugin,
            voice_id: row.voice_id,
            created_at: row.created_at,
        })
    }
}

const COLUMNS: &str = "tenant_id, name, plugin, voice_id, created_at";

impl Store {
    /// Keeps the voice `voice_id` that `plugin` made as the tenant's `name`.
    /// A name the tenant already uses fails with [`StoreError::VoiceNameTaken`].
    pub async fn add_voice(
        &self,
        tenant: &TenantId,
        name: &str,
        plugin: &str,
        voice_id: &str,
    ) -> anyhow::Result<StoredVoice> {
        anyhow::ensure!(!name.trim().is_empty(), "a voice name cannot be empty");
        let voice = StoredVoice {
            name: name.to_owned(),
            plugin: plugin.to_owned(),
            voice_id: voice_id.to_owned(),
            created_at: now_ms(),
        };
        let inserted = with_pool!(self, |pool| sqlx::query(pool.sql(format!(
            "INSERT INTO voices ({COLUMNS}) VALUES (?, ?, ?, ?, ?)"
        )))
        .bind(tenant.as_str())
        .bind(name)
        .bind(plugin)
        .bind(voice_id)
        .bind(voice.created_at)
        .execute(pool)
        .await
        .map(drop));
        match inserted {
            Ok(()) => Ok(voice),
            Err(e) if is_unique_violation(&e) => Err(StoreError::VoiceNameTaken {
                name: name.to_owned(),
            }
            .into()),
            Err(e) => Err(e).with_context(|| format!("keeping voice {name:?}")),
        }
    }

    /// The tenant's voice named `name`, if any.
    pub async fn voice(
        &self,
        tenant: &TenantId,
        name: &str,
    ) -> anyhow::Result<Option<StoredVoice>> {
        with_pool!(self, |pool| sqlx::query_as::<_, VoiceRow>(pool.sql(
            format!("SELECT {COLUMNS} FROM voices WHERE tenant_id = ? AND name = ?")
        ))
        .bind(tenant.as_str())
        .bind(name)
        .fetch_optional(pool)
        .await)
        .with_context(|| format!("reading voice {name:?}"))?
        .map(StoredVoice::try_from)
        .transpose()
    }

    /// The tenant's voices, by name.
    pub async fn list_voices(&self, tenant: &TenantId) -> anyhow::Result<Vec<StoredVoice>> {
        with_pool!(self, |pool| sqlx::query_as::<_, VoiceRow>(pool.sql(
            format!("SELECT {COLUMNS} FROM voices WHERE tenant_id = ? ORDER BY name")
        ))
        .bind(tenant.as_str())
        .fetch_all(pool)
        .await)
        .context("listing voices")?
        .into_iter()
        .map(StoredVoice::try_from)
        .collect()
    }

    /// Whether `voice_id` of `plugin` is a voice another tenant made: a
    /// tenant may speak with its own cloned voices and the backend's stock
    /// ones, never with another tenant's clone, even knowing its id.
    pub async fn voice_of_another_tenant(
        &self,
        tenant: &TenantId,
        plugin: &str,
        voice_id: &str,
    ) -> anyhow::Result<bool> {
        let found: Option<String> = with_pool!(self, |pool| sqlx::query_scalar(pool.sql(
            "SELECT tenant_id FROM voices WHERE plugin = ? AND voice_id = ? AND tenant_id <> ? LIMIT 1"
        ))
        .bind(plugin)
        .bind(voice_id)
        .bind(tenant.as_str())
        .fetch_optional(pool)
        .await)
        .with_context(|| format!("looking up voice id {voice_id:?}"))?;
        Ok(found.is_some())
    }

    /// Forgets the tenant's voice `name` (the backend keeps it); `false` if
    /// there was none.
    pub async fn delete_voice(&self, tenant: &TenantId, name: &str) -> anyhow::Result<bool> {
        let done = with_pool!(self, |pool| sqlx::query(
            pool.sql("DELETE FROM voices WHERE tenant_id = ? AND name = ?")
        )
        .bind(tenant.as_str())
        .bind(name)
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))
        .with_context(|| format!("deleting voice {name:?}"))?;
        Ok(done == 1)
    }
}

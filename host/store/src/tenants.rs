//! Tenants and their API keys.

use std::fmt;

use anyhow::Context as _;
use sha2::{Digest as _, Sha256};

use super::ids::random_hex;
use super::{
    ApiKeyId, Dialect as _, Store, StoreError, TenantId, is_unique_violation, now_ms, parse_column,
};

/// What every plaintext API key starts with, so a leaked one is recognisable.
const KEY_PREFIX: &str = "kino_";

/// How many characters of a key (after [`KEY_PREFIX`]) are kept for display.
const DISPLAY_CHARS: usize = 8;

/// A tenant.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Tenant {
    /// Its identifier.
    pub id: TenantId,
    /// Its unique name.
    pub name: String,
    /// When it was created, in ms since the Unix epoch.
    pub created_at: i64,
    /// How many of its nodes workers may hold at once ([`Store::claim_node`]);
    /// `None`: no limit.
    pub node_quota: Option<u32>,
}

/// An API key as stored: never the key itself.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ApiKey {
    /// The key's record.
    pub id: ApiKeyId,
    /// Whose key it is.
    pub tenant_id: TenantId,
    /// The first characters of the key, for display (`kino_1a2b3c4d`).
    pub prefix: String,
    /// When it was issued, in ms since the Unix epoch.
    pub created_at: i64,
    /// When it was revoked, if it was.
    pub revoked_at: Option<i64>,
}

/// A freshly issued API key: the only time the plaintext exists.
///
/// `Debug` leaves the key out.
#[derive(Clone, PartialEq, Eq)]
pub struct IssuedApiKey {
    /// The stored record.
    pub record: ApiKey,
    /// The plaintext key: `kino_` and 64 hex digits (32 random bytes). Show it once.
    pub key: String,
}

impl fmt::Debug for IssuedApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedApiKey")
            .field("record", &self.record)
            .field("key", &"<redacted>")
            .finish()
    }
}

/// The SHA-256 of a plaintext key, in hex: what the store keeps.
fn key_hash(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

#[derive(sqlx::FromRow)]
struct TenantRow {
    id: String,
    name: String,
    created_at: i64,
    node_quota: Option<i64>,
}

impl TryFrom<TenantRow> for Tenant {
    type Error = anyhow::Error;

    fn try_from(row: TenantRow) -> anyhow::Result<Self> {
        Ok(Self {
            id: parse_column("tenants.id", &row.id)?,
            name: row.name,
            created_at: row.created_at,
            node_quota: row
                .node_quota
                .map(u32::try_from)
                .transpose()
                .context("corrupt tenants.node_quota column")?,
        })
    }
}

#[derive(sqlx::FromRow)]
struct ApiKeyRow {
    id: String,
    tenant_id: String,
    prefix: String,
    created_at: i64,
    revoked_at: Option<i64>,
}

impl TryFrom<ApiKeyRow> for ApiKey {
    type Error = anyhow::Error;

    fn try_from(row: ApiKeyRow) -> anyhow::Result<Self> {
        Ok(Self {
            id: parse_column("api_keys.id", &row.id)?,
            tenant_id: parse_column("api_keys.tenant_id", &row.tenant_id)?,
            prefix: row.prefix,
            created_at: row.created_at,
            revoked_at: row.revoked_at,
        })
    }
}

impl Store {
    /// Creates a tenant. A name already in use fails with [`StoreError::TenantNameTaken`].
    pub async fn create_tenant(&self, name: &str) -> anyhow::Result<Tenant> {
        anyhow::ensure!(!name.trim().is_empty(), "a tenant name cannot be empty");
        let tenant = Tenant {
            id: TenantId::random()?,
            name: name.to_owned(),
            created_at: now_ms(),
            node_quota: None,
        };
        let inserted = with_pool!(self, |pool| sqlx::query(
            pool.sql("INSERT INTO tenants (id, name, created_at) VALUES (?, ?, ?)")
        )
        .bind(tenant.id.as_str())
        .bind(&tenant.name)
        .bind(tenant.created_at)
        .execute(pool)
        .await
        .map(|done| done.rows_affected()));
        match inserted {
            Ok(_) => Ok(tenant),
            Err(e) if is_unique_violation(&e) => Err(StoreError::TenantNameTaken {
                name: name.to_owned(),
            }
            .into()),
            Err(e) => Err(e).with_context(|| format!("creating tenant {name:?}")),
        }
    }

    /// The tenant with this id, if any.
    pub async fn get_tenant(&self, id: &TenantId) -> anyhow::Result<Option<Tenant>> {
        with_pool!(self, |pool| sqlx::query_as::<_, TenantRow>(pool.sql(
            "SELECT id, name, created_at, node_quota FROM tenants WHERE id = ?"
        ))
        .bind(id.as_str())
        .fetch_optional(pool)
        .await)
        .with_context(|| format!("reading tenant {id}"))?
        .map(Tenant::try_from)
        .transpose()
    }

    /// Every tenant, oldest first.
    pub async fn list_tenants(&self) -> anyhow::Result<Vec<Tenant>> {
        with_pool!(self, |pool| sqlx::query_as::<_, TenantRow>(pool.sql(
            "SELECT id, name, created_at, node_quota FROM tenants ORDER BY created_at, name"
        ))
        .fetch_all(pool)
        .await)
        .context("listing tenants")?
        .into_iter()
        .map(Tenant::try_from)
        .collect()
    }

    /// The tenant with this name, if any.
    pub async fn tenant_by_name(&self, name: &str) -> anyhow::Result<Option<Tenant>> {
        with_pool!(self, |pool| sqlx::query_as::<_, TenantRow>(pool.sql(
            "SELECT id, name, created_at, node_quota FROM tenants WHERE name = ?"
        ))
        .bind(name)
        .fetch_optional(pool)
        .await)
        .with_context(|| format!("reading tenant {name:?}"))?
        .map(Tenant::try_from)
        .transpose()
    }

    /// Sets how many of the tenant's nodes workers may hold at once (`None`:
    /// no limit). An unknown tenant fails with [`StoreError::NotFound`].
    pub async fn set_tenant_node_quota(
        &self,
        tenant: &TenantId,
        quota: Option<u32>,
    ) -> anyhow::Result<()> {
        let done = with_pool!(self, |pool| sqlx::query(
            pool.sql("UPDATE tenants SET node_quota = ? WHERE id = ?")
        )
        .bind(quota.map(i64::from))
        .bind(tenant.as_str())
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))
        .with_context(|| format!("setting the node quota of tenant {tenant}"))?;
        if done == 0 {
            return Err(StoreError::NotFound {
                what: "tenant",
                id: tenant.to_string(),
            }
            .into());
        }
        Ok(())
    }

    /// Issues a new API key for `tenant`: 32 random bytes, hex, prefixed `kino_`.
    ///
    /// Only its SHA-256 is stored; the returned plaintext is the only copy.
    pub async fn issue_api_key(&self, tenant: &TenantId) -> anyhow::Result<IssuedApiKey> {
        let key = format!("{KEY_PREFIX}{}", random_hex::<32>()?);
        let prefix = key[..KEY_PREFIX.len() + DISPLAY_CHARS].to_owned();
        let record = ApiKey {
            id: ApiKeyId::random()?,
            tenant_id: tenant.clone(),
            prefix,
            created_at: now_ms(),
            revoked_at: None,
        };
        with_pool!(self, |pool| sqlx::query(pool.sql(
            "INSERT INTO api_keys (id, tenant_id, hash, prefix, created_at) VALUES (?, ?, ?, ?, ?)"
        ))
        .bind(record.id.as_str())
        .bind(tenant.as_str())
        .bind(key_hash(&key))
        .bind(&record.prefix)
        .bind(record.created_at)
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))
        .with_context(|| format!("issuing an api key for tenant {tenant}"))?;
        Ok(IssuedApiKey { record, key })
    }

    /// The tenant a plaintext key belongs to, or `None` for an unknown or revoked key.
    ///
    /// The lookup is by the key's SHA-256, so the database never sees the key, and
    /// timing can at most tell something about a hash, not about a valid key.
    pub async fn tenant_for_api_key(&self, key: &str) -> anyhow::Result<Option<Tenant>> {
        if !key.starts_with(KEY_PREFIX) {
            return Ok(None);
        }
        with_pool!(self, |pool| sqlx::query_as::<_, TenantRow>(pool.sql(
            "SELECT t.id, t.name, t.created_at, t.node_quota FROM api_keys k \
             JOIN tenants t ON t.id = k.tenant_id \
             WHERE k.hash = ? AND k.revoked_at IS NULL"
        ))
        .bind(key_hash(key))
        .fetch_optional(pool)
        .await)
        .context("looking up an api key")?
        .map(Tenant::try_from)
        .transpose()
    }

    /// The tenant's keys (records only), oldest first.
    pub async fn list_api_keys(&self, tenant: &TenantId) -> anyhow::Result<Vec<ApiKey>> {
        with_pool!(self, |pool| sqlx::query_as::<_, ApiKeyRow>(pool.sql(
            "SELECT id, tenant_id, prefix, created_at, revoked_at FROM api_keys \
             WHERE tenant_id = ? ORDER BY created_at, id"
        ))
        .bind(tenant.as_str())
        .fetch_all(pool)
        .await)
        .with_context(|| format!("listing api keys of tenant {tenant}"))?
        .into_iter()
        .map(ApiKey::try_from)
        .collect()
    }

    /// Revokes one of the tenant's keys. `false` if the tenant has no such live key.
    pub async fn revoke_api_key(&self, tenant: &TenantId, key: &ApiKeyId) -> anyhow::Result<bool> {
        let done = with_pool!(self, |pool| sqlx::query(pool.sql(
            "UPDATE api_keys SET revoked_at = ? \
             WHERE id = ? AND tenant_id = ? AND revoked_at IS NULL"
        ))
        .bind(now_ms())
        .bind(key.as_str())
        .bind(tenant.as_str())
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))
        .with_context(|| format!("revoking api key {key} of tenant {tenant}"))?;
        Ok(done == 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_is_sha256_hex() {
        assert_eq!(
            key_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}

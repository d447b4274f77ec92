//! Who is calling: the operator (admin bearer token) or a tenant (API key).

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use sha2::{Digest as _, Sha256};

use super::{ApiError, AppState};
use kino_store::Tenant;

/// The SHA-256 of an admin token: what [`AppState`] keeps instead of the token.
pub fn admin_token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Compares two digests without stopping at the first difference.
fn constant_time_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

/// The token of an `Authorization: Bearer <token>` header.
fn bearer(parts: &Parts) -> Result<&str, ApiError> {
    let header = parts.headers.get(AUTHORIZATION).ok_or_else(|| {
        ApiError::Unauthorized("missing `Authorization: Bearer <token>` header".into())
    })?;
    header
        .to_str()
        .ok()
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            ApiError::Unauthorized("the Authorization header must be `Bearer <token>`".into())
        })
}

/// Proof that the request carries the admin token.
#[derive(Debug, Clone, Copy)]
pub struct Admin;

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer(parts)?;
        if constant_time_eq(&admin_token_hash(token), &state.admin_token_hash) {
            Ok(Admin)
        } else {
            Err(ApiError::Unauthorized("invalid admin token".into()))
        }
    }
}

/// The tenant whose live API key the request carries.
#[derive(Debug, Clone)]
pub struct TenantAuth(pub Tenant);

impl FromRequestParts<AppState> for TenantAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let key = bearer(parts)?;
        state
            .store
            .tenant_for_api_key(key)
            .await?
            .map(TenantAuth)
            .ok_or_else(|| ApiError::Unauthorized("invalid or revoked API key".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_compare() {
        let a = admin_token_hash("a");
        assert!(constant_time_eq(&a, &admin_token_hash("a")));
        assert!(!constant_time_eq(&a, &admin_token_hash("b")));
    }
}

//! For `tests/fuzz` (`kino-fuzz`) only: the JSON request bodies the API
//! reads, decoded by the same extractor code its handlers run. Not part of
//! the API.

use serde::de::DeserializeOwned;

use crate::admin::{BindingRequest, NewTenant, SecretRequest};
use crate::tenant::NewJob;
use kino_pipeline::Edits;

/// Why a body was refused.
#[derive(Debug, Clone)]
pub struct Rejected {
    /// The status the API answers with (400 malformed, 422 the wrong shape).
    pub status: u16,
    /// The text of the API's answer (it starts with the JSON path).
    pub text: String,
    /// serde_json's own message for the same bytes and type, read the same
    /// way: the cause without the path, whose keys are the input's. A body
    /// that is not an object is refused by the API's own rule first.
    pub cause: String,
}

/// serde_json's own words for why `bytes` are not a `T`, reading them as the
/// extractor does (a JSON value first, integral numbers as integers).
fn serde_cause<T: DeserializeOwned>(bytes: &[u8]) -> String {
    let mut value = match serde_json::from_slice::<serde_json::Value>(bytes) {
        Ok(value) => value,
        Err(e) => return e.to_string(),
    };
    if !value.is_object() {
        // serde would read a struct from an array of its fields.
        return crate::error::NOT_AN_OBJECT.to_owned();
    }
    crate::error::integral_floats_as_integers(&mut value);
    serde_json::from_value::<T>(value)
        .err()
        .map_or_else(String::new, |e| e.to_string())
}

/// Decodes `bytes` as each JSON body the API accepts, as the
/// [`Json`](crate::Json) extractor does once the content type is checked.
/// Answers each route with whether its body decoded.
pub fn bodies(bytes: &[u8]) -> Vec<(&'static str, Result<(), Rejected>)> {
    fn decode<T: DeserializeOwned>(
        route: &'static str,
        bytes: &[u8],
    ) -> (&'static str, Result<(), Rejected>) {
        let decoded = crate::error::decode::<T>(bytes)
            .map(|_| ())
            .map_err(|e| Rejected {
                status: e.status().as_u16(),
                text: e.message(),
                cause: serde_cause::<T>(bytes),
            });
        (route, decoded)
    }
    vec![
        decode::<NewTenant>("POST /admin/tenants", bytes),
        decode::<BindingRequest>("PUT /admin/tenants/{id}/bindings/{slot}", bytes),
        decode::<SecretRequest>("PUT /admin/tenants/{id}/secrets/{name}", bytes),
        decode::<NewJob>("POST /jobs", bytes),
        decode::<Edits>("POST /jobs/{id}/edits", bytes),
    ]
}

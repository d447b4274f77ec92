//! The API's one error type, and the JSON extractor whose rejections use it.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use kino_registry::RegistryError;
use serde::de::DeserializeOwned;
use serde_json::Value;

use kino_store::StoreError;

/// Everything a handler can answer with besides success.
///
/// 4xx bodies say what was wrong; a 500 body is opaque (`internal error`) and
/// its cause is logged; a 503 says the server is busy and when to retry
/// (`Retry-After`), never why internally. Every body is `{"error": "..."}`.
#[derive(Debug)]
pub enum ApiError {
    /// 400: the request is malformed.
    BadRequest(String),
    /// 401: no valid credentials.
    Unauthorized(String),
    /// 404: no such thing (or it belongs to another tenant).
    NotFound(String),
    /// 409: the request conflicts with the current state.
    Conflict(String),
    /// 413: the body is over the limit.
    PayloadTooLarge(String),
    /// 415: the body is not of a type the endpoint takes.
    UnsupportedMediaType(String),
    /// 422: well-formed but refused (bad config, refused package, ...).
    Unprocessable(String),
    /// 500: logged, never shown.
    Internal(anyhow::Error),
    /// 502: a backend the tenant's plugin calls failed or refused; the
    /// message is the plugin's.
    BadGateway(String),
    /// 503 with `Retry-After:` [`UPLOAD_RETRY_AFTER_SECS`](crate::UPLOAD_RETRY_AFTER_SECS):
    /// the server is at a limit (the uploads in flight); the message says
    /// which, and the request can be retried as it is.
    Busy(String),
}

impl ApiError {
    /// The status code this error answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::BadGateway(_) => StatusCode::BAD_GATEWAY,
            Self::Busy(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The words of its answer (`internal error` for a 500).
    pub fn message(&self) -> String {
        match self {
            Self::Internal(_) => "internal error".to_owned(),
            Self::BadRequest(m)
            | Self::Unauthorized(m)
            | Self::NotFound(m)
            | Self::Conflict(m)
            | Self::PayloadTooLarge(m)
            | Self::UnsupportedMediaType(m)
            | Self::Unprocessable(m)
            | Self::BadGateway(m)
            | Self::Busy(m) => m.clone(),
        }
    }

    /// An error for `status` with `message`; 5xx statuses become opaque.
    pub fn with_status(status: StatusCode, message: String) -> Self {
        match status {
            StatusCode::BAD_REQUEST => Self::BadRequest(message),
            StatusCode::UNAUTHORIZED => Self::Unauthorized(message),
            StatusCode::NOT_FOUND => Self::NotFound(message),
            StatusCode::CONFLICT => Self::Conflict(message),
            StatusCode::PAYLOAD_TOO_LARGE => Self::PayloadTooLarge(message),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => Self::UnsupportedMediaType(message),
            s if s.is_client_error() => Self::Unprocessable(message),
            _ => Self::Internal(anyhow::Error::msg(message)),
        }
    }

    /// Maps a registry error to the answer a client should get.
    pub fn from_registry(err: &RegistryError) -> Option<Self> {
        let message = err.to_string();
        Some(match err {
            RegistryError::Io { .. } | RegistryError::CorruptBlob { .. } => return None,
            RegistryError::CorruptIndex { .. } | RegistryError::BlobNotFound { .. } => return None,
            RegistryError::NotInstalled { .. } | RegistryError::NoMatch { .. } => {
                Self::NotFound(message)
            }
            RegistryError::DuplicateVersion { .. } | RegistryError::InUse { .. } => {
                Self::Conflict(message)
            }
            _ => Self::Unprocessable(message),
        })
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(err: anyhow::Error) -> Self {
        if let Some(store) = err.downcast_ref::<StoreError>() {
            let message = store.to_string();
            return match store {
                StoreError::NotFound { .. } => Self::NotFound(message),
                StoreError::TenantNameTaken { .. }
                | StoreError::VoiceNameTaken { .. }
                | StoreError::IllegalJobTransition { .. }
                | StoreError::StageNotRunning { .. }
                | StoreError::PluginVersionInUse { .. } => Self::Conflict(message),
            };
        }
        if let Some(mapped) = err
            .chain()
            .find_map(|e| e.downcast_ref::<RegistryError>())
            .and_then(Self::from_registry)
        {
            return mapped;
        }
        Self::Internal(err)
    }
}

impl From<RegistryError> for ApiError {
    fn from(err: RegistryError) -> Self {
        Self::from_registry(&err).unwrap_or_else(|| Self::Internal(err.into()))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let busy = matches!(self, Self::Busy(_));
        if let Self::Internal(err) = &self {
            tracing::error!("internal error answering a request: {err:#}");
        }
        let message = self.message();
        let mut response =
            (status, axum::Json(serde_json::json!({ "error": message }))).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        if busy {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from(crate::UPLOAD_RETRY_AFTER_SECS),
            );
        }
        response
    }
}

/// `axum::Json`, but a body that does not parse is answered with an [`ApiError`]
/// naming the problem (400 for malformed JSON, 422 for the wrong shape, 415
/// without a JSON content type), and numbers are read as JSON Schema reads
/// them (see [`decode_value`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<T, S> FromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let axum::Json(value) = axum::Json::<Value>::from_request(req, state)
            .await
            .map_err(rejected)?;
        decode_value(value).map(Json)
    }
}

/// What [`Json`] makes of a body's bytes once its content type is checked.
pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let value = axum::Json::<Value>::from_bytes(bytes).map_err(rejected)?;
    decode_value(value.0)
}

/// A JSON body that is not JSON: its status (400, 413, 415) and axum's words.
fn rejected(rejection: JsonRejection) -> ApiError {
    ApiError::with_status(rejection.status(), rejection.body_text())
}

/// Reads a JSON value as `T`, a number with no fraction (`3.0`, `1e3`) as the
/// integer it is: JSON has one number type, and the OpenAPI document's
/// schemas (JSON Schema) count `3.0` as an integer, so a client that writes
/// it is not refused. A value of the wrong shape is a 422 naming where
/// (`scenes.1.trim[0]: ...`).
fn decode_value<T: DeserializeOwned>(mut value: Value) -> Result<T, ApiError> {
    // Every JSON body of the API is an object; serde would also read a
    // struct from an array of its fields (`[null]` as `{"node_quota": null}`).
    if !value.is_object() {
        return Err(ApiError::Unprocessable(format!(
            "{NOT_AN_OBJECT}, not {}",
            json_kind(&value)
        )));
    }
    integral_floats_as_integers(&mut value);
    serde_path_to_error::deserialize(value).map_err(|e| {
        ApiError::Unprocessable(format!(
            "Failed to deserialize the JSON body into the target type: {}: {}",
            e.path(),
            e.inner()
        ))
    })
}

/// The API's own rule, stricter than serde's: see [`decode_value`].
pub(crate) const NOT_AN_OBJECT: &str = "the JSON body must be an object";

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

pub(crate) fn integral_floats_as_integers(value: &mut Value) {
    match value {
        Value::Number(n) if n.is_f64() => {
            let f = n.as_f64().unwrap_or(f64::NAN);
            // Only where the integer is exact: below 2^63 every such f64 is.
            if f.fract() == 0.0 && f.abs() < 9.2e18 {
                *value = Value::from(f as i64);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(integral_floats_as_integers),
        Value::Object(map) => map.values_mut().for_each(integral_floats_as_integers),
        _ => {}
    }
}

impl<T: serde::Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// `axum::extract::Query`, but a query that does not parse is a 400 whose
/// body is `{"error": "..."}` naming the parameter, like every other error.
#[derive(Debug, Clone, Copy, Default)]
pub struct Query<T>(pub T);

impl<T, S> FromRequestParts<S> for Query<T>
where
    axum::extract::Query<T>: FromRequestParts<S, Rejection = QueryRejection>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(Query(value)),
            Err(rejection) => Err(ApiError::BadRequest(rejection.body_text())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_errors_are_opaque() {
        let response = ApiError::Internal(anyhow::anyhow!("secret path /etc")).into_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[test]
    fn a_body_must_be_an_object_not_an_array_of_its_fields() {
        #[derive(Debug, serde::Deserialize)]
        struct Quota {
            #[allow(dead_code)]
            node_quota: Option<u32>,
        }
        let refused = decode::<Quota>(b"[null]").expect_err("an array");
        assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            refused
                .message()
                .contains("must be an object, not an array")
        );
        let refused = decode::<Quota>(b"0").expect_err("a number");
        assert!(
            refused
                .message()
                .ends_with("must be an object, not a number")
        );
        assert!(decode::<Quota>(br#"{"node_quota": null}"#).is_ok());
    }

    #[test]
    fn integral_numbers_are_integers_however_written() {
        #[derive(Debug, serde::Deserialize)]
        struct Trim {
            trim: [u32; 2],
        }
        let trim: Trim = decode(br#"{"trim": [66372.0, 2e3]}"#).expect("integral numbers decode");
        assert_eq!(trim.trim, [66372, 2000]);
        let err = decode::<Trim>(br#"{"trim": [1.5, 2]}"#).expect_err("a fraction is no u32");
        assert_eq!(err.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let ApiError::Unprocessable(message) = err else {
            unreachable!()
        };
        assert!(
            message.contains("trim[0]: invalid type: floating point `1.5`"),
            "{message}"
        );
        assert_eq!(
            decode::<Trim>(b"{").expect_err("not JSON").status(),
            StatusCode::BAD_REQUEST
        );
        let negative = decode::<Trim>(br#"{"trim": [-1.0, 2]}"#).expect_err("no negative u32");
        assert_eq!(negative.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }

    #[test]
    fn store_errors_map_to_client_errors() {
        let err: ApiError = anyhow::Error::from(StoreError::TenantNameTaken {
            name: "acme".into(),
        })
        .into();
        assert_eq!(err.status(), StatusCode::CONFLICT);
    }
}

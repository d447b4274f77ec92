//! The API's one error type, and the JSON extractor whose rejections use it.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use kino_registry::RegistryError;

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
            Self::Busy(_) => StatusCode::SERVICE_UNAVAILABLE,
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
        let message = match self {
            Self::Internal(err) => {
                tracing::error!("internal error answering a request: {err:#}");
                "internal error".to_owned()
            }
            Self::BadRequest(m)
            | Self::Unauthorized(m)
            | Self::NotFound(m)
            | Self::Conflict(m)
            | Self::PayloadTooLarge(m)
            | Self::UnsupportedMediaType(m)
            | Self::Unprocessable(m)
            | Self::Busy(m) => m,
        };
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
/// without a JSON content type).
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<T, S> FromRequest<S> for Json<T>
where
    axum::Json<T>: FromRequest<S, Rejection = JsonRejection>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(Json(value)),
            Err(rejection) => Err(ApiError::with_status(
                rejection.status(),
                rejection.body_text(),
            )),
        }
    }
}

impl<T: serde::Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
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
    fn store_errors_map_to_client_errors() {
        let err: ApiError = anyhow::Error::from(StoreError::TenantNameTaken {
            name: "acme".into(),
        })
        .into();
        assert_eq!(err.status(), StatusCode::CONFLICT);
    }
}

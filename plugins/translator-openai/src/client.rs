//! One JSON POST over `wasi:http`, as the host's outbound HTTP provides it.

use kino_plugin_sdk::PluginError;
use wasip2::http::outgoing_handler;
use wasip2::http::types::{
    ErrorCode, Fields, IncomingBody, Method, OutgoingBody, OutgoingRequest, Scheme,
};
use wasip2::io::streams::StreamError;

use crate::Endpoint;

/// The most reply bytes read; the host caps it too.
const MAX_REPLY_BYTES: usize = 8 << 20;

/// What came back.
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) retry_after: Option<String>,
    pub(crate) body: Vec<u8>,
}

/// POSTs `body` as JSON to `endpoint` and reads the whole reply.
pub(crate) fn post_json(endpoint: &Endpoint, body: &[u8]) -> Result<Reply, PluginError> {
    let url = endpoint.url();
    let headers = Fields::from_list(&[
        ("content-type".to_owned(), b"application/json".to_vec()),
        ("accept".to_owned(), b"application/json".to_vec()),
    ])
    .map_err(|e| PluginError::internal(format!("building headers: {e:?}")))?;
    let request = OutgoingRequest::new(headers);
    let scheme = if endpoint.https {
        Scheme::Https
    } else {
        Scheme::Http
    };
    let set = request
        .set_method(&Method::Post)
        .and_then(|()| request.set_scheme(Some(&scheme)))
        .and_then(|()| request.set_authority(Some(&endpoint.authority)))
        .and_then(|()| request.set_path_with_query(Some(&endpoint.path)));
    set.map_err(|()| PluginError::invalid_input(format!("{url} is not a valid request target")))?;
    let outgoing = request
        .body()
        .map_err(|()| PluginError::internal("the request body was already taken"))?;
    // Send first, then write: the host reads the body as it connects.
    let pending = outgoing_handler::handle(request, None).map_err(|e| transport_error(&url, &e))?;
    let written = write_body(&outgoing, body);
    let finished = OutgoingBody::finish(outgoing, None);
    pending.subscribe().block();
    let response = match pending.get() {
        Some(Ok(Ok(response))) => response,
        Some(Ok(Err(e))) => return Err(transport_error(&url, &e)),
        Some(Err(())) | None => {
            return Err(PluginError::internal("the response was taken twice"));
        }
    };
    // A failed write only matters if the host did not say why first.
    written?;
    finished.map_err(|e| transport_error(&url, &e))?;

    let status = response.status();
    let retry_after = response
        .headers()
        .get("retry-after")
        .first()
        .and_then(|v| String::from_utf8(v.clone()).ok());
    let incoming = response
        .consume()
        .map_err(|()| PluginError::internal("the response body was already taken"))?;
    let body = read_body(&incoming, &url)?;
    drop(IncomingBody::finish(incoming));
    Ok(Reply {
        status,
        retry_after,
        body,
    })
}

fn write_body(outgoing: &OutgoingBody, body: &[u8]) -> Result<(), PluginError> {
    let stream = outgoing
        .write()
        .map_err(|()| PluginError::internal("the request stream was already taken"))?;
    // `blocking-write-and-flush` takes at most 4096 bytes at a time.
    for chunk in body.chunks(4096) {
        stream.blocking_write_and_flush(chunk).map_err(|e| {
            PluginError::unavailable(format!("sending the request: {}", stream_error(&e)))
        })?;
    }
    Ok(())
}

fn read_body(incoming: &IncomingBody, url: &str) -> Result<Vec<u8>, PluginError> {
    let stream = incoming
        .stream()
        .map_err(|()| PluginError::internal("the response stream was already taken"))?;
    let mut body = Vec::new();
    loop {
        match stream.blocking_read(64 << 10) {
            Ok(chunk) => {
                body.extend_from_slice(&chunk);
                if body.len() > MAX_REPLY_BYTES {
                    return Err(PluginError::unavailable(format!(
                        "the reply from {url} is larger than {MAX_REPLY_BYTES} bytes"
                    )));
                }
            }
            Err(StreamError::Closed) => return Ok(body),
            Err(e) => {
                return Err(PluginError::unavailable(format!(
                    "reading the reply from {url} failed: {}",
                    stream_error(&e)
                )));
            }
        }
    }
}

fn stream_error(e: &StreamError) -> String {
    match e {
        StreamError::Closed => "the stream closed".to_owned(),
        StreamError::LastOperationFailed(e) => match wasip2::http::types::http_error_code(e) {
            Some(code) => format!("{code:?}"),
            None => e.to_debug_string(),
        },
    }
}

/// The plugin error for a request that got no HTTP answer.
fn transport_error(url: &str, e: &ErrorCode) -> PluginError {
    match e {
        // The host refused the request: retrying the same call cannot help.
        ErrorCode::HttpRequestDenied | ErrorCode::DestinationIpProhibited => {
            PluginError::invalid_input(format!(
                "the host denied the request to {url} ({e:?}): the operator has not granted this origin"
            ))
        }
        ErrorCode::HttpResponseBodySize(_) => PluginError::unavailable(format!(
            "the reply from {url} is larger than the host allows ({e:?})"
        )),
        _ => PluginError::unavailable(format!("{url} could not be reached: {e:?}")),
    }
}

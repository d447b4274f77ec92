//! A small HTTP client over the host's `wasi:http`, for backend plugins:
//! request bodies made of bytes and [`MediaIn`] handles (spliced, never
//! copied into the plugin), multipart forms, JSON replies, and reply
//! bodies spliced into a [`MediaOut`].
//!
//! Failures map onto [`PluginError`] the way the host's retry policy
//! expects: 429 is `rate-limited` (with the server's `retry-after`), 5xx,
//! timeouts and cut-off bodies are `unavailable`, other 4xx `invalid-input`.
//!
//! ```no_run
//! use kino_plugin_sdk::http::{Body, Request};
//! # fn demo(audio: &kino_plugin_sdk::MediaIn) -> Result<(), kino_plugin_sdk::PluginError> {
//! let form = kino_plugin_sdk::http::Multipart::new()
//!     .text("model", "whisper-1")
//!     .media("file", audio);
//! let reply = Request::post("http://127.0.0.1:8080/v1/audio/transcriptions")?
//!     .multipart(form)
//!     .send()?
//!     .success()?;
//! let text: serde_json::Value = reply.json()?;
//! # Ok(()) }
//! ```

use wasip2::http::outgoing_handler;
use wasip2::http::types::{
    ErrorCode, Fields, IncomingBody, IncomingResponse, OutgoingBody, OutgoingRequest,
    RequestOptions, Scheme,
};
use wasip2::io::streams::{InputStream, OutputStream, StreamError};

use crate::{MediaIn, MediaOut, PluginError};

/// The request method, as `wasi:http` names it.
pub use wasip2::http::types::Method;

/// The most bytes [`Response::bytes`] and [`Response::json`] read.
pub const MAX_REPLY_BYTES: usize = 16 << 20;

/// The most bytes one splice step moves between host streams.
const SPLICE_STEP: u64 = 1 << 20;

/// An `http(s)://host[:port]/path?query` URL, split the way `wasi:http` wants it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    /// `true` for https.
    pub https: bool,
    /// `host[:port]`.
    pub authority: String,
    /// The path and query, starting with `/`.
    pub path: String,
}

impl Url {
    /// Parses `url`; a missing path is `/`.
    pub fn parse(url: &str) -> Result<Self, PluginError> {
        let bad = |why: &str| PluginError::invalid_input(format!("bad URL `{url}`: {why}"));
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| bad("expected http(s)://HOST/PATH"))?;
        let https = match scheme {
            "https" => true,
            "http" => false,
            _ => return Err(bad("the scheme must be https or http")),
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        if authority.is_empty() || authority.contains('@') {
            return Err(bad("expected a host (and no user info)"));
        }
        Ok(Self {
            https,
            authority: authority.to_owned(),
            path: path.to_owned(),
        })
    }

    /// The URL as text.
    pub fn as_string(&self) -> String {
        let scheme = if self.https { "https" } else { "http" };
        format!("{scheme}://{}{}", self.authority, self.path)
    }

    /// This URL's origin with another path (`/v1/predictions/abc`).
    pub fn with_path(&self, path: &str) -> Self {
        Self {
            https: self.https,
            authority: self.authority.clone(),
            path: path.to_owned(),
        }
    }
}

/// One piece of a request body.
pub enum Body<'a> {
    /// Bytes from the plugin.
    Bytes(Vec<u8>),
    /// A media handle's bytes, spliced from the host's stream.
    Media(&'a MediaIn),
}

impl Body<'_> {
    fn len(&self) -> u64 {
        match self {
            Body::Bytes(bytes) => bytes.len() as u64,
            Body::Media(media) => media.size(),
        }
    }
}

/// A `multipart/form-data` body: text fields and media files.
pub struct Multipart<'a> {
    boundary: String,
    parts: Vec<Body<'a>>,
}

impl Default for Multipart<'_> {
    fn default() -> Self {
        Self::new()
    }
}

impl<'a> Multipart<'a> {
    /// An empty form.
    pub fn new() -> Self {
        Self {
            // Fixed: a file's bytes containing it would break the form, and
            // media is binary; this has 40 characters nothing ordinary repeats.
            boundary: "kino-form-4f1c2e8a9b7d6053a1e2f3c4d5b6a798".to_owned(),
            parts: Vec::new(),
        }
    }

    /// Adds the text field `name`.
    pub fn text(mut self, name: &str, value: &str) -> Self {
        let head = format!(
            "--{}\r\ncontent-disposition: form-data; name=\"{}\"\r\n\r\n{value}\r\n",
            self.boundary,
            quote(name)
        );
        self.parts.push(Body::Bytes(head.into_bytes()));
        self
    }

    /// Adds `media` as the file field `name`, with its file name and type.
    pub fn media(mut self, name: &str, media: &'a MediaIn) -> Self {
        let head = format!(
            "--{}\r\ncontent-disposition: form-data; name=\"{}\"; filename=\"{}\"\r\ncontent-type: {}\r\n\r\n",
            self.boundary,
            quote(name),
            quote(&media.file_name()),
            media.content_type()
        );
        self.parts.push(Body::Bytes(head.into_bytes()));
        self.parts.push(Body::Media(media));
        self.parts.push(Body::Bytes(b"\r\n".to_vec()));
        self
    }

    fn finish(mut self) -> (String, Vec<Body<'a>>) {
        self.parts.push(Body::Bytes(
            format!("--{}--\r\n", self.boundary).into_bytes(),
        ));
        (
            format!("multipart/form-data; boundary={}", self.boundary),
            self.parts,
        )
    }
}

/// A form field's name or file name, with quotes and line breaks escaped.
fn quote(text: &str) -> String {
    text.replace('"', "%22")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// An HTTP request being built.
pub struct Request<'a> {
    method: Method,
    url: Url,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<Body<'a>>,
    first_byte_timeout_ms: Option<u64>,
}

impl<'a> Request<'a> {
    /// A request of `method` to `url`.
    pub fn new(method: Method, url: &str) -> Result<Self, PluginError> {
        Ok(Self::to(method, Url::parse(url)?))
    }

    /// A request of `method` to an already parsed `url`.
    pub fn to(method: Method, url: Url) -> Self {
        Self {
            method,
            url,
            headers: Vec::new(),
            body: Vec::new(),
            first_byte_timeout_ms: None,
        }
    }

    /// A GET of `url`.
    pub fn get(url: &str) -> Result<Self, PluginError> {
        Self::new(Method::Get, url)
    }

    /// A POST to `url`.
    pub fn post(url: &str) -> Result<Self, PluginError> {
        Self::new(Method::Post, url)
    }

    /// Adds the header `name: value`.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers
            .push((name.to_ascii_lowercase(), value.as_bytes().to_vec()));
        self
    }

    /// Sends `json` as the body.
    pub fn json(self, json: &impl serde::Serialize) -> Result<Self, PluginError> {
        let bytes = serde_json::to_vec(json)
            .map_err(|e| PluginError::internal(format!("encoding the request: {e}")))?;
        Ok(self.header("content-type", "application/json").bytes(bytes))
    }

    /// Appends `bytes` to the body.
    pub fn bytes(mut self, bytes: Vec<u8>) -> Self {
        self.body.push(Body::Bytes(bytes));
        self
    }

    /// Appends `media`'s bytes to the body, spliced from the host.
    pub fn media(mut self, media: &'a MediaIn) -> Self {
        self.body.push(Body::Media(media));
        self
    }

    /// Sends `form` as the body.
    pub fn multipart(mut self, form: Multipart<'a>) -> Self {
        let (content_type, parts) = form.finish();
        self.body.extend(parts);
        self.header("content-type", &content_type)
    }

    /// Gives up when the first byte of the reply takes longer than `ms`
    /// (the host's own limits apply too).
    pub fn first_byte_timeout_ms(mut self, ms: u64) -> Self {
        self.first_byte_timeout_ms = Some(ms);
        self
    }

    /// Sends the request and waits for the reply's status and headers.
    pub fn send(self) -> Result<Response, PluginError> {
        let url = self.url.as_string();
        let mut headers = self.headers;
        if !self.body.is_empty() {
            let length: u64 = self.body.iter().map(Body::len).sum();
            headers.push(("content-length".to_owned(), length.to_string().into_bytes()));
        }
        let fields = Fields::from_list(&headers)
            .map_err(|e| PluginError::invalid_input(format!("bad request headers: {e:?}")))?;
        let request = OutgoingRequest::new(fields);
        let scheme = if self.url.https {
            Scheme::Https
        } else {
            Scheme::Http
        };
        request
            .set_method(&self.method)
            .and_then(|()| request.set_scheme(Some(&scheme)))
            .and_then(|()| request.set_authority(Some(&self.url.authority)))
            .and_then(|()| request.set_path_with_query(Some(&self.url.path)))
            .map_err(|()| PluginError::invalid_input(format!("{url} is not a valid target")))?;
        let options = self.first_byte_timeout_ms.map(|ms| {
            let options = RequestOptions::new();
            // Nanoseconds; a host that does not support it keeps its own.
            let _ = options.set_first_byte_timeout(Some(ms.saturating_mul(1_000_000)));
            options
        });
        let outgoing = request
            .body()
            .map_err(|()| PluginError::internal("the request body was already taken"))?;
        // Send first, then write: the host streams the body as it connects.
        let pending =
            outgoing_handler::handle(request, options).map_err(|e| transport_error(&url, &e))?;
        let written = write_body(&outgoing, &self.body);
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
        Ok(Response { url, response })
    }
}

fn write_body(outgoing: &OutgoingBody, body: &[Body<'_>]) -> Result<(), PluginError> {
    let stream = outgoing
        .write()
        .map_err(|()| PluginError::internal("the request stream was already taken"))?;
    let sending = |e: StreamError| {
        PluginError::unavailable(format!("sending the request: {}", stream_error(&e)))
    };
    for part in body {
        match part {
            Body::Bytes(bytes) => write_all(&stream, bytes).map_err(sending)?,
            Body::Media(media) => {
                let input = media.open()?;
                splice_all(&stream, &input, media.size()).map_err(sending)?;
            }
        }
    }
    // No flush: the body stream does not buffer, and once the last declared
    // byte is sent the host may already have closed it.
    Ok(())
}

/// Writes `bytes` as the stream permits, waiting for room; no flush.
fn write_all(stream: &OutputStream, mut bytes: &[u8]) -> Result<(), StreamError> {
    while !bytes.is_empty() {
        let permit = stream.check_write()?;
        if permit == 0 {
            stream.subscribe().block();
            continue;
        }
        let n = bytes
            .len()
            .min(usize::try_from(permit).unwrap_or(usize::MAX));
        stream.write(&bytes[..n])?;
        bytes = &bytes[n..];
    }
    Ok(())
}

/// Splices `input` into `output` until it ends or `limit` bytes moved;
/// returns how many moved.
fn splice_all(output: &OutputStream, input: &InputStream, limit: u64) -> Result<u64, StreamError> {
    let mut moved = 0;
    while moved < limit {
        match output.blocking_splice(input, (limit - moved).min(SPLICE_STEP)) {
            Ok(n) => moved += n,
            Err(StreamError::Closed) => break,
            Err(e) => return Err(e),
        }
    }
    Ok(moved)
}

/// A reply: status and headers, with the body still to read.
pub struct Response {
    url: String,
    response: IncomingResponse,
}

impl Response {
    /// The status code.
    pub fn status(&self) -> u16 {
        self.response.status()
    }

    /// The URL the request went to.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The first value of header `name`, as text.
    pub fn header(&self, name: &str) -> Option<String> {
        self.response
            .headers()
            .get(name)
            .first()
            .and_then(|v| String::from_utf8(v.clone()).ok())
    }

    /// This reply if its status is 2xx; otherwise the error its status
    /// means (see the module docs), with the start of its body.
    pub fn success(self) -> Result<Self, PluginError> {
        let status = self.status();
        if (200..300).contains(&status) {
            return Ok(self);
        }
        let retry_after = self.header("retry-after");
        let url = self.url.clone();
        let body = self.bytes().unwrap_or_default();
        Err(status_error(status, retry_after.as_deref(), &body, &url))
    }

    /// The whole body, at most [`MAX_REPLY_BYTES`].
    pub fn bytes(self) -> Result<Vec<u8>, PluginError> {
        let url = self.url.clone();
        let incoming = self.consume()?;
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
                Err(StreamError::Closed) => break,
                Err(e) => return Err(read_error(&url, &e)),
            }
        }
        drop(stream);
        finish(incoming, &url)?;
        Ok(body)
    }

    /// The body parsed as JSON.
    pub fn json<T: serde::de::DeserializeOwned>(self) -> Result<T, PluginError> {
        let url = self.url.clone();
        let body = self.bytes()?;
        serde_json::from_slice(&body).map_err(|e| {
            PluginError::unavailable(format!(
                "the reply from {url} is not the JSON expected: {e}"
            ))
        })
    }

    /// Splices the body into `out` as media of `content_type` (the reply's
    /// own `content-type` when `None`); returns the bytes written. A body
    /// cut short of its `content-length` is an `unavailable` error.
    pub fn save(self, out: &MediaOut, content_type: Option<&str>) -> Result<u64, PluginError> {
        let url = self.url.clone();
        let content_type = content_type
            .map(str::to_owned)
            .or_else(|| self.header("content-type"))
            .unwrap_or_else(|| "application/octet-stream".to_owned());
        let expected = self
            .header("content-length")
            .and_then(|v| v.trim().parse::<u64>().ok());
        let incoming = self.consume()?;
        let input = incoming
            .stream()
            .map_err(|()| PluginError::internal("the response stream was already taken"))?;
        let output = out.create(&content_type)?;
        let moved = splice_all(&output, &input, u64::MAX).map_err(|e| read_error(&url, &e))?;
        output.blocking_flush().map_err(|e| {
            PluginError::unavailable(format!("saving the reply: {}", stream_error(&e)))
        })?;
        drop(output);
        drop(input);
        finish(incoming, &url)?;
        if let Some(expected) = expected
            && moved != expected
        {
            return Err(PluginError::unavailable(format!(
                "the reply from {url} was cut off: {moved} of {expected} bytes"
            )));
        }
        Ok(moved)
    }

    fn consume(self) -> Result<IncomingBody, PluginError> {
        self.response
            .consume()
            .map_err(|()| PluginError::internal("the response body was already taken"))
    }
}

fn finish(incoming: IncomingBody, url: &str) -> Result<(), PluginError> {
    let trailers = IncomingBody::finish(incoming);
    trailers.subscribe().block();
    match trailers.get() {
        Some(Ok(Err(e))) => Err(transport_error(url, &e)),
        _ => Ok(()),
    }
}

/// The plugin error an HTTP status means (see the module docs).
pub fn status_error(status: u16, retry_after: Option<&str>, body: &[u8], url: &str) -> PluginError {
    let text = String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned();
    let said = format!("{url} answered {status}: {}", text.trim());
    match status {
        429 => {
            // Seconds, as most APIs send it; a date or nothing waits a second.
            let seconds = retry_after
                .and_then(|v| v.trim().parse::<f64>().ok())
                .filter(|s| s.is_finite() && *s >= 0.0)
                .unwrap_or(1.0);
            PluginError::rate_limited((seconds * 1000.0) as u64, said)
        }
        408 | 500..=599 => PluginError::unavailable(said),
        _ => PluginError::invalid_input(said),
    }
}

fn read_error(url: &str, e: &StreamError) -> PluginError {
    PluginError::unavailable(format!(
        "reading the reply from {url} failed: {}",
        stream_error(e)
    ))
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
        _ => PluginError::unavailable(format!("{url} could not be reached: {e:?}")),
    }
}

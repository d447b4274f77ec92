//! Outbound HTTP (`wasi:http`) for plugins the operator granted hosts.
//!
//! `wasi:http` is linked only into plugins loaded with a non-empty [`Grant`].
//! Every request a plugin sends then goes through the host's send hook, which
//!
//! 1. checks scheme, host and port against the plugin's grant, narrowed by
//!    the call's [`CallCtx::with_outbound`](super::CallCtx::with_outbound);
//! 2. resolves the host and drops every private, loopback, link-local or
//!    otherwise non-public address, unless the operator allowed that exact
//!    `host:port` in [`RuntimeConfig::allow_private`](super::RuntimeConfig);
//! 3. connects to one of the checked addresses itself (never re-resolving,
//!    so a DNS answer that changes between check and connect cannot redirect
//!    the request), with TLS verified against the host name for `https`;
//! 4. sets the call's credentials for that origin, replacing the plugin's
//!    headers of the same name;
//! 5. bounds the exchange: connect, first-byte and between-bytes timeouts,
//!    the call's deadline over all of it, and a cap on the response body,
//!    past which the body ends with an error instead of being buffered.
//!
//! A refused request fails in the plugin with a `wasi:http` error code
//! (`HTTP-request-denied`, `destination-IP-prohibited`) and is logged as a
//! host line attributed to the plugin, tenant and job.

use std::collections::HashSet;
use std::fmt;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{HOST, HeaderName, HeaderValue};
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt as _;
use kino_registry::Origin;
use kino_registry::manifest::Scheme;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::{self, pki_types::ServerName};
use wasmtime_wasi_http::io::TokioIo;
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody, WasiHttpHooks};

use super::CallCtx;
use super::bindings::host::LogLevel;

/// How outbound HTTP is bounded, for every plugin of a runtime.
///
/// Defaults: 5 s to connect (TLS included), 30 s to the first response byte,
/// 10 s between body chunks, 256 MiB of response body. A plugin may ask for
/// shorter timeouts, never longer, and the call's deadline caps them all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpLimits {
    /// The longest a TCP connect plus TLS handshake may take.
    pub connect_timeout: Duration,
    /// The longest from sending the request to the response head.
    pub first_byte_timeout: Duration,
    /// The longest between two chunks of the response body.
    pub between_bytes_timeout: Duration,
    /// The most response body bytes a plugin may receive per request; a
    /// longer body ends with an error at this size. Large enough for
    /// generated clips: a body spliced into a media sink never enters the
    /// plugin's memory, which its own cap bounds anyway.
    pub max_response_bytes: u64,
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(5),
            first_byte_timeout: Duration::from_secs(30),
            between_bytes_timeout: Duration::from_secs(10),
            max_response_bytes: 256 << 20,
        }
    }
}

/// The outbound origins an operator grants one plugin: always a subset of
/// what its manifest requested. Empty means no `wasi:http` at all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grant {
    origins: Arc<[Origin]>,
}

/// A grant asked for an origin the plugin's manifest did not request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot grant {origin}: the manifest requests only [{}]", requested_list(.requested))]
pub struct NotRequested {
    /// The origin that was to be granted.
    pub origin: Origin,
    /// What the manifest requested.
    pub requested: Vec<Origin>,
}

fn requested_list(requested: &[Origin]) -> String {
    requested
        .iter()
        .map(Origin::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

impl Grant {
    /// No outbound HTTP: `wasi:http` is not linked.
    pub fn none() -> Self {
        Self::default()
    }

    /// Grants `granted`, each of which must be covered by an origin the
    /// manifest `requested` (the same origin, or a host under a requested
    /// `*.` wildcard with the same scheme and port).
    pub fn new(
        requested: &[Origin],
        granted: impl IntoIterator<Item = Origin>,
    ) -> Result<Self, NotRequested> {
        let origins = granted
            .into_iter()
            .map(|origin| {
                if requested.iter().any(|r| covers(r, &origin)) {
                    Ok(origin)
                } else {
                    Err(NotRequested {
                        origin,
                        requested: requested.to_vec(),
                    })
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            origins: origins.into(),
        })
    }

    /// Grants everything the manifest requested.
    pub fn all_requested(requested: &[Origin]) -> Self {
        Self {
            origins: requested.into(),
        }
    }

    /// The granted origins.
    pub fn origins(&self) -> &[Origin] {
        &self.origins
    }

    /// Whether nothing is granted.
    pub fn is_empty(&self) -> bool {
        self.origins.is_empty()
    }
}

/// Whether every request `inner` allows is also allowed by `outer`.
fn covers(outer: &Origin, inner: &Origin) -> bool {
    if outer.scheme() != inner.scheme() || outer.port() != inner.port() {
        return false;
    }
    match (outer.is_wildcard(), inner.is_wildcard()) {
        (false, false) => outer.host() == inner.host(),
        (false, true) => false,
        (true, wildcard) => {
            (wildcard && inner.host() == outer.host())
                || inner
                    .host()
                    .strip_suffix(outer.host())
                    .is_some_and(|rest| rest.len() > 1 && rest.ends_with('.'))
        }
    }
}

/// A header the host sets on requests to one origin.
#[derive(Clone)]
pub(crate) struct Credential {
    origin: Origin,
    header: HeaderName,
    value: HeaderValue,
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The value is a secret: never print it.
        write!(f, "{}: <redacted> for {}", self.header, self.origin)
    }
}

/// A credential header name or value that HTTP cannot carry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("credential for {origin}: {reason}")]
pub struct InvalidCredential {
    /// The origin it was for.
    pub origin: Origin,
    /// What is wrong (never the value itself).
    pub reason: String,
}

impl Credential {
    pub(crate) fn new(
        origin: Origin,
        header: &str,
        value: &str,
    ) -> Result<Self, InvalidCredential> {
        let header = HeaderName::try_from(header).map_err(|_| InvalidCredential {
            origin: origin.clone(),
            reason: format!("{header:?} is not a valid header name"),
        })?;
        if header == HOST {
            return Err(InvalidCredential {
                origin,
                reason: "the host header is set by the host".into(),
            });
        }
        let mut value = HeaderValue::try_from(value).map_err(|_| InvalidCredential {
            origin: origin.clone(),
            reason: format!("the value for {header} has characters a header cannot carry"),
        })?;
        value.set_sensitive(true);
        Ok(Self {
            origin,
            header,
            value,
        })
    }
}

/// What every plugin's outbound requests share: limits, the operator's
/// private-address exceptions and the TLS setup.
pub(crate) struct HttpShared {
    limits: HttpLimits,
    allow_private: HashSet<String>,
    tls: TlsConnector,
}

impl HttpShared {
    /// Checks `allow_private` entries (`host:port`) and builds the TLS setup.
    pub(crate) fn new(limits: HttpLimits, allow_private: &[String]) -> anyhow::Result<Self> {
        let allow_private = allow_private
            .iter()
            .map(|entry| {
                let (host, port) = entry
                    .rsplit_once(':')
                    .filter(|(host, _)| !host.is_empty())
                    .ok_or_else(|| {
                        anyhow::anyhow!("allow_private entry {entry:?}: expected HOST:PORT")
                    })?;
                let port: u16 = port.parse().map_err(|_| {
                    anyhow::anyhow!("allow_private entry {entry:?}: {port:?} is not a port")
                })?;
                Ok(format!("{}:{port}", host.to_ascii_lowercase()))
            })
            .collect::<anyhow::Result<_>>()?;
        let roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        // An explicit provider: the process-wide default depends on which
        // rustls features other crates enable.
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| anyhow::anyhow!("tls setup: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
        Ok(Self {
            limits,
            allow_private,
            tls: TlsConnector::from(Arc::new(tls)),
        })
    }
}

/// The `wasi:http` hooks of one call: the checks, credentials and bounds.
pub(crate) struct Outbound {
    state: Option<Arc<CallState>>,
}

/// Everything a request of one call needs, shared with the tasks that send it.
struct CallState {
    shared: Arc<HttpShared>,
    granted: Arc<[Origin]>,
    call: CallCtx,
    plugin: Arc<str>,
    deadline: Instant,
}

impl Outbound {
    /// No outbound HTTP (the plugin has no grant, so `wasi:http` is not linked).
    pub(crate) fn none() -> Self {
        Self { state: None }
    }

    /// Outbound HTTP for one call of `plugin`, granted `granted`, ending at `deadline`.
    pub(crate) fn new(
        shared: Arc<HttpShared>,
        granted: Arc<[Origin]>,
        call: &CallCtx,
        plugin: Arc<str>,
        deadline: Instant,
    ) -> Self {
        Self {
            state: Some(Arc::new(CallState {
                shared,
                granted,
                call: call.clone(),
                plugin,
                deadline,
            })),
        }
    }
}

type SendFuture = Box<
    dyn Future<
            Output = Result<
                (
                    http::Response<WasiBody>,
                    Box<dyn Future<Output = Result<(), HttpError>> + Send>,
                ),
                HttpError,
            >,
        > + Send,
>;

impl WasiHttpHooks for Outbound {
    fn set_host_header(&mut self) -> bool {
        // Set from the parsed URI in `send_request` instead, so user info
        // in a plugin's authority never reaches the wire.
        false
    }

    fn default_scheme(&mut self) -> Option<http::uri::Scheme> {
        // A plugin must say whether it wants TLS.
        None
    }

    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _fut: Box<dyn Future<Output = Result<(), HttpError>> + Send>,
    ) -> SendFuture {
        let Some(state) = self.state.clone() else {
            return Box::new(async { Err(HttpError::HttpRequestDenied) });
        };
        Box::new(async move { state.send(request, options).await })
    }
}

/// The scheme, host and port a request is addressed to.
struct Target {
    scheme: Scheme,
    host: String,
    port: u16,
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}:{}", self.scheme.as_str(), self.host, self.port)
    }
}

impl CallState {
    fn warn(&self, message: String) {
        self.call.host_log(&self.plugin, LogLevel::Warn, message);
    }

    fn allowed(&self, target: &Target) -> bool {
        let scheme = target.scheme.as_str();
        let matches = |o: &Origin| o.matches(scheme, &target.host, target.port);
        self.granted.iter().any(matches)
            && self
                .call
                .outbound()
                .is_none_or(|narrowed| narrowed.iter().any(matches))
    }

    /// Whether the operator allowed `addr` (or the host name, at that port)
    /// although it is not a public address.
    fn private_allowed(&self, target: &Target, addr: SocketAddr) -> bool {
        let allow = &self.shared.allow_private;
        allow.contains(&format!("{}:{}", target.host, target.port))
            || allow.contains(&format!("{}:{}", addr.ip(), addr.port()))
    }

    async fn send(
        self: Arc<Self>,
        mut request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
    ) -> Result<
        (
            http::Response<WasiBody>,
            Box<dyn Future<Output = Result<(), HttpError>> + Send>,
        ),
        HttpError,
    > {
        let target = self.target(request.uri()).inspect_err(|_| {
            self.warn(format!(
                "outbound request refused: unsupported address {}",
                request.uri()
            ));
        })?;
        if !self.allowed(&target) {
            self.warn(format!(
                "outbound request to {target} refused: not in the plugin's allow-list"
            ));
            return Err(HttpError::HttpRequestDenied);
        }
        let deadline = tokio::time::Instant::from_std(self.deadline);
        let limits = &self.shared.limits;
        let pick = |asked: Option<Duration>, ours: Duration| asked.map_or(ours, |a| a.min(ours));
        let options = options.unwrap_or_default();
        let connect_timeout = pick(options.connect_timeout, limits.connect_timeout);
        let first_byte_timeout = pick(options.first_byte_timeout, limits.first_byte_timeout);
        let between_bytes_timeout =
            pick(options.between_bytes_timeout, limits.between_bytes_timeout);

        // Resolving, connecting and the TLS handshake share one timeout.
        let connect = async {
            let addrs = self.resolve(&target).await?;
            self.connect(&target, &addrs).await
        };
        let connect_deadline = deadline.min(tokio::time::Instant::now() + connect_timeout);
        let stream = match tokio::time::timeout_at(connect_deadline, connect).await {
            Ok(stream) => stream?,
            Err(_) => {
                self.warn(format!(
                    "outbound request to {target}: no connection in time"
                ));
                return Err(HttpError::ConnectionTimeout);
            }
        };

        // Origin-form request line; the host header from the checked target.
        let path = request
            .uri()
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .parse::<http::Uri>()
            .map_err(|_| HttpError::HttpRequestUriInvalid)?;
        *request.uri_mut() = path;
        let default_port = target.port == target.scheme.default_port();
        let host = if default_port {
            target.host.clone()
        } else {
            format!("{}:{}", target.host, target.port)
        };
        let headers = request.headers_mut();
        headers.insert(
            HOST,
            HeaderValue::try_from(host).map_err(|_| HttpError::HttpRequestUriInvalid)?,
        );
        let scheme = target.scheme.as_str();
        for credential in self.call.credentials() {
            if credential.origin.matches(scheme, &target.host, target.port) {
                headers.insert(credential.header.clone(), credential.value.clone());
            }
        }

        let (mut sender, connection) = hyper::client::conn::http1::Builder::new()
            .max_buf_size(256 << 10)
            .handshake::<_, WasiBody>(TokioIo::new(stream))
            .await
            .map_err(HttpError::Hyper)?;
        // The connection task ends when the response body is dropped (at the
        // latest with the call's store) or, failing that, at the deadline.
        tokio::spawn(async move {
            let _ = tokio::time::timeout_at(deadline, connection).await;
        });
        let head_deadline = deadline.min(tokio::time::Instant::now() + first_byte_timeout);
        let response =
            match tokio::time::timeout_at(head_deadline, sender.send_request(request)).await {
                Ok(response) => response.map_err(HttpError::Hyper)?,
                Err(_) => {
                    self.warn(format!("outbound request to {target}: no response in time"));
                    return Err(HttpError::ConnectionReadTimeout);
                }
            };
        let max = limits.max_response_bytes;
        let declared = response
            .headers()
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if let Some(length) = declared.filter(|&length| length > max) {
            self.warn(format!(
                "outbound response from {target} refused: {length} bytes, past the {max}-byte cap"
            ));
            return Err(HttpError::HttpResponseBodySize(Some(length)));
        }
        let log = {
            let state = self.clone();
            let target = target.to_string();
            Box::new(move |message: String| state.warn(format!("{target}: {message}")))
                as Box<dyn Fn(String) + Send>
        };
        let response = response.map(|incoming| {
            BoundedBody {
                inner: incoming,
                received: 0,
                max,
                between: between_bytes_timeout,
                idle: Box::pin(tokio::time::sleep(between_bytes_timeout)),
                deadline: Box::pin(tokio::time::sleep_until(deadline)),
                log,
                done: false,
            }
            .boxed_unsync()
        });
        Ok((
            response,
            Box::new(async { Ok(()) }) as Box<dyn Future<Output = _> + Send>,
        ))
    }

    fn target(&self, uri: &http::Uri) -> Result<Target, HttpError> {
        let scheme = match uri.scheme_str() {
            Some("https") => Scheme::Https,
            Some("http") => Scheme::Http,
            _ => return Err(HttpError::HttpProtocolError),
        };
        let host = uri.host().ok_or(HttpError::HttpRequestUriInvalid)?;
        // IPv6 literals are never granted (origins cannot name them).
        if host.starts_with('[') {
            return Err(HttpError::HttpRequestDenied);
        }
        Ok(Target {
            scheme,
            host: host.to_ascii_lowercase(),
            port: uri.port_u16().unwrap_or(scheme.default_port()),
        })
    }

    /// The addresses of `target` the plugin may reach: public ones, and
    /// non-public ones the operator allowed.
    async fn resolve(&self, target: &Target) -> Result<Vec<SocketAddr>, HttpError> {
        let resolved: Vec<SocketAddr> = match target.host.parse::<Ipv4Addr>() {
            Ok(ip) => vec![SocketAddr::new(ip.into(), target.port)],
            Err(_) => tokio::net::lookup_host((target.host.as_str(), target.port))
                .await
                .map_err(|e| {
                    self.warn(format!(
                        "outbound request to {target}: dns lookup failed: {e}"
                    ));
                    HttpError::DnsError {
                        rcode: Some(e.to_string()),
                        info_code: None,
                    }
                })?
                .collect(),
        };
        let (allowed, refused): (Vec<_>, Vec<_>) = resolved
            .into_iter()
            .partition(|addr| is_public(addr.ip()) || self.private_allowed(target, *addr));
        if allowed.is_empty() {
            let refused = refused
                .iter()
                .map(SocketAddr::to_string)
                .collect::<Vec<_>>()
                .join(", ");
            self.warn(format!(
                "outbound request to {target} refused: it resolves to non-public addresses ({refused}) the operator has not allowed"
            ));
            return Err(HttpError::DestinationIpProhibited);
        }
        Ok(allowed)
    }

    /// Connects to the first reachable of the checked `addrs`, with TLS for `https`.
    async fn connect(
        &self,
        target: &Target,
        addrs: &[SocketAddr],
    ) -> Result<Box<dyn Stream>, HttpError> {
        let mut last = None;
        let mut tcp = None;
        for addr in addrs {
            match TcpStream::connect(addr).await {
                Ok(stream) => {
                    tcp = Some(stream);
                    break;
                }
                Err(e) => last = Some(e),
            }
        }
        let Some(tcp) = tcp else {
            let reason = last.map_or_else(|| "no address".to_owned(), |e| e.to_string());
            self.warn(format!(
                "outbound request to {target}: connect failed: {reason}"
            ));
            return Err(HttpError::ConnectionRefused);
        };
        match target.scheme {
            Scheme::Http => Ok(Box::new(tcp)),
            Scheme::Https => {
                let name = match target.host.parse::<IpAddr>() {
                    Ok(ip) => ServerName::from(ip),
                    Err(_) => ServerName::try_from(target.host.clone())
                        .map_err(|_| HttpError::HttpRequestUriInvalid)?,
                };
                let tls = self.shared.tls.connect(name, tcp).await.map_err(|e| {
                    self.warn(format!("outbound request to {target}: tls failed: {e}"));
                    HttpError::TlsProtocolError
                })?;
                Ok(Box::new(tls))
            }
        }
    }
}

/// A connection a request can be sent over: plain TCP or TLS.
trait Stream: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static> Stream for T {}

/// A response body cut off at a byte cap, an idle timeout and the call's deadline.
struct BoundedBody {
    inner: hyper::body::Incoming,
    received: u64,
    max: u64,
    between: Duration,
    idle: Pin<Box<tokio::time::Sleep>>,
    deadline: Pin<Box<tokio::time::Sleep>>,
    log: Box<dyn Fn(String) + Send>,
    done: bool,
}

impl BoundedBody {
    fn fail(&mut self, error: HttpError) -> Poll<Option<Result<Frame<Bytes>, HttpError>>> {
        (self.log)(format!("response body cut off: {error}"));
        self.done = true;
        Poll::Ready(Some(Err(error)))
    }
}

impl Body for BoundedBody {
    type Data = Bytes;
    type Error = HttpError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, HttpError>>> {
        let this = &mut *self;
        if this.done {
            return Poll::Ready(None);
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.received += data.len() as u64;
                    if this.received > this.max {
                        let max = this.max;
                        return this.fail(HttpError::HttpResponseBodySize(Some(max)));
                    }
                }
                let next = tokio::time::Instant::now() + this.between;
                this.idle.as_mut().reset(next);
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => {
                this.done = true;
                Poll::Ready(Some(Err(HttpError::Hyper(e))))
            }
            Poll::Ready(None) => {
                this.done = true;
                Poll::Ready(None)
            }
            Poll::Pending => {
                if this.deadline.as_mut().poll(cx).is_ready() {
                    return this.fail(HttpError::HttpResponseTimeout);
                }
                if this.idle.as_mut().poll(cx).is_ready() {
                    return this.fail(HttpError::ConnectionReadTimeout);
                }
                Poll::Pending
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Whether `ip` is a globally reachable unicast address. Everything else
/// (private, loopback, link-local, shared, documentation, benchmarking,
/// multicast, reserved, unspecified) is refused unless the operator allows it.
pub(crate) fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(ip) => is_public_v4(ip),
        IpAddr::V6(ip) => is_public_v6(ip),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_documentation()
        || ip.is_multicast()
        || a == 0
        || a >= 240
        // 100.64.0.0/10: carrier-grade NAT, shared address space.
        || (a == 100 && (64..128).contains(&b))
        // 192.0.0.0/24: IETF protocol assignments.
        || (a == 192 && b == 0 && c == 0)
        // 198.18.0.0/15: benchmarking.
        || (a == 198 && (b == 18 || b == 19)))
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    let segments = ip.segments();
    // 64:ff9b::/96, NAT64: judged by the IPv4 address it embeds.
    if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        let [a, b] = segments[6].to_be_bytes();
        let [c, d] = segments[7].to_be_bytes();
        return is_public_v4(Ipv4Addr::new(a, b, c, d));
    }
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        // fc00::/7: unique local.
        || (segments[0] & 0xfe00) == 0xfc00
        // fe80::/10 link-local, fec0::/10 the old site-local.
        || (segments[0] & 0xffc0) == 0xfe80
        || (segments[0] & 0xffc0) == 0xfec0
        // 2001:db8::/32: documentation.
        || (segments[0] == 0x2001 && segments[1] == 0x0db8)
        // ::/96, the deprecated IPv4-compatible form.
        || segments[..6] == [0; 6])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin(s: &str) -> Origin {
        s.parse().expect(s)
    }

    #[test]
    fn non_public_addresses_are_refused() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a00:1",
        ] {
            assert!(!is_public(ip.parse().expect(ip)), "{ip}");
        }
        for ip in [
            "93.184.216.34",
            "1.1.1.1",
            "2606:4700::1111",
            "64:ff9b::101:101",
        ] {
            assert!(is_public(ip.parse().expect(ip)), "{ip}");
        }
    }

    #[test]
    fn grants_must_be_requested() {
        let requested = [
            origin("https://api.openai.com"),
            origin("https://*.example.com"),
        ];
        let grant = Grant::new(
            &requested,
            [
                origin("https://api.openai.com"),
                origin("https://a.example.com"),
                origin("https://*.b.example.com"),
                origin("https://*.example.com"),
            ],
        )
        .expect("a subset");
        assert_eq!(grant.origins().len(), 4);
        for refused in [
            "http://api.openai.com",
            "https://api.openai.com:8443",
            "https://example.com",
            "https://evil.com",
        ] {
            let error = Grant::new(&requested, [origin(refused)]).expect_err(refused);
            assert_eq!(error.origin, origin(refused));
            assert!(error.to_string().contains("the manifest requests only"));
        }
        assert!(Grant::none().is_empty());
    }

    #[test]
    fn credentials_are_checked_and_never_printed() {
        let o = origin("https://api.openai.com");
        let c = Credential::new(o.clone(), "authorization", "Bearer sk-secret").expect("valid");
        assert!(!format!("{c:?}").contains("sk-secret"));
        assert!(Credential::new(o.clone(), "bad header", "x").is_err());
        assert!(Credential::new(o.clone(), "host", "x").is_err());
        let error = Credential::new(o, "authorization", "a\nb").expect_err("newline");
        assert!(!error.to_string().contains("a\nb"));
    }

    #[test]
    fn allow_private_entries_are_host_and_port() {
        assert!(HttpShared::new(HttpLimits::default(), &["127.0.0.1:8080".into()]).is_ok());
        for bad in ["127.0.0.1", ":80", "localhost:http"] {
            assert!(
                HttpShared::new(HttpLimits::default(), &[bad.into()]).is_err(),
                "{bad}"
            );
        }
    }
}

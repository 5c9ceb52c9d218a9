//! The HTTP client: hyper over a pooled, TLS-verifying connector, with
//! decoding of gzip, deflate, br and zstd bodies capped on decoded bytes.

mod charset;
mod decode;
mod tls;

use decode::*;
pub(crate) use decode::{GZIP_MAGIC, decode_pieces};
use tls::*;

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::error::{Error, Result};
use crate::job::{Limits, Request};
use crate::net::proxy::ProxyConnector;

/// A response, its body decoded.
#[derive(Debug)]
pub(crate) struct Response {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

/// Looks at a successful answer's status and headers and at the decoded
/// start of its body, after each piece of the body arrives, until it
/// returns `true`: what a paginator needs is often at the head of a page,
/// and the next request need not wait for the rest. The last call, with
/// `complete` set, has the whole body: what is at its tail is known
/// before the page is parsed.
pub(crate) type Watch<'w> = dyn FnMut(&http::response::Parts, &[u8], bool) -> bool + Send + 'w;

#[derive(Debug, Clone)]
pub(crate) struct HttpClient {
    client: Client<HttpsConnector<ProxyConnector>, Full<Bytes>>,
    proxy: ProxyConnector,
    timeout: Duration,
    max_response: u64,
    redirect_to: Option<Uri>,
    throttle: Option<Arc<Throttle>>,
    /// Hosts (`host:port`) that have answered this job: a refused
    /// connection to one of them is a server restarting, worth a retry.
    answered: Arc<std::sync::Mutex<std::collections::HashSet<String>>>,
}

impl HttpClient {
    /// A client for the job's `[request]` settings. `redirect_to`, when
    /// given, sends every request to that origin instead (replay).
    pub(crate) fn new(
        request: &Request,
        limits: &Limits,
        redirect_to: Option<Uri>,
    ) -> Result<HttpClient> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::config(format!("cannot set up TLS: {e}")))?;
        let tls = if request.tls_verify {
            let pinned = ca_file_certs(request)?;
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(Pinning::new(provider, pinned)))
                .with_no_client_auth()
        } else {
            tracing::warn!("request.tls_verify = false: server certificates are not checked");
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(NoVerification(provider)))
                .with_no_client_auth()
        };
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(request.connect_timeout));
        let proxy = ProxyConnector::from_env(http);
        let connector = HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .enable_http2()
            .wrap_connector(proxy.clone());
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(90))
            .build(connector);
        Ok(HttpClient {
            client,
            proxy,
            timeout: request.timeout,
            max_response: limits.max_response,
            redirect_to,
            throttle: limits
                .bytes_per_second
                .map(|bps| Arc::new(Throttle::new(bps))),
            answered: Arc::default(),
        })
    }

    /// The error of a request that never got an answer. A name that does
    /// not resolve, and a refused connection to a host that has not
    /// answered this job, fail at once: sending again will not help. A
    /// refused connection to a host that answered before (a server
    /// restarting), a timeout or a reset are worth a retry.
    fn unanswered(
        &self,
        error: &hyper_util::client::legacy::Error,
        host: &str,
        shown_url: &str,
        proxy: Option<&str>,
    ) -> Error {
        let chain = describe_error_chain(error);
        if let Some(proxy) = proxy.filter(|_| error.is_connect()) {
            // The API was not reached: the fault to look into is the proxy.
            let refused = holds_io_kind(error, std::io::ErrorKind::ConnectionRefused);
            let why = if refused {
                "the proxy refused the connection".to_owned()
            } else {
                chain
            };
            let message = format!(
                "request to {shown_url} failed through the proxy {proxy} (set by HTTP_PROXY, \
                 HTTPS_PROXY or ALL_PROXY; NO_PROXY names hosts reached directly): {why}"
            );
            return if refused {
                Error::http(message)
            } else {
                Error::transient(message).unsent()
            };
        }
        if is_tls_failure(error) {
            let hint = if chain.contains("invalid peer certificate") {
                "; for a server with a private CA or a self-signed certificate, give its certificate in request.ca_file (or set request.tls_verify = false)"
            } else {
                ""
            };
            return Error::http(format!("request to {shown_url} failed: {chain}{hint}"));
        }
        if !error.is_connect() {
            return Error::transient(format!("request to {shown_url} failed: {chain}"));
        }
        if chain.contains("dns error") {
            return Error::http(format!(
                "request to {shown_url} failed: the host name does not resolve ({chain})"
            ));
        }
        let refused = holds_io_kind(error, std::io::ErrorKind::ConnectionRefused);
        let answered_before = self
            .answered
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .contains(host);
        if refused && !answered_before {
            return Error::http(format!(
                "request to {shown_url} failed: the connection was refused (nothing listens there)"
            ));
        }
        Error::transient(format!("request to {shown_url} failed: {chain}")).unsent()
    }

    /// Sends a request and reads the whole body, within `timeout`, showing
    /// it to `watch` as it grows if the answer is a success. `shown_url`
    /// names the request in errors (secrets masked).
    pub(crate) async fn send(
        &self,
        mut request: http::Request<Full<Bytes>>,
        shown_url: &str,
        watch: Option<&mut Watch<'_>>,
    ) -> Result<Response> {
        if let Some(target) = &self.redirect_to {
            let mut parts = request.uri().clone().into_parts();
            let target = target.clone().into_parts();
            parts.scheme = target.scheme;
            parts.authority = target.authority;
            *request.uri_mut() = Uri::from_parts(parts)
                .map_err(|e| Error::config(format!("cannot replay {shown_url}: {e}")))?;
        }
        if let Some(auth) = self.proxy.http_proxy_auth(request.uri()) {
            request
                .headers_mut()
                .insert(http::header::PROXY_AUTHORIZATION, auth);
        }
        // The deadline moves by the time spent waiting for the download
        // throttle: `timeout` bounds the server, not our own pacing.
        let deadline = tokio::time::Instant::now() + self.timeout;
        let timed_out = || {
            Error::transient(format!(
                "request to {shown_url} timed out after {:?} (request.timeout)",
                self.timeout
            ))
        };
        let host = request
            .uri()
            .authority()
            .map(|a| a.as_str().to_ascii_lowercase())
            .unwrap_or_default();
        let proxy = self.proxy.proxy_for(request.uri());
        let response = tokio::time::timeout_at(deadline, self.client.request(request))
            .await
            .map_err(|_| timed_out())?
            .map_err(|e| self.unanswered(&e, &host, shown_url, proxy.as_deref()))?;
        if !self
            .answered
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .contains(&host)
        {
            self.answered
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .insert(host);
        }
        let (parts, body) = response.into_parts();
        let read = self
            .read_body(&parts, body, deadline, shown_url, watch)
            .await;
        // A 2xx whose body could not be read was still acted on (a write
        // delivered): the error keeps the status for the caller to see.
        let body = read.map_err(|e| match parts.status.is_success() {
            true => e.with_status(parts.status.as_u16()),
            false => e,
        })?;
        Ok(Response {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    }

    /// Reads and decodes a response body within `deadline` (moved on by
    /// the download throttle), showing it to `watch` as it arrives.
    async fn read_body(
        &self,
        parts: &http::response::Parts,
        mut body: hyper::body::Incoming,
        mut deadline: tokio::time::Instant,
        shown_url: &str,
        mut watch: Option<&mut Watch<'_>>,
    ) -> Result<Vec<u8>> {
        let timed_out = || {
            Error::transient(format!(
                "request to {shown_url} timed out after {:?} (request.timeout)",
                self.timeout
            ))
        };
        let mut decoder = Decoder::new(&parts.headers, self.max_response, shown_url)?;
        loop {
            let Some(frame) = tokio::time::timeout_at(deadline, body.frame())
                .await
                .map_err(|_| timed_out())?
            else {
                break;
            };
            let frame = frame.map_err(|e| {
                Error::transient(format!(
                    "reading the response from {shown_url} failed: {}",
                    describe_error_chain(&e)
                ))
            })?;
            if let Ok(data) = frame.into_data() {
                if let Some(throttle) = &self.throttle {
                    deadline += throttle.take(data.len()).await;
                }
                decoder.write(&data)?;
                if parts.status.is_success()
                    && let Some(seen) = &mut watch
                    && let Some(so_far) = decoder.readable()?
                    && seen(parts, so_far, false)
                {
                    watch = None;
                }
            }
        }
        let body = decoder.finish()?;
        if parts.status.is_success()
            && let Some(seen) = &mut watch
        {
            seen(parts, &body, true);
        }
        Ok(body)
    }
}

/// A certificate or handshake failure: sending again will not help.
fn is_tls_failure(error: &hyper_util::client::legacy::Error) -> bool {
    std::error::Error::source(error).is_some_and(holds_tls_error)
}

/// `io::Error::source` skips the error it wraps, so wrapped errors are
/// looked into as well as sources.
fn holds_tls_error(error: &(dyn std::error::Error + 'static)) -> bool {
    if error.is::<rustls::Error>() {
        return true;
    }
    if let Some(io) = error.downcast_ref::<std::io::Error>()
        && let Some(inner) = io.get_ref()
        && holds_tls_error(inner)
    {
        return true;
    }
    error.source().is_some_and(holds_tls_error)
}

/// Whether an I/O error of `kind` is in the chain of `error`.
fn holds_io_kind(error: &(dyn std::error::Error + 'static), kind: std::io::ErrorKind) -> bool {
    if let Some(io) = error.downcast_ref::<std::io::Error>()
        && (io.kind() == kind || io.get_ref().is_some_and(|inner| holds_io_kind(inner, kind)))
    {
        return true;
    }
    error
        .source()
        .is_some_and(|inner| holds_io_kind(inner, kind))
}

fn describe_error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    text
}

/// Paces downloads to `limits.bytes_per_second`, across every request of
/// the job: each chunk reserves its share of time after the previous one.
#[derive(Debug)]
pub(crate) struct Throttle {
    seconds_per_byte: f64,
    next_free: std::sync::Mutex<tokio::time::Instant>,
}

impl Throttle {
    pub(crate) fn new(bytes_per_second: u64) -> Throttle {
        Throttle {
            seconds_per_byte: 1.0 / bytes_per_second as f64,
            next_free: std::sync::Mutex::new(tokio::time::Instant::now()),
        }
    }

    /// Waits until `bytes` more may be taken; returns how long it waited.
    async fn take(&self, bytes: usize) -> Duration {
        let now = tokio::time::Instant::now();
        let ready = {
            let mut next_free = self.next_free.lock().unwrap_or_else(|e| e.into_inner());
            let start = (*next_free).max(now);
            *next_free = start + Duration::from_secs_f64(bytes as f64 * self.seconds_per_byte);
            *next_free
        };
        tokio::time::sleep_until(ready).await;
        ready.saturating_duration_since(now)
    }
}

//! The HTTP client: hyper over a pooled, TLS-verifying connector, with
//! decoding of gzip, deflate and br bodies capped on decoded bytes.

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
/// and the next request need not wait for the rest.
pub(crate) type Watch<'w> = dyn FnMut(&http::response::Parts, &[u8]) -> bool + Send + 'w;

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
            let (roots, pinned) = roots(request)?;
            let webpki = rustls::client::WebPkiServerVerifier::builder_with_provider(
                Arc::new(roots),
                provider.clone(),
            )
            .build()
            .map_err(|e| Error::config(format!("cannot set up TLS: {e}")))?;
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(Pinning { webpki, pinned }))
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
    ) -> Error {
        let chain = describe_error_chain(error);
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
        let response = tokio::time::timeout_at(deadline, self.client.request(request))
            .await
            .map_err(|_| timed_out())?
            .map_err(|e| self.unanswered(&e, &host, shown_url))?;
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
                    && seen(parts, decoder.decoded()?)
                {
                    watch = None;
                }
            }
        }
        decoder.finish()
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

/// The roots certificates are checked against, and the certificates of
/// `ca_file`, which are also accepted as they are (pinned).
fn roots(request: &Request) -> Result<(RootCertStore, Vec<CertificateDer<'static>>)> {
    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let native = rustls_native_certs::load_native_certs();
    roots.add_parsable_certificates(native.certs);
    if let Some(path) = &request.ca_file {
        let certs = CertificateDer::pem_file_iter(path)
            .and_then(|certs| certs.collect::<std::result::Result<Vec<_>, _>>())
            .map_err(|e| Error::config(format!("request.ca_file `{}`: {e}", path.display())))?;
        if certs.is_empty() {
            return Err(Error::config(format!(
                "request.ca_file `{}`: no PEM certificate in it",
                path.display()
            )));
        }
        for cert in &certs {
            roots
                .add(cert.clone())
                .map_err(|e| Error::config(format!("request.ca_file `{}`: {e}", path.display())))?;
        }
        return Ok((roots, certs));
    }
    Ok((roots, Vec::new()))
}

/// The usual verification, and one more way to pass it: a server that
/// presents a certificate of `ca_file` itself (a self-signed certificate,
/// as `openssl req -x509` makes, which is marked as a CA), valid for the
/// host's name, is trusted as `curl --cacert` trusts it.
#[derive(Debug)]
struct Pinning {
    webpki: Arc<rustls::client::WebPkiServerVerifier>,
    pinned: Vec<CertificateDer<'static>>,
}

impl ServerCertVerifier for Pinning {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        let verified = self.webpki.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        );
        match verified {
            Err(e)
                if self
                    .pinned
                    .iter()
                    .any(|p| p.as_ref() == end_entity.as_ref()) =>
            {
                let parsed =
                    rustls::server::ParsedCertificate::try_from(end_entity).map_err(|_| e)?;
                rustls::client::verify_server_name(&parsed, server_name)?;
                Ok(ServerCertVerified::assertion())
            }
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}

/// `tls_verify = false`: accepts any certificate, still checks signatures.
#[derive(Debug)]
struct NoVerification(Arc<CryptoProvider>);

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// The decoded body, capped at `limits.max_response`, without the UTF-8
/// byte order mark some servers put before the JSON (RFC 8259 §8.1 lets a
/// reader ignore it).
struct Capped {
    buf: Vec<u8>,
    cap: u64,
    /// How many bytes of a leading byte order mark were skipped; 3 once
    /// the body's start is settled.
    bom: usize,
}

const BOM: &[u8; 3] = b"\xEF\xBB\xBF";

impl Capped {
    fn new(capacity: usize, cap: u64) -> Capped {
        Capped {
            buf: Vec::with_capacity(capacity),
            cap,
            bom: 0,
        }
    }

    /// `data` less any part of a leading byte order mark.
    fn past_bom<'d>(&mut self, mut data: &'d [u8]) -> &'d [u8] {
        while self.bom < BOM.len() {
            match data.first() {
                None => return data,
                Some(&byte) if byte == BOM[self.bom] => {
                    self.bom += 1;
                    data = &data[1..];
                }
                Some(_) => {
                    // Not a mark after all: what was skipped is body.
                    self.buf.extend_from_slice(&BOM[..self.bom]);
                    self.bom = BOM.len();
                }
            }
        }
        data
    }
}

impl Write for Capped {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        let whole = data.len();
        let data = self.past_bom(data);
        if (self.buf.len() + data.len()) as u64 > self.cap {
            return Err(std::io::Error::other(CapExceeded));
        }
        self.buf.extend_from_slice(data);
        Ok(whole)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
#[error("decoded body exceeds limits.max_response")]
struct CapExceeded;

enum Decoding {
    Identity(Capped),
    Gzip(flate2::write::GzDecoder<Capped>),
    Zlib(flate2::write::ZlibDecoder<Capped>),
    Deflate(flate2::write::DeflateDecoder<Capped>),
    Brotli(Box<brotli_decompressor::DecompressorWriter<Capped>>),
    /// `deflate` whose first bytes have not arrived: zlib-wrapped or raw.
    DeflatePending(Capped),
}

struct Decoder<'u> {
    decoding: Decoding,
    url: &'u str,
    cap: u64,
}

impl<'u> Decoder<'u> {
    fn new(headers: &HeaderMap, cap: u64, url: &'u str) -> Result<Decoder<'u>> {
        let length_hint = headers
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
            .min(cap)
            .min(64 << 20);
        let sink = Capped::new(length_hint as usize, cap);
        let encodings: Vec<String> = headers
            .get_all(http::header::CONTENT_ENCODING)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|v| v.trim().to_ascii_lowercase())
            .filter(|v| !v.is_empty() && v != "identity")
            .collect();
        let decoding = match encodings.as_slice() {
            [] => Decoding::Identity(sink),
            [one] => match one.as_str() {
                "gzip" | "x-gzip" => Decoding::Gzip(flate2::write::GzDecoder::new(sink)),
                "deflate" => Decoding::DeflatePending(sink),
                "br" => Decoding::Brotli(Box::new(brotli_decompressor::DecompressorWriter::new(
                    sink,
                    64 * 1024,
                ))),
                other => {
                    return Err(Error::data(format!(
                        "response from {url} has an unsupported content-encoding `{other}`"
                    )));
                }
            },
            several => {
                return Err(Error::data(format!(
                    "response from {url} has stacked content-encodings `{}`, which are not supported",
                    several.join(", ")
                )));
            }
        };
        Ok(Decoder { decoding, url, cap })
    }

    fn write(&mut self, data: &[u8]) -> Result<()> {
        if let Decoding::DeflatePending(sink) = &mut self.decoding {
            let sink = std::mem::replace(sink, Capped::new(0, 0));
            // RFC 9110's deflate is zlib-wrapped; some servers send it raw.
            let zlib = data.len() >= 2
                && data[0] & 0x0f == 8
                && (u16::from(data[0]) << 8 | u16::from(data[1])) % 31 == 0;
            self.decoding = if zlib {
                Decoding::Zlib(flate2::write::ZlibDecoder::new(sink))
            } else {
                Decoding::Deflate(flate2::write::DeflateDecoder::new(sink))
            };
        }
        let result = match &mut self.decoding {
            Decoding::Identity(sink) => sink.write_all(data),
            Decoding::Gzip(d) => d.write_all(data),
            Decoding::Zlib(d) => d.write_all(data),
            Decoding::Deflate(d) => d.write_all(data),
            Decoding::Brotli(d) => d.write_all(data),
            Decoding::DeflatePending(_) => unreachable!("replaced above"),
        };
        result.map_err(|e| self.error(e))
    }

    /// The body decoded so far.
    fn decoded(&mut self) -> Result<&[u8]> {
        // A decoder keeps what it decoded from the last piece until it is
        // flushed or given the next.
        let flushed = match &mut self.decoding {
            Decoding::Identity(_) | Decoding::DeflatePending(_) => Ok(()),
            Decoding::Gzip(d) => d.flush(),
            Decoding::Zlib(d) => d.flush(),
            Decoding::Deflate(d) => d.flush(),
            Decoding::Brotli(d) => d.flush(),
        };
        flushed.map_err(|e| self.error(e))?;
        Ok(match &self.decoding {
            Decoding::Identity(sink) | Decoding::DeflatePending(sink) => &sink.buf,
            Decoding::Gzip(d) => &d.get_ref().buf,
            Decoding::Zlib(d) => &d.get_ref().buf,
            Decoding::Deflate(d) => &d.get_ref().buf,
            Decoding::Brotli(d) => &d.get_ref().buf,
        })
    }

    fn finish(self) -> Result<Vec<u8>> {
        let url = self.url;
        let cap = self.cap;
        let fail = |e: std::io::Error| decode_error(e, url, cap);
        let sink = match self.decoding {
            Decoding::Identity(sink) | Decoding::DeflatePending(sink) => sink,
            Decoding::Gzip(d) => d.finish().map_err(fail)?,
            Decoding::Zlib(d) => d.finish().map_err(fail)?,
            Decoding::Deflate(d) => d.finish().map_err(fail)?,
            Decoding::Brotli(d) => d.into_inner().map_err(|_| {
                Error::data(format!(
                    "response from {url}: the br body is truncated or corrupt"
                ))
            })?,
        };
        Ok(sink.buf)
    }

    fn error(&self, e: std::io::Error) -> Error {
        decode_error(e, self.url, self.cap)
    }
}

fn decode_error(e: std::io::Error, url: &str, cap: u64) -> Error {
    if e.get_ref().is_some_and(|inner| inner.is::<CapExceeded>()) {
        Error::data(format!(
            "response from {url} exceeds limits.max_response ({cap} bytes decoded)"
        ))
    } else {
        Error::data(format!("response from {url} could not be decoded: {e}"))
    }
}

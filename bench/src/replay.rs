use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;

use crate::{Exchange, FixtureSet};

/// A request the server received.
#[derive(Debug, Clone)]
pub struct Seen {
    /// `HTTP/1.1` or `HTTP/2.0`.
    pub version: String,
    pub method: String,
    /// Path and query as sent.
    pub target: String,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// When the request had been read.
    pub received: std::time::Instant,
}

impl Seen {
    /// The value of a header, if sent.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Requests being answered now, and the most at once.
#[derive(Debug, Default)]
struct Load {
    now: AtomicUsize,
    max: AtomicUsize,
}

/// A running replay server; it stops when dropped.
#[derive(Debug)]
pub struct Server {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
    load: Arc<Load>,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The most requests that were being answered at the same moment.
    pub fn max_in_flight(&self) -> usize {
        self.load.max.load(Ordering::SeqCst)
    }

    /// Every request received so far, in order of arrival.
    pub fn requests(&self) -> Vec<Seen> {
        self.seen.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Decides the answer to each request of a server started with
/// [`serve_fn`]; `method` and `target` of the answer are not used.
pub type Handler = Arc<dyn Fn(&Seen) -> Exchange + Send + Sync>;

/// Serves `set` on `addr` (HTTP/1.1 and h2c). A request that matches no
/// exchange gets a 404 naming it.
pub async fn serve(set: FixtureSet, addr: SocketAddr) -> std::io::Result<Server> {
    start(fixture_handler(set), addr, None).await
}

/// Serves on `addr` whatever `handler` answers: for servers that check
/// what they receive, such as a signature or a token.
pub async fn serve_fn(
    addr: SocketAddr,
    handler: impl Fn(&Seen) -> Exchange + Send + Sync + 'static,
) -> std::io::Result<Server> {
    start(Arc::new(handler), addr, None).await
}

fn fixture_handler(set: FixtureSet) -> Handler {
    Arc::new(
        move |seen: &Seen| match set.find(&seen.method, &seen.target, &seen.body) {
            Some(exchange) => exchange.clone(),
            None => Exchange {
                status: 404,
                ..Exchange::json(
                    &seen.target,
                    format!(
                        "{{\"error\":\"no recorded exchange for {} {}\"}}",
                        seen.method,
                        seen.target.replace('"', "'")
                    ),
                )
            },
        },
    )
}

/// Serves `set` over TLS with the given PEM certificate chain and key,
/// offering h2 and http/1.1 by ALPN.
pub async fn serve_tls(
    set: FixtureSet,
    addr: SocketAddr,
    cert_pem: &str,
    key_pem: &str,
) -> std::io::Result<Server> {
    use tokio_rustls::rustls;
    use tokio_rustls::rustls::pki_types::pem::PemObject;
    use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let invalid = |e: &dyn std::fmt::Display| {
        std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string())
    };
    let certs = CertificateDer::pem_slice_iter(cert_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid(&e))?;
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).map_err(|e| invalid(&e))?;
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| invalid(&e))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| invalid(&e))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    start(
        fixture_handler(set),
        addr,
        Some(tokio_rustls::TlsAcceptor::from(Arc::new(config))),
    )
    .await
}

async fn start(
    set: Handler,
    addr: SocketAddr,
    tls: Option<tokio_rustls::TlsAcceptor>,
) -> std::io::Result<Server> {
    let listener = TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let load = Arc::new(Load::default());
    let counter = load.clone();
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let set = set.clone();
            let log = log.clone();
            let tls = tls.clone();
            let counter = counter.clone();
            tokio::spawn(async move {
                let service = service_fn(move |request| {
                    let (set, log, counter) = (set.clone(), log.clone(), counter.clone());
                    async move {
                        let now = counter.now.fetch_add(1, Ordering::SeqCst) + 1;
                        counter.max.fetch_max(now, Ordering::SeqCst);
                        let response = answer(set, log, request).await;
                        counter.now.fetch_sub(1, Ordering::SeqCst);
                        response
                    }
                });
                let builder = auto::Builder::new(TokioExecutor::new());
                let served = match tls {
                    None => {
                        builder
                            .serve_connection(TokioIo::new(stream), service)
                            .await
                    }
                    Some(acceptor) => match acceptor.accept(stream).await {
                        Ok(stream) => {
                            builder
                                .serve_connection(TokioIo::new(stream), service)
                                .await
                        }
                        Err(e) => Err(e.into()),
                    },
                };
                if let Err(e) = served {
                    tracing::debug!("replay connection ended: {e}");
                }
            });
        }
    });
    Ok(Server {
        addr,
        seen,
        load,
        task,
    })
}

async fn answer(
    handler: Handler,
    log: Arc<Mutex<Vec<Seen>>>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, body) = request.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes().to_vec())
        .unwrap_or_default();
    let target = parts
        .uri
        .path_and_query()
        .map_or_else(|| parts.uri.path().to_owned(), |pq| pq.as_str().to_owned());
    let seen = Seen {
        version: format!("{:?}", parts.version),
        method: parts.method.as_str().to_owned(),
        target,
        headers: parts
            .headers
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body,
        received: std::time::Instant::now(),
    };
    if let Ok(mut log) = log.lock() {
        log.push(seen.clone());
    }
    let exchange = handler(&seen);
    if !exchange.delay.is_zero() {
        tokio::time::sleep(exchange.delay).await;
    }
    let mut builder = Response::builder().status(exchange.status);
    for (name, value) in &exchange.headers {
        builder = builder.header(name, value);
    }
    Ok(builder
        .body(Full::new(exchange.body.clone()))
        .unwrap_or_else(|_| {
            let mut fallback =
                Response::new(Full::new(Bytes::from_static(b"invalid recorded response")));
            *fallback.status_mut() = hyper::StatusCode::INTERNAL_SERVER_ERROR;
            fallback
        }))
}

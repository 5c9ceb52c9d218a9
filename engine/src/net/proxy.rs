//! `HTTP_PROXY`, `HTTPS_PROXY`, `ALL_PROXY` and `NO_PROXY`, as curl reads
//! them: plain-http requests go to the proxy in absolute form; https is
//! tunnelled with `CONNECT`, TLS end to end with the API.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::Uri;
use hyper::rt::{Read, ReadBufCursor, Write};
use hyper_util::client::legacy::connect::proxy::Tunnel;
use hyper_util::client::legacy::connect::{Connected, Connection, HttpConnector};
use hyper_util::client::proxy::matcher::Matcher;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A TCP connector that goes through the proxy the environment names.
#[derive(Clone)]
pub(crate) struct ProxyConnector {
    http: HttpConnector,
    matcher: Arc<Matcher>,
}

impl std::fmt::Debug for ProxyConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProxyConnector").finish_non_exhaustive()
    }
}

impl ProxyConnector {
    pub(crate) fn from_env(http: HttpConnector) -> ProxyConnector {
        ProxyConnector {
            http,
            matcher: Arc::new(Matcher::from_env()),
        }
    }

    /// The proxy a request to `uri` goes through, if any, as messages name
    /// it: without a user name or password.
    pub(crate) fn proxy_for(&self, uri: &Uri) -> Option<String> {
        let proxy = self.matcher.intercept(uri)?;
        let uri = proxy.uri();
        let host = uri.host().unwrap_or_default();
        Some(match (uri.scheme_str(), uri.port_u16()) {
            (Some(scheme), Some(port)) => format!("{scheme}://{host}:{port}"),
            (Some(scheme), None) => format!("{scheme}://{host}"),
            (None, _) => host.to_owned(),
        })
    }

    /// The `Proxy-Authorization` value a plain-http request to `uri` needs.
    pub(crate) fn http_proxy_auth(&self, uri: &Uri) -> Option<http::HeaderValue> {
        if uri.scheme_str() != Some("http") {
            return None;
        }
        self.matcher.intercept(uri)?.basic_auth().cloned()
    }
}

/// A connection, which knows whether it goes to an http proxy (so requests
/// on it are sent in absolute form).
#[derive(Debug)]
pub(crate) struct ProxyStream {
    inner: TokioIo<TcpStream>,
    to_http_proxy: bool,
}

impl tower_service::Service<Uri> for ProxyConnector {
    type Response = ProxyStream;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<ProxyStream, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.http.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, dst: Uri) -> Self::Future {
        let mut http = self.http.clone();
        let intercept = self.matcher.intercept(&dst);
        Box::pin(async move {
            match intercept {
                None => Ok(ProxyStream {
                    inner: http.call(dst).await?,
                    to_http_proxy: false,
                }),
                Some(proxy) if dst.scheme_str() == Some("https") => {
                    let mut tunnel = Tunnel::new(proxy.uri().clone(), http);
                    if let Some(auth) = proxy.basic_auth() {
                        tunnel = tunnel.with_auth(auth.clone());
                    }
                    Ok(ProxyStream {
                        inner: tunnel.call(dst).await?,
                        to_http_proxy: false,
                    })
                }
                Some(proxy) => Ok(ProxyStream {
                    inner: http.call(proxy.uri().clone()).await?,
                    to_http_proxy: true,
                }),
            }
        })
    }
}

impl Connection for ProxyStream {
    fn connected(&self) -> Connected {
        self.inner.connected().proxy(self.to_http_proxy)
    }
}

impl Read for ProxyStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: ReadBufCursor<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl Write for ProxyStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }
}

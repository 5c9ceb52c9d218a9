//! A fault-injecting HTTP/1.1 server on loopback: for each target, a script
//! of answers — good ones and the faults real servers commit (cut bodies,
//! resets, drip-feeding, floods of headers). Each connection serves one
//! request and closes, so a fault never poisons the next answer.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// One answer of a script.
#[derive(Debug, Clone)]
pub enum Fault {
    /// A complete response.
    Reply {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    /// A `200` whose `Content-Length` says `declared` but only `body` is
    /// sent before the connection is closed — or reset, with `reset`.
    CutBody {
        body: Vec<u8>,
        declared: usize,
        reset: bool,
    },
    /// A `200` with `headers` whose body is sent one byte per `every`.
    Drip {
        headers: Vec<(String, String)>,
        body: Vec<u8>,
        every: Duration,
    },
    /// A `200` with `count` extra headers.
    ManyHeaders { count: usize, body: Vec<u8> },
}

impl Fault {
    /// A `200` JSON response.
    pub fn json(body: impl Into<Vec<u8>>) -> Fault {
        Fault::Reply {
            status: 200,
            headers: vec![("content-type".to_owned(), "application/json".to_owned())],
            body: body.into(),
        }
    }

    /// A response with no body beyond a short JSON error.
    pub fn status(status: u16, headers: &[(&str, &str)]) -> Fault {
        Fault::Reply {
            status,
            headers: headers
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect(),
            body: format!("{{\"error\":{status}}}").into_bytes(),
        }
    }
}

/// A running fault server; it stops when dropped.
#[derive(Debug)]
pub struct FaultServer {
    addr: SocketAddr,
    log: Arc<Mutex<Vec<(Instant, String)>>>,
    task: tokio::task::JoinHandle<()>,
}

impl FaultServer {
    /// `http://ADDR`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// When each request arrived, and its path and query.
    pub fn requests(&self) -> Vec<(Instant, String)> {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }
}

impl Drop for FaultServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves `scripts` on `addr`: each request to a target (path and query as
/// sent) gets the next answer of its script, the last one over and over.
/// A target without a script gets a 404.
pub async fn serve_faults(
    addr: SocketAddr,
    scripts: Vec<(String, Vec<Fault>)>,
) -> std::io::Result<FaultServer> {
    let listener = TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let scripts: Arc<Mutex<HashMap<String, Vec<Fault>>>> =
        Arc::new(Mutex::new(scripts.into_iter().collect()));
    let log = Arc::new(Mutex::new(Vec::new()));
    let requests = log.clone();
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let scripts = scripts.clone();
            let log = requests.clone();
            tokio::spawn(async move {
                if let Err(e) = answer(stream, scripts, log).await {
                    tracing::debug!("fault connection ended: {e}");
                }
            });
        }
    });
    Ok(FaultServer { addr, log, task })
}

async fn answer(
    mut stream: TcpStream,
    scripts: Arc<Mutex<HashMap<String, Vec<Fault>>>>,
    log: Arc<Mutex<Vec<(Instant, String)>>>,
) -> std::io::Result<()> {
    let target = read_request(&mut stream).await?;
    if let Ok(mut log) = log.lock() {
        log.push((Instant::now(), target.clone()));
    }
    let fault = scripts.lock().ok().and_then(|mut scripts| {
        let script = scripts.get_mut(&target)?;
        Some(if script.len() > 1 {
            script.remove(0)
        } else {
            script.first()?.clone()
        })
    });
    let fault = fault.unwrap_or_else(|| Fault::status(404, &[]));
    match fault {
        Fault::Reply {
            status,
            headers,
            body,
        } => {
            let head = head(status, &headers, body.len());
            stream.write_all(head.as_bytes()).await?;
            stream.write_all(&body).await?;
        }
        Fault::CutBody {
            body,
            declared,
            reset,
        } => {
            let head = head(200, &[], declared);
            stream.write_all(head.as_bytes()).await?;
            stream.write_all(&body).await?;
            stream.flush().await?;
            if reset {
                stream.set_zero_linger()?;
            }
            return Ok(());
        }
        Fault::Drip {
            headers,
            body,
            every,
        } => {
            let head = head(200, &headers, body.len());
            stream.write_all(head.as_bytes()).await?;
            for byte in body {
                stream.write_all(&[byte]).await?;
                stream.flush().await?;
                tokio::time::sleep(every).await;
            }
        }
        Fault::ManyHeaders { count, body } => {
            let headers: Vec<(String, String)> = (0..count)
                .map(|i| (format!("x-filler-{i}"), "x".to_owned()))
                .collect();
            let head = head(200, &headers, body.len());
            stream.write_all(head.as_bytes()).await?;
            stream.write_all(&body).await?;
        }
    }
    stream.shutdown().await
}

fn head(status: u16, headers: &[(String, String)], length: usize) -> String {
    let mut head = format!("HTTP/1.1 {status} {}\r\n", reason(status));
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!(
        "content-length: {length}\r\nconnection: close\r\n\r\n"
    ));
    head
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

/// Reads a request head and any `Content-Length` body; returns the target.
async fn read_request(stream: &mut TcpStream) -> std::io::Result<String> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let end = loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break end + 4;
        }
        if buf.len() > 1 << 20 {
            return Err(std::io::ErrorKind::InvalidData.into());
        }
    };
    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
    let length: usize = head
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .unwrap_or(0);
    let mut body = buf.len() - end;
    while body < length {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        body += n;
    }
    Ok(head
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_owned())
}

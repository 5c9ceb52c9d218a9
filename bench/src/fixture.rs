use std::path::{Path, PathBuf};

use bytes::Bytes;
use serde::Deserialize;

/// One recorded request and its response.
#[derive(Debug, Clone)]
pub struct Exchange {
    pub method: String,
    /// Path and query, such as `/v1/issues?page=2`.
    pub target: String,
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
    /// How long the server waits before answering.
    pub delay: std::time::Duration,
}

impl Exchange {
    /// A `200 OK` JSON response to `GET target`.
    pub fn json(target: &str, body: impl Into<Bytes>) -> Exchange {
        Exchange {
            method: "GET".to_owned(),
            target: target.to_owned(),
            status: 200,
            headers: vec![("content-type".to_owned(), "application/json".to_owned())],
            body: body.into(),
            delay: std::time::Duration::ZERO,
        }
    }
}

/// A set of exchanges, looked up by method, path and query.
#[derive(Debug, Clone, Default)]
pub struct FixtureSet {
    exchanges: Vec<Exchange>,
    /// Query parameters a recording left out because their values were
    /// secret (an API key): not compared.
    secret_query: Vec<String>,
}

/// A fixture set could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FixtureError {
    #[error("cannot read fixture file `{path}`: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("fixture index `{path}` is malformed: {source}")]
    Index {
        path: PathBuf,
        source: serde_json::Error,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    #[serde(default = "get")]
    method: String,
    target: String,
    #[serde(default = "ok")]
    status: u16,
    #[serde(default)]
    headers: Vec<(String, String)>,
    body: Option<String>,
    #[serde(default)]
    delay_ms: u64,
    #[serde(default)]
    secret_query: Vec<String>,
}

fn get() -> String {
    "GET".to_owned()
}

fn ok() -> u16 {
    200
}

impl FixtureSet {
    /// The exchanges given.
    pub fn new(exchanges: Vec<Exchange>) -> FixtureSet {
        FixtureSet {
            exchanges,
            secret_query: Vec::new(),
        }
    }

    /// Reads `DIR/exchanges.json` and the body files it names.
    pub fn load(dir: &Path) -> Result<FixtureSet, FixtureError> {
        let index = dir.join("exchanges.json");
        let read = |path: &Path| {
            std::fs::read(path).map_err(|source| FixtureError::Read {
                path: path.to_owned(),
                source,
            })
        };
        let entries: Vec<Entry> =
            serde_json::from_slice(&read(&index)?).map_err(|source| FixtureError::Index {
                path: index.clone(),
                source,
            })?;
        let mut exchanges = Vec::with_capacity(entries.len());
        let mut secret_query: Vec<String> = Vec::new();
        for entry in entries {
            for name in &entry.secret_query {
                if !secret_query.contains(name) {
                    secret_query.push(name.clone());
                }
            }
            let body = match &entry.body {
                Some(name) => Bytes::from(read(&dir.join(name))?),
                None => Bytes::new(),
            };
            exchanges.push(Exchange {
                method: entry.method.to_ascii_uppercase(),
                target: entry.target,
                status: entry.status,
                headers: entry.headers,
                body,
                delay: std::time::Duration::from_millis(entry.delay_ms),
            });
        }
        Ok(FixtureSet {
            exchanges,
            secret_query,
        })
    }

    /// The exchanges, in recorded order.
    pub fn exchanges(&self) -> &[Exchange] {
        &self.exchanges
    }

    /// The exchange for a request: same method and path, and the same query
    /// parameters in any order, leaving out those recorded as secret.
    pub fn find(&self, method: &str, target: &str) -> Option<&Exchange> {
        let mut wanted = split(target);
        wanted
            .1
            .retain(|(name, _)| !self.secret_query.contains(name));
        self.exchanges
            .iter()
            .find(|e| e.method.eq_ignore_ascii_case(method) && split(&e.target) == wanted)
    }
}

fn split(target: &str) -> (String, Vec<(String, String)>) {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect();
    pairs.sort();
    (path.to_owned(), pairs)
}

fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match std::str::from_utf8(&bytes[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_order_and_encoding_do_not_matter() {
        let set = FixtureSet::new(vec![Exchange::json("/a?x=1&y=hello%20world", "[]")]);
        assert!(set.find("GET", "/a?y=hello+world&x=1").is_some());
        assert!(set.find("GET", "/a?x=1").is_none());
        assert!(set.find("POST", "/a?x=1&y=hello%20world").is_none());
        assert_eq!(decode("100%"), "100%");
        assert_eq!(decode("%e2%82%ac"), "€");
    }
}

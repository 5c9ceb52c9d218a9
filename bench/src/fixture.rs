use std::collections::HashSet;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// The index of a fixture set.
const INDEX: &str = "exchanges.json";

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
    /// The body each exchange's request was recorded with, where it had
    /// one: requests to one target that differ by their bodies (a cursor
    /// in a POST's JSON, a GraphQL query's variables) get their own
    /// answers. `None` matches any body.
    requests: Vec<Option<serde_json::Value>>,
    /// Query parameters a recording left out because their values were
    /// secret (an API key): not compared.
    secret_query: Vec<String>,
}

/// A fixture set could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum FixtureError {
    #[error("`{}` already holds a fixture set ({INDEX}); remove it or choose another folder", dir.display())]
    Exists { dir: PathBuf },
    #[error("`{}` holds `{name}`, a name a fixture set's body takes; remove it or choose another folder", dir.display())]
    Taken { dir: PathBuf, name: String },
    #[error("cannot write fixture file `{path}`: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read fixture file `{path}`: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("fixture body `{name}` is not a file inside `{}`", dir.display())]
    Outside { dir: PathBuf, name: String },
    #[error("fixture index `{path}` is malformed: {source}")]
    Index {
        path: PathBuf,
        source: serde_json::Error,
    },
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    #[serde(default = "get")]
    method: String,
    target: String,
    #[serde(default = "ok")]
    status: u16,
    #[serde(default)]
    headers: Vec<(String, String)>,
    #[serde(skip_serializing_if = "Option::is_none")]
    body: Option<String>,
    #[serde(default, skip_serializing_if = "is_zero")]
    delay_ms: u64,
    /// Query parameters left out of `target` because their values are
    /// secret; replay does not compare them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    secret_query: Vec<String>,
    /// The request's body, secrets masked: its JSON value, or its text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    request_body: Option<serde_json::Value>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
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
            requests: vec![None; exchanges.len()],
            exchanges,
            secret_query: Vec::new(),
        }
    }

    /// Reads `DIR/exchanges.json` and the body files it names.
    pub fn load(dir: &Path) -> Result<FixtureSet, FixtureError> {
        let index = dir.join(INDEX);
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
        let mut requests = Vec::with_capacity(entries.len());
        let mut secret_query: Vec<String> = Vec::new();
        for entry in entries {
            requests.push(entry.request_body);
            for name in &entry.secret_query {
                if !secret_query.contains(name) {
                    secret_query.push(name.clone());
                }
            }
            let body = match &entry.body {
                Some(name) => Bytes::from(read(&inside(dir, name)?)?),
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
            requests,
            secret_query,
        })
    }

    /// The exchanges, in recorded order.
    pub fn exchanges(&self) -> &[Exchange] {
        &self.exchanges
    }

    /// The exchange for a request: same method and path, the same query
    /// parameters in any order, leaving out those recorded as secret, and
    /// the same body where one was recorded (the same JSON value, members
    /// in any order). A `***` the recording put for a secret's value
    /// (`/bot***/updates`) stands for any text within its path segment,
    /// query value or string of the body.
    pub fn find(&self, method: &str, target: &str, body: &[u8]) -> Option<&Exchange> {
        let (path, mut query) = split(target);
        query.retain(|(name, _)| !self.secret_query.contains(name));
        let sent = body_value(body);
        let found = self
            .exchanges
            .iter()
            .zip(&self.requests)
            .find(|(e, request)| {
                let (recorded_path, recorded_query) = split(&e.target);
                e.method.eq_ignore_ascii_case(method)
                    && same_path(&recorded_path, &path)
                    && recorded_query.len() == query.len()
                    && (recorded_query.iter().zip(&query))
                        .all(|((n, v), (name, value))| n == name && unmasked(v, value))
                    && request.as_ref().is_none_or(|r| same_value(r, &sent))
            });
        found.map(|(exchange, _)| exchange)
    }
}

/// Response headers a recording leaves out: cookies may carry a session,
/// and the rest describe the transfer, which the replay server does itself
/// (bodies are saved decoded).
const UNRECORDED_HEADERS: [&str; 6] = [
    "set-cookie",
    "content-length",
    "content-encoding",
    "transfer-encoding",
    "connection",
    "keep-alive",
];

/// The body file `name` of the set in `dir`. A set is shared like code
/// (recorded, committed, replayed elsewhere, served by `hydrant replay`),
/// so a name may not reach out of its folder: not absolute, no `..`, no
/// link that leads outside.
fn inside(dir: &Path, name: &str) -> Result<PathBuf, FixtureError> {
    let outside = || FixtureError::Outside {
        dir: dir.to_owned(),
        name: name.to_owned(),
    };
    let plain = Path::new(name)
        .components()
        .all(|part| matches!(part, std::path::Component::Normal(_)));
    if !plain || name.is_empty() {
        return Err(outside());
    }
    let path = dir.join(name);
    if let (Ok(real), Ok(root)) = (path.canonicalize(), dir.canonicalize())
        && !real.starts_with(root)
    {
        return Err(outside());
    }
    Ok(path)
}

/// Whether `name` is one a body of a recorded set takes: `00001.json`,
/// `00002.body`, ….
fn is_body_name(name: &str) -> bool {
    let Some((number, kind)) = name.split_once('.') else {
        return false;
    };
    number.len() >= 5
        && number.bytes().all(|b| b.is_ascii_digit())
        && matches!(kind, "json" | "body")
}

/// The request of an exchange [`FixtureWriter::add`] saves.
#[derive(Debug, Clone, Copy)]
pub struct Recorded<'a> {
    pub method: &'a str,
    /// Path and query, without the parameters in `secret_query`.
    pub target: &'a str,
    pub secret_query: &'a [String],
    /// Empty for a request without one.
    pub body: &'a [u8],
}

/// Writes a fixture set as a run takes its exchanges: each body at once,
/// the index last, so that a folder without one is not a finished set.
#[derive(Debug)]
pub struct FixtureWriter {
    dir: PathBuf,
    entries: Vec<Entry>,
    /// Method, target and request body of every exchange kept: a request
    /// sent again (by a parent job and its child, say) is served the
    /// first answer.
    kept: HashSet<(String, String, Vec<u8>)>,
    bodies: Vec<PathBuf>,
}

impl FixtureWriter {
    /// Starts a fixture set in `dir`, creating it if needed. A folder that
    /// already holds one is refused rather than overwritten.
    pub fn create(dir: &Path) -> Result<FixtureWriter, FixtureError> {
        if dir.join(INDEX).exists() {
            return Err(FixtureError::Exists {
                dir: dir.to_owned(),
            });
        }
        std::fs::create_dir_all(dir).map_err(|source| FixtureError::Write {
            path: dir.to_owned(),
            source,
        })?;
        let names = std::fs::read_dir(dir).map_err(|source| FixtureError::Read {
            path: dir.to_owned(),
            source,
        })?;
        let taken = names
            .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
            .find(|name| is_body_name(name));
        if let Some(name) = taken {
            return Err(FixtureError::Taken {
                dir: dir.to_owned(),
                name,
            });
        }
        Ok(FixtureWriter {
            dir: dir.to_owned(),
            entries: Vec::new(),
            kept: HashSet::new(),
            bodies: Vec::new(),
        })
    }

    /// Saves one exchange. `target` must already leave out the query
    /// parameters named in `secret_query`, and `request.body` hold its
    /// secrets masked.
    pub fn add(
        &mut self,
        request: Recorded<'_>,
        status: u16,
        headers: &[(String, String)],
        body: &[u8],
    ) -> Result<(), FixtureError> {
        let Recorded {
            method,
            target,
            secret_query,
            body: request_body,
        } = request;
        let key = (method.to_owned(), target.to_owned(), request_body.to_vec());
        if !self.kept.insert(key) {
            return Ok(());
        }
        let headers: Vec<(String, String)> = headers
            .iter()
            .filter(|(name, _)| !UNRECORDED_HEADERS.contains(&name.as_str()))
            .cloned()
            .collect();
        let body = if body.is_empty() {
            None
        } else {
            let json = headers
                .iter()
                .any(|(name, value)| name == "content-type" && value.contains("json"));
            let name = format!(
                "{:05}.{}",
                self.entries.len() + 1,
                if json { "json" } else { "body" }
            );
            let path = self.dir.join(&name);
            // Never over a file this set did not write: one may have come
            // into the folder since `create` looked.
            let written = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
                .and_then(|mut file| std::io::Write::write_all(&mut file, body));
            written.map_err(|source| FixtureError::Write {
                path: path.clone(),
                source,
            })?;
            self.bodies.push(path);
            Some(name)
        };
        self.entries.push(Entry {
            method: method.to_owned(),
            target: target.to_owned(),
            status,
            headers,
            body,
            delay_ms: 0,
            secret_query: secret_query.to_vec(),
            request_body: (!request_body.is_empty()).then(|| body_value(request_body)),
        });
        Ok(())
    }

    /// Writes the index: the fixture set is complete. Returns the number
    /// of exchanges in it.
    pub fn finish(&mut self) -> Result<usize, FixtureError> {
        let index = self.dir.join(INDEX);
        let partial = self.dir.join(format!("{INDEX}.partial"));
        let text = serde_json::to_vec_pretty(&self.entries).expect("entries encode as JSON");
        std::fs::write(&partial, text)
            .and_then(|()| std::fs::rename(&partial, &index))
            .map_err(|source| FixtureError::Write {
                path: index,
                source,
            })?;
        Ok(self.entries.len())
    }

    /// Removes the bodies saved so far: a failed run leaves no set that
    /// could pass for a whole one.
    pub fn discard(&mut self) {
        for path in self.bodies.drain(..) {
            if let Err(e) = std::fs::remove_file(&path) {
                tracing::warn!(path = %path.display(), error = %e, "cannot remove a fixture body");
            }
        }
        self.entries.clear();
        self.kept.clear();
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

fn same_path(recorded: &str, path: &str) -> bool {
    recorded == path
        || (recorded.contains(MASK)
            && recorded.split('/').count() == path.split('/').count()
            && (recorded.split('/').zip(path.split('/'))).all(|(r, p)| unmasked(r, p)))
}

/// A request body as a fixture set keeps it: its JSON value, or its
/// text as a string (a form, or text that is no JSON).
fn body_value(body: &[u8]) -> serde_json::Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(body).into_owned()))
}

/// Whether `sent` is the `recorded` body: equal, with each `***` in a
/// recorded string standing for some text (see [`unmasked`]).
fn same_value(recorded: &serde_json::Value, sent: &serde_json::Value) -> bool {
    use serde_json::Value;
    match (recorded, sent) {
        (Value::String(r), Value::String(s)) => unmasked(r, s),
        (Value::Array(r), Value::Array(s)) => {
            r.len() == s.len() && r.iter().zip(s).all(|(r, s)| same_value(r, s))
        }
        (Value::Object(r), Value::Object(s)) => {
            r.len() == s.len()
                && (r.iter()).all(|(k, r)| s.get(k).is_some_and(|s| same_value(r, s)))
        }
        _ => recorded == sent,
    }
}

/// What a recording puts for a secret's value.
const MASK: &str = "***";

/// Whether `text` is `recorded` with each `***` standing for some text.
fn unmasked(recorded: &str, text: &str) -> bool {
    match recorded.split_once(MASK) {
        None => recorded == text,
        Some((head, tail)) => {
            let Some(rest) = text.strip_prefix(head) else {
                return false;
            };
            // Each place the rest of the pattern may start.
            (1..=rest.len())
                .filter(|&at| rest.is_char_boundary(at))
                .any(|at| unmasked(tail, &rest[at..]))
        }
    }
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

    /// A `GET` of `target` without a body or secrets.
    fn get(target: &str) -> Recorded<'_> {
        Recorded {
            method: "GET",
            target,
            secret_query: &[],
            body: b"",
        }
    }

    /// GraphQL, Notion's queries, Elasticsearch's `search_after`: every
    /// page is a POST to one target, told apart by its body. Each is
    /// recorded and served its own answer, whatever the order of the
    /// members or the value of a masked secret.
    #[test]
    fn requests_to_one_target_are_told_apart_by_their_bodies() {
        let root = tempfile::tempdir().unwrap();
        let mut writer = FixtureWriter::create(root.path()).unwrap();
        let headers = [("content-type".to_owned(), "application/json".to_owned())];
        let post = |body: &'static [u8]| Recorded {
            method: "POST",
            target: "/graphql",
            secret_query: &[],
            body,
        };
        let pages: [&[u8]; 3] = [
            br#"{"query":"q","variables":{"after":null},"key":"***"}"#,
            br#"{"query":"q","variables":{"after":"c1"},"key":"***"}"#,
            b"after=c2&key=***",
        ];
        for (i, body) in pages.into_iter().enumerate() {
            let answer = format!("[{i}]");
            writer
                .add(post(body), 200, &headers, answer.as_bytes())
                .unwrap();
        }
        // The same request again keeps the first answer.
        writer.add(post(pages[1]), 200, &headers, b"[9]").unwrap();
        assert_eq!(writer.finish().unwrap(), 3);
        let set = FixtureSet::load(root.path()).unwrap();
        let answer = |body: &[u8]| {
            let found = set.find("POST", "/graphql", body)?;
            Some(String::from_utf8_lossy(&found.body).into_owned())
        };
        let second = br#"{"key":"s3cret","variables":{"after":"c1"},"query":"q"}"#;
        assert_eq!(answer(second).as_deref(), Some("[1]"));
        let first = br#"{ "query": "q", "variables": {"after": null}, "key": "k" }"#;
        assert_eq!(answer(first).as_deref(), Some("[0]"));
        assert_eq!(answer(b"after=c2&key=k2").as_deref(), Some("[2]"));
        assert_eq!(
            answer(br#"{"query":"q","variables":{"after":"c9"},"key":"k"}"#),
            None
        );
        assert_eq!(answer(br#"{"query":"q","variables":{"after":"c1"}}"#), None);
        assert_eq!(answer(b""), None);
        // A set recorded without bodies matches any.
        let old = FixtureSet::new(vec![Exchange::json("/graphql", "[]")]);
        assert!(old.find("GET", "/graphql", second).is_some());
    }

    #[test]
    fn query_order_and_encoding_do_not_matter() {
        let set = FixtureSet::new(vec![Exchange::json("/a?x=1&y=hello%20world", "[]")]);
        assert!(set.find("GET", "/a?y=hello+world&x=1", b"").is_some());
        assert!(set.find("GET", "/a?x=1", b"").is_none());
        assert!(set.find("POST", "/a?x=1&y=hello%20world", b"").is_none());
        assert_eq!(decode("100%"), "100%");
        assert_eq!(decode("%e2%82%ac"), "€");
    }

    #[test]
    fn a_body_is_read_only_from_inside_its_set() {
        let root = tempfile::tempdir().unwrap();
        let set = root.path().join("set");
        std::fs::create_dir_all(set.join("sub")).unwrap();
        std::fs::write(root.path().join("secret.txt"), "k-secret").unwrap();
        std::fs::write(set.join("sub/page.json"), "[1]").unwrap();
        std::os::unix::fs::symlink(root.path().join("secret.txt"), set.join("link.json")).unwrap();
        let index = |body: &str| {
            let entry = serde_json::json!([{"target": "/a", "body": body}]);
            std::fs::write(set.join(INDEX), entry.to_string()).unwrap();
            FixtureSet::load(&set)
        };
        let secret = root.path().join("secret.txt");
        for name in [
            "../secret.txt",
            secret.to_str().unwrap(),
            "link.json",
            "sub/../../secret.txt",
            "",
        ] {
            let error = index(name)
                .err()
                .unwrap_or_else(|| panic!("{name:?} was read"));
            assert!(
                matches!(error, FixtureError::Outside { .. }),
                "{name:?}: {error}"
            );
            assert!(
                error.to_string().contains("is not a file inside"),
                "{error}"
            );
        }
        let loaded = index("sub/page.json").unwrap();
        assert_eq!(&loaded.exchanges[0].body[..], b"[1]");
    }

    #[test]
    fn a_recording_writes_over_no_file_it_did_not_write() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path();
        std::fs::write(dir.join("00001.json"), "theirs").unwrap();
        let refused = FixtureWriter::create(dir).unwrap_err();
        assert!(matches!(refused, FixtureError::Taken { ref name, .. } if name == "00001.json"));
        assert!(
            refused.to_string().contains("holds `00001.json`"),
            "{refused}"
        );
        // Other files may share the folder.
        std::fs::remove_file(dir.join("00001.json")).unwrap();
        std::fs::write(dir.join("README.md"), "notes").unwrap();
        std::fs::write(dir.join("1.json"), "notes").unwrap();
        let mut writer = FixtureWriter::create(dir).unwrap();
        // A file that comes after the look is not written over either.
        std::fs::write(dir.join("00001.json"), "theirs").unwrap();
        let headers = [("content-type".to_owned(), "application/json".to_owned())];
        let failed = writer.add(get("/a"), 200, &headers, b"[1]").unwrap_err();
        assert!(matches!(failed, FixtureError::Write { .. }), "{failed}");
        assert_eq!(
            std::fs::read_to_string(dir.join("00001.json")).unwrap(),
            "theirs"
        );
        assert!(
            is_body_name("00012.body") && !is_body_name("0001.json") && !is_body_name("a0001.json")
        );
    }

    #[test]
    fn a_masked_secret_stands_for_any_text_within_its_place() {
        let set = FixtureSet::new(vec![Exchange::json("/bot***/u?offset=2&sig=a***z", "[]")]);
        assert!(
            set.find("GET", "/bot123:abc/u?sig=a-key-z&offset=2", b"")
                .is_some()
        );
        // Not across a segment, not empty, nor outside the mask's place.
        assert!(set.find("GET", "/bot1/2/u?offset=2&sig=a-z", b"").is_none());
        assert!(set.find("GET", "/bot/u?offset=2&sig=a-z", b"").is_none());
        assert!(set.find("GET", "/bat1/u?offset=2&sig=a-z", b"").is_none());
        assert!(set.find("GET", "/bot1/u?offset=3&sig=a-z", b"").is_none());
        assert!(set.find("GET", "/bot1/u?offset=2&sig=a-y", b"").is_none());
        assert!(set.find("GET", "/bot1/u?offset=2", b"").is_none());
    }
}

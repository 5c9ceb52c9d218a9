//! Saving the exchanges a run takes as a fixture set (`hydrant record`):
//! the folder that `--replay DIR` and `hydrant replay DIR` serve. The
//! index (`exchanges.json`) is written last, so a folder without one is
//! not a finished recording.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use serde::Serialize;

use crate::error::{Error, Result};
use crate::http::Response;
use crate::request::Prepared;

/// The index of a fixture set.
const INDEX: &str = "exchanges.json";

/// Response headers not kept: cookies may carry a session, and the rest
/// describe the transfer, which the replay server does itself (bodies are
/// saved decoded).
const DROPPED_HEADERS: [&str; 6] = [
    "set-cookie",
    "content-length",
    "content-encoding",
    "transfer-encoding",
    "connection",
    "keep-alive",
];

/// Collects a run's exchanges into a folder. Cheap to clone: a
/// `[fanout.from]` parent job records into the same set.
#[derive(Clone)]
pub struct Recorder {
    inner: Arc<Mutex<Recording>>,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let recording = self.lock();
        f.debug_struct("Recorder")
            .field("dir", &recording.dir)
            .field("exchanges", &recording.entries.len())
            .finish()
    }
}

struct Recording {
    dir: PathBuf,
    entries: Vec<Entry>,
    /// Method and target of every exchange kept: a request sent again
    /// (by a parent job and its child, say) is served the first answer.
    kept: HashSet<(String, String)>,
    bodies: Vec<PathBuf>,
}

#[derive(Serialize)]
struct Entry {
    method: &'static str,
    target: String,
    status: u16,
    headers: Vec<(String, String)>,
    #[serde(skip_serializing_if = "Option::is_none")]
    body: Option<String>,
    /// Query parameters left out of `target` because their values are
    /// secret; replay does not compare them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    secret_query: Vec<String>,
}

impl Recorder {
    /// Starts a fixture set in `dir`, creating it if needed. A folder that
    /// already holds a fixture set is refused rather than overwritten.
    pub fn create(dir: &Path) -> Result<Recorder> {
        let index = dir.join(INDEX);
        if index.exists() {
            return Err(Error::config(format!(
                "--to `{}` already holds a fixture set ({INDEX}); remove it or choose another folder",
                dir.display()
            )));
        }
        std::fs::create_dir_all(dir).map_err(|e| {
            Error::io(
                format!("cannot create the fixture folder `{}`", dir.display()),
                e,
            )
        })?;
        Ok(Recorder {
            inner: Arc::new(Mutex::new(Recording {
                dir: dir.to_owned(),
                entries: Vec::new(),
                kept: HashSet::new(),
                bodies: Vec::new(),
            })),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Recording> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Saves one exchange whose answer the run took.
    pub(crate) fn save(&self, prepared: &Prepared, response: &Response) -> Result<()> {
        let method = prepared.method.as_str();
        let secret = prepared.secret_query();
        let target = target_without(&prepared.url, secret);
        let mut recording = self.lock();
        if !recording.kept.insert((method.to_owned(), target.clone())) {
            return Ok(());
        }
        let body = if response.body.is_empty() {
            None
        } else {
            let json = response
                .headers
                .get(http::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.contains("json"));
            let name = format!(
                "{:05}.{}",
                recording.entries.len() + 1,
                if json { "json" } else { "body" }
            );
            let path = recording.dir.join(&name);
            std::fs::write(&path, &response.body).map_err(|e| {
                Error::io(
                    format!("cannot write the fixture body `{}`", path.display()),
                    e,
                )
            })?;
            recording.bodies.push(path);
            Some(name)
        };
        let headers = response
            .headers
            .iter()
            .filter(|(name, _)| !DROPPED_HEADERS.contains(&name.as_str()))
            .map(|(name, value)| {
                (
                    name.as_str().to_owned(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
            .collect();
        recording.entries.push(Entry {
            method,
            target,
            status: response.status.as_u16(),
            headers,
            body,
            secret_query: secret.to_vec(),
        });
        Ok(())
    }

    /// Writes the index: the fixture set is complete. Returns the number
    /// of exchanges in it.
    pub fn finish(&self) -> Result<usize> {
        let recording = self.lock();
        let index = recording.dir.join(INDEX);
        let partial = recording.dir.join(format!("{INDEX}.partial"));
        let text = serde_json::to_vec_pretty(&recording.entries)
            .map_err(|e| Error::data(format!("cannot encode the fixture index: {e}")))?;
        std::fs::write(&partial, text)
            .and_then(|()| std::fs::rename(&partial, &index))
            .map_err(|e| {
                Error::io(
                    format!("cannot write the fixture index `{}`", index.display()),
                    e,
                )
            })?;
        Ok(recording.entries.len())
    }

    /// Removes the bodies saved so far: a failed run leaves no recording
    /// that could pass for a whole one.
    pub fn discard(&self) {
        let mut recording = self.lock();
        for path in std::mem::take(&mut recording.bodies) {
            if let Err(e) = std::fs::remove_file(&path) {
                tracing::warn!(path = %path.display(), error = %e, "cannot remove a fixture body");
            }
        }
        recording.entries.clear();
        recording.kept.clear();
    }
}

/// Path and query of `url`, without the parameters named in `secret`.
fn target_without(url: &url::Url, secret: &[String]) -> String {
    let mut target = url.path().to_owned();
    let Some(query) = url.query() else {
        return target;
    };
    let kept: Vec<&str> = query
        .split('&')
        .filter(|piece| {
            let name = url::form_urlencoded::parse(piece.as_bytes())
                .next()
                .map(|(name, _)| name.into_owned())
                .unwrap_or_default();
            !secret.contains(&name)
        })
        .collect();
    if !kept.is_empty() {
        target.push('?');
        target.push_str(&kept.join("&"));
    }
    target
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_parameters_are_left_out_of_the_target() {
        let url =
            url::Url::parse("https://api.example.com/v1/items?page=2&api_key=s3cr%65t&q=a%20b")
                .expect("url");
        assert_eq!(
            target_without(&url, &["api_key".to_owned()]),
            "/v1/items?page=2&q=a%20b"
        );
        assert_eq!(
            target_without(&url, &[]),
            "/v1/items?page=2&api_key=s3cr%65t&q=a%20b"
        );
        let only_secret = url::Url::parse("https://api.example.com/x?api_key=k").expect("url");
        assert_eq!(target_without(&only_secret, &["api_key".to_owned()]), "/x");
    }
}

//! `[state]`: checkpoints of a read run, and taking one up on `--resume`.
//!
//! A checkpoint is written only after the output (and the dirty file) it
//! counts is flushed and synced, and it replaces the previous one by
//! rename; so after a crash at any point the checkpoint never runs ahead of
//! what is durably written. A resumed run cuts the output back to the
//! checkpointed length and goes on from the request after the last page it
//! counts.

use std::fs::File;
use std::io::Write;
use std::path::{Path as FsPath, PathBuf};

use hydrant_paginate::{Checkpoint as PaginatorCheckpoint, Plan, Stop};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::Digest;

use crate::error::{Error, Kind, Result};
use crate::extract::{ColumnSpec, ColumnType};
use crate::job::{Job, OutputFormat};
use crate::json::path::JsonPath;
use crate::options::Progress;
pub(crate) use crate::options::SavedColumn;

/// The layout of the state file; a file of another layout is refused.
pub(crate) const FORMAT: u32 = 2;

/// Everything a resumed run needs, as saved in the state file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ReadCheckpoint {
    pub format: u32,
    /// The job's fingerprint (see [`fingerprint`]).
    pub job: String,
    /// Length of the output file the checkpoint counts.
    pub output_bytes: u64,
    /// CRC-32 of the output's first `output_bytes` bytes (layout 2 on).
    #[serde(default)]
    pub output_digest: Option<u32>,
    /// Length of `records.dirty_path` the checkpoint counts.
    pub dirty_bytes: u64,
    pub progress: Progress,
    pub retries: u64,
    pub elapsed_s: f64,
    /// Requests of this job (not of `[fanout.from]`) whose pages are in.
    pub launched: u64,
    /// The output columns, when they were inferred from the first page.
    pub columns: Option<Vec<SavedColumn>>,
    /// Fan-out values whose passes are wholly in the output (1 for a job
    /// without `[fanout]` that is done).
    pub values_done: u64,
    /// Where the pass of the next value stands, if it has begun.
    pub pass: Option<SavedPass>,
    /// Why the last finished pass ended.
    pub stopped: Stop,
    pub warnings: Vec<String>,
    /// Dirty records so far, by reason.
    #[serde(default)]
    pub dirty_reasons: std::collections::BTreeMap<String, u64>,
    /// Values written as null for their type so far, by column.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub nulled: std::collections::BTreeMap<String, u64>,
    /// Records without a value for a column so far, by column.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub absent: std::collections::BTreeMap<String, u64>,
    /// Responses whose records path matched nothing so far.
    #[serde(default)]
    pub records_missing: u64,
    /// Fields met outside the inferred columns so far.
    #[serde(default)]
    pub unseen_fields: std::collections::BTreeMap<String, u64>,
    /// Inferred columns that have held only nulls and empty objects: they
    /// give way to the fields of an object met there later.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub null_only: Vec<String>,
    /// Where an incremental run stands: its bounds, windows and the
    /// cursor values it has emitted (see `read::incremental`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incremental: Option<Value>,
}

/// The layout of an incremental job's state file.
pub(crate) const INCREMENTAL_FORMAT: u32 = 1;

/// The state file of an incremental job: the bookmark, which outlives the
/// runs, and the checkpoint of a run under way. The bookmark changes only
/// when a run succeeds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct IncrementalState {
    /// The layout; a file of another layout is refused.
    pub incremental: u32,
    /// The cursor path and type the bookmark was taken with.
    pub cursor: String,
    #[serde(rename = "type")]
    pub kind: String,
    /// The bookmark of a job without `[fanout]`, or the one global
    /// bookmark of a fan-out past [`GLOBAL_PAST`] values.
    pub bookmark: Option<Value>,
    /// With `[fanout]`: each value's bookmark.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub bookmarks: std::collections::BTreeMap<String, Value>,
    /// By fan-out value (`""` without `[fanout]`): the keys of the records
    /// emitted at the bookmark's value.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub boundary_keys: std::collections::BTreeMap<String, Vec<String>>,
    /// The checkpoint of a run that did not finish.
    pub run: Option<ReadCheckpoint>,
}

/// Past this many fan-out values, one global bookmark is kept.
pub(crate) const GLOBAL_PAST: usize = 10_000;

/// A pass cut off between two pages.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct SavedPass {
    /// The fan-out value, checked against the value found on resume.
    pub value: Option<String>,
    pub paginator: PaginatorCheckpoint,
    /// The next request, for a strategy that learns it from each page.
    pub next: Option<Plan>,
    /// Identities of the requests sent, for loop detection.
    pub requests: Vec<u64>,
}

impl SavedColumn {
    pub(crate) fn save(columns: &[ColumnSpec]) -> Vec<SavedColumn> {
        columns
            .iter()
            .map(|c| SavedColumn {
                name: c.name.clone(),
                path: c.path.as_ref().map(|p| p.as_str().to_owned()),
                kind: c.kind.as_str().to_owned(),
                format: c.format.clone(),
                value: c.value.clone(),
            })
            .collect()
    }

    /// The columns saved; `corrupt` makes the error of one that cannot
    /// be read, naming where it was kept.
    pub(crate) fn load(
        saved: &[SavedColumn],
        corrupt: impl Fn(String) -> Error,
    ) -> Result<Vec<ColumnSpec>> {
        saved
            .iter()
            .map(|c| {
                Ok(ColumnSpec {
                    name: c.name.clone(),
                    path: c
                        .path
                        .as_deref()
                        .map(JsonPath::parse)
                        .transpose()
                        .map_err(|e| corrupt(format!("column `{}`: {e}", c.name)))?,
                    page_path: None,
                    parent_path: None,
                    kind: ColumnType::parse(&c.kind).ok_or_else(|| {
                        corrupt(format!("column `{}` has no type `{}`", c.name, c.kind))
                    })?,
                    format: c.format.clone(),
                    value: c.value.clone(),
                })
            })
            .collect()
    }
}

/// What identifies a job for its checkpoints: what it extracts and where
/// the output goes. Limits, auth and timeouts may change between a run and
/// its resume; anything else makes it another job.
pub(crate) fn fingerprint(job: &Job) -> String {
    let mut hasher = sha2::Sha256::new();
    hasher.update(job.fingerprint);
    let format: &[u8] = match job.output.format {
        OutputFormat::Ndjson => b"ndjson",
        OutputFormat::Csv => b"csv",
        OutputFormat::Parquet => b"parquet",
        OutputFormat::Raw => b"raw",
    };
    hasher.update(format);
    hasher.update([0]);
    if let Some(path) = &job.output.path {
        hasher.update(path.as_os_str().as_encoded_bytes());
    }
    hasher.update([0]);
    hasher.update(job.paginate.max_requests.unwrap_or(0).to_le_bytes());
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Reads the state file; `None` when there is none.
pub(crate) fn load(path: &FsPath, job: &Job) -> Result<Option<ReadCheckpoint>> {
    let Some(checkpoint) = read::<ReadCheckpoint>(path)? else {
        return Ok(None);
    };
    check(path, &checkpoint, job)?;
    Ok(Some(checkpoint))
}

/// Refuses a checkpoint of another layout or of another job.
pub(crate) fn check(path: &FsPath, checkpoint: &ReadCheckpoint, job: &Job) -> Result<()> {
    if checkpoint.format != FORMAT {
        return Err(Error::config(format!(
            "state file `{}` has layout {}, this hydrant reads layout {FORMAT}",
            path.display(),
            checkpoint.format
        )));
    }
    if checkpoint.job != fingerprint(job) {
        return Err(different_job(path, job));
    }
    Ok(())
}

pub(crate) fn different_job(path: &FsPath, job: &Job) -> Error {
    Error::config(format!(
        "state file `{}` belongs to a different job (what `{}` extracts or where it writes has changed); \
         remove it, or run without --resume to start over",
        path.display(),
        job.name
    ))
}

/// Reads a state file of any layout; `None` when there is none.
pub(crate) fn read<T: serde::de::DeserializeOwned>(path: &FsPath) -> Result<Option<T>> {
    let text = match std::fs::read(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(Error::io(
                format!("cannot read state file `{}`", path.display()),
                e,
            ));
        }
    };
    serde_json::from_slice(&text).map(Some).map_err(|e| {
        Error::config(format!(
            "state file `{}` is not a hydrant checkpoint of this kind of job: {e}",
            path.display()
        ))
    })
}

/// Replaces the state file atomically: a crash leaves the old checkpoint
/// or the new one, whole. `redact` is applied to every string saved.
pub(crate) fn save(
    path: &FsPath,
    checkpoint: &impl Serialize,
    redact: impl Fn(&str) -> String,
) -> Result<()> {
    let failed = |e| Error::io(format!("cannot write state file `{}`", path.display()), e);
    let mut tree = serde_json::to_value(checkpoint).expect("a checkpoint is plain data");
    redact_strings(&mut tree, &redact);
    let mut text = serde_json::to_vec_pretty(&tree).expect("a checkpoint is plain data");
    text.push(b'\n');
    make_folders(path).map_err(failed)?;
    let temporary = sibling(path, ".tmp");
    let mut file = File::create(&temporary).map_err(failed)?;
    file.write_all(&text).map_err(failed)?;
    file.sync_all().map_err(failed)?;
    drop(file);
    std::fs::rename(&temporary, path).map_err(failed)?;
    sync_dir(path);
    Ok(())
}

/// Removes the state file of a finished run, or of a run starting over.
/// The lock of a job's state, held for a whole run: the file
/// `STATE.lock` beside the state file, locked exclusively and holding the
/// process id, so that a second run of the job fails at once naming the
/// first. The file is removed when the lock is let go.
#[derive(Debug)]
pub(crate) struct StateLock {
    file: File,
    path: PathBuf,
}

impl Drop for StateLock {
    fn drop(&mut self) {
        // Removed while still locked: a run that opened this file in the
        // meantime finds it gone once it has the lock, and starts again.
        let _ = std::fs::remove_file(&self.path);
        let _ = self.file.unlock();
    }
}

/// Takes the lock of a job's state (see [`StateLock`]).
pub(crate) fn lock(path: &FsPath) -> Result<StateLock> {
    use std::io::{Read, Seek};
    let lock_path = sibling(path, ".lock");
    make_folders(&lock_path).map_err(|e| {
        let dir = lock_path.parent().unwrap_or(FsPath::new("."));
        Error::io(
            format!("cannot create the state folder `{}`", dir.display()),
            e,
        )
    })?;
    let failed = |e| {
        Error::io(
            format!("cannot lock the state `{}`", lock_path.display()),
            e,
        )
    };
    loop {
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock_path)
            .map_err(failed)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = match holder.trim() {
                    "" => String::new(),
                    pid => format!(" (process {pid})"),
                };
                return Err(Error::new(
                    Kind::Io,
                    format!(
                        "another run of this job{holder} holds its state `{}`; wait for it to end",
                        path.display()
                    ),
                ));
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(failed(e)),
        }
        // The run that held the lock may have removed the file meanwhile:
        // the lock counts only on the file that is at the path now.
        if !same_file(&file, &lock_path) {
            continue;
        }
        file.set_len(0).map_err(failed)?;
        file.rewind().map_err(failed)?;
        write!(file, "{}", std::process::id()).map_err(failed)?;
        return Ok(StateLock {
            file,
            path: lock_path,
        });
    }
}

#[cfg(unix)]
fn same_file(file: &File, path: &FsPath) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), std::fs::metadata(path)) {
        (Ok(open), Ok(named)) => open.dev() == named.dev() && open.ino() == named.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn same_file(_file: &File, path: &FsPath) -> bool {
    path.exists()
}

pub(crate) fn remove(path: &FsPath) -> Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(
            format!("cannot remove state file `{}`", path.display()),
            e,
        )),
    }
}

fn sibling(path: &FsPath, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Makes the missing folders on the way to `path`, as a run does for
/// each file it writes.
pub(crate) fn make_folders(path: &FsPath) -> std::io::Result<()> {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => std::fs::create_dir_all(dir),
        _ => Ok(()),
    }
}

/// Makes a rename in the folder durable, where the platform allows it.
fn sync_dir(path: &FsPath) {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => FsPath::new("."),
    };
    if let Ok(dir) = File::open(dir) {
        let _ = dir.sync_all();
    }
}

fn redact_strings(value: &mut Value, redact: &impl Fn(&str) -> String) {
    match value {
        Value::String(text) => *text = redact(text),
        Value::Array(items) => items.iter_mut().for_each(|v| redact_strings(v, redact)),
        Value::Object(members) => members.values_mut().for_each(|v| redact_strings(v, redact)),
        _ => {}
    }
}

/// Cuts a side file (`records.dirty_path`, `write.reject_path`, named by
/// `key`) back to the length a checkpoint counts.
pub(crate) fn rewind(key: &str, path: &FsPath, length: u64) -> Result<()> {
    let failed = |e| Error::io(format!("cannot resume {key} `{}`", path.display()), e);
    let file = match std::fs::OpenOptions::new().write(true).open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && length == 0 => return Ok(()),
        Err(e) => return Err(failed(e)),
    };
    let found = file.metadata().map_err(failed)?.len();
    if found < length {
        return Err(Error::config(format!(
            "cannot resume: {key} `{}` holds {found} bytes, fewer than the {length} the checkpoint counts",
            path.display()
        )));
    }
    file.set_len(length).map_err(failed)
}

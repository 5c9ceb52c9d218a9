//! Write jobs: the records of `[input]` sent to `[write] url`, a batch per
//! request, with nothing lost.
//!
//! The input is read, mapped and encoded on a blocking thread, batch by
//! batch, and the batches go out up to `limits.concurrency` at once. A
//! batch answered 2xx is delivered; one that fails after the retries the
//! method allows goes to `write.reject_path`, each record with the status,
//! the start of the answer and the reason. With `[state]`, a checkpoint
//! after each settled batch names every settled batch (and the length of
//! the reject file), so a resumed run sends none of them again.

pub(crate) mod input;
#[cfg(feature = "parquet")]
mod parquet;

#[cfg(test)]
mod tests;

use std::collections::{BTreeSet, HashMap};
use std::fs::File;
use std::io::{BufWriter, Write as _};
use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use flate2::Compression;
use flate2::write::GzEncoder;
use hydrant_paginate::Plan;
use serde::{Deserialize, Serialize};
use sha2::Digest;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::error::{Error, Kind, Result};
use crate::extract::{Batch, Cell, ColumnSpec, Extractor};
use crate::job::{Input, Job, Method, RecordMode, Records, Write};
use crate::json::write_str;
use crate::net::client::HttpClient;
use crate::net::request::prepare;
use crate::net::session::Session;
use crate::options::{Progress, RunOptions};
use crate::sink::write_json_cell;
use crate::state;
use crate::summary::{Stopped, Summary, WriteSummary};
use input::{InputRecord, InputRecords};
use simd_json::prelude::TypedObjectValue;

/// The layout of a write job's state file.
const FORMAT: u32 = 1;

/// A write job's checkpoint.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct WriteCheckpoint {
    format: u32,
    /// `write`: a read job's state file is refused, and the other way round.
    kind: String,
    job: String,
    /// The input file's size when the run began.
    input_bytes: Option<u64>,
    /// Every batch below this one is settled…
    settled_below: u64,
    /// …and so are these.
    settled: BTreeSet<u64>,
    reject_bytes: u64,
    counts: WriteSummary,
    requests: u64,
    bytes: u64,
    elapsed_s: f64,
}

impl WriteCheckpoint {
    fn is_settled(&self, batch: u64) -> bool {
        batch < self.settled_below || self.settled.contains(&batch)
    }

    fn settle(&mut self, batch: u64) {
        self.settled.insert(batch);
        while self.settled.remove(&self.settled_below) {
            self.settled_below += 1;
        }
    }
}

/// A batch read, mapped and encoded, ready to go.
#[derive(Debug)]
struct Outgoing {
    index: u64,
    /// The JSON text of each record in the body.
    records: Vec<Vec<u8>>,
    /// The request body, compressed when the job says so; empty when every
    /// record of the batch was rejected before sending.
    body: Vec<u8>,
    /// `{name}` values of `write.url` (single mode).
    placeholders: HashMap<String, String>,
    /// Records rejected before sending: unreadable or not mappable.
    early: Vec<Rejected>,
}

#[derive(Debug)]
struct Rejected {
    record: Vec<u8>,
    /// False for input that is not JSON, kept as text.
    is_json: bool,
    reason: String,
    status: Option<u16>,
    response: Option<String>,
}

/// What became of a batch.
#[derive(Debug)]
struct Settled {
    index: u64,
    delivered: u64,
    rejected: Vec<Rejected>,
    retried: u64,
    requests: u64,
    bytes: u64,
}

/// The session a write job sends through; its notices told first.
fn session(job: &Job, options: &RunOptions) -> Result<Session> {
    for notice in &job.notices {
        tracing::warn!("{notice}");
    }
    let request = job.request.as_ref().expect("a write job has its request");
    let client = HttpClient::new(request, &job.limits, options.redirect_to.clone())?;
    let session = Session::new(client, job.auth.authenticator(), job);
    if !session.credentials().body.is_empty() {
        return Err(Error::config(format!(
            "job file `{}`: auth: a write job's body is its records, so credentials cannot go in it; \
             place them in a header or the query",
            job.name
        )));
    }
    Ok(session)
}

/// Runs a write job.
pub(crate) async fn run(job: &Job, options: RunOptions) -> Result<Summary> {
    let started = Instant::now();
    let write = job.write.as_deref().expect("a write job has [write]");
    let request = job.request.as_ref().expect("a write job has its request");
    let session = session(job, &options)?;
    let fingerprint = fingerprint(job);
    let input_bytes = input::size(&write.input);
    let mut checkpoint = begin(job, write, &options, &fingerprint, input_bytes)?;
    let mut rejects = Rejects::open(write.reject_path.as_deref(), checkpoint.reject_bytes)?;
    let earlier_elapsed = checkpoint.elapsed_s;

    let items = input::open(&write.input, options.redirect_to.clone())?;
    let window = usize::try_from(job.limits.concurrency).unwrap_or(1).max(1);
    let (sender, mut receiver) = mpsc::channel::<Outgoing>(window);
    let encoder = Arc::new(Encoder::new(write, &request.url));
    let skip = checkpoint.clone();
    // A thread of its own, not the runtime's blocking pool: a failed run
    // must not wait for an input (stdin, a read job) that never ends.
    let (read_done, read_outcome) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("hydrant-write-input".into())
        .spawn(move || {
            let _ = read_done.send(read_batches(items, &encoder, &skip, sender));
        })
        .map_err(|e| Error::io("cannot start the input thread", e))?;

    let send = Arc::new(Sender {
        session,
        job: job.clone(),
        key_prefix: fingerprint[..16].to_owned(),
    });
    let mut in_flight: JoinSet<Result<Settled>> = JoinSet::new();
    let mut input_done = false;
    let mut failure: Option<Error> = None;
    // Why the latest record was rejected, for the error of too many.
    let mut last_reject: Option<String> = None;
    // An interrupt stops taking batches; the ones in flight settle
    // (delivered, or rejected to the reject file) before the run ends.
    let interrupt = options.interrupt.clone().unwrap_or_default();
    let mut interrupted = false;
    loop {
        let taking = !input_done && !interrupted && failure.is_none() && in_flight.len() < window;
        if !taking && in_flight.is_empty() {
            break;
        }
        tokio::select! {
            biased;
            () = interrupt.wait(), if !interrupted => interrupted = true,
            Some(settled) = in_flight.join_next(), if !in_flight.is_empty() => {
                let mut outcomes = vec![settled];
                while let Some(more) = in_flight.try_join_next() {
                    outcomes.push(more);
                }
                for outcome in outcomes {
                    let settled = match outcome {
                        Ok(Ok(settled)) => settled,
                        Ok(Err(e)) => {
                            failure.get_or_insert(e);
                            continue;
                        }
                        Err(e) => {
                            failure.get_or_insert(Error::data(format!("a write task failed: {e}")));
                            continue;
                        }
                    };
                    if let Some(rejected) = settled.rejected.last() {
                        last_reject = Some(rejected.reason.clone());
                    }
                    record(&mut checkpoint, &mut rejects, settled)?;
                }
                checkpoint.elapsed_s = earlier_elapsed + started.elapsed().as_secs_f64();
                checkpoint.reject_bytes = rejects.sync()?;
                if let Some(state) = &job.state {
                    state::save(&state.path, &checkpoint, |text| send.session.redact(text))?;
                }
                if let Some(report) = &options.on_progress {
                    report(&Progress {
                        requests: checkpoint.requests,
                        records: checkpoint.counts.delivered,
                        bytes: checkpoint.bytes,
                        dirty: checkpoint.counts.rejected,
                    });
                }
                if checkpoint.counts.rejected > write.max_rejects && failure.is_none() {
                    failure = Some(too_many_rejects(
                        checkpoint.counts.rejected,
                        write,
                        last_reject.as_deref(),
                    ));
                }
            }
            batch = receiver.recv(), if taking => match batch {
                Some(batch) => {
                    let send = send.clone();
                    in_flight.spawn(async move { send.batch(batch).await });
                }
                None => input_done = true,
            },
        }
    }
    drop(receiver);
    if let Some(failure) = failure {
        return Err(failure);
    }
    if interrupted {
        let counts = checkpoint.counts;
        let resume = match &job.state {
            Some(_) => "; the state keeps the settled batches: resume with --resume",
            None => "",
        };
        return Err(Error::new(
            Kind::Interrupted,
            format!(
                "interrupted: {} records delivered and {} rejected in {} batches{resume}",
                counts.delivered, counts.rejected, counts.batches
            ),
        ));
    }
    read_outcome
        .await
        .unwrap_or_else(|_| Err(Error::data("the input thread panicked")))?;
    if let Some(state) = &job.state {
        state::remove(&state.path)?;
    }
    let counts = checkpoint.counts;
    Ok(Summary {
        records: counts.delivered,
        requests: checkpoint.requests,
        bytes: checkpoint.bytes,
        dirty: counts.rejected,
        retries: send.session.retries(),
        elapsed_s: earlier_elapsed + started.elapsed().as_secs_f64(),
        stopped: Stopped::EndOfInput,
        output: send.session.redact(&request.url),
        warnings: job.notices.clone(),
        dirty_reasons: Default::default(),
        unseen_fields: Default::default(),
        write: Some(counts),
    })
}

fn too_many_rejects(rejected: u64, write: &Write, last: Option<&str>) -> Error {
    let last = last.map_or_else(String::new, |reason| format!(" (the last: {reason})"));
    let whereto = write.reject_path.as_ref().map_or_else(
        || "set write.reject_path to keep them".to_owned(),
        |p| format!("they are in `{}`", p.display()),
    );
    Error::data(format!(
        "{rejected} records rejected{last}, more than write.max_rejects ({}); {whereto}",
        write.max_rejects
    ))
}

/// The checkpoint to go on from: the saved one on `--resume`, else a fresh
/// one (and any old state file removed).
fn begin(
    job: &Job,
    write: &Write,
    options: &RunOptions,
    fingerprint: &str,
    input_bytes: Option<u64>,
) -> Result<WriteCheckpoint> {
    let fresh = WriteCheckpoint {
        format: FORMAT,
        kind: "write".to_owned(),
        job: fingerprint.to_owned(),
        input_bytes,
        ..WriteCheckpoint::default()
    };
    let start_over = |state: Option<&FsPath>| -> Result<WriteCheckpoint> {
        if let Some(state) = state {
            state::remove(state)?;
        }
        if let Some(path) = &write.reject_path {
            remove_file(path)?;
        }
        Ok(fresh.clone())
    };
    let Some(state) = &job.state else {
        return start_over(None);
    };
    if !options.resume {
        return start_over(Some(&state.path));
    }
    let Some(saved) = state::read::<WriteCheckpoint>(&state.path)? else {
        return start_over(None);
    };
    if saved.kind != "write" || saved.format != FORMAT {
        return Err(Error::config(format!(
            "state file `{}` is not a checkpoint of a write job of this hydrant",
            state.path.display()
        )));
    }
    if saved.job != fingerprint {
        return Err(state::different_job(&state.path, job));
    }
    if saved.input_bytes != input_bytes {
        return Err(Error::config(format!(
            "cannot resume: the input changed since the checkpoint in `{}` ({} bytes then, {} now); \
             run without --resume to start over",
            state.path.display(),
            saved.input_bytes.unwrap_or(0),
            input_bytes.unwrap_or(0)
        )));
    }
    tracing::info!(
        settled = saved.settled_below + saved.settled.len() as u64,
        "resuming a write job"
    );
    Ok(saved)
}

fn remove_file(path: &FsPath) -> Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::io(
            format!(
                "cannot remove the old write.reject_path `{}`",
                path.display()
            ),
            e,
        )),
        _ => Ok(()),
    }
}

/// What identifies a write job for its checkpoints: the job, and the read
/// job it takes its records from.
fn fingerprint(job: &Job) -> String {
    let mut hasher = sha2::Sha256::new();
    hasher.update(state::fingerprint(job));
    if let Some(Input::Job(read)) = job.write.as_deref().map(|w| &w.input) {
        hasher.update(state::fingerprint(read));
    }
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn record(checkpoint: &mut WriteCheckpoint, rejects: &mut Rejects, settled: Settled) -> Result<()> {
    for rejected in &settled.rejected {
        rejects.write(settled.index, rejected)?;
    }
    let counts = &mut checkpoint.counts;
    counts.delivered += settled.delivered;
    counts.rejected += settled.rejected.len() as u64;
    counts.retried += settled.retried;
    counts.batches += 1;
    checkpoint.requests += settled.requests;
    checkpoint.bytes += settled.bytes;
    checkpoint.settle(settled.index);
    Ok(())
}

/// Reads the input into batches; settled batches (on resume) are read
/// past, not sent.
fn read_batches(
    items: InputRecords,
    encoder: &Encoder,
    checkpoint: &WriteCheckpoint,
    sender: mpsc::Sender<Outgoing>,
) -> Result<()> {
    let mut index = 0;
    let mut batch: Vec<InputRecord> = Vec::with_capacity(encoder.batch_size);
    let mut items = items.peekable();
    while let Some(item) = items.next() {
        batch.push(item?);
        if batch.len() < encoder.batch_size && items.peek().is_some() {
            continue;
        }
        let taken = std::mem::take(&mut batch);
        if !checkpoint.is_settled(index) {
            let outgoing = encoder.batch(index, taken);
            if sender.blocking_send(outgoing).is_err() {
                // The run stopped; it says why.
                return Ok(());
            }
        }
        index += 1;
    }
    Ok(())
}

/// Maps records through `[[write.columns]]` and builds request bodies.
#[derive(Debug)]
struct Encoder {
    batch_size: usize,
    single: bool,
    gzip: bool,
    /// `{"a":{"b":` … `}}` around the batch for `data_path = "a.b"`.
    wrap: (Vec<u8>, Vec<u8>),
    mapping: Option<Mapping>,
    /// Placeholder names of `write.url` (single mode).
    url_names: Vec<String>,
}

#[derive(Debug)]
struct Mapping {
    extractor: Extractor,
    layout: Vec<(Vec<u8>, Member)>,
}

/// Where a column lands in the JSON sent.
#[derive(Debug)]
enum Member {
    Column(usize),
    Object(Vec<(Vec<u8>, Member)>),
}

impl Encoder {
    fn new(write: &Write, url: &str) -> Encoder {
        let mut wrap = (Vec::new(), Vec::new());
        for part in write.data_path.iter().flat_map(|p| p.split('.')) {
            wrap.0.push(b'{');
            write_str(part, &mut wrap.0);
            wrap.0.push(b':');
            wrap.1.push(b'}');
        }
        Encoder {
            batch_size: write.batch_size,
            single: write.single,
            gzip: write.gzip,
            wrap,
            mapping: write.columns.as_ref().map(|columns| Mapping::new(columns)),
            url_names: url_names(url),
        }
    }

    fn batch(&self, index: u64, items: Vec<InputRecord>) -> Outgoing {
        let mut records = Vec::with_capacity(items.len());
        let mut early = Vec::new();
        let mut placeholders = HashMap::new();
        for item in items {
            let text = match item {
                InputRecord::Record(text) => text,
                InputRecord::Unreadable { text, reason } => {
                    early.push(Rejected {
                        is_json: false,
                        ..Rejected::before_sending(text, reason)
                    });
                    continue;
                }
            };
            if self.single && !self.url_names.is_empty() {
                match url_values(&text, &self.url_names) {
                    Ok(values) => placeholders = values,
                    Err(reason) => {
                        early.push(Rejected::before_sending(text, reason));
                        continue;
                    }
                }
            }
            match &self.mapping {
                None => records.push(text),
                Some(mapping) => match mapping.map(&text) {
                    Ok(mapped) => records.push(mapped),
                    Err(reason) => early.push(Rejected::before_sending(text, reason)),
                },
            }
        }
        let body = if records.is_empty() {
            Vec::new()
        } else {
            self.body(&records)
        };
        Outgoing {
            index,
            records,
            body,
            placeholders,
            early,
        }
    }

    fn body(&self, records: &[Vec<u8>]) -> Vec<u8> {
        let size: usize = records.iter().map(|r| r.len() + 1).sum();
        let mut body = Vec::with_capacity(size + self.wrap.0.len() + self.wrap.1.len() + 2);
        body.extend_from_slice(&self.wrap.0);
        if self.single {
            body.extend_from_slice(&records[0]);
        } else {
            body.push(b'[');
            for (i, record) in records.iter().enumerate() {
                if i > 0 {
                    body.push(b',');
                }
                body.extend_from_slice(record);
            }
            body.push(b']');
        }
        body.extend_from_slice(&self.wrap.1);
        if !self.gzip {
            return body;
        }
        let mut encoder = GzEncoder::new(Vec::with_capacity(body.len() / 4), Compression::fast());
        encoder
            .write_all(&body)
            .and_then(|()| encoder.finish())
            .expect("writing to memory does not fail")
    }
}

impl Mapping {
    fn new(columns: &[ColumnSpec]) -> Mapping {
        let mut layout: Vec<(Vec<u8>, Member)> = Vec::new();
        for (index, column) in columns.iter().enumerate() {
            let parts: Vec<&str> = column.name.split('.').collect();
            place(&mut layout, &parts, index);
        }
        let records = Records {
            path: None,
            mode: RecordMode::One,
            missing_is_dirty: false,
            bad_type_is_dirty: true,
            max_dirty: 0,
            dirty_path: None,
            flatten: ".".to_owned(),
            infer_pages: 1,
        };
        Mapping {
            extractor: Extractor::new(columns.to_vec(), &records),
            layout,
        }
    }

    /// The record as the columns say, or why it cannot be.
    fn map(&self, text: &[u8]) -> std::result::Result<Vec<u8>, String> {
        let mut buffer = text.to_vec();
        let value = simd_json::to_borrowed_value(&mut buffer)
            .map_err(|e| format!("the record is not JSON: {e}"))?;
        if !value.is_object() {
            return Err("the record is not a JSON object, so write.columns cannot read it".into());
        }
        let mut batch = Batch::default();
        self.extractor
            .extract(&[&value], &HashMap::new(), &mut batch);
        if let Some(dirty) = batch.dirty.pop() {
            return Err(dirty.reason);
        }
        let mut out = Vec::with_capacity(text.len());
        write_members(&self.layout, &batch.cells, &mut out);
        Ok(out)
    }
}

/// Puts column `index` at the dotted `parts` of the layout.
fn place(level: &mut Vec<(Vec<u8>, Member)>, parts: &[&str], index: usize) {
    let mut key = Vec::new();
    write_str(parts[0], &mut key);
    let found = level.iter().position(|(k, _)| *k == key);
    let at = found.unwrap_or_else(|| {
        let member = if parts.len() == 1 {
            Member::Column(index)
        } else {
            Member::Object(Vec::new())
        };
        level.push((key, member));
        level.len() - 1
    });
    // Validation refuses a column inside another's value, so a leaf is
    // never descended into.
    if let (Member::Object(children), [_, rest @ ..]) = (&mut level[at].1, parts)
        && !rest.is_empty()
    {
        place(children, rest, index);
    }
}

fn write_members(members: &[(Vec<u8>, Member)], cells: &[Cell<'_>], out: &mut Vec<u8>) {
    out.push(b'{');
    for (i, (key, member)) in members.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(key);
        out.push(b':');
        match member {
            Member::Column(column) => write_json_cell(&cells[*column], out),
            Member::Object(children) => write_members(children, cells, out),
        }
    }
    out.push(b'}');
}

/// The `{name}` placeholders of `write.url`.
fn url_names(url: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = url;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else {
            break;
        };
        names.push(rest[open + 1..open + close].to_owned());
        rest = &rest[open + close + 1..];
    }
    names
}

/// The values of `names` in a record's top-level members.
fn url_values(
    text: &[u8],
    names: &[String],
) -> std::result::Result<HashMap<String, String>, String> {
    let record: serde_json::Value =
        serde_json::from_slice(text).map_err(|e| format!("the record is not JSON: {e}"))?;
    names
        .iter()
        .map(|name| {
            let value = match record.get(name) {
                Some(serde_json::Value::String(s)) => s.clone(),
                Some(v @ (serde_json::Value::Number(_) | serde_json::Value::Bool(_))) => {
                    v.to_string()
                }
                _ => {
                    return Err(format!(
                        "write.url: placeholder `{{{name}}}` has no string or number in this record"
                    ));
                }
            };
            Ok((name.clone(), value))
        })
        .collect()
}

impl Rejected {
    fn before_sending(record: Vec<u8>, reason: String) -> Rejected {
        Rejected {
            record,
            is_json: true,
            reason,
            status: None,
            response: None,
        }
    }
}

/// Sends batches.
#[derive(Debug)]
struct Sender {
    session: Session,
    job: Job,
    /// Idempotency keys are this and the batch number: the same for a
    /// batch in every run of the job.
    key_prefix: String,
}

impl Sender {
    async fn batch(&self, batch: Outgoing) -> Result<Settled> {
        let mut settled = Settled {
            index: batch.index,
            delivered: 0,
            rejected: batch.early,
            retried: 0,
            requests: 0,
            bytes: 0,
        };
        if batch.records.is_empty() {
            return Ok(settled);
        }
        let write = self.job.write.as_deref().expect("a write job has [write]");
        let request = self
            .job
            .request
            .as_ref()
            .expect("a write job has its request");
        let mut prepared = prepare(
            request,
            &Plan::default(),
            &batch.placeholders,
            self.session.credentials(),
        )
        .map_err(|e| e.prefixed("write: "))?;
        prepared.set_header("content-type", "application/json".to_owned(), false);
        if write.gzip {
            prepared.set_header("content-encoding", "gzip".to_owned(), false);
        }
        if let Some(header) = &write.idempotency_header {
            prepared.set_header(
                header,
                format!("{}-{}", self.key_prefix, batch.index),
                false,
            );
        }
        settled.bytes = batch.body.len() as u64;
        prepared.body = Some((batch.body, "application/json"));
        let repeatable = request.method == Method::Put || write.idempotency_header.is_some();
        let (result, retries) = self.session.send(prepared, repeatable).await;
        settled.requests = 1 + u64::from(retries);
        let count = batch.records.len() as u64;
        if retries > 0 {
            settled.retried = count;
        }
        match result {
            Ok(_) => settled.delivered = count,
            Err(e) if e.is_config() => return Err(e),
            // The server accepted the batch: that its answer could not be
            // read (cut short, over max_response) does not undo it.
            Err(e) if e.status().is_some_and(|s| (200..300).contains(&s)) => {
                tracing::warn!(
                    batch = batch.index,
                    records = count,
                    "batch delivered, but its answer could not be read: {e}"
                );
                settled.delivered = count;
            }
            Err(e) => {
                tracing::warn!(batch = batch.index, records = count, "{e}");
                let reason = e.to_string();
                for record in batch.records {
                    settled.rejected.push(Rejected {
                        record,
                        is_json: true,
                        reason: reason.clone(),
                        status: e.status(),
                        response: e.response().map(str::to_owned),
                    });
                }
            }
        }
        Ok(settled)
    }
}

/// `write.reject_path`, opened on the first reject.
struct Rejects {
    path: Option<PathBuf>,
    out: Option<BufWriter<File>>,
    bytes: u64,
}

impl Rejects {
    /// Opens at `length`: the reject file is cut back to what a checkpoint
    /// counts (0 on a fresh run, where the file was removed).
    fn open(path: Option<&FsPath>, length: u64) -> Result<Rejects> {
        // Rejects written after the checkpoint belong to batches that are
        // sent again; a fresh run's file was removed, so this is a no-op.
        if let Some(path) = path {
            state::rewind("write.reject_path", path, length)?;
        }
        Ok(Rejects {
            path: path.map(FsPath::to_path_buf),
            out: None,
            bytes: length,
        })
    }

    fn write(&mut self, batch: u64, rejected: &Rejected) -> Result<()> {
        let Some(path) = &self.path else {
            tracing::warn!(batch, reason = %rejected.reason, "record rejected");
            return Ok(());
        };
        let failed = |e| {
            Error::io(
                format!("cannot write write.reject_path `{}`", path.display()),
                e,
            )
        };
        let out = match &mut self.out {
            Some(out) => out,
            None => {
                let file = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .map_err(failed)?;
                self.out.insert(BufWriter::new(file))
            }
        };
        let mut line = Vec::with_capacity(rejected.record.len() + 128);
        line.extend_from_slice(b"{\"batch\":");
        crate::json::write_uint(batch, &mut line);
        line.extend_from_slice(b",\"status\":");
        match rejected.status {
            Some(status) => crate::json::write_uint(status.into(), &mut line),
            None => line.extend_from_slice(b"null"),
        }
        line.extend_from_slice(b",\"response\":");
        match &rejected.response {
            Some(response) => write_str(response, &mut line),
            None => line.extend_from_slice(b"null"),
        }
        line.extend_from_slice(b",\"reason\":");
        write_str(&rejected.reason, &mut line);
        if rejected.is_json {
            line.extend_from_slice(b",\"record\":");
            line.extend_from_slice(&rejected.record);
        } else {
            line.extend_from_slice(b",\"text\":");
            write_str(&String::from_utf8_lossy(&rejected.record), &mut line);
        }
        line.extend_from_slice(b"}\n");
        out.write_all(&line).map_err(failed)?;
        self.bytes += line.len() as u64;
        Ok(())
    }

    /// Makes every reject durable; answers the file's length.
    fn sync(&mut self) -> Result<u64> {
        if let (Some(out), Some(path)) = (&mut self.out, &self.path) {
            let failed = |e| {
                Error::io(
                    format!("cannot write write.reject_path `{}`", path.display()),
                    e,
                )
            };
            out.flush().map_err(failed)?;
            out.get_ref().sync_data().map_err(failed)?;
        }
        Ok(self.bytes)
    }
}

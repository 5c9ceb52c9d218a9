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

mod batch;
pub(crate) mod input;
mod inspect;
#[cfg(feature = "parquet")]
pub(crate) mod parquet;
mod rejects;
mod send;
#[cfg(test)]
mod tests;

use batch::*;
use rejects::*;
use send::*;

pub use inspect::WriteCheck;
pub(crate) use inspect::{check, explain};

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
use crate::extract::{Batch, Cell, ColumnSpec, Extractor, failure_said};
use crate::job::{Input, Job, Method, RecordMode, Records, Write};
use crate::json::scan::Scanner;
use crate::json::write_str;
use crate::net::client::HttpClient;
use crate::net::request::{Prepared, prepare};
use crate::net::session::Session;
use crate::options::{Progress, RunOptions};
use crate::sink::write_json_cell;
use crate::state;
use crate::summary::{Stopped, Summary, WriteSummary};
use input::{InputRecord, InputRecords};

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

/// A write job's `[write]` and its request, which validation gives every
/// write job.
fn parts(job: &Job) -> (&Write, &crate::job::Request) {
    let write = job.write.as_deref().expect("a write job has [write]");
    let request = job.request.as_ref().expect("a write job has its request");
    (write, request)
}

/// The session a write job sends through; its notices told first.
fn session(job: &Job, options: &RunOptions) -> Result<Session> {
    for notice in &job.notices {
        tracing::warn!("{notice}");
    }
    let (_, request) = parts(job);
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
    let (write, request) = parts(job);
    let session = session(job, &options)?;
    let fingerprint = fingerprint(job);
    let input_bytes = input::size(&write.input);
    let checkpoint = begin(job, write, &options, &fingerprint, input_bytes)?;
    let rejects = Rejects::open(write.reject_path.as_deref(), checkpoint.reject_bytes)?;

    let items = input::open(&write.input, options.redirect_to.clone())?;
    let window = usize::try_from(job.limits.concurrency).unwrap_or(1).max(1);
    let (sender, mut receiver) = mpsc::channel::<Outgoing>(window);
    let encoder = Arc::new(Encoder::new(write, &request.url));
    let read_outcome = read_on_a_thread(items, Arc::clone(&encoder), checkpoint.clone(), sender)?;

    let mut run = Settling {
        job,
        options: &options,
        send: Arc::new(Sender {
            session,
            job: job.clone(),
            key_prefix: fingerprint[..16].to_owned(),
            encoder: Arc::clone(&encoder),
            split: Default::default(),
        }),
        earlier_elapsed: checkpoint.elapsed_s,
        checkpoint,
        rejects,
        started,
        failure: None,
        over_rejects: false,
        last_reject: None,
    };
    let mut in_flight: JoinSet<Result<Settled>> = JoinSet::new();
    let mut input_done = false;
    // An interrupt stops taking batches; the ones in flight settle
    // (delivered, or rejected to the reject file) before the run ends.
    let interrupt = options.interrupt.clone().unwrap_or_default();
    let mut interrupted = false;
    loop {
        let taking = !input_done
            && !interrupted
            && run.failure.is_none()
            && !run.over_rejects
            && in_flight.len() < window;
        if !taking && in_flight.is_empty() {
            break;
        }
        tokio::select! {
            biased;
            () = interrupt.wait(), if !interrupted => interrupted = true,
            Some(settled) = in_flight.join_next(), if !in_flight.is_empty() => {
                run.settled(settled)?;
                while let Some(more) = in_flight.try_join_next() {
                    run.settled(more)?;
                }
                run.checkpoint()?;
            }
            batch = receiver.recv(), if taking => match batch {
                Some(batch) => {
                    let send = run.send.clone();
                    in_flight.spawn(async move { send.batch(batch).await });
                }
                None => input_done = true,
            },
        }
    }
    drop(receiver);
    if let Some(failure) = run.failure {
        return Err(failure);
    }
    if run.over_rejects {
        return Err(run.too_many_rejects(input_done));
    }
    if interrupted {
        return Err(run.interrupted());
    }
    read_outcome
        .await
        .unwrap_or_else(|_| Err(Error::data("the input thread panicked")))?;
    run.summary(&encoder)
}

/// Reads, maps and encodes the input on a thread of its own, not the
/// runtime's blocking pool: a failed run must not wait for an input
/// (stdin, a read job) that never ends.
fn read_on_a_thread(
    items: InputRecords,
    encoder: Arc<Encoder>,
    skip: WriteCheckpoint,
    sender: mpsc::Sender<Outgoing>,
) -> Result<tokio::sync::oneshot::Receiver<Result<()>>> {
    let (read_done, read_outcome) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("hydrant-write-input".into())
        .spawn(move || {
            let _ = read_done.send(read_batches(items, &encoder, &skip, sender));
        })
        .map_err(|e| Error::io("cannot start the input thread", e))?;
    Ok(read_outcome)
}

/// A write run's account of its settled batches: the checkpoint, the
/// reject file and the first failure.
struct Settling<'j> {
    job: &'j Job,
    options: &'j RunOptions,
    send: Arc<Sender>,
    checkpoint: WriteCheckpoint,
    rejects: Rejects,
    started: Instant,
    /// The time of the runs this one resumes.
    earlier_elapsed: f64,
    failure: Option<Error>,
    /// More records were rejected than `write.max_rejects` allows: no
    /// batch is sent after, and the run fails once those in flight settle.
    over_rejects: bool,
    /// Why the latest record was rejected, for the error of too many.
    last_reject: Option<LastReject>,
}

/// The last record rejected: its reason, and the status and the start of
/// the answer that refused it, if one did.
#[derive(Debug)]
struct LastReject {
    reason: String,
    status: Option<u16>,
    response: Option<String>,
}

impl Settling<'_> {
    /// Counts a batch that settled, its rejects written to the reject
    /// file; a batch whose task failed fails the run.
    fn settled(&mut self, outcome: Result<Result<Settled>, tokio::task::JoinError>) -> Result<()> {
        let settled = match outcome {
            Ok(Ok(settled)) => settled,
            Ok(Err(e)) => {
                self.failure.get_or_insert(e);
                return Ok(());
            }
            Err(e) => {
                self.failure
                    .get_or_insert(Error::data(format!("a write task failed: {e}")));
                return Ok(());
            }
        };
        if let Some(rejected) = settled.rejected.last() {
            self.last_reject = Some(LastReject {
                reason: rejected.reason.clone(),
                status: rejected.status,
                response: rejected.response.clone(),
            });
        }
        record(&mut self.checkpoint, &mut self.rejects, settled)
    }

    /// Makes what has settled durable (the reject file, then the state
    /// file), reports progress, and fails the run past `write.max_rejects`.
    fn checkpoint(&mut self) -> Result<()> {
        let checkpoint = &mut self.checkpoint;
        checkpoint.elapsed_s = self.earlier_elapsed + self.started.elapsed().as_secs_f64();
        checkpoint.reject_bytes = self.rejects.sync()?;
        if let Some(state) = &self.job.state {
            state::save(&state.path, checkpoint, |text| {
                self.send.session.redact(text)
            })?;
        }
        if let Some(report) = &self.options.on_progress {
            report(&Progress {
                requests: checkpoint.requests,
                records: checkpoint.counts.delivered,
                bytes: checkpoint.bytes,
                dirty: checkpoint.counts.rejected,
            });
        }
        let (write, _) = parts(self.job);
        self.over_rejects |= checkpoint.counts.rejected > write.max_rejects;
        Ok(())
    }

    /// The error of a run stopped by more rejects than `write.max_rejects`,
    /// with the counts of every batch that settled: those in flight when
    /// the limit was passed were still answered. `input_done`: the whole
    /// input had been sent.
    fn too_many_rejects(&self, input_done: bool) -> Error {
        let (write, _) = parts(self.job);
        let counts = self.checkpoint.counts;
        let last = (self.last_reject.as_ref())
            .map_or_else(String::new, |last| format!(" (the last: {})", last.reason));
        let rest = match input_done {
            true => "",
            false => ", the rest of the input not sent",
        };
        let whereto = write.reject_path.as_ref().map_or_else(
            || "set write.reject_path to keep them".to_owned(),
            |p| format!("they are in `{}`", p.display()),
        );
        // An API that takes one record a request refuses an array whole
        // (Django REST Framework: "Expected a dictionary, but got list"),
        // and one that takes arrays refuses a record alone, saying so
        // (Litestar: "Expected `array`, got `object`").
        let refused_whole = match &self.last_reject {
            Some(last) if matches!(last.status, Some(400 | 422)) && counts.delivered == 0 => {
                let said = last.response.as_deref().unwrap_or_default();
                let said = said.to_ascii_lowercase();
                !write.single || said.contains("array") || said.contains("list")
            }
            _ => false,
        };
        let single = match (refused_whole, write.single) {
            (false, _) => "",
            (true, false) => "; if the API takes one record a request, set write.mode = \"single\"",
            (true, true) => "; if the API takes an array of records, set write.mode = \"batch\"",
        };
        Error::data(format!(
            "{} records rejected{last}, more than write.max_rejects ({}); {} delivered{rest}; \
             {whereto}{single}",
            counts.rejected, write.max_rejects, counts.delivered
        ))
    }

    /// The error of a run stopped by an interrupt, with what it settled.
    fn interrupted(&self) -> Error {
        let counts = self.checkpoint.counts;
        let resume = match &self.job.state {
            Some(_) => "; the state keeps the settled batches: resume with --resume",
            None => "",
        };
        Error::new(
            Kind::Interrupted,
            format!(
                "interrupted: {} records delivered and {} rejected in {} batches{resume}",
                counts.delivered, counts.rejected, counts.batches
            ),
        )
    }

    /// The summary of a run that settled every batch; its state file,
    /// no longer needed, removed.
    fn summary(self, encoder: &Encoder) -> Result<Summary> {
        if let Some(state) = &self.job.state {
            state::remove(&state.path)?;
        }
        let (_, request) = parts(self.job);
        let counts = self.checkpoint.counts;
        let mut warnings = self.job.notices.clone();
        warnings.extend(encoder.lone_surrogates_said());
        for warning in encoder.absent_said(false) {
            tracing::warn!("{warning}");
            warnings.push(warning);
        }
        Ok(Summary {
            records: counts.delivered,
            requests: self.checkpoint.requests,
            bytes: self.checkpoint.bytes,
            dirty: counts.rejected,
            retries: self.send.session.retries(),
            elapsed_s: self.earlier_elapsed + self.started.elapsed().as_secs_f64(),
            stopped: Stopped::EndOfInput,
            output: self.send.session.redact(&request.url),
            warnings,
            dirty_reasons: Default::default(),
            nulled: Default::default(),
            unseen_fields: Default::default(),
            write: Some(counts),
            incremental: None,
        })
    }
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
    let mut first = true;
    while let Some(item) = items.next() {
        let item = item?;
        if std::mem::take(&mut first) {
            encoder.check_fields(&item)?;
        }
        batch.push(item);
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

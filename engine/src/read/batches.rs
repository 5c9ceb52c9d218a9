//! A job's records as a stream of Arrow record batches, for embedders.

use std::sync::mpsc::{Receiver, RecvTimeoutError, sync_channel};
use std::thread::JoinHandle;
use std::time::Duration;

use arrow_array::RecordBatch;

use crate::error::{Error, Result};
use crate::extract::ColumnSpec;
use crate::job::Job;
use crate::options::RunOptions;
use crate::read::{Hooks, OutputHook};
use crate::sink::Sink;
use crate::sink::arrow::{ArrowSink, Builders};
use crate::summary::Summary;

/// A job's records as Arrow record batches, one per page, in output order.
///
/// The job runs on its own thread; it waits while two batches are waiting
/// to be taken, so memory stays bounded however slowly they are consumed.
/// After the last batch, [`RecordBatches::summary`] tells what the run did;
/// a failed run ends the stream with its error. To stop it early, pass an
/// [`Interrupt`](crate::Interrupt) in the options and wait with
/// [`RecordBatches::ready_within`] to look at it between batches.
#[derive(Debug)]
pub struct RecordBatches {
    receiver: Receiver<RecordBatch>,
    /// A batch taken by `ready_within`, for `next` to hand over.
    ready: Option<RecordBatch>,
    /// The columns known before the first page.
    known: Option<Vec<ColumnSpec>>,
    runner: Option<JoinHandle<Result<Summary>>>,
    summary: Option<Summary>,
}

/// Runs a read job (as `hydrant_engine::run` would, with its output replaced by
/// the stream) and hands its records over as Arrow record batches. The
/// stream leaves the job's `[state]` file alone: it keeps no checkpoint,
/// and an `[incremental]` job reads from its stored bookmark without
/// moving it.
pub fn record_batches(job: Job, mut options: RunOptions) -> Result<RecordBatches> {
    let job = match options.partition.take() {
        Some(partition) => {
            let (part, backfill) = partition.apply(&job)?;
            options.backfill = backfill.or(options.backfill);
            part
        }
        None => job,
    };
    if job.write.is_some() {
        return Err(Error::config(format!(
            "job file `{}`: a write job has no records to stream",
            job.name
        )));
    }
    let known = job.columns.clone().or_else(|| job.seed_columns.clone());
    let (sender, receiver) = sync_channel(2);
    let runner = std::thread::Builder::new()
        .name("hydrant-record-batches".into())
        .spawn(move || -> Result<Summary> {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| Error::io("cannot start the job's runtime", e))?;
            let mut hooks = Hooks {
                output: Some(OutputHook::Sink(Box::new(
                    move |columns: &[ColumnSpec], _: &[String]| {
                        Box::new(ArrowSink {
                            builders: Builders::new(columns),
                            sender,
                        }) as Box<dyn Sink>
                    },
                ))),
                ..Hooks::default()
            };
            runtime.block_on(crate::read::run_hooked(&job, options, &mut hooks))
        })
        .map_err(|e| Error::io("cannot start the job's thread", e))?;
    Ok(RecordBatches {
        receiver,
        ready: None,
        known,
        runner: Some(runner),
        summary: None,
    })
}

impl RecordBatches {
    /// What the run did, once the stream has ended without an error.
    pub fn summary(&self) -> Option<&Summary> {
        self.summary.as_ref()
    }

    /// The columns when they are known before the first page: declared,
    /// or inferred for the whole job and carried by the partition run.
    /// The schema of a stream without records, as
    /// [`schema`](crate::arrow::schema) makes it.
    pub fn known_columns(&self) -> Option<&[ColumnSpec]> {
        self.known.as_deref()
    }

    /// Waits up to `timeout` for the next batch or the end of the run,
    /// and says whether `next` would now return at once. An embedder
    /// that must stay responsive (to Ctrl-C, say) waits in such steps.
    pub fn ready_within(&mut self, timeout: Duration) -> bool {
        if self.ready.is_some() || self.runner.is_none() {
            return true;
        }
        match self.receiver.recv_timeout(timeout) {
            Ok(batch) => {
                self.ready = Some(batch);
                true
            }
            Err(RecvTimeoutError::Disconnected) => true,
            Err(RecvTimeoutError::Timeout) => false,
        }
    }
}

impl Iterator for RecordBatches {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Result<RecordBatch>> {
        if let Some(batch) = self.ready.take() {
            return Some(Ok(batch));
        }
        if let Ok(batch) = self.receiver.recv() {
            return Some(Ok(batch));
        }
        let outcome = self
            .runner
            .take()?
            .join()
            .unwrap_or_else(|_| Err(Error::data("the job's thread panicked")));
        match outcome {
            Ok(summary) => {
                self.summary = Some(summary);
                None
            }
            Err(e) => Some(Err(e)),
        }
    }
}

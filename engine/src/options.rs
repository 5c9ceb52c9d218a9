//! How a run is asked to go: the options an embedder passes beside the
//! job, the interrupt that stops it, and the progress it reports.

use std::collections::BTreeMap;
use std::sync::Arc;

use http::Uri;
use serde::{Deserialize, Serialize};

pub use crate::exchange::{ExchangeFn, TakenExchange};

/// A callback shown the run's progress after every page.
pub type ProgressFn = Box<dyn Fn(&Progress) + Send + Sync>;

/// How to run a job, beyond the job itself.
#[derive(Default)]
pub struct RunOptions {
    /// Send every request to this origin instead (`--replay`).
    pub redirect_to: Option<Uri>,
    /// Called after every page.
    pub on_progress: Option<ProgressFn>,
    /// Go on from the job's `[state]` checkpoint, if there is one.
    pub resume: bool,
    /// Shown every exchange whose answer the run takes (`hydrant record`).
    pub on_exchange: Option<ExchangeFn>,
    /// Set by the embedder (the CLI on SIGINT or SIGTERM) to stop the run:
    /// no new request is sent, the pages already received are written in
    /// order, a checkpoint is kept with `[state]`, and the run ends with an
    /// error for which [`Error::is_interrupted`](crate::Error::is_interrupted) holds.
    pub interrupt: Option<Interrupt>,
    /// An incremental job's backfill (`--from`, `--to`): that range of
    /// cursor values, without reading or moving the stored bookmark.
    pub backfill: Option<Backfill>,
    /// Run only this part of the job (see [`partitions`](crate::partitions)).
    pub partition: Option<Partition>,
}

/// A range of an incremental job's cursor values to read again, as the
/// user spells them: `to` is exclusive; without it the run goes up to
/// what a normal run would.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backfill {
    /// The inclusive lower bound.
    pub from: String,
    /// The exclusive upper bound.
    pub to: Option<String>,
}

/// A request to stop a run, shared between the embedder and the run.
#[derive(Debug, Clone, Default)]
pub struct Interrupt(Arc<InterruptState>);

#[derive(Debug, Default)]
struct InterruptState {
    set: std::sync::atomic::AtomicBool,
    notify: tokio::sync::Notify,
}

impl Interrupt {
    /// A new, unset interrupt.
    pub fn new() -> Interrupt {
        Interrupt::default()
    }

    /// Asks the run to stop.
    pub fn trigger(&self) {
        self.0.set.store(true, std::sync::atomic::Ordering::SeqCst);
        self.0.notify.notify_waiters();
    }

    /// Whether the run was asked to stop.
    pub fn is_set(&self) -> bool {
        self.0.set.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Resolves once the run is asked to stop (at once if it was).
    pub(crate) async fn wait(&self) {
        let notified = self.0.notify.notified();
        if self.is_set() {
            return;
        }
        notified.await;
    }
}

impl std::fmt::Debug for RunOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunOptions")
            .field("redirect_to", &self.redirect_to)
            .field("on_progress", &self.on_progress.is_some())
            .field("resume", &self.resume)
            .field("on_exchange", &self.on_exchange.is_some())
            .field("interrupt", &self.interrupt)
            .field("backfill", &self.backfill)
            .field("partition", &self.partition)
            .finish()
    }
}

/// Where a run is.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Progress {
    /// Requests answered.
    pub requests: u64,
    /// Records written.
    pub records: u64,
    /// Response body bytes received, decoded.
    pub bytes: u64,
    /// Records left out of the output.
    pub dirty: u64,
}

/// One part of a job: what [`partitions`](crate::partitions) makes, and
/// what [`RunOptions::partition`] runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Partition {
    /// The part's place among the parts, from 0.
    pub index: u32,
    /// How many parts the job was cut into.
    pub count: u32,
    /// Why the job was not cut, when it is one part.
    pub reason: Option<String>,
    pub(crate) part: Part,
    /// The whole job's inferred columns (none when it declares them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) columns: Option<Vec<SavedColumn>>,
    /// Those of `columns` that held only nulls and empty objects in the
    /// sample: an object's fields may take their place, as in a run of
    /// the whole job.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) null_only: Vec<String>,
}

/// A column as text, as a checkpoint or a partition keeps it (made and
/// read back in `state`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct SavedColumn {
    pub(crate) name: String,
    pub(crate) path: Option<String>,
    #[serde(rename = "type")]
    pub(crate) kind: String,
    pub(crate) format: Option<String>,
    pub(crate) value: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Part {
    Whole,
    /// Fan-out values, each with its placeholders.
    Values(Vec<BTreeMap<String, String>>),
    /// The requests from `first` to `last` (0-based) of a counted plan.
    Requests {
        first: u64,
        last: u64,
    },
    /// The windows from `from` to `to`, read as a backfill.
    Windows {
        from: String,
        to: String,
    },
}

impl Partition {
    /// The partition as JSON text, to send to a worker.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("plain data")
    }

    /// A partition from [`Partition::to_json`].
    pub fn from_json(text: &str) -> crate::error::Result<Partition> {
        serde_json::from_str(text)
            .map_err(|e| crate::error::Error::config(format!("not a hydrant partition: {e}")))
    }
}

/// The codecs of `output.parquet.compression`, which a dialect's Parquet
/// output maps to.
pub(crate) const PARQUET_CODECS: [&str; 5] = ["zstd", "snappy", "gzip", "lz4", "none"];

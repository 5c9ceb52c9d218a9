//! The hydrant engine: pull records out of REST APIs as fast as the API
//! allows.
//!
//! A [`Job`] is loaded and validated once from a job file (see
//! `docs/reference/job-file.md` for every key). [`run()`] then drives the
//! request plan of the job's paginator. Each page is indexed in one SIMD
//! pass and checked in one more, which also notes where the job's
//! columns lie, so extraction does not walk the records again. The
//! records go through a sink (NDJSON, CSV, raw, or Parquet with the
//! `parquet` feature) into `PATH.partial`, renamed on success. A write job
//! (`[write]`) sends records the other way, in batches. With the `arrow`
//! feature, the `arrow` module streams a job's records as Arrow record
//! batches.
//!
//! ```no_run
//! # async fn demo() -> Result<(), hydrant_engine::Error> {
//! use hydrant_engine::{Job, RunOptions, Vars};
//!
//! let job = Job::load("examples/quickstart.toml", &Vars::new([]))?;
//! let summary = hydrant_engine::run(&job, RunOptions::default()).await?;
//! eprintln!("{} records in {} requests", summary.records, summary.requests);
//! # Ok(()) }
//! ```
//!
//! The library emits `tracing` events and never installs a subscriber.
#![warn(missing_docs, unreachable_pub)]
mod bench;
mod dialect;
mod error;
mod exchange;
mod extract;
mod job;
mod json;
mod net;
mod options;
mod read;
mod run;
mod sink;
mod state;
mod summary;
mod write;

/// What the criterion benches of `hydrant-bench` drive: not a stable API.
#[doc(hidden)]
pub use bench::support as bench_support;
pub use bench::{BenchReport, Phase, bench};

/// Arrow record batches of a job's records (cargo feature `arrow`).
#[cfg(feature = "arrow")]
pub mod arrow {
    pub use crate::read::batches::{RecordBatches, record_batches};
    pub use crate::sink::arrow::{data_type, schema};
    /// The Arrow crates the batches are made with, so that embedders use the
    /// same versions.
    pub use {arrow_array, arrow_schema};
}
pub use error::{Error, Result};
pub use extract::{Batch, Cell, DirtyRecord, Tolerated};
#[cfg(feature = "schema")]
pub use job::job_schema;
pub use job::vars::Vars;
pub use job::{ColumnSpec, ColumnType, is_credential_name};
pub use job::{Job, JobFormat, OutputFormat, Pick};
pub use json::path;
pub use json::path::{JsonPath, Segment};
pub use options::{
    Backfill, ExchangeFn, Interrupt, Partition, Progress, ProgressFn, RunOptions, TakenExchange,
};
pub use read::{
    CheckReport, NextPage, Probe, check, columns, partitions, probe, query, reset_state, schema,
    schema_of, state,
};
pub use run::{check_write, explain, run};
pub use summary::{IncrementalSummary, Stopped, Summary, WriteSummary};
pub use write::WriteCheck;

//! The hydrant engine: pull records out of REST APIs as fast as the API
//! allows.
//!
//! A [`Job`] is loaded and validated once from a job file (see the
//! project's SPEC for every key). [`run`] then drives the request plan of
//! the job's paginator, parses each page in place with simd-json, extracts
//! every column in one walk per record, and writes the records through a
//! sink (NDJSON, CSV, raw, or Parquet with the `parquet` feature), into
//! `PATH.partial` renamed on success. A write job (`[write]`) sends records
//! the other way, in batches; with the `arrow` feature, the `arrow` module streams a
//! job's records as Arrow record batches.
//!
//! ```no_run
//! # async fn demo() -> Result<(), hydrant_engine::Error> {
//! use hydrant_engine::{Job, RunOptions, Vars};
//!
//! let job = Job::load("examples/quickstart.toml".as_ref(), &Vars::new([]))?;
//! let summary = hydrant_engine::run(&job, RunOptions::default()).await?;
//! eprintln!("{} records in {} requests", summary.records, summary.requests);
//! # Ok(()) }
//! ```
//!
//! The library emits `tracing` events and never installs a subscriber.
mod bench;
#[cfg(feature = "arrow")]
mod columnar;
mod error;
mod extract;
mod fanout;
mod http;
mod input;
mod job;
mod json;
mod keys;
mod node;
#[cfg(feature = "parquet")]
mod parquet_file;
pub mod path;
mod proxy;
mod units;
mod vars;

pub use bench::{BenchReport, Phase, bench};

/// Arrow record batches of a job's records (cargo feature `arrow`).
#[cfg(feature = "arrow")]
pub mod arrow {
    pub use crate::columnar::{RecordBatches, data_type, record_batches, schema};
    /// The Arrow crates the batches are made with, so that embedders use the
    /// same versions.
    pub use {arrow_array, arrow_schema};
}
pub use error::{Error, Result};
pub use extract::{Batch, Cell, ColumnSpec, ColumnType};
pub use job::{Job, JobFormat, OutputFormat};
pub use path::{Path, Segment};
pub use record::{ExchangeFn, TakenExchange};
pub use vars::Vars;
pub mod bench_support;
mod record;
mod request;
mod run;
mod scan;
mod session;
mod sink;
mod state;
mod worker;
mod write;
pub use run::{
    CheckReport, Interrupt, Progress, RunOptions, Summary, WriteSummary, check, explain, query,
    run, schema,
};

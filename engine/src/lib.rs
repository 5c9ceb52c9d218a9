//! placeholder
mod error;
mod extract;
mod http;
mod job;
mod json;
pub mod path;
mod units;
mod vars;

pub use error::{Error, Result};
pub use extract::{Batch, Cell, ColumnSpec, ColumnType};
pub use job::{Job, JobFormat, OutputFormat};
pub use path::{Path, Segment};
pub use vars::Vars;
pub mod bench_support;
mod request;
mod run;
mod sink;
pub use run::{CheckReport, Progress, RunOptions, Summary, check, explain, query, run, schema};

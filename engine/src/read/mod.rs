//! Reading a job: the loop driven by the paginator, page by page from the
//! answer to the sink ([`run::ReadRun`]); the fan-out feed and the page
//! workers it uses; and the commands built on the first page (`check`,
//! `schema`, `explain`, `query`).

#[cfg(feature = "arrow")]
pub(crate) mod batches;
mod columns;
mod count;
#[cfg(feature = "parquet")]
pub(crate) mod encoder;
pub(crate) mod fanout;
mod flight;
pub(crate) mod incremental;
mod inspect;
mod near;
mod page;
mod partition;
mod pass;
mod run;
pub(crate) mod shaped;
mod short;
pub(crate) mod worker;

#[cfg(test)]
mod tests;

use std::io::Write;
use std::time::{Duration, Instant};

use hydrant_paginate::{Override, Plan};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::job::Job;
use crate::json::node::Node;
use crate::json::path::JsonPath;
use crate::net::request::Prepared;
use crate::options::RunOptions;
use crate::summary::Summary;

pub use count::NextPage;
pub use incremental::{describe as state, reset as reset_state};
pub(crate) use inspect::explain;
pub use inspect::{CheckReport, Probe, check, columns, probe, query, schema, schema_of};
pub use partition::partitions;

/// Runs a read job with what `hooks` change in it.
pub(crate) async fn run_hooked(
    job: &Job,
    options: RunOptions,
    hooks: &mut Hooks,
) -> Result<Summary> {
    let own_output = hooks.output.is_none();
    let run = run::ReadRun::start(job, options, hooks).await?;
    // An error may quote a page (one that is not JSON, one that says it
    // failed), and a server may echo a credential anywhere in it.
    let session = run.context.session.clone();
    run.drive().await.map_err(|e| {
        // An interrupted run says what it kept in its own error.
        if own_output
            && !e.is_interrupted()
            && let Some(kept) = page::kept_on_failure(job)
        {
            tracing::warn!("{kept}");
        }
        e.redacted(|text| session.redact(text))
    })
}

/// What `bench` changes in a run: every request whose page was taken
/// recorded with its latency, the output encoded as usual but counted and
/// dropped.
#[derive(Default)]
pub(crate) struct Hooks {
    pub recorder: Option<Vec<(Prepared, Duration)>>,
    /// Where the encoded output goes instead of `output.path`: counted
    /// and dropped by `bench`, handed to a write job by `input.job`.
    pub output: Option<OutputHook>,
    /// When the first request went out: the run's time is measured from
    /// it, leaving out setup (TLS roots, the client).
    pub first_sent: Option<Instant>,
}

impl std::fmt::Debug for Hooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hooks")
            .field("recorder", &self.recorder.as_ref().map(Vec::len))
            .field("output", &self.output.is_some())
            .field("first_sent", &self.first_sent)
            .finish()
    }
}

/// Where a run's records go instead of its `[output]`.
pub(crate) enum OutputHook {
    /// Encoded in the job's format into this stream.
    Writer(Box<dyn Write + Send>),
    /// Handed to the sink this makes, once the columns are known.
    #[cfg(feature = "arrow")]
    Sink(SinkFactory),
}

#[cfg(feature = "arrow")]
/// Takes the columns and, of them, those that have held only nulls and
/// empty objects (see [`crate::extract::Inference::null_only`]).
pub(crate) type SinkFactory =
    Box<dyn FnOnce(&[crate::extract::ColumnSpec], &[String]) -> Box<dyn crate::sink::Sink> + Send>;

/// How many requests may be in flight: `limits.concurrency` when none
/// depends on another's answer (a counted plan, or fan-out values),
/// one otherwise.
pub(crate) fn request_window(job: &Job, counted: bool) -> usize {
    if counted || job.values_concurrently() {
        job.limits.concurrency as usize
    } else {
        1
    }
}

/// The first value a watched path (a paginator's `from`, a stop's path)
/// selects on a page, in any parsed form; on the index a number keeps
/// its text.
pub(crate) fn watched_node<'v, N: Node<'v>>(page: N, path: &JsonPath) -> Option<Value> {
    let found = path.select(page);
    found.first().map(|v| v.to_serde_verbatim())
}

/// Reads again, from the index of `body` made with `scanner`, the watched
/// values that a tree gave as doubles: a tree keeps no number's text (see
/// `Node::to_serde_verbatim`). Only pages that hold such a value pay for
/// the second reading.
pub(crate) fn verbatim_watched(
    body: &[u8],
    paths: &[JsonPath],
    watched: &mut [Option<Value>],
    scanner: &mut crate::json::scan::Scanner,
) {
    let Ok(doc) = scanner.scan(body, None) else {
        return;
    };
    for (path, value) in paths.iter().zip(watched) {
        if value.as_ref().is_some_and(Value::is_f64)
            && let Some(verbatim) = watched_node(doc.root(), path)
        {
            *value = Some(verbatim);
        }
    }
}

/// Whether the output hook takes the extracted batches themselves rather
/// than encoded text.
pub(crate) fn takes_batches(output: Option<&OutputHook>) -> bool {
    #[cfg(feature = "arrow")]
    if let Some(OutputHook::Sink(_)) = output {
        return true;
    }
    let _ = output;
    false
}

/// Resolves a plan's link against the URL of the page it came from.
pub(crate) fn resolve_links(mut plan: Plan, current: &url::Url) -> Plan {
    for o in &mut plan.overrides {
        if let Override::Link(link) = o
            && let Ok(absolute) = current.join(link)
        {
            *link = absolute.to_string();
        }
    }
    plan
}

/// The error of a failed write to the output.
pub(crate) fn output_error(job: &Job, e: std::io::Error) -> Error {
    let target = job
        .output
        .path
        .as_ref()
        .map_or_else(|| "stdout".to_owned(), |p| format!("`{}`", p.display()));
    Error::io(format!("cannot write the output to {target}"), e)
}

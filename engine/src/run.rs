//! Running any job: a read job through `read`, a write job (which may read
//! another job as its input) through `write`.

use crate::error::Result;
use crate::job::Job;
use crate::options::RunOptions;
use crate::read::{Hooks, run_hooked};
use crate::state;
use crate::summary::Summary;

/// The first request a job would send, as text with secrets masked: a
/// read job's first page, or a write job's first batch (read from its
/// input). Nothing is sent.
pub fn explain(job: &Job) -> Result<String> {
    match job.write {
        Some(_) => crate::write::explain(job),
        None => crate::read::explain(job),
    }
}

/// A write job's first batch: its records, those its input or mapping
/// would reject, and its request, secrets masked. Nothing is sent. A
/// read job is refused: [`check`](crate::check) sends its first request.
pub fn check_write(job: &Job) -> Result<crate::write::WriteCheck> {
    if job.write.is_none() {
        return Err(crate::error::Error::config(format!(
            "job file `{}`: a read job; `hydrant check` sends its first request",
            job.name
        )));
    }
    crate::write::check(job)
}

/// Runs a job to its end: pages from the API into the output for a read
/// job, records from the input into the API for a write job.
///
/// A run that fails leaves no output looking complete: the output is
/// written as `PATH.partial` and renamed on success. With `[state]`, the
/// partial output stays with a checkpoint to resume from.
pub async fn run(job: &Job, mut options: RunOptions) -> Result<Summary> {
    let part;
    let job = match options.partition.take() {
        Some(partition) => {
            let backfill;
            (part, backfill) = partition.apply(job)?;
            options.backfill = backfill.or(options.backfill);
            &part
        }
        None => job,
    };
    job.check_paths()?;
    // Two runs of one job with [state] would write one output and one
    // checkpoint between them: the second is refused for the whole run.
    let _lock = job
        .state
        .as_ref()
        .filter(|_| !job.state_read_only)
        .map(|state| state::lock(&state.path))
        .transpose()?;
    if job.write.is_some() {
        return crate::write::run(job, options).await;
    }
    run_hooked(job, options, &mut Hooks::default()).await
}

//! Running any job: a read job through `read`, a write job (which may read
//! another job as its input) through `write`.

use crate::error::Result;
use crate::job::Job;
use crate::options::RunOptions;
use crate::read::{Hooks, run_hooked};
use crate::state;
use crate::summary::Summary;

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

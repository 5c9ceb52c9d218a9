//! Inferred columns in the read loop: how they may change once written,
//! and what the user is told of fields they leave out.

use crate::extract::{Extractor, Fed, Inference, Policy};
use crate::job::{Job, OutputFormat, Records};
use crate::read::OutputHook;

/// What inferred columns may do once written: NDJSON takes new fields and
/// wider types as they come, CSV wider types (its header is written), and
/// Parquet or Arrow batches neither.
pub(super) fn infer_policy(job: &Job, output: &Option<OutputHook>) -> Policy {
    #[cfg(feature = "arrow")]
    if let Some(OutputHook::Sink(_)) = output {
        return Policy::Fixed { widen: false };
    }
    let _ = output;
    match job.output.format {
        OutputFormat::Ndjson | OutputFormat::Raw => Policy::Grow,
        OutputFormat::Csv => Policy::Fixed { widen: true },
        OutputFormat::Parquet => Policy::Fixed { widen: false },
    }
}

/// [`infer_policy`] for a run of `job` to its own output, as `hydrant
/// check` and `hydrant schema` show its columns.
pub(super) fn run_policy(job: &Job) -> Policy {
    infer_policy(job, &None)
}

/// The columns a run starts with: the declared ones, or an inference
/// (which a partition starts from the whole job's columns, as a resumed
/// run starts from its checkpoint's). A `raw` run has none: it counts
/// its bodies' records and reads nothing else of them.
pub(super) fn starting_columns(
    job: &Job,
    policy: Policy,
    raw: bool,
) -> (Option<Extractor>, Option<Inference>) {
    let flatten = &job.records.flatten;
    match (&job.columns, &job.seed_columns) {
        _ if raw => (Some(Extractor::new(Vec::new(), &job.records)), None),
        (Some(columns), _) => (
            Some(Extractor::new(columns.clone(), &job.records).noting_absent()),
            None,
        ),
        (None, Some(seed)) => {
            let mut inference = Inference::from_columns(flatten, seed, policy.mixed());
            inference.restore_null_only(&job.seed_null_only);
            (
                Some(Extractor::inferred(seed.clone(), &job.records)),
                Some(inference),
            )
        }
        (None, None) => (None, Some(Inference::new(flatten, policy.mixed()))),
    }
}

/// The extractor of the inferred columns once sampling ends.
pub(super) fn fixed_extractor(
    inference: &mut Inference,
    policy: Policy,
    records: &Records,
) -> Extractor {
    inference.fix_for(policy);
    Extractor::inferred(inference.columns(), records)
}

/// The warning, given once, of fields outside fixed inferred columns.
pub(super) fn tell_unseen(
    fed: Fed,
    inference: &Inference,
    shown: &str,
    told: bool,
) -> Option<String> {
    if told || !fed.new_unseen {
        return None;
    }
    let names: Vec<&str> = inference
        .unseen()
        .keys()
        .map(String::as_str)
        .take(5)
        .collect();
    let warning = format!(
        "records from {shown} have fields outside the inferred columns ({}): they are left out and counted in the summary's unseen_fields; raise records.infer_pages or declare [[columns]]",
        names.join(", ")
    );
    tracing::warn!("{warning}");
    Some(warning)
}

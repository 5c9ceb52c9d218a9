//! Partitions: a job cut into parts that run apart (on Spark or Ray
//! executors, or as `hydrant run --shard i/N`), each record of the job in
//! exactly one part.
//!
//! A job is cut along its fan-out values, else along the requests of a
//! counted plan with a known end (`range` with `end`, `offset` or `page`
//! with `max_requests`), else along the windows of an `[incremental]`
//! job with `step`. A part is plain data: the values it covers (with the
//! placeholders of their parent records) or the bounds of its requests,
//! never a credential, which each worker reads from its own environment.

use std::collections::BTreeMap;
use std::sync::Arc;

use hydrant_paginate::Kind;

use crate::error::{Error, Result};
use crate::job::{FanoutSource, Job, counted, known_requests};
use crate::options::{Backfill, Part, Partition, Progress, RunOptions, SavedColumn};
use crate::read::fanout::Feed;

impl Partition {
    /// The job as this part runs it, and the backfill it runs, if any.
    /// `limits.rate` is shared between the parts.
    pub(crate) fn apply(&self, job: &Job) -> Result<(Job, Option<Backfill>)> {
        let mut part = job.clone();
        // Parts run side by side: none keeps checkpoints or moves a
        // bookmark (an incremental part reads from the stored one), and
        // the engine that schedules them runs a failed one again.
        part.state_read_only = true;
        if let Some((rate, burst)) = part.limits.rate {
            part.limits.rate = Some((rate / f64::from(self.count.max(1)), burst));
        }
        if let (None, Some(columns)) = (&job.columns, &self.columns) {
            part.seed_columns = Some(SavedColumn::load(columns, |what| {
                Error::config(format!("this partition's columns are damaged: {what}"))
            })?);
            part.seed_null_only.clone_from(&self.null_only);
        }
        let mut backfill = None;
        match &self.part {
            Part::Whole => {}
            Part::Values(values) => {
                let fanout = part.fanout.as_mut().ok_or_else(|| mismatch(job))?;
                fanout.source = FanoutSource::Given(Arc::new(values.clone()));
            }
            Part::Requests { first, last } => {
                let paginate = &mut part.paginate;
                let (start, step) = counted(paginate).ok_or_else(|| mismatch(job))?;
                let first = i64::try_from(*first).map_err(|_| mismatch(job))?;
                paginate.start = Some(start + first * step);
                match paginate.kind {
                    Kind::Range => {
                        paginate.end = Some(start + i64::try_from(*last).unwrap_or(i64::MAX) * step)
                    }
                    _ => paginate.max_requests = Some(last - first as u64 + 1),
                }
            }
            Part::Windows { from, to } => {
                backfill = Some(Backfill {
                    from: from.clone(),
                    to: Some(to.clone()),
                });
            }
        }
        Ok((part, backfill))
    }
}

fn mismatch(job: &Job) -> Error {
    Error::config(format!(
        "this partition was not made from job file `{}` as it is now; make the partitions again",
        job.name
    ))
}

/// Cuts a job into `min(n, units)` parts. With `[fanout.from]` the parent
/// job runs now, so that each part carries its values. A job that infers
/// its columns has them inferred now, as [`columns`](crate::columns)
/// infers them, and each part carries them: every part then has the
/// columns of the whole job, not those of its own first page.
pub async fn partitions(job: &Job, n: u32, options: &RunOptions) -> Result<Vec<Partition>> {
    let mut parts = cut_job(job, n, options).await?;
    if parts.len() > 1 && job.columns.is_none() {
        let redirected = RunOptions {
            redirect_to: options.redirect_to.clone(),
            ..RunOptions::default()
        };
        // The fan-out values were just found (a `[fanout.from]` parent job
        // ran for them): the columns are sampled over the same values
        // rather than running the parent job again.
        let mut sample = job.clone();
        if let Some(fanout) = sample.fanout.as_mut() {
            let values = parts.iter().flat_map(|p| match &p.part {
                Part::Values(values) => values.clone(),
                _ => Vec::new(),
            });
            fanout.source = FanoutSource::Given(Arc::new(values.collect()));
        }
        let sampled = crate::read::inspect::sampled_columns(&sample, redirected).await?;
        if !sampled.columns.is_empty() {
            let saved = SavedColumn::save(&sampled.columns);
            for part in &mut parts {
                part.columns = Some(saved.clone());
                part.null_only.clone_from(&sampled.null_only);
            }
        }
    }
    Ok(parts)
}

/// The parts of a job, without columns.
async fn cut_job(job: &Job, n: u32, options: &RunOptions) -> Result<Vec<Partition>> {
    if job.write.is_some() {
        return Err(Error::config(format!(
            "job file `{}`: a write job is not cut into partitions",
            job.name
        )));
    }
    let n = n.max(1);
    let whole = |reason: &str| {
        tracing::info!("{reason}");
        vec![Partition {
            index: 0,
            count: 1,
            reason: Some(reason.to_owned()),
            part: Part::Whole,
            columns: None,
            null_only: Vec::new(),
        }]
    };
    if job.fanout.is_some() {
        let mut feed = Feed::open(job, options, &mut Progress::default(), &mut Vec::new()).await?;
        let mut values = Vec::new();
        while let Some(value) = feed.next_value()? {
            values.push(value.placeholders.into_iter().collect::<BTreeMap<_, _>>());
        }
        if values.is_empty() {
            return Ok(whole("[fanout] gives no value"));
        }
        return Ok(cut(values.len() as u64, n, |first, last| {
            Part::Values(values[first as usize..=last as usize].to_vec())
        }));
    }
    if let Some(requests) = known_requests(&job.paginate) {
        return Ok(cut(requests, n, |first, last| Part::Requests {
            first,
            last,
        }));
    }
    if let Some(windows) = crate::read::incremental::windows_of(job)? {
        if windows.is_empty() {
            return Ok(whole(
                "[incremental]: nothing to fetch: the bookmark is at the upper bound",
            ));
        }
        return Ok(cut(windows.len() as u64, n, |first, last| Part::Windows {
            from: windows[first as usize].0.clone(),
            to: windows[last as usize].1.clone(),
        }));
    }
    let reason = match job.paginate.kind {
        Kind::Offset | Kind::Page => {
            "the number of pages is not known before the run (set paginate.max_requests to cut it)"
        }
        Kind::Range => "a range without paginate.end has no known end",
        Kind::None => "one request, without [fanout], is one partition",
        _ => "each request is named by the answer before it: the pages can only be read in turn",
    };
    Ok(whole(reason))
}

/// `units` cut into `min(n, units)` contiguous parts of nearly one size.
fn cut(units: u64, n: u32, part: impl Fn(u64, u64) -> Part) -> Vec<Partition> {
    let count = u64::from(n).min(units).max(1);
    (0..count)
        .map(|i| {
            let first = units * i / count;
            let last = units * (i + 1) / count - 1;
            Partition {
                index: i as u32,
                count: count as u32,
                reason: None,
                part: part(first, last),
                columns: None,
                null_only: Vec::new(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::JobFormat;
    use crate::job::vars::Vars;

    #[test]
    fn a_part_runs_with_its_share_of_the_rate_and_without_checkpoints() {
        let job = Job::parse(
            "[request]\nurl = \"https://a.example/x\"\n[fanout]\nparam = \"k\"\nvalues = [\"a\", \"b\"]\n\
             [limits]\nrate = 10.0\nburst = 3\n[state]\npath = \"s.json\"\n[output]\npath = \"o.ndjson\"\n",
            JobFormat::Toml,
            "job.toml",
            &Vars::isolated([]),
        )
        .unwrap();
        let part = Partition {
            index: 1,
            count: 4,
            reason: None,
            part: Part::Values(vec![BTreeMap::from([("value".to_owned(), "b".to_owned())])]),
            columns: None,
            null_only: Vec::new(),
        };
        let (applied, backfill) = part.apply(&job).unwrap();
        assert_eq!(applied.limits.rate, Some((2.5, 3)));
        assert!(applied.state_read_only && backfill.is_none());
        assert!(matches!(
            applied.fanout.unwrap().source,
            FanoutSource::Given(values) if values.len() == 1
        ));
        let json = part.to_json();
        assert_eq!(Partition::from_json(&json).unwrap(), part);
    }

    #[test]
    fn a_part_starts_from_the_columns_it_carries() {
        let job = Job::parse(
            "[request]\nurl = \"https://a.example/x\"\n[fanout]\nparam = \"k\"\nvalues = [\"a\"]\n",
            JobFormat::Toml,
            "job.toml",
            &Vars::isolated([]),
        )
        .unwrap();
        let text = r#"{"index":0,"count":2,"reason":null,"part":{"values":[{"value":"a"}]},
            "columns":[{"name":"id","path":"id","type":"long"},{"name":"maybe","path":"maybe","type":"string"}],
            "null_only":["maybe"]}"#;
        let (applied, _) = Partition::from_json(text).unwrap().apply(&job).unwrap();
        assert_eq!(applied.seed_null_only, ["maybe"]);
        let seed = applied.seed_columns.unwrap();
        assert_eq!(
            (seed[0].name.as_str(), seed[0].kind.as_str()),
            ("id", "long")
        );
        let damaged = text.replace("\"long\"", "\"lung\"");
        let error = Partition::from_json(&damaged)
            .unwrap()
            .apply(&job)
            .unwrap_err();
        assert!(error.is_config(), "{error}");
        assert!(
            error
                .to_string()
                .contains("partition's columns are damaged: column `id` has no type `lung`"),
            "{error}"
        );
    }

    #[test]
    fn units_are_cut_in_contiguous_parts_covering_each_once() {
        for (units, n) in [(10u64, 3u32), (3, 8), (1, 1), (10_001, 7)] {
            let parts = cut(units, n, |first, last| Part::Requests { first, last });
            assert_eq!(parts.len() as u64, units.min(u64::from(n)));
            let mut next = 0;
            for part in &parts {
                let Part::Requests { first, last } = part.part else {
                    unreachable!()
                };
                assert_eq!(first, next, "{units} units in {n}");
                assert!(last >= first);
                next = last + 1;
            }
            assert_eq!(next, units);
        }
    }
}

//! Running a read job: the loop driven by the paginator, page by page from
//! the response to the sink; and the commands built on it (`check`,
//! `schema`, `explain`, `query`).

#[cfg(feature = "arrow")]
pub(crate) mod batches;
pub(crate) mod fanout;
pub(crate) mod worker;

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::Uri;
use hydrant_paginate::{Override, Page as PageView, Paginator, Plan, Step, Stop};
use serde::Serialize;
use serde_json::Value;
use simd_json::BorrowedValue;
use simd_json::prelude::ValueAsArray;
use tokio::sync::{Semaphore, oneshot};
use tokio::task::JoinHandle;

use crate::error::{Error, Kind, Result};
use crate::exchange::TakenExchange;
use crate::extract::{
    Batch, ColumnSpec, Extractor, Fed, Inference, Placeholders, Policy, expand, infer_columns,
    records_path_found, records_path_missing,
};
use crate::job::{Fanout, FanoutSource, Job, OutputFormat, Records, Request};
use crate::json::node::Node;
use crate::json::path::Path;
use crate::json::scan::Scanner;
use crate::json::{Parser, Scratch, write_serde};
use crate::net::client::HttpClient;
use crate::net::request::{Prepared, prepare};
use crate::net::session::{Fetched, Session};
use crate::options::{Interrupt, Progress, RunOptions};
use crate::read::fanout::{FanValue, Feed};
use crate::read::worker::{Encoded, Landed, PageWork, content_type, index_records, not_json};
use crate::sink::{Destination, Mark, PageOut, RawSink, Sink, TextSink};
use crate::state::{self, Checkpoint, SavedColumn, SavedPass};
use crate::summary::Summary;

/// `future`'s value, or `None` when the run is interrupted first. A future
/// already done wins: a page received is a page written.
async fn unless_interrupted<T>(
    interrupt: Option<&Interrupt>,
    future: impl std::future::Future<Output = T>,
) -> Option<T> {
    let Some(interrupt) = interrupt else {
        return Some(future.await);
    };
    tokio::select! {
        biased;
        value = future => Some(value),
        () = interrupt.wait() => None,
    }
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
pub(crate) type SinkFactory = Box<dyn FnOnce(&[ColumnSpec]) -> Box<dyn Sink> + Send>;

/// Everything a run needs that does not change from page to page.
struct Context<'j> {
    job: &'j Job,
    request: &'j Request,
    session: Session,
}

impl<'j> Context<'j> {
    fn new(job: &'j Job, redirect_to: Option<Uri>) -> Result<Context<'j>> {
        if job.write.is_some() {
            return Err(Error::config(format!(
                "job file `{}`: this is a write job; `hydrant run` runs it",
                job.name
            )));
        }
        let request = job.request.as_ref().expect("a read job has a request");
        let client = HttpClient::new(request, &job.limits, redirect_to)?;
        let session = Session::new(client, job.auth.authenticator(), job);
        Ok(Context {
            job,
            request,
            session,
        })
    }

    fn paginator(&self) -> Result<Paginator> {
        Paginator::new(&self.job.paginate)
            .map_err(|e| Error::config(format!("job file `{}`: {e}", self.job.name)))
    }

    fn prepare_with(&self, plan: &Plan, placeholders: &Placeholders) -> Result<Prepared> {
        prepare(self.request, plan, placeholders, self.session.credentials())
    }
}

/// A records path that needs the general JSONPath evaluator is applied to
/// a `serde_json` copy of the page; what it selects is parsed again with
/// simd-json, as one array, into `reparse`.
pub(crate) fn reparse_selected<'r>(
    page: &BorrowedValue<'_>,
    records: &Records,
    parser: &mut Parser,
    reparse: &'r mut Scratch,
) -> std::result::Result<Option<BorrowedValue<'r>>, String> {
    let Some(path) = records.path.as_ref().filter(|p| p.segments().is_none()) else {
        return Ok(None);
    };
    let tree = page.to_serde();
    let mut text = b"[".to_vec();
    for (i, value) in path.query(&tree).into_iter().enumerate() {
        if i > 0 {
            text.push(b',');
        }
        write_serde(value, &mut text);
    }
    text.push(b']');
    parser.parse(&text, reparse).map(Some)
}

/// The records of a page (see [`reparse_selected`]).
pub(crate) fn page_records<'v>(
    page: &'v BorrowedValue<'v>,
    reparsed: &'v Option<BorrowedValue<'v>>,
    records: &Records,
) -> std::result::Result<Vec<&'v BorrowedValue<'v>>, String> {
    match reparsed {
        Some(selected) => {
            let nodes = selected
                .as_array()
                .map(|a| a.iter().collect())
                .unwrap_or_default();
            expand(nodes, true, records.mode)
        }
        None => crate::extract::select_records(page, records),
    }
}

/// One pass of the job: all of it without `[fanout]`, one value with it.
struct Pass {
    /// The position of its value among the fan-out values.
    index: u64,
    placeholders: Arc<Placeholders>,
    /// The paginator's watched paths, compiled once.
    watched: Arc<[Path]>,
    /// Where the fan-out value goes, added to every request of the pass.
    fanout: Vec<Override>,
    paginator: Paginator,
    pending: Option<Plan>,
    ahead_index: u64,
    ended: Option<Stop>,
    seen: HashSet<u64>,
    /// A followed request sent before the page that named it was written,
    /// and its identity: a checkpoint taken meanwhile must still name it.
    unanswered: Option<(Plan, u64)>,
}

impl Pass {
    fn new(context: &Context<'_>, value: FanValue, index: u64) -> Result<Pass> {
        let mut paginator = context.paginator()?;
        let pending = Some(paginator.first());
        let watched = paginator
            .watched_paths()
            .iter()
            .map(|p| {
                Path::parse(p).map_err(|e| {
                    Error::config(format!("job file `{}`: paginate: {e}", context.job.name))
                })
            })
            .collect::<Result<Vec<_>>>()?
            .into();
        Ok(Pass {
            index,
            placeholders: Arc::new(value.placeholders),
            watched,
            fanout: value.overrides,
            paginator,
            pending,
            ahead_index: 1,
            ended: None,
            seen: HashSet::new(),
            unanswered: None,
        })
    }

    /// Where the pass stands after the page just written.
    fn save(&self) -> SavedPass {
        let unanswered = self.unanswered.as_ref().map(|(_, identity)| *identity);
        let mut requests: Vec<u64> = if self.paginator.is_predictable() {
            // Counted requests never repeat; only followed ones can loop.
            Vec::new()
        } else {
            self.seen
                .iter()
                .copied()
                .filter(|id| Some(*id) != unanswered)
                .collect()
        };
        requests.sort_unstable();
        SavedPass {
            value: self.placeholders.get("value").cloned(),
            paginator: self.paginator.checkpoint(),
            next: self
                .pending
                .clone()
                .or_else(|| self.unanswered.as_ref().map(|(plan, _)| plan.clone())),
            requests,
        }
    }

    /// Goes on from a saved pass of the same value.
    fn restore(&mut self, saved: SavedPass, state: &std::path::Path) -> Result<()> {
        let value = self.placeholders.get("value");
        if saved.value.as_ref() != value {
            return Err(Error::config(format!(
                "cannot resume from state file `{}`: fan-out value {} was {:?} and is now {:?}; \
                 the values changed since the checkpoint, so run without --resume to start over",
                state.display(),
                self.index + 1,
                saved.value.unwrap_or_default(),
                value.map_or("", String::as_str)
            )));
        }
        self.ahead_index = saved.paginator.pages;
        self.paginator.restore(saved.paginator);
        self.pending = saved.next;
        self.seen = saved.requests.into_iter().collect();
        Ok(())
    }

    /// The next request to launch, if one can go now, and for a followed
    /// (not counted) request the paginator's plan it came from.
    fn next_plan(&mut self) -> Option<(Plan, Option<Plan>)> {
        if self.ended.is_some() {
            return None;
        }
        let plan = match self.pending.take() {
            Some(plan) => plan,
            None if self.paginator.is_predictable() => {
                let plan = self.paginator.ahead(self.ahead_index)?;
                self.ahead_index += 1;
                plan
            }
            None => return None,
        };
        let followed = (!self.paginator.is_predictable()).then(|| plan.clone());
        let mut overrides = self.fanout.clone();
        overrides.extend(plan.overrides);
        Some((Plan { overrides }, followed))
    }
}

/// How many requests may be in flight: `limits.concurrency` when none
/// depends on another's answer (a predictable plan, or fan-out values),
/// one otherwise.
pub(crate) fn request_window(job: &Job, predictable: bool) -> usize {
    if predictable || job.values_concurrently() {
        job.limits.concurrency as usize
    } else {
        1
    }
}

/// Whether a page can be walked on its structural index: the columns are
/// known, and neither they, the records path nor the paginator's watched
/// paths need the general JSONPath evaluator, which works on a tree.
pub(crate) fn walks_index(
    extractor: Option<&Extractor>,
    records: &Records,
    watched: &[Path],
) -> bool {
    extractor.is_some_and(Extractor::walks_index)
        && records.path.as_ref().is_none_or(|p| p.segments().is_some())
        && watched.iter().all(|w| w.segments().is_some())
}

/// Runs a read job to its end.
///
/// Predictable strategies (offset, page, range) keep up to
/// `limits.concurrency` requests in flight; responses are taken in request
/// order, and requests past the end are dropped unread. Sequential ones
/// send the next request once the page that names it is parsed, or at once
/// when the link leads the page; the answer to it may be stepped on before
/// the page is written, so each page carries the checkpoint it makes
/// (which names the next request as the one to resume at). Once the
/// columns are known and the output is text, pages are parsed, extracted
/// and encoded off the run loop (`worker.rs`). With `[fanout]`, each value is paginated
/// on its own, values in order; without pagination the values themselves
/// go out concurrently.
pub async fn run(job: &Job, options: RunOptions) -> Result<Summary> {
    job.check_paths()?;
    // Two runs of one job with [state] would write one output and one
    // checkpoint between them: the second is refused for the whole run.
    let _lock = job
        .state
        .as_ref()
        .map(|state| state::lock(&state.path))
        .transpose()?;
    if job.write.is_some() {
        return crate::write::run(job, options).await;
    }
    run_hooked(job, options, &mut Hooks::default()).await
}

pub(crate) async fn run_hooked(
    job: &Job,
    options: RunOptions,
    hooks: &mut Hooks,
) -> Result<Summary> {
    let started = Instant::now();
    let context = Context::new(job, options.redirect_to.clone())?;
    let mut output = hooks.output.take();
    let on_exchange = options.on_exchange.clone();
    let mut warnings = Vec::new();
    let mut dirty_reasons = BTreeMap::new();
    let mut records_missing_told = false;
    if let Some(warning) = job.output_format_mismatch() {
        tracing::warn!("{warning}");
        warnings.push(warning);
    }
    let resumed = begin_checkpoints(job, options.resume, &mut warnings)?;
    let mut progress = Progress::default();
    let mut earlier = Earlier::default();
    let mut last_stop = Stop::NoNext;
    let mut launched: u64 = 0;
    let mut extractor = job.columns.clone().map(|c| Extractor::new(c, &job.records));
    // Without [[columns]], the columns are inferred as pages come: see
    // `Inference`. Pages sampled before they are fixed wait in `held`.
    let policy = infer_policy(job, &output);
    let mut inference = job
        .columns
        .is_none()
        .then(|| Inference::new(&job.records.flatten));
    let mut held: Vec<Held> = Vec::new();
    let mut sampled: u64 = 0;
    let mut unseen_told = false;
    let mut rescanner = Scanner::default();
    // The counters come back before the feed opens: `[fanout.from]` adds
    // the requests of its parent job, run again, on top of them.
    if let Some(checkpoint) = &resumed {
        progress = checkpoint.progress;
        earlier = Earlier {
            retries: checkpoint.retries,
            elapsed_s: checkpoint.elapsed_s,
            dirty_bytes: checkpoint.dirty_bytes,
        };
        last_stop = checkpoint.stopped;
        launched = checkpoint.launched;
        warnings.extend(checkpoint.warnings.iter().cloned());
        dirty_reasons.clone_from(&checkpoint.dirty_reasons);
        if let (None, Some(saved), Some(state)) = (&extractor, &checkpoint.columns, &job.state) {
            let columns = SavedColumn::load(saved, &state.path)?;
            let mut inferred = Inference::from_columns(&job.records.flatten, &columns);
            inferred.restore_unseen(&checkpoint.unseen_fields);
            inference = Some(inferred);
            extractor = Some(Extractor::new(columns, &job.records));
        }
    }
    let mut feed = Feed::open(job, &options, &mut progress, &mut warnings).await?;
    let values_concurrently = job.values_concurrently();
    let mut parser = Parser::default();
    let mut scratch = Scratch::default();
    let mut reparse = Scratch::default();
    let mut scanner = Scanner::default();
    let mut sink: Option<Box<dyn Sink>> = None;
    let mut dirty_out: Option<std::io::BufWriter<std::fs::File>> = None;
    let mut in_flight = InFlight::default();
    let fetching = Arc::new(Semaphore::new(job.limits.concurrency as usize));
    let batches_hooked = takes_batches(output.as_ref());
    let mut work: Option<Arc<PageWork>> = None;
    let mut pass: Option<Pass> = None;
    // Fan-out values taken from the feed, and those wholly written.
    let mut values_taken: u64 = 0;
    let mut values_written: u64 = 0;
    let mut answered = launched;
    let mut last_checkpoint: Option<Instant> = None;
    let output_resumed_at = resumed.as_ref().map(|c| Mark {
        length: c.output_bytes,
        digest: c.output_digest.unwrap_or_default(),
    });
    if let Some(checkpoint) = resumed {
        let state = &job
            .state
            .as_ref()
            .expect("a checkpoint comes from [state]")
            .path;
        let changed = || {
            Error::config(format!(
                "cannot resume from state file `{}`: [fanout] now gives fewer values than the {} \
                 it had done; run without --resume to start over",
                state.display(),
                checkpoint.values_done
            ))
        };
        for _ in 0..checkpoint.values_done {
            feed.next_value()?.ok_or_else(changed)?;
        }
        values_taken = checkpoint.values_done;
        values_written = checkpoint.values_done;
        if let Some(saved) = checkpoint.pass {
            let value = feed.next_value()?.ok_or_else(changed)?;
            let mut restored = Pass::new(&context, value, values_taken)?;
            restored.restore(saved, state)?;
            pass = Some(restored);
            values_taken += 1;
        }
        if let Some(extractor) = &extractor {
            sink = Some(open_sink(
                job,
                extractor.columns(),
                output_resumed_at,
                &mut output,
            )?);
        }
    }
    // Each pass's paginator caps its own requests; with [fanout] the cap is
    // also counted across passes, as it caps the whole job.
    let total_cap = job.fanout.as_ref().and(job.paginate.max_requests);
    // Launches what may go now: within the current pass, or (without
    // pagination) the next fan-out values.
    macro_rules! launch {
        () => {
        loop {
            if options.interrupt.as_ref().is_some_and(Interrupt::is_set) {
                break;
            }
            let window = request_window(
                job,
                pass.as_ref().is_some_and(|p| p.paginator.is_predictable()),
            );
            // A request is in flight until its answer is in (`fetching`);
            // as many pages again may wait, made or being made, for the
            // run loop to write them in order, so that one slow page does
            // not hold the requests after it.
            let tasks = if window > 1 { 2 * window } else { 1 };
            if in_flight.tasks.len() >= tasks || total_cap.is_some_and(|cap| launched >= cap) {
                break;
            }
            if pass.as_ref().is_none_or(|p| p.ended.is_some()) {
                if let Some(done) = pass.as_ref().and_then(|p| p.ended) {
                    if !in_flight.tasks.is_empty() && !values_concurrently {
                        break;
                    }
                    last_stop = done;
                }
                pass = match feed.next_value()? {
                    Some(value) => {
                        values_taken += 1;
                        Some(Pass::new(&context, value, values_taken - 1)?)
                    }
                    None => None,
                };
                if pass.is_none() {
                    break;
                }
            }
            let current = pass.as_mut().expect("a pass was just made");
            let Some((plan, followed)) = current.next_plan() else {
                if values_concurrently {
                    current.ended = Some(Stop::NoNext);
                    continue;
                }
                break;
            };
            let prepared = context.prepare_with(&plan, &current.placeholders)?;
            let identity = prepared.identity();
            if !current.seen.insert(identity) {
                let warning = format!(
                    "pagination loop: the next request ({}) is one already sent; the run ended there",
                    context.session.shown(&prepared)
                );
                tracing::warn!("{warning}");
                warnings.push(warning);
                current.ended = Some(Stop::Loop);
                continue;
            }
            if values_concurrently {
                current.ended = Some(Stop::NoNext);
            }
            if let Some(followed) = followed {
                current.unanswered = Some((followed, identity));
            }
            // Exchanges are shown with their bodies, which the page workers
            // consume.
            // Inferred columns may grow with any page: a worker gives such
            // a page back, to be made where the inference is.
            if work.is_none() && !batches_hooked && on_exchange.is_none()
                && let Some(extractor) = &extractor
            {
                work = PageWork::new(job, extractor, inference.as_ref());
            }
            let session = context.session.clone();
            let watched = current.watched.clone();
            let task = match work
                .as_ref()
                .filter(|_| watched.iter().all(|w| w.segments().is_some()))
            {
                Some(work) => {
                    let work = work.clone();
                    let placeholders = current.placeholders.clone();
                    let followed = !current.paginator.is_predictable();
                    let early = followed && !current.paginator.reads_records();
                    let (landed, landing) = oneshot::channel();
                    let fetching = fetching.clone();
                    let rows = tokio::spawn(async move {
                        let mut landed = Some(landed);
                        let slot = fetching.acquire_owned().await;
                        let fetched = if early {
                            let mut watch = PageWork::head_watch(&session, &watched, &mut landed);
                            session.fetch_watching(prepared, &mut watch).await?
                        } else {
                            session.fetch(prepared).await?
                        };
                        drop(slot);
                        let shown = session.shown(&fetched.prepared);
                        let Some(arrived) = work.arrive(fetched, shown, landed)
                        else {
                            return Ok(None);
                        };
                        // A counted page is made where it was read, warm in
                        // the cache; no request waits on it. A followed one
                        // is made on the maker threads, so that the request
                        // its facts name does not wait for a thread that is
                        // busy making pages.
                        if !followed {
                            return work.make(arrived, &placeholders, &watched).map(Some);
                        }
                        work.make_on_makers(arrived, placeholders, watched).await.map(Some)
                    });
                    Task::Worked { landing, rows }
                }
                None => {
                    let fetching = fetching.clone();
                    Task::Whole(tokio::spawn(async move {
                        let _slot = fetching.acquire_owned().await;
                        session.fetch(prepared).await
                    }))
                }
            };
            in_flight.tasks.push_back((task, current.placeholders.clone()));
            launched += 1;
            hooks.first_sent.get_or_insert_with(Instant::now);
        }
        };
    }
    // Bytes of the pages written so far that landed from their heads: a
    // page's standing counts the others, taken when it landed.
    let mut early_bytes = 0u64;
    // Writes a page's rows, counts them and saves a checkpoint when one
    // is due: `$write` puts the rows in the sink.
    macro_rules! write_page {
        ($rows:expr, $dirty:expr, $shown:expr, $standing:expr, $missing:expr, $write:expr) => {{
            let extractor = extractor.as_ref().expect("the columns are known by now");
            let rows: usize = $rows;
            let dirty: &[crate::extract::DirtyRecord] = $dirty;
            let shown: &str = $shown;
            if $missing && !records_missing_told {
                records_missing_told = true;
                let warning = records_path_missing(&job.records, shown);
                tracing::warn!("{warning}");
                warnings.push(warning);
            }
            if !dirty.is_empty() {
                progress.dirty += dirty.len() as u64;
                for record in dirty {
                    *dirty_reasons.entry(record.kind.clone()).or_default() += 1;
                }
                if job.records.dirty_path.is_none() {
                    log_dirty(dirty, shown, progress.dirty);
                }
                if let Some(path) = &job.records.dirty_path {
                    let out = match &mut dirty_out {
                        Some(out) => out,
                        None => dirty_out.insert(std::io::BufWriter::new(
                            open_dirty(path, output_resumed_at.is_some()).map_err(|e| {
                                Error::io(
                                    format!("cannot create records.dirty_path `{}`", path.display()),
                                    e,
                                )
                            })?,
                        )),
                    };
                    for dirty in dirty {
                        let mut line = Vec::new();
                        line.extend_from_slice(b"{\"reason\":");
                        crate::json::write_str(&dirty.reason, &mut line);
                        line.extend_from_slice(b",\"url\":");
                        crate::json::write_str(&shown, &mut line);
                        line.extend_from_slice(b",\"record\":");
                        line.extend_from_slice(&dirty.record);
                        line.extend_from_slice(b"}\n");
                        out.write_all(&line).map_err(|e| {
                            Error::io(
                                format!("cannot write records.dirty_path `{}`", path.display()),
                                e,
                            )
                        })?;
                    }
                    out.flush().map_err(|e| {
                        Error::io(
                            format!("cannot write records.dirty_path `{}`", path.display()),
                            e,
                        )
                    })?;
                }
                if progress.dirty > job.records.max_dirty {
                    let last = &dirty[dirty.len() - 1];
                    return Err(Error::new(
                        Kind::DirtyLimit,
                        format!(
                            "{} dirty records exceed records.max_dirty = {} (last, from {shown}: {})",
                            progress.dirty, job.records.max_dirty, last.reason
                        ),
                    ));
                }
            }
            let sink = match &mut sink {
                Some(sink) => sink,
                None => sink.insert(open_sink(
                    job,
                    extractor.columns(),
                    output_resumed_at,
                    &mut output,
                )?),
            };
            ($write)(sink, extractor.columns()).map_err(|e| output_error(job, e))?;
            progress.records += rows as u64;
            if let Some(state) = &job.state
                && let Some(standing) = $standing
                && (last_checkpoint.is_none_or(|at| at.elapsed() >= state.every)
                    || options.interrupt.as_ref().is_some_and(Interrupt::is_set))
            {
                let mark = sink.checkpoint().map_err(|e| output_error(job, e))?;
                let dirty_bytes = match &mut dirty_out {
                    Some(out) => sync_dirty(out, job)?,
                    None => earlier.dirty_bytes,
                };
                let checkpoint = Checkpoint {
                    format: state::FORMAT,
                    job: state::fingerprint(job),
                    output_bytes: mark.length,
                    output_digest: Some(mark.digest),
                    dirty_bytes,
                    // Later answers may have been stepped on already; the
                    // checkpoint counts up to this page.
                    progress: Progress {
                        requests: standing.requests,
                        bytes: standing.bytes + early_bytes,
                        ..progress
                    },
                    retries: earlier.retries + context.session.retries(),
                    elapsed_s: earlier.elapsed_s + started.elapsed().as_secs_f64(),
                    launched: standing.answered,
                    columns: job
                        .columns
                        .is_none()
                        .then(|| SavedColumn::save(extractor.columns())),
                    values_done: standing.values_done,
                    pass: standing.pass,
                    stopped: standing.stopped,
                    warnings: warnings[..standing.warnings].to_vec(),
                    dirty_reasons: dirty_reasons.clone(),
                    unseen_fields: inference
                        .as_ref()
                        .map(|i| i.unseen().clone())
                        .unwrap_or_default(),
                };
                state::save(&state.path, &checkpoint, |text| {
                    context.session.redact(text)
                })?;
                last_checkpoint = Some(Instant::now());
            }
            if let Some(callback) = &options.on_progress {
                callback(&progress);
            }
        }};
    }
    // Extracts the records of a page made here and writes them.
    macro_rules! write_extracted {
        ($records:expr, $placeholders:expr, $body:expr, $shown:expr, $standing:expr, $missing:expr) => {{
            let mut batch = Batch::default();
            let extractor = extractor
                .as_ref()
                .expect("pages are written once columns are known");
            extractor.extract($records, $placeholders, &mut batch);
            let body: &[u8] = $body;
            write_page!(
                batch.rows,
                &batch.dirty,
                $shown,
                $standing,
                $missing,
                |sink: &mut Box<dyn Sink>, columns: &[ColumnSpec]| sink.page(&PageOut {
                    body,
                    columns,
                    batch: &batch,
                })
            );
        }};
    }
    // Writes the rows of a page stepped on earlier.
    macro_rules! write_pending {
        ($pending:expr, $rows:expr) => {{
            let Pending {
                shown,
                standing,
                landed_early,
                placeholders,
                ..
            } = $pending;
            // Only a 204 comes back without rows, and it is never pending.
            let encoded = joined($rows)?.ok_or_else(|| {
                Error::http(format!("the worker gave no rows for the page from {shown}"))
            })?;
            if let Some(prepared) = landed_early {
                progress.bytes += encoded.body_len as u64;
                early_bytes += encoded.body_len as u64;
                if let Some(recorded) = &mut hooks.recorder {
                    recorded.push((prepared, encoded.latency));
                }
            }
            if let Some(body) = &encoded.refit {
                // Something new for the inferred columns: the page is made
                // here, where the inference is, and the workers get the
                // columns it leads to.
                let inference = inference.as_mut().expect("only inferred pages come back");
                let plan = extractor
                    .as_ref()
                    .expect("pages are made once columns are known")
                    .plan();
                let doc = scanner
                    .scan(body, plan)
                    .map_err(|e| not_json(&shown, None, body, e))?;
                let (mut records, _) = index_records(&doc, &job.records, &[], &shown)?;
                let fed = inference.feed(&records, policy);
                if let Some(warning) = tell_unseen(fed, inference, &shown, unseen_told) {
                    unseen_told = true;
                    warnings.push(warning);
                }
                let redoc;
                if fed.changed {
                    let grown = extractor.insert(Extractor::new(inference.columns(), &job.records));
                    if let Some(sink) = &mut sink {
                        sink.columns_changed(grown.columns())
                            .map_err(|e| output_error(job, e))?;
                    }
                    work.clone_from(&PageWork::new(job, grown, Some(inference)));
                    redoc = rescanner
                        .scan(body, grown.plan())
                        .map_err(|e| not_json(&shown, None, body, e))?;
                    (records, _) = index_records(&redoc, &job.records, &[], &shown)?;
                }
                write_extracted!(
                    &records,
                    &placeholders,
                    body,
                    &shown,
                    standing,
                    encoded.records_missing
                );
            } else {
                write_page!(
                    encoded.rows,
                    &encoded.dirty,
                    &shown,
                    standing,
                    encoded.records_missing,
                    |sink: &mut Box<dyn Sink>, _: &[ColumnSpec]| sink.encoded(&encoded.text)
                );
            }
        }};
    }
    // Writes the pages held while the columns were sampled, now that they
    // are fixed.
    macro_rules! write_held {
        () => {{
            for page in std::mem::take(&mut held) {
                let Held {
                    body,
                    shown,
                    standing,
                    placeholders,
                    records_missing,
                } = page;
                let mut parser = Parser::default();
                let (mut scratch, mut reparse) = (Scratch::default(), Scratch::default());
                let tree = parser
                    .parse(&body, &mut scratch)
                    .map_err(|e| not_json(&shown, None, &body, e))?;
                let reparsed = reparse_selected(&tree, &job.records, &mut parser, &mut reparse)
                    .map_err(|e| Error::data(format!("response from {shown}: {e}")))?;
                let records = page_records(&tree, &reparsed, &job.records)
                    .map_err(|e| Error::data(format!("response from {shown}: {e}")))?;
                write_extracted!(
                    &records,
                    &placeholders,
                    &body,
                    &shown,
                    standing,
                    records_missing
                );
            }
        }};
    }
    let mut ready_landing = None;
    let interrupt = options.interrupt.clone();
    let mut interrupted = false;
    loop {
        launch!();

        // A page whose rows are still being made is written before the next
        // answer is taken, unless that answer is a followed page's and can
        // be stepped on first: its facts send the next request while the
        // cores make the rows.
        let pending = in_flight.rows.len();
        if let Some(front) = in_flight.rows.front_mut() {
            let next_landing = match in_flight.tasks.front_mut() {
                Some((Task::Worked { landing, .. }, _))
                    if pending < ROWS_PENDING
                        && pass.as_ref().is_some_and(|p| !p.paginator.is_predictable()) =>
                {
                    Some(landing)
                }
                _ => None,
            };
            let ahead = unless_interrupted(interrupt.as_ref(), async {
                match next_landing {
                    Some(landing) => tokio::select! {
                        biased;
                        rows = &mut front.rows => Err(rows),
                        landed = landing => Ok(landed),
                    },
                    None => Err((&mut front.rows).await),
                }
            })
            .await;
            let Some(ahead) = ahead else {
                in_flight.abort_all();
                interrupted = true;
                break;
            };
            match ahead {
                Ok(landed) => ready_landing = Some(landed),
                Err(rows) => {
                    let pending = in_flight
                        .rows
                        .pop_front()
                        .expect("the front was just awaited");
                    write_pending!(pending, rows);
                    continue;
                }
            }
        }

        let Some((task, placeholders)) = in_flight.tasks.pop_front() else {
            if let Some(done) = pass.as_ref().and_then(|p| p.ended) {
                last_stop = done;
            }
            break;
        };
        if let Some(current) = pass.as_mut() {
            current.unanswered = None;
        }
        let (mut fetched, shown, body_len, worked) = match task {
            Task::Whole(handle) => {
                let abort = handle.abort_handle();
                let Some(fetched) = unless_interrupted(interrupt.as_ref(), join(handle)).await
                else {
                    abort.abort();
                    in_flight.abort_all();
                    interrupted = true;
                    break;
                };
                let fetched = fetched?;
                let shown = context.session.shown(&fetched.prepared);
                let body_len = Some(fetched.response.body.len());
                (fetched, shown, body_len, None)
            }
            Task::Worked { landing, rows } => match match ready_landing.take() {
                Some(landed) => landed,
                None => match unless_interrupted(interrupt.as_ref(), landing).await {
                    Some(landed) => landed,
                    None => {
                        rows.abort();
                        in_flight.abort_all();
                        interrupted = true;
                        break;
                    }
                },
            } {
                Ok(landed) => (
                    landed.fetched,
                    landed.shown,
                    landed.body_len,
                    Some((landed.page, rows)),
                ),
                // The task ended before the page was parsed: it failed.
                // The pages stepped on before it are written first.
                Err(_) => {
                    while let Some(mut pending) = in_flight.rows.pop_front() {
                        let rows = (&mut pending.rows).await;
                        write_pending!(pending, rows);
                    }
                    join(rows).await?;
                    return Err(Error::http("a request task ended without its page"));
                }
            },
        };
        progress.requests += 1;
        answered += 1;
        // A page that landed from its head counts its bytes and latency
        // once its rows come back.
        let landed_early = body_len.is_none().then(|| fetched.prepared.clone());
        if let (Some(recorded), Some(_)) = (&mut hooks.recorder, body_len) {
            recorded.push((fetched.prepared.clone(), fetched.latency));
        }
        if values_concurrently {
            values_written += 1;
        }
        progress.bytes += body_len.unwrap_or_default() as u64;
        let status = fetched.response.status.as_u16();
        let header_list: Vec<(String, String)> = fetched
            .response
            .headers
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        if let Some(on_exchange) = &on_exchange {
            on_exchange(&TakenExchange {
                method: fetched.prepared.method.as_str(),
                target: fetched.prepared.target_without_secrets(),
                secret_query: fetched.prepared.secret_query(),
                status,
                headers: &header_list,
                body: &fetched.response.body,
            })
            .map_err(|e| {
                Error::new(
                    Kind::Io,
                    format!("cannot keep the exchange with {shown}: {e}"),
                )
            })?;
        }
        let watched_paths = pass.as_ref().map(|p| p.watched.clone());
        let mut step_after = |view: &PageView<'_>| {
            if values_concurrently {
                if view.status == 204 {
                    last_stop = Stop::Status204;
                }
                return;
            }
            let Some(current) = pass.as_mut() else { return };
            match current.paginator.next(view) {
                Step::Done(stop) => {
                    if stop == Stop::Loop {
                        let warning = format!(
                            "pagination loop: the page from {shown} names a cursor or link already followed; the run ended there"
                        );
                        tracing::warn!("{warning}");
                        warnings.push(warning);
                    }
                    current.ended = Some(stop);
                    in_flight.abort_all();
                }
                Step::Next(plan) => {
                    current.pending = Some(resolve_links(plan, &fetched.prepared.url))
                }
                Step::Continue => {}
            }
        };
        if status == 204 {
            step_after(&PageView {
                status,
                headers: &header_list,
                records: 0,
                watched: &[],
            });
            if let Some(callback) = &options.on_progress {
                callback(&progress);
            }
            continue;
        }
        let body = &fetched.response.body;
        let kind = |fetched: &Fetched| content_type(&fetched.response.headers);
        // Once the columns are known and every path is a plain one, the
        // page is walked on its structural index; otherwise it is built as
        // a tree.
        let on_index = walks_index(
            extractor.as_ref(),
            &job.records,
            watched_paths.as_deref().unwrap_or_default(),
        );
        let doc;
        let redoc;
        let tree;
        let reparsed;
        let mut batch = Batch::default();
        let mut rows_from_worker = None;
        let mut records_missing = false;
        let mut columns_changed = false;
        let mut hold = false;
        let mut unseen_warning = None;
        let (records, watched) = if let Some((Some(facts), rows)) = worked {
            rows_from_worker = Some(rows);
            // Without a count, the paginator does not read one.
            (facts.records.unwrap_or_default(), facts.watched)
        } else if on_index {
            let plan = extractor
                .as_ref()
                .expect("on_index needs the columns")
                .plan();
            doc = scanner
                .scan(body, plan)
                .map_err(|e| not_json(&shown, kind(&fetched).as_deref(), body, e))?;
            let watched_at = watched_paths.as_deref().unwrap_or_default();
            let (mut records, mut watched) = index_records(&doc, &job.records, watched_at, &shown)?;
            if let Some(inference) = &mut inference {
                let fed = inference.feed(&records, policy);
                if let Some(warning) = tell_unseen(fed, inference, &shown, unseen_told) {
                    unseen_told = true;
                    unseen_warning = Some(warning);
                }
                if fed.changed {
                    // The index notes the old columns' keys: the page is
                    // scanned again for the new ones.
                    let grown = extractor.insert(Extractor::new(inference.columns(), &job.records));
                    columns_changed = true;
                    redoc = rescanner
                        .scan(body, grown.plan())
                        .map_err(|e| not_json(&shown, kind(&fetched).as_deref(), body, e))?;
                    (records, watched) = index_records(&redoc, &job.records, watched_at, &shown)?;
                }
            }
            let extractor = extractor.as_ref().expect("on_index needs the columns");
            extractor.extract(&records, &placeholders, &mut batch);
            records_missing = records.is_empty() && !records_path_found(doc.root(), &job.records);
            (records.len(), watched)
        } else {
            tree = parser
                .parse(body, &mut scratch)
                .map_err(|e| not_json(&shown, kind(&fetched).as_deref(), body, e))?;
            let watched: Vec<Option<Value>> = watched_paths
                .iter()
                .flat_map(|paths| paths.iter())
                .map(|w| watched_value(&tree, w))
                .collect();
            reparsed = reparse_selected(&tree, &job.records, &mut parser, &mut reparse)
                .map_err(|e| Error::data(format!("response from {shown}: {e}")))?;
            let records = page_records(&tree, &reparsed, &job.records)
                .map_err(|e| Error::data(format!("response from {shown}: {e}")))?;
            if let Some(inference) = &mut inference {
                let sampling = extractor.is_none();
                let fed = inference.feed(&records, if sampling { Policy::Grow } else { policy });
                if let Some(warning) = tell_unseen(fed, inference, &shown, unseen_told) {
                    unseen_told = true;
                    unseen_warning = Some(warning);
                }
                if sampling {
                    sampled += 1;
                    hold = policy != Policy::Grow && sampled < job.records.infer_pages;
                    if !hold {
                        extractor = Some(fixed_extractor(inference, policy, &job.records));
                    }
                } else if fed.changed {
                    extractor = Some(Extractor::new(inference.columns(), &job.records));
                    columns_changed = true;
                }
            }
            if !hold {
                let extractor = extractor.as_ref().expect("the columns are known by now");
                extractor.extract(&records, &placeholders, &mut batch);
            }
            records_missing = records.is_empty() && !records_path_found(&tree, &job.records);
            (records.len(), watched)
        };
        step_after(&PageView {
            status,
            headers: &header_list,
            records,
            watched: &watched,
        });
        warnings.extend(unseen_warning);
        let standing = job.state.is_some().then(|| {
            let (values_done, pass, stopped) = match &pass {
                Some(current) if !values_concurrently => match current.ended {
                    Some(stop) => (current.index + 1, None, stop),
                    None => (current.index, Some(current.save()), last_stop),
                },
                _ => (values_written, None, last_stop),
            };
            Standing {
                values_done,
                pass,
                stopped,
                requests: progress.requests,
                bytes: progress.bytes - early_bytes,
                answered,
                warnings: warnings.len(),
            }
        });
        if let Some(rows) = rows_from_worker {
            // A followed next request goes out while the worker finishes
            // this page's rows.
            if pass
                .as_ref()
                .is_some_and(|p| !p.paginator.is_predictable() && p.ended.is_none())
            {
                launch!();
            }
            in_flight.rows.push_back(Pending {
                rows,
                shown,
                standing,
                landed_early,
                placeholders,
            });
            continue;
        }
        if hold {
            drop(batch);
            held.push(Held {
                body: std::mem::take(&mut fetched.response.body),
                shown,
                standing,
                placeholders,
                records_missing,
            });
            continue;
        }
        write_held!();
        if columns_changed && let Some(sink) = &mut sink {
            let columns = extractor.as_ref().expect("changed columns").columns();
            sink.columns_changed(columns)
                .map_err(|e| output_error(job, e))?;
        }
        write_page!(
            batch.rows,
            &batch.dirty,
            &shown,
            standing,
            records_missing,
            |sink: &mut Box<dyn Sink>, columns: &[ColumnSpec]| sink.page(&PageOut {
                body,
                columns,
                batch: &batch,
            })
        );
        drop(batch);
    }
    if interrupted {
        // The pages already received are written, in order.
        while let Some(mut pending) = in_flight.rows.pop_front() {
            let rows = (&mut pending.rows).await;
            write_pending!(pending, rows);
        }
        if !held.is_empty()
            && let Some(inference) = &mut inference
        {
            extractor = Some(fixed_extractor(inference, policy, &job.records));
            write_held!();
        }
        if let Some(out) = &mut dirty_out {
            sync_dirty(out, job)?;
        }
        return Err(interrupted_error(job, progress.records));
    }
    // The run ended while the columns were still sampled.
    if !held.is_empty()
        && let Some(inference) = &mut inference
    {
        extractor = Some(fixed_extractor(inference, policy, &job.records));
        write_held!();
    }
    if total_cap.is_some_and(|cap| launched >= cap) {
        // Cut short only if something was left to send.
        let pass_had_more = pass.as_mut().is_some_and(|p| p.next_plan().is_some());
        if pass_had_more || feed.next_value()?.is_some() {
            last_stop = Stop::MaxRequests;
        }
    }
    if feed.skipped() > 0 {
        warnings.push(format!(
            "{} parent records had no value at fanout.from.path; no pass was run for them",
            feed.skipped()
        ));
    }
    let sink = match sink {
        Some(sink) => sink,
        None => open_sink(
            job,
            &extractor.map(|e| e.columns().to_vec()).unwrap_or_default(),
            output_resumed_at,
            &mut output,
        )?,
    };
    if let Some(out) = &mut dirty_out {
        sync_dirty(out, job)?;
    }
    sink.finish().map_err(|e| output_error(job, e))?;
    if let Some(state) = &job.state {
        state::remove(&state.path)?;
    }
    Ok(Summary {
        records: progress.records,
        requests: progress.requests,
        bytes: progress.bytes,
        dirty: progress.dirty,
        retries: earlier.retries + context.session.retries(),
        elapsed_s: earlier.elapsed_s + started.elapsed().as_secs_f64(),
        stopped: last_stop.as_str().to_owned(),
        output: job
            .output
            .path
            .as_ref()
            .map_or_else(|| "-".to_owned(), |p| p.display().to_string()),
        warnings,
        dirty_reasons,
        unseen_fields: inference.map(|i| i.unseen().clone()).unwrap_or_default(),
        write: None,
    })
}

/// What an interrupted run says it kept.
fn interrupted_error(job: &Job, records: u64) -> Error {
    let message = match (&job.state, job.output.path.as_deref()) {
        (Some(_), Some(path)) => format!(
            "interrupted: {records} records written; the output stays in `{}.partial` with a checkpoint: resume with --resume",
            path.display()
        ),
        (None, Some(path)) => format!(
            "interrupted: {records} records had been written; `{}.partial` was removed (set [state] to resume a run)",
            path.display()
        ),
        (_, None) => format!("interrupted: {records} records written"),
    };
    Error::new(Kind::Interrupted, message)
}

/// A page sampled for the columns, written once they are fixed.
struct Held {
    body: Vec<u8>,
    shown: String,
    standing: Option<Standing>,
    placeholders: Arc<Placeholders>,
    records_missing: bool,
}

/// What inferred columns may do once written: NDJSON takes new fields and
/// wider types as they come, CSV wider types (its header is written), and
/// Parquet or Arrow batches neither.
fn infer_policy(job: &Job, output: &Option<OutputHook>) -> Policy {
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

/// The extractor of the inferred columns once sampling ends.
fn fixed_extractor(inference: &mut Inference, policy: Policy, records: &Records) -> Extractor {
    if policy != Policy::Grow {
        inference.fix();
    }
    Extractor::new(inference.columns(), records)
}

/// The warning, given once, of fields outside fixed inferred columns.
fn tell_unseen(fed: Fed, inference: &Inference, shown: &str, told: bool) -> Option<String> {
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

/// How many dirty records are logged when they are not kept in a file.
const DIRTY_LOGGED: u64 = 5;

/// Logs the first dirty records of a run that keeps none, with the page
/// they came from and their place on it. `dirty` ends the run's
/// `dirty_so_far`.
fn log_dirty(dirty: &[crate::extract::DirtyRecord], shown: &str, dirty_so_far: u64) {
    let first = dirty_so_far - dirty.len() as u64;
    for (n, record) in (first..).zip(dirty).take_while(|(n, _)| *n < DIRTY_LOGGED) {
        tracing::warn!(
            "dirty record {} of the page from {shown} left out: {}",
            record.ordinal,
            record.reason
        );
        if n + 1 == DIRTY_LOGGED {
            tracing::warn!(
                "further dirty records are counted in the summary, not logged; set records.dirty_path to keep them"
            );
        }
    }
}

/// A request under way.
enum Task {
    /// Its page comes back whole, for the run loop to process.
    Whole(JoinHandle<Result<Fetched>>),
    /// A worker processes its page: what the paginator needs comes on
    /// `landing` once it is parsed, the rows when the task ends.
    Worked {
        landing: oneshot::Receiver<Landed>,
        rows: JoinHandle<Result<Option<Encoded>>>,
    },
}

impl Task {
    fn abort(&self) {
        match self {
            Task::Whole(handle) => handle.abort(),
            Task::Worked { rows, .. } => rows.abort(),
        }
    }
}

async fn join<T>(task: JoinHandle<Result<T>>) -> Result<T> {
    joined(task.await)
}

fn joined<T>(task: std::result::Result<Result<T>, tokio::task::JoinError>) -> Result<T> {
    task.map_err(|e| Error::http(format!("a request task failed: {e}")))?
}

/// Whether the output hook takes the extracted batches themselves rather
/// than encoded text.
fn takes_batches(output: Option<&OutputHook>) -> bool {
    #[cfg(feature = "arrow")]
    if let Some(OutputHook::Sink(_)) = output {
        return true;
    }
    let _ = output;
    false
}

/// Requests under way, oldest first. Dropping it (the run ended or failed)
/// aborts them, so no request outlives its run.
#[derive(Default)]
struct InFlight {
    /// Requests, in the order their answers are taken.
    tasks: VecDeque<(Task, Arc<Placeholders>)>,
    /// Pages stepped on whose rows a worker is still making, in order.
    rows: VecDeque<Pending>,
}

/// Pages whose rows may be awaited while the next answer is stepped on.
/// Measured on 1000 next_link pages of 1000 records (2 cores): 2 took
/// 1.08 s, 4 took 1.02 s; each page held costs its body and its rows.
const ROWS_PENDING: usize = 4;

/// A page stepped on, its rows not yet written.
struct Pending {
    rows: JoinHandle<Result<Option<Encoded>>>,
    /// The pass's placeholders, for a page the worker gives back.
    placeholders: Arc<Placeholders>,
    shown: String,
    standing: Option<Standing>,
    /// The request, when its page landed from its head: its bytes and
    /// latency are counted once the rows come.
    landed_early: Option<Prepared>,
}

/// Where the run stands once a page is written, taken when the paginator
/// steps on it (only for a job with `[state]`): by the time the page is
/// written, later answers may have been stepped on.
struct Standing {
    values_done: u64,
    pass: Option<SavedPass>,
    stopped: Stop,
    requests: u64,
    bytes: u64,
    answered: u64,
    warnings: usize,
}

impl InFlight {
    /// Drops the requests under way; pages already stepped on stay.
    fn abort_all(&mut self) {
        for (task, _) in self.tasks.drain(..) {
            task.abort();
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.abort_all();
        for pending in &self.rows {
            pending.rows.abort();
        }
    }
}

/// Resolves a plan's link against the URL of the page it came from.
fn resolve_links(mut plan: Plan, current: &url::Url) -> Plan {
    for o in &mut plan.overrides {
        if let Override::Link(link) = o
            && let Ok(absolute) = current.join(link)
        {
            *link = absolute.to_string();
        }
    }
    plan
}

fn output_error(job: &Job, e: std::io::Error) -> Error {
    let target = job
        .output
        .path
        .as_ref()
        .map_or_else(|| "stdout".to_owned(), |p| format!("`{}`", p.display()));
    Error::io(format!("cannot write the output to {target}"), e)
}

/// What the runs before a resumed one did, beyond [`Progress`].
#[derive(Debug, Default)]
struct Earlier {
    retries: u64,
    elapsed_s: f64,
    dirty_bytes: u64,
}

/// Checks that the job can keep checkpoints and finds the one to resume
/// from; a run that starts over removes the old one first, so that it can
/// never be taken up against the new output.
fn begin_checkpoints(
    job: &Job,
    resume: bool,
    warnings: &mut Vec<String>,
) -> Result<Option<Checkpoint>> {
    let Some(state) = &job.state else {
        if resume {
            return Err(Error::config(format!(
                "--resume needs checkpoints: job file `{}` has no [state] path",
                job.name
            )));
        }
        return Ok(None);
    };
    if job.output.path.is_none() {
        return Err(Error::config(format!(
            "job file `{}`: [state] needs output.path: stdout cannot be rewound to a checkpoint",
            job.name
        )));
    }
    if !resume {
        state::remove(&state.path)?;
        return Ok(None);
    }
    let Some(checkpoint) = state::load(&state.path, job)? else {
        let warning = format!(
            "--resume: no checkpoint at `{}`; the run started from the beginning",
            state.path.display()
        );
        tracing::warn!("{warning}");
        warnings.push(warning);
        return Ok(None);
    };
    if let Some(path) = &job.records.dirty_path {
        state::rewind("records.dirty_path", path, checkpoint.dirty_bytes)?;
    }
    tracing::info!(
        records = checkpoint.progress.records,
        requests = checkpoint.progress.requests,
        "resuming from `{}`",
        state.path.display()
    );
    Ok(Some(checkpoint))
}

/// The dirty file: created afresh, or added to after a checkpoint.
fn open_dirty(path: &std::path::Path, resumed: bool) -> std::io::Result<std::fs::File> {
    if resumed {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
    } else {
        std::fs::File::create(path)
    }
}

/// Makes the dirty file durable and answers its length.
fn sync_dirty(out: &mut std::io::BufWriter<std::fs::File>, job: &Job) -> Result<u64> {
    let failed = |e| {
        let path = job
            .records
            .dirty_path
            .as_deref()
            .unwrap_or(std::path::Path::new("-"));
        Error::io(
            format!("cannot write records.dirty_path `{}`", path.display()),
            e,
        )
    };
    out.flush().map_err(failed)?;
    out.get_ref().sync_data().map_err(failed)?;
    Ok(out.get_ref().metadata().map_err(failed)?.len())
}

/// The sink of the job's output; `resume_at` reopens the partial file of a
/// cut-off run at that mark.
fn open_sink(
    job: &Job,
    columns: &[ColumnSpec],
    resume_at: Option<Mark>,
    output: &mut Option<OutputHook>,
) -> Result<Box<dyn Sink>> {
    let mut out = match (output.take(), resume_at, job.output.path.as_deref()) {
        #[cfg(feature = "arrow")]
        (Some(OutputHook::Sink(make)), _, _) => return Ok(make(columns)),
        (Some(OutputHook::Writer(writer)), _, _) => Destination::writer(writer),
        (None, Some(mark), Some(path)) => Destination::resume(path, mark).map_err(|e| {
            // A run stopped after its output was renamed into place but
            // before its checkpoint was removed leaves both behind.
            let finished = e.kind() == std::io::ErrorKind::NotFound && path.exists();
            let hint = if finished {
                format!(
                    " (`{}` exists: the checkpointed run may have finished; run without --resume to start over)",
                    path.display()
                )
            } else {
                String::new()
            };
            Error::io(format!("cannot resume the output `{}`{hint}", path.display()), e)
        })?,
        (None, _, path) => Destination::open(path).map_err(|e| output_error(job, e))?,
    };
    if job.state.is_some() {
        out.keep_on_failure();
    }
    Ok(match job.output.format {
        OutputFormat::Ndjson => Box::new(TextSink::ndjson(out, columns)),
        OutputFormat::Csv => Box::new(TextSink::csv(
            out,
            columns,
            job.output.csv_delimiter,
            job.output.csv_header,
        )),
        OutputFormat::Raw => Box::new(RawSink::new(out)),
        #[cfg(feature = "parquet")]
        OutputFormat::Parquet => Box::new(
            crate::sink::parquet::ParquetSink::new(
                out,
                columns,
                &job.output.parquet_compression,
                job.output.row_group_size,
            )
            .map_err(|e| output_error(job, e))?,
        ),
        #[cfg(not(feature = "parquet"))]
        OutputFormat::Parquet => {
            return Err(Error::config(format!(
                "job file `{}`: output.format `parquet` needs a hydrant built with the cargo feature `parquet`",
                job.name
            )));
        }
    })
}

/// [`watched_value`] on any parsed form, for a path of plain segments.
pub(crate) fn watched_node<'v, N: Node<'v>>(page: N, path: &Path) -> Option<Value> {
    let mut found = Vec::new();
    crate::json::node::walk(page, path.segments()?, &mut found);
    found.first().map(|v| v.to_serde())
}

fn watched_value(page: &BorrowedValue<'_>, path: &Path) -> Option<Value> {
    match path.query_simd(page) {
        crate::json::path::Selected::Borrowed(found) => found.first().map(|v| v.to_serde()),
        crate::json::path::Selected::Owned(found) => found.into_iter().next(),
    }
}

/// The first request the job would send, as text with secrets masked.
/// Needs no network: the first request of every pagination type is static.
pub fn explain(job: &Job) -> Result<String> {
    let context = Context::new(job, None)?;
    let mut out = format!(
        "# job {}\n# pagination: {}; output: {} to {}\n",
        job.name,
        job.paginate.kind.as_str(),
        job.output.format.as_str(),
        job.output
            .path
            .as_ref()
            .map_or_else(|| "stdout".to_owned(), |p| p.display().to_string())
    );
    let value = match Feed::open_static(job)? {
        Some(mut feed) => feed.next_value()?.unwrap_or_default(),
        None => {
            let Some(Fanout {
                source: FanoutSource::From(parent),
                ..
            }) = &job.fanout
            else {
                unreachable!("only [fanout.from] needs the network for its values");
            };
            out.push_str(
                "# [fanout.from]: the values come from the records of this request's job:\n\n",
            );
            out.push_str(&explain(parent)?);
            return Ok(out);
        }
    };
    if job.fanout.is_some() {
        out.push_str(&format!(
            "# [fanout]: one pass per value; the first value is {:?}\n",
            value.placeholders.get("value").map_or("", String::as_str)
        ));
    }
    out.push('\n');
    let mut pass = Pass::new(&context, value, 0)?;
    let (plan, _) = pass.next_plan().expect("a new pass has a first request");
    let prepared = context.prepare_with(&plan, &pass.placeholders)?;
    out.push_str(&context.session.describe(&prepared));
    Ok(out)
}

/// What `hydrant check` shows of the first response.
#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    /// The URL requested, secrets masked.
    pub url: String,
    pub status: u16,
    /// Records on the first page.
    pub records: usize,
    /// The columns, declared or inferred, and their types.
    pub columns: Vec<(String, String)>,
    /// The first records, as NDJSON lines of the output columns.
    pub sample: Vec<String>,
    /// Why records of the first page would be dirty.
    pub dirty: Vec<String>,
    /// Says so when the page has no value at `records.path`.
    pub records_missing: Option<String>,
}

/// Sends the job's first request and shows `inspect` the response and the
/// records of its page (none for a 204).
async fn first_page<R>(
    job: &Job,
    options: RunOptions,
    inspect: impl FnOnce(&FirstPage<'_, '_>) -> R,
) -> Result<R> {
    let value = crate::read::fanout::first_value(job, &options).await?;
    let context = Context::new(job, options.redirect_to)?;
    let mut pass = Pass::new(&context, value, 0)?;
    let (plan, _) = pass.next_plan().expect("a new pass has a first request");
    let prepared = context.prepare_with(&plan, &pass.placeholders)?;
    let fetched = context.session.fetch(prepared).await?;
    let shown = context.session.shown(&fetched.prepared);
    if fetched.response.status.as_u16() == 204 {
        return Ok(inspect(&FirstPage {
            placeholders: &pass.placeholders,
            fetched: &fetched,
            shown: &shown,
            records: &[],
            path_found: true,
        }));
    }
    let mut parser = Parser::default();
    let mut scratch = Scratch::default();
    let mut reparse = Scratch::default();
    let page = parser
        .parse(&fetched.response.body, &mut scratch)
        .map_err(|e| {
            let kind = content_type(&fetched.response.headers);
            not_json(&shown, kind.as_deref(), &fetched.response.body, e)
        })?;
    let reparsed = reparse_selected(&page, &job.records, &mut parser, &mut reparse)
        .map_err(|e| Error::data(format!("response from {shown}: {e}")))?;
    let records = page_records(&page, &reparsed, &job.records)
        .map_err(|e| Error::data(format!("response from {shown}: {e}")))?;
    Ok(inspect(&FirstPage {
        placeholders: &pass.placeholders,
        fetched: &fetched,
        shown: &shown,
        records: &records,
        path_found: !records.is_empty() || records_path_found(&page, &job.records),
    }))
}

/// What `check` and `schema` are shown of the first page.
struct FirstPage<'p, 'v> {
    placeholders: &'p Placeholders,
    fetched: &'p Fetched,
    /// The URL requested, secrets masked.
    shown: &'p str,
    records: &'p [&'v BorrowedValue<'v>],
    /// Whether the page had a value at `records.path`.
    path_found: bool,
}

/// Sends the first request and reports what came back: status, records,
/// columns and a sample.
pub async fn check(job: &Job, options: RunOptions, sample_size: usize) -> Result<CheckReport> {
    first_page(job, options, |first| {
        let FirstPage {
            placeholders,
            fetched,
            shown,
            records,
            path_found,
        } = *first;
        let columns = job
            .columns
            .clone()
            .unwrap_or_else(|| infer_columns(records, &job.records.flatten));
        let extractor = Extractor::new(columns, &job.records);
        let mut batch = Batch::default();
        extractor.extract(
            &records[..records.len().min(sample_size)],
            placeholders,
            &mut batch,
        );
        let encoder = crate::sink::NdjsonEncoder::new(extractor.columns());
        let width = extractor.columns().len();
        let sample = (0..batch.rows)
            .map(|row| {
                let mut line = Vec::new();
                encoder.encode(batch.row(row, width), &mut line);
                String::from_utf8_lossy(&line).trim_end().to_owned()
            })
            .collect();
        CheckReport {
            url: shown.to_owned(),
            status: fetched.response.status.as_u16(),
            records: records.len(),
            columns: extractor
                .columns()
                .iter()
                .map(|c| (c.name.clone(), c.kind.as_str().to_owned()))
                .collect(),
            sample,
            dirty: batch.dirty.into_iter().map(|d| d.reason).collect(),
            records_missing: (!path_found).then(|| records_path_missing(&job.records, shown)),
        }
    })
    .await
}

/// Infers `[[columns]]` from the first page and writes them as TOML.
pub async fn schema(job: &Job, options: RunOptions) -> Result<String> {
    first_page(job, options, |&FirstPage { shown, records, .. }| {
        let mut out = format!(
            "# inferred from the first page of {} ({} records)\n",
            shown,
            records.len()
        );
        for column in infer_columns(records, &job.records.flatten) {
            let path = column.path.as_ref().map_or("", |p| p.as_str());
            out.push_str("\n[[columns]]\n");
            out.push_str(&format!("name = {}\n", toml_string(&column.name)));
            if path != column.name {
                out.push_str(&format!("path = {}\n", toml_string(&path_text(&column))));
            }
            out.push_str(&format!("type = \"{}\"\n", column.kind.as_str()));
        }
        out
    })
    .await
}

/// A path for a job file: dotted when every key allows it, JSONPath else.
fn path_text(column: &ColumnSpec) -> String {
    let Some(segments) = column.path.as_ref().and_then(|p| p.segments()) else {
        return String::new();
    };
    let keys: Vec<&str> = segments
        .iter()
        .filter_map(|s| match s {
            crate::json::path::Segment::Key(k) => Some(k.as_str()),
            _ => None,
        })
        .collect();
    let plain = |k: &&str| !k.is_empty() && !k.contains(['.', '[', ']']) && !k.starts_with('$');
    if keys.len() == segments.len() && keys.iter().all(plain) {
        return keys.join(".");
    }
    let mut out = String::from("$");
    for key in keys {
        out.push_str(&format!(
            "[{}]",
            serde_json::to_string(key).unwrap_or_default()
        ));
    }
    out
}

fn toml_string(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_default()
}

/// Evaluates a path on a JSON document: the selected values as a JSON array.
///
/// The path is taken exactly as given: RFC 9535 allows no white space
/// before or after it (a job file's paths are trimmed).
pub fn query(path: &str, document: &[u8]) -> Result<Vec<u8>> {
    if path.trim() != path {
        return Err(Error::config(format!(
            "invalid path: `{path}` has white space before or after it"
        )));
    }
    let path = Path::parse(path).map_err(|e| Error::config(format!("invalid path: {e}")))?;
    let mut parser = Parser::default();
    let mut scratch = Scratch::default();
    let value = parser
        .parse(document, &mut scratch)
        .map_err(|e| Error::data(format!("the document is not valid JSON: {e}")))?;
    let mut out = vec![b'['];
    match path.query_simd(&value) {
        crate::json::path::Selected::Borrowed(found) => {
            for (i, v) in found.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                v.write_json(&mut out);
            }
        }
        crate::json::path::Selected::Owned(found) => {
            for (i, v) in found.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_serde(v, &mut out);
            }
        }
    }
    out.push(b']');
    Ok(out)
}

//! The read loop: [`ReadRun`] sends a job's requests, takes their answers
//! in request order, steps the paginator on each page and hands the page
//! to be written (`page.rs`).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use hydrant_paginate::{Page as PageView, Paginator, Step, Stop};
use serde_json::Value;
use tokio::sync::{Semaphore, oneshot};

use crate::error::{Error, Kind, Result};
use crate::exchange::TakenExchange;
use crate::extract::{Extractor, Inference, Policy};
use crate::job::{Job, OutputFormat};
use crate::json::scan::Scanner;
use crate::json::{Parser, Scratch};
use crate::net::request::Prepared;
use crate::net::session::Fetched;
use crate::options::{Interrupt, Progress, RunOptions};
use crate::read::columns::{infer_policy, starting_columns};
use crate::read::count::{ApiCount, NextPage, PassCounts, header_count, unpaged};
use crate::read::fanout::{FanValue, Feed};
use crate::read::flight::{
    Held, InFlight, Pending, ROWS_PENDING, Standing, Task, join, unless_interrupted,
};
use crate::read::incremental::Tracker;
use crate::read::page::{Earlier, begin_checkpoints, interrupted_error};
use crate::read::pass::{Context, Pass};
use crate::read::short::AfterShort;
use crate::read::worker::{Landed, PageFacts, PageWork};
use crate::read::{Hooks, OutputHook, request_window, resolve_links, takes_batches};
use crate::sink::{Mark, Sink};
use crate::state::{ReadCheckpoint, SavedColumn};
use crate::summary::{Stopped, Summary};

/// One run of a read job, from its first request to its summary.
///
/// Counted strategies (offset, page, range) keep up to
/// `limits.concurrency` requests in flight; answers are taken in request
/// order, and requests past the end are dropped unread. Followed ones
/// send the next request once the page that names it is parsed, or at once
/// when the link leads the page. The answer to it may be stepped on before
/// the page is written, so each page carries the checkpoint it makes,
/// which names the next request as the one to resume at. Once the columns
/// are known and the output is text, page workers parse, extract and
/// encode pages off the loop (`worker.rs`). With `[fanout]`, each value is
/// paginated on its own, values in order; without pagination the values
/// themselves go out concurrently.
pub(crate) struct ReadRun<'j, 'h> {
    pub(super) job: &'j Job,
    pub(super) options: RunOptions,
    pub(super) hooks: &'h mut Hooks,
    pub(super) context: Context<'j>,
    pub(super) started: Instant,
    pub(super) tally: Tally,

    // The columns: declared, or inferred as pages come (see `Inference`).
    pub(super) extractor: Option<Extractor>,
    pub(super) inference: Option<Inference>,
    pub(super) policy: Policy,
    /// Pages sampled before the inferred columns are fixed.
    pub(super) held: Vec<Held>,
    pub(super) sampled: u64,
    pub(super) unseen_told: bool,
    /// What page workers need; `None` until the columns are known.
    pub(super) work: Option<Arc<PageWork>>,

    // The requests.
    feed: Feed,
    /// `[incremental]`: the windows, the records let through, the bookmark.
    pub(super) incremental: Option<Tracker>,
    pub(super) pass: Option<Pass>,
    pub(super) in_flight: InFlight,
    /// The request after the short page that ended the pass, if one was
    /// in flight (see `short.rs`).
    pub(super) after_short: Option<AfterShort>,
    /// The records fingerprint of the page written last (see
    /// [`ReadRun::same_page_again`]).
    last_page: Option<u64>,
    /// Whether the job's passes are counted (offset, page, range, rules of
    /// ranges): each request known without the page before it.
    counted: bool,
    /// What a page is read for, to tell that the API cut its answer short.
    cut: crate::read::count::CutCheck,
    /// The records path's keys, where the run's records are held against
    /// the count its first page gives (see [`crate::read::count::count_checked`]).
    pub(super) count_keys: Option<Arc<[String]>>,
    /// Each pass's count, where its first page gives it, and the records
    /// its pages held.
    pub(super) pass_counts: PassCounts,
    /// With fan-out values sent at once, the pass of the page being
    /// taken: each value's one page, taken in the order they were sent.
    taking_value: Option<u64>,
    /// For a job without `[paginate]`, the records path's keys (see
    /// [`crate::read::count::unpaged_checked`]).
    pub(super) unpaged_keys: Option<Vec<String>>,
    fetching: Arc<Semaphore>,
    pub(super) launched: u64,
    answered: u64,
    /// Fan-out values taken from the feed, and those wholly written.
    values_taken: u64,
    values_written: u64,
    /// With `[fanout]`, `paginate.max_requests` caps the whole job.
    pub(super) total_cap: Option<u64>,
    values_concurrently: bool,
    batches_hooked: bool,

    // The output.
    pub(super) output: Option<OutputHook>,
    /// Whether the run writes `[state]` (see [`ReadRun::start`]).
    pub(super) keeps_state: bool,
    pub(super) sink: Option<Box<dyn Sink>>,
    pub(super) dirty_out: Option<std::io::BufWriter<std::fs::File>>,
    /// Where a resumed run's partial output goes on from.
    pub(super) resumed_at: Option<Mark>,
    pub(super) last_checkpoint: Option<Instant>,
}

/// What the run has counted and told so far.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    pub(super) progress: Progress,
    pub(super) earlier: Earlier,
    pub(super) last_stop: Option<Stop>,
    pub(super) warnings: Vec<String>,
    pub(super) dirty_reasons: BTreeMap<String, u64>,
    /// See [`Summary::nulled`].
    pub(super) nulled: BTreeMap<String, u64>,
    /// Records written without a value for a column, by column.
    pub(super) absent: BTreeMap<String, u64>,
    /// Responses whose records path matched nothing: the first is warned
    /// of as it comes, the count at the end.
    pub(super) records_missing: u64,
    pub(super) lone_surrogates_told: bool,
    /// Whether a pass that ended at its first page has said that the
    /// page holds a cursor or link under a name like the job's.
    pub(super) told_near: bool,
    /// Whether a job without `[paginate]` has said that a page names a
    /// next page.
    pub(super) told_unpaged: bool,
    /// Whether a page has said that the API cut its answer short
    /// (see [`crate::read::count::cut_short`]).
    pub(super) told_cut: bool,
    /// Whether a cursor pass has said that its cursor is a link (see
    /// [`crate::read::near::link_as_cursor`]): once a run, not once a
    /// fan-out value.
    pub(super) told_link_cursor: bool,
    /// Where the first page whose records path matched nothing holds an
    /// array of objects, for its warning.
    pub(super) elsewhere: Option<String>,
    /// The first page whose records path held no records while the page
    /// holds an array of them elsewhere: its address, and where (see
    /// [`crate::read::near::records_elsewhere`]). Told if the run writes
    /// no record.
    pub(super) empty_elsewhere: Option<(String, String)>,
    /// Bytes of the pages written so far that landed from their heads: a
    /// page's standing counts the others, taken when it landed.
    pub(super) early_bytes: u64,
}

/// The parse buffers of the loop. They live beside the run, not in it:
/// a page's rows borrow them while the run writes the page.
#[derive(Default)]
pub(super) struct Parsers {
    pub(super) parser: Parser,
    pub(super) scratch: Scratch,
    pub(super) scanner: Scanner,
    /// Scans a page again when the inferred columns grew on it.
    pub(super) rescanner: Scanner,
}

/// An answer taken from the front of the requests in flight.
struct Answer {
    fetched: Fetched,
    shown: String,
    /// `None` when the page landed from its head: counted with its rows.
    body_len: Option<usize>,
    /// What a page worker found on the page, and the rows it is making.
    worked: Option<(Option<PageFacts>, crate::read::flight::Rows)>,
}

/// What waiting on the front of the loop came to.
enum Ahead {
    /// A page stepped on earlier was written.
    Written,
    /// The next answer is to be taken.
    Answer,
    Interrupted,
}

type Landing = std::result::Result<Landed, oneshot::error::RecvError>;

impl<'j, 'h> ReadRun<'j, 'h> {
    /// Sets a run up: the checkpoint to resume from, the fan-out feed,
    /// and for a resumed run the pass and the sink it goes on with.
    pub(crate) async fn start(
        job: &'j Job,
        options: RunOptions,
        hooks: &'h mut Hooks,
    ) -> Result<ReadRun<'j, 'h>> {
        let started = Instant::now();
        let context = Context::new(job, options.redirect_to.clone())?;
        let output = hooks.output.take();
        if output.is_none() {
            job.check_compression()?;
        }
        let mut tally = Tally::default();
        for notice in &job.notices {
            tracing::warn!("{notice}");
            tally.warnings.push(notice.clone());
        }
        // Only a run that writes the job's own output names its file.
        if output.is_none()
            && let Some(warning) = job.output_format_mismatch()
        {
            tally.warn(warning);
        }
        // A hook that takes batches takes records, whatever the format.
        let raw = job.output.format == OutputFormat::Raw && !takes_batches(output.as_ref());
        if raw && let Some(warning) = job.raw_output_check()? {
            tally.warn(warning);
        }
        // A run whose output goes to a hook (a stream of batches, bench,
        // a write job's input) leaves the state file alone: it keeps no
        // checkpoint, and an incremental one reads from the stored
        // bookmark without moving it.
        let keeps_state = output.is_none() && !job.state_read_only;
        let resumed = resumed_checkpoint(job, &options, keeps_state, &mut tally)?;
        // The counters come back before the feed opens: `[fanout.from]`
        // adds the requests of its parent job, run again, on top of them.
        if let Some(checkpoint) = &resumed {
            tally.restore(checkpoint);
        }
        let incremental = incremental_tracker(
            job,
            &options,
            keeps_state,
            resumed.as_ref(),
            raw,
            &mut tally,
        )?;
        let feed = Feed::open(job, &options, &mut tally.progress, &mut tally.warnings).await?;
        let policy = infer_policy(job, &output);
        let (extractor, inference) = starting_columns(job, policy, raw);
        let mut run = ReadRun {
            extractor,
            inference,
            policy,
            held: Vec::new(),
            sampled: 0,
            unseen_told: false,
            work: None,
            feed,
            incremental,
            pass: None,
            in_flight: InFlight::default(),
            fetching: Arc::new(Semaphore::new(job.limits.concurrency as usize)),
            launched: 0,
            answered: 0,
            values_taken: 0,
            values_written: 0,
            total_cap: job.fanout.as_ref().and(job.paginate.max_requests),
            values_concurrently: job.values_concurrently(),
            batches_hooked: takes_batches(output.as_ref()),
            output,
            keeps_state,
            sink: None,
            dirty_out: None,
            resumed_at: None,
            last_checkpoint: None,
            after_short: None,
            last_page: None,
            count_keys: crate::read::count::count_checked(job).map(Into::into),
            counted: Paginator::new(&job.paginate).is_ok_and(|p| p.is_counted()),
            cut: crate::read::count::CutCheck::of(job),
            pass_counts: PassCounts::default(),
            taking_value: None,
            unpaged_keys: crate::read::count::unpaged_checked(job),
            job,
            options,
            hooks,
            context,
            started,
            tally,
        };
        if let Some(checkpoint) = resumed {
            run.resume(checkpoint)?;
        }
        Ok(run)
    }

    /// Goes on from a checkpoint: its columns, the fan-out values it had
    /// done, its pass, and its partial output.
    fn resume(&mut self, checkpoint: ReadCheckpoint) -> Result<()> {
        let job = self.job;
        let state = &job
            .state
            .as_ref()
            .expect("a checkpoint comes from [state]")
            .path;
        self.launched = checkpoint.launched;
        self.answered = checkpoint.launched;
        // The first page was read by the run cut off.
        self.count_keys = None;
        self.resumed_at = Some(Mark {
            length: checkpoint.output_bytes,
            digest: checkpoint.output_digest.unwrap_or_default(),
        });
        if let (None, Some(saved)) = (&self.extractor, &checkpoint.columns) {
            let columns = SavedColumn::load(saved, |what| {
                Error::config(format!(
                    "state file `{}` is damaged: {what}",
                    state.display()
                ))
            })?;
            let mut inferred =
                Inference::from_columns(&job.records.flatten, &columns, self.policy.mixed());
            inferred.restore_unseen(&checkpoint.unseen_fields);
            inferred.restore_null_only(&checkpoint.null_only);
            self.inference = Some(inferred);
            self.extractor = Some(Extractor::inferred(columns, &job.records));
        }
        let changed = || {
            Error::config(format!(
                "cannot resume from state file `{}`: [fanout] now gives fewer values than the {} \
                 it had done; run without --resume to start over",
                state.display(),
                checkpoint.values_done
            ))
        };
        for _ in 0..checkpoint.values_done {
            self.next_value()?.ok_or_else(changed)?;
        }
        self.values_taken = checkpoint.values_done;
        self.values_written = checkpoint.values_done;
        if let Some(saved) = checkpoint.pass {
            let value = self.next_value()?.ok_or_else(changed)?;
            let mut restored = Pass::new(&self.context, value, self.values_taken)?;
            restored.restore(saved, state)?;
            self.pass = Some(restored);
            self.values_taken += 1;
        }
        if self.extractor.is_some() {
            self.open_sink()?;
        }
        Ok(())
    }

    /// Runs the loop to its end: launch what may go, write what is ready,
    /// take the next answer.
    pub(crate) async fn drive(mut self) -> Result<Summary> {
        let mut parse = Parsers::default();
        let mut ready: Option<Landing> = None;
        loop {
            self.launch()?;
            match self.rows_or_landing(&mut parse, &mut ready).await? {
                Ahead::Written => continue,
                Ahead::Interrupted => return self.interrupted(&mut parse).await,
                Ahead::Answer => {}
            }
            let Some((task, placeholders)) = self.in_flight.tasks.pop_front() else {
                // Nothing was launched because the run is asked to stop:
                // it did not reach its end.
                if self.is_interrupted() {
                    return self.interrupted(&mut parse).await;
                }
                if let Some(done) = self.pass.as_ref().and_then(|p| p.ended) {
                    self.pass_ended(done);
                }
                break;
            };
            if let Some(current) = self.pass.as_mut() {
                current.unanswered = None;
            }
            let answer = match self.answer(task, ready.take(), &mut parse).await {
                Ok(answer) => answer,
                Err(e) if self.ends_past_count(&e) => continue,
                Err(e) => return Err(self.past_the_last(e)),
            };
            let Some(answer) = answer else {
                return self.interrupted(&mut parse).await;
            };
            self.take(answer, placeholders, &mut parse)?;
            self.check_after_short(&mut parse).await?;
        }
        self.finish()
    }

    /// Whether `e`, an API's refusal of a counted page (400, 404, 416,
    /// 422), ends the run's one pass, as it does once the records read
    /// reach the count its first page gives: Django REST Framework answers
    /// 404 for the page past its last, WordPress 400. Such a refusal after
    /// full pages is no error then; the requests after it, pages further
    /// past, are dropped.
    fn ends_past_count(&mut self, e: &Error) -> bool {
        let refused = matches!(e.status(), Some(400 | 404 | 416 | 422));
        if !refused
            || !(self.pass.as_ref()).is_some_and(|p| p.paginator.is_counted() && p.ended.is_none())
        {
            return false;
        }
        // The pages before it are written: a worker's failed page writes
        // those stepped on before it, and a page brought back whole
        // follows no worker's. Were some not, the count would not be
        // reached, and the run would fail, not lose them.
        let Some((counted, read)) = self.pass_count().filter(|(c, read)| *read >= c.count()) else {
            return false;
        };
        tracing::debug!(
            count = counted.count(),
            read,
            error = %e,
            "a page past the API's count was refused: the pass ends"
        );
        self.in_flight.abort_all();
        if let Some(pass) = self.pass.as_mut() {
            pass.ended = Some(Stop::NoNext);
        }
        true
    }

    /// The API's count of the current pass's records, given by its first
    /// page, and the records its pages held so far: a fan-out value's or
    /// a window's count is its own.
    fn pass_count(&self) -> Option<(&ApiCount, u64)> {
        self.pass_counts.of(self.page_pass()?)
    }

    /// The pass of the page being taken: the current one, or with
    /// fan-out values sent at once, the page's value's.
    pub(super) fn page_pass(&self) -> Option<u64> {
        self.taking_value
            .or_else(|| Some(self.pass.as_ref()?.index))
    }

    /// Adds the records a page held (all of them: written, dirty, or
    /// left out by `[incremental]`) to its pass's (`pass`, the current
    /// one where `None`), to be held against the pass's count.
    pub(super) fn pass_read(&mut self, pass: Option<u64>, records: usize) {
        let pass = pass.or_else(|| self.page_pass());
        if let Some(pass) = pass.filter(|_| self.count_keys.is_some()) {
            self.pass_counts.read(pass, records);
        }
    }

    /// `e`, with a word on how to end pagination where a counted request
    /// after full pages was refused: some APIs refuse a page past their
    /// last (WordPress answers 400), so a run whose records fill the last
    /// page fails there.
    fn past_the_last(&self, e: Error) -> Error {
        let Some(pass) = self.pass.as_ref() else {
            return e;
        };
        let pages = pass.paginator.pages();
        if !matches!(e.status(), Some(400 | 404 | 416 | 422))
            || !pass.paginator.is_counted()
            || pages == 0
            || pass.ended.is_some()
        {
            return e;
        }
        let mut pages = match pages {
            1 => "the first page, which was full".to_owned(),
            _ => format!("{pages} full pages"),
        };
        if let Some((counted, read)) = self.pass_count() {
            // Short of the count, or the refusal would have ended the pass.
            let count = counted.said();
            pages.push_str(&format!(
                ", {read} records, where the first page counts {count}"
            ));
        }
        e.suffixed(&format!(
            "; it asked for the page after {pages}: an API that refuses a page past \
             its last (WordPress answers 400) needs a [[paginate.stop]] rule that ends at its \
             last page, as one on a header that counts the pages (`header = \"X-WP-TotalPages\"`, \
             `equals_param = \"page\"`)"
        ))
    }

    /// The next pass's value: the next fan-out value, or with
    /// `[incremental]` the next window of one.
    fn next_value(&mut self) -> Result<Option<FanValue>> {
        let feed = &mut self.feed;
        match &mut self.incremental {
            Some(tracker) => tracker.next_pass(|| feed.next_value()),
            None => feed.next_value(),
        }
    }

    fn is_interrupted(&self) -> bool {
        self.options
            .interrupt
            .as_ref()
            .is_some_and(Interrupt::is_set)
    }

    /// Launches what may go now: within the current pass, or (without
    /// pagination) the next fan-out values.
    fn launch(&mut self) -> Result<()> {
        while !self.is_interrupted() && self.has_room() {
            if self.pass.as_ref().is_none_or(|p| p.ended.is_some()) && !self.next_pass()? {
                break;
            }
            let current = self.pass.as_mut().expect("a pass was just made");
            let Some((plan, followed)) = current.next_plan() else {
                if self.values_concurrently {
                    current.ended = Some(Stop::NoNext);
                    continue;
                }
                break;
            };
            let prepared = self.context.prepare_with(&plan, &current.placeholders)?;
            let identity = prepared.identity();
            if !current.seen.insert(identity) {
                let warning = format!(
                    "pagination loop: the next request ({}) is one already sent; the run ended there",
                    self.context.session.shown(&prepared)
                );
                self.tally.warn(warning);
                current.ended = Some(Stop::Loop);
                continue;
            }
            if self.values_concurrently {
                current.ended = Some(Stop::NoNext);
            }
            if let Some(followed) = followed {
                current.unanswered = Some((followed, identity));
            }
            let placeholders = current.placeholders.clone();
            let task = self.spawn(prepared);
            self.in_flight.tasks.push_back((task, placeholders));
            self.launched += 1;
            self.hooks.first_sent.get_or_insert_with(Instant::now);
        }
        Ok(())
    }

    /// Whether another request may be launched.
    fn has_room(&self) -> bool {
        let window = request_window(
            self.job,
            self.pass.as_ref().is_some_and(|p| p.paginator.is_counted()),
        );
        // A request is in flight until its answer is in (`fetching`); as
        // many pages again may wait, made or being made, for the loop to
        // write them in order, so that one slow page does not hold the
        // requests after it.
        let tasks = if window > 1 { 2 * window } else { 1 };
        self.in_flight.tasks.len() < tasks && self.total_cap.is_none_or(|cap| self.launched < cap)
    }

    /// Notes why a pass ended: the run's stop, unless a later pass ends
    /// otherwise. A pass cut before its last page may hold the bookmark
    /// back.
    fn pass_ended(&mut self, done: Stop) {
        self.tally.last_stop = Some(done);
        if let Some(pass) = self.pass.as_ref().filter(|_| self.count_keys.is_some()) {
            self.pass_counts.ended(pass.index, done);
            let rows = &self.in_flight.rows;
            (self.pass_counts).close(self.job, |pass| rows.iter().all(|r| r.pass != pass));
        }
        let cut_by = match done {
            Stop::MaxRequests => "paginate.max_requests",
            Stop::Loop => "a pagination loop",
            _ => return,
        };
        if let Some(tracker) = &mut self.incremental {
            tracker.cut(cut_by);
        }
    }

    /// Moves on to the next fan-out value once the pass has ended: false
    /// when none can start now.
    fn next_pass(&mut self) -> Result<bool> {
        if let Some(done) = self.pass.as_ref().and_then(|p| p.ended) {
            if !self.in_flight.tasks.is_empty() && !self.values_concurrently {
                return Ok(false);
            }
            self.pass_ended(done);
        }
        self.pass = match self.next_value()? {
            Some(value) => {
                self.values_taken += 1;
                Some(Pass::new(&self.context, value, self.values_taken - 1)?)
            }
            None => None,
        };
        Ok(self.pass.is_some())
    }

    /// Sends a request on its own task: its page made by a page worker
    /// once the columns are known, else brought back whole.
    pub(super) fn spawn(&mut self, prepared: Prepared) -> Task {
        // Exchanges are shown with their bodies, which the page workers
        // consume. Inferred columns may grow with any page: a worker gives
        // such a page back, to be made where the inference is.
        // An incremental run reads each record's cursor on the loop.
        if self.work.is_none()
            && self.incremental.is_none()
            && !self.batches_hooked
            && self.options.on_exchange.is_none()
            && let Some(extractor) = &self.extractor
        {
            self.work = PageWork::new(self.job, extractor, self.inference.as_ref());
        }
        let current = self.pass.as_ref().expect("a request belongs to a pass");
        let session = self.context.session.clone();
        let watched = current.watched.clone();
        let fetching = self.fetching.clone();
        let Some(work) = self
            .work
            .clone()
            .filter(|_| watched.iter().all(|w| w.segments().is_some()))
        else {
            return Task::Whole(tokio::spawn(async move {
                let _slot = fetching.acquire_owned().await;
                session.fetch(prepared).await
            }));
        };
        let placeholders = current.placeholders.clone();
        let followed = !current.paginator.is_counted();
        let early = followed && !current.paginator.reads_records();
        let own = current.paginator.last_followed();
        // The first page's count of records (`note_count`): every request
        // sent before the first page is stepped on may be the first.
        let counting = (current.paginator.pages() == 0
            && !self.pass_counts.has_count(current.index))
        .then(|| self.count_keys.clone())
        .flatten();
        let (landed, landing) = oneshot::channel();
        let rows = tokio::spawn(async move {
            let (mut landed, mut told) = (Some(landed), None);
            let slot = fetching.acquire_owned().await;
            let fetched = if early {
                let mut watch =
                    PageWork::head_watch(&session, (&watched, own), &mut landed, &mut told);
                session.fetch_watching(prepared, &mut watch).await?
            } else {
                session.fetch(prepared).await?
            };
            drop(slot);
            let shown = session.shown(&fetched.prepared);
            let Some(arrived) = work.arrive(fetched, shown, landed, (told, counting)) else {
                return Ok(None);
            };
            // A counted page is made where it was read, warm in the cache;
            // no request waits on it. A followed one is made on the maker
            // threads, so that the request its facts name does not wait
            // for a thread that is busy making pages.
            if !followed {
                return work.make(arrived, &placeholders, &watched).map(Some);
            }
            work.make_on_makers(arrived, placeholders, watched)
                .await
                .map(Some)
        });
        Task::Worked { landing, rows }
    }

    /// A page whose rows are still being made is written before the next
    /// answer is taken, unless that answer is a followed page's and can be
    /// stepped on first: its facts send the next request while the cores
    /// make the rows.
    async fn rows_or_landing(
        &mut self,
        parse: &mut Parsers,
        ready: &mut Option<Landing>,
    ) -> Result<Ahead> {
        let pending = self.in_flight.rows.len();
        let followed = self
            .pass
            .as_ref()
            .is_some_and(|p| !p.paginator.is_counted());
        let Some(front) = self.in_flight.rows.front_mut() else {
            return Ok(Ahead::Answer);
        };
        let next_landing = match self.in_flight.tasks.front_mut() {
            Some((Task::Worked { landing, .. }, _)) if pending < ROWS_PENDING && followed => {
                Some(landing)
            }
            _ => None,
        };
        let ahead = unless_interrupted(self.options.interrupt.as_ref(), async {
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
        match ahead {
            None => {
                self.in_flight.abort_all();
                Ok(Ahead::Interrupted)
            }
            Some(Ok(landed)) => {
                *ready = Some(landed);
                Ok(Ahead::Answer)
            }
            Some(Err(rows)) => {
                let pending = self
                    .in_flight
                    .rows
                    .pop_front()
                    .expect("the front was just awaited");
                self.write_pending(parse, pending, rows)?;
                Ok(Ahead::Written)
            }
        }
    }

    /// The answer to the oldest request in flight: its page whole, or what
    /// its worker found on it. `None` when the run is interrupted first.
    async fn answer(
        &mut self,
        task: Task,
        ready: Option<Landing>,
        parse: &mut Parsers,
    ) -> Result<Option<Answer>> {
        let interrupt = self.options.interrupt.clone();
        let (landing, rows) = match task {
            Task::Whole(handle) => {
                let abort = handle.abort_handle();
                let Some(fetched) = unless_interrupted(interrupt.as_ref(), join(handle)).await
                else {
                    abort.abort();
                    self.in_flight.abort_all();
                    return Ok(None);
                };
                let fetched = fetched?;
                let shown = self.context.session.shown(&fetched.prepared);
                let body_len = Some(fetched.response.body.len());
                return Ok(Some(Answer {
                    fetched,
                    shown,
                    body_len,
                    worked: None,
                }));
            }
            Task::Worked { landing, rows } => (landing, rows),
        };
        let landed = match ready {
            Some(landed) => landed,
            None => match unless_interrupted(interrupt.as_ref(), landing).await {
                Some(landed) => landed,
                None => {
                    rows.abort();
                    self.in_flight.abort_all();
                    return Ok(None);
                }
            },
        };
        let Ok(landed) = landed else {
            // The task ended before the page was parsed: it failed. The
            // pages stepped on before it are written first.
            while let Some(mut pending) = self.in_flight.rows.pop_front() {
                let done = (&mut pending.rows).await;
                self.write_pending(parse, pending, done)?;
            }
            join(rows).await?;
            return Err(Error::http("a request task ended without its page"));
        };
        Ok(Some(Answer {
            fetched: landed.fetched,
            shown: landed.shown,
            body_len: landed.body_len,
            worked: Some((landed.page, rows)),
        }))
    }

    /// Counts an answer, shows it to `on_exchange`, and reads its page.
    fn take(
        &mut self,
        answer: Answer,
        placeholders: Arc<crate::extract::Placeholders>,
        parse: &mut Parsers,
    ) -> Result<()> {
        let Answer {
            mut fetched,
            shown,
            body_len,
            worked,
        } = answer;
        self.tally.progress.requests += 1;
        self.answered += 1;
        // A page that landed from its head counts its bytes and latency
        // once its rows come back.
        let landed_early = body_len.is_none().then(|| fetched.prepared.clone());
        if let (Some(recorded), Some(_)) = (&mut self.hooks.recorder, body_len) {
            recorded.push((fetched.prepared.clone(), fetched.latency));
        }
        if self.values_concurrently {
            // The value's one page ends its pass.
            self.taking_value = Some(self.values_written);
            if self.count_keys.is_some() {
                self.pass_counts.ended(self.values_written, Stop::NoNext);
            }
            self.values_written += 1;
        }
        self.tally.progress.bytes += body_len.unwrap_or_default() as u64;
        let headers = header_list(&fetched);
        self.show_exchange(&fetched, &shown, &headers)?;
        self.tell_unpaged(&headers, |_| None, &shown);
        self.note_count(|_| header_count(&headers, &shown), &shown);
        let status = fetched.response.status.as_u16();
        let page = PageAt {
            status,
            headers: &headers,
            shown: &shown,
            url: &fetched.prepared.url,
        };
        if status == 204 {
            self.step(&page, (0, false), &[], &|_| None)?;
            if let Some(callback) = &self.options.on_progress {
                callback(&self.tally.progress);
            }
            return Ok(());
        }
        if let Some((Some(facts), rows)) = worked {
            let again = self.check_page(&shown, facts.records, || facts.fingerprint)?;
            // Without a count, the paginator does not read one.
            let near = |i| {
                let found = facts.near.iter().find(|(at, _)| *at == i);
                found.map(|(_, member)| member.clone())
            };
            let records = facts.records.filter(|_| !again).unwrap_or_default();
            self.step(&page, (records, facts.missing), &facts.watched, &near)?;
            let standing = self.standing();
            let stopped_by_rule = self.stopped_by_rule();
            let again_at = self.again_at(again);
            let pass = self.page_pass().unwrap_or_default();
            // A followed next request goes out while the worker finishes
            // this page's rows.
            if self
                .pass
                .as_ref()
                .is_some_and(|p| !p.paginator.is_counted() && p.ended.is_none())
            {
                self.launch()?;
            }
            self.in_flight.rows.push_back(Pending {
                rows,
                shown,
                standing,
                landed_early,
                placeholders,
                stopped_by_rule,
                again_at,
                pass,
            });
            return Ok(());
        }
        // The body is taken out, so that a page held for the inferred
        // columns keeps it without a copy.
        let body = std::mem::take(&mut fetched.response.body);
        self.read(&fetched, body, &page, placeholders, parse)
    }

    /// Shows the exchange to the embedder's `on_exchange`, if any.
    fn show_exchange(
        &self,
        fetched: &Fetched,
        shown: &str,
        headers: &[(String, String)],
    ) -> Result<()> {
        let Some(on_exchange) = &self.options.on_exchange else {
            return Ok(());
        };
        // A server may echo a credential anywhere: in a next link of the
        // body, in a `Link` header. What is kept holds none.
        let session = &self.context.session;
        let headers: Vec<(String, String)> = (headers.iter())
            .map(|(name, value)| (name.clone(), session.redact(value)))
            .collect();
        on_exchange(&TakenExchange {
            method: fetched.prepared.method.as_str(),
            target: fetched.prepared.target_without_secrets(),
            secret_query: fetched.prepared.secret_query(),
            request_body: &session.redact_bytes(fetched.prepared.shown_body()),
            status: fetched.response.status.as_u16(),
            headers: &headers,
            body: &session.redact_bytes(&fetched.response.body),
        })
        .map_err(|e| {
            Error::new(
                Kind::Io,
                format!("cannot keep the exchange with {shown}: {e}"),
            )
        })
    }

    /// Fails the run on a page of a counted pass that would be written
    /// wrongly: one that holds more records than an offset's `limit`
    /// (the next offset would read some of them again), or, as its second
    /// page, the same records as the first (the API may not read the page
    /// parameter). `records` is the page's count, when it was counted.
    ///
    /// True for a later page that holds the records of the page before
    /// it: the API read the page parameter up to there, and gave its last
    /// page again for one past the end (json-server 1.0 and Magento do).
    /// It is stepped on as a page without records, which ends the pass,
    /// and left out (see [`ReadRun::same_page_again`]).
    pub(super) fn check_page(
        &mut self,
        shown: &str,
        records: Option<usize>,
        fingerprint: impl FnOnce() -> Option<u64>,
    ) -> Result<bool> {
        let Some(current) = self.pass.as_mut().filter(|p| p.paginator.is_counted()) else {
            return Ok(false);
        };
        // The job refuses `offset` over records from several arrays, which
        // the API does not count (`check_counted_records`).
        if let (Some((param, limit)), Some(records)) = (current.paginator.offset_limit(), records)
            && records as u64 > limit
        {
            return Err(Error::data(format!(
                "the page from {shown} holds {records} records, more than paginate.limit ({limit}): \
                 the API does not read `{param}` or gives pages of its own size, and the next \
                 offset would read {} of them again; set paginate.limit (and limit_param) to the \
                 page size the API gives",
                records as u64 - limit
            )));
        }
        let fingerprint = fingerprint();
        if fingerprint.is_some() && fingerprint == current.last_records {
            if current.paginator.pages() >= 2 {
                return Ok(true);
            }
            return Err(Error::data(format!(
                "the page from {shown} holds the same records as the page before it: the API \
                 may not read the page parameter (check paginate.param), or it gives its last \
                 page again when asked past the end (json-server 1.0 and Magento do: a \
                 [[paginate.stop]] rule on what its pages say of the last ends there); stopping \
                 rather than write them again"
            )));
        }
        current.last_records = fingerprint;
        Ok(false)
    }

    /// Steps the pass's paginator on a page: its next request, or why the
    /// pass ends there.
    /// `near` names a member of the page like the cursor's or link's
    /// path, when asked with its watched index (see
    /// [`near_member`](crate::read::near::near_member)).
    pub(super) fn step(
        &mut self,
        page: &PageAt<'_>,
        (records, missing): (usize, bool),
        watched: &[Option<Value>],
        near: &dyn Fn(usize) -> Option<String>,
    ) -> Result<()> {
        if self.values_concurrently {
            if page.status == 204 {
                self.tally.last_stop = Some(Stop::Status204);
            }
            return Ok(());
        }
        let Some(current) = self.pass.as_mut() else {
            return Ok(());
        };
        let view = PageView {
            status: page.status,
            headers: page.headers,
            records,
            watched,
        };
        match current.paginator.next(&view) {
            Step::Done(stop) => {
                if stop == Stop::Loop {
                    let warning = format!(
                        "pagination loop: the page from {} names a cursor or link already followed; the run ended there",
                        page.shown
                    );
                    self.tally.warn(warning);
                }
                if current.paginator.pages() == 1
                    && !self.tally.told_near
                    && let Some(warning) = crate::read::near::ended_at_first(
                        self.job,
                        &current.paginator,
                        stop,
                        (&view, page.shown),
                        near,
                    )
                {
                    self.tally.told_near = true;
                    self.tally.warn(warning);
                }
                if stop == Stop::NoNext
                    && let Some(said) =
                        crate::read::near::not_a_cursor(&current.paginator, watched, page.shown)
                {
                    return Err(Error::data(said));
                }
                current.ended = Some(stop);
                if stop == Stop::ShortPage {
                    self.after_short = Some(AfterShort {
                        task: self.in_flight.tasks.pop_front().map(|(task, _)| task),
                        shown: page.shown.to_owned(),
                        records,
                        missing,
                        fingerprint: current.last_records,
                        first: current.paginator.pages() == 1,
                    });
                }
                self.in_flight.abort_all();
            }
            Step::Next(plan) => {
                if current.paginator.pages() == 1
                    && !self.tally.told_link_cursor
                    && let Some(warning) = crate::read::near::link_as_cursor(
                        self.job,
                        &current.paginator,
                        watched,
                        page.shown,
                    )
                {
                    self.tally.told_link_cursor = true;
                    self.tally.warn(warning);
                }
                current.pending = Some(resolve_links(plan, page.url));
            }
            Step::Continue => {}
        }
        Ok(())
    }

    /// Notes the count of records the run's first page gives, if the run
    /// holds its records against one: `count` reads it from the page,
    /// given the records path's keys.
    pub(super) fn note_count(
        &mut self,
        count: impl FnOnce(&[String]) -> Option<ApiCount>,
        shown: &str,
    ) {
        // A value sent at once has one page; its pass may be gone.
        let first = self.taking_value.is_some()
            || self.pass.as_ref().is_some_and(|p| p.paginator.pages() == 0);
        let (Some(pass), Some(keys)) = (self.page_pass().filter(|_| first), &self.count_keys)
        else {
            return;
        };
        if !self.pass_counts.has_count(pass) {
            let counted = count(keys);
            self.pass_counts.counted(pass, counted.as_ref(), shown);
        }
    }

    /// Tells, once, that a page, from `shown`, says the API cut its
    /// answer short: `cut` reads where from the page, given what to read.
    pub(super) fn tell_cut(
        &mut self,
        cut: impl FnOnce(&crate::read::count::CutCheck) -> Option<String>,
        shown: &str,
    ) {
        if self.cut.reads() && !self.tally.told_cut {
            let at = cut(&self.cut);
            self.tell_cut_at(at, shown);
        }
    }

    /// [`ReadRun::tell_cut`] of where a page was found to say it (`at`).
    pub(super) fn tell_cut_at(&mut self, at: Option<String>, shown: &str) {
        if let Some(at) = at.filter(|_| !self.tally.told_cut) {
            self.tally.told_cut = true;
            self.tally.warn(crate::read::count::cut_said(&at, shown));
        }
    }

    /// Tells, once, that a page of a job without `[paginate]` names a
    /// next page: by a `Link` header among `headers`, or by a member
    /// (`named` reads it from the page, given the records path's keys; see
    /// [`crate::read::count::next_named`]).
    pub(super) fn tell_unpaged(
        &mut self,
        headers: &[(String, String)],
        named: impl FnOnce(&[String]) -> Option<NextPage>,
        shown: &str,
    ) {
        let Some(keys) = self
            .unpaged_keys
            .as_deref()
            .filter(|_| !self.tally.told_unpaged)
        else {
            return;
        };
        if let Some(warning) = unpaged(headers, named(keys), shown) {
            self.tally.told_unpaged = true;
            self.tally.warn(warning);
        }
    }

    /// Where the page just stepped on stands in its pass (1 for the
    /// first), if it may be the page before it given again: it ended the
    /// pass by naming the cursor or link its own request was made with,
    /// or, in a counted pass, it holds the records of the page before it
    /// (`counted_again`, from [`ReadRun::check_page`]).
    pub(super) fn again_at(&self, counted_again: bool) -> Option<u64> {
        let pass = self.pass.as_ref()?;
        let own = pass.ended == Some(Stop::Loop) && pass.paginator.named_its_own();
        (own || counted_again).then(|| pass.paginator.pages())
    }

    /// Tells a page that may be the page before it given again
    /// (`again_at`, its place in the pass, from [`ReadRun::again_at`]) and
    /// holds its records (their [`records_fingerprint`]): the API gave the
    /// same page again. As a pass's second page, every request would: the
    /// API does not read the cursor's parameter, and the run fails rather
    /// than write the first page twice and never reach the rest. Later,
    /// the API gave its last page again for a cursor or page past the
    /// end: the page is left out (true) with a warning. Notes each page
    /// written for the next.
    ///
    /// [`records_fingerprint`]: crate::extract::records_fingerprint
    pub(super) fn same_page_again(
        &mut self,
        again_at: Option<u64>,
        shown: &str,
        records: usize,
        fingerprint: Option<u64>,
    ) -> Result<bool> {
        let before = std::mem::replace(&mut self.last_page, fingerprint);
        let Some(place) = again_at else {
            return Ok(false);
        };
        if fingerprint.is_none() || before != fingerprint {
            return Ok(false);
        }
        let paginate = &self.job.paginate;
        // A counted pass's page given again comes after pages that
        // differed (`check_page`): past its second.
        let named = match paginate.kind {
            _ if self.counted => "",
            hydrant_paginate::Kind::Cursor => {
                " and names, as the next cursor, the one it was requested with"
            }
            _ => " and names its own address as the next link",
        };
        if place > 2 {
            self.tally.warn(format!(
                "the page from {shown} holds the {records} records of the page before it \
                 again{named}: taken for the last page given again, and not written twice"
            ));
            return Ok(true);
        }
        let why = match paginate.kind {
            hydrant_paginate::Kind::Cursor => format!(
                "the API may not read paginate.param `{}`",
                paginate.param.as_deref().unwrap_or("cursor")
            ),
            _ => "the API may not page by it, or the job reads the page's own link (a `self` \
                  link) rather than the next"
                .to_owned(),
        };
        Err(Error::data(format!(
            "the page from {shown} holds the {records} records of the page before it{named}: \
             {why}; stopping rather than write them again"
        )))
    }

    /// Where the run stands once the page just stepped on is written (only
    /// for a job with `[state]`).
    pub(super) fn standing(&self) -> Option<Standing> {
        self.job.state.as_ref().filter(|_| self.keeps_state)?;
        let last_stop = self.tally.last_stop.unwrap_or(Stop::NoNext);
        let (values_done, pass, stopped) = match &self.pass {
            Some(current) if !self.values_concurrently => match current.ended {
                Some(stop) => (current.index + 1, None, stop),
                None => (current.index, Some(current.save()), last_stop),
            },
            _ => (self.values_written, None, last_stop),
        };
        Some(Standing {
            values_done,
            pass,
            stopped,
            requests: self.tally.progress.requests,
            bytes: self.tally.progress.bytes - self.tally.early_bytes,
            answered: self.answered,
            warnings: self.tally.warnings.len(),
        })
    }

    /// The run was asked to stop: the pages already received are written,
    /// in order, and the run ends with the interrupted error.
    async fn interrupted(mut self, parse: &mut Parsers) -> Result<Summary> {
        while let Some(mut pending) = self.in_flight.rows.pop_front() {
            let rows = (&mut pending.rows).await;
            self.write_pending(parse, pending, rows)?;
        }
        self.write_held_if_sampling()?;
        self.sync_dirty()?;
        Err(interrupted_error(self.job, self.tally.progress.records))
    }

    /// Ends the run: pages still held are written, the output finished and
    /// the checkpoint removed.
    fn finish(mut self) -> Result<Summary> {
        // The run ended while the columns were still sampled.
        self.write_held_if_sampling()?;
        if self.total_cap.is_some_and(|cap| self.launched >= cap) {
            // Cut short only if something was left to send.
            let pass_had_more = self.pass.as_mut().is_some_and(|p| p.next_plan().is_some());
            if pass_had_more || self.next_value()?.is_some() {
                self.pass_ended(Stop::MaxRequests);
            }
        }
        if let Some(none) = self.feed.gave_none() {
            let warning = format!("{none}: the run made no request");
            self.tally.warn(warning);
        }
        if self.feed.skipped() > 0 {
            self.tally.warnings.push(format!(
                "{} parent records had no value at fanout.from.path; no pass was run for them",
                self.feed.skipped()
            ));
        }
        if self.sink.is_none() {
            self.open_sink()?;
        }
        self.sync_dirty()?;
        let sink = self.sink.take().expect("the sink was just opened");
        sink.finish()
            .map_err(|e| crate::read::output_error(self.job, e))?;
        let mut incremental = None;
        if let Some(tracker) = &self.incremental {
            let (after, mut summary) = tracker.commit();
            if let Some(warning) = tracker.outside_warning() {
                self.tally.warn(warning);
            }
            if self.job.state.is_some() && self.keeps_state {
                if let Some(held) = tracker.held() {
                    self.tally.warn(held);
                }
                crate::state::save(tracker.path(), &after, |text| {
                    self.context.session.redact(text)
                })?;
            } else {
                summary.bookmark_after = summary.bookmark_before.clone();
            }
            incremental = Some(summary);
        } else if let Some(state) = self.job.state.as_ref().filter(|_| self.keeps_state) {
            crate::state::remove(&state.path)?;
        }
        let job = self.job;
        let mut tally = self.tally;
        let columns = self.extractor.as_ref().map_or(&[][..], |e| e.columns());
        tally.warn_nulled(columns);
        if let Some((shown, elsewhere)) = (tally.empty_elsewhere.take())
            .filter(|_| tally.progress.records + tally.progress.dirty == 0)
        {
            let path = job.records.path.as_ref().map_or("$", |p| p.as_str());
            tally.warn(format!(
                "no records were read: records.path `{path}` held none on the page from {shown}, \
                 but {elsewhere}: if the records are there, set records.path to it"
            ));
        }
        if tally.records_missing > 1 {
            let path = job.records.path.as_ref().map_or("", |p| p.as_str());
            tally.warn(format!(
                "records.path `{path}` matched nothing in {} responses in all, the first named \
                 above: no records were taken from any of them",
                tally.records_missing
            ));
        }
        // A job without [paginate] told of the next page already, or one
        // whose pagination ended at a misspelled name.
        let told = tally.told_unpaged || tally.told_near;
        for warning in self.pass_counts.finish(job, self.values_taken) {
            if !told {
                tally.warn(warning);
            }
        }
        if job.columns.is_some() {
            tally.warn_absent(columns);
        }
        Ok(Summary {
            records: tally.progress.records,
            requests: tally.progress.requests,
            bytes: tally.progress.bytes,
            dirty: tally.progress.dirty,
            retries: tally.earlier.retries + self.context.session.retries(),
            elapsed_s: tally.earlier.elapsed_s + self.started.elapsed().as_secs_f64(),
            stopped: Stopped::from(tally.last_stop.unwrap_or(Stop::NoNext)),
            output: job
                .output
                .path
                .as_ref()
                .map_or_else(|| "-".to_owned(), |p| p.display().to_string()),
            warnings: tally.warnings,
            dirty_reasons: tally.dirty_reasons,
            nulled: tally.nulled,
            unseen_fields: self
                .inference
                .map(|i| i.unseen().clone())
                .unwrap_or_default(),
            write: None,
            incremental,
        })
    }
}

impl Tally {
    /// Logs `warning` and keeps it for the summary.
    pub(super) fn warn(&mut self, warning: String) {
        tracing::warn!("{warning}");
        self.warnings.push(warning);
    }

    /// The counts and warnings of the runs before a resumed one.
    fn restore(&mut self, checkpoint: &ReadCheckpoint) {
        self.progress = checkpoint.progress;
        self.earlier = Earlier {
            retries: checkpoint.retries,
            elapsed_s: checkpoint.elapsed_s,
            dirty_bytes: checkpoint.dirty_bytes,
        };
        self.last_stop = Some(checkpoint.stopped);
        self.warnings.extend(checkpoint.warnings.iter().cloned());
        self.dirty_reasons.clone_from(&checkpoint.dirty_reasons);
        self.nulled.clone_from(&checkpoint.nulled);
        self.absent.clone_from(&checkpoint.absent);
        self.records_missing = checkpoint.records_missing;
    }

    /// Tells how many values of each column were written as null for
    /// their type.
    fn warn_nulled(&mut self, columns: &[crate::extract::ColumnSpec]) {
        let warnings: Vec<String> = (self.nulled.iter())
            .map(|(name, count)| {
                let kind = columns
                    .iter()
                    .find(|c| c.name == *name)
                    .map_or("its type", |c| c.kind.as_str());
                format!(
                    "{count} value(s) of column `{name}` did not convert to {kind} and were \
                     written as null (records.on_bad_type = \"null\")"
                )
            })
            .collect();
        for warning in warnings {
            self.warn(warning);
        }
    }

    /// Tells of each declared column that no record written had a value
    /// for: most often a misspelled path, which would fill the column with
    /// nulls without a word.
    fn warn_absent(&mut self, columns: &[crate::extract::ColumnSpec]) {
        let records = self.progress.records;
        if records == 0 {
            return;
        }
        let never: Vec<String> = columns
            .iter()
            .filter(|c| self.absent.get(&c.name) == Some(&records))
            .map(|c| crate::extract::column_absent(c, records, false))
            .collect();
        for warning in never {
            self.warn(warning);
        }
    }

    /// Tells, once a run, of a page whose strings held `count` escapes of
    /// a lone surrogate, read as U+FFFD.
    pub(super) fn lone_surrogates(&mut self, count: usize, shown: &str) {
        if count == 0 || self.lone_surrogates_told {
            return;
        }
        self.lone_surrogates_told = true;
        let warning = format!(
            "the page from {shown} holds {count} escapes of a lone UTF-16 surrogate (such as \
             \\ud800 without its pair), which UTF-8 text cannot hold: each was written as \
             U+FFFD (later pages are not told)"
        );
        self.warn(warning);
    }
}

/// A page as the paginator and the messages about it see it.
pub(super) struct PageAt<'a> {
    pub(super) status: u16,
    pub(super) headers: &'a [(String, String)],
    /// The request as messages name it, secrets masked.
    pub(super) shown: &'a str,
    /// The request's URL, which relative links are resolved against.
    pub(super) url: &'a url::Url,
}

/// An incremental run writes only what changed since the last one. With
/// the same output file each time, it replaces the last run's records:
/// said when that file holds any, as the run starts.
fn replaces_earlier_delta(job: &Job) -> Option<String> {
    let path = job.output.path.as_deref()?;
    let holds_records = std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.len() > 0);
    holds_records.then(|| {
        format!(
            "`{}` holds an earlier run's records, and this incremental run replaces it with \
             only what changed since: load or move each run's file before the next, or give \
             each run its own (`--output` with the date in the name)",
            path.display()
        )
    })
}

/// [`headers_of`] an answer.
pub(super) fn header_list(fetched: &Fetched) -> Vec<(String, String)> {
    headers_of(&fetched.response.headers)
}

/// Response headers as the paginator reads them.
pub(super) fn headers_of(headers: &http::HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect()
}

/// The checkpoint a run goes on from: `None` for a fresh start. A run
/// whose output goes to a hook keeps no state, so it cannot resume.
fn resumed_checkpoint(
    job: &Job,
    options: &RunOptions,
    keeps_state: bool,
    tally: &mut Tally,
) -> Result<Option<ReadCheckpoint>> {
    if keeps_state {
        return begin_checkpoints(job, options.resume, &mut tally.warnings);
    }
    if !options.resume {
        return Ok(None);
    }
    Err(Error::config(if job.state_read_only {
        format!(
            "job file `{}`: a partition (--shard) keeps no checkpoint, so there is nothing \
             to resume: run the part again without --resume",
            job.name
        )
    } else {
        format!(
            "job file `{}`: --resume needs the job's own output",
            job.name
        )
    }))
}

/// The tracker of an incremental run's bookmark, warned of a delta that
/// replaces an earlier one; `None` for a job without `[incremental]`.
fn incremental_tracker(
    job: &Job,
    options: &RunOptions,
    keeps_state: bool,
    resumed: Option<&ReadCheckpoint>,
    raw: bool,
    tally: &mut Tally,
) -> Result<Option<Tracker>> {
    if job.incremental.is_none() {
        if options.backfill.is_some() {
            return Err(Error::config(format!(
                "--from and --to need an [incremental] table in job file `{}`",
                job.name
            )));
        }
        return Ok(None);
    }
    let stored = crate::read::incremental::load(job)?;
    let ran_before = stored.bookmark.is_some() || !stored.bookmarks.is_empty();
    if keeps_state
        && resumed.is_none()
        && ran_before
        && let Some(warning) = replaces_earlier_delta(job)
    {
        tally.warn(warning);
    }
    let mut tracker = Tracker::start(job, stored, resumed, options.backfill.as_ref())?;
    if raw && let Some(tracker) = &mut tracker {
        tracker.keep_every_record();
    }
    Ok(tracker)
}

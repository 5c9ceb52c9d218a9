//! From an answer to the sink: a page read here (on its structural index,
//! or as a tree) or made by a page worker, its rows written in order, its
//! dirty records counted and kept, and a checkpoint saved when one is due.

use std::io::Write;
use std::sync::Arc;
use std::time::Instant;

use hydrant_paginate::Stop;
use serde_json::Value;

use crate::error::{Error, Kind, Result};
use crate::extract::{
    Batch, ColumnSpec, DirtyRecord, Extractor, Placeholders, Policy, Tolerated,
    records_fingerprint, records_missing, records_path_missing,
};
use crate::job::{Job, OutputFormat};
use crate::json::node::Node;
use crate::json::path::JsonPath;
use crate::net::session::Fetched;
use crate::read::columns::{fixed_extractor, tell_unseen};
use crate::read::count::{api_count, next_named};
use crate::read::flight::{Held, Pending, RowsDone, Standing, joined};
use crate::read::near::{near_member, records_elsewhere};
use crate::read::run::{PageAt, Parsers, ReadRun};
use crate::read::worker::{PageWork, content_type, index_records, not_json};
use crate::read::{OutputHook, output_error, watched_node};
use crate::sink::{Destination, Made, Mark, PageOut, RawSink, Sink, TextSink};
use crate::state::{self, ReadCheckpoint, SavedColumn};

/// What a page read as a tree did to the inferred columns.
#[derive(Debug, Default)]
struct Inferred {
    /// The columns are still sampled: the page waits for them.
    hold: bool,
    columns_changed: bool,
    unseen_warning: Option<String>,
}

/// Puts a page's rows into the sink, once.
type WriteRows<'a> = Box<dyn FnOnce(&mut Box<dyn Sink>, &[ColumnSpec]) -> std::io::Result<()> + 'a>;

impl ReadRun<'_, '_> {
    /// Reads a page the loop brought back whole: on its structural index
    /// once the columns are known, else as a tree to infer them from.
    pub(super) fn read(
        &mut self,
        fetched: &Fetched,
        body: Vec<u8>,
        page: &PageAt<'_>,
        placeholders: Arc<Placeholders>,
        parse: &mut Parsers,
    ) -> Result<()> {
        let watched_paths = self.pass.as_ref().map(|p| p.watched.clone());
        let watched_at: &[JsonPath] = watched_paths.as_deref().unwrap_or_default();
        if self.extractor.is_some() {
            self.read_indexed(fetched, &body, page, &placeholders, watched_at, parse)
        } else {
            self.read_tree(fetched, body, page, placeholders, watched_at, parse)
        }
    }

    fn read_indexed(
        &mut self,
        fetched: &Fetched,
        body: &[u8],
        page: &PageAt<'_>,
        placeholders: &Placeholders,
        watched_at: &[JsonPath],
        parse: &mut Parsers,
    ) -> Result<()> {
        let job = self.job;
        let not_json = |e| {
            let kind = content_type(&fetched.response.headers);
            not_json(page.shown, kind.as_deref(), body, e)
        };
        let plan = self
            .extractor
            .as_ref()
            .expect("on_index needs the columns")
            .plan();
        let doc = parse.scanner.scan(body, plan).map_err(not_json)?;
        self.tally
            .lone_surrogates(doc.lone_surrogates(), page.shown);
        let (mut records, mut watched) = index_records(&doc, &job.records, watched_at, page.shown)?;
        let redoc;
        let mut columns_changed = false;
        let mut unseen_warning = None;
        if let Some(inference) = &mut self.inference {
            let fed = inference.feed(&records, self.policy);
            if let Some(warning) = tell_unseen(fed, inference, page.shown, self.unseen_told) {
                self.unseen_told = true;
                unseen_warning = Some(warning);
            }
            if fed.changed {
                // The index notes the old columns' keys: the page is
                // scanned again for the new ones.
                let grown = self
                    .extractor
                    .insert(Extractor::inferred(inference.columns(), &job.records));
                columns_changed = true;
                redoc = parse.rescanner.scan(body, grown.plan()).map_err(not_json)?;
                (records, watched) = index_records(&redoc, &job.records, watched_at, page.shown)?;
            }
        }
        let mut batch = Batch::default();
        let extractor = self.extractor.as_ref().expect("on_index needs the columns");
        let parents = extractor.read_page(doc.root(), &mut batch);
        let nested = Some((&parents[..], &mut batch.parent_of));
        let admitted = self.admitted(&records, nested, placeholders);
        let extractor = self.extractor.as_ref().expect("on_index needs the columns");
        extractor.extract(&admitted, placeholders, &mut batch);
        let missing = records_missing(doc.root(), &job.records, records.len(), page.shown);
        self.note_elsewhere((&missing, records.len()), page.shown, || {
            records_elsewhere(doc.root())
        });
        let root = doc.root();
        let paged = crate::extract::paged_count(root, &job.records, records.len());
        let again = self.check_page(page.shown, Some(paged), || records_fingerprint(&records))?;
        self.note_count(|keys| api_count(root, keys, page.shown), page.shown);
        self.tell_cut(|cut| cut.find(root), page.shown);
        self.tell_unpaged(&[], |keys| next_named(root, keys), page.shown);
        let stepped = if again { 0 } else { paged };
        self.pass_read(None, stepped);
        self.step(page, (stepped, missing == Ok(true)), &watched, &|i| {
            near_member(root, watched_at.get(i)?)
        })?;
        let missing = unless_stopped(missing, self.stopped_by_rule())?;
        self.tally.warnings.extend(unseen_warning);
        let standing = self.standing();
        let fingerprint = records_fingerprint(&records);
        self.write_read(
            (body, fingerprint, self.again_at(again)),
            &batch,
            columns_changed,
            page.shown,
            standing,
            missing,
        )
    }

    fn read_tree(
        &mut self,
        fetched: &Fetched,
        body: Vec<u8>,
        page: &PageAt<'_>,
        placeholders: Arc<Placeholders>,
        watched_at: &[JsonPath],
        parse: &mut Parsers,
    ) -> Result<()> {
        let job = self.job;
        let kind = content_type(&fetched.response.headers);
        let tree = parse
            .parser
            .parse(&body, &mut parse.scratch)
            .map_err(|e| not_json(page.shown, kind.as_deref(), &body, e))?;
        self.tally
            .lone_surrogates(parse.parser.lone_surrogates, page.shown);
        let mut watched: Vec<Option<Value>> =
            watched_at.iter().map(|w| watched_node(&tree, w)).collect();
        let in_response = |e| Error::data(format!("response from {}: {e}", page.shown));
        let records = crate::extract::select_records(&tree, &job.records).map_err(in_response)?;
        let Inferred {
            hold,
            columns_changed,
            unseen_warning,
        } = self.infer_from(&records, page.shown);
        let mut batch = Batch::default();
        let doc;
        if !hold {
            let extractor = self
                .extractor
                .as_ref()
                .expect("the columns are known by now");
            // The columns are known now: the cells are read from the
            // page's index, as every later page's are, so that a value is
            // written alike on every page (a number as the API wrote it,
            // where a tree keeps only its double).
            doc = parse
                .scanner
                .scan(&body, extractor.plan())
                .map_err(|e| not_json(page.shown, kind.as_deref(), &body, e))?;
            // The watched values too, numbers as written.
            let (records, on_index) = index_records(&doc, &job.records, watched_at, page.shown)?;
            watched = on_index;
            // Inferred columns: no parents.
            let admitted = self.admitted(&records, None, &placeholders);
            let extractor = self.extractor.as_ref().expect("known above");
            extractor.extract(&admitted, &placeholders, &mut batch);
        }
        if hold && watched.iter().flatten().any(Value::is_f64) {
            // A held page is not scanned above.
            crate::read::verbatim_watched(&body, watched_at, &mut watched, &mut parse.rescanner);
        }
        let missing = records_missing(&tree, &job.records, records.len(), page.shown);
        self.note_elsewhere((&missing, records.len()), page.shown, || {
            records_elsewhere(&tree)
        });
        let paged = crate::extract::paged_count(&tree, &job.records, records.len());
        let again = self.check_page(page.shown, Some(paged), || records_fingerprint(&records))?;
        self.note_count(|keys| api_count(&tree, keys, page.shown), page.shown);
        self.tell_cut(|cut| cut.find(&tree), page.shown);
        self.tell_unpaged(&[], |keys| next_named(&tree, keys), page.shown);
        let stepped = if again { 0 } else { paged };
        self.pass_read(None, stepped);
        self.step(page, (stepped, missing == Ok(true)), &watched, &|i| {
            near_member(&tree, watched_at.get(i)?)
        })?;
        let missing = unless_stopped(missing, self.stopped_by_rule())?;
        self.tally.warnings.extend(unseen_warning);
        let standing = self.standing();
        // A page given again is left out, not held.
        if !hold || again {
            return self.write_read(
                (&body, records_fingerprint(&records), self.again_at(again)),
                &batch,
                columns_changed,
                page.shown,
                standing,
                missing,
            );
        }
        drop(batch);
        self.held.push(Held {
            body,
            shown: page.shown.to_owned(),
            standing,
            placeholders,
            records_missing: missing,
        });
        Ok(())
    }

    /// Feeds the records of a page read as a tree to the inference, if
    /// the columns are inferred: while they are sampled, and after.
    fn infer_from<'v, N: Node<'v>>(&mut self, records: &[N], shown: &str) -> Inferred {
        let job = self.job;
        let mut inferred = Inferred::default();
        let Some(inference) = &mut self.inference else {
            return inferred;
        };
        let sampling = self.extractor.is_none();
        let policy = if sampling { Policy::Grow } else { self.policy };
        let fed = inference.feed(records, policy);
        if let Some(warning) = tell_unseen(fed, inference, shown, self.unseen_told) {
            self.unseen_told = true;
            inferred.unseen_warning = Some(warning);
        }
        if sampling {
            // A page without records shows no columns (a fan-out value
            // or a window with nothing): it is held, uncounted.
            if !records.is_empty() {
                self.sampled += 1;
            }
            inferred.hold = self.policy != Policy::Grow && self.sampled < job.records.infer_pages;
            if !inferred.hold {
                self.extractor = Some(fixed_extractor(inference, self.policy, &job.records));
            }
        } else if fed.changed {
            self.extractor = Some(Extractor::inferred(inference.columns(), &job.records));
            inferred.columns_changed = true;
        }
        inferred
    }

    /// Writes a page read here, after the pages held before it.
    fn write_read(
        &mut self,
        (body, fingerprint, again_at): (&[u8], Option<u64>, Option<u64>),
        batch: &Batch<'_>,
        columns_changed: bool,
        shown: &str,
        standing: Option<Standing>,
        missing: bool,
    ) -> Result<()> {
        self.write_held()?;
        let records = batch.rows + batch.dirty.len();
        if self.same_page_again(again_at, shown, records, fingerprint)? {
            return self.write_page(0, &[], shown, standing, false, Box::new(|_, _| Ok(())));
        }
        if columns_changed && let Some(sink) = &mut self.sink {
            let columns = self.extractor.as_ref().expect("changed columns").columns();
            sink.columns_changed(columns)
                .map_err(|e| output_error(self.job, e))?;
        }
        let put = Box::new(|sink: &mut Box<dyn Sink>, columns: &[ColumnSpec]| {
            sink.page(&PageOut {
                body,
                columns,
                batch,
            })
        });
        self.count_tolerated(&batch.tolerated);
        self.write_page(batch.rows, &batch.dirty, shown, standing, missing, put)
    }

    /// Writes the rows of a page a worker made (or gave back), once it is
    /// its turn.
    pub(super) fn write_pending(
        &mut self,
        parse: &mut Parsers,
        pending: Pending,
        rows: RowsDone,
    ) -> Result<()> {
        let Pending {
            shown,
            standing,
            landed_early,
            placeholders,
            stopped_by_rule,
            again_at,
            pass,
            ..
        } = pending;
        // Only a 204 comes back without rows, and it is never pending.
        let encoded = joined(rows)?.ok_or_else(|| {
            Error::http(format!("the worker gave no rows for the page from {shown}"))
        })?;
        if let Some(prepared) = landed_early {
            self.tally.progress.bytes += encoded.body_len as u64;
            self.tally.early_bytes += encoded.body_len as u64;
            if let Some(recorded) = &mut self.hooks.recorder {
                recorded.push((prepared, encoded.latency));
            }
        }
        self.pass_counts
            .counted(pass, encoded.count.as_ref(), &shown);
        self.tell_cut_at(encoded.cut.clone(), &shown);
        let records = encoded.rows + encoded.dirty.len();
        self.note_elsewhere((&encoded.records_missing, records), &shown, || {
            encoded.elsewhere.clone()
        });
        self.tell_unpaged(&[], |_| encoded.next_named.clone(), &shown);
        let missing = unless_stopped(encoded.records_missing, stopped_by_rule)?;
        self.tally.lone_surrogates(encoded.lone_surrogates, &shown);
        if let Some(body) = &encoded.refit {
            self.pass_read(Some(pass), encoded.records);
            return self.refit(parse, body, &placeholders, &shown, standing, missing);
        }
        if self.same_page_again(again_at, &shown, records, encoded.fingerprint)? {
            return self.write_page(0, &[], &shown, standing, false, Box::new(|_, _| Ok(())));
        }
        self.pass_read(Some(pass), encoded.records);
        let made = encoded.made;
        let put = Box::new(|sink: &mut Box<dyn Sink>, _: &[ColumnSpec]| match made {
            Made::Text(text) => sink.encoded(text),
            #[cfg(feature = "parquet")]
            Made::Batch(batch) => sink.encoded_batch(batch),
        });
        self.count_tolerated(&encoded.tolerated);
        self.write_page(encoded.rows, &encoded.dirty, &shown, standing, missing, put)
    }

    /// Whether a `paginate.stop` rule ended the pass on the page it was
    /// just stepped on.
    pub(super) fn stopped_by_rule(&self) -> bool {
        self.pass.as_ref().and_then(|p| p.ended) == Some(Stop::EndCondition)
    }

    /// A page a worker gave back: something new for the inferred columns.
    /// The page is made here, where the inference is, and the workers get
    /// the columns it leads to.
    fn refit(
        &mut self,
        parse: &mut Parsers,
        body: &[u8],
        placeholders: &Placeholders,
        shown: &str,
        standing: Option<Standing>,
        missing: bool,
    ) -> Result<()> {
        let job = self.job;
        let inference = self
            .inference
            .as_mut()
            .expect("only inferred pages come back");
        let plan = self
            .extractor
            .as_ref()
            .expect("pages are made once columns are known")
            .plan();
        let doc = parse
            .scanner
            .scan(body, plan)
            .map_err(|e| not_json(shown, None, body, e))?;
        let (mut records, _) = index_records(&doc, &job.records, &[], shown)?;
        let fed = inference.feed(&records, self.policy);
        if let Some(warning) = tell_unseen(fed, inference, shown, self.unseen_told) {
            self.unseen_told = true;
            self.tally.warnings.push(warning);
        }
        let redoc;
        if fed.changed {
            let grown = self
                .extractor
                .insert(Extractor::inferred(inference.columns(), &job.records));
            if let Some(sink) = &mut self.sink {
                sink.columns_changed(grown.columns())
                    .map_err(|e| output_error(job, e))?;
            }
            self.work
                .clone_from(&PageWork::new(job, grown, Some(inference)));
            redoc = parse
                .rescanner
                .scan(body, grown.plan())
                .map_err(|e| not_json(shown, None, body, e))?;
            (records, _) = index_records(&redoc, &job.records, &[], shown)?;
        }
        self.write_extracted(&records, placeholders, body, shown, standing, missing)
    }

    /// Extracts the records of a page made here and writes them.
    fn write_extracted<'v, N: Node<'v>>(
        &mut self,
        records: &[N],
        placeholders: &Placeholders,
        body: &[u8],
        shown: &str,
        standing: Option<Standing>,
        missing: bool,
    ) -> Result<()> {
        let mut batch = Batch::default();
        let admitted = self.admitted(records, None, placeholders);
        let extractor = self
            .extractor
            .as_ref()
            .expect("pages are written once columns are known");
        extractor.extract(&admitted, placeholders, &mut batch);
        self.count_tolerated(&batch.tolerated);
        // Pages written here were held or given back, and stepped on
        // long before: only noted for the page after them.
        self.same_page_again(None, shown, records.len(), records_fingerprint(records))?;
        let put = Box::new(|sink: &mut Box<dyn Sink>, columns: &[ColumnSpec]| {
            sink.page(&PageOut {
                body,
                columns,
                batch: &batch,
            })
        });
        self.write_page(batch.rows, &batch.dirty, shown, standing, missing, put)
    }

    /// The records of a page that `[incremental]` lets through: all of
    /// them without it. Records under parents (`parent_path` columns) come
    /// with the parents (`nested`, as [`Extractor::read_page`] read them)
    /// and their places among them, kept in step with the records.
    fn admitted<'r, 'v, N: Node<'v>>(
        &mut self,
        records: &'r [N],
        nested: Option<(&[N], &mut Vec<u32>)>,
        placeholders: &Placeholders,
    ) -> std::borrow::Cow<'r, [N]> {
        match &mut self.incremental {
            None => std::borrow::Cow::Borrowed(records),
            Some(tracker) => {
                let mut admitted = records.to_vec();
                let parents = nested.filter(|(parents, _)| !parents.is_empty());
                tracker.admit(&mut admitted, parents, placeholders);
                std::borrow::Cow::Owned(admitted)
            }
        }
    }

    /// Writes the pages held while the columns were sampled, now that they
    /// are fixed.
    fn write_held(&mut self) -> Result<()> {
        let job = self.job;
        for page in std::mem::take(&mut self.held) {
            let Held {
                body,
                shown,
                standing,
                placeholders,
                records_missing,
            } = page;
            // From the index, as the pages after them (see `read_tree`).
            let plan = self.extractor.as_ref().and_then(Extractor::plan);
            let mut scanner = crate::json::scan::Scanner::default();
            let doc = scanner
                .scan(&body, plan)
                .map_err(|e| not_json(&shown, None, &body, e))?;
            let (records, _) = index_records(&doc, &job.records, &[], &shown)?;
            self.write_extracted(
                &records,
                &placeholders,
                &body,
                &shown,
                standing,
                records_missing,
            )?;
        }
        Ok(())
    }

    /// Fixes the inferred columns and writes the pages held for them, when
    /// the run ends while they are still sampled.
    pub(super) fn write_held_if_sampling(&mut self) -> Result<()> {
        if !self.held.is_empty()
            && let Some(inference) = &mut self.inference
        {
            self.extractor = Some(fixed_extractor(inference, self.policy, &self.job.records));
            self.write_held()?;
        }
        Ok(())
    }

    /// Notes, for the warning of the first page whose records path
    /// matched nothing (`missing`), where the page holds an array of
    /// objects (see [`records_elsewhere`]), as `hydrant check` says it;
    /// and, for a run that reads no record, the first page, from `shown`,
    /// whose path held none (`records`) while the page has them elsewhere.
    fn note_elsewhere(
        &mut self,
        (missing, records): (&std::result::Result<bool, String>, usize),
        shown: &str,
        elsewhere: impl FnOnce() -> Option<String>,
    ) {
        let tally = &mut self.tally;
        if missing == &Ok(true) && tally.elsewhere.is_none() {
            tally.elsewhere = elsewhere();
        } else if records == 0 && missing == &Ok(false) && tally.empty_elsewhere.is_none() {
            tally.empty_elsewhere = elsewhere().map(|at| (shown.to_owned(), at));
        }
    }

    /// Writes a page's rows, counts them and saves a checkpoint when one
    /// is due: `put` puts the rows in the sink.
    fn write_page(
        &mut self,
        rows: usize,
        dirty: &[DirtyRecord],
        shown: &str,
        standing: Option<Standing>,
        missing: bool,
        put: WriteRows<'_>,
    ) -> Result<()> {
        let job = self.job;
        // A page past the last, where the API counts no more records than
        // were read, may leave the member out: Mailman's
        // `{"start": 150, "total_size": 137}` has no `entries`.
        let past_the_count = || self.pass_counts.all_read(self.page_pass());
        if missing && !past_the_count() {
            self.tally.records_missing += 1;
            if self.tally.records_missing == 1 {
                let warning = records_path_missing(&job.records, shown);
                let warning = match &self.tally.elsewhere {
                    Some(elsewhere) => format!("{warning}; {elsewhere}"),
                    None => warning,
                };
                self.tally.warn(warning);
            }
        }
        if !dirty.is_empty() {
            self.count_dirty(dirty, shown)?;
        }
        if self.sink.is_none() {
            self.open_sink()?;
        }
        let columns = self
            .extractor
            .as_ref()
            .expect("the columns are known by now")
            .columns();
        let sink = self.sink.as_mut().expect("the sink was just opened");
        put(sink, columns).map_err(|e| output_error(job, e))?;
        self.tally.progress.records += rows as u64;
        if let Some(standing) = standing
            && self.checkpoint_due()
        {
            self.checkpoint(standing)?;
        }
        if let Some(callback) = &self.options.on_progress {
            callback(&self.tally.progress);
        }
        Ok(())
    }

    /// Counts a page's cells written as null for a problem the job
    /// tolerates, by column: values of another type, and values absent.
    fn count_tolerated(&mut self, tolerated: &[Tolerated]) {
        let Some(extractor) = self.extractor.as_ref().filter(|_| !tolerated.is_empty()) else {
            return;
        };
        let columns = extractor.columns();
        // By column first: a sparse page has a cell a record, and the
        // counts take a name each.
        let by_column = crate::extract::tolerated_by_column(tolerated, columns.len());
        for (column, [nulled, absent]) in columns.iter().zip(by_column) {
            let tally = &mut self.tally;
            for (count, counts) in [(nulled, &mut tally.nulled), (absent, &mut tally.absent)] {
                if count > 0 {
                    *counts.entry(column.name.clone()).or_default() += count;
                }
            }
        }
    }

    /// Counts a page's dirty records by reason, and keeps them in
    /// `records.dirty_path` (or logs the first few).
    fn count_dirty(&mut self, dirty: &[DirtyRecord], shown: &str) -> Result<()> {
        let job = self.job;
        let progress = &mut self.tally.progress;
        progress.dirty += dirty.len() as u64;
        for record in dirty {
            *self
                .tally
                .dirty_reasons
                .entry(record.kind.clone())
                .or_default() += 1;
        }
        match &job.records.dirty_path {
            None => log_dirty(dirty, shown, progress.dirty),
            Some(path) => {
                let failed = |e| {
                    Error::io(
                        format!("cannot write records.dirty_path `{}`", path.display()),
                        e,
                    )
                };
                let out = match &mut self.dirty_out {
                    Some(out) => out,
                    None => self.dirty_out.insert(std::io::BufWriter::new(
                        open_dirty(path, self.resumed_at.is_some()).map_err(|e| {
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
                    crate::json::write_str(shown, &mut line);
                    line.extend_from_slice(b",\"record\":");
                    line.extend_from_slice(&dirty.record);
                    line.extend_from_slice(b"}\n");
                    out.write_all(&line).map_err(failed)?;
                }
                out.flush().map_err(failed)?;
            }
        }
        if progress.dirty > job.records.max_dirty {
            let last = &dirty[dirty.len() - 1];
            // Inferred types come from the sample: a later page may need
            // a wider one, which the job can declare.
            let hint = match job.columns {
                None => format!(
                    "; the columns were inferred from the first {} page(s): pin them with \
                     the types the values need (`hydrant schema` prints them) or raise \
                     records.infer_pages",
                    job.records.infer_pages
                ),
                Some(_) => String::new(),
            };
            return Err(Error::new(
                Kind::DirtyLimit,
                format!(
                    "{} dirty records exceed records.max_dirty = {} (last, from {shown}: {}){hint}",
                    progress.dirty, job.records.max_dirty, last.reason
                ),
            ));
        }
        Ok(())
    }

    /// Whether a checkpoint is due: `state.every` has passed since the
    /// last, or the run is asked to stop.
    fn checkpoint_due(&self) -> bool {
        let Some(state) = &self.job.state else {
            return false;
        };
        self.last_checkpoint
            .is_none_or(|at| at.elapsed() >= state.every)
            || self
                .options
                .interrupt
                .as_ref()
                .is_some_and(crate::options::Interrupt::is_set)
    }

    /// Saves where the run stands once the page just written is in the
    /// output.
    fn checkpoint(&mut self, standing: Standing) -> Result<()> {
        let job = self.job;
        let state = job
            .state
            .as_ref()
            .expect("a standing is taken with [state]");
        let sink = self.sink.as_mut().expect("a page was just written");
        let mark = sink.checkpoint().map_err(|e| output_error(job, e))?;
        let dirty_bytes = match &mut self.dirty_out {
            Some(out) => sync_dirty_file(out, job)?,
            None => self.tally.earlier.dirty_bytes,
        };
        let tally = &self.tally;
        let checkpoint = ReadCheckpoint {
            format: state::FORMAT,
            job: state::fingerprint(job),
            output_bytes: mark.length,
            output_digest: Some(mark.digest),
            dirty_bytes,
            // Later answers may have been stepped on already; the
            // checkpoint counts up to this page.
            progress: crate::options::Progress {
                requests: standing.requests,
                bytes: standing.bytes + tally.early_bytes,
                ..tally.progress
            },
            retries: tally.earlier.retries + self.context.session.retries(),
            elapsed_s: tally.earlier.elapsed_s + self.started.elapsed().as_secs_f64(),
            launched: standing.answered,
            columns: job
                .columns
                .is_none()
                .then(|| SavedColumn::save(self.extractor.as_ref().expect("columns").columns())),
            values_done: standing.values_done,
            pass: standing.pass,
            stopped: standing.stopped,
            warnings: tally.warnings[..standing.warnings].to_vec(),
            dirty_reasons: tally.dirty_reasons.clone(),
            nulled: tally.nulled.clone(),
            absent: tally.absent.clone(),
            records_missing: tally.records_missing,
            unseen_fields: self
                .inference
                .as_ref()
                .map(|i| i.unseen().clone())
                .unwrap_or_default(),
            null_only: self
                .inference
                .as_ref()
                .map(crate::extract::Inference::null_only)
                .unwrap_or_default(),
            incremental: self
                .incremental
                .as_ref()
                .map(|t| t.save(standing.values_done)),
        };
        let redact = |text: &str| self.context.session.redact(text);
        match &self.incremental {
            Some(tracker) => {
                state::save(&state.path, &tracker.with_checkpoint(checkpoint), redact)?
            }
            None => state::save(&state.path, &checkpoint, redact)?,
        }
        self.last_checkpoint = Some(Instant::now());
        Ok(())
    }

    /// Opens the sink with the columns known now (none without any).
    pub(super) fn open_sink(&mut self) -> Result<()> {
        let columns = self.extractor.as_ref().map_or(&[][..], Extractor::columns);
        if columns.is_empty()
            && self.output.is_none()
            && self.job.output.format == crate::job::OutputFormat::Parquet
        {
            // A Parquet file with no column is refused by some readers
            // (DuckDB), and with it a query over a folder that holds one.
            let file = match self.job.output.path.as_deref() {
                Some(path) => format!("`{}`", path.display()),
                None => "on stdout".to_owned(),
            };
            self.tally.warn(format!(
                "no record came to infer the columns from: the Parquet file {file} has \
                 no column, which some readers (DuckDB) refuse; declare [[columns]] for a \
                 file with its columns whatever comes"
            ));
        }
        let null_only = (self.inference.as_ref()).map(crate::extract::Inference::null_only);
        let null_only = null_only.as_deref().unwrap_or_default();
        let sink = open_sink(
            self.job,
            columns,
            null_only,
            self.resumed_at,
            &mut self.output,
        )?;
        self.sink = Some(sink);
        Ok(())
    }

    /// Makes the dirty file durable, if there is one.
    pub(super) fn sync_dirty(&mut self) -> Result<()> {
        if let Some(out) = &mut self.dirty_out {
            sync_dirty_file(out, self.job)?;
        }
        Ok(())
    }
}

/// What an interrupted run says it kept.
pub(super) fn interrupted_error(job: &Job, records: u64) -> Error {
    let message = match (&job.state, job.output.path.as_deref()) {
        (Some(_), Some(path)) => format!(
            "interrupted: {records} records written; the output stays in `{}.partial` with a checkpoint: resume with --resume",
            path.display()
        ),
        (None, Some(path)) if crate::sink::written_in_place(path).unwrap_or(false) => {
            format!(
                "interrupted: {records} records had been written to `{}`",
                path.display()
            )
        }
        (None, Some(path)) => format!(
            "interrupted: {records} records had been written; `{}.partial` was removed (set [state] to resume a run)",
            path.display()
        ),
        (_, None) => format!("interrupted: {records} records written"),
    };
    Error::new(Kind::Interrupted, message)
}

/// What a run with `[state]` that failed says it kept: its partial
/// output, which the next run goes on from with `--resume` if a
/// checkpoint was saved. `None` when no partial file is left.
pub(super) fn kept_on_failure(job: &Job) -> Option<String> {
    let (Some(state), Some(path)) = (&job.state, job.output.path.as_deref()) else {
        return None;
    };
    let partial = crate::sink::partial_path(path);
    if !partial.is_file() {
        return None;
    }
    let checkpoint = if job.incremental.is_some() {
        crate::read::incremental::load(job).is_ok_and(|stored| stored.run.is_some())
    } else {
        state::load(&state.path, job).is_ok_and(|found| found.is_some())
    };
    Some(if checkpoint {
        format!(
            "the output so far stays in `{}` with a checkpoint: resume with --resume",
            partial.display()
        )
    } else {
        format!(
            "the output so far stays in `{}`, before any checkpoint: a run with --resume starts from the beginning",
            partial.display()
        )
    })
}

/// How many dirty records are logged when they are not kept in a file.
const DIRTY_LOGGED: u64 = 5;

/// Logs the first dirty records of a run that keeps none, with the page
/// they came from and their place on it. `dirty` ends the run's
/// `dirty_so_far`.
fn log_dirty(dirty: &[DirtyRecord], shown: &str, dirty_so_far: u64) {
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

/// What the runs before a resumed one did, beyond [`crate::Progress`].
#[derive(Debug, Default)]
pub(super) struct Earlier {
    pub(super) retries: u64,
    pub(super) elapsed_s: f64,
    pub(super) dirty_bytes: u64,
}

/// Checks that the job can keep checkpoints and finds the one to resume
/// from; a run that starts over removes the old one first, so that it can
/// never be taken up against the new output.
pub(super) fn begin_checkpoints(
    job: &Job,
    resume: bool,
    warnings: &mut Vec<String>,
) -> Result<Option<ReadCheckpoint>> {
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
    let found = if job.incremental.is_some() {
        // The bookmark stays; only the checkpoint beside it goes.
        let mut stored = crate::read::incremental::load(job)?;
        let run = stored.run.take();
        if !resume && run.is_some() {
            state::save(&state.path, &stored, str::to_owned)?;
        }
        if let Some(run) = &run {
            state::check(&state.path, run, job)?;
        }
        run
    } else if resume {
        state::load(&state.path, job)?
    } else {
        state::remove(&state.path)?;
        None
    };
    if !resume {
        return Ok(None);
    }
    let Some(checkpoint) = found else {
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
    crate::state::make_folders(path)?;
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
fn sync_dirty_file(out: &mut std::io::BufWriter<std::fs::File>, job: &Job) -> Result<u64> {
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
    // For a sink made by a hook, which only the `arrow` feature has.
    #[cfg_attr(not(feature = "arrow"), expect(unused_variables))] null_only: &[String],
    resume_at: Option<Mark>,
    output: &mut Option<OutputHook>,
) -> Result<Box<dyn Sink>> {
    // An embedding program's writer takes the output as it is.
    let own = output.is_none();
    let mut out = match (output.take(), resume_at, job.output.path.as_deref()) {
        #[cfg(feature = "arrow")]
        (Some(OutputHook::Sink(make)), _, _) => return Ok(make(columns, null_only)),
        (Some(OutputHook::Writer(writer)), _, _) => Destination::writer(writer),
        (None, Some(mark), Some(path)) => Destination::resume(path, mark)
            .map_err(|e| Error::io(format!("cannot resume the output `{}`", path.display()), e))?,
        (None, _, path) => Destination::open(path).map_err(|e| output_error(job, e))?,
    };
    if job.state.is_some() {
        out.checkpointed();
    }
    if let Some(compression) = job.output.compression.filter(|_| own) {
        out.compress(compression)
            .map_err(|e| output_error(job, e))?;
    }
    let thread = |name: &str| {
        let name = name.to_owned();
        move |work| std::thread::Builder::new().name(name).spawn(work)
    };
    out.sync_as_written(thread("hydrant-writeback"))
        .and_then(|()| out.write_behind(thread("hydrant-writer")))
        .map_err(|e| output_error(job, e))?;
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
        OutputFormat::Parquet => {
            use crate::sink::parquet::{InPlace, ParquetSink};
            let encoder = InPlace::new(out, ParquetSink::schema(columns), &job.output.parquet)
                .and_then(|encoder| {
                    crate::read::encoder::OnThread::start(
                        encoder,
                        crate::read::encoder::column_threads(),
                    )
                })
                .map_err(|e| output_error(job, e))?;
            Box::new(ParquetSink::new(columns, Box::new(encoder)))
        }
        #[cfg(not(feature = "parquet"))]
        OutputFormat::Parquet => {
            return Err(Error::config(format!(
                "job file `{}`: output.format `parquet` needs a hydrant built with the cargo feature `parquet`",
                job.name
            )));
        }
    })
}

/// Whether a page had nothing at `records.path` (see [`records_missing`]).
/// One that says its request failed fails the run, unless a
/// `paginate.stop` rule ended the pass on it: the job says that is how
/// its API ends.
pub(super) fn unless_stopped(
    missing: std::result::Result<bool, String>,
    by_rule: bool,
) -> Result<bool> {
    match missing {
        Err(_) if by_rule => Ok(true),
        missing => missing.map_err(Error::data),
    }
}

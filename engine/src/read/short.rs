//! A short page ends a counted pass: it holds fewer records than a page
//! was asked for. An API that caps its pages below the job's `limit` or
//! `size` answers every page short, so that end would drop the rest of
//! the records without a word. The request after the short page is
//! usually in flight already, and its answer tells.
//!
//! A first page that is short while the second holds records is such a
//! cap, or a page parameter the API does not read: the run fails, naming
//! both. After a later short page, records on the next one may have been
//! added while the run paged (offsets shift), so the run ends as the
//! short page says, with a warning. Either way those records are never
//! written: they come after the end.
//!
//! An answer that holds the short page's records again is the API giving
//! its last page again for one past the end (json-server 1.0, Magento):
//! the short page was the end, and nothing is said. After a short first
//! page the error names that too: an API that does not read the page
//! parameter gives its first page again as well.
//!
//! A short page with nothing at `records.path` is no page of records
//! but an answer in its place (a failure an API sends with a 200, in
//! words hydrant does not know): where the next page holds records, the
//! run fails, first page or later.
//!
//! With nothing in flight after a short first page (`concurrency = 1`),
//! the second request is sent to tell, but only when the page holds a
//! round number of records (a multiple of 10 or 25), as caps do, or
//! nothing at the path; so is the request after a later page with
//! nothing at the path. A pass of one short page is common, and most would cost a
//! request for nothing.
//!
//! For `offset`, the request that tells after such a round first page
//! starts right after its records, not a whole `limit` on, as the one
//! in flight does: an API that caps its pages at 100 and holds 237
//! records answers `offset=500` empty, and `offset=100` with the rest.
//! Where the one in flight found nothing, that one is sent too.

use std::time::Duration;

use hydrant_paginate::Plan;

use crate::error::{Error, Result};
use crate::net::session::Fetched;
use crate::read::flight::{Task, join, unless_interrupted};
use crate::read::run::{Parsers, ReadRun};
use crate::read::worker::{Landed, PageFacts};
use crate::state;

/// How long the answer after a short page is waited for. It was sent
/// with the short page or before, so it is most often in; a server slow
/// past its end must not hold the run.
const GRACE: Duration = Duration::from_secs(2);

/// The request after a short page, kept until its answer tells whether
/// the short page was the end.
pub(super) struct AfterShort {
    /// `None` when no request had gone after the short page.
    pub(super) task: Option<Task>,
    /// The short page, as messages name it.
    pub(super) shown: String,
    pub(super) records: usize,
    /// Whether the short page had nothing at `records.path`: an answer
    /// that is no page of records (an error answered 200).
    pub(super) missing: bool,
    /// The short page's [`records_fingerprint`](crate::extract::records_fingerprint).
    pub(super) fingerprint: Option<u64>,
    /// Whether the short page was the pass's first.
    pub(super) first: bool,
}

/// Whether a pass's short first page holds a round number of records (a
/// multiple of 10 or of 25), as an API's cap on its pages does: 20, 50,
/// 100, 250, and 25 too.
fn looks_capped(after: &AfterShort) -> bool {
    let round = after.records.is_multiple_of(10) || after.records.is_multiple_of(25);
    after.first && after.records > 0 && round
}

impl ReadRun<'_, '_> {
    /// Looks at the answer after the short page that ended the pass: an
    /// error or a warning when it holds records.
    pub(super) async fn check_after_short(&mut self, parse: &mut Parsers) -> Result<()> {
        let Some(mut after) = self.after_short.take() else {
            return Ok(());
        };
        let in_flight = after.task.is_some();
        let task = match after.task.take() {
            Some(task) => task,
            None => match self.send_after_short(&after)? {
                Some(task) => task,
                None => return Ok(()),
            },
        };
        let mut found = self.records_after(task, parse).await;
        if in_flight && found.as_ref().is_none_or(|&(_, more, _)| more == 0) {
            // The offset in flight was a whole `limit` on: an API that
            // caps its pages and holds fewer records than the limit
            // answers it empty. Ask right after the short page's records.
            if let Some(task) = self.send_right_after(&after)? {
                found = self.records_after(task, parse).await;
            }
        }
        let Some((next, more, fingerprint)) = found.filter(|&(_, more, _)| more > 0) else {
            return Ok(());
        };
        let (shown, records) = (after.shown, after.records);
        if after.missing {
            // No page of records but an answer in its place, and the
            // API's records go on after it.
            return Err(Error::data(format!(
                "the answer from {shown} had nothing at records.path, which ended pagination; \
                 but the next page, {next}, holds {more} records: the answer was likely a \
                 failure the API sent with a 200, not the end of the records; ending here \
                 would lose records"
            )));
        }
        let again = fingerprint.is_some() && fingerprint == after.fingerprint;
        if again && !after.first {
            return Ok(());
        }
        if after.first {
            // The checkpoint ends the pass at the short page: `--resume`
            // would finish the run without the records it would lose.
            if let Some(state) = self.job.state.as_ref().filter(|_| self.keeps_state) {
                state::remove(&state.path)?;
            }
            if again {
                return Err(Error::data(format!(
                    "the first page, from {shown}, held {records} records, fewer than asked, \
                     which ends pagination; but the next page, {next}, holds the same records: \
                     the API may not read the page parameter (check paginate.param), or it \
                     gives its last page again when asked past the end (json-server 1.0 and \
                     Magento do: a [[paginate.stop]] rule on what its pages say of the last \
                     ends there); ending here could lose records"
                )));
            }
            return Err(Error::data(format!(
                "the first page, from {shown}, held {records} records, fewer than asked, which \
                 ends pagination; but the next page, {next}, holds {more}: the API may give at \
                 most {records} records a page (set paginate.limit or paginate.size to \
                 {records} or less) or may not read the page parameter (check paginate.param); \
                 ending here could lose records"
            )));
        }
        let warning = format!(
            "the page from {shown} held {records} records, fewer than asked, which ended \
             pagination; but the next page, {next}, fetched ahead, holds {more}, which were not \
             written: records may have been added while the run paged"
        );
        self.tally.warn(warning);
        Ok(())
    }

    /// Sends the second request of a pass whose first page came short
    /// with nothing sent after it, when the page's count looks like a cap:
    /// for `offset`, the one right after the page's records.
    fn send_after_short(&mut self, after: &AfterShort) -> Result<Option<Task>> {
        if !(looks_capped(after) || after.missing) {
            return Ok(None);
        }
        let plan = self.pass.as_ref().and_then(|pass| {
            let right_after = (after.records > 0)
                .then(|| pass.right_after_plan(after.records))
                .flatten();
            right_after.or_else(|| pass.after_plan())
        });
        self.send_check(plan)
    }

    /// Sends, after an `offset` pass's short first page whose count looks
    /// like a cap, the request right after its records.
    fn send_right_after(&mut self, after: &AfterShort) -> Result<Option<Task>> {
        if !looks_capped(after) {
            return Ok(None);
        }
        let plan = (self.pass.as_ref()).and_then(|pass| pass.right_after_plan(after.records));
        self.send_check(plan)
    }

    /// Sends `plan`, the pass's, unless the job's cap on requests is
    /// reached.
    fn send_check(&mut self, plan: Option<Plan>) -> Result<Option<Task>> {
        let under_cap = self.total_cap.is_none_or(|cap| self.launched < cap);
        let (Some(plan), Some(pass), true) = (plan, self.pass.as_ref(), under_cap) else {
            return Ok(None);
        };
        let prepared = self.context.prepare_with(&plan, &pass.placeholders)?;
        Ok(Some(self.spawn(prepared)))
    }

    /// The answer to `task`, as messages name it, its records and their
    /// fingerprint; `None` for a failed answer, one that is not a page of
    /// records, or one not in within [`GRACE`].
    async fn records_after(
        &self,
        task: Task,
        parse: &mut Parsers,
    ) -> Option<(String, usize, Option<u64>)> {
        let interrupt = self.options.interrupt.clone();
        match task {
            Task::Whole(handle) => {
                let abort = handle.abort_handle();
                let waited = tokio::time::timeout(
                    GRACE,
                    unless_interrupted(interrupt.as_ref(), join(handle)),
                )
                .await;
                abort.abort();
                let fetched = waited.ok()??.ok()?;
                let (more, fingerprint) = self.records_in(&fetched, parse)?;
                let shown = self.context.session.shown(&fetched.prepared);
                Some((shown, more, fingerprint))
            }
            Task::Worked { landing, rows } => {
                let waited =
                    tokio::time::timeout(GRACE, unless_interrupted(interrupt.as_ref(), landing))
                        .await;
                rows.abort();
                match waited.ok()??.ok()? {
                    Landed {
                        fetched,
                        shown,
                        page:
                            Some(PageFacts {
                                records: Some(more),
                                fingerprint,
                                ..
                            }),
                        ..
                    } if fetched.response.status.is_success() => Some((shown, more, fingerprint)),
                    _ => None,
                }
            }
        }
    }

    /// The records on a page brought back whole, and their fingerprint;
    /// `None` for an answer that is not a page of records.
    fn records_in(&self, fetched: &Fetched, parse: &mut Parsers) -> Option<(usize, Option<u64>)> {
        let status = fetched.response.status;
        if !status.is_success() || status.as_u16() == 204 {
            return None;
        }
        let records = &self.job.records;
        let tree = (parse.parser)
            .parse(&fetched.response.body, &mut parse.scratch)
            .ok()?;
        let selected = crate::extract::select_records(&tree, records).ok()?;
        let paged = crate::extract::paged_count(&tree, records, selected.len());
        Some((paged, crate::extract::records_fingerprint(&selected)))
    }
}

//! `[incremental]` in a run: the windows each fan-out value is read in,
//! the records let through (filter and boundary dedupe), the cursor
//! values emitted, and the bookmark they make when the run succeeds.
//!
//! The bookmark is committed only by a run that succeeds. A run that fails
//! or is cut off leaves the bookmark as it was, and its checkpoint beside
//! it; `--resume` goes on from the checkpoint, a fresh run starts again
//! from the bookmark. So no record is ever skipped: at worst a run cut off
//! without `--resume` sends again what it had sent.

use std::collections::{BTreeMap, BTreeSet, HashSet, VecDeque};
use std::sync::Arc;

use hydrant_paginate::Override;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::Digest;

use crate::error::{Error, Result};
use crate::extract::{Placeholders, date_days, timestamp_micros};
use crate::job::Job;
use crate::job::incremental::{BoundIn, Cursor, CursorType, Incremental, Order, now_micros};
use crate::json::node::{Node, View, walk};
use crate::options::Backfill;
use crate::read::fanout::FanValue;
use crate::state::{self, GLOBAL_PAST, INCREMENTAL_FORMAT, IncrementalState, ReadCheckpoint};
use crate::summary::IncrementalSummary;

/// The placeholder that names a pass's window. No `{name}` in a job can
/// reach it.
const WINDOW: &str = "\u{1}window";

/// A stretch of cursor values one pass asks for: `[lower, upper)`.
#[derive(Debug, Clone)]
struct Window {
    /// The fan-out value (`""` without `[fanout]`).
    value: String,
    lower: Cursor,
    upper: Option<Cursor>,
}

/// The greatest cursor value a value's records reached, and the keys of
/// the records at it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Reached {
    max: Option<Value>,
    keys: BTreeSet<String>,
}

/// Where an incremental run stands, as its checkpoint saves it.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Saved {
    /// When the run began (unix microseconds): its bounds come from it.
    now: i64,
    backfill: Option<(Value, Option<Value>)>,
    reached: BTreeMap<String, Reached>,
    /// Past [`GLOBAL_PAST`] values: the least of the values' greatest
    /// cursor values.
    global: Option<Value>,
    windows_done: u64,
    filtered: u64,
    deduplicated: u64,
    no_cursor: u64,
    /// Records emitted whose cursor lay outside their window (`filter`
    /// off): the API's filter let them through.
    #[serde(default)]
    outside: u64,
    /// Records past an upper bound the request did not send, left out.
    #[serde(default)]
    ahead: u64,
    /// What ended a pass before its last page, if anything did:
    /// `paginate.max_requests`, or a pagination loop.
    #[serde(default)]
    cut_by: Option<String>,
    /// See [`Tracker::edges`], spelled, by value.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    edges: BTreeMap<String, Vec<Reached>>,
}

/// The incremental side of a read run.
pub(crate) struct Tracker {
    spec: Incremental,
    fanout: bool,
    state_path: std::path::PathBuf,
    /// The bookmark as stored before the run.
    committed: IncrementalState,
    /// The committed boundary keys, by value, for lookups.
    boundary: BTreeMap<String, HashSet<String>>,
    saved: Saved,
    reached: BTreeMap<String, (Cursor, BTreeSet<String>)>,
    /// The keys of the records emitted at a window's upper bound, by
    /// value and bound: an API whose upper bound is inclusive (netdata's
    /// `before`, Prometheus's `end`) answers them again in the window
    /// after, whose lower bound it is, and there they are left out.
    edges: BTreeMap<String, BTreeMap<Cursor, BTreeSet<String>>>,
    global: Option<Cursor>,
    /// The windows of passes made and not yet written past, by pass.
    active: BTreeMap<u64, Arc<Window>>,
    /// The windows of the value being cut, and that value's pass.
    queue: VecDeque<Window>,
    base: Option<FanValue>,
    passes: u64,
    lowest: Option<Cursor>,
    told_no_cursor: bool,
    /// Set by [`Tracker::keep_every_record`].
    keep_every_record: bool,
}

impl Tracker {
    /// The tracker of a run: the stored bookmark, and for a resumed run
    /// where its checkpoint stood.
    pub(crate) fn start(
        job: &Job,
        committed: IncrementalState,
        checkpoint: Option<&ReadCheckpoint>,
        backfill: Option<&Backfill>,
    ) -> Result<Option<Tracker>> {
        let Some(spec) = job.incremental.clone() else {
            return Ok(None);
        };
        let state_path = job
            .state
            .as_ref()
            .map(|s| s.path.clone())
            .unwrap_or_default();
        let bad = Error::config;
        let asked = backfill
            .map(|b| -> Result<(Value, Option<Value>)> {
                let read = |flag: &str, text: &str| {
                    spec.kind.read_text(text).ok_or_else(|| {
                        bad(format!(
                            "{flag}: `{text}` is not a cursor value of this job"
                        ))
                    })
                };
                let from = read("--from", &b.from)?;
                let to = b.to.as_deref().map(|t| read("--to", t)).transpose()?;
                // The upper bound is exclusive: an equal or earlier one
                // asks for nothing, and an empty output would pass for a
                // quiet stretch.
                if to.as_ref().is_some_and(|to| *to <= from) {
                    return Err(bad(format!(
                        "--to `{}` is not after --from `{}`: the range holds nothing",
                        b.to.as_deref().unwrap_or_default(),
                        b.from
                    )));
                }
                Ok((spec.kind.spell(&from), to.map(|to| spec.kind.spell(&to))))
            })
            .transpose()?;
        let saved = match checkpoint.and_then(|c| c.incremental.clone()) {
            Some(progress) => {
                let saved: Saved = serde_json::from_value(progress).map_err(|e| {
                    bad(format!(
                        "state file `{}` is damaged: incremental progress: {e}",
                        state_path.display()
                    ))
                })?;
                if asked.is_some() && asked != saved.backfill {
                    return Err(bad(
                        "--resume: --from and --to must be those of the run being resumed (or left out)"
                            .to_owned(),
                    ));
                }
                saved
            }
            None => Saved {
                now: now_micros(),
                backfill: asked,
                reached: BTreeMap::new(),
                global: None,
                windows_done: 0,
                filtered: 0,
                outside: 0,
                ahead: 0,
                deduplicated: 0,
                no_cursor: 0,
                cut_by: None,
                edges: BTreeMap::new(),
            },
        };
        let read_saved = |value: &Value| {
            spec.kind.read(value).ok_or_else(|| {
                bad(format!(
                    "state file `{}` is damaged: `{value}` is not a cursor value",
                    state_path.display()
                ))
            })
        };
        let mut reached = BTreeMap::new();
        for (value, at) in &saved.reached {
            if let Some(max) = &at.max {
                reached.insert(value.clone(), (read_saved(max)?, at.keys.clone()));
            }
        }
        let mut edges: BTreeMap<String, BTreeMap<Cursor, BTreeSet<String>>> = BTreeMap::new();
        for (value, at) in &saved.edges {
            for edge in at {
                if let Some(bound) = &edge.max {
                    let of_value = edges.entry(value.clone()).or_default();
                    of_value.insert(read_saved(bound)?, edge.keys.clone());
                }
            }
        }
        let global = saved.global.as_ref().map(read_saved).transpose()?;
        let boundary = committed
            .boundary_keys
            .iter()
            .map(|(value, keys)| (value.clone(), keys.iter().cloned().collect()))
            .collect();
        Ok(Some(Tracker {
            fanout: job.fanout.is_some(),
            state_path,
            committed,
            boundary,
            saved,
            reached,
            edges,
            global,
            active: BTreeMap::new(),
            queue: VecDeque::new(),
            base: None,
            passes: 0,
            lowest: None,
            told_no_cursor: false,
            keep_every_record: false,
            spec,
        }))
    }

    /// The tracker of a fresh run from the stored bookmark: what `check`,
    /// `explain` and `partitions` look at.
    pub(crate) fn stored(job: &Job) -> Result<Tracker> {
        Ok(Tracker::start(job, load(job)?, None, None)?.expect("an incremental job"))
    }

    /// The bookmark stored for a fan-out value before the run.
    fn bookmark_of(&self, value: &str) -> Option<Cursor> {
        let stored = self
            .committed
            .bookmarks
            .get(value)
            .or(self.committed.bookmark.as_ref())?;
        self.spec.kind.read(stored)
    }

    /// The exclusive upper bound of the run, if it has one.
    fn upper(&self) -> Option<Cursor> {
        let kind = self.spec.kind;
        if let Some((_, Some(to))) = &self.saved.backfill {
            return kind.read(to);
        }
        kind.upper_at(self.saved.now, self.spec.safety_margin)
            .map(Cursor::Num)
    }

    /// The lower bound of a fan-out value: the bookmark less the
    /// lookback, `start` on the first run, `--from` in a backfill.
    fn lower(&self, value: &str) -> Cursor {
        if let Some((from, _)) = &self.saved.backfill {
            return self.spec.kind.read(from).expect("read when the run began");
        }
        match self.bookmark_of(value) {
            Some(Cursor::Num(at)) => Cursor::Num(at.saturating_sub(self.spec.lookback)),
            Some(text) => text,
            None => self.spec.start.clone(),
        }
    }

    /// The windows of a fan-out value: `[lower, upper)` cut at
    /// `start + k·step`.
    fn windows(&self, value: &str) -> Vec<Window> {
        let lower = self.lower(value);
        let upper = self.upper();
        let window = |lower: Cursor, upper: Option<Cursor>| Window {
            value: value.to_owned(),
            lower,
            upper,
        };
        if upper.as_ref().is_some_and(|u| *u <= lower) {
            return Vec::new();
        }
        let (Some(step), Cursor::Num(from), Some(Cursor::Num(to)), Cursor::Num(origin)) =
            (self.spec.step, &lower, &upper, &self.spec.start)
        else {
            return vec![window(lower, upper)];
        };
        let mut cut = Vec::new();
        let mut at = *from;
        while at < *to {
            let k = (at - origin).div_euclid(step);
            let end = (origin + (k + 1) * step).min(*to);
            cut.push(window(Cursor::Num(at), Some(Cursor::Num(end))));
            at = end;
        }
        cut
    }

    /// The next pass: the next window of the current value, or of the
    /// next value `feed` gives.
    pub(crate) fn next_pass(
        &mut self,
        mut feed: impl FnMut() -> Result<Option<FanValue>>,
    ) -> Result<Option<FanValue>> {
        loop {
            if let Some(window) = self.queue.pop_front() {
                let base = self.base.clone().expect("windows come with their value");
                return Ok(Some(self.pass_of(base, window)));
            }
            let Some(base) = feed()? else {
                return Ok(None);
            };
            let value = base.placeholders.get("value").cloned().unwrap_or_default();
            self.queue = self.windows(&value).into();
            self.base = Some(base);
        }
    }

    /// A value's pass over one window: its bounds as placeholders and
    /// where `param` and `end_param` put them.
    fn pass_of(&mut self, mut pass: FanValue, window: Window) -> FanValue {
        let spec = &self.spec;
        let since = spec.format.spell(spec.kind, &window.lower);
        let until = window
            .upper
            .as_ref()
            .map(|u| spec.format.spell(spec.kind, u));
        let number = spec.format.is_number(spec.kind);
        let mut place = |name: &str, text: &str| {
            let value = text.to_owned();
            let placed = match spec.placement {
                BoundIn::Query => Override::Query {
                    name: name.to_owned(),
                    value,
                },
                BoundIn::Header => Override::Header {
                    name: name.to_owned(),
                    value,
                },
                BoundIn::Body => Override::Body {
                    path: name.to_owned(),
                    value: match text.parse::<i64>() {
                        Ok(n) if number => Value::from(n),
                        _ => Value::String(value),
                    },
                },
                BoundIn::Url => {
                    pass.placeholders.insert(name.to_owned(), value);
                    return;
                }
            };
            pass.overrides.push(placed);
        };
        if let Some(param) = &spec.param {
            place(param, &since);
        }
        if let (Some(param), Some(until)) = (&spec.end_param, &until) {
            place(param, until);
        }
        pass.placeholders.insert("since".to_owned(), since);
        if let Some(until) = until {
            pass.placeholders.insert("until".to_owned(), until);
        }
        pass.placeholders
            .insert(WINDOW.to_owned(), self.passes.to_string());
        if self.lowest.as_ref().is_none_or(|l| window.lower < *l) {
            self.lowest = Some(window.lower.clone());
        }
        self.active.insert(self.passes, Arc::new(window));
        self.passes += 1;
        pass
    }

    /// Lets through the records of a page that its window wants, and
    /// notes the cursor values of those it lets through. Records nested
    /// under parents come with them (`parents`, and each record's place
    /// among them, kept in step with the records).
    pub(crate) fn admit<'v, N: Node<'v>>(
        &mut self,
        records: &mut Vec<N>,
        parents: Option<(&[N], &mut Vec<u32>)>,
        placeholders: &Placeholders,
    ) {
        let Some(index) = placeholders.get(WINDOW).and_then(|i| i.parse::<u64>().ok()) else {
            return;
        };
        // Pages are written in pass order: the passes before this one
        // are done with.
        self.active = self.active.split_off(&index);
        let Some(window) = self.active.get(&index).cloned() else {
            return;
        };
        let backfill = self.saved.backfill.is_some();
        let bookmark = if backfill {
            None
        } else {
            self.bookmark_of(&window.value)
        };
        let boundary = self.boundary.get(&window.value);
        // Edges of other values, and below this window, are done with: a
        // value's windows are passes one after another.
        self.edges.retain(|value, _| *value == window.value);
        if let Some(edges) = self.edges.get_mut(&window.value) {
            *edges = edges.split_off(&window.lower);
        }
        let told_before =
            (self.edges.get(&window.value)).and_then(|edges| edges.get(&window.lower));
        let mut at_upper = BTreeSet::new();
        let spec = &self.spec;
        let reached = self.reached.entry(window.value.clone());
        let mut no_cursor = 0;
        let (mut filtered, mut deduplicated, mut outside, mut ahead) = (0, 0, 0, 0);
        let keep_ahead = spec.sends_upper || self.keep_every_record;
        let mut noted: Option<(Cursor, BTreeSet<String>)> = match &reached {
            std::collections::btree_map::Entry::Occupied(at) => Some(at.get().clone()),
            std::collections::btree_map::Entry::Vacant(_) => None,
        };
        let admits = |record: N, parent: Option<N>| {
            let Some(cursor) = cursor_of(spec, record, parent) else {
                no_cursor += 1;
                return true;
            };
            let on_upper = window.upper.as_ref() == Some(&cursor);
            match against_bounds(spec, &window, &cursor, keep_ahead) {
                Bounds::Within => {}
                Bounds::Outside => outside += 1,
                Bounds::Filtered => {
                    filtered += 1;
                    return false;
                }
                Bounds::Ahead => {
                    ahead += 1;
                    return false;
                }
            }
            let at_bookmark = bookmark.as_ref() == Some(&cursor);
            let on_lower_edge = told_before.is_some() && cursor == window.lower;
            let key = (at_bookmark
                || on_upper
                || on_lower_edge
                || noted.as_ref().is_none_or(|(max, _)| cursor >= *max))
            .then(|| key_of(spec, record, parent));
            // Emitted by the last run at the bookmark, or by the window
            // before on its upper bound.
            let by_run = at_bookmark
                && (key.as_ref()).is_some_and(|k| boundary.is_some_and(|keys| keys.contains(k)));
            let by_window = on_lower_edge
                && (key.as_ref()).is_some_and(|k| told_before.is_some_and(|keys| keys.contains(k)));
            if by_run || by_window {
                deduplicated += 1;
                return false;
            }
            if on_upper && let Some(key) = &key {
                at_upper.insert(key.clone());
            }
            if let Some(key) = key {
                match &mut noted {
                    Some((max, keys)) if cursor == *max => {
                        keys.insert(key);
                    }
                    Some((max, _)) if cursor < *max => {}
                    _ => noted = Some((cursor, BTreeSet::from([key]))),
                }
            }
            true
        };
        retain_with_parents(records, parents, admits);
        if let Some(noted) = noted {
            match reached {
                std::collections::btree_map::Entry::Occupied(mut at) => *at.get_mut() = noted,
                std::collections::btree_map::Entry::Vacant(at) => {
                    at.insert(noted);
                }
            }
        }
        if let Some(upper) = window.upper.clone().filter(|_| !at_upper.is_empty()) {
            let of_value = self.edges.entry(window.value.clone()).or_default();
            of_value.entry(upper).or_default().extend(at_upper);
        }
        self.saved.filtered += filtered;
        self.saved.outside += outside;
        self.saved.ahead += ahead;
        self.saved.deduplicated += deduplicated;
        self.saved.no_cursor += no_cursor;
        if no_cursor > 0 && !self.told_no_cursor {
            self.told_no_cursor = true;
            tracing::warn!(
                "records without a readable incremental.cursor `{}` are emitted but cannot move the bookmark",
                spec.cursor.as_str()
            );
        }
        if self.fanout && self.reached.len() > GLOBAL_PAST {
            self.fold_into_global(&window.value);
        }
    }

    /// Lets every record through, for an output that writes each body
    /// whole (`raw`): a record at the bookmark that an earlier run wrote
    /// is written again, as records within the lookback are. The job
    /// refuses `filter` with such an output.
    pub(crate) fn keep_every_record(&mut self) {
        self.boundary.clear();
        self.keep_every_record = true;
    }

    /// Past [`GLOBAL_PAST`] values, the values done are folded into one
    /// global bookmark: the least of their greatest cursor values.
    fn fold_into_global(&mut self, current: &str) {
        let done: Vec<String> = self
            .reached
            .keys()
            .filter(|v| v.as_str() != current)
            .cloned()
            .collect();
        for value in done {
            let (max, _) = self.reached.remove(&value).expect("listed");
            if self.global.as_ref().is_none_or(|g| max < *g) {
                self.global = Some(max);
            }
        }
    }

    /// Where the run stands, for its checkpoint: `passes_done` passes
    /// are wholly in the output.
    pub(crate) fn save(&self, passes_done: u64) -> Value {
        let kind = self.spec.kind;
        let mut saved = self.saved.clone();
        saved.windows_done = passes_done;
        saved.reached = self
            .reached
            .iter()
            .map(|(value, (max, keys))| {
                let at = Reached {
                    max: Some(kind.spell(max)),
                    keys: keys.clone(),
                };
                (value.clone(), at)
            })
            .collect();
        saved.global = self.global.as_ref().map(|g| kind.spell(g));
        saved.edges = (self.edges.iter())
            .map(|(value, at)| {
                let spelled = at.iter().map(|(bound, keys)| Reached {
                    max: Some(kind.spell(bound)),
                    keys: keys.clone(),
                });
                (value.clone(), spelled.collect())
            })
            .collect();
        serde_json::to_value(saved).expect("plain data")
    }

    /// The state file with the run's checkpoint beside the stored bookmark.
    pub(crate) fn with_checkpoint(&self, checkpoint: ReadCheckpoint) -> IncrementalState {
        IncrementalState {
            run: Some(checkpoint),
            ..self.committed.clone()
        }
    }

    /// Notes that `why` ended a pass before its last page.
    pub(crate) fn cut(&mut self, why: &str) {
        self.saved.cut_by.get_or_insert_with(|| why.to_owned());
    }

    /// Why the bookmark stays where it was after a run that succeeded:
    /// a pass ended before its last page, and unless the API sorts by
    /// the cursor, the pages it left may hold records older than those
    /// read. Moved past them, the bookmark would skip them for good.
    pub(crate) fn held(&self) -> Option<String> {
        let why = self.saved.cut_by.as_ref()?;
        (self.saved.backfill.is_none() && self.spec.order != Order::Asc).then(|| {
            format!(
                "the run ended before its last page ({why}): the bookmark stays, as the pages \
                 left may hold records older than the ones read (set incremental.order = \"asc\" \
                 if the API sorts by the cursor)"
            )
        })
    }

    /// What to say of records emitted from outside the bounds the run
    /// asked for: an earlier or a later run may write them too. Redmine's
    /// `updated_on=>=T` answers the second before `T` as well.
    pub(crate) fn outside_warning(&self) -> Option<String> {
        let outside = self.saved.outside;
        (outside > 0).then(|| {
            format!(
                "{outside} records had incremental.cursor `{}` outside the bounds the run asked \
                 for, and were written: the API's filter let them through, and another run may \
                 write them too; incremental.filter = true leaves them out",
                self.spec.cursor.as_str()
            )
        })
    }

    /// The bookmark the run leaves, once it has succeeded, and what the
    /// summary says of it.
    pub(crate) fn commit(&self) -> (IncrementalState, IncrementalSummary) {
        let kind = self.spec.kind;
        let mut after = IncrementalState {
            run: None,
            ..self.committed.clone()
        };
        if self.saved.backfill.is_none() && self.held().is_none() {
            self.move_bookmarks(&mut after);
        }
        let spelled = |state: &IncrementalState| -> Value {
            if self.fanout && !state.bookmarks.is_empty() {
                Value::Object(state.bookmarks.clone().into_iter().collect())
            } else {
                state.bookmark.clone().unwrap_or(Value::Null)
            }
        };
        let summary = IncrementalSummary {
            from: self.lowest.as_ref().map_or(Value::Null, |l| kind.spell(l)),
            to: self.upper().map_or(Value::Null, |u| kind.spell(&u)),
            bookmark_before: spelled(&self.committed),
            bookmark_after: spelled(&after),
            windows: self.passes.max(self.saved.windows_done),
            filtered: self.saved.filtered,
            outside: self.saved.outside,
            deduplicated: self.saved.deduplicated,
            ahead: self.saved.ahead,
            no_cursor: self.saved.no_cursor,
        };
        (after, summary)
    }

    /// Moves each value's bookmark to the greatest cursor value emitted,
    /// never later than the run's upper bound and never backwards.
    fn move_bookmarks(&self, after: &mut IncrementalState) {
        let kind = self.spec.kind;
        let upper = self.upper();
        let mut global = self.global.clone();
        for (value, (max, keys)) in &self.reached {
            let (candidate, keys) = match &upper {
                Some(upper) if max > upper => (upper.clone(), BTreeSet::new()),
                _ => (max.clone(), keys.clone()),
            };
            let before = self.bookmark_of(value);
            let (bookmark, keys) = match before {
                Some(before) if before > candidate => continue,
                Some(before) if before == candidate => {
                    let mut all: BTreeSet<String> = after
                        .boundary_keys
                        .get(value)
                        .map(|k| k.iter().cloned().collect())
                        .unwrap_or_default();
                    all.extend(keys);
                    (candidate, all)
                }
                _ => (candidate, keys),
            };
            if self.fanout {
                after.bookmarks.insert(value.clone(), kind.spell(&bookmark));
            } else {
                after.bookmark = Some(kind.spell(&bookmark));
            }
            after
                .boundary_keys
                .insert(value.clone(), keys.into_iter().collect());
        }
        let folded = global.is_some() || after.bookmarks.len() > GLOBAL_PAST;
        if self.fanout && folded {
            for stored in after.bookmarks.values() {
                if let Some(at) = kind.read(stored)
                    && global.as_ref().is_none_or(|g| at < *g)
                {
                    global = Some(at);
                }
            }
            let before = after.bookmark.as_ref().and_then(|b| kind.read(b));
            let kept = match (before, global) {
                (Some(before), Some(global)) => Some(before.max(global)),
                (before, global) => global.or(before),
            };
            after.bookmark = kept.map(|k| kind.spell(&k));
            after.bookmarks.clear();
            after.boundary_keys.clear();
        }
    }

    /// The state file, where the bookmark is kept.
    pub(crate) fn path(&self) -> &std::path::Path {
        &self.state_path
    }
}

/// Where a record's cursor value lies against its window.
enum Bounds {
    /// Inside it, or on an upper bound that was sent (the window after,
    /// or the next run, tells such records by their keys).
    Within,
    /// Outside bounds the request sent: written, and told.
    Outside,
    /// Outside, and left out (`filter = true`).
    Filtered,
    /// Past an upper bound the request did not send: the API answers
    /// all it has from the lower bound on (records written while a run
    /// runs, a later window's). They are the later window's, or the next
    /// run's, whose bounds hold them.
    Ahead,
}

/// Keeps the records that `keep` takes, given each with its parent, if
/// it has one: `parents`, and the records' places among them, which are
/// kept in step with the records.
fn retain_with_parents<'v, N: Node<'v>>(
    records: &mut Vec<N>,
    mut parents: Option<(&[N], &mut Vec<u32>)>,
    mut keep: impl FnMut(N, Option<N>) -> bool,
) {
    let mut ordinal = 0;
    let mut kept = Vec::with_capacity(records.len());
    records.retain(|&record| {
        let parent = (parents.as_ref())
            .and_then(|(nodes, of)| nodes.get(*of.get(ordinal)? as usize).copied());
        ordinal += 1;
        let taken = keep(record, parent);
        kept.push(taken);
        taken
    });
    if let Some((_, of)) = &mut parents {
        let mut kept = kept.into_iter();
        of.retain(|_| kept.next().unwrap_or(true));
    }
}

fn against_bounds(
    spec: &Incremental,
    window: &Window,
    cursor: &Cursor,
    keep_ahead: bool,
) -> Bounds {
    let above = window.upper.as_ref().is_some_and(|u| cursor >= u);
    let on_upper = window.upper.as_ref() == Some(cursor);
    match () {
        _ if *cursor >= window.lower && !above => Bounds::Within,
        _ if spec.filter => Bounds::Filtered,
        _ if above && !keep_ahead => Bounds::Ahead,
        _ if above && (!spec.sends_upper || on_upper) => Bounds::Within,
        _ => Bounds::Outside,
    }
}

/// The cursor value of a record, read as its type reads it: in the
/// record, or in its parent where `cursor` names a `parent_path` column.
fn cursor_of<'v, N: Node<'v>>(spec: &Incremental, record: N, parent: Option<N>) -> Option<Cursor> {
    let in_parent = (spec.parent.as_ref()).and_then(|p| p.cursor.as_ref());
    let (node, path) = match (in_parent, parent) {
        (Some(path), Some(parent)) => (parent, path),
        _ => (record, &spec.cursor),
    };
    let mut found = Vec::new();
    walk(node, path.segments()?, &mut found);
    let view = found.first()?.view();
    match spec.kind {
        CursorType::Timestamp => timestamp_micros(view).map(Cursor::Num),
        CursorType::Date => date_days(view).map(|d| Cursor::Num(i64::from(d))),
        CursorType::Long => match view {
            View::I64(n) => Some(Cursor::Num(n)),
            View::U64(n) => i64::try_from(n).ok().map(Cursor::Num),
            View::F64(f) if f.fract() == 0.0 && f.abs() < 9.0e18 => Some(Cursor::Num(f as i64)),
            View::Str(s) => s.trim().parse().ok().map(Cursor::Num),
            _ => None,
        },
        CursorType::String => match view {
            View::Str(s) => Some(Cursor::Text(s.to_owned())),
            View::I64(n) => Some(Cursor::Text(n.to_string())),
            View::U64(n) => Some(Cursor::Text(n.to_string())),
            View::Big(s) => Some(Cursor::Text(s.to_owned())),
            _ => None,
        },
    }
}

/// What identifies a record at the boundary: its `key` values as JSON
/// text (each read in the record's parent where it names a `parent_path`
/// column), or without `key` a digest of the whole record and its parent.
fn key_of<'v, N: Node<'v>>(spec: &Incremental, record: N, parent: Option<N>) -> String {
    if spec.key.is_empty() {
        let mut text = Vec::new();
        record.write_json(&mut text);
        if let Some(parent) = parent {
            // Two parents may hold records alike.
            text.push(b'\n');
            parent.write_json(&mut text);
        }
        let digest = sha2::Sha256::digest(&text);
        return digest[..12].iter().map(|b| format!("{b:02x}")).collect();
    }
    let mut text = Vec::new();
    for (i, path) in spec.key.iter().enumerate() {
        if i > 0 {
            text.push(b',');
        }
        let in_parent = (spec.parent.as_ref()).and_then(|p| p.key.get(i)?.as_ref());
        let (node, path) = match (in_parent, parent) {
            (Some(path), Some(parent)) => (parent, path),
            _ => (record, path),
        };
        let mut found = Vec::new();
        walk(node, path.segments().unwrap_or_default(), &mut found);
        match found.first() {
            Some(value) => value.write_json(&mut text),
            None => text.extend_from_slice(b"null"),
        }
    }
    String::from_utf8(text).unwrap_or_default()
}

/// An empty state for a job's first run.
fn fresh(spec: &Incremental) -> IncrementalState {
    IncrementalState {
        incremental: INCREMENTAL_FORMAT,
        cursor: spec.cursor.as_str().to_owned(),
        kind: spec.kind.name().to_owned(),
        bookmark: None,
        bookmarks: BTreeMap::new(),
        boundary_keys: BTreeMap::new(),
        run: None,
    }
}

/// Reads an incremental job's state file: the stored bookmark, and the
/// checkpoint of a run that did not finish. A file of another layout, or
/// taken with another cursor, is refused.
pub(crate) fn load(job: &Job) -> Result<IncrementalState> {
    let spec = job.incremental.as_ref().expect("an incremental job");
    // A partition runs without [state]: as a backfill, from nothing stored.
    let Some(state) = &job.state else {
        return Ok(fresh(spec));
    };
    let path = &state.path;
    let Some(stored) = state::read::<IncrementalState>(path)? else {
        return Ok(fresh(spec));
    };
    if stored.incremental != INCREMENTAL_FORMAT {
        return Err(Error::config(format!(
            "state file `{}` has incremental layout {}, this hydrant reads layout {INCREMENTAL_FORMAT}",
            path.display(),
            stored.incremental
        )));
    }
    if stored.cursor != spec.cursor.as_str() || stored.kind != spec.kind.name() {
        return Err(Error::config(format!(
            "state file `{}` holds a bookmark of cursor `{}` ({}), and the job's cursor is now `{}` ({}); \
             run `hydrant state JOB --reset` to start over from incremental.start",
            path.display(),
            stored.cursor,
            stored.kind,
            spec.cursor.as_str(),
            spec.kind.name()
        )));
    }
    Ok(stored)
}

/// The windows of a job without `[fanout]` whose `[incremental]` has a
/// `step`, as `(from, to)` in the cursor's spelling: what partitions cut.
/// `None` for any other job.
pub(crate) fn windows_of(job: &Job) -> Result<Option<Vec<(String, String)>>> {
    let Some(spec) = &job.incremental else {
        return Ok(None);
    };
    if spec.step.is_none() || job.fanout.is_some() {
        return Ok(None);
    }
    let tracker = Tracker::stored(job)?;
    let text = |cursor: &Cursor| match spec.kind.spell(cursor) {
        Value::String(text) => text,
        other => other.to_string(),
    };
    let windows = tracker.windows("");
    if windows.iter().any(|w| w.upper.is_none()) {
        return Ok(None);
    }
    Ok(Some(
        windows
            .iter()
            .map(|w| (text(&w.lower), text(w.upper.as_ref().expect("checked"))))
            .collect(),
    ))
}

/// What `hydrant state` prints: the bookmark(s), the boundary keys, and
/// the windows of a run under way.
pub fn describe(job: &Job) -> Result<Value> {
    let Some(spec) = &job.incremental else {
        return Err(Error::config(format!(
            "job file `{}` has no [incremental] table: it keeps no bookmark",
            job.name
        )));
    };
    let stored = load(job)?;
    let boundary_keys = if job.fanout.is_some() {
        serde_json::to_value(&stored.boundary_keys).expect("plain data")
    } else {
        serde_json::to_value(stored.boundary_keys.get("").cloned().unwrap_or_default())
            .expect("plain data")
    };
    let windows = match stored.run.as_ref().and_then(|r| r.incremental.clone()) {
        None => Value::Null,
        Some(progress) => {
            let saved: Saved = serde_json::from_value(progress).map_err(|e| {
                Error::config(format!("state file is damaged: incremental progress: {e}"))
            })?;
            serde_json::json!({
                "done": saved.windows_done,
                "records": stored.run.as_ref().map_or(0, |r| r.progress.records),
                "backfill": saved.backfill.as_ref().map(|(from, to)| serde_json::json!({"from": from, "to": to})),
                "reached": if spec.order == Order::Asc {
                    serde_json::to_value(&saved.reached).expect("plain data")
                } else {
                    Value::Null
                },
            })
        }
    };
    Ok(serde_json::json!({
        "bookmark": stored.bookmark,
        "bookmarks": stored.bookmarks,
        "boundary_keys": boundary_keys,
        "windows": windows,
    }))
}

/// Forgets an incremental job's bookmark and any checkpoint beside it.
pub fn reset(job: &Job) -> Result<()> {
    if job.incremental.is_none() {
        return Err(Error::config(format!(
            "job file `{}` has no [incremental] table: it keeps no bookmark",
            job.name
        )));
    }
    let path = &job.state.as_ref().expect("validated").path;
    let _lock = state::lock(path)?;
    state::remove(path)
}

//! From a parsed page to typed cells: records selection, the values of all
//! compiled column paths (noted by the structural index's check when every
//! path is keys, else one walk per record), conversions, inference and
//! dirty records.

use std::borrow::Cow;

use base64::Engine as _;
use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};

use crate::job::{Parents, RecordMode, Records};
use crate::json::keys::KeySet;
use crate::json::node::{Node, View};
use crate::json::path::{JsonPath, Segment};
use crate::json::scan::KeyPlan;

mod convert;
mod infer;
mod records;
mod time;

#[cfg(feature = "parquet")]
pub(crate) use convert::shown;
use convert::*;
#[cfg(any(feature = "parquet", test))]
pub(crate) use time::utc_seconds_micros;
pub(crate) use time::written_as_read;
use time::*;

pub(crate) use crate::job::columns::{ColumnSpec, ColumnType, Placeholders};

pub(crate) use infer::{Fed, Fit, Inference, Mixed, Policy, Shape};
pub(crate) use records::{
    column_absent, failure_said, fingerprint_of, holds_something, paged_count, records_fingerprint,
    records_missing, records_path_missing, select_records, select_with_parents,
};

/// A value read as a `timestamp` column reads it: unix microseconds.
pub(crate) fn timestamp_micros(value: View<'_>) -> Option<i64> {
    to_micros(value, None)
}

/// A value read as a `date` column reads it: days since 1970-01-01.
pub(crate) fn date_days(value: View<'_>) -> Option<i32> {
    to_date(value, None)
}

/// One typed value of an output row.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell<'a> {
    /// No value: missing, JSON `null`, or a `json` column's absent value.
    Null,
    /// A `boolean` column.
    Bool(bool),
    /// `int` and `long`.
    Int(i64),
    /// A `float` column.
    Float(f32),
    /// A `double` column.
    Double(f64),
    /// A `double` column's value read from a number with a fraction or
    /// an exponent, with that number's text as its page spells it: text
    /// outputs write the text, which reads back as the same double.
    DoubleText(f64, &'a str),
    /// A `string` column, borrowed from the page when it can be.
    Str(Cow<'a, str>),
    /// JSON text of a `json` column.
    Json(Vec<u8>),
    /// Days since 1970-01-01.
    Date(i32),
    /// Microseconds since 1970-01-01T00:00:00Z.
    Timestamp(i64),
    /// A `binary` column's bytes, decoded from base64.
    Binary(Vec<u8>),
}

/// A record left out of the output, and why.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct DirtyRecord {
    /// Why it was left out, with the value at fault.
    pub reason: String,
    /// The reason without the value at fault, such as ``column `id`: bad
    /// type (long)``: what the summary counts dirty records by.
    pub kind: String,
    /// The record's place on its page, from 0.
    pub ordinal: usize,
    /// The record's JSON text.
    pub record: Vec<u8>,
}

/// The rows of one page: `cells` holds `rows × columns` cells, row-major.
#[derive(Debug, Default)]
pub struct Batch<'a> {
    /// The cells, row after row.
    pub cells: Vec<Cell<'a>>,
    /// Rows in `cells`.
    pub rows: usize,
    /// The records of the page left out of `cells`.
    pub dirty: Vec<DirtyRecord>,
    /// The cells written as null for a problem the job tolerates (a value
    /// of another type, or none where the extractor notes absent values):
    /// counted, not lost without a word.
    pub tolerated: Vec<Tolerated>,
    /// The cells of the columns read from the page around the records,
    /// by column: one a page, copied into each row.
    page: Vec<PageCell<'a>>,
    /// The cells of the columns read from the records' parents
    /// (`parent_path`), parent after parent, and the parent of each record
    /// by its place among the page's records (kept in step with the
    /// records `[incremental]` lets through).
    parents: Vec<PageCell<'a>>,
    pub(crate) parent_of: Vec<u32>,
}

/// A page column's cell, read once a page (see [`Extractor::read_page`]).
#[derive(Debug)]
struct PageCell<'a> {
    column: usize,
    cell: Result<Cell<'a>, Problem>,
    /// A multi-valued path selected nothing: `[]`, noted as absent, as a
    /// record's is.
    none: bool,
}

/// A cell of a [`Batch`] written for a problem the job tolerates: null,
/// or `[]` for a path of `[*]` that selected nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tolerated {
    /// The row, in the batch.
    pub row: usize,
    /// The column, as an index into the columns.
    pub column: usize,
    /// The record had no value there (`records.on_missing = "null"`, or
    /// a path of `[*]` that selected nothing, written `[]`); else its
    /// value did not convert (`records.on_bad_type = "null"`).
    pub missing: bool,
}

impl<'a> Batch<'a> {
    /// The cells of row `i`.
    pub fn row(&self, i: usize, width: usize) -> &[Cell<'a>] {
        &self.cells[i * width..(i + 1) * width]
    }

    /// A batch of `rows` rows of `cells`, for the tests of what writes
    /// them.
    #[cfg(test)]
    pub(crate) fn of(cells: Vec<Cell<'a>>, rows: usize) -> Batch<'a> {
        Batch {
            cells,
            rows,
            ..Batch::default()
        }
    }
}

#[derive(Debug, Default, Clone)]
struct TrieNode {
    keys: KeySet,
    /// The node under each of `keys`.
    children: Vec<usize>,
    indexes: Vec<(i64, usize)>,
    wildcard: Option<usize>,
    columns: Vec<usize>,
}

/// Inferred columns that records are checked against as they are
/// extracted: a page with a record holding anything new goes to the
/// inference instead.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Covering<'c> {
    pub inference: &'c Inference,
    /// Tells most records covered from their noted values, when the
    /// extractor's columns are the inference's.
    pub shape: Option<&'c Shape>,
}

/// What became of a record on the extractor's direct path.
enum Direct {
    Done,
    /// Not noted: the record is walked.
    Walk,
    Uncovered,
}

/// Extracts the declared columns from records.
#[derive(Debug, Clone)]
pub(crate) struct Extractor {
    columns: Vec<ColumnSpec>,
    multi: Vec<bool>,
    general: Vec<usize>,
    trie: Vec<TrieNode>,
    /// The columns the check of a page notes, when all their paths are
    /// keys.
    plan: Option<KeyPlan>,
    /// Whether every column is one value at a path of keys: a record
    /// whose columns were noted is then converted straight from its row.
    direct: bool,
    missing_is_dirty: bool,
    bad_type_is_dirty: bool,
    /// Whether absent values are noted among the tolerated cells: only
    /// declared columns are warned of, and a sparse page would note a
    /// cell a record for nothing.
    note_absent: bool,
    /// The inferred column of the record itself (`value`) where records
    /// mix objects with other values: an object's fields have columns of
    /// their own, so the column holds the other records only.
    other_records: Option<usize>,
    /// The columns read from the page around the records (`page_path`).
    page_columns: Vec<usize>,
    /// The columns read from the records' parents (`parent_path`), and
    /// where the parents are.
    parent_columns: Vec<usize>,
    parents: Option<(Box<Parents>, RecordMode)>,
}

impl Extractor {
    /// Compiles the columns' paths into one trie.
    pub(crate) fn new(columns: Vec<ColumnSpec>, records: &Records) -> Extractor {
        let mut trie = vec![TrieNode::default()];
        let mut general = Vec::new();
        let mut multi = Vec::with_capacity(columns.len());
        for (index, column) in columns.iter().enumerate() {
            let path = (column.path.as_ref())
                .or(column.page_path.as_ref())
                .or(column.parent_path.as_ref());
            multi.push(path.is_some_and(JsonPath::is_multi));
            let Some(path) = &column.path else { continue };
            let Some(segments) = path.segments() else {
                general.push(index);
                continue;
            };
            let mut node = 0;
            for segment in segments {
                node = child(&mut trie, node, segment);
            }
            trie[node].columns.push(index);
        }
        // A path of filters or slices over one array: its elements are
        // noted, and the records it selects among them found by place.
        let array = records.path.as_ref().and_then(JsonPath::array_keys);
        let records_keys = match &array {
            Some(keys) => Some(&keys[..]),
            None => records
                .path
                .as_ref()
                .map_or(Some(&[][..]), JsonPath::segments),
        };
        let plan = records_keys
            .filter(|_| general.is_empty())
            .and_then(|keys| {
                let paths = columns
                    .iter()
                    .enumerate()
                    .filter_map(|(index, column)| Some((index, column.path.as_ref()?.segments()?)));
                KeyPlan::new(keys, paths, columns.len(), records.mode != RecordMode::One)
            });
        let direct = general.is_empty()
            && columns
                .iter()
                .zip(&multi)
                .all(|(column, &multi)| column.value.is_none() && column.path.is_some() && !multi);
        let read_in = |outside: fn(&ColumnSpec) -> bool| {
            (columns.iter().enumerate())
                .filter(|(_, column)| outside(column))
                .map(|(index, _)| index)
                .collect::<Vec<usize>>()
        };
        let page_columns = read_in(|column| column.page_path.is_some());
        let parent_columns = read_in(|column| column.parent_path.is_some());
        let parents = (records.parent.clone()).map(|parents| (parents, records.mode));
        Extractor {
            columns,
            multi,
            general,
            trie,
            plan,
            direct,
            missing_is_dirty: records.missing_is_dirty,
            bad_type_is_dirty: records.bad_type_is_dirty,
            note_absent: false,
            other_records: None,
            page_columns,
            parent_columns,
            parents,
        }
    }

    /// The extractor of inferred columns. Their column of the record
    /// itself, when fields of objects have columns too, is null for an
    /// object: its fields are in their own columns, and would be written
    /// twice. A declared `$` column holds every record.
    pub(crate) fn inferred(columns: Vec<ColumnSpec>, records: &Records) -> Extractor {
        let other_records = other_records(&columns);
        let mut extractor = Extractor::new(columns, records);
        // `records.on_missing` is of declared columns: an inferred one is
        // the union of the records' fields, which many records lack.
        extractor.missing_is_dirty = false;
        // Rare: such records are walked, not converted from their notes.
        extractor.direct &= other_records.is_none();
        extractor.other_records = other_records;
        extractor
    }

    /// The extractor noting absent values too (see [`Batch::tolerated`]),
    /// for declared columns, which a run warns of when no record has them.
    pub(crate) fn noting_absent(mut self) -> Extractor {
        self.note_absent = true;
        self
    }

    /// What the check of a page notes for [`Extractor::extract`].
    pub(crate) fn plan(&self) -> Option<&KeyPlan> {
        self.plan.as_ref()
    }

    /// Reads the values of the columns of `page_path` from `root`, the
    /// page the records of `batch` come from: once a page, each of its
    /// rows gets the same cell. So are the columns of `parent_path`, once
    /// a parent. Nothing for a job without such columns. Gives the
    /// parents, for `[incremental]` to read its cursor in.
    pub(crate) fn read_page<'v, N: Node<'v>>(&self, root: N, batch: &mut Batch<'v>) -> Vec<N> {
        batch.page.clear();
        for &index in &self.page_columns {
            let path = self.columns[index].page_path.as_ref();
            batch.page.push(self.read_outside(index, path, root));
        }
        batch.parents.clear();
        batch.parent_of.clear();
        let Some((parents, mode)) = &self.parents else {
            return Vec::new();
        };
        // A page whose records cannot be chosen fails where they are.
        let Ok(nested) = select_with_parents(root, parents, *mode) else {
            return Vec::new();
        };
        for &parent in &nested.parents {
            for &index in &self.parent_columns {
                let path = self.columns[index].parent_path.as_ref();
                batch.parents.push(self.read_outside(index, path, parent));
            }
        }
        batch.parent_of = nested.parent_of;
        nested.parents
    }

    /// The cell of column `index` read at `path` in `node`, a value
    /// outside the records.
    fn read_outside<'v, N: Node<'v>>(
        &self,
        index: usize,
        path: Option<&JsonPath>,
        node: N,
    ) -> PageCell<'v> {
        let column = &self.columns[index];
        let found: Vec<N> = path.map_or_else(Vec::new, |p| p.select(node));
        let none = self.multi[index] && found.is_empty();
        let cell = if self.multi[index] {
            convert_compound(column, json_array(&found))
        } else if let Some(&value) = found.first() {
            let mut cell = Cell::Null;
            let (view, text) = view_and_spelling(value);
            convert(view, text, column, &mut || json_text(value), &mut cell).map(|()| cell)
        } else {
            Err(Problem::Missing)
        };
        PageCell {
            column: index,
            cell,
            none,
        }
    }

    /// The cell [`Extractor::read_page`] read for column `index` of the
    /// page's record `ordinal`, outside it: in the page or in its parent.
    fn outside_cell<'v>(
        &self,
        (page, parents, parent_of): (&[PageCell<'v>], &[PageCell<'v>], &[u32]),
        ordinal: usize,
        index: usize,
    ) -> (Result<Cell<'v>, Problem>, bool) {
        if self.columns[index].page_path.is_some() {
            return page_cell(page, index);
        }
        let width = self.parent_columns.len();
        let parent = parent_of.get(ordinal).map(|&at| at as usize * width);
        let cells = parent.and_then(|at| parents.get(at..at + width));
        debug_assert!(
            cells.is_some(),
            "the parents are read for their columns before the records"
        );
        page_cell(cells.unwrap_or_default(), index)
    }

    /// The columns, in output order.
    pub(crate) fn columns(&self) -> &[ColumnSpec] {
        &self.columns
    }

    /// Extracts every record into `batch`; records with a missing or badly
    /// typed value go to `batch.dirty` when the job says so.
    pub(crate) fn extract<'v, N: Node<'v>>(
        &self,
        records: &[N],
        placeholders: &Placeholders,
        batch: &mut Batch<'v>,
    ) {
        self.extract_covered(records, placeholders, batch, None);
    }

    /// [`Extractor::extract`], checking each record against `covering`'s
    /// inferred columns on the way: false, and `batch` not whole, as soon
    /// as a record holds anything new.
    pub(crate) fn extract_covered<'v, N: Node<'v>>(
        &self,
        records: &[N],
        placeholders: &Placeholders,
        batch: &mut Batch<'v>,
        covering: Option<&Covering<'_>>,
    ) -> bool {
        let width = self.columns.len();
        batch.cells.reserve(records.len() * width);
        let mut found = Found::new(width);
        'records: for (ordinal, &record) in records.iter().enumerate() {
            if self.direct {
                match self.extract_noted(record, ordinal, batch, covering) {
                    Direct::Done => continue 'records,
                    Direct::Uncovered => return false,
                    Direct::Walk => {}
                }
            }
            if covering.is_some_and(|c| !c.inference.covers(record)) {
                return false;
            }
            found.gather(self, record, ordinal);
            let Found { single, many, .. } = &found;
            let held_elsewhere = self.other_records.filter(|_| record.is_object());
            let start = batch.cells.len();
            // Each cell is converted where it lies in the batch: one moved
            // in from the stack is loaded wider than it was stored, which
            // stalls the copy until the stores land.
            batch.cells.resize_with(start + width, || Cell::Null);
            for ((index, column), cell) in self
                .columns
                .iter()
                .enumerate()
                .zip(&mut batch.cells[start..])
            {
                let outcome = if held_elsewhere == Some(index) {
                    Ok(())
                } else if column.page_path.is_some() || column.parent_path.is_some() {
                    let (read, none) = self.outside_cell(
                        (&batch.page, &batch.parents, &batch.parent_of),
                        ordinal,
                        index,
                    );
                    if none {
                        self.tolerate(true, (batch.rows, index), &mut batch.tolerated);
                    }
                    read.map(|c| *cell = c)
                } else if let Some(template) = &column.value {
                    fill(template, placeholders).and_then(|text| {
                        let mut filled = Cell::Null;
                        let text_json = &mut || text.clone().into_bytes();
                        convert(View::Str(&text), None, column, text_json, &mut filled)?;
                        *cell = filled.into_owned();
                        Ok(())
                    })
                } else if let Some(path) =
                    (column.path.as_ref()).filter(|_| self.general.contains(&index))
                {
                    // The values are the record's own, which on the index
                    // keep a number's text.
                    let found: Vec<N> = path.select(record);
                    if found.is_empty() {
                        Err(Problem::Missing)
                    } else {
                        convert_compound(column, json_array(&found)).map(|c| *cell = c)
                    }
                } else if self.multi[index] {
                    // A multi-valued path gives the array of what it selects,
                    // `[]` when it selects nothing: noted as absent, so that
                    // a path no record has (misspelled) is warned of.
                    if many[index].is_empty() {
                        self.tolerate(true, (batch.rows, index), &mut batch.tolerated);
                    }
                    convert_compound(column, json_array(&many[index])).map(|c| *cell = c)
                } else {
                    match single[index] {
                        None => Err(Problem::Missing),
                        Some(value) => {
                            let (view, text) = view_and_spelling(value);
                            convert(view, text, column, &mut || json_text(value), cell)
                        }
                    }
                };
                let tolerated = &mut batch.tolerated;
                if let Err(problem) =
                    outcome.or_else(|p| self.settle(p, (batch.rows, index), tolerated))
                {
                    self.leave_dirty(record, ordinal, index, problem, start, batch);
                    continue 'records;
                }
            }
            batch.rows += 1;
        }
        true
    }

    /// Whether every column is one value at a path of keys, converted
    /// from the value alone.
    pub(crate) fn is_direct(&self) -> bool {
        self.direct
    }

    /// Whether a record without a column's value is dirty, rather than
    /// null there.
    pub(crate) fn absent_is_dirty(&self) -> bool {
        self.missing_is_dirty
    }

    /// Whether an absent value is noted among the tolerated cells.
    pub(crate) fn notes_absent(&self) -> bool {
        self.note_absent
    }

    /// Writes into `cell` the cell of column `index` for `view`, a value of
    /// a record that has one for every column and, with `shape`, nothing
    /// else: as [`Extractor::extract_noted`] converts it. `false` where
    /// that path would not write the cell as it stands: the value does
    /// not fit the inferred column (the record holds something new), or
    /// it does not convert (the record is dirty, or the cell null and
    /// noted). `cell` is null before it, and written in place, as there:
    /// a cell returned is loaded wider than it was stored, which stalls
    /// (a fifth of a shaped page's time).
    #[inline(always)]
    pub(crate) fn whole_cell<'v>(
        &self,
        index: usize,
        (view, text): (View<'v>, Option<&'v str>),
        shape: Option<&Shape>,
        json_text: &mut dyn FnMut() -> Vec<u8>,
        cell: &mut Cell<'v>,
    ) -> bool {
        if self.plain_cell(index, (view, text), shape, cell) {
            return true;
        }
        match shape.map(|shape| shape.fit(index, view)) {
            Some(Fit::No) => false,
            fitted => self
                .fitted_cell(index, (view, text), fitted, json_text, cell)
                .is_ok(),
        }
    }

    /// The first step of a noted value's conversion: a value that is its
    /// column's own type is its cell as it stands, and fits an inferred
    /// column of that type (one match, not the fit's and the
    /// conversion's). `false`, and `cell` as it was, for any other.
    #[inline(always)]
    fn plain_cell<'v>(
        &self,
        index: usize,
        value: (View<'v>, Option<&'v str>),
        shape: Option<&Shape>,
        cell: &mut Cell<'v>,
    ) -> bool {
        let kind = self.columns[index].kind;
        shape.is_none_or(|shape| shape.is(index, kind)) && put_plain(kind, value, cell)
    }

    /// The second step, for a value that is not its column's type: a
    /// timestamp the fit read already, or the conversion. `cell` is null
    /// before it.
    #[inline(always)]
    fn fitted_cell<'v>(
        &self,
        index: usize,
        (view, text): (View<'v>, Option<&'v str>),
        fitted: Option<Fit>,
        json_text: &mut dyn FnMut() -> Vec<u8>,
        cell: &mut Cell<'v>,
    ) -> Result<(), Problem> {
        let column = &self.columns[index];
        match fitted {
            Some(Fit::Timestamp(micros))
                if column.kind == ColumnType::Timestamp && column.format.is_none() =>
            {
                *cell = Cell::Timestamp(micros);
                Ok(())
            }
            _ => convert(view, text, column, json_text, cell),
        }
    }

    /// Extracts a record from the values its page's check noted, if it
    /// did; with `covering`, tells whether the record holds anything new
    /// from its shape where it can, reading a timestamp once for both.
    #[inline(always)]
    fn extract_noted<'v, N: Node<'v>>(
        &self,
        record: N,
        ordinal: usize,
        batch: &mut Batch<'v>,
        covering: Option<&Covering<'_>>,
    ) -> Direct {
        let width = self.columns.len();
        let start = batch.cells.len();
        let shape = covering.and_then(|c| c.shape);
        let (mut fault, mut found, mut fit) = (None, 0, true);
        batch.cells.resize_with(start + width, || Cell::Null);
        // The record's cells as a slice of their own: a cell stored
        // through `batch.cells` might change `batch` itself, as far as
        // the compiler can tell, so each one reloaded the Vec.
        let row = &mut batch.cells[start..];
        let (rows, tolerated) = (batch.rows, &mut batch.tolerated);
        let noted = record.noted_columns(ordinal, |index, value| {
            let Some(value) = value else {
                if fault.is_none() {
                    fault = self
                        .settle(Problem::Missing, (rows, index), tolerated)
                        .err()
                        .map(|p| (index, p));
                }
                return;
            };
            found += 1;
            let (view, text) = view_and_spelling(value);
            // Written in its place even after a fault, which drops the
            // record's cells: a cell built aside and then moved in is
            // loaded wider than it was stored, and the load stalls.
            if self.plain_cell(index, (view, text), shape, &mut row[index]) {
                return;
            }
            let fitted = shape.map(|shape| shape.fit(index, view));
            fit &= fitted != Some(Fit::No);
            if fault.is_some() {
                return;
            }
            let json_text = &mut || json_text(value);
            let outcome = self.fitted_cell(index, (view, text), fitted, json_text, &mut row[index]);
            if let Err(problem) = outcome.or_else(|p| self.settle(p, (rows, index), tolerated)) {
                fault = Some((index, problem));
            }
        });
        if !noted {
            batch.cells.truncate(start);
            forget_tolerated(batch);
            return Direct::Walk;
        }
        if let Some(covering) = covering {
            // Every column found in a record of the exact shape: the
            // values' fit tells; else the walk does.
            let told = shape.filter(|s| found == width && s.exact(record));
            let covered = told.map_or_else(|| covering.inference.covers(record), |_| fit);
            if !covered {
                batch.cells.truncate(start);
                forget_tolerated(batch);
                return Direct::Uncovered;
            }
        }
        match fault {
            None => batch.rows += 1,
            Some((index, problem)) => {
                self.leave_dirty(record, ordinal, index, problem, start, batch)
            }
        }
        Direct::Done
    }

    /// Takes the cells of the record from `start` on back out of `batch`
    /// and leaves the record among the dirty ones, for its column `index`.
    #[cold]
    fn leave_dirty<'v, N: Node<'v>>(
        &self,
        record: N,
        ordinal: usize,
        index: usize,
        problem: Problem,
        start: usize,
        batch: &mut Batch<'v>,
    ) {
        batch.cells.truncate(start);
        forget_tolerated(batch);
        let column = &self.columns[index];
        batch.dirty.push(DirtyRecord {
            kind: problem.kind(column),
            reason: problem.describe(column),
            ordinal,
            record: json_text(record),
        });
    }

    /// Leaves a null for a problem the job tolerates, noted in `tolerated`
    /// at `at` (row, column).
    fn settle(
        &self,
        problem: Problem,
        (row, column): (usize, usize),
        tolerated: &mut Vec<Tolerated>,
    ) -> Result<(), Problem> {
        let dirty = match &problem {
            Problem::Missing => self.missing_is_dirty,
            Problem::BadType(_) => self.bad_type_is_dirty,
            Problem::Template(_) => true,
        };
        if dirty {
            return Err(problem);
        }
        self.tolerate(
            matches!(problem, Problem::Missing),
            (row, column),
            tolerated,
        );
        Ok(())
    }

    /// Notes in `tolerated` a cell written for a problem the job tolerates
    /// at `at` (row, column): an absent value only where the extractor
    /// notes absent values.
    fn tolerate(
        &self,
        missing: bool,
        (row, column): (usize, usize),
        tolerated: &mut Vec<Tolerated>,
    ) {
        if !missing || self.note_absent {
            tolerated.push(Tolerated {
                row,
                column,
                missing,
            });
        }
    }
}

/// What a walked record holds at each column's path, in buffers kept
/// from record to record.
struct Found<N> {
    hits: Vec<(usize, N)>,
    scratch: Vec<N>,
    /// The value of each one-valued path.
    single: Vec<Option<N>>,
    /// The values of each multi-valued path.
    many: Vec<Vec<N>>,
}

impl<'v, N: Node<'v>> Found<N> {
    fn new(width: usize) -> Found<N> {
        Found {
            hits: Vec::new(),
            scratch: Vec::new(),
            single: vec![None; width],
            many: vec![Vec::new(); width],
        }
    }

    /// Finds `record`'s values: from its page's notes where the check
    /// took them, else by a walk of the columns' trie.
    fn gather(&mut self, extractor: &Extractor, record: N, ordinal: usize) {
        let hits = &mut self.hits;
        hits.clear();
        if !record.noted_columns(ordinal, |column, value| {
            if let Some(value) = value {
                hits.push((column, value));
            }
        }) {
            walk_trie(&extractor.trie, 0, record, hits, &mut self.scratch);
        }
        self.single.iter_mut().for_each(|s| *s = None);
        self.many.iter_mut().for_each(Vec::clear);
        for &(column, value) in &self.hits {
            if extractor.multi[column] {
                self.many[column].push(value);
            } else {
                self.single[column] = Some(value);
            }
        }
    }
}

/// Counts `tolerated` cells by column, for `width` columns: those written
/// as null for their type, then those absent.
pub(crate) fn tolerated_by_column(tolerated: &[Tolerated], width: usize) -> Vec<[u64; 2]> {
    let mut by_column = vec![[0u64; 2]; width];
    for cell in tolerated {
        if let Some(counts) = by_column.get_mut(cell.column) {
            counts[usize::from(cell.missing)] += 1;
        }
    }
    by_column
}

/// Forgets the tolerated cells of the record being extracted, which is
/// left out, or extracted again another way.
#[cold]
fn forget_tolerated(batch: &mut Batch<'_>) {
    while batch.tolerated.last().is_some_and(|t| t.row == batch.rows) {
        batch.tolerated.pop();
    }
}

impl<'a> Cell<'a> {
    fn into_owned(self) -> Cell<'static> {
        match self {
            Cell::Null => Cell::Null,
            Cell::Bool(b) => Cell::Bool(b),
            Cell::Int(i) => Cell::Int(i),
            Cell::Float(f) => Cell::Float(f),
            Cell::Double(d) => Cell::Double(d),
            // Cells made owned are a template's, made from its text, not
            // a page's number.
            Cell::DoubleText(d, _) => Cell::Double(d),
            Cell::Str(s) => Cell::Str(Cow::Owned(s.into_owned())),
            Cell::Json(j) => Cell::Json(j),
            Cell::Date(d) => Cell::Date(d),
            Cell::Timestamp(t) => Cell::Timestamp(t),
            Cell::Binary(b) => Cell::Binary(b),
        }
    }
}

/// The cell of page column `index` that [`Extractor::read_page`] read,
/// and whether its multi-valued path selected nothing: missing where the
/// page was not read for it.
fn page_cell<'v>(page: &[PageCell<'v>], index: usize) -> (Result<Cell<'v>, Problem>, bool) {
    let read = page.iter().find(|read| read.column == index);
    debug_assert!(
        read.is_some(),
        "the page is read for its columns before its records"
    );
    read.map_or((Err(Problem::Missing), false), |read| {
        (read.cell.clone(), read.none)
    })
}

/// The JSON text of an array of `values`.
pub(crate) fn json_array<'v, N: Node<'v>>(values: &[N]) -> Vec<u8> {
    let mut text = vec![b'['];
    for (i, value) in values.iter().enumerate() {
        if i > 0 {
            text.push(b',');
        }
        value.write_json(&mut text);
    }
    text.push(b']');
    text
}

fn json_text<'v, N: Node<'v>>(value: N) -> Vec<u8> {
    let mut text = Vec::new();
    value.write_json(&mut text);
    text
}

fn child(trie: &mut Vec<TrieNode>, node: usize, segment: &Segment) -> usize {
    let existing = match segment {
        Segment::Key(key) => {
            let i = trie[node].keys.add(key);
            trie[node].children.get(i).copied()
        }
        Segment::Index(i) => trie[node]
            .indexes
            .iter()
            .find(|(k, _)| k == i)
            .map(|(_, c)| *c),
        Segment::Wildcard => trie[node].wildcard,
    };
    if let Some(found) = existing {
        return found;
    }
    let id = trie.len();
    trie.push(TrieNode::default());
    match segment {
        Segment::Key(_) => trie[node].children.push(id),
        Segment::Index(i) => trie[node].indexes.push((*i, id)),
        Segment::Wildcard => trie[node].wildcard = Some(id),
    }
    id
}

fn walk_trie<'v, N: Node<'v>>(
    trie: &[TrieNode],
    node: usize,
    value: N,
    hits: &mut Vec<(usize, N)>,
    scratch: &mut Vec<N>,
) {
    let here = &trie[node];
    for &column in &here.columns {
        hits.push((column, value));
    }
    if here.keys.len() <= N::KEYS_PER_GET || here.keys.len() > 64 {
        for (i, &next) in here.children.iter().enumerate() {
            if let Some(child) = value.get(here.keys.key(i)) {
                walk_trie(trie, next, child, hits, scratch);
            }
        }
    } else {
        // One pass over the object for all the keys wanted here, rather
        // than one scan per key.
        let mut found: u64 = 0;
        let mut next = 0;
        value.members_while(|key, child| {
            if let Some(i) = here.keys.find(key, found, next) {
                found |= 1 << i;
                next = i + 1;
                walk_trie(trie, here.children[i], child, hits, scratch);
            }
            found != here.keys.all()
        });
    }
    for (index, next) in &here.indexes {
        if let Some(child) = value.at(*index) {
            walk_trie(trie, *next, child, hits, scratch);
        }
    }
    if let Some(next) = here.wildcard {
        let start = scratch.len();
        value.children(scratch);
        let children: Vec<N> = scratch.drain(start..).collect();
        for child in children {
            walk_trie(trie, next, child, hits, scratch);
        }
    }
}

/// Among inferred columns, the index of the record's own (`value`) when
/// fields of objects have columns too: it then holds the records that
/// are not objects (see [`Extractor::inferred`]).
pub(crate) fn other_records(columns: &[ColumnSpec]) -> Option<usize> {
    let depth = |column: &ColumnSpec| column.path.as_ref()?.segments().map(<[_]>::len);
    let fields = columns.iter().any(|c| depth(c).is_some_and(|d| d > 0));
    columns
        .iter()
        .position(|c| depth(c) == Some(0))
        .filter(|_| fields)
}

/// Infers columns from records as a run under `policy` fixes them once
/// sampled: nested objects flattened with `separator`, arrays kept as
/// `json`, types widened long → double → string (or, as
/// [`Policy::mixed`] says, `json` for values of different kinds). A
/// column seen only as null is `json` where the columns grow (NDJSON),
/// else `string`; see [`Inference`].
pub(crate) fn infer_columns<'v, N: Node<'v>>(
    records: &[N],
    separator: &str,
    policy: Policy,
) -> Vec<ColumnSpec> {
    let mut inference = Inference::new(separator, policy.mixed());
    inference.feed(records, Policy::Grow);
    inference.fix_for(policy);
    inference.columns()
}

/// A value's view, with a double's text as its page spells it where the
/// node keeps it: only a double's is asked for, as the cells of other
/// values do not take it.
#[inline(always)]
fn view_and_spelling<'v, N: Node<'v>>(value: N) -> (View<'v>, Option<&'v str>) {
    let view = value.view();
    let text = match view {
        View::F64(_) => value.number_text(),
        _ => None,
    };
    (view, text)
}

/// Puts the cell of a value that is already of its column's type in
/// `cell`, as [`convert()`] makes it: a string, a long, a double (with
/// its `text`, where the page is at hand), a boolean. `false`, and `cell`
/// left as it was, for any other pair, which goes through the conversion.
#[inline(always)]
fn put_plain<'v>(
    kind: ColumnType,
    (view, text): (View<'v>, Option<&'v str>),
    cell: &mut Cell<'v>,
) -> bool {
    match (kind, view) {
        (ColumnType::String, View::Str(s)) => *cell = Cell::Str(Cow::Borrowed(s)),
        (ColumnType::Long, View::I64(i)) => *cell = Cell::Int(i),
        (ColumnType::Double, View::F64(f)) => *cell = double_cell(f, text),
        (ColumnType::Boolean, View::Bool(b)) => *cell = Cell::Bool(b),
        _ => return false,
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(kind: ColumnType, format: Option<&str>) -> ColumnSpec {
        ColumnSpec {
            name: "c".to_owned(),
            path: Some(JsonPath::member("c")),
            page_path: None,
            parent_path: None,
            kind,
            format: format.map(str::to_owned),
            value: None,
        }
    }

    #[test]
    fn a_value_of_its_columns_type_is_the_cell_the_conversion_makes() {
        use ColumnType::*;
        let kinds = [
            String, Int, Long, Float, Double, Boolean, Date, Timestamp, Json, Binary,
        ];
        let views = [
            View::Str("text"),
            View::Str("2024-02-29T23:59:59.5Z"),
            View::Str("true"),
            View::I64(-3),
            View::I64(i64::MAX),
            View::U64(u64::MAX),
            View::F64(2.5),
            View::F64(-0.0),
            View::Bool(false),
            View::Null,
            View::Big("1e999"),
            View::Compound,
        ];
        let mut plain = Vec::new();
        for kind in kinds {
            for view in views {
                let mut cell = Cell::Null;
                if !put_plain(kind, (view, None), &mut cell) {
                    assert_eq!(cell, Cell::Null, "{kind:?} {view:?}");
                    continue;
                }
                let mut converted = Cell::Null;
                let outcome = convert(
                    view,
                    None,
                    &column(kind, None),
                    &mut || b"{}".to_vec(),
                    &mut converted,
                );
                assert!(outcome.is_ok(), "{kind:?} {view:?}");
                assert_eq!(converted, cell, "{kind:?} {view:?}");
                // And it fits a column inferred as its type, so the fit's
                // test may be left out.
                assert_eq!(
                    infer::fit(Some(kind), view, Mixed::Text),
                    Fit::Yes,
                    "{kind:?} {view:?}"
                );
                plain.push(format!("{kind:?} {view:?}"));
            }
        }
        // Only a value already of its column's type skips the conversion.
        assert_eq!(
            plain,
            [
                "String Str(\"text\")",
                "String Str(\"2024-02-29T23:59:59.5Z\")",
                "String Str(\"true\")",
                "Long I64(-3)",
                "Long I64(9223372036854775807)",
                "Double F64(2.5)",
                "Double F64(-0.0)",
                "Boolean Bool(false)",
            ]
        );
    }

    fn conv(kind: ColumnType, json: &str) -> Result<Cell<'static>, String> {
        conv_fmt(kind, None, json)
    }

    fn conv_fmt(
        kind: ColumnType,
        format: Option<&str>,
        json: &str,
    ) -> Result<Cell<'static>, String> {
        let mut scratch = crate::json::Scratch::default();
        let mut parser = crate::json::Parser::default();
        let col = column(kind, format);
        let value = parser.parse(json.as_bytes(), &mut scratch).unwrap();
        let from_tree = conv_node(&value, &col);
        // The structural index gives the same cell, or the same reason;
        // but a number's text is the page's there, and a tree's double
        // prints as its shortest text.
        let mut scanner = crate::json::scan::Scanner::default();
        let doc = scanner.scan(json.as_bytes(), None).unwrap();
        let from_index = conv_node(doc.root(), &col);
        let number = json.bytes().any(|b| b.is_ascii_digit());
        assert!(
            from_index == from_tree || number && from_index.is_err() == from_tree.is_err(),
            "{json}: {from_index:?} by the index, {from_tree:?} by the tree"
        );
        from_index
    }

    /// How many records of `page` were noted under `plan`, and what
    /// extraction made of them: rows, cells (a `json` cell as its text),
    /// and each dirty record's reason and text.
    fn extract_page(
        extractor: &Extractor,
        records: &Records,
        page: &str,
        plan: Option<&KeyPlan>,
    ) -> (usize, usize, Vec<String>, Vec<(String, String)>) {
        let mut scanner = crate::json::scan::Scanner::default();
        extract_with(&mut scanner, extractor, records, page, plan)
    }

    /// [`extract_page`] with a scanner that may have scanned other pages.
    fn extract_with(
        scanner: &mut crate::json::scan::Scanner,
        extractor: &Extractor,
        records: &Records,
        page: &str,
        plan: Option<&KeyPlan>,
    ) -> (usize, usize, Vec<String>, Vec<(String, String)>) {
        let doc = scanner.scan(page.as_bytes(), plan).unwrap();
        let found = select_records(doc.root(), records).unwrap();
        let noted = found
            .iter()
            .enumerate()
            .filter(|&(i, record)| record.noted_columns(i, |_, _| {}))
            .count();
        let mut batch = Batch::default();
        extractor.extract(&found, &Placeholders::new(), &mut batch);
        let cells = batch
            .cells
            .iter()
            .map(|cell| match cell {
                Cell::Json(text) => String::from_utf8(text.clone()).unwrap(),
                other => format!("{other:?}"),
            })
            .collect();
        let dirty = batch
            .dirty
            .iter()
            .map(|d| {
                (
                    d.reason.clone(),
                    String::from_utf8(d.record.clone()).unwrap(),
                )
            })
            .collect();
        (noted, batch.rows, cells, dirty)
    }

    /// A column of one value at `path`.
    fn key_column(name: &str, path: &str, kind: ColumnType) -> ColumnSpec {
        ColumnSpec {
            name: name.to_owned(),
            path: Some(JsonPath::parse(path).unwrap()),
            page_path: None,
            parent_path: None,
            kind,
            format: None,
            value: None,
        }
    }

    fn records_at(path: Option<&str>, mode: RecordMode, missing_is_dirty: bool) -> Records {
        Records {
            lines: false,
            path: path.map(|p| JsonPath::parse(p).unwrap()),
            mode,
            missing_is_dirty,
            bad_type_is_dirty: true,
            max_dirty: 0,
            dirty_path: None,
            flatten: ".".to_owned(),
            infer_pages: 1,
            paged: false,
            non_finite_null: false,
            parent: None,
        }
    }

    /// The `json` cells of `paths` in the records at `records_path` of
    /// `page`, taken from what the check noted, and how many records were
    /// noted; the cells are checked against the extractor's own walk.
    fn noted_cells(
        page: &str,
        records_path: Option<&str>,
        mode: RecordMode,
        paths: &[&str],
    ) -> (Vec<String>, usize) {
        let columns = paths
            .iter()
            .map(|path| key_column(path, path, ColumnType::Json))
            .collect();
        let records = records_at(records_path, mode, false);
        let extractor = Extractor::new(columns, &records);
        let plan = extractor.plan().expect("paths of keys are planned");
        let extract = |plan| {
            let (noted, _, cells, _) = extract_page(&extractor, &records, page, plan);
            (cells, noted)
        };
        let (cells, noted) = extract(Some(plan));
        let (walked, none_noted) = extract(None);
        assert_eq!(none_noted, 0);
        assert_eq!(cells, walked, "{page}");
        (cells, noted)
    }

    #[test]
    fn noted_records_are_left_dirty_as_walked_ones_are() {
        let page = r#"{"data":[{"a":1,"b":"x"},{"b":"y"},{"a":"z","b":"w"},{"a":2.5,"b":"u"},{"a":5},{"a":4,"b":"v"}]}"#;
        let columns = vec![
            key_column("a", "a", ColumnType::Long),
            key_column("b", "b", ColumnType::String),
        ];
        let records = records_at(Some("data"), RecordMode::Auto, true);
        let extractor = Extractor::new(columns, &records);
        let (noted, rows, cells, dirty) =
            extract_page(&extractor, &records, page, extractor.plan());
        assert_eq!(noted, 6);
        let (none_noted, walked_rows, walked_cells, walked_dirty) =
            extract_page(&extractor, &records, page, None);
        assert_eq!(none_noted, 0);
        assert_eq!(
            (rows, &cells, &dirty),
            (walked_rows, &walked_cells, &walked_dirty)
        );
        assert_eq!(rows, 2);
        assert_eq!(cells, ["Int(1)", r#"Str("x")"#, "Int(4)", r#"Str("v")"#]);
        assert_eq!(
            dirty,
            [
                (
                    "column `a`: no value at `a`".to_owned(),
                    r#"{"b":"y"}"#.to_owned()
                ),
                (
                    r#"column `a` (long): "z" is not an integer"#.to_owned(),
                    r#"{"a":"z","b":"w"}"#.to_owned()
                ),
                (
                    "column `a` (long): 2.5 is not an integer (a `double` column keeps fractions)"
                        .to_owned(),
                    r#"{"a":2.5,"b":"u"}"#.to_owned()
                ),
                (
                    "column `b`: no value at `b`".to_owned(),
                    r#"{"a":5}"#.to_owned()
                ),
            ]
        );
    }

    #[test]
    fn records_of_one_shape_are_noted_by_their_keys_not_their_places() {
        // Every record has the kinds of the first, which the check then
        // compares rather than walks: keys in other places, a repeated
        // key, a key with an escape and a wanted value that is an array
        // must still come out as a walk finds them.
        let page = r#"{"data":[
            {"a":1,"b":{"c":"x","d":[1,2]},"e":"p"},
            {"a":2,"b":{"c":"y","d":[3,4]},"e":"q"},
            {"e":3,"b":{"c":"z","d":[5,6]},"a":"r"},
            {"a":4,"b":{"d":"w","c":[7,8]},"e":"s"},
            {"a":5,"a":{"c":"v","d":[9,0]},"e":"t"},
            {"\u0061":6,"b":{"c":"u","d":[1,2]},"a":7},
            {"a":8,"b":{"c":"o","d":[3,4]},"e":"n"}
        ]}"#;
        let columns = vec![
            key_column("a", "a", ColumnType::Long),
            key_column("c", "b.c", ColumnType::Json),
            key_column("e", "e", ColumnType::Json),
        ];
        let records = records_at(Some("data"), RecordMode::Auto, false);
        let extractor = Extractor::new(columns, &records);
        let (noted, rows, cells, dirty) =
            extract_page(&extractor, &records, page, extractor.plan());
        assert_eq!(noted, 6, "all but the record with an escaped key");
        let (_, walked_rows, walked_cells, walked_dirty) =
            extract_page(&extractor, &records, page, None);
        assert_eq!(
            (rows, &cells, &dirty),
            (walked_rows, &walked_cells, &walked_dirty)
        );
        assert_eq!(
            cells,
            [
                "Int(1)", r#""x""#, r#""p""#, //
                "Int(2)", r#""y""#, r#""q""#, //
                "Int(4)", "[7,8]", r#""s""#, //
                "Int(5)", "Null", r#""t""#, //
                "Int(6)", r#""u""#, "Null", //
                "Int(8)", r#""o""#, r#""n""#,
            ]
        );
        assert_eq!(
            dirty,
            [(
                r#"column `a` (long): "r" is not an integer"#.to_owned(),
                r#"{"e":3,"b":{"c":"z","d":[5,6]},"a":"r"}"#.to_owned()
            )]
        );
    }

    #[test]
    fn a_record_shape_kept_from_a_page_is_noted_anew_under_another_plan() {
        // A scanner keeps the shape of records, and how their columns were
        // noted, from page to page. Under another plan (the columns of a
        // refit) the same shape notes other columns.
        let page = r#"{"data":[{"a":1,"b":"x","c":true},{"a":2,"b":"y","c":false}]}"#;
        let records = records_at(Some("data"), RecordMode::Auto, false);
        let first = Extractor::new(
            vec![
                key_column("a", "a", ColumnType::Long),
                key_column("b", "b", ColumnType::String),
            ],
            &records,
        );
        let second = Extractor::new(
            vec![
                key_column("c", "c", ColumnType::Boolean),
                key_column("b", "b", ColumnType::String),
                key_column("a", "a", ColumnType::Long),
            ],
            &records,
        );
        let mut scanner = crate::json::scan::Scanner::default();
        for extractor in [&first, &second, &first] {
            let kept = extract_with(&mut scanner, extractor, &records, page, extractor.plan());
            let fresh = extract_page(extractor, &records, page, None);
            assert_eq!(kept.0, 2, "both records noted");
            assert_eq!((kept.1, &kept.2, &kept.3), (fresh.1, &fresh.2, &fresh.3));
        }
        let (_, _, cells, _) = extract_with(&mut scanner, &second, &records, page, second.plan());
        assert_eq!(
            cells,
            [
                "Bool(true)",
                r#"Str("x")"#,
                "Int(1)", //
                "Bool(false)",
                r#"Str("y")"#,
                "Int(2)",
            ]
        );
    }

    #[test]
    fn a_bad_literal_in_a_record_of_a_known_shape_is_found_where_a_walk_finds_it() {
        let extractor = Extractor::new(
            vec![key_column("a", "a", ColumnType::Long)],
            &records_at(Some("data"), RecordMode::Auto, false),
        );
        for bad in ["tru", "01", "-", "1.", "nul", "1e"] {
            let page = format!(
                r#"{{"data":[{{"a":1,"b":null}},{{"a":2,"b":null}},{{"a":{bad},"b":null}}]}}"#
            );
            let scan = |plan| {
                crate::json::scan::Scanner::default()
                    .scan(page.as_bytes(), plan)
                    .map(|_| ())
                    .unwrap_err()
                    .to_string()
            };
            let found = scan(extractor.plan());
            assert_eq!(found, scan(None), "{page}");
            assert_eq!(
                found,
                format!("invalid literal `{bad}` at byte 48"),
                "{page}"
            );
        }
    }

    #[test]
    fn a_broken_byte_in_records_of_one_shape_is_found_as_a_walk_finds_it() {
        let record = r#"{"a":1,"b":{"c":"x","d":[1,true]},"e":null}"#;
        let page = format!(r#"{{"data":[{record},{record},{record},{record}]}}"#);
        let records = records_at(Some("data"), RecordMode::Auto, false);
        let columns = vec![
            key_column("a", "a", ColumnType::Json),
            key_column("c", "b.c", ColumnType::Json),
        ];
        let extractor = Extractor::new(columns, &records);
        let plan = extractor.plan();
        assert!(plan.is_some());
        let (mut rejected, mut accepted) = (0, 0);
        // The last two records, checked against the first's shape.
        for at in page.len() - 2 * record.len()..page.len() {
            for byte in *b"{}[],:\" 0a-." {
                let mut broken = page.clone().into_bytes();
                broken[at] = byte;
                let scan = |plan| {
                    crate::json::scan::Scanner::default()
                        .scan(&broken, plan)
                        .map(|_| ())
                        .map_err(|e| e.to_string())
                };
                let found = scan(plan);
                assert_eq!(found, scan(None), "{}", String::from_utf8_lossy(&broken));
                if found.is_ok() {
                    accepted += 1;
                    let text = std::str::from_utf8(&broken).unwrap();
                    let (_, rows, cells, dirty) = extract_page(&extractor, &records, text, plan);
                    let (_, walked_rows, walked_cells, walked_dirty) =
                        extract_page(&extractor, &records, text, None);
                    assert_eq!(
                        (rows, cells, dirty),
                        (walked_rows, walked_cells, walked_dirty),
                        "{text}"
                    );
                } else {
                    rejected += 1;
                }
            }
        }
        assert!(rejected > 500 && accepted > 100, "{rejected} {accepted}");
    }

    fn strings(cells: &[&str]) -> Vec<String> {
        cells.iter().map(|c| (*c).to_owned()).collect()
    }

    #[test]
    fn an_empty_object_at_the_records_path_is_no_record() {
        for (page, mode, count) in [
            (r#"{"data":{}}"#, RecordMode::Auto, 0),
            (r#"{"data":{ }}"#, RecordMode::Auto, 0),
            (r#"{"data":{"a":1}}"#, RecordMode::Auto, 1),
            (r#"{"data":[{}]}"#, RecordMode::Auto, 1),
            // A job that says its records are one object keeps it.
            (r#"{"data":{}}"#, RecordMode::One, 1),
        ] {
            let records = records_at(Some("data"), mode, false);
            let mut bytes = page.as_bytes().to_vec();
            let tree = simd_json::to_borrowed_value(&mut bytes).unwrap();
            let selected = select_records(&tree, &records).unwrap();
            assert_eq!(selected.len(), count, "{page} {mode:?}");
            let doc = crate::json::scan::Scanner::default()
                .scan(page.as_bytes(), None)
                .map(|doc| select_records(doc.root(), &records).unwrap().len());
            assert_eq!(doc, Ok(count), "{page} {mode:?}");
        }
    }

    #[test]
    fn noted_columns_are_the_columns_a_walk_finds() {
        let auto = RecordMode::Auto;
        // A repeated key keeps its first value, also for the object under it.
        let (cells, noted) = noted_cells(
            r#"{"data":[{"a":1,"a":2,"b":{"c":1},"b":{"c":2,"d":3}}]}"#,
            Some("data"),
            auto,
            &["a", "b.c", "b.d"],
        );
        assert_eq!((cells, noted), (strings(&["1", "1", "Null"]), 1));
        // A key with an escape may be a wanted one: such a record is walked.
        let (cells, noted) = noted_cells(
            r#"{"data":[{"\u0061":5,"a":6},{"x\"y":1,"a":7},{"a":8}]}"#,
            Some("data"),
            auto,
            &["a"],
        );
        assert_eq!((cells, noted), (strings(&["5", "7", "8"]), 1));
        // The records are under the first of repeated keys, though the
        // first is written with an escape.
        let (cells, noted) = noted_cells(
            r#"{"d\u0061ta":[{"a":1}],"data":[{"a":2}]}"#,
            Some("data"),
            auto,
            &["a"],
        );
        assert_eq!((cells, noted), (strings(&["1"]), 0));
        let (cells, noted) = noted_cells(
            r#"{"data":[{"a":1}],"data":[{"a":2}]}"#,
            Some("data"),
            auto,
            &["a"],
        );
        assert_eq!((cells, noted), (strings(&["1"]), 1));
        // One object as the record, and an array as one record.
        let page = r#"{"data":{"a":{"b":[1, 2]}}}"#;
        let (cells, noted) = noted_cells(page, Some("data"), auto, &["a.b", "a"]);
        assert_eq!((cells, noted), (strings(&["[1,2]", r#"{"b":[1,2]}"#]), 1));
        let (cells, noted) = noted_cells(
            r#"{"data":[{"a":1}]}"#,
            Some("data"),
            RecordMode::One,
            &["a"],
        );
        assert_eq!((cells, noted), (strings(&["Null"]), 0));
        // Records that are not objects, at the page's root; values that
        // are not objects on a column's way.
        let (cells, noted) = noted_cells(
            r#"[{"a":1},2,"s",null,{"b":{"c":{"d":3}}},{"b":[{"c":1}]},{"b":"c"}]"#,
            None,
            auto,
            &["a", "b.c"],
        );
        let expected = [
            "1",
            "Null",
            "Null",
            "Null",
            "Null",
            "Null",
            "Null",
            "Null",
            "Null",
            r#"{"d":3}"#,
            "Null",
            "Null",
            "Null",
            "Null",
        ];
        assert_eq!((cells, noted), (strings(&expected), 4));
        // Keys of eight bytes and more are compared whole, past their print.
        let (cells, noted) = noted_cells(
            r#"{"result":{"items":[{"created_at":1,"created_by":2,"cre___at":3}]}}"#,
            Some("result.items"),
            auto,
            &["created_by", "created_at"],
        );
        assert_eq!((cells, noted), (strings(&["2", "1"]), 1));
    }

    #[test]
    fn corpus_pages_are_noted_whole() {
        let page = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../fixtures/corpus/nested.json"
        ))
        .unwrap();
        let paths = [
            "number",
            "title",
            "user.login",
            "user.profile.location",
            "created_at",
        ];
        let (cells, noted) = noted_cells(&page, Some("data"), RecordMode::Auto, &paths);
        let records = cells.len() / paths.len();
        assert!(records > 10);
        assert_eq!(noted, records);
        assert_eq!(cells[2], r#""harbor688""#);
        assert_eq!(cells[3], r#""Lyon""#);
    }

    fn conv_node<'v>(value: impl Node<'v>, col: &ColumnSpec) -> Result<Cell<'static>, String> {
        let mut cell = Cell::Null;
        let (view, text) = view_and_spelling(value);
        convert(
            view,
            text,
            col,
            &mut || {
                let mut t = Vec::new();
                value.write_json(&mut t);
                t
            },
            &mut cell,
        )
        .map(|()| cell.into_owned())
        .map_err(|p| p.describe(col))
    }

    #[test]
    fn utc_seconds_read_as_chrono_reads_them() {
        let chrono_micros = |s: &str| {
            DateTime::parse_from_rfc3339(s)
                .ok()
                .map(|dt| dt.timestamp() * 1_000_000)
        };
        let mut checked = 0;
        for year in [
            0, 1, 4, 99, 100, 400, 1600, 1900, 1969, 1970, 2000, 2023, 2024, 2100, 9999,
        ] {
            for month in 0..=13 {
                for day in [0, 1, 15, 28, 29, 30, 31, 32] {
                    for (h, m, sec) in
                        [(0, 0, 0), (23, 59, 59), (24, 0, 0), (12, 60, 0), (1, 2, 60)]
                    {
                        let s = format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{sec:02}Z");
                        let fast = utc_seconds_micros(s.as_bytes());
                        if fast.is_some() {
                            checked += 1;
                        }
                        // The fast path agrees with chrono where it answers.
                        if fast.is_some() || sec != 60 {
                            assert_eq!(fast, chrono_micros(&s), "{s}");
                        }
                    }
                }
            }
        }
        assert!(checked > 1000, "{checked}");
        assert_eq!(
            utc_seconds_micros(b"2023-11-14T22:13:35Z"),
            Some(1_700_000_015_000_000)
        );
        // Fractions of a second, kept to microseconds as chrono keeps them.
        let chrono_exact = |s: &str| {
            DateTime::parse_from_rfc3339(s)
                .ok()
                .map(|dt| dt.timestamp() * 1_000_000 + i64::from(dt.timestamp_subsec_micros()))
        };
        // Fractions of every length with every digit in every place.
        let mut next = crate::json::xorshift(0x9e37_79b9_7f4a_7c15);
        for places in 1..=9 {
            for _ in 0..300 {
                let digits = format!("{:09}", next() % 1_000_000_000);
                let s = format!("2023-11-14T22:13:35.{}Z", &digits[..places]);
                assert_eq!(utc_seconds_micros(s.as_bytes()), chrono_exact(&s), "{s}");
            }
        }
        for fraction in ["5", "25", "123", "000001", "1234567", "999999999", "0"] {
            let s = format!("2023-11-14T22:13:35.{fraction}Z");
            assert_eq!(utc_seconds_micros(s.as_bytes()), chrono_exact(&s), "{s}");
            assert!(utc_seconds_micros(s.as_bytes()).is_some(), "{s}");
        }
        for other in [
            "2023-11-14T22:13:35.Z",
            "2023-11-14T22:13:35.5x",
            "2023-11-14T22:13:35.1234567890Z",
            "2023-11-14T22:13:35.12+01:00",
            "2023-11-14T22:13:35+01:00",
            "2023-11-14 22:13:35Z",
            "2023-1x-14T22:13:35Z",
            "2023-11-14T22:13:35Zx",
            "2023-11-14T22:13:35",
        ] {
            assert_eq!(utc_seconds_micros(other.as_bytes()), None, "{other}");
        }
        // A byte just outside the digits, or a wrong separator, at every
        // place of the text.
        let good = *b"2023-11-14T22:13:35Z";
        for at in 0..good.len() {
            for bad in [b'/', b':', b'T', b'-', b'Z', b' ', 0x7f, 0xc3, 0xfa, 0xff] {
                let mut text = good;
                if text[at] == bad {
                    continue;
                }
                text[at] = bad;
                assert_eq!(
                    utc_seconds_micros(&text),
                    None,
                    "{}",
                    String::from_utf8_lossy(&text)
                );
            }
        }
        // A non-digit at every place of a fraction of every length, and
        // fractions past the sixth digit, as chrono reads them.
        for places in 1..=10 {
            let digits = &"1234567891"[..places];
            let s = format!("2023-11-14T22:13:35.{digits}Z");
            // Ten places are left to chrono.
            let fast = utc_seconds_micros(s.as_bytes());
            assert_eq!(fast, chrono_exact(&s).filter(|_| places <= 9), "{s}");
            for at in 0..places {
                for bad in [b'/', b':', b'a', b' ', b'.'] {
                    let mut text = s.clone().into_bytes();
                    text[20 + at] = bad;
                    assert_eq!(
                        utc_seconds_micros(&text),
                        None,
                        "{}",
                        String::from_utf8_lossy(&text)
                    );
                }
            }
        }
        for other in [
            "2023-11-14t22:13:35Z",
            "2023-11-14T22:13:35z",
            "2023-11-14T22:13:35.5z",
        ] {
            assert_eq!(utc_seconds_micros(other.as_bytes()), None, "{other}");
        }
        assert_eq!(
            parse_timestamp("2023-11-14T22:13:35.5Z", None),
            Some(1_700_000_015_500_000)
        );
    }

    /// A leap second is the first instant of the next minute, as POSIX
    /// time counts it, and digits past microseconds are cut: neither is
    /// an error (the job-file reference says so).
    #[test]
    fn a_leap_second_and_nanoseconds_are_read_as_documented() {
        let at = |text: &str| parse_timestamp(text, None);
        let next_minute = at("2017-01-01T00:00:00Z");
        assert_eq!(next_minute, Some(1_483_228_800_000_000));
        assert_eq!(at("2016-12-31T23:59:60Z"), next_minute);
        assert_eq!(at("2016-12-31T23:59:60.5Z"), Some(1_483_228_800_500_000));
        let micros = Some(1_700_000_015_123_456);
        assert_eq!(at("2023-11-14T22:13:35.1234567Z"), micros);
        assert_eq!(at("2023-11-14T22:13:35.123456999Z"), micros);
        assert_eq!(at("2023-11-14T23:13:35.123456999+01:00"), micros);
    }

    #[test]
    fn integers() {
        assert_eq!(conv(ColumnType::Long, "42"), Ok(Cell::Int(42)));
        assert_eq!(conv(ColumnType::Long, "\"-7\""), Ok(Cell::Int(-7)));
        assert_eq!(conv(ColumnType::Long, "2.0"), Ok(Cell::Int(2)));
        assert!(
            conv(ColumnType::Long, "1.5")
                .unwrap_err()
                .contains("1.5 is not an integer")
        );
        assert!(
            conv(ColumnType::Long, "9223372036854775808")
                .unwrap_err()
                .contains("out of range")
        );
        assert!(
            conv(ColumnType::Long, "123456789012345678901234")
                .unwrap_err()
                .contains("out of range")
        );
        assert_eq!(
            conv(ColumnType::Int, "2147483647"),
            Ok(Cell::Int(i32::MAX as i64))
        );
        assert!(
            conv(ColumnType::Int, "2147483648")
                .unwrap_err()
                .contains("out of range")
        );
        assert!(conv(ColumnType::Long, "true").is_err());
    }

    #[test]
    fn floats() {
        assert_eq!(conv(ColumnType::Double, "0.1"), Ok(Cell::Double(0.1)));
        assert_eq!(conv(ColumnType::Double, "\"2.5\""), Ok(Cell::Double(2.5)));
        assert_eq!(conv(ColumnType::Double, "3"), Ok(Cell::Double(3.0)));
        assert!(conv(ColumnType::Double, "9007199254740993").is_err());
        assert!(conv(ColumnType::Double, "\"nan\"").is_err());
        assert_eq!(conv(ColumnType::Float, "1.5"), Ok(Cell::Float(1.5)));
        assert!(
            conv(ColumnType::Float, "1e300")
                .unwrap_err()
                .contains("out of range")
        );
    }

    #[test]
    fn huge_integers_stay_exact_as_text() {
        let big = "123456789012345678901234567890";
        assert_eq!(
            conv(ColumnType::String, big),
            Ok(Cell::Str(Cow::Owned(big.to_owned())))
        );
        assert_eq!(
            conv(ColumnType::Json, big),
            Ok(Cell::Json(big.as_bytes().to_vec()))
        );
    }

    #[test]
    fn numbers_in_text_columns_keep_the_pages_text() {
        // By the index; a tree keeps only the double.
        for literal in [
            "1.50",
            "1E+2",
            "-0.0",
            "0.1000000000000000055511151231257827",
            "123456789012345678901234567890.5",
            "1e-400",
        ] {
            assert_eq!(
                conv(ColumnType::String, literal),
                Ok(Cell::Str(literal.into())),
                "{literal}"
            );
            assert_eq!(
                conv(ColumnType::Json, literal),
                Ok(Cell::Json(literal.as_bytes().to_vec())),
                "{literal}"
            );
        }
        assert_eq!(
            conv(ColumnType::Json, "[1.50, {\"a\": 2E0}]"),
            Ok(Cell::Json(b"[1.50,{\"a\":2E0}]".to_vec()))
        );
        assert_eq!(conv(ColumnType::Double, "1.50"), Ok(Cell::Double(1.5)));
    }

    #[test]
    fn booleans_strings_json() {
        assert_eq!(conv(ColumnType::Boolean, "\"true\""), Ok(Cell::Bool(true)));
        assert!(conv(ColumnType::Boolean, "1").is_err());
        assert_eq!(conv(ColumnType::String, "12"), Ok(Cell::Str("12".into())));
        assert_eq!(
            conv(ColumnType::String, "{\"a\":[1]}"),
            Ok(Cell::Str("{\"a\":[1]}".into()))
        );
        assert_eq!(
            conv(ColumnType::Json, "\"x\""),
            Ok(Cell::Json(b"\"x\"".to_vec()))
        );
        assert_eq!(conv(ColumnType::Long, "null"), Ok(Cell::Null));
    }

    #[test]
    fn timestamps_and_dates() {
        let noon = 1_709_294_400_000_000; // 2024-03-01T12:00:00Z
        assert_eq!(
            conv(ColumnType::Timestamp, "\"2024-03-01T12:00:00Z\""),
            Ok(Cell::Timestamp(noon))
        );
        assert_eq!(
            conv(ColumnType::Timestamp, "\"2024-03-01T14:00:00+02:00\""),
            Ok(Cell::Timestamp(noon))
        );
        assert_eq!(
            conv(ColumnType::Timestamp, "\"2024-03-01 12:00:00\""),
            Ok(Cell::Timestamp(noon))
        );
        assert_eq!(
            conv(ColumnType::Timestamp, "1709294400"),
            Ok(Cell::Timestamp(noon))
        );
        assert_eq!(
            conv(ColumnType::Timestamp, "1709294400250"),
            Ok(Cell::Timestamp(noon + 250_000))
        );
        // RFC 3339's years, and no others: unix microseconds read as
        // milliseconds would be the year 56133.
        assert_eq!(
            conv(ColumnType::Timestamp, "253402300799999"),
            Ok(Cell::Timestamp(253_402_300_799_999_000))
        );
        assert_eq!(
            conv(ColumnType::Timestamp, "\"0000-01-01T00:00:00Z\""),
            Ok(Cell::Timestamp(-62_167_219_200_000_000))
        );
        for far in [
            "1709294400250001",
            "253402300800000",
            "-62167219200001",
            "9e15",
            "\"9999-12-31T23:59:59-01:00\"",
            "\"0000-01-01T00:00:00+01:00\"",
        ] {
            assert!(conv(ColumnType::Timestamp, far).is_err(), "{far}");
        }
        assert_eq!(
            conv_fmt(
                ColumnType::Timestamp,
                Some("%d/%m/%Y %H:%M"),
                "\"01/03/2024 12:00\""
            ),
            Ok(Cell::Timestamp(noon))
        );
        assert!(conv(ColumnType::Timestamp, "\"yesterday\"").is_err());
        assert_eq!(
            conv(ColumnType::Date, "\"2024-03-01\""),
            Ok(Cell::Date(19783))
        );
        assert_eq!(
            conv_fmt(ColumnType::Date, Some("%d.%m.%Y"), "\"01.03.2024\""),
            Ok(Cell::Date(19783))
        );
        assert_eq!(
            conv(ColumnType::Date, "\"2024-03-01T00:00:00Z\""),
            Ok(Cell::Date(19783))
        );
        // A time of day would be lost.
        assert!(conv(ColumnType::Date, "\"2024-03-01T23:00:00Z\"").is_err());
        assert!(conv(ColumnType::Date, "1709294401").is_err());
        assert!(conv(ColumnType::Date, "\"2024-02-30\"").is_err());
    }

    #[test]
    fn binary() {
        assert_eq!(
            conv(ColumnType::Binary, "\"aGk=\""),
            Ok(Cell::Binary(b"hi".to_vec()))
        );
        assert!(conv(ColumnType::Binary, "\"***\"").is_err());
    }
}

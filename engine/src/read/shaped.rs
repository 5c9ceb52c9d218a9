//! Pages whose records hold a few shapes, read against them.
//!
//! The text between the values of the page's first record (its keys,
//! colons, commas, braces and any space) is learned as a template, and
//! each record after it must hold the same text between its values,
//! compared as bytes. A pretty printer indents every record alike, so
//! its pages keep one shape too. A record that leaves out members, or
//! holds them in another order or layout, gets a template of its own (up
//! to 32 a page), and a column it has no value for is null. A page maker
//! keeps its templates for its next pages.
//!
//! Such a record is read in one pass, without the structural index, and its
//! values go to NDJSON lines or an Arrow batch through the conversions and
//! the encoders of the page path; a value that is its cell as it stands (a
//! plain string, a short whole number, a boolean, `null`) is copied or
//! appended from its text. An array no column reads is stepped over, its
//! text checked as the page path checks it; a `json` column's array or
//! object is copied, its space left out and any escaped string or `-0`
//! written as the page path writes it. Members before the records (a count,
//! a link) are stepped over too. A record that fits no template hands the
//! whole page back to the page path, which reads it as it reads any page:
//! one with a member new to inferred columns, an object or an array where a
//! column other than a declared `json` one reads a value, a value that does
//! not fit or convert, a bad escape or a lone surrogate. So this reader
//! takes only text the page path takes, and makes the same rows of it.

use std::borrow::Cow;
use std::ops::Range;
use std::sync::atomic::{AtomicU32, Ordering};

use crate::extract::{Cell, Extractor, Shape, Tolerated, fingerprint_of, written_as_read};
use crate::job::{ColumnType, RecordMode, Records};
use crate::json::keys::same_key;
use crate::json::node::{View, write_leaf_json};
use crate::json::path::Segment;
use crate::json::scan::{Scanner, scalar_view, unescape_content};
use crate::json::{escape_mask, skip_space, write_str};
#[cfg(feature = "parquet")]
use crate::sink::arrow::Builders;
use crate::sink::{Hours, Made, NdjsonEncoder};

/// Pages handed back before the reader stops trying for the run: a job
/// whose pages do not keep one shape would pay for each attempt.
const MAX_DECLINED: u32 = 8;

/// The layouts of records a page may hold: records that leave out
/// members (as APIs that omit nulls do) take a template for each set of
/// members they hold, five optional members 32. A page with more goes to
/// the page path. At most 64: [`another`] keeps a bit for each.
const MAX_TEMPLATES: usize = 32;
const _: () = assert!(MAX_TEMPLATES <= 64);

/// A column's place among a record's values where the record has none:
/// past them all.
const ABSENT: usize = usize::MAX;

/// The depth of objects a record may nest to here; deeper ones go to the
/// page path, which takes any depth up to its own bound.
const MAX_NESTING: usize = 32;

/// The reader of a job's pages, where its records and columns allow.
#[derive(Debug)]
pub(crate) struct ShapedReader {
    /// The keys down to the records' array: `data` for `{"data":[…]}`.
    keys: Vec<String>,
    /// Each column's keys, from the record down.
    paths: Vec<Vec<String>>,
    declined: AtomicU32,
}

/// What a page's values become: the job's columns, what inferred ones
/// are checked against, and the rows they make.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Lines<'a> {
    pub(crate) extractor: &'a Extractor,
    pub(crate) shape: Option<&'a Shape>,
    pub(crate) rows: Rows<'a>,
}

/// The rows a page makes, as its page maker would.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Rows<'a> {
    /// NDJSON lines.
    Ndjson(&'a NdjsonEncoder),
    /// An Arrow batch, for a Parquet output.
    #[cfg(feature = "parquet")]
    Arrow,
}

/// Rows being made, a value at a time. Each kind of rows is a type of
/// its own, so that the records' loop is built once for each and holds
/// no branch on the kind.
trait Making {
    /// Writes column `index`'s value from its text, where that text is
    /// the value as it stands (see [`as_it_stands`]): whether it did.
    fn text(&mut self, index: usize, text: &str) -> bool;

    /// Whether a `timestamp` column's string (`time`, quotes off) goes
    /// in from its text.
    fn time_as_it_stands(time: &[u8]) -> bool;

    fn cell(&mut self, index: usize, cell: &Cell<'_>);

    fn end_row(&mut self);

    fn made(self) -> Made;

    /// Writes column `index`'s array or object, a `json` column's, as the
    /// page path writes it (see [`container_json`]). Apart from the values'
    /// loop, which it would crowd.
    #[cold]
    #[inline(never)]
    fn container(&mut self, index: usize, text: &str, shape: Option<&Shape>) -> Option<()> {
        let json = ColumnType::Json;
        shape
            .is_none_or(|shape| shape.is(index, json))
            .then_some(())?;
        let text = container_json(text)?;
        if !self.text(index, &text) {
            self.cell(index, &Cell::Json(text.as_bytes().to_vec()));
        }
        Some(())
    }
}

/// NDJSON lines being made.
struct NdjsonRows<'a> {
    encoder: &'a NdjsonEncoder,
    out: Vec<u8>,
    hours: Hours,
}

impl Making for NdjsonRows<'_> {
    /// Where it is what the page path writes for it.
    #[inline(always)]
    fn time_as_it_stands(time: &[u8]) -> bool {
        written_as_read(time)
    }

    #[inline(always)]
    fn text(&mut self, index: usize, text: &str) -> bool {
        self.encoder
            .encode_text(index, text.as_bytes(), &mut self.out);
        true
    }

    #[inline(always)]
    fn cell(&mut self, index: usize, cell: &Cell<'_>) {
        self.encoder
            .encode_cell(index, cell, &mut self.hours, &mut self.out);
    }

    fn end_row(&mut self) {
        self.encoder.end_row(&mut self.out);
    }

    fn made(self) -> Made {
        Made::Text(self.out)
    }
}

/// An Arrow batch being made, for a Parquet output.
#[cfg(feature = "parquet")]
impl Making for Builders {
    /// Where the builders' own reading of it takes it (`push_text`), and
    /// where the inferred columns would too: up to microseconds.
    #[inline(always)]
    fn time_as_it_stands(time: &[u8]) -> bool {
        time.len() <= 27
    }

    #[inline(always)]
    fn text(&mut self, index: usize, text: &str) -> bool {
        self.push_text(index, text)
    }

    #[inline(always)]
    fn cell(&mut self, index: usize, cell: &Cell<'_>) {
        self.push_cell(index, cell);
    }

    fn end_row(&mut self) {
        Builders::end_row(self);
    }

    fn made(mut self) -> Made {
        Made::Batch(self.take())
    }
}

/// A page read by the reader.
#[derive(Debug)]
pub(crate) struct Shaped {
    /// The records' rows.
    pub(crate) made: Made,
    pub(crate) rows: usize,
    /// Where the records lie in the body: the page around them is the
    /// page path's to read.
    pub(crate) records: Range<usize>,
    /// The first record and the last, for the page's fingerprint.
    pub(crate) first: Range<usize>,
    pub(crate) last: Range<usize>,
    /// The columns records had no value for, where the job notes them.
    pub(crate) tolerated: Vec<Tolerated>,
}

impl Shaped {
    /// The page around its records, with none: the text the page path
    /// still reads, for the values a run watches and the grammar of the
    /// page outside the records.
    pub(crate) fn around(&self, body: &[u8]) -> Vec<u8> {
        let mut around = Vec::with_capacity(body.len() - self.records.len());
        around.extend_from_slice(&body[..self.records.start]);
        around.extend_from_slice(&body[self.records.end..]);
        around
    }

    /// The page's fingerprint, as [`records_fingerprint`] takes it from
    /// the page's parse: from the first and last records, parsed alone.
    ///
    /// [`records_fingerprint`]: crate::extract::records_fingerprint
    pub(crate) fn fingerprint(&self, body: &[u8], scanner: &mut Scanner) -> Option<u64> {
        use crate::json::node::Node as _;
        let mut text = Vec::with_capacity(self.first.len() + self.last.len() + 1);
        let first = scanner.scan(&body[self.first.clone()], None).ok()?;
        first.root().write_json(&mut text);
        text.push(b'\n');
        let last = scanner.scan(&body[self.last.clone()], None).ok()?;
        last.root().write_json(&mut text);
        Some(fingerprint_of(self.rows, &text))
    }
}

impl ShapedReader {
    /// The reader for records at `records` and the columns of
    /// `extractor`: `None` unless every column is one value at a path of
    /// keys and the records are an array at a path of keys.
    pub(crate) fn new(records: &Records, extractor: &Extractor) -> Option<ShapedReader> {
        if !extractor.is_direct() || records.mode == RecordMode::One {
            return None;
        }
        let keys = match &records.path {
            None => Vec::new(),
            Some(path) => keys_of(path.segments()?)?,
        };
        let paths = (extractor.columns().iter())
            .map(|column| keys_of(column.path.as_ref()?.segments()?))
            .collect::<Option<Vec<_>>>()?;
        if paths.is_empty() || paths.iter().any(Vec::is_empty) {
            return None;
        }
        Some(ShapedReader {
            keys,
            paths,
            declined: AtomicU32::new(0),
        })
    }

    /// The records of `body` as rows, if each has the shape of one of
    /// the templates `learned` holds or learns; `None` hands the page to
    /// the page path.
    pub(crate) fn read(
        &self,
        body: &[u8],
        lines: Lines<'_>,
        learned: &mut Learned,
    ) -> Option<Shaped> {
        if self.declined.load(Ordering::Relaxed) >= MAX_DECLINED {
            return None;
        }
        let Some(start) = self.records_start(body) else {
            self.declined.fetch_add(1, Ordering::Relaxed);
            return None;
        };
        // A page without records is no sign that the pages differ.
        if body.get(start) == Some(&b']') {
            return None;
        }
        let earlier = !learned.templates.is_empty();
        let mut read = self.read_rows(body, start, lines, learned);
        // Templates of earlier pages may fill the bound that the page's
        // own layouts do not: then the page is read again without them.
        if read.is_none() && earlier && learned.templates.len() == MAX_TEMPLATES {
            *learned = Learned::default();
            read = self.read_rows(body, start, lines, learned);
        }
        if read.is_none() {
            self.declined.fetch_add(1, Ordering::Relaxed);
        }
        read
    }

    /// [`ShapedReader::read`] into the rows `lines` asks for.
    fn read_rows(
        &self,
        body: &[u8],
        start: usize,
        lines: Lines<'_>,
        learned: &mut Learned,
    ) -> Option<Shaped> {
        match lines.rows {
            Rows::Ndjson(encoder) => {
                let rows = NdjsonRows {
                    encoder,
                    out: Vec::with_capacity(body.len() + body.len() / 16),
                    hours: Hours::default(),
                };
                self.read_records(body, start, lines, learned, rows)
            }
            #[cfg(feature = "parquet")]
            Rows::Arrow => {
                let rows = Builders::new(lines.extractor.columns());
                self.read_records(body, start, lines, learned, rows)
            }
        }
    }

    /// Where the records' array starts in `body`, the byte after its
    /// `[`: the members before it, at each level on the way down, are
    /// stepped over (a link or a count may come first). The first member
    /// of each key is the one taken, as the page path takes it; a key
    /// with an escape, which could spell it, hands the page back. The
    /// start is past any space after the `[`.
    fn records_start(&self, body: &[u8]) -> Option<usize> {
        let mut at = skip_space(body, 0);
        let mut scratch = Vec::new();
        for key in &self.keys {
            (body.get(at) == Some(&b'{')).then_some(())?;
            at = skip_space(body, at + 1);
            loop {
                let (found, value) = plain_key(body, at)?;
                at = value;
                if found == key.as_bytes() {
                    break;
                }
                at = skip_space(body, skip_value(body, at, 1, &mut scratch)?);
                (body.get(at) == Some(&b',')).then_some(())?;
                at = skip_space(body, at + 1);
            }
        }
        (body.get(at) == Some(&b'[')).then(|| skip_space(body, at + 1))
    }

    /// Reads the records from `start` with the templates `learned`
    /// holds, and keeps those the page teaches, whether it is read or not.
    fn read_records(
        &self,
        body: &[u8],
        start: usize,
        lines: Lines<'_>,
        learned: &mut Learned,
        mut making: impl Making,
    ) -> Option<Shaped> {
        let Learned {
            templates,
            kinship,
            current,
        } = learned;
        let text = simdutf8::basic::from_utf8(body).ok()?;
        // What each column reads besides leaves: a `json` one an array or
        // any object, but only `{}` where the columns were inferred (they
        // would hold an object's members).
        let holds: Vec<Holds> = (lines.extractor.columns().iter())
            .map(|column| match column.kind {
                ColumnType::Json if lines.shape.is_none() => Holds::Json,
                ColumnType::Json => Holds::ArrayOrEmpty,
                _ => Holds::Leaf,
            })
            .collect();
        let learn = |at| {
            let template = Template::learn(body, at, &self.paths, &holds)?;
            template.fits(lines).then_some(template)
        };
        if templates.is_empty() {
            templates.push(learn(start)?);
            kinship.add(templates);
            *current = 0;
        }
        let mut row = Row::default();
        let (mut at, mut rows, mut first) = (start, 0, None);
        let (noting, mut tolerated) = (lines.extractor.notes_absent(), Vec::new());
        let last = loop {
            let record = at;
            let end = match templates[*current].walk(body, at, &mut row) {
                Some(end) => end,
                None => {
                    let found = another(templates, kinship, *current, (body, at), &mut row, learn);
                    let (other, end) = found?;
                    *current = other;
                    end
                }
            };
            first.get_or_insert(record..end);
            row.write(text, lines, &templates[*current].order, &mut making)?;
            if noting {
                let absent = templates[*current].absent();
                tolerated.extend(absent.map(|column| Tolerated {
                    row: rows,
                    column,
                    missing: true,
                }));
            }
            rows += 1;
            at = skip_space(body, end);
            match body.get(at) {
                Some(b',') => at = skip_space(body, at + 1),
                Some(b']') => break record..end,
                _ => return None,
            }
        };
        Some(Shaped {
            made: making.made(),
            rows,
            records: start..at,
            first: first?,
            last,
            tolerated,
        })
    }
}

/// The templates a page maker learned from its earlier pages, tried on
/// its next: a run's pages mostly hold the same layouts, and a page of
/// many layouts spent a fifth of its time learning them again.
#[derive(Debug, Default)]
pub(crate) struct Learned {
    templates: Vec<Template>,
    kinship: Kinship,
    /// The template of the last record read.
    current: usize,
}

/// How much of the text before their values each two of a page's
/// templates share.
#[derive(Debug, Default)]
struct Kinship {
    /// `shared[a][b]`: how many of their first values templates `a` and
    /// `b` have the same text before.
    shared: Vec<Vec<usize>>,
    /// `tries[a]`: the other templates, those that share the most with
    /// `a` first (the lower index first among equals). A record that
    /// leaves `a` tries them in this order: the values read stay read.
    tries: Vec<Vec<usize>>,
}

impl Kinship {
    /// Notes the last of `templates`, just added.
    fn add(&mut self, templates: &[Template]) {
        let Some((new, others)) = templates.split_last() else {
            return;
        };
        let shares = |other: &Template| {
            (new.before.iter())
                .zip(&other.before)
                .take_while(|(a, b)| a == b)
                .count()
        };
        let mut row: Vec<usize> = others.iter().map(shares).collect();
        row.push(new.before.len());
        let index = others.len();
        // The new template goes after those that share as much or more
        // with each other one: the order of `tries` stays sorted.
        for (left, tries) in self.tries.iter_mut().enumerate() {
            let shared = &self.shared[left];
            let place = tries.partition_point(|&other| shared[other] >= row[left]);
            tries.insert(place, index);
        }
        for (shared, &with_new) in self.shared.iter_mut().zip(&row) {
            shared.push(with_new);
        }
        let mut tries: Vec<usize> = (0..index).collect();
        tries.sort_by_key(|&other| std::cmp::Reverse(row[other]));
        self.shared.push(row);
        self.tries.push(tries);
    }
}

/// The template of the record at `at` among those of the page, or a new
/// one learned from it: its index and the record's end. `row` holds the
/// values template `left` read before the record left it; another
/// template goes on from those it shares the text before.
#[cold]
#[inline(never)]
fn another(
    templates: &mut Vec<Template>,
    kinship: &mut Kinship,
    left: usize,
    (body, at): (&[u8], usize),
    row: &mut Row,
    learn: impl Fn(usize) -> Option<Template>,
) -> Option<(usize, usize)> {
    // Each template is walked at most once: one bit each.
    let (mut walked, mut done) = (left, 1u64 << left);
    // First those that share every value read with the one walked last:
    // the record left it at the value past `row`, so one that shares
    // that value too leaves there as well, and one that shares fewer
    // differs from the record's text before. Each that reads further
    // goes on the same way.
    'further: loop {
        for &index in &kinship.tries[walked] {
            let shared = kinship.shared[walked][index];
            if done & 1 << index != 0 || shared > row.values.len() {
                done |= 1 << index;
                continue;
            }
            if shared < row.values.len() {
                break;
            }
            done |= 1 << index;
            if let Some(end) = templates[index].walk_from(body, value_end(row, at), shared, row) {
                return Some((index, end));
            }
            if row.values.len() > shared {
                walked = index;
                continue 'further;
            }
        }
        break;
    }
    // Then the others, each from the values it shares with the one
    // walked last, should text that differs read alike.
    for (index, template) in templates.iter().enumerate() {
        if done & 1 << index != 0 {
            continue;
        }
        let shared = kinship.shared[walked][index].min(row.values.len());
        row.truncate(shared);
        if let Some(end) = template.walk_from(body, value_end(row, at), shared, row) {
            return Some((index, end));
        }
        walked = index;
    }
    (templates.len() < MAX_TEMPLATES).then_some(())?;
    let template = learn(at)?;
    let end = template.walk(body, at, row)?;
    templates.push(template);
    kinship.add(templates);
    Some((templates.len() - 1, end))
}

/// Where the last value of `row` ends: `at`, the record's start, if it
/// holds none.
fn value_end(row: &Row, at: usize) -> usize {
    row.values.last().map_or(at, |value| value.1.end)
}

/// The keys of a path of keys only.
fn keys_of(segments: &[Segment]) -> Option<Vec<String>> {
    (segments.iter())
        .map(|segment| match segment {
            Segment::Key(key) => Some(key.clone()),
            _ => None,
        })
        .collect()
}

/// What a value of a record is. A record's values may differ in kind
/// from the first record's: nullable fields are common.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Leaf {
    Str,
    /// A number with a fraction and no exponent, which a `double`
    /// column writes as it stands.
    Decimal,
    Number,
    Literal,
}

/// The value at `at`, if it is a string, number or literal: its kind,
/// its end, and whether a string holds an escape.
#[inline(always)]
fn leaf_at(text: &[u8], at: usize) -> Option<(Leaf, usize, bool)> {
    match *text.get(at)? {
        b'"' => string_end(text, at + 1).map(|(end, escaped)| (Leaf::Str, end + 1, escaped)),
        b't' | b'f' | b'n' => literal_len(&text[at..]).map(|len| (Leaf::Literal, at + len, false)),
        b'-' | b'0'..=b'9' => number_end(text, at).map(|(end, leaf)| (leaf, end, false)),
        _ => None,
    }
}

/// What a record's value may be besides a string, number or literal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Holds {
    /// Nothing else: a column not `json` reads it.
    Leaf,
    /// An array or `{}`: no column reads it, or an inferred `json` one.
    /// An object's members would be members the template, or the
    /// inferred columns, do not have.
    ArrayOrEmpty,
    /// Any array or object: a declared `json` column reads it.
    Json,
}

/// The end of the array or object at `at`, stepped over (see
/// [`skip_container`]), where the value `holds` it; out of the way of the
/// leaves, which most values are.
#[cold]
#[inline(never)]
fn skip_compound(text: &[u8], at: usize, holds: Holds) -> Option<usize> {
    match *text.get(at)? {
        b'{' if holds != Holds::Json => empty_object(text, at),
        b'[' | b'{' => skip_container(text, at, 1, &mut Vec::new()),
        _ => None,
    }
}

/// The end of the object at `at` if it is empty, space and all.
fn empty_object(text: &[u8], at: usize) -> Option<usize> {
    let close = skip_space(text, at + 1);
    (text.get(at) == Some(&b'{') && text.get(close) == Some(&b'}')).then_some(close + 1)
}

/// The end of the array or object at `at`, `depth` deep in a value no
/// column reads. Its grammar is checked as the page path checks a page,
/// and every string's escapes too, as the page path refuses a bad one
/// anywhere; `None` at anything else or past [`MAX_NESTING`].
fn skip_container(
    text: &[u8],
    mut at: usize,
    depth: usize,
    scratch: &mut Vec<u8>,
) -> Option<usize> {
    if depth > MAX_NESTING {
        return None;
    }
    let object = text[at] == b'{';
    let close = if object { b'}' } else { b']' };
    at = skip_space(text, at + 1);
    if text.get(at) == Some(&close) {
        return Some(at + 1);
    }
    loop {
        if object {
            (text.get(at) == Some(&b'"')).then_some(())?;
            at = skip_space(text, skip_string(text, at, scratch)?);
            (text.get(at) == Some(&b':')).then_some(())?;
            at = skip_space(text, at + 1);
        }
        at = skip_space(text, skip_value(text, at, depth + 1, scratch)?);
        match *text.get(at)? {
            b',' => at = skip_space(text, at + 1),
            byte if byte == close => return Some(at + 1),
            _ => return None,
        }
    }
}

/// The end of the value at `at`, checked: an array or object `depth`
/// deep (see [`skip_container`]), a string or a leaf.
fn skip_value(text: &[u8], at: usize, depth: usize, scratch: &mut Vec<u8>) -> Option<usize> {
    match *text.get(at)? {
        b'[' | b'{' => skip_container(text, at, depth, scratch),
        b'"' => skip_string(text, at, scratch),
        _ => leaf_at(text, at).map(|(_, end, _)| end),
    }
}

/// The key of the member at `at`, if it holds no escape (one could spell
/// any key), and where the member's value starts, past its colon and
/// any space.
fn plain_key(text: &[u8], at: usize) -> Option<(&[u8], usize)> {
    (text.get(at) == Some(&b'"')).then_some(())?;
    let (end, escaped) = string_end(text, at + 1)?;
    let colon = skip_space(text, end + 1);
    (!escaped && text.get(colon) == Some(&b':'))
        .then(|| (&text[at + 1..end], skip_space(text, colon + 1)))
}

/// The end of the string at `at`, its escapes checked.
fn skip_string(text: &[u8], at: usize, scratch: &mut Vec<u8>) -> Option<usize> {
    let (end, escaped) = string_end(text, at + 1)?;
    if escaped {
        scratch.clear();
        unescape_content(&text[at + 1..end], scratch)?;
    }
    Some(end + 1)
}

/// The text before each value of a record, the value's kind, and the
/// text after the last.
#[derive(Debug)]
struct Template {
    before: Vec<Vec<u8>>,
    after: Vec<u8>,
    /// For each column, the index of its value among the record's;
    /// [`ABSENT`] where the record has no value for it.
    order: Vec<usize>,
    /// For each value, what it may be besides a leaf.
    holds: Vec<Holds>,
    /// Keys at every depth.
    members: usize,
    /// Values no column reads.
    unread: usize,
}

impl Template {
    /// Whether the page path makes of a record of this template what
    /// the reader makes. One that leaves out a column's value gets a
    /// null there, unless the job makes such a record dirty; for
    /// inferred columns, a record with a member they do not have holds
    /// something new.
    fn fits(&self, lines: Lines<'_>) -> bool {
        let whole = !self.order.contains(&ABSENT);
        if !whole && lines.extractor.absent_is_dirty() {
            return false;
        }
        lines.shape.is_none_or(|shape| match whole {
            true => shape.members() == self.members,
            false => self.unread == 0,
        })
    }

    /// The template of the record at `at`, if it is an object without
    /// escaped keys that holds at most one value at each path of `paths`
    /// (the columns'), and no array or object at one but what its
    /// column `holds`. Arrays of other members are stepped over, in this
    /// record and the others.
    fn learn(text: &[u8], at: usize, paths: &[Vec<String>], holds: &[Holds]) -> Option<Template> {
        let mut learning = Learning::new(holds);
        let mut at = learning.open(text, at)?;
        loop {
            at = learning.member(text, at, paths)?;
            // After a value: the next member, or the ends of objects.
            loop {
                let byte = *text.get(at)?;
                learning.glue.push(byte);
                at += 1;
                match byte {
                    b',' => break,
                    b'}' if learning.close() => return learning.done(),
                    b'}' | b' ' | b'\t' | b'\n' | b'\r' => {}
                    _ => return None,
                }
            }
        }
    }

    /// The columns a record of this template has no value for.
    fn absent(&self) -> impl Iterator<Item = usize> + '_ {
        (self.order.iter().enumerate())
            .filter(|(_, value)| **value == ABSENT)
            .map(|(column, _)| column)
    }

    /// Walks the record at `at`, noting each value's place in `row`: the
    /// byte after the record, `None` if it leaves the template. The
    /// values read before it left stay in `row`.
    #[inline(always)]
    fn walk(&self, text: &[u8], at: usize, row: &mut Row) -> Option<usize> {
        row.clear();
        self.walk_from(text, at, 0, row)
    }

    /// [`Template::walk`] from the record's value `from`, at `at`, the
    /// values before it in `row`.
    #[inline(always)]
    fn walk_from(&self, text: &[u8], mut at: usize, from: usize, row: &mut Row) -> Option<usize> {
        for (value, before) in self.before.iter().enumerate().skip(from) {
            if !glue_at(text, at, before) {
                return None;
            }
            at += before.len();
            let (leaf, end, escaped) = match leaf_at(text, at) {
                Some(leaf) => leaf,
                // An array or `{}` no column reads, or a `json` column's
                // array or object: kept as a literal, which no other
                // value starting `[` or `{` is.
                None => match self.holds[value] {
                    Holds::Leaf => return None,
                    holds => (Leaf::Literal, skip_compound(text, at, holds)?, false),
                },
            };
            let unescaped = match escaped {
                true => Some(row.unescape(&text[at + 1..end - 1])?),
                false => None,
            };
            row.values.push((leaf, at..end, unescaped));
            at = end;
        }
        glue_at(text, at, &self.after).then_some(at + self.after.len())
    }
}

/// A template being learned.
#[derive(Debug, Default)]
struct Learning {
    /// The text since the last value.
    glue: Vec<u8>,
    before: Vec<Vec<u8>>,
    /// Each column's value, once found.
    order: Vec<Option<usize>>,
    /// What each column reads besides leaves.
    column_holds: Vec<Holds>,
    /// The keys down to the object being read.
    keys: Vec<String>,
    /// The keys met so far in each object open, the record's first.
    met: Vec<Vec<String>>,
    members: usize,
    unread: usize,
}

impl Learning {
    fn new(holds: &[Holds]) -> Learning {
        Learning {
            order: vec![None; holds.len()],
            column_holds: holds.to_vec(),
            ..Learning::default()
        }
    }

    /// The template learned, once the record is closed.
    fn done(self) -> Option<Template> {
        let mut holds = vec![Holds::ArrayOrEmpty; self.before.len()];
        for (value, &column) in self.order.iter().zip(&self.column_holds) {
            if let Some(value) = *value {
                holds[value] = column;
            }
        }
        Some(Template {
            order: (self.order.iter()).map(|v| v.unwrap_or(ABSENT)).collect(),
            holds,
            before: self.before,
            after: self.glue,
            members: self.members,
            unread: self.unread,
        })
    }

    fn open(&mut self, text: &[u8], at: usize) -> Option<usize> {
        let inside = skip_space(text, at + 1);
        let object = text.get(at) == Some(&b'{') && text.get(inside) != Some(&b'}');
        (object && self.met.len() < MAX_NESTING).then_some(())?;
        self.glue.extend_from_slice(&text[at..inside]);
        self.met.push(Vec::new());
        Some(inside)
    }

    /// Closes an object: whether it was the record's own.
    fn close(&mut self) -> bool {
        self.met.pop();
        if !self.met.is_empty() {
            self.keys.pop();
        }
        self.met.is_empty()
    }

    /// Reads the member at `at`, a key and its value: the byte after it.
    fn member(&mut self, text: &[u8], at: usize, paths: &[Vec<String>]) -> Option<usize> {
        let (key, value) = plain_key(text, skip_space(text, at))?;
        let key = std::str::from_utf8(key).ok()?;
        // A key twice in an object: the page path takes the first value,
        // an object's fields too.
        let met = self.met.last_mut()?;
        (!met.iter().any(|k| k == key)).then_some(())?;
        met.push(key.to_owned());
        self.glue.extend_from_slice(&text[at..value]);
        self.members += 1;
        // Every column at this path reads the value: a job may declare a
        // path twice (a time and its text, a DataWorks field twice).
        let columns: Vec<usize> = (paths.iter().enumerate())
            .filter(|(_, path)| {
                path.len() == self.keys.len() + 1
                    && path.last().is_some_and(|last| last == key)
                    && path.iter().zip(&self.keys).all(|(a, b)| a == b)
            })
            .map(|(column, _)| column)
            .collect();
        let column = columns.first().copied();
        let holds = column.map_or(Holds::ArrayOrEmpty, |column| self.column_holds[column]);
        // Columns that differ in what they read besides leaves are the
        // page path's.
        (columns.iter())
            .all(|&c| self.column_holds[c] == holds)
            .then_some(())?;
        if text.get(value) == Some(&b'{') {
            match (empty_object(text, value), column) {
                // `{}` that no column reads is text between values, an
                // object whose fields are all missing. It is a member new
                // to inferred columns unless one of them lies under it.
                (Some(end), None) => {
                    self.keys.push(key.to_owned());
                    self.unread += usize::from(!paths.iter().any(|p| p.starts_with(&self.keys)));
                    self.keys.pop();
                    self.glue.extend_from_slice(&text[value..end]);
                    return Some(end);
                }
                (None, None) => {
                    self.keys.push(key.to_owned());
                    let after = self.open(text, value)?;
                    return self.member(text, after, paths);
                }
                // A column's `{}` and a `json` column's object are its
                // value, read below, unless another column reads a field
                // of it; another column's object is the page path's.
                (Some(_), Some(_)) => {}
                (None, Some(column)) if holds == Holds::Json => {
                    let under = |path: &Vec<String>| path.starts_with(&paths[column]);
                    (paths.iter().filter(|path| under(path)).count() == 1).then_some(())?;
                }
                (None, Some(_)) => return None,
            }
        }
        let (leaf, end) = match leaf_at(text, value) {
            Some((leaf, end, _)) => (Some(leaf), end),
            None => (None, skip_compound(text, value, holds)?),
        };
        if columns.is_empty() {
            self.unread += 1;
        }
        // An array read by a column not `json` is the page path's.
        if leaf.is_none() && holds == Holds::Leaf && column.is_some() {
            return None;
        }
        for column in columns {
            // A key that repeats: the page path takes the first value.
            if self.order[column].replace(self.before.len()).is_some() {
                return None;
            }
        }
        self.before.push(std::mem::take(&mut self.glue));
        Some(end)
    }
}

/// The values of one record, by their place in the body, with the place
/// of a string's text in `unescaped` where it held escapes.
#[derive(Debug, Default)]
struct Row {
    values: Vec<(Leaf, Range<usize>, Option<Range<usize>>)>,
    unescaped: Vec<u8>,
}

impl Row {
    fn clear(&mut self) {
        self.values.clear();
        self.unescaped.clear();
    }

    /// Keeps the first `values`. Their unescaped text stays where it is,
    /// and the values after it are unescaped again past it.
    fn truncate(&mut self, values: usize) {
        self.values.truncate(values);
    }

    /// Unescapes a string's content; its place in `unescaped`. Every
    /// string is, wanted or not: the page path refuses a page with a bad
    /// escape anywhere.
    fn unescape(&mut self, content: &[u8]) -> Option<Range<usize>> {
        let start = self.unescaped.len();
        unescape_content(content, &mut self.unescaped)?;
        Some(start..self.unescaped.len())
    }

    /// Writes the record's line: each value's cell, as the page path
    /// converts and encodes it.
    fn write<M: Making>(
        &self,
        text: &str,
        lines: Lines<'_>,
        order: &[usize],
        making: &mut M,
    ) -> Option<()> {
        let Lines {
            extractor, shape, ..
        } = lines;
        // Unescaped text of checked UTF-8 is UTF-8; checked again without
        // `unsafe`, with the SIMD check the page's text had (the standard
        // library's took a fifth of a page of escaped strings).
        let unescaped = match self.unescaped.is_empty() {
            true => "",
            false => simdutf8::basic::from_utf8(&self.unescaped).ok()?,
        };
        for (index, &value) in order.iter().enumerate() {
            // A value left out is null: its place is past the values.
            let Some((leaf, range, place)) = self.values.get(value) else {
                making.cell(index, &Cell::Null);
                continue;
            };
            let raw = text.get(range.clone())?;
            if as_it_stands::<M>(*leaf, raw, place.is_some(), (extractor, shape, index))
                && making.text(index, raw)
            {
                continue;
            }
            let string = match (leaf, place) {
                (Leaf::Str, Some(place)) => Some(unescaped.get(place.clone())?),
                (Leaf::Str, None) => Some(raw.get(1..raw.len() - 1)?),
                // A `json` column's array or object (see `Holds`).
                (Leaf::Literal, _) if raw.starts_with(['[', '{']) => {
                    making.container(index, raw, shape)?;
                    continue;
                }
                (Leaf::Decimal | Leaf::Number | Leaf::Literal, _) => None,
            };
            let view = string.map_or_else(|| scalar_view(raw), View::Str);
            let number = matches!(leaf, Leaf::Decimal | Leaf::Number).then_some(raw);
            // Made again from the text, not from `view`: a closure that
            // holds the view keeps it in memory, and the view passed on
            // is then loaded wider than it was stored, which stalls.
            let json_text = &mut || {
                let mut json = Vec::new();
                match string {
                    Some(string) => write_str(string, &mut json),
                    None => write_leaf_json(scalar_view(raw), Some(raw), &mut json),
                }
                json
            };
            let mut cell = Cell::Null;
            if !extractor.whole_cell(index, (view, number), shape, json_text, &mut cell) {
                return None;
            }
            making.cell(index, &cell);
        }
        making.end_row();
        Some(())
    }
}

/// Whether a value's text is the text the page path writes for it, so
/// that it can be copied: a string without escapes for a `string` column
/// (its text holds nothing to escape), a whole number of up to 18 digits
/// for a `long` one, a decimal of up to 64 bytes for a `double` one (its
/// cell is written as its page spells it), a time for a `timestamp` one
/// without a `format` (see [`Making::time_as_it_stands`]), `true` or
/// `false` for a `boolean` one, and `null` for any. Of an inferred
/// column, only where its type is the inferred one, as
/// [`Extractor::whole_cell`] takes a value as it stands.
#[inline(always)]
fn as_it_stands<M: Making>(
    leaf: Leaf,
    raw: &str,
    escaped: bool,
    (extractor, shape, index): (&Extractor, Option<&Shape>, usize),
) -> bool {
    let column = &extractor.columns()[index];
    let kind = column.kind;
    let plain =
        |wanted: ColumnType| kind == wanted && shape.is_none_or(|shape| shape.is(index, wanted));
    match leaf {
        Leaf::Str => {
            !escaped
                && (plain(ColumnType::String)
                    || (plain(ColumnType::Timestamp)
                        && column.format.is_none()
                        && M::time_as_it_stands(&raw.as_bytes()[1..raw.len() - 1])))
        }
        Leaf::Literal => raw == "null" || plain(ColumnType::Boolean),
        // Short enough to be a finite double not read as zero.
        Leaf::Decimal if kind == ColumnType::Double => raw.len() <= 64 && plain(kind),
        Leaf::Decimal | Leaf::Number => {
            let digits = raw.strip_prefix('-').unwrap_or(raw);
            plain(ColumnType::Long)
                && digits.len() <= 18
                && digits.bytes().all(|b| b.is_ascii_digit())
                && raw != "-0"
        }
    }
}

/// An array's or object's text, checked already, as the page path
/// writes it: without the space between its tokens (a pretty printer's
/// arrays span lines), each string that holds an escape escaped again
/// as the page path escapes it, keys too, and `-0` as `0`. Its other
/// numbers keep their text there too. Most are their own text.
fn container_json(text: &str) -> Option<Cow<'_, str>> {
    let bytes = text.as_bytes();
    // The page path writes a repeated key's first member alone.
    if memchr::memchr(b'{', bytes).is_some() && repeats_a_key(bytes)? {
        return None;
    }
    let minus_zero = |at: usize| {
        bytes.get(at + 1) == Some(&b'0') && !matches!(bytes.get(at + 2), Some(b'.' | b'e' | b'E'))
    };
    let rewritten = |b: &u8| matches!(b, b' ' | b'\t' | b'\n' | b'\r' | b'\\');
    if !bytes.iter().any(rewritten) && !memchr::memchr_iter(b'-', bytes).any(minus_zero) {
        return Some(Cow::Borrowed(text));
    }
    let (mut out, mut unescaped) = (Vec::with_capacity(bytes.len()), Vec::new());
    let mut at = 0;
    while let Some(&byte) = bytes.get(at) {
        match byte {
            b'"' => {
                let (end, escaped) = string_end(bytes, at + 1)?;
                if escaped {
                    unescaped.clear();
                    unescape_content(&bytes[at + 1..end], &mut unescaped)?;
                    write_str(std::str::from_utf8(&unescaped).ok()?, &mut out);
                } else {
                    out.extend_from_slice(&bytes[at..=end]);
                }
                at = end + 1;
                continue;
            }
            b' ' | b'\t' | b'\n' | b'\r' => {}
            b'-' if minus_zero(at) => {
                out.push(b'0');
                at += 1;
            }
            _ => out.push(byte),
        }
        at += 1;
    }
    String::from_utf8(out).ok().map(Cow::Owned)
}

/// Whether an object in `text`, an array's or object's checked text,
/// repeats a key, keys with escapes compared unescaped. `None` where
/// that is not told cheaply, without an allocation: more than 64 keys
/// open at once, more than 16 levels, or an escape that does not read;
/// the page path then reads the record.
fn repeats_a_key(text: &[u8]) -> Option<bool> {
    // The keys of the objects open, one after another, as places of
    // their text and whether it holds an escape; for each level, where
    // its object's keys start (`None`: an array).
    let mut keys = [(0u32, 0u32, false); 64];
    let mut levels = [None::<usize>; 16];
    let (mut open, mut depth, mut at) = (0, 0, 0);
    while let Some(&byte) = text.get(at) {
        match byte {
            b'{' | b'[' => {
                *levels.get_mut(depth)? = (byte == b'{').then_some(open);
                depth += 1;
            }
            b'}' | b']' => {
                depth = depth.checked_sub(1)?;
                open = levels[depth].unwrap_or(open);
            }
            b'"' => {
                let (end, escaped) = string_end(text, at + 1)?;
                let key = (
                    u32::try_from(at + 1).ok()?,
                    u32::try_from(end).ok()?,
                    escaped,
                );
                at = skip_space(text, end + 1);
                let first = depth.checked_sub(1).and_then(|level| levels[level]);
                if let (Some(b':'), Some(first)) = (text.get(at), first) {
                    for &other in &keys[first..open] {
                        if same_key_text(text, other, key)? {
                            return Some(true);
                        }
                    }
                    *keys.get_mut(open)? = key;
                    open += 1;
                }
                continue;
            }
            _ => {}
        }
        at += 1;
    }
    Some(false)
}

/// Whether two keys of `text`, each its content's place and whether it
/// holds an escape, read the same. Only a key with an escape is read
/// into a buffer.
fn same_key_text(text: &[u8], a: (u32, u32, bool), b: (u32, u32, bool)) -> Option<bool> {
    let spelled = |(from, to, _): (u32, u32, bool)| &text[from as usize..to as usize];
    if !a.2 && !b.2 {
        return Some(same_key(spelled(a), spelled(b)));
    }
    let read = |key: (u32, u32, bool)| {
        let mut unescaped = Vec::new();
        unescape_content(spelled(key), &mut unescaped).map(|()| unescaped)
    };
    Some(read(a)? == read(b)?)
}

/// Whether `text` holds `glue` at `at`: glue is mostly a key and its
/// punctuation, compared as the check compares keys.
#[inline(always)]
fn glue_at(text: &[u8], at: usize, glue: &[u8]) -> bool {
    text.get(at..at + glue.len())
        .is_some_and(|here| same_key(here, glue))
}

/// The closing quote of the string whose content starts at `at`, and
/// whether it holds an escape; `None` at a control character, which JSON
/// strings cannot hold, or at the end of the text.
#[inline(always)]
fn string_end(text: &[u8], mut at: usize) -> Option<(usize, bool)> {
    let mut escaped = false;
    loop {
        if let Some(word) = text.get(at..at + 8) {
            let found = escape_mask(u64::from_le_bytes(word.try_into().expect("eight bytes")));
            if found == 0 {
                at += 8;
                continue;
            }
            at += (found.trailing_zeros() / 8) as usize;
        }
        match *text.get(at)? {
            b'"' => return Some((at, escaped)),
            // The escape is checked when the string is unescaped; here it
            // is only stepped over, quote and all.
            b'\\' => {
                escaped = true;
                at += 2;
            }
            byte if byte < 0x20 => return None,
            _ => at += 1,
        }
    }
}

/// The length of the literal `true`, `false` or `null` at the start of
/// `text`.
fn literal_len(text: &[u8]) -> Option<usize> {
    if text.starts_with(b"true") || text.starts_with(b"null") {
        Some(4)
    } else if text.starts_with(b"false") {
        Some(5)
    } else {
        None
    }
}

/// The end of the number at `at`, its grammar checked (RFC 8259): the
/// grammar of the check's `is_literal`, read in the pass that finds the
/// end. Found first and then checked by `is_literal`, a page took 7%
/// (realistic) to 15% (flat) longer. With it, [`Leaf::Decimal`] for a
/// number with a fraction and no exponent, else [`Leaf::Number`].
#[inline(always)]
fn number_end(text: &[u8], mut at: usize) -> Option<(usize, Leaf)> {
    let digits = |at: &mut usize| {
        let from = *at;
        while text.get(*at).is_some_and(u8::is_ascii_digit) {
            *at += 1;
        }
        *at - from
    };
    at += usize::from(text.get(at) == Some(&b'-'));
    let whole = at;
    let count = digits(&mut at);
    if count == 0 || (text[whole] == b'0' && count > 1) {
        return None;
    }
    let mut leaf = Leaf::Number;
    if text.get(at) == Some(&b'.') {
        at += 1;
        (digits(&mut at) > 0).then_some(())?;
        leaf = Leaf::Decimal;
    }
    if text.get(at).is_some_and(|&b| b | 0x20 == b'e') {
        at += 1;
        at += usize::from(matches!(text.get(at), Some(b'+' | b'-')));
        (digits(&mut at) > 0).then_some(())?;
        leaf = Leaf::Number;
    }
    Some((at, leaf))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::{
        Batch, Covering, Inference, Mixed, Placeholders, Policy, records_fingerprint,
        select_records,
    };
    use crate::job::vars::Vars;
    use crate::job::{Job, JobFormat};
    use crate::json::scan::Scanner;
    use crate::json::{Parser, Scratch};
    use crate::sink::TextEncoder;

    /// The reader's Arrow batch of a page it reads, against the page
    /// makers' batch for a Parquet output.
    #[cfg(feature = "parquet")]
    fn same_batch(reader: &ShapedReader, columns: &Columns, body: &[u8]) {
        use crate::sink::PageOut;
        use crate::sink::arrow::Builders;
        let made = reader
            .read(body, columns.lines(Rows::Arrow), &mut Learned::default())
            .map(|s| s.made);
        let Some(Made::Batch(read)) = made else {
            panic!("the page read as lines is read as a batch")
        };
        let mut scanner = Scanner::default();
        let doc = scanner.scan(body, columns.extractor.plan()).unwrap();
        let records = select_records(doc.root(), &columns.job.records).unwrap();
        let mut batch = Batch::default();
        let covering = (columns.inference.as_ref()).map(|inference| Covering {
            inference,
            shape: columns.shape.as_ref(),
        });
        let placeholders = Placeholders::new();
        columns
            .extractor
            .extract_covered(&records, &placeholders, &mut batch, covering.as_ref());
        let page = PageOut {
            body,
            columns: columns.extractor.columns(),
            batch: &batch,
        };
        assert_eq!(
            read,
            Builders::page_batch(&page),
            "{}",
            String::from_utf8_lossy(body)
        );
    }

    /// The fingerprint the page path takes of `body`'s records.
    fn page_fingerprint(columns: &Columns, body: &[u8]) -> Option<u64> {
        let mut scanner = Scanner::default();
        let doc = scanner.scan(body, None).ok()?;
        let records = select_records(doc.root(), &columns.job.records).ok()?;
        records_fingerprint(&records)
    }

    /// A job's columns, and what their records are checked against when
    /// they were inferred.
    struct Columns {
        job: Job,
        extractor: Extractor,
        inference: Option<Inference>,
        shape: Option<Shape>,
    }

    impl Columns {
        fn lines<'a>(&'a self, rows: Rows<'a>) -> Lines<'a> {
            Lines {
                extractor: &self.extractor,
                shape: self.shape.as_ref(),
                rows,
            }
        }
    }

    fn job(toml: &str) -> Job {
        let toml = format!("[request]\nurl = \"https://api.example.com/x\"\n{toml}");
        Job::parse(&toml, JobFormat::Toml, "test job", &Vars::isolated([])).unwrap()
    }

    /// Columns inferred from `first`, as an NDJSON run infers them.
    fn inferred(records: &str, first: impl AsRef<[u8]>) -> Columns {
        let job = job(records);
        let (mut parser, mut scratch) = (Parser::default(), Scratch::default());
        let page = parser.parse(first.as_ref(), &mut scratch).unwrap();
        let found = select_records(&page, &job.records).unwrap();
        let mut inference = Inference::new(&job.records.flatten, Mixed::Json);
        inference.feed(&found, Policy::Grow);
        let extractor = Extractor::inferred(inference.columns(), &job.records);
        let shape = inference.shape(extractor.columns());
        Columns {
            job,
            extractor,
            inference: Some(inference),
            shape,
        }
    }

    fn declared(toml: &str) -> Columns {
        let job = job(toml);
        let extractor = Extractor::new(job.columns.clone().unwrap(), &job.records);
        Columns {
            job,
            extractor,
            inference: None,
            shape: None,
        }
    }

    /// The rows and lines the page path makes of `body`, if it writes
    /// every record as it stands: `None` for a page it refuses, one with
    /// anything new for inferred columns, a dirty record or a null
    /// written for a problem.
    fn page_path(columns: &Columns, body: &[u8]) -> Option<(usize, Vec<u8>)> {
        let mut scanner = Scanner::default();
        let doc = scanner.scan(body, columns.extractor.plan()).ok()?;
        let records = select_records(doc.root(), &columns.job.records).ok()?;
        let covering = (columns.inference.as_ref()).map(|inference| Covering {
            inference,
            shape: columns.shape.as_ref(),
        });
        let mut batch = Batch::default();
        let covered = columns.extractor.extract_covered(
            &records,
            &Placeholders::new(),
            &mut batch,
            covering.as_ref(),
        );
        if !covered || !batch.dirty.is_empty() || !batch.tolerated.is_empty() {
            return None;
        }
        let width = columns.extractor.columns().len();
        let encoder = TextEncoder::Ndjson(NdjsonEncoder::new(columns.extractor.columns()));
        let mut out = Vec::new();
        encoder.encode(&batch, width, &mut out);
        Some((batch.rows, out))
    }

    /// The reader's rows and lines for `body`, checked against the page
    /// path's wherever the reader takes the page and the page around the
    /// records is JSON (a run hands it to the page path otherwise).
    fn read(columns: &Columns, body: impl AsRef<[u8]>) -> Option<(usize, String)> {
        read_learned(columns, body, &mut Learned::default())
    }

    /// [`read`] with the templates of earlier pages.
    fn read_learned(
        columns: &Columns,
        body: impl AsRef<[u8]>,
        learned: &mut Learned,
    ) -> Option<(usize, String)> {
        let body = body.as_ref();
        let reader = ShapedReader::new(&columns.job.records, &columns.extractor)
            .expect("a reader for these columns");
        let encoder = NdjsonEncoder::new(columns.extractor.columns());
        let lines = columns.lines(Rows::Ndjson(&encoder));
        let shaped = reader.read(body, lines, learned)?;
        Scanner::default().scan(&shaped.around(body), None).ok()?;
        assert_eq!(
            shaped.fingerprint(body, &mut Scanner::default()),
            page_fingerprint(columns, body),
            "{}",
            String::from_utf8_lossy(body)
        );
        #[cfg(feature = "parquet")]
        same_batch(&reader, columns, body);
        let text = shaped.made.into_text().expect("NDJSON lines are text");
        let read = (shaped.rows, String::from_utf8(text).unwrap());
        let page_path =
            page_path(columns, body).map(|(rows, text)| (rows, String::from_utf8(text).unwrap()));
        assert_eq!(
            Some(&read),
            page_path.as_ref(),
            "the reader took a page the page path makes otherwise:\n{}",
            String::from_utf8_lossy(body)
        );
        Some(read)
    }

    const RECORDS: [&str; 4] = [
        r#"{"id":1,"score":0.25256176265814412,"amount":2213.89,"name":"a","at":"2023-11-14T22:13:45.956Z","on":true,"gone":null,"user":{"id":7,"name":"x"},"note":"ring \u0007 \"q\" \\ \/ \u00e9 \ud83d\ude00"}"#,
        r#"{"id":-2,"score":1e-7,"amount":0,"name":"","at":"2023-11-14T22:13:45Z","on":false,"gone":null,"user":{"id":0,"name":"café – ✓"},"note":"plain"}"#,
        r#"{"id":3,"score":-0.5,"amount":12.5,"name":"tab\there","at":"2023-11-15T00:00:00.000Z","on":true,"gone":null,"user":{"id":9007199254740993,"name":"y"},"note":"\n\r\t\b\f"}"#,
        r#"{"id":4,"score":3,"amount":1.0E2,"name":"z","at":"2023-11-15T01:02:03.123456Z","on":false,"gone":null,"user":{"id":1,"name":"q"},"note":""}"#,
    ];

    /// A record of the members of `n`'s set bits among `a` to `f`, each
    /// `n`, after `"id":1`.
    fn layout(n: usize) -> String {
        let members: String = (0..6u8)
            .filter(|bit| n >> bit & 1 == 1)
            .map(|bit| format!(r#","{}":{n}"#, char::from(b'a' + bit)))
            .collect();
        format!(r#"{{"id":1{members}}}"#)
    }

    /// A page of a record of each of `sets`' layouts (see [`layout`]).
    fn layouts(sets: impl Iterator<Item = usize>) -> String {
        let records: Vec<String> = sets.map(layout).collect();
        page(&records.iter().map(String::as_str).collect::<Vec<_>>())
    }

    fn page(records: &[&str]) -> String {
        format!(
            r#"{{"data":[{}],"paging":{{"next":"/p?page=2"}}}}"#,
            records.join(",")
        )
    }

    /// Pages of one shape are read, and make what the page path makes:
    /// escapes, 17-digit doubles, timestamps of each precision, nested
    /// objects, whole numbers past 2^53, nulls.
    #[test]
    fn a_page_of_one_shape_makes_the_lines_of_the_page_path() {
        let first = page(&RECORDS);
        let columns = inferred("[records]\npath = \"data\"", &first);
        let (rows, text) = read(&columns, &first).expect("the page is read");
        assert_eq!(rows, 4);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            r#"{"id":1,"score":0.25256176265814412,"amount":2213.89,"name":"a","at":"2023-11-14T22:13:45.956Z","on":true,"gone":null,"user_id":7,"user_name":"x","note":"ring \u0007 \"q\" \\ / é 😀"}"#
        );
        assert_eq!(
            lines[2],
            r#"{"id":3,"score":-0.5,"amount":12.5,"name":"tab\there","at":"2023-11-15T00:00:00Z","on":true,"gone":null,"user_id":9007199254740993,"user_name":"y","note":"\n\r\t\b\f"}"#
        );
        // Records at the top of the page.
        let top = format!("[{}]", RECORDS.join(","));
        let at_top = inferred("", &top);
        assert_eq!(read(&at_top, &top).map(|r| r.0), Some(4));
        // Declared columns: fewer than the members, in another order.
        let columns = declared(
            "[records]\npath = \"data\"\n\
             [[columns]]\nname = \"user\"\npath = \"user.name\"\ntype = \"string\"\n\
             [[columns]]\nname = \"id\"\ntype = \"long\"\n\
             [[columns]]\nname = \"when\"\npath = \"at\"\ntype = \"timestamp\"\n\
             [[columns]]\nname = \"score\"\ntype = \"double\"",
        );
        let (rows, text) = read(&columns, &first).expect("the page is read");
        assert_eq!(rows, 4);
        assert_eq!(
            text.lines().nth(3),
            Some(r#"{"user":"q","id":4,"when":"2023-11-15T01:02:03.123456Z","score":3.0}"#)
        );
    }

    /// A `double` column's number with a fraction or an exponent is
    /// written as the page spells it, long or short, in one pass or
    /// through its cell; a whole number and a numeric string are
    /// written as their double's shortest text.
    #[test]
    fn a_double_is_written_as_the_page_spells_it() {
        let long = format!("0.{}", "1".repeat(70));
        let columns = declared(
            "[records]\npath = \"data\"\n\
             [[columns]]\nname = \"score\"\ntype = \"double\"",
        );
        for (spelled, written) in [
            ("0.25256176265814412", "0.25256176265814412"),
            ("2213.80", "2213.80"),
            ("-0.0", "-0.0"),
            ("1.0E2", "1.0E2"),
            ("1e-7", "1e-7"),
            (long.as_str(), long.as_str()),
            ("5", "5.0"),
            ("\"2.50\"", "2.5"),
        ] {
            let record = format!(r#"{{"score":{spelled}}}"#);
            let (rows, text) = read(&columns, page(&[&record, &record])).expect("read");
            assert_eq!(rows, 2);
            assert_eq!(
                text.lines().next(),
                Some(format!(r#"{{"score":{written}}}"#).as_str())
            );
        }
        // Past a double: the page path's to refuse.
        let huge = format!(r#"{{"score":{}.5}}"#, "1".repeat(400));
        assert_eq!(read(&columns, page(&[&huge])), None);
    }

    /// A `timestamp` column's time is written as the page path writes
    /// it: copied where that is its text, converted where it is another
    /// (a fraction of zeros, of other lengths) or where the column has a
    /// `format` of its own.
    #[test]
    fn a_time_is_written_as_the_page_path_writes_it() {
        let column = |format: &str| {
            declared(&format!(
                "[records]\npath = \"data\"\n\
                 [[columns]]\nname = \"at\"\ntype = \"timestamp\"\n{format}"
            ))
        };
        let (plain, swapped) = (column(""), column("format = \"%Y-%d-%mT%H:%M:%S%.fZ\""));
        for (columns, time, written) in [
            (
                &plain,
                "2023-11-05T22:13:45.956Z",
                "2023-11-05T22:13:45.956Z",
            ),
            (&plain, "2023-11-05T22:13:45.000Z", "2023-11-05T22:13:45Z"),
            (
                &plain,
                "2023-11-05T22:13:45.95Z",
                "2023-11-05T22:13:45.950Z",
            ),
            (
                &plain,
                "2023-11-05T22:13:45.123456789Z",
                "2023-11-05T22:13:45.123456Z",
            ),
            (&plain, "2023-11-05T22:13:45+01:00", "2023-11-05T21:13:45Z"),
            (
                &swapped,
                "2023-11-05T22:13:45.956Z",
                "2023-05-11T22:13:45.956Z",
            ),
        ] {
            let record = format!(r#"{{"at":"{time}"}}"#);
            let (_, text) = read(columns, page(&[&record, &record])).expect("read");
            assert_eq!(
                text.lines().next(),
                Some(format!(r#"{{"at":"{written}"}}"#).as_str())
            );
        }
    }

    /// An inferred `timestamp` column holds times to microseconds: a
    /// record with more digits holds something new, and both kinds of
    /// rows hand its page back, as they do not read such a time from its
    /// text.
    #[test]
    fn a_time_past_microseconds_at_an_inferred_column_is_handed_back() {
        let record =
            |fraction: &str| format!(r#"{{"id":1,"at":"2023-11-05T22:13:45.{fraction}Z"}}"#);
        let columns = inferred("[records]\npath = \"data\"", page(&[&record("956")]));
        for (fraction, taken) in [("956", true), ("123456", true), ("123456789", false)] {
            let body = page(&[&record(fraction), &record(fraction)]);
            // Lines (compared with the page path's where taken).
            assert_eq!(read(&columns, &body).is_some(), taken, "{fraction}");
            #[cfg(feature = "parquet")]
            {
                let reader = ShapedReader::new(&columns.job.records, &columns.extractor).unwrap();
                let batch = reader.read(
                    body.as_bytes(),
                    columns.lines(Rows::Arrow),
                    &mut Learned::default(),
                );
                assert_eq!(batch.is_some(), taken, "{fraction}");
            }
        }
    }

    /// A record laid out apart from the first, its members in another
    /// order or some left out, takes a template of its own.
    #[test]
    fn a_record_laid_out_otherwise_takes_a_template_of_its_own() {
        let columns = inferred("[records]\npath = \"data\"", page(&RECORDS));
        let second = RECORDS[1];
        for (from, to) in [
            (r#""id":-2,"#, r#""id": -2,"#),
            (r#""id":-2,"score":1e-7,"#, r#""score":1e-7,"id":-2,"#),
            (r#""id":-2,"#, ""),
            (r#""user":{"id":0,"name":"café – ✓"}"#, r#""user":{"id":0}"#),
            (r#""user":{"id":0,"name":"café – ✓"}"#, r#""user":{ }"#),
            (r#"{"id":-2"#, r#"{ "id":-2"#),
            (r#""note":"plain"}"#, r#""note":"plain" }"#),
        ] {
            let changed = second.replacen(from, to, 1);
            let body = page(&[RECORDS[0], &changed, RECORDS[2]]);
            assert_eq!(read(&columns, &body).map(|r| r.0), Some(3), "{to}");
        }
    }

    /// A page where a record leaves the shape, or the text is not JSON,
    /// goes to the page path; where the reader takes a page anyway, it
    /// makes what the page path makes (checked in `read`).
    #[test]
    fn a_record_off_the_shape_hands_the_page_back() {
        let columns = inferred("[records]\npath = \"data\"", page(&RECORDS));
        let second = RECORDS[1];
        let changes: &[(&str, &str)] = &[
            (r#""id":-2,"#, r#""id":"-2","#),
            (r#""id":-2,"#, r#""id":2.5,"#),
            (r#""id":-2,"#, r#""id":99999999999999999999,"#),
            (r#""id":-2,"#, r#""id":-0,"#),
            (r#""id":-2,"#, r#""id":01,"#),
            (r#""id":-2,"#, r#""id":-,"#),
            (r#""id":-2,"#, r#""id":1.,"#),
            (r#""id":-2,"#, r#""id":.5,"#),
            (r#""id":-2,"#, r#""id":1e,"#),
            (r#""id":-2,"#, r#""id":+1,"#),
            (r#""id":-2,"#, r#""id":-2,"id":5,"#),
            (r#""id":-2,"#, r#""id":-2,"extra":1,"#),
            (r#""id":-2,"#, r#""extra":1,"#),
            (r#""na"#, r#""n\u0061"#),
            (r#""on":false"#, r#""on":"false""#),
            (r#""on":false"#, r#""on":False"#),
            (r#""gone":null"#, r#""gone":nul"#),
            (r#""gone":null"#, r#""gone":"x""#),
            (r#""gone":null"#, r#""gone":[]"#),
            (r#""name":"""#, r#""name":["a"]"#),
            (r#""name":"""#, "\"name\":\"a\u{1}b\""),
            (r#""name":"""#, r#""name":"\ud800""#),
            (r#""name":"""#, r#""name":"\x41""#),
            (r#""name":"""#, r#""name":"\u12""#),
            (
                r#""at":"2023-11-14T22:13:45Z""#,
                r#""at":"2023-13-14T22:13:45Z""#,
            ),
            (r#""at":"2023-11-14T22:13:45Z""#, r#""at":"soon""#),
            (r#""user":{"id":0,"name":"café – ✓"}"#, r#""user":7"#),
            // A key twice, in a record that leaves out a column too: the
            // page path takes the first `user`.
            (
                r#""user":{"id":0,"name":"café – ✓"},"note":"plain""#,
                r#""user":{"id":0},"user":{"name":"x"}"#,
            ),
            (r#""user":{"id":0,"name":"café – ✓"}"#, r#""user":null"#),
        ];
        let (mut taken, mut declined) = (0, 0);
        for (from, to) in changes {
            assert!(second.contains(from), "{from}");
            let changed = second.replacen(from, to, 1);
            let body = page(&[RECORDS[0], &changed, RECORDS[2]]);
            match read(&columns, &body) {
                Some(_) => taken += 1,
                None => declined += 1,
            }
        }
        // Every record, the first too, which the shape is learned from: a
        // member the columns do not have (new to inferred columns), a key
        // twice (the page path takes the first value).
        for (from, to) in [
            (r#""name""#, r#""new":2,"name""#),
            (r#""name""#, r#""id":5,"name""#),
        ] {
            let all: Vec<String> = RECORDS.iter().map(|r| r.replacen(from, to, 1)).collect();
            let body = page(&all.iter().map(String::as_str).collect::<Vec<_>>());
            match read(&columns, &body) {
                Some(_) => taken += 1,
                None => declined += 1,
            }
        }
        // A key twice in every record, for declared columns, which have no
        // count of members to tell: the page path takes the first value.
        let id =
            declared("[records]\npath = \"data\"\n[[columns]]\nname = \"id\"\ntype = \"long\"");
        let twice: Vec<String> = (RECORDS.iter())
            .map(|r| r.replacen(r#""name""#, r#""id":5,"name""#, 1))
            .collect();
        let twice = page(&twice.iter().map(String::as_str).collect::<Vec<_>>());
        assert!(page_path(&id, twice.as_bytes()).is_some());
        assert_eq!(read(&id, &twice), None);
        // Objects nested deeper than the reader goes, as a hostile page
        // might: the page path takes them, the reader does not.
        for depth in [MAX_NESTING, MAX_NESTING + 1] {
            let deep = format!("{}1{}", r#"{"a":"#.repeat(depth), "}".repeat(depth));
            let path = vec!["a"; depth].join(".");
            let nested = declared(&format!(
                "[records]\npath = \"data\"\n\
                 [[columns]]\nname = \"a\"\npath = \"{path}\"\ntype = \"long\""
            ));
            assert!(page_path(&nested, page(&[&deep]).as_bytes()).is_some());
            let read = read(&nested, page(&[&deep])).map(|r| r.0);
            assert_eq!(read, (depth == MAX_NESTING).then_some(1), "{depth}");
        }
        // The whole pages that are not JSON, or hold something else.
        let whole = page(&RECORDS);
        for body in [
            whole[..whole.len() - 1].to_owned(),
            format!("{whole}x"),
            whole.replacen("],", "] ,", 1),
            whole.replacen(r#""/p?page=2""#, r#""/p?page=2"#, 1),
            format!("\u{feff}{whole}"),
            page(&[RECORDS[0], "1"]),
            page(&[RECORDS[0], "[]"]),
            page(&[]),
        ] {
            match read(&columns, &body) {
                Some(_) => taken += 1,
                None => declined += 1,
            }
        }
        // Taken: `-0` (the page path writes `0` too) and space after the
        // records' array, which the page around them holds.
        assert_eq!((declined, taken), (37, 2));
    }

    /// `{}`, as APIs write an object of no fields (`"metadata": {}`), is
    /// a `json` column's value where inference made one of it, and
    /// otherwise the text between values: the columns under it are left
    /// out. An object of fields where a `json` column read `{}` is new to
    /// the columns, and goes to the page path.
    #[test]
    fn empty_objects_are_values_or_text_between_them() {
        let page = |metadata: [&str; 3]| {
            let records = metadata.map(|m| format!(r#"{{"id":1,"metadata":{m},"tags":[]}}"#));
            format!(r#"{{"data":[{}]}}"#, records.join(","))
        };
        let empty = page(["{}", "{}", "{ }"]);
        let json = inferred("[records]\npath = \"data\"", &empty);
        let (rows, lines) = read(&json, &empty).expect("`{}` in a json column");
        assert_eq!(rows, 3);
        assert_eq!(
            lines.lines().last(),
            Some(r#"{"id":1,"metadata":{},"tags":[]}"#)
        );
        let filled = page(["{}", r#"{"a":"x"}"#, "{}"]);
        assert!(page_path(&json, filled.as_bytes()).is_none());
        assert_eq!(read(&json, &filled), None);
        // Inferred where no record has `metadata`: new to the columns,
        // in a record that leaves out `name` too.
        let none = r#"{"data":[{"id":1,"name":"a","tags":[]}]}"#;
        let without = inferred("[records]\npath = \"data\"", none);
        let new = r#"{"data":[{"id":1,"metadata":{},"tags":[]}]}"#;
        assert!(page_path(&without, new.as_bytes()).is_none());
        assert_eq!(read(&without, new), None);
        // Inferred from a page where `metadata` has a field.
        let field = inferred("[records]\npath = \"data\"", &filled);
        let (_, lines) = read(&field, &filled).expect("`{}` on the way to a column");
        assert_eq!(
            lines.lines().next(),
            Some(r#"{"id":1,"tags":[],"metadata_a":null}"#)
        );
        // Declared columns: stepped over, or refused for a column that
        // is not `json`.
        let column = |kind: &str| {
            declared(&format!(
                "[records]\npath = \"data\"\n\
                 [[columns]]\nname = \"id\"\ntype = \"long\"\n\
                 [[columns]]\nname = \"metadata\"\ntype = \"{kind}\""
            ))
        };
        let (_, lines) = read(&column("json"), &empty).expect("a declared json column");
        assert_eq!(lines.lines().next(), Some(r#"{"id":1,"metadata":{}}"#));
        assert!(page_path(&column("string"), empty.as_bytes()).is_some());
        assert_eq!(read(&column("string"), &empty), None);
        assert_eq!(read(&column("boolean"), &empty), None);
        let id =
            declared("[records]\npath = \"data\"\n[[columns]]\nname = \"id\"\ntype = \"long\"");
        assert_eq!(read(&id, &empty).map(|r| r.0), Some(3));
    }

    /// Pages as pretty printers write them (two or four spaces, tabs,
    /// CRLF, space after each comma) keep one shape: the reader makes of
    /// them the lines it makes of the compact page, a record laid out
    /// apart from the first too.
    #[test]
    fn a_pretty_page_is_read_as_its_compact_text() {
        use hydrant_bench::corpus::indent;
        let compact = page(&RECORDS);
        let columns = inferred("[records]\npath = \"data\"", &compact);
        let (rows, lines) = read(&columns, &compact).expect("the compact page");
        let two = String::from_utf8(indent(compact.as_bytes(), "  ")).unwrap();
        let layouts = [
            two.clone(),
            String::from_utf8(indent(compact.as_bytes(), "    ")).unwrap(),
            String::from_utf8(indent(compact.as_bytes(), "\t")).unwrap(),
            two.replace('\n', "\r\n"),
            String::from_utf8(indent(compact.as_bytes(), ""))
                .unwrap()
                .replace('\n', " "),
            format!("\n{two}\n"),
        ];
        for body in &layouts {
            // Columns inferred from the compact page or from this one.
            let pretty = inferred("[records]\npath = \"data\"", body);
            for columns in [&columns, &pretty] {
                let read = read(columns, body);
                assert_eq!(read.as_ref(), Some(&(rows, lines.clone())), "{body}");
            }
        }
        // The second record's user on one line.
        let second = two.match_indices("\"user\": {").nth(1).unwrap().0;
        let end = second + two[second..].find('}').unwrap() + 1;
        let flat: String = two[second..end].lines().map(str::trim_start).collect();
        let body = format!("{}{flat}{}", &two[..second], &two[end..]);
        assert_eq!(read(&columns, &body), Some((rows, lines)), "{body}");
    }

    /// Records that leave out members, as APIs that omit nulls write
    /// them, take a template for each set of members: a left-out value
    /// is null, as the page path makes it, the first record's too. Past
    /// `MAX_TEMPLATES` sets, or where the job counts an absent value
    /// (dirty, or noted for its warning), the page goes to the page path.
    #[test]
    fn records_that_leave_out_members_are_read_with_a_template_each() {
        let optional = [r#""gone":null,"#, r#""name":"z","#, r#","note":"""#];
        // Record `n` leaves out the members of `n`'s set bits.
        let sparse = |n: usize| {
            let mut record = RECORDS[3].to_owned();
            for (bit, member) in optional.iter().enumerate() {
                if n >> bit & 1 == 1 {
                    record = record.replacen(member, "", 1);
                }
            }
            record
        };
        let whole = page(&RECORDS);
        let columns = inferred("[records]\npath = \"data\"", &whole);
        for sets in [1, 2, 8] {
            let records: Vec<String> = (0..24).map(|n| sparse(7 - n % sets)).collect();
            let records: Vec<&str> = records.iter().map(String::as_str).collect();
            let (rows, lines) = read(&columns, page(&records)).expect("a sparse page");
            assert_eq!(rows, 24);
            assert_eq!(
                lines.lines().next(),
                Some(
                    r#"{"id":4,"score":3.0,"amount":1.0E2,"name":null,"at":"2023-11-15T01:02:03.123456Z","on":false,"gone":null,"user_id":1,"user_name":"q","note":null}"#
                )
            );
        }
        // Thirty-three sets: one more than the reader keeps.
        let letters = inferred("[records]\npath = \"data\"", page(&[&layout(63)]));
        assert!(page_path(&letters, layouts(0..33).as_bytes()).is_some());
        assert_eq!(read(&letters, layouts(0..33)), None);
        assert_eq!(read(&letters, layouts(0..32)).map(|r| r.0), Some(32));
        // Declared columns: left out, null; dirty where the job says so,
        // noted where the run warns of a column no record has.
        let body = page(&[&sparse(7), RECORDS[3], &sparse(2)]);
        let toml = "[records]\npath = \"data\"\n\
                    [[columns]]\nname = \"id\"\ntype = \"long\"\n\
                    [[columns]]\nname = \"name\"\ntype = \"string\"";
        let (_, lines) = read(&declared(toml), &body).expect("declared columns");
        assert_eq!(
            lines,
            "{\"id\":4,\"name\":null}\n{\"id\":4,\"name\":\"z\"}\n{\"id\":4,\"name\":null}\n"
        );
        let dirty = declared(&toml.replacen("data\"", "data\"\non_missing = \"dirty\"", 1));
        assert!(page_path(&dirty, body.as_bytes()).is_none());
        assert_eq!(read(&dirty, &body), None);
        // Noted, as a run notes absent values of declared columns: the
        // same cells as the page path notes.
        let mut noting = declared(toml);
        noting.extractor = noting.extractor.noting_absent();
        let reader = ShapedReader::new(&noting.job.records, &noting.extractor).unwrap();
        let encoder = NdjsonEncoder::new(noting.extractor.columns());
        let shaped = (reader.read(
            body.as_bytes(),
            noting.lines(Rows::Ndjson(&encoder)),
            &mut Learned::default(),
        ))
        .expect("a page whose absent values are noted");
        let mut scanner = Scanner::default();
        let doc = scanner
            .scan(body.as_bytes(), noting.extractor.plan())
            .unwrap();
        let records = select_records(doc.root(), &noting.job.records).unwrap();
        let mut batch = Batch::default();
        (noting.extractor).extract_covered(&records, &Placeholders::new(), &mut batch, None);
        let missing = |row, column| Tolerated {
            row,
            column,
            missing: true,
        };
        assert_eq!(shaped.tolerated, [missing(0, 1), missing(2, 1)]);
        assert_eq!(shaped.tolerated, batch.tolerated);
        assert_eq!(shaped.made.into_text().unwrap(), lines.as_bytes());
        // A record that leaves a template goes on in another from the
        // values whose text before them the two share: here the record
        // `axcg` leaves `abce` at `x`, goes on in `axcf` from `x` and
        // leaves it at `g`; `abcg` shares only `a` with it, though more
        // with `abce`, and it teaches a template of its own.
        let layout = |keys: &str| {
            let members: Vec<String> = keys.chars().map(|k| format!(r#""{k}":1"#)).collect();
            format!("{{{}}}", members.join(","))
        };
        let records = ["axcf", "abcg", "abce", "axcg"].map(layout);
        let records: Vec<&str> = records.iter().map(String::as_str).collect();
        let letters = inferred("[records]\npath = \"data\"", page(&records));
        assert_eq!(read(&letters, page(&records)).map(|r| r.0), Some(4));
        // A column whose value is an object is not left out: the page
        // path writes its text. A path through a value that is not an
        // object finds nothing.
        let user = |path: &str| {
            declared(&format!(
                "[records]\npath = \"data\"\n\
                 [[columns]]\nname = \"u\"\npath = \"{path}\"\ntype = \"string\""
            ))
        };
        let body = page(&RECORDS[..2]);
        assert!(page_path(&user("user"), body.as_bytes()).is_some());
        assert_eq!(read(&user("user"), &body), None);
        let (_, lines) = read(&user("on.name"), &body).expect("a path through `true`");
        assert_eq!(lines, "{\"u\":null}\n{\"u\":null}\n");
    }

    /// A record that leaves its template tries first the templates
    /// that share the most text with it, and goes on from the values
    /// read: four layouts as the `sparse` corpus has, `b` and `d`
    /// each left out of some records.
    #[test]
    fn a_record_tries_first_the_templates_sharing_the_most_text() {
        let learn = |keys: &str| {
            let members: Vec<String> = keys.chars().map(|k| format!(r#""{k}":1"#)).collect();
            let record = format!("{{{}}}", members.join(","));
            Template::learn(record.as_bytes(), 0, &[], &[]).unwrap()
        };
        let (mut templates, mut kinship) = (Vec::new(), Kinship::default());
        for keys in ["ace", "abcde", "abce", "acde"] {
            templates.push(learn(keys));
            kinship.add(&templates);
        }
        assert_eq!(kinship.shared[1], [1, 5, 3, 1]);
        assert_eq!(kinship.shared[0], [3, 1, 1, 2]);
        assert_eq!(kinship.tries[1], [2, 0, 3]);
        assert_eq!(kinship.tries[0], [3, 1, 2]);
        // `abcde` leaves `abce` at `d` and goes on in `abcde` from `d`;
        // `ace` leaves `abcde` at `c`, where `abce` would leave too, and
        // goes on in `ace`.
        let never = |_| panic!("no template is learned");
        let cases: [(&[u8], usize, usize, usize, usize); 2] = [
            (br#"{"a":1,"b":1,"c":1,"d":1,"e":1}"#, 2, 3, 1, 5),
            (br#"{"a":1,"c":1,"e":1}"#, 1, 1, 0, 3),
        ];
        for (record, left, read, found, values) in cases {
            let mut row = Row::default();
            assert_eq!(templates[left].walk(record, 0, &mut row), None);
            assert_eq!(row.values.len(), read);
            let other = another(
                &mut templates,
                &mut kinship,
                left,
                (record, 0),
                &mut row,
                never,
            );
            assert_eq!(other, Some((found, record.len())));
            // Each value is `1`, six bytes after the last.
            let ends: Vec<usize> = row.values.iter().map(|v| v.1.end).collect();
            assert_eq!(ends, (1..=values).map(|i| 6 * i).collect::<Vec<_>>());
        }
    }

    /// Arrays of members no column reads are stepped over, their text
    /// and any space among it checked as the page path checks them: a
    /// page with anything it would refuse there is handed back, and so is
    /// one whose column reads an array.
    #[test]
    fn arrays_no_column_reads_are_stepped_over_and_checked() {
        let columns = declared(
            "[records]\npath = \"data\"\n\
             [[columns]]\nname = \"id\"\ntype = \"long\"\n\
             [[columns]]\nname = \"name\"\ntype = \"string\"",
        );
        let with_tags = |second: &str| {
            let tagged: Vec<String> = (RECORDS.iter().enumerate())
                .map(|(i, r)| {
                    let tags = if i == 1 { second } else { r#"["a",1]"# };
                    r.replacen(r#""name""#, &format!(r#""tags":{tags},"name""#), 1)
                })
                .collect();
            page(&tagged.iter().map(String::as_str).collect::<Vec<_>>())
        };
        let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        let good = [
            "[]".to_owned(),
            "[1,2.5,-3e2,0]".to_owned(),
            r#"["a","\u00e9\n\"",{"k":[true,false,null]}]"#.to_owned(),
            "[{}]".to_owned(),
            r#"[{"a":1,"a":2}]"#.to_owned(),
            r#"[{"x":"\ud83d\ude00"}]"#.to_owned(),
            deep(MAX_NESTING),
            "[ 1]".to_owned(),
            "[\n  {\n    \"k\" : [ true,\tnull ]\r\n  } ,\"a b\" ]".to_owned(),
        ];
        for tags in &good {
            assert!(read(&columns, with_tags(tags)).is_some(), "{tags}");
        }
        let bad = [
            "[1,]".to_owned(),
            "[,1]".to_owned(),
            "[1 2]".to_owned(),
            "[1 , ,2]".to_owned(),
            "[\u{c}1]".to_owned(),
            r#"["\x41"]"#.to_owned(),
            r#"["\ud800"]"#.to_owned(),
            "[\"a\u{1}\"]".to_owned(),
            "[tru]".to_owned(),
            "[01]".to_owned(),
            r#"[{"a"}]"#.to_owned(),
            r#"[{"a":1,}]"#.to_owned(),
            r#"[{"a",1}]"#.to_owned(),
            "[{1:2}]".to_owned(),
            r#"[{"a":1]"#.to_owned(),
            r#"[{"\x":1}]"#.to_owned(),
            deep(MAX_NESTING + 1),
        ];
        for tags in &bad {
            assert_eq!(read(&columns, with_tags(tags)), None, "{tags}");
        }
        // A `json` column reads the array as the page path writes it: its
        // text, without space, escapes written as the page path writes
        // them, `-0` as `0`. A column of another type does not read it.
        let column = |kind: &str| {
            declared(&format!(
                "[records]\npath = \"data\"\n[[columns]]\nname = \"tags\"\ntype = \"{kind}\""
            ))
        };
        let json = column("json");
        let repeats = |tags: &&String| tags.contains(r#""a":1,"a""#);
        for tags in good.iter().filter(|tags| !repeats(tags)) {
            let (_, lines) = read(&json, with_tags(tags)).expect(tags);
            let tags = match tags.as_str() {
                "[ 1]" => "[1]",
                spaced if spaced.contains('\n') => r#"[{"k":[true,null]},"a b"]"#,
                r#"["a","\u00e9\n\"",{"k":[true,false,null]}]"# => {
                    r#"["a","é\n\"",{"k":[true,false,null]}]"#
                }
                r#"[{"x":"\ud83d\ude00"}]"# => r#"[{"x":"😀"}]"#,
                tags => tags,
            };
            assert!(lines.contains(&format!(r#"{{"tags":{tags}}}"#)), "{lines}");
        }
        for (tags, written) in [
            (r#"["\u0041"]"#, r#"["A"]"#),
            (r#"[{"\/":1}]"#, r#"[{"/":1}]"#),
            (r#"["\u0007\/"]"#, r#"["\u0007/"]"#),
            ("[-0]", "[0]"),
            ("[1,-0]", "[1,0]"),
            ("[1, -0 ]", "[1,0]"),
            (r#"[{"a":-0},"-0"]"#, r#"[{"a":0},"-0"]"#),
            ("[-0.0,-0e1,0]", "[-0.0,-0e1,0]"),
        ] {
            let (_, lines) = read(&json, with_tags(tags)).expect(tags);
            assert!(
                lines.contains(&format!(r#"{{"tags":{written}}}"#)),
                "{lines}"
            );
        }
        for tags in ["[1.50,2E0,-1e-400]", "[99999999999999999999]"] {
            assert!(read(&json, with_tags(tags)).is_some(), "{tags}");
        }
        let body = with_tags("[1]");
        assert!(page_path(&column("string"), body.as_bytes()).is_some());
        assert_eq!(read(&column("string"), &body), None);
    }

    /// A `json` column's object that repeats a key, spelled alike or not,
    /// is the page path's, which writes the key's first member alone.
    #[test]
    fn an_object_that_repeats_a_key_is_left_to_the_page_path() {
        let with_tags = |tags: &str| {
            let tagged: Vec<String> = (RECORDS.iter())
                .map(|r| r.replacen(r#""name""#, &format!(r#""tags":{tags},"name""#), 1))
                .collect();
            page(&tagged.iter().map(String::as_str).collect::<Vec<_>>())
        };
        let json =
            declared("[records]\npath = \"data\"\n[[columns]]\nname = \"tags\"\ntype = \"json\"");
        for (tags, written) in [
            (
                r#"[{"a":1,"b":{"c":2,"c":3},"a":2}]"#,
                r#"[{"a":1,"b":{"c":2}}]"#,
            ),
            (r#"[{"b":{"c":2,"\u0063":3}}]"#, r#"[{"b":{"c":2}}]"#),
            (r#"[{"\u00e9":1,"é":2},{"é":3}]"#, r#"[{"é":1},{"é":3}]"#),
        ] {
            let repeated = with_tags(tags);
            assert_eq!(read(&json, &repeated), None, "{tags}");
            let (_, lines) = page_path(&json, repeated.as_bytes()).unwrap();
            let lines = String::from_utf8(lines).unwrap();
            assert!(
                lines.contains(&format!(r#"{{"tags":{written}}}"#)),
                "{lines}"
            );
        }
        // Objects that repeat no key, one beside another or nested, are
        // read.
        let distinct = [
            r#"[{"a":1},{"a":2,"b":{"a":3}}]"#,
            r#"[{"b":{"a":3},"a":4}]"#,
            r#"[{"\u00e9":1,"e":2},{"é":3}]"#,
        ];
        for tags in distinct {
            assert!(read(&json, with_tags(tags)).is_some(), "{tags}");
        }
    }

    /// A page maker keeps the templates its pages taught for its next
    /// pages; where those fill the bound that a page's own layouts do
    /// not, the page is read again without them.
    #[test]
    fn templates_learned_on_a_page_serve_the_next() {
        let columns = inferred("[records]\npath = \"data\"", page(&[&layout(63)]));
        let mut learned = Learned::default();
        assert_eq!(
            read_learned(&columns, layouts(0..4), &mut learned).map(|r| r.0),
            Some(4)
        );
        assert_eq!(learned.templates.len(), 4);
        // The same layouts, in another order, need no more.
        let (rows, lines) = read_learned(&columns, layouts((0..4).rev()), &mut learned).unwrap();
        assert_eq!(rows, 4);
        assert_eq!(learned.templates.len(), 4);
        assert_eq!(
            lines.lines().next(),
            Some(r#"{"id":1,"a":3,"b":3,"c":null,"d":null,"e":null,"f":null}"#)
        );
        // Four more layouts: the page maker holds eight.
        let (rows, _) = read_learned(&columns, layouts(2..8), &mut learned).unwrap();
        assert_eq!((rows, learned.templates.len()), (6, 8));
        // 32 layouts fill the bound; 32 others are read after them.
        assert_eq!(
            read_learned(&columns, layouts(0..32), &mut learned).map(|r| r.0),
            Some(32)
        );
        assert_eq!(learned.templates.len(), 32);
        assert_eq!(
            read_learned(&columns, layouts(32..64), &mut learned).map(|r| r.0),
            Some(32)
        );
        assert_eq!(learned.templates.len(), 32);
        // A page of 33 is handed back either way.
        assert_eq!(read_learned(&columns, layouts(0..33), &mut learned), None);
    }

    /// A declared `json` column reads an object as its value, written as
    /// the page path writes it, unless another column reads a field of
    /// it; a column of another type does not read it.
    #[test]
    fn a_json_column_reads_an_object_as_its_value() {
        let columns = |kind: &str, more: &str| {
            declared(&format!(
                "[records]\npath = \"data\"\n\
                 [[columns]]\nname = \"id\"\ntype = \"long\"\n\
                 [[columns]]\nname = \"user\"\ntype = \"{kind}\"{more}"
            ))
        };
        let json = columns("json", "");
        let (rows, lines) = read(&json, page(&RECORDS)).expect("objects read");
        assert_eq!(rows, 4);
        let first = lines.lines().next();
        assert_eq!(first, Some(r#"{"id":1,"user":{"id":7,"name":"x"}}"#));
        // Values of each kind in one page, all of one template.
        let users = [
            (
                r#"{"n\u00e9":"caf\u00e9","deep":{"a":[1,-0]}}"#,
                r#"{"né":"café","deep":{"a":[1,0]}}"#,
            ),
            (r#"{"a":{"b":{"c":{}}}}"#, r#"{"a":{"b":{"c":{}}}}"#),
            ("[1,{}]", "[1,{}]"),
            ("{ }", "{}"),
            ("null", "null"),
        ];
        let records: Vec<String> = (users.iter())
            .map(|(user, _)| format!(r#"{{"id":5,"user":{user},"on":true}}"#))
            .collect();
        let records: Vec<&str> = records.iter().map(String::as_str).collect();
        let (_, lines) = read(&json, page(&records)).expect("every kind read");
        let written: Vec<String> = (users.iter())
            .map(|(_, user)| format!(r#"{{"id":5,"user":{user}}}"#))
            .collect();
        assert_eq!(lines.lines().collect::<Vec<_>>(), written);
        // One that repeats a key is the page path's, which writes the
        // key's first member alone.
        let repeated = page(&[r#"{"id":5,"user":{ "id" : 1 ,"id":2 },"on":true}"#]);
        assert_eq!(read(&json, &repeated), None);
        let (_, lines) = page_path(&json, repeated.as_bytes()).unwrap();
        assert_eq!(lines, b"{\"id\":5,\"user\":{\"id\":1}}\n");
        // A column of a field of it: the page path's. So is an object a
        // `string` column reads.
        let field = "\n[[columns]]\nname = \"user_id\"\npath = \"user.id\"\ntype = \"long\"";
        let body = page(&RECORDS);
        assert!(page_path(&columns("json", field), body.as_bytes()).is_some());
        assert_eq!(read(&columns("json", field), &body), None);
        assert!(page_path(&columns("string", ""), body.as_bytes()).is_some());
        assert_eq!(read(&columns("string", ""), &body), None);
    }

    /// A path two columns read gives its value to both, as the page path
    /// does: a time and its text. A time that does not convert to the
    /// other column's `date`, and columns that differ in reading an
    /// object, hand the page back.
    #[test]
    fn a_path_two_columns_read_gives_both_its_value() {
        let job = |second: &str| {
            declared(&format!(
                "[records]\npath = \"data\"\non_bad_type = \"null\"\n\
                 [[columns]]\nname = \"at\"\ntype = \"timestamp\"\n\
                 [[columns]]\nname = \"id\"\ntype = \"long\"\n\
                 [[columns]]\nname = \"second\"\npath = \"at\"\n{second}"
            ))
        };
        let body = page(&RECORDS);
        let (rows, text) = read(&job("type = \"string\""), &body).expect("taken");
        assert_eq!(rows, RECORDS.len());
        let first = text.lines().next().unwrap();
        assert_eq!(
            first,
            r#"{"at":"2023-11-14T22:13:45.956Z","id":1,"second":"2023-11-14T22:13:45.956Z"}"#
        );
        // A value that does not convert is the page path's to count.
        assert_eq!(read(&job("type = \"date\""), &body), None);
        assert!(page_path(&job("type = \"json\""), body.as_bytes()).is_some());
        let user = |kind: &str| {
            declared(&format!(
                "[records]\npath = \"data\"\n\
                 [[columns]]\nname = \"user\"\ntype = \"json\"\n\
                 [[columns]]\nname = \"again\"\npath = \"user\"\ntype = \"{kind}\""
            ))
        };
        for kind in ["string", "json"] {
            assert!(page_path(&user(kind), body.as_bytes()).is_some(), "{kind}");
            assert_eq!(read(&user(kind), &body), None, "{kind}");
        }
    }

    /// Members before the records (a count, a link, an object of
    /// metadata) are stepped over to find them, at each level of the
    /// records' path; the first member of the records' key is the one
    /// read, as the page path reads it.
    #[test]
    fn records_after_other_members_are_found() {
        let columns = inferred("[records]\npath = \"data\"", page(&RECORDS));
        let records = RECORDS.join(",");
        let heads = [
            r#""count":3,"#,
            r#""next":"/p?page=2","previous":null,"#,
            r#""meta":{"tags":[1,{"b":"\u00e9"}],"empty":{}},"n":-1.5e3,"#,
            "\"count\" :\t3 ,\n ",
        ];
        for head in heads {
            let body = format!(r#"{{{head}"data":[{records}],"done":true}}"#);
            let (rows, _) = read(&columns, &body).expect(head);
            assert_eq!(rows, RECORDS.len());
        }
        for head in [
            r#""data":5,"#,
            r#""d\u0061ta":[],"#,
            "\"count\":\u{c}3,",
            r#""meta":{"a":[1,]},"#,
            r#""n":01,"#,
        ] {
            let body = format!(r#"{{{head}"data":[{records}]}}"#);
            assert_eq!(read(&columns, &body), None, "{head}");
        }
        let nested = inferred("[records]\npath = \"result.items\"", {
            format!(r#"{{"result":{{"items":[{records}]}}}}"#)
        });
        let body = format!(r#"{{"ok":true,"result":{{"total":4,"items":[{records}]}}}}"#);
        assert_eq!(
            read(&nested, &body).map(|(rows, _)| rows),
            Some(RECORDS.len())
        );
    }

    /// A job whose pages keep leaving the shape stops paying for the
    /// attempt: after `MAX_DECLINED` pages the reader takes none.
    #[test]
    fn the_reader_stops_trying_after_pages_off_the_shape() {
        let columns = inferred("[records]\npath = \"data\"", page(&RECORDS));
        let reader = ShapedReader::new(&columns.job.records, &columns.extractor).unwrap();
        let encoder = NdjsonEncoder::new(columns.extractor.columns());
        let read = |body: &str| {
            reader
                .read(
                    body.as_bytes(),
                    columns.lines(Rows::Ndjson(&encoder)),
                    &mut Learned::default(),
                )
                .is_some()
        };
        let good = page(&RECORDS);
        // A member new to the inferred columns.
        let new = good.replacen(r#""id":1,"#, r#""id":1,"new":2,"#, 1);
        assert!(read(&good));
        // Pages without records are not read, and not held against the
        // shape.
        for _ in 0..MAX_DECLINED {
            assert!(!read(&page(&[])));
        }
        assert!(read(&good));
        for _ in 0..MAX_DECLINED {
            assert!(!read(&new));
        }
        assert!(!read(&good), "tried after {MAX_DECLINED} declined pages");
    }

    /// Pages of every corpus shape, then each with a byte changed, cut or
    /// added at random: the reader takes a page only as the page path
    /// makes it (checked in `read`), and declines anything it cannot tell.
    #[test]
    fn pages_changed_at_random_are_read_as_the_page_path_reads_them() {
        use hydrant_bench::corpus::Shape as Corpus;
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as usize
        };
        let bytes = b"\"\\,:{}[] 09-.eEtfnu\x01\xc3a/";
        for corpus in Corpus::ALL {
            let body = corpus.page(0, 20);
            let job = format!("[records]\npath = \"data\"\n{}", corpus.columns());
            let columns = match corpus.columns().is_empty() {
                true => inferred(&job, &body),
                false => declared(&job),
            };
            // Arrays no column reads (`nested`, `numbers`) are stepped over.
            let whole = read(&columns, &body).is_some();
            assert!(whole, "{}", corpus.name());
            let mut taken = 0;
            for _ in 0..400 {
                let mut changed = body.clone();
                let at = next() % changed.len();
                let byte = bytes[next() % bytes.len()];
                match next() % 3 {
                    0 => changed[at] = byte,
                    1 => {
                        changed.remove(at);
                    }
                    _ => changed.insert(at, byte),
                }
                taken += usize::from(read(&columns, &changed).is_some());
            }
            // Most changes inside a string keep the page one shape.
            assert!(!whole || taken > 0, "{}: none taken", corpus.name());
        }
        // Inferred, the arrays are `json` columns, read as their text.
        for corpus in [Corpus::Nested, Corpus::Numbers] {
            let body = corpus.page(0, 20);
            let columns = inferred("[records]\npath = \"data\"", &body);
            assert!(read(&columns, &body).is_some(), "{}", corpus.name());
            let mut taken = 0;
            for _ in 0..400 {
                let mut changed = body.clone();
                let at = next() % changed.len();
                changed[at] = bytes[next() % bytes.len()];
                taken += usize::from(read(&columns, &changed).is_some());
            }
            assert!(taken > 0, "{}: none taken", corpus.name());
        }
    }
}

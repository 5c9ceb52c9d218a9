//! Column inference: the columns of records a job does not declare, kept
//! up to date page after page.
//!
//! Nested objects are flattened (`user.id` → `user_id`), arrays and empty
//! objects are `json`, and a column's type is widened as values disagree:
//! long → double → string, date → timestamp → string. A column seen only
//! as null has no type yet; its first value gives it one.
//!
//! NDJSON keeps each value as it came, so there ([`Mixed::Json`]) a field
//! whose values differ in JSON kind (a number here, a string or an array
//! there) is a `json` column: as text, an array would become a string
//! holding JSON. A field that is an object in some records and another
//! value in others is kept whole, in any output: flattened beside a
//! column of its own, each object would be written twice.
//!
//! A null or an empty object (`{}`, or `[]` as PHP writes one) where
//! other records hold an object with members (`"user": null` beside
//! `"user": {"id": 1}`) is an object whose fields are all missing: it
//! makes no column of its own, which would repeat every such object
//! whole beside its flattened fields.
//!
//! An object whose keys are data (ids, dates: `{"2024-05-01": 3}`) is
//! kept whole in a `json` column: as columns, its keys would grow
//! without end, and each record would write a null for every key of
//! every other record.

use std::collections::BTreeMap;

use super::convert::exact_in_double;
use super::{ColumnSpec, ColumnType};
use crate::json::node::{Node, View};
use crate::json::path::JsonPath;

/// Columns inferred so far, and how to find a record's fields among them
/// without building a key per field.
#[derive(Debug, Clone)]
pub(crate) struct Inference {
    separator: String,
    /// One node per object level met; node 0 is the record.
    nodes: Vec<Level>,
    columns: Vec<Inferred>,
    /// Fields met after the columns were fixed, by flattened name.
    unseen: BTreeMap<String, u64>,
    mixed: Mixed,
}

/// What a field whose values differ in JSON kind becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mixed {
    /// A `string` column: each value as its text (CSV, Parquet, Arrow,
    /// `hydrant schema`).
    Text,
    /// A `json` column: each value as it came (NDJSON).
    Json,
}

impl Mixed {
    /// The type of a column whose values no narrower type holds.
    fn column_type(self) -> ColumnType {
        match self {
            Mixed::Text => ColumnType::String,
            Mixed::Json => ColumnType::Json,
        }
    }
}

#[derive(Debug, Clone, Default)]
struct Level {
    /// Keys of the objects at this level, and the level under each.
    children: Vec<(Box<str>, usize)>,
    /// The column of a value that is not a non-empty object here.
    column: Option<usize>,
    /// The level above and the key that leads here (none for the record).
    parent: Option<(usize, Box<str>)>,
    /// Objects here are values of the level's `json` column, kept whole:
    /// their keys are data (see [`MAP_KEYS`]).
    whole: bool,
    /// Objects with members met here while columns grow, and their
    /// members: how sparse the keys are.
    objects: u64,
    members: u64,
}

/// An object's keys are data, not fields, when more than this many
/// distinct keys were met at its place and a record holds fewer than
/// half of them on average. Records with fixed fields, however many (a
/// Jira issue's hundreds of custom fields), hold most of them.
const MAP_KEYS: usize = 64;

#[derive(Debug, Clone)]
struct Inferred {
    /// Keys from the record down; none for a record that is not an object.
    keys: Vec<String>,
    kind: Option<ColumnType>,
    /// Only nulls and empty objects met so far: the column gives way if
    /// an object with members is met at its level while columns grow.
    placeholder: bool,
    /// Given way to the fields of the objects at its level: no longer a
    /// column. Kept in place so that the other columns' places hold.
    dropped: bool,
    /// A whole number a double cannot hold exactly was met (past 2^53):
    /// beside a fraction, the column cannot be `double`.
    inexact: bool,
}

/// What a page may change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Policy {
    /// New fields become columns and types widen (sampling, NDJSON).
    Grow,
    /// The columns are fixed: new fields are counted as unseen; types may
    /// widen when `widen` (CSV) or not (Parquet).
    Fixed { widen: bool },
}

impl Policy {
    /// What a field whose values differ in kind becomes: NDJSON, whose
    /// columns grow, keeps each value as it came.
    pub(crate) fn mixed(self) -> Mixed {
        match self {
            Policy::Grow => Mixed::Json,
            Policy::Fixed { .. } => Mixed::Text,
        }
    }
}

/// What a page changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Fed {
    /// Columns were added or retyped: the extractor needs them again.
    pub changed: bool,
    /// Fields outside the fixed columns were met for the first time.
    pub new_unseen: bool,
}

impl Inference {
    pub(crate) fn new(separator: &str, mixed: Mixed) -> Inference {
        Inference {
            separator: separator.to_owned(),
            nodes: vec![Level::default()],
            columns: Vec::new(),
            unseen: BTreeMap::new(),
            mixed,
        }
    }

    /// Inference that goes on from declared or saved columns (a resumed
    /// run): paths of plain keys are found again, types kept.
    pub(crate) fn from_columns(separator: &str, columns: &[ColumnSpec], mixed: Mixed) -> Inference {
        let mut inference = Inference::new(separator, mixed);
        for column in columns {
            let keys = column.path.as_ref().and_then(JsonPath::keys);
            if let Some(keys) = keys {
                let keys: Vec<String> = keys.into_iter().map(str::to_owned).collect();
                let level = inference.level_of(&keys);
                inference.nodes[level].column = Some(inference.columns.len());
                inference.columns.push(Inferred {
                    keys,
                    kind: Some(column.kind),
                    placeholder: false,
                    dropped: false,
                    inexact: false,
                });
            }
        }
        // A `json` column with no fields under it holds its objects
        // whole, as the run whose columns these are wrote them. The
        // record itself always has columns.
        for level in &mut inference.nodes[1..] {
            if let Some(at) = level.column {
                level.whole = level.children.is_empty()
                    && inference.columns[at].kind == Some(ColumnType::Json);
            }
        }
        inference
    }

    /// Takes in the records of a page.
    pub(crate) fn feed<'v, N: Node<'v>>(&mut self, records: &[N], policy: Policy) -> Fed {
        let mut fed = Fed::default();
        for &record in records {
            self.feed_value(0, record, policy, &mut fed);
        }
        fed
    }

    fn feed_value<'v, N: Node<'v>>(
        &mut self,
        level: usize,
        value: N,
        policy: Policy,
        fed: &mut Fed,
    ) {
        if self.mixes_objects(level, value, policy) {
            self.keep_whole(level, fed);
        }
        let whole = self.nodes[level].whole;
        if value.is_object() && !whole {
            if policy != Policy::Grow && self.writes_object_whole(level, policy, fed) {
                return;
            }
            let mut members = 0;
            value.members(&mut |key, child| {
                let below = self.child(level, key, members);
                members += 1;
                self.feed_value(below, child, policy, fed);
            });
            if members > 0 {
                if policy == Policy::Grow {
                    self.give_way(level, fed);
                    self.count_keys(level, members, fed);
                }
                return;
            }
        }
        let view = value.view();
        let empty = matches!(view, View::Null)
            || (value.is_object() && !whole)
            || (!whole && self.may_be_object(level) && is_empty_array(value));
        if empty && !self.nodes[level].children.is_empty() {
            // An object whose fields are all missing.
            return;
        }
        let kind = leaf_type(view, self.mixed);
        let inexact = !exact_in_double(view);
        match self.nodes[level].column {
            Some(at) => {
                let column = &mut self.columns[at];
                column.placeholder &= empty;
                column.inexact |= inexact;
                let mut wider = widen(column.kind, kind, self.mixed);
                if wider == Some(ColumnType::Double) && column.inexact {
                    // A double would round the whole numbers past 2^53:
                    // each number as it came, or its text.
                    wider = Some(self.mixed.column_type());
                }
                if wider != column.kind && policy != (Policy::Fixed { widen: false }) {
                    column.kind = wider;
                    fed.changed = true;
                }
            }
            None if policy == Policy::Grow => {
                self.nodes[level].column = Some(self.columns.len());
                let keys = self.keys_of(level);
                self.columns.push(Inferred {
                    keys,
                    kind,
                    placeholder: empty,
                    dropped: false,
                    inexact,
                });
                fed.changed = true;
            }
            None => {
                let keys = self.keys_of(level);
                let name = if keys.is_empty() {
                    "value".to_owned()
                } else {
                    keys.join(&self.separator)
                };
                let count = self.unseen.entry(name).or_default();
                fed.new_unseen |= *count == 0;
                *count += 1;
            }
        }
    }

    /// Whether `value` makes the field of `level` one that is an object
    /// with members in some records and another value (not null) in
    /// others. Such a field is kept whole: flattened beside a column of
    /// its own, each object would be written twice.
    fn mixes_objects<'v, N: Node<'v>>(&self, level: usize, value: N, policy: Policy) -> bool {
        let node = &self.nodes[level];
        // The record itself always has columns.
        if policy != Policy::Grow || level == 0 || node.whole {
            return false;
        }
        if value.is_object() {
            let holds_values = node.column.is_some_and(|at| !self.columns[at].placeholder);
            let mut members = false;
            if holds_values {
                value.members_while(|_, _| {
                    members = true;
                    false
                });
            }
            members
        } else {
            !node.children.is_empty()
                && !matches!(value.view(), View::Null)
                && !is_empty_array(value)
        }
    }

    /// Whether an object met at `level` once the columns are fixed is
    /// written whole in the column of values there: one that holds text
    /// or JSON, or (CSV) one that widens to text. No field of it is then
    /// left out.
    fn writes_object_whole(&mut self, level: usize, policy: Policy, fed: &mut Fed) -> bool {
        let Some(at) = self.nodes[level].column else {
            return false;
        };
        // Records that mix objects with other values: the column of the
        // record holds the others only (see `Extractor::inferred`).
        if !self.nodes[level].children.is_empty() {
            return false;
        }
        let column = &mut self.columns[at];
        let writes_any = |kind| matches!(kind, Some(ColumnType::String | ColumnType::Json));
        if column.placeholder {
            return false;
        }
        if !writes_any(column.kind) && policy == (Policy::Fixed { widen: true }) {
            column.kind = Some(ColumnType::String);
            fed.changed = true;
        }
        writes_any(column.kind)
    }

    /// Whether an object may be what the field of `level` holds: objects
    /// were met there, or only nulls and empty objects, or nothing yet.
    fn may_be_object(&self, level: usize) -> bool {
        let node = &self.nodes[level];
        !node.children.is_empty() || node.column.is_none_or(|at| self.columns[at].placeholder)
    }

    /// Drops the column of `level`, where an object with members was just
    /// met, if it has held only nulls and empty objects.
    fn give_way(&mut self, level: usize, fed: &mut Fed) {
        if let Some(at) = self.nodes[level].column
            && self.columns[at].placeholder
        {
            self.columns[at].dropped = true;
            self.nodes[level].column = None;
            fed.changed = true;
        }
    }

    /// Counts an object of `members` met at `level`, and keeps the
    /// level's objects whole once their keys look like data.
    fn count_keys(&mut self, level: usize, members: usize, fed: &mut Fed) {
        let node = &mut self.nodes[level];
        node.objects += 1;
        node.members += members as u64;
        let keys = node.children.len();
        // The record itself always has columns.
        if level > 0 && keys > MAP_KEYS && node.members * 2 < node.objects * keys as u64 {
            self.keep_whole(level, fed);
        }
    }

    /// Makes `level` a `json` column of whole objects: the columns under
    /// it are dropped, and its own takes the place of the first of them.
    fn keep_whole(&mut self, level: usize, fed: &mut Fed) {
        let mut under = Vec::new();
        let mut levels: Vec<usize> = self.nodes[level].children.iter().map(|c| c.1).collect();
        while let Some(below) = levels.pop() {
            levels.extend(self.nodes[below].children.iter().map(|c| c.1));
            under.extend(self.nodes[below].column.take());
        }
        let node = &mut self.nodes[level];
        node.children = Vec::new();
        node.whole = true;
        match (node.column, under.iter().min()) {
            (Some(at), _) => {
                let column = &mut self.columns[at];
                column.kind = widen(column.kind, Some(ColumnType::Json), self.mixed);
                column.placeholder = false;
            }
            (None, Some(&first)) => {
                node.column = Some(first);
                self.columns[first] = Inferred {
                    keys: self.keys_of(level),
                    kind: Some(ColumnType::Json),
                    placeholder: false,
                    dropped: false,
                    inexact: false,
                };
            }
            (None, None) => {}
        }
        let kept = self.nodes[level].column;
        for at in under.into_iter().filter(|&at| Some(at) != kept) {
            self.columns[at].dropped = true;
        }
        fed.changed = true;
    }

    /// Whether `record` holds nothing new: every field a column, every
    /// value of its column's type. A page whose records do can be made
    /// with the columns as they are, on any thread.
    pub(crate) fn covers<'v, N: Node<'v>>(&self, record: N) -> bool {
        self.covers_value(0, record)
    }

    fn covers_value<'v, N: Node<'v>>(&self, level: usize, value: N) -> bool {
        if value.is_object() && !self.nodes[level].whole {
            // Keys as they are written: one with an escape is not found,
            // and its page is made where the inference is, which is right
            // if slower.
            let mut members = 0;
            let mut covered = true;
            let children = &self.nodes[level].children;
            value.members_while(|key, child| {
                // Records of one shape list their keys in one order: the
                // child at the member's place is tried before a search.
                let at = children
                    .get(members)
                    .filter(|(k, _)| k.as_bytes() == key)
                    .or_else(|| children.iter().find(|(k, _)| k.as_bytes() == key));
                members += 1;
                covered = at.is_some_and(|&(_, below)| self.covers_value(below, child));
                covered
            });
            if members > 0 {
                return covered;
            }
        }
        let Some(at) = self.nodes[level].column else {
            // A null or `{}` where objects have members: an object whose
            // fields are all missing. Looked at only here, off the path of
            // values that have a column.
            return !self.nodes[level].children.is_empty()
                && (value.is_object()
                    || matches!(value.view(), View::Null)
                    || is_empty_array(value));
        };
        fit(self.columns[at].kind, value.view(), self.mixed) != Fit::No
    }

    /// The [`Shape`] of records whose columns are `columns` (an
    /// extractor's, in its order): `None` unless each is one of these
    /// inferred columns, at a path of keys.
    pub(crate) fn shape(&self, columns: &[ColumnSpec]) -> Option<Shape> {
        let mut kinds = Vec::with_capacity(columns.len());
        let mut members = std::collections::HashSet::new();
        for column in columns {
            let keys = column.path.as_ref()?.keys()?;
            let inferred = self.columns.iter().find(|c| !c.dropped && c.keys == keys)?;
            if keys.is_empty() {
                return None;
            }
            for depth in 1..=keys.len() {
                members.insert(keys[..depth].to_vec());
            }
            kinds.push(inferred.kind);
        }
        Some(Shape {
            kinds,
            members: members.len(),
            mixed: self.mixed,
        })
    }

    /// The keys from the record down to `level`.
    fn keys_of(&self, mut level: usize) -> Vec<String> {
        let mut keys = Vec::new();
        while let Some((parent, key)) = &self.nodes[level].parent {
            keys.push(key.to_string());
            level = *parent;
        }
        keys.reverse();
        keys
    }

    /// Fixes the columns for an output whose types are set once written
    /// (Parquet, a CSV header): a column still without a type is `string`.
    pub(crate) fn fix(&mut self) {
        for column in &mut self.columns {
            column.kind.get_or_insert(ColumnType::String);
        }
    }

    /// [`Inference::fix`] for an output of `policy`; NDJSON's columns
    /// keep growing, so none is fixed.
    pub(crate) fn fix_for(&mut self, policy: Policy) {
        if policy != Policy::Grow {
            self.fix();
        }
    }

    /// The level under `key` of `level`, made if new.
    /// The node under `key`, made if new. `place` is the key's place
    /// among its record's members: records of one shape list their keys
    /// in one order, so the child there is tried before a search.
    fn child(&mut self, level: usize, key: &str, place: usize) -> usize {
        let children = &self.nodes[level].children;
        if let Some(&(_, below)) = children
            .get(place)
            .filter(|(k, _)| &**k == key)
            .or_else(|| children.iter().find(|(k, _)| &**k == key))
        {
            return below;
        }
        let below = self.nodes.len();
        self.nodes.push(Level {
            parent: Some((level, key.into())),
            ..Level::default()
        });
        self.nodes[level].children.push((key.into(), below));
        below
    }

    fn level_of(&mut self, keys: &[String]) -> usize {
        keys.iter()
            .fold(0, |level, key| self.child(level, key, usize::MAX))
    }

    /// The columns in the order their fields were first met. A column
    /// seen only as null is `json` (it writes null) until it has a type.
    pub(crate) fn columns(&self) -> Vec<ColumnSpec> {
        let mut columns: Vec<ColumnSpec> = Vec::with_capacity(self.columns.len());
        for inferred in self.columns.iter().filter(|c| !c.dropped) {
            let mut name = if inferred.keys.is_empty() {
                "value".to_owned()
            } else {
                inferred.keys.join(&self.separator)
            };
            // Names alike but for case are one name to Spark, BigQuery
            // and Snowflake, which would refuse the output's second.
            let taken = |name: &str| {
                let name = name.to_lowercase();
                columns.iter().any(|c| c.name.to_lowercase() == name)
            };
            if taken(&name) {
                let base = name.clone();
                let mut n = 2;
                while taken(&format!("{base}{}{n}", self.separator)) {
                    n += 1;
                }
                name = format!("{base}{}{n}", self.separator);
            }
            columns.push(ColumnSpec {
                name,
                path: Some(JsonPath::of_keys(&inferred.keys)),
                page_path: None,
                parent_path: None,
                kind: inferred.kind.unwrap_or(ColumnType::Json),
                format: None,
                value: None,
            });
        }
        columns
    }

    /// The names of the columns that have held only nulls and empty
    /// objects so far, as [`Inference::columns`] names them: a checkpoint
    /// keeps them, so that a resumed run lets them give way as this one
    /// would.
    pub(crate) fn null_only(&self) -> Vec<String> {
        self.named()
            .filter(|&(at, _)| self.columns[at].placeholder)
            .map(|(_, name)| name)
            .collect()
    }

    /// The index of each column still in place, with the name
    /// [`Inference::columns`] gives it.
    fn named(&self) -> impl Iterator<Item = (usize, String)> {
        let live = (0..self.columns.len()).filter(|&at| !self.columns[at].dropped);
        live.zip(self.columns().into_iter().map(|column| column.name))
    }

    /// Marks again the columns of a checkpoint that had held only nulls
    /// and empty objects (see [`Inference::null_only`]): not `json`
    /// columns that keep their objects whole, but places an object's
    /// fields may take.
    pub(crate) fn restore_null_only(&mut self, names: &[String]) {
        if names.is_empty() {
            return;
        }
        let marked: Vec<usize> = (self.named())
            .filter(|(_, name)| names.contains(name))
            .map(|(at, _)| at)
            .collect();
        for at in marked {
            self.columns[at].placeholder = true;
            self.columns[at].kind = None;
            for level in &mut self.nodes {
                if level.column == Some(at) {
                    level.whole = false;
                }
            }
        }
    }

    /// Counts of unseen fields from a checkpoint.
    pub(crate) fn restore_unseen(&mut self, unseen: &BTreeMap<String, u64>) {
        self.unseen.clone_from(unseen);
    }

    /// Fields met after the columns were fixed, with how many records had
    /// them.
    pub(crate) fn unseen(&self) -> &BTreeMap<String, u64> {
        &self.unseen
    }
}

/// What tells that a record holds nothing new from its noted columns
/// alone: the inferred type of each, and how many members a record has
/// when it holds the columns' fields and nothing else (each key on the
/// way to a column counted once).
#[derive(Debug, Clone)]
pub(crate) struct Shape {
    kinds: Vec<Option<ColumnType>>,
    members: usize,
    mixed: Mixed,
}

/// Whether a noted value fits its inferred column, from [`Shape::fit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fit {
    No,
    Yes,
    /// A timestamp, read as a `timestamp` column without a format reads
    /// it: unix microseconds.
    Timestamp(i64),
}

impl Shape {
    /// Whether `record` has as many members as a record holding the
    /// columns' fields and nothing else.
    pub(crate) fn exact<'v, N: Node<'v>>(&self, record: N) -> bool {
        record.members_within() == Some(self.members)
    }

    /// The members of such a record, at every depth.
    pub(crate) fn members(&self) -> usize {
        self.members
    }

    /// Whether column `index` was inferred as `kind`.
    #[inline(always)]
    pub(crate) fn is(&self, index: usize, kind: ColumnType) -> bool {
        self.kinds[index] == Some(kind)
    }

    /// Whether `value`, noted for column `index`, fits it: in a record
    /// that is [`Shape::exact`] and has every column, a record holds
    /// nothing new when each of its values fits.
    #[inline(always)]
    pub(crate) fn fit(&self, index: usize, value: View<'_>) -> Fit {
        fit(self.kinds[index], value, self.mixed)
    }
}

/// Whether a value that is not an object with members fits a column of
/// type `kind` as it stands. A timestamp's value is read once, here,
/// rather than again for its cell.
#[inline(always)]
pub(super) fn fit(kind: Option<ColumnType>, value: View<'_>, mixed: Mixed) -> Fit {
    if kind == Some(ColumnType::Double) && !exact_in_double(value) {
        return Fit::No;
    }
    let fits = match (kind, value) {
        // A null fits any column; every value but an object with members
        // fits a string, where values are written as text.
        (_, View::Null)
        | (Some(ColumnType::String), View::Str(_))
        | (Some(ColumnType::Long), View::I64(_))
        | (Some(ColumnType::Double), View::I64(_) | View::F64(_))
        | (Some(ColumnType::Boolean), View::Bool(_)) => true,
        (Some(ColumnType::String), _) => mixed == Mixed::Text,
        (Some(ColumnType::Timestamp), View::Str(s)) => match text_kind(s) {
            (_, Some(micros)) => return Fit::Timestamp(micros),
            (text, None) => widen(kind, Some(text), mixed) == kind,
        },
        (kind, value) => widen(kind, leaf_type(value, mixed), mixed) == kind,
    };
    if fits { Fit::Yes } else { Fit::No }
}

/// The type a single value suggests; `None` for null.
fn leaf_type(view: View<'_>, mixed: Mixed) -> Option<ColumnType> {
    Some(match view {
        View::Null => return None,
        View::Bool(_) => ColumnType::Boolean,
        View::I64(_) => ColumnType::Long,
        View::U64(u) if i64::try_from(u).is_ok() => ColumnType::Long,
        // A number no signed 64-bit type holds (a whole number past
        // 2^63, `1e-400`): its literal, as text or as the number it is.
        View::U64(_) | View::Big(_) => mixed.column_type(),
        View::F64(_) => ColumnType::Double,
        View::Str(s) => text_type(s),
        View::Compound => ColumnType::Json,
    })
}

/// Whether `value` is `[]`, which PHP's `json_encode` writes for an
/// empty object: where objects are met, an object whose fields are all
/// missing, as `{}` is.
fn is_empty_array<'v, N: Node<'v>>(value: N) -> bool {
    if value.is_object() || !matches!(value.view(), View::Compound) {
        return false;
    }
    let mut elements = Vec::new();
    value.elements(&mut elements).is_some() && elements.is_empty()
}

/// `date` for `YYYY-MM-DD`, `timestamp` for an RFC 3339 date-time with an
/// offset and at most microseconds (what a timestamp holds exactly),
/// otherwise `string`.
fn text_type(s: &str) -> ColumnType {
    text_kind(s).0
}

/// [`text_type`], and a timestamp's unix microseconds when the fast
/// reading of UTC timestamps read them.
fn text_kind(s: &str) -> (ColumnType, Option<i64>) {
    let b = s.as_bytes();
    // Most timestamps of an API are UTC, which the fast reading reads
    // and checks whole. `…SS.ffffffZ` at most: a fraction past
    // microseconds is a string.
    if b.len() <= 27
        && let Some(micros) = super::time::utc_seconds_micros(b)
    {
        return (ColumnType::Timestamp, Some(micros));
    }
    let date_shaped = b.len() >= 10
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && b[5..7].iter().all(u8::is_ascii_digit)
        && b[7] == b'-'
        && b[8..10].iter().all(u8::is_ascii_digit);
    if !date_shaped {
        return (ColumnType::String, None);
    }
    if b.len() == 10 {
        return match chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
            Ok(_) => (ColumnType::Date, None),
            Err(_) => (ColumnType::String, None),
        };
    }
    // RFC 3339 puts a fraction, if any, right after the seconds.
    let fraction = match b.get(19) {
        Some(b'.') => b[20..].iter().take_while(|b| b.is_ascii_digit()).count(),
        _ => 0,
    };
    if !matches!(b[10], b'T' | b't') || fraction > 6 {
        return (ColumnType::String, None);
    }
    // Not UTC, or not in the fast reading's form: chrono tells.
    match chrono::DateTime::parse_from_rfc3339(s) {
        Ok(_) => (ColumnType::Timestamp, None),
        Err(_) => (ColumnType::String, None),
    }
}

/// The narrowest type that holds values of both types.
fn widen(seen: Option<ColumnType>, next: Option<ColumnType>, mixed: Mixed) -> Option<ColumnType> {
    use ColumnType::*;
    // The types inferred from JSON strings.
    let text = |kind| matches!(kind, String | Date | Timestamp);
    match (seen, next) {
        (None, n) => n,
        (s, None) => s,
        (Some(a), Some(b)) if a == b => Some(a),
        (Some(Long), Some(Double)) | (Some(Double), Some(Long)) => Some(Double),
        (Some(Date), Some(Timestamp)) | (Some(Timestamp), Some(Date)) => Some(Timestamp),
        // Strings of different kinds are text in any output.
        (Some(a), Some(b)) if text(a) && text(b) => Some(String),
        _ => Some(mixed.column_type()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(inference: &Inference) -> Vec<(String, &'static str)> {
        inference
            .columns()
            .into_iter()
            .map(|c| (c.name, c.kind.as_str()))
            .collect()
    }

    fn feed(inference: &mut Inference, text: &str, policy: Policy) -> Fed {
        use simd_json::prelude::ValueAsArray;
        let mut bytes = text.as_bytes().to_vec();
        let value = simd_json::to_borrowed_value(&mut bytes).unwrap();
        let items: Vec<&simd_json::BorrowedValue<'_>> = value.as_array().unwrap().iter().collect();
        inference.feed(&items, policy)
    }

    #[test]
    fn columns_grow_and_widen_page_after_page() {
        let mut inference = Inference::new("_", Mixed::Text);
        let fed = feed(
            &mut inference,
            r#"[{"id": 1, "n": null, "user": {"id": 2}, "tags": [1]}, {"id": 2, "at": "2024-03-01T12:00:00.250Z", "day": "2024-03-01"}]"#,
            Policy::Grow,
        );
        assert!(fed.changed);
        let s = |n: &str, k| (n.to_owned(), k);
        assert_eq!(
            shown(&inference),
            [
                s("id", "long"),
                s("n", "json"),
                s("user_id", "long"),
                s("tags", "json"),
                s("at", "timestamp"),
                s("day", "date"),
            ]
        );
        // Nothing new: nothing changes.
        let fed = feed(&mut inference, r#"[{"id": 3, "n": null}]"#, Policy::Grow);
        assert_eq!(fed, Fed::default());
        // A null-only column takes its first value's type; others widen.
        feed(
            &mut inference,
            r#"[{"id": 1.5, "n": 7, "day": "2024-03-01T00:00:00Z", "at": "soon", "new": true}]"#,
            Policy::Grow,
        );
        assert_eq!(
            shown(&inference),
            [
                s("id", "double"),
                s("n", "long"),
                s("user_id", "long"),
                s("tags", "json"),
                s("at", "string"),
                s("day", "timestamp"),
                s("new", "boolean"),
            ]
        );
    }

    #[test]
    fn names_alike_but_for_case_or_flattening_are_told_apart() {
        let mut inference = Inference::new("_", Mixed::Text);
        let page = r#"[{"a_b": 1, "a": {"b": 2}, "ID": 3, "id": 4, "Ünit": 5, "ünit": 6}]"#;
        feed(&mut inference, page, Policy::Grow);
        let names: Vec<String> = inference.columns().into_iter().map(|c| c.name).collect();
        assert_eq!(names, ["a_b", "a_b_2", "ID", "id_2", "Ünit", "ünit_2"]);
    }

    #[test]
    fn whole_numbers_past_2_53_beside_fractions_are_never_a_double() {
        // Either order, on one page or two; 2^53 itself is exact.
        let cases = [
            (
                vec![r#"[{"n": 9007199254740993}, {"n": 1.5}]"#],
                "json",
                "string",
            ),
            (
                vec![r#"[{"n": 1.5}]"#, r#"[{"n": -9007199254740993}]"#],
                "json",
                "string",
            ),
            (
                vec![r#"[{"n": 9007199254740993}]"#, r#"[{"n": 2}, {"n": 0.5}]"#],
                "json",
                "string",
            ),
            (
                vec![r#"[{"n": 9007199254740992}, {"n": 1.5}]"#],
                "double",
                "double",
            ),
            (
                vec![r#"[{"n": 9007199254740993}, {"n": 7}]"#],
                "long",
                "long",
            ),
        ];
        for (pages, in_json, in_text) in cases {
            let mut text = Inference::new("_", Mixed::Text);
            let mut json = Inference::new("_", Mixed::Json);
            for page in &pages {
                feed(&mut text, page, Policy::Grow);
                feed(&mut json, page, Policy::Grow);
            }
            assert_eq!(shown(&json), [("n".to_owned(), in_json)], "{pages:?}");
            assert_eq!(shown(&text), [("n".to_owned(), in_text)], "{pages:?}");
        }
        // A fixed CSV column widens to text for it.
        let mut csv = Inference::new("_", Mixed::Text);
        feed(&mut csv, r#"[{"n": 0.5}]"#, Policy::Grow);
        feed(
            &mut csv,
            r#"[{"n": 9007199254740993}]"#,
            Policy::Fixed { widen: true },
        );
        assert_eq!(shown(&csv), [("n".to_owned(), "string")]);
        // Such a number does not fit a double column: its page goes back
        // to the inference.
        let past = View::I64((1 << 53) + 1);
        assert_eq!(fit(Some(ColumnType::Double), past, Mixed::Json), Fit::No);
        assert_eq!(
            fit(Some(ColumnType::Double), View::I64(1 << 53), Mixed::Json),
            Fit::Yes
        );
        assert_eq!(fit(Some(ColumnType::Long), past, Mixed::Json), Fit::Yes);
    }

    #[test]
    fn a_field_of_mixed_kinds_is_json_in_ndjson_and_text_elsewhere() {
        let pages = [
            r#"[{"n": 5, "s": "a", "t": "c", "big": 12345678901234567890, "amount": 1, "day": "2024-03-01"}]"#,
            r#"[{"n": "x", "s": 9, "t": ["d"], "big": 1, "amount": 2.5, "day": "n/a"}]"#,
        ];
        let s = |n: &str, k| (n.to_owned(), k);
        let mut text = Inference::new("_", Mixed::Text);
        let mut json = Inference::new("_", Mixed::Json);
        for page in pages {
            feed(&mut text, page, Policy::Grow);
            feed(&mut json, page, Policy::Grow);
        }
        assert_eq!(
            shown(&text),
            [
                s("n", "string"),
                s("s", "string"),
                s("t", "string"),
                s("big", "string"),
                s("amount", "double"),
                s("day", "string"),
            ]
        );
        // Numbers, strings and arrays apart stay as they came; numbers
        // together, and strings together, widen as elsewhere.
        assert_eq!(
            shown(&json),
            [
                s("n", "json"),
                s("s", "json"),
                s("t", "json"),
                s("big", "json"),
                s("amount", "double"),
                s("day", "string"),
            ]
        );
        // A record's values fit as they are written: a number does not
        // fit a string column of NDJSON.
        let number = View::I64(9);
        assert_eq!(fit(Some(ColumnType::String), number, Mixed::Text), Fit::Yes);
        assert_eq!(fit(Some(ColumnType::String), number, Mixed::Json), Fit::No);
        assert_eq!(fit(Some(ColumnType::Json), number, Mixed::Json), Fit::Yes);
        assert_eq!(
            fit(Some(ColumnType::Json), View::Str("x"), Mixed::Json),
            Fit::Yes
        );
        assert_eq!(fit(Some(ColumnType::Json), number, Mixed::Text), Fit::No);
    }

    #[test]
    fn a_field_that_is_an_object_only_sometimes_is_kept_whole() {
        let s = |n: &str, k| (n.to_owned(), k);
        // A value first, then an object with members.
        let mut json = Inference::new("_", Mixed::Json);
        feed(&mut json, r#"[{"id": 1, "x": 5}]"#, Policy::Grow);
        let fed = feed(&mut json, r#"[{"id": 2, "x": {"a": 1}}]"#, Policy::Grow);
        assert!(fed.changed);
        assert_eq!(shown(&json), [s("id", "long"), s("x", "json")]);
        let mut bytes = br#"{"id": 3, "x": {"b": [2]}}"#.to_vec();
        let later = simd_json::to_borrowed_value(&mut bytes).unwrap();
        assert!(json.covers(&later));
        // Objects first, then an array: the object's fields give way to
        // one column, in the place of the first of them.
        let mut json = Inference::new("_", Mixed::Json);
        feed(
            &mut json,
            r#"[{"x": {"a": 1, "b": 2}, "id": 1}]"#,
            Policy::Grow,
        );
        assert_eq!(
            shown(&json),
            [s("x_a", "long"), s("x_b", "long"), s("id", "long")]
        );
        feed(&mut json, r#"[{"x": [1], "id": 2}]"#, Policy::Grow);
        assert_eq!(shown(&json), [s("x", "json"), s("id", "long")]);
        // A null or `{}` beside objects is still an object whose fields
        // are missing, and a record is always flattened.
        let mut json = Inference::new("_", Mixed::Json);
        feed(
            &mut json,
            r#"[{"u": null}, {"u": {"id": 1}}, {"u": {}}]"#,
            Policy::Grow,
        );
        assert_eq!(shown(&json), [s("u_id", "long")]);
        // `[]`, as PHP writes an empty object, is one whose fields are
        // missing, in either order; an array field's `[]` is its value.
        for mixed in [Mixed::Json, Mixed::Text] {
            let mut inference = Inference::new("_", mixed);
            feed(
                &mut inference,
                r#"[{"u": [], "tags": []}, {"u": {"id": 1}, "tags": ["a"]}]"#,
                Policy::Grow,
            );
            feed(&mut inference, r#"[{"u": [], "tags": []}]"#, Policy::Grow);
            assert_eq!(shown(&inference), [s("tags", "json"), s("u_id", "long")]);
            let mut bytes = br#"{"u": [], "tags": []}"#.to_vec();
            let php = simd_json::to_borrowed_value(&mut bytes).unwrap();
            assert!(inference.covers(&php), "{mixed:?}");
        }
        // Where values are written as text, the field is kept whole as
        // text; once the columns are fixed, an object where a column
        // holds text is written whole in it: none of its fields unseen.
        let mut text = Inference::new("_", Mixed::Text);
        feed(&mut text, r#"[{"x": 5}, {"x": {"a": 1}}]"#, Policy::Grow);
        assert_eq!(shown(&text), [s("x", "string")]);
        let mut text = Inference::new("_", Mixed::Text);
        feed(&mut text, r#"[{"x": "5", "y": 1}]"#, Policy::Grow);
        let fixed = Policy::Fixed { widen: true };
        let fed = feed(&mut text, r#"[{"x": {"a": 1}, "y": {"b": 2}}]"#, fixed);
        assert!(fed.changed && !fed.new_unseen);
        // CSV's `y` widens to text, as for any value that does not fit.
        assert_eq!(shown(&text), [s("x", "string"), s("y", "string")]);
        // Parquet's does not: the object's fields are unseen, and the
        // record will be dirty.
        let mut fixed_types = Inference::new("_", Mixed::Text);
        feed(&mut fixed_types, r#"[{"y": 1}]"#, Policy::Grow);
        let fed = feed(
            &mut fixed_types,
            r#"[{"y": {"b": 2}}]"#,
            Policy::Fixed { widen: false },
        );
        assert!(!fed.changed && fed.new_unseen);
        assert_eq!(fixed_types.unseen().keys().collect::<Vec<_>>(), ["y_b"]);
        assert_eq!(shown(&fixed_types), [s("y", "long")]);
    }

    #[test]
    fn fixed_columns_count_unseen_fields_and_widen_only_when_allowed() {
        let mut inference = Inference::new("_", Mixed::Text);
        feed(&mut inference, r#"[{"id": 1, "n": null}]"#, Policy::Grow);
        let fed = feed(
            &mut inference,
            r#"[{"id": 2.5, "extra": 1, "deep": {"x": 1}}, {"extra": 2}]"#,
            Policy::Fixed { widen: false },
        );
        assert_eq!(
            fed,
            Fed {
                changed: false,
                new_unseen: true
            }
        );
        assert_eq!(inference.columns()[0].kind, ColumnType::Long);
        let unseen: Vec<(&str, u64)> = inference
            .unseen()
            .iter()
            .map(|(k, v)| (k.as_str(), *v))
            .collect();
        assert_eq!(unseen, [("deep_x", 1), ("extra", 2)]);
        let fed = feed(
            &mut inference,
            r#"[{"id": 2.5}]"#,
            Policy::Fixed { widen: true },
        );
        assert!(fed.changed);
        assert_eq!(inference.columns()[0].kind, ColumnType::Double);
        // A column without a type is a string once the columns are fixed.
        inference.fix();
        assert_eq!(inference.columns()[1].kind, ColumnType::String);
    }

    /// `n` records `{"id": i, "at": {...}}`, each `at` holding `keys`
    /// keys: the record's own (`k{i}_{j}`) when `own`, else the same
    /// `k{j}` in every record.
    fn keyed(n: usize, keys: usize, own: bool) -> String {
        let records: Vec<String> = (0..n)
            .map(|i| {
                let members: Vec<String> = (0..keys)
                    .map(|j| match own {
                        true => format!("\"k{i}_{j}\": {j}"),
                        false => format!("\"k{j}\": {j}"),
                    })
                    .collect();
                format!("{{\"id\": {i}, \"at\": {{{}}}}}", members.join(", "))
            })
            .collect();
        format!("[{}]", records.join(", "))
    }

    fn covered(inference: &Inference, text: &str) -> bool {
        use simd_json::prelude::ValueAsArray;
        let mut bytes = text.as_bytes().to_vec();
        let value = simd_json::to_borrowed_value(&mut bytes).unwrap();
        value
            .as_array()
            .unwrap()
            .iter()
            .all(|r| inference.covers(r))
    }

    #[test]
    fn an_object_whose_keys_are_data_is_one_json_column() {
        let s = |n: &str, k| (n.to_owned(), k);
        // 3 keys a record, none shared: past 64 keys at `at`, the keys
        // are data.
        let mut inference = Inference::new("_", Mixed::Text);
        let fed = feed(&mut inference, &keyed(40, 3, true), Policy::Grow);
        assert!(fed.changed);
        assert_eq!(shown(&inference), [s("id", "long"), s("at", "json")]);
        // Objects there are its values now: new keys are nothing new.
        assert!(covered(&inference, &keyed(5, 9, true)));
        let fed = feed(&mut inference, &keyed(5, 9, true), Policy::Grow);
        assert_eq!(fed, Fed::default());
        // A fixed output neither grows nor counts their keys as unseen.
        feed(
            &mut inference,
            &keyed(5, 9, true),
            Policy::Fixed { widen: false },
        );
        assert!(inference.unseen().is_empty());

        // 100 keys that every record holds are fields, however many.
        let mut inference = Inference::new("_", Mixed::Text);
        feed(&mut inference, &keyed(10, 100, false), Policy::Grow);
        let columns = shown(&inference);
        assert_eq!(columns.len(), 101);
        assert!(columns.contains(&s("at_k99", "long")), "{columns:?}");
        // Under 64 keys, even sparse ones are fields.
        let mut inference = Inference::new("_", Mixed::Text);
        feed(&mut inference, &keyed(30, 2, true), Policy::Grow);
        assert_eq!(shown(&inference).len(), 61);
        // The record's own keys are always its columns.
        let mut inference = Inference::new("_", Mixed::Text);
        let wide: Vec<String> = (0..80).map(|i| format!("{{\"f{i}\": 1}}")).collect();
        feed(
            &mut inference,
            &format!("[{}]", wide.join(", ")),
            Policy::Grow,
        );
        assert_eq!(shown(&inference).len(), 80);
    }

    #[test]
    fn a_json_column_goes_on_holding_whole_objects_from_saved_columns() {
        let mut inference = Inference::new("_", Mixed::Text);
        feed(&mut inference, &keyed(40, 3, true), Policy::Grow);
        let saved = inference.columns();
        let mut resumed = Inference::from_columns("_", &saved, Mixed::Text);
        assert!(covered(&resumed, &keyed(5, 4, true)));
        let fed = feed(
            &mut resumed,
            &keyed(5, 4, true),
            Policy::Fixed { widen: false },
        );
        assert_eq!(fed, Fed::default());
        assert!(resumed.unseen().is_empty());
        assert_eq!(shown(&resumed), shown(&inference));
    }

    /// A column that has held only nulls gives way to the fields of an
    /// object met there later: in a run resumed from saved columns as in
    /// the run that saved them. A `json` column that held an object goes
    /// on holding them whole.
    #[test]
    fn a_null_only_column_gives_way_after_a_resume_as_before() {
        let first = r#"[{"id": 1, "maybe": null, "kept": {"k": 1}}]"#;
        let later = r#"[{"id": 2, "maybe": {"a": 2}, "kept": {"k": 2}}]"#;
        let mut unbroken = Inference::new("_", Mixed::Text);
        feed(&mut unbroken, first, Policy::Grow);
        assert_eq!(unbroken.null_only(), ["maybe"]);
        let saved = unbroken.columns();
        let mut resumed = Inference::from_columns("_", &saved, Mixed::Text);
        resumed.restore_null_only(&unbroken.null_only());
        assert_eq!(resumed.null_only(), ["maybe"]);
        for inference in [&mut unbroken, &mut resumed] {
            let fed = feed(inference, later, Policy::Grow);
            assert!(fed.changed);
        }
        let s = |n: &str, k| (n.to_owned(), k);
        assert_eq!(
            shown(&resumed),
            [s("id", "long"), s("kept_k", "long"), s("maybe_a", "long")]
        );
        assert_eq!(shown(&resumed), shown(&unbroken));
        assert!(resumed.null_only().is_empty());
    }

    /// Records that are values, then an object: the object's fields get
    /// columns beside `value`, in a run resumed from saved columns as in
    /// the run that saved them. The record's own column is never one
    /// that holds objects whole.
    #[test]
    fn records_of_values_then_objects_grow_alike_after_a_resume() {
        let first = r#"[5, "s"]"#;
        let later = r#"[{"id": 2}]"#;
        let mut unbroken = Inference::new("_", Mixed::Json);
        feed(&mut unbroken, first, Policy::Grow);
        let mut resumed = Inference::from_columns("_", &unbroken.columns(), Mixed::Json);
        for inference in [&mut unbroken, &mut resumed] {
            assert!(feed(inference, later, Policy::Grow).changed);
        }
        let s = |n: &str, k| (n.to_owned(), k);
        assert_eq!(shown(&unbroken), [s("value", "json"), s("id", "long")]);
        assert_eq!(shown(&resumed), shown(&unbroken));
    }

    #[test]
    fn a_page_with_nothing_new_is_covered() {
        let mut inference = Inference::new("_", Mixed::Text);
        feed(
            &mut inference,
            r#"[{"id": 1, "u": {"n": "a"}, "x": null}]"#,
            Policy::Grow,
        );
        let covered = |text: &str| {
            use simd_json::prelude::ValueAsArray;
            let mut bytes = text.as_bytes().to_vec();
            let value = simd_json::to_borrowed_value(&mut bytes).unwrap();
            let items = value.as_array().unwrap();
            items.iter().all(|item| inference.covers(item))
        };
        assert!(covered(r#"[{"id": 2, "u": {"n": "b"}}, {"x": null}]"#));
        assert!(!covered(r#"[{"id": 2.5}]"#), "a wider type");
        assert!(!covered(r#"[{"id": 2, "new": 1}]"#), "a new field");
        assert!(!covered(r#"[{"u": {"m": 1}}]"#), "a new nested field");
        assert!(!covered(r#"[{"x": 7}]"#), "a first type for a null column");
        // An object whose fields are all missing holds nothing new.
        assert!(covered(r#"[{"u": null}, {"u": {}}, {}, null]"#));
        assert!(!covered(r#"[{"u": 1}]"#), "a value where objects were");
    }

    #[test]
    fn a_null_or_empty_object_beside_objects_is_one_of_missing_fields() {
        let s = |n: &str, k| (n.to_owned(), k);
        // Whichever comes first, `u` is its fields: no column repeats the
        // whole object beside them. The same for records.
        for page in [
            r#"[{"id": 1, "u": null}, {"id": 2, "u": {"a": 1}}, {"id": 3, "u": {}}]"#,
            r#"[{"id": 1, "u": {}}, {"id": 2, "u": {"a": 1}}, {"id": 3, "u": null}]"#,
            r#"[{"id": 1, "u": {"a": 1}}, {"id": 2, "u": null}, {"id": 3, "u": {}}]"#,
            r#"[null, {"id": 1, "u": {"a": 1}}, {}]"#,
            r#"[{}, {"id": 1, "u": {"a": 1}}, null]"#,
        ] {
            let mut inference = Inference::new("_", Mixed::Text);
            let fed = feed(&mut inference, page, Policy::Grow);
            assert!(fed.changed);
            assert_eq!(
                shown(&inference),
                [s("id", "long"), s("u_a", "long")],
                "{page}"
            );
        }
        // Page after page, too.
        let mut inference = Inference::new("_", Mixed::Text);
        feed(&mut inference, r#"[{"id": 1, "u": null}]"#, Policy::Grow);
        assert_eq!(shown(&inference), [s("id", "long"), s("u", "json")]);
        let fed = feed(
            &mut inference,
            r#"[{"id": 2, "u": {"a": 1}}]"#,
            Policy::Grow,
        );
        assert!(fed.changed);
        assert_eq!(shown(&inference), [s("id", "long"), s("u_a", "long")]);
        let grown = |page: &str| {
            let mut inference = Inference::new("_", Mixed::Text);
            feed(&mut inference, page, Policy::Grow);
            shown(&inference)
        };
        // Only ever null or empty: a column of its own, as before.
        assert_eq!(
            grown(r#"[{"n": null, "e": {}}, {"n": null, "e": {}}]"#),
            [s("n", "json"), s("e", "json")]
        );
        // A value where objects with members are also met: the field is
        // kept whole, each object once.
        assert_eq!(
            grown(r#"[{"u": "text"}, {"u": {"a": 1}}]"#),
            [s("u", "string")]
        );
        // Fixed columns stay as they are: the object's fields are unseen.
        let mut inference = Inference::new("_", Mixed::Text);
        feed(&mut inference, r#"[{"u": null}]"#, Policy::Grow);
        let fed = feed(
            &mut inference,
            r#"[{"u": {"a": 1}}]"#,
            Policy::Fixed { widen: false },
        );
        assert!(!fed.changed && fed.new_unseen);
        assert_eq!(shown(&inference), [s("u", "json")]);
        assert_eq!(inference.unseen().get("u_a"), Some(&1));
    }

    /// Records whose columns were noted are told covered or not from
    /// their shape as the walk of their members tells it.
    #[test]
    fn noted_records_are_covered_as_walked_ones_are() {
        use crate::extract::{Batch, Covering, Extractor, Placeholders, select_records};
        use crate::job::{RecordMode, Records};
        use crate::json::scan::Scanner;
        let mut inference = Inference::new("_", Mixed::Text);
        feed(
            &mut inference,
            r#"[{"id": 1, "u": {"n": "a", "m": 2}, "x": null, "t": "2024-03-01T12:00:00Z"}]"#,
            Policy::Grow,
        );
        let columns = inference.columns();
        let shape = inference.shape(&columns).expect("columns at keys");
        let records = Records {
            lines: false,
            path: Some(JsonPath::parse("$.data").unwrap()),
            mode: RecordMode::Auto,
            missing_is_dirty: false,
            bad_type_is_dirty: true,
            max_dirty: 0,
            dirty_path: None,
            flatten: "_".to_owned(),
            infer_pages: 1,
            paged: false,
            non_finite_null: false,
            parent: None,
        };
        let extractor = Extractor::new(columns, &records);
        let plan = extractor.plan().expect("paths of keys are planned");
        let plain = r#"{"id":2,"u":{"n":"b","m":3},"x":null,"t":"2024-03-02T00:00:00.250Z"}"#;
        for (record, covered, exact) in cover_cases(plain) {
            let page = format!(r#"{{"data":[{plain},{record}]}}"#);
            let mut scanner = Scanner::default();
            let doc = scanner.scan(page.as_bytes(), Some(plan)).unwrap();
            let items = select_records(doc.root(), &records).unwrap();
            let walked = items.iter().all(|&item| inference.covers(item));
            assert_eq!(walked, covered, "walked: {record}");
            assert_eq!(shape.exact(items[1]), exact, "exact: {record}");
            let mut alone = Batch::default();
            extractor.extract(&items, &Placeholders::new(), &mut alone);
            for shape in [None, Some(&shape)] {
                let covering = Covering {
                    inference: &inference,
                    shape,
                };
                let mut batch = Batch::default();
                let told = extractor.extract_covered(
                    &items,
                    &Placeholders::new(),
                    &mut batch,
                    Some(&covering),
                );
                assert_eq!(told, covered, "{record}, shape {}", shape.is_some());
                if covered {
                    assert_eq!(batch.cells, alone.cells, "{record}");
                }
            }
        }
    }

    /// Records to follow `plain` on a page of the shape of
    /// [`noted_records_are_covered_as_walked_ones_are`], each with whether
    /// it is covered and whether it has the exact shape's count of members.
    fn cover_cases(plain: &str) -> Vec<(String, bool, bool)> {
        let t = r#""t":"2024-03-02T00:00:00Z""#;
        vec![
            (plain.to_owned(), true, true),
            (
                format!(r#"{{"id":2.5,"u":{{"n":"b","m":3}},"x":null,{t}}}"#),
                false,
                true,
            ),
            (
                format!(r#"{{"id":2,"u":{{"n":"b","m":3}},"x":7,{t}}}"#),
                false,
                true,
            ),
            (
                r#"{"id":2,"u":{"n":"b","m":3},"x":null,"t":"2024-03-02T00:00:00.1234567Z"}"#
                    .to_owned(),
                false,
                true,
            ),
            (
                r#"{"id":2,"u":{"n":"b","m":3},"x":null,"t":"soon"}"#.to_owned(),
                false,
                true,
            ),
            (
                format!(r#"{{"id":2,"u":{{"n":"b","m":{{}}}},"x":null,{t}}}"#),
                false,
                true,
            ),
            (
                format!(r#"{{"id":2,"u":{{"n":"b","m":3}},"x":null,{t},"new":1}}"#),
                false,
                false,
            ),
            (
                format!(r#"{{"id":2,"u":{{"n":"b","m":3,"k":1}},"x":null,{t}}}"#),
                false,
                false,
            ),
            (
                format!(r#"{{"id":2,"u":{{"n":"b","m":[{{"k":1}}]}},"x":null,{t}}}"#),
                false,
                false,
            ),
            // A field missing and a new one: as many members as the shape.
            (
                format!(r#"{{"id":2,"u":{{"n":"b"}},"x":null,{t},"new":1}}"#),
                false,
                true,
            ),
            (
                format!(r#"{{"id":2,"id":3,"u":{{"n":"b","m":3}},"x":null,{t}}}"#),
                true,
                false,
            ),
            (
                format!(r#"{{"id":2,"u":{{"n":"b","m":3}},{t}}}"#),
                true,
                false,
            ),
            // Unescaped, the key is a column's; the check does not know it.
            (
                format!(r#"{{"\u0069d":2,"u":{{"n":"b","m":3}},"x":null,{t}}}"#),
                true,
                true,
            ),
        ]
    }

    #[test]
    fn only_exact_timestamps_and_real_dates_are_recognised() {
        assert_eq!(text_type("2024-03-01T12:00:00Z"), ColumnType::Timestamp);
        assert_eq!(
            text_type("2024-03-01T12:00:00.123456+02:00"),
            ColumnType::Timestamp
        );
        assert_eq!(
            text_type("2024-03-01T12:00:00.123456789Z"),
            ColumnType::String
        );
        assert_eq!(
            text_type("2024-03-01T12:00:00.1234567+02:00"),
            ColumnType::String
        );
        assert_eq!(text_type("2024-03-01T12.00:00Z"), ColumnType::String);
        assert_eq!(text_type("2024-03-01 12:00:00"), ColumnType::String);
        assert_eq!(text_type("2024-02-30"), ColumnType::String);
        assert_eq!(text_type("2024-02-29"), ColumnType::Date);
        assert_eq!(text_type("20240229"), ColumnType::String);
    }
}

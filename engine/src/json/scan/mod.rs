//! The hot path's JSON parser: a structural index of the page, checked
//! whole and then walked in place.
//!
//! A full parse builds a value for everything on a page; the hot path reads
//! a handful of values per record. Here one SIMD pass over the bytes finds
//! every string quote and every `{}[]:,` outside strings
//! ([`structurals`]); one pass over that index checks the grammar and pairs
//! each bracket with its partner ([`check`]), so that a walk steps over an
//! unread object or array at once; strings holding escapes are unescaped
//! into a buffer beside the page. A scalar is parsed only when it is
//! read. The page is still checked whole — UTF-8, every string's
//! characters and escapes, every literal, bracket, comma and colon — so
//! a malformed page fails as it would under a full parse.
//!
//! Given the extractor's [`KeyPlan`] (its paths, when all are keys), the check
//! also notes the entry of each record's column values as it passes them,
//! so that extraction reads them without walking the records again.

mod check;
mod decimal;
mod stage1;
mod unescape;

pub(crate) use unescape::unescape_content;

use check::*;
use decimal::decimal;
use stage1::*;
use unescape::*;

use std::fmt;

use crate::json::keys::{KeySet, same_key};
use crate::json::lane_digits;
use crate::json::node::{Node, View};
use crate::json::path::{Segment, resolve_index};

/// Deeper nesting is refused, as simd-json refuses it.
const MAX_DEPTH: u32 = 1024;

/// What makes a page not JSON, and the byte where it was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Malformed {
    what: String,
    at: Option<usize>,
}

impl Malformed {
    fn at(what: impl Into<String>, at: usize) -> Malformed {
        Malformed {
            what: what.into(),
            at: Some(at),
        }
    }
}

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.at {
            Some(at) => write!(f, "{} at byte {at}", self.what),
            None => f.write_str(&self.what),
        }
    }
}

/// The buffers pages are scanned in, reused from page to page.
#[derive(Debug, Default)]
pub(crate) struct Scanner {
    /// Byte offsets of the structurals; longer than the page's count, so
    /// that a block's offsets are written without a check per offset.
    positions: Vec<u32>,
    /// The structural byte of each entry of `positions`, which stays true
    /// where unescaping moves a closing quote's entry off its quote.
    kinds: Vec<u8>,
    /// For each bracket's entry in `positions`, its partner's entry.
    partners: Vec<u32>,
    /// The blocks of the page that hold a backslash.
    escaped: Vec<Escaped>,
    /// The page's strings that hold escapes, unescaped, one after the
    /// other: where an offset past the page's end points.
    unescaped: Vec<u8>,
    noted: Noted,
    template: Template,
}

/// The columns the grammar check notes on its walk, so that extraction
/// does not walk each record a second time: a trie of keys from the page
/// down to the records, and from a record down to each column's value.
/// Only paths of keys are planned; a member holding an array is not
/// entered.
#[derive(Debug, Clone)]
pub(crate) struct KeyPlan {
    /// Told apart from every other plan made in this process (a clone
    /// keeps it: it plans the same), so that a [`Trace`] made under one
    /// plan is not replayed under another.
    id: u64,
    /// Node 0 is the page; the records path's keys lead to `records`,
    /// whose value holds the records; `record` is a record's own node.
    nodes: Vec<PlanNode>,
    records: u32,
    record: u32,
    width: usize,
    /// Not so with `records.mode = "one"`, where the array is the record:
    /// its elements are not noted, which would be wasted.
    array_holds_records: bool,
}

#[derive(Debug, Clone, Default)]
struct PlanNode {
    keys: KeySet,
    /// The node under each of `keys`.
    children: Vec<u32>,
    /// The columns whose value is the value of this node.
    columns: Vec<u32>,
}

/// Not a node: a value whose members nothing wants.
const NOWHERE: u32 = u32::MAX;
/// Not a node: an element of the array holding the records.
const ELEMENT: u32 = u32::MAX - 1;

impl KeyPlan {
    /// The plan for records at the keys `records` (the page itself when
    /// empty) and `columns`, each a column's index and keys; `None` if a
    /// path is not all keys, a key would be written with an escape (the
    /// check sees keys before unescaping) or an object wants more than
    /// 64 keys.
    pub(crate) fn new<'p>(
        records: &[Segment],
        columns: impl IntoIterator<Item = (usize, &'p [Segment])>,
        width: usize,
        array_holds_records: bool,
    ) -> Option<KeyPlan> {
        let mut nodes = vec![PlanNode::default()];
        let mut at = 0;
        for segment in records {
            at = plan_child(&mut nodes, at, segment)?;
        }
        let records = at;
        nodes.push(PlanNode::default());
        let record = nodes.len() as u32 - 1;
        for (column, segments) in columns {
            let mut at = record;
            for segment in segments {
                at = plan_child(&mut nodes, at, segment)?;
            }
            nodes[at as usize].columns.push(u32::try_from(column).ok()?);
        }
        if nodes.iter().any(|node| node.keys.len() > 64) {
            return None;
        }
        static PLANS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        Some(KeyPlan {
            id: PLANS.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            nodes,
            records,
            record,
            width,
            array_holds_records,
        })
    }
}

fn plan_child(nodes: &mut Vec<PlanNode>, node: u32, segment: &Segment) -> Option<u32> {
    let Segment::Key(key) = segment else {
        return None;
    };
    if key.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\') {
        return None;
    }
    let child = u32::try_from(nodes.len()).ok()?;
    let here = &mut nodes[node as usize];
    let i = here.keys.add(key);
    if let Some(&existing) = here.children.get(i) {
        return Some(existing);
    }
    here.children.push(child);
    nodes.push(PlanNode::default());
    Some(child)
}

/// What the check noted of a page's records under a [`KeyPlan`].
#[derive(Debug, Default)]
struct Noted {
    /// The entry of each record object, in page order.
    records: Vec<u32>,
    /// For each record, the entry of each column's value ([`NOWHERE`]
    /// where it has none), then one slot that is not zero where a key
    /// with an escape might have been a wanted one.
    slots: Vec<u32>,
    width: usize,
}

impl Noted {
    fn clear(&mut self, width: usize) {
        self.records.clear();
        self.slots.clear();
        self.width = width;
    }

    fn start(&mut self, record: usize) {
        self.records.push(record as u32);
        let len = self.slots.len();
        self.slots.resize(len + self.width + 1, NOWHERE);
        self.slots[len + self.width] = 0;
    }

    fn note(&mut self, column: u32, value: usize) {
        let row = self.slots.len() - self.width - 1;
        self.slots[row + column as usize] = value as u32;
    }

    /// [`Noted::note`] of each of a trace's notes, whose values count
    /// from entry `open`. The row is found once: a store through
    /// `slots` might change `slots` itself, as far as the compiler can
    /// tell, so a note at a time reloaded it for each.
    fn note_all(&mut self, notes: &[(u32, u32)], open: usize) {
        let row = self.slots.len() - self.width - 1;
        let slots = &mut self.slots[row..row + self.width];
        for &(column, value) in notes {
            slots[column as usize] = (open + value as usize) as u32;
        }
    }

    fn unsure(&mut self) {
        if let Some(last) = self.slots.last_mut() {
            *last = 1;
        }
    }

    /// The value entries of the record at entry `record`, if it was noted
    /// surely; `guess` is where its row likely is.
    fn row(&self, record: usize, guess: usize) -> Option<&[u32]> {
        let row = if self.records.get(guess) == Some(&(record as u32)) {
            guess
        } else {
            self.records.partition_point(|&at| (at as usize) < record)
        };
        if self
            .records
            .get(row)
            .is_none_or(|&at| at as usize != record)
        {
            return None;
        }
        let slots = &self.slots[row * (self.width + 1)..][..self.width + 1];
        (slots[self.width] == 0).then(|| &slots[..self.width])
    }
}

/// The shape of a record walked whole: the records after it that share
/// its kinds, as an API's records mostly do, are checked by comparing
/// their kinds with its rather than walked. Kinds that match are a
/// record that is grammatical but for the literals, which are checked
/// one by one, and whose brackets pair as the template's do. It is kept
/// from page to page: nothing in it is of one page.
#[derive(Debug, Default)]
struct Template {
    /// The kinds of the record's entries, from its `{` to its `}`.
    kinds: Vec<u8>,
    /// Each opening bracket's entry and its partner's, from the `{`.
    pairs: Vec<(u32, u32)>,
    /// The entries that follow literal text, from the `{`.
    literals: Vec<u32>,
    /// The depth of the array holding the records: the depth a record's
    /// nesting counts from.
    depth: u32,
    /// Records in a row that were walked; taking a template costs a pass
    /// over its kinds, so a page whose records differ in shape takes one
    /// only now and then.
    misses: u32,
    /// How the template's record was noted.
    trace: Trace,
}

/// How the columns of a template's record were noted: the keys compared
/// on the way and the notes made. A record of the template's kinds whose
/// keys are the same bytes is noted the same, its entries moved by the
/// distance between the two records: it is noted from the trace instead
/// of by a walk of its members.
#[derive(Debug, Default)]
struct Trace {
    /// The [`KeyPlan`] it was made under; 0 when there is none to replay.
    plan: u64,
    /// Each key compared: its entry from the record's `{`, and where its
    /// bytes are in `bytes`.
    keys: Vec<(u32, std::ops::Range<u32>)>,
    bytes: Vec<u8>,
    /// Each note: the column, and its value's entry from the `{`.
    notes: Vec<(u32, u32)>,
}

impl Trace {
    fn clear(&mut self) {
        self.plan = 0;
        self.keys.clear();
        self.bytes.clear();
        self.notes.clear();
    }
}

/// What a walk of a record's members tells besides its notes: nothing,
/// for the records noted as they are checked; the keys and notes, for the
/// one a [`Trace`] is made of.
trait Tracer {
    fn key(&mut self, entry: usize, bytes: &[u8]);
    fn note(&mut self, column: u32, value: usize);
}

impl Tracer for () {
    #[inline(always)]
    fn key(&mut self, _: usize, _: &[u8]) {}
    #[inline(always)]
    fn note(&mut self, _: u32, _: usize) {}
}

/// A [`Trace`] being made of the record at entry `open`.
struct Tracing<'t> {
    trace: &'t mut Trace,
    open: usize,
}

impl Tracer for Tracing<'_> {
    fn key(&mut self, entry: usize, bytes: &[u8]) {
        let from = self.trace.bytes.len() as u32;
        self.trace.bytes.extend_from_slice(bytes);
        let to = self.trace.bytes.len() as u32;
        self.trace.keys.push(((entry - self.open) as u32, from..to));
    }

    fn note(&mut self, column: u32, value: usize) {
        self.trace.notes.push((column, (value - self.open) as u32));
    }
}

impl Template {
    fn take(&mut self, kinds: &[u8], partners: &[u32], open: usize, depth: u32) {
        self.kinds.clear();
        self.kinds.extend_from_slice(kinds);
        self.pairs.clear();
        self.literals.clear();
        for (at, &kind) in kinds.iter().enumerate() {
            if kind & AFTER_LITERAL != 0 {
                self.literals.push(at as u32);
            } else if kind == b'{' || kind == b'[' {
                self.pairs.push((at as u32, partners[at] - open as u32));
            }
        }
        self.depth = depth;
    }
}

/// A scanned page: its text and its checked structural index.
#[derive(Debug)]
pub(crate) struct Doc<'s> {
    /// Checked as UTF-8 once, so that a string is a slice of it.
    text: &'s str,
    /// The strings that hold escapes, unescaped: offsets past the end of
    /// `text` continue into it.
    unescaped: &'s str,
    positions: &'s [u32],
    kinds: &'s [u8],
    partners: &'s [u32],
    noted: Option<&'s Noted>,
    /// Escapes of a surrogate without its partner, read as U+FFFD.
    lone_surrogates: usize,
}

/// A value of a scanned page: a string, object or array by the index
/// entry of its opening quote or bracket; a scalar by the entry of the
/// structural just after it (or the end of the index, for a bare scalar).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Item<'d> {
    doc: &'d Doc<'d>,
    at: usize,
}

impl Doc<'_> {
    /// Escapes of a surrogate without its partner (`"\ud800"`), which the
    /// page's strings hold as U+FFFD: text no UTF-8 output can carry.
    pub(crate) fn lone_surrogates(&self) -> usize {
        self.lone_surrogates
    }
}

impl Scanner {
    /// Scans and checks `body`, noting the columns of `plan`; the result
    /// borrows from both.
    pub(crate) fn scan<'s>(
        &'s mut self,
        body: &'s [u8],
        plan: Option<&KeyPlan>,
    ) -> Result<Doc<'s>, Malformed> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Err(Malformed {
                what: "the body is empty".to_owned(),
                at: None,
            });
        }
        if u32::try_from(body.len()).is_err() {
            return Err(Malformed {
                what: "a body over 4 GiB is too large to scan".to_owned(),
                at: None,
            });
        }
        let found = structurals(
            body,
            &mut self.positions,
            &mut self.kinds,
            &mut self.escaped,
        )?;
        if self.partners.len() < found.count {
            self.partners.resize(found.count, 0);
        }
        let positions = &mut self.positions[..found.count];
        let kinds = &self.kinds[..found.count];
        let partners = &mut self.partners[..found.count];
        self.noted.clear(plan.map_or(0, |plan| plan.width));
        Checker {
            text: body,
            positions,
            kinds,
            partners,
            fault: None,
            plan,
            escaped: !self.escaped.is_empty(),
            noted: &mut self.noted,
            template: &mut self.template,
        }
        .check()?;
        let lone_surrogates =
            unescape_strings(body, positions, &self.escaped, &mut self.unescaped)?;
        let text = utf8(body)?;
        // Unescaped strings of a valid page are valid.
        let unescaped = utf8(&self.unescaped).map_err(|_| malformed_copy())?;
        Ok(Doc {
            text,
            unescaped,
            positions,
            kinds,
            partners,
            noted: plan.map(|_| &self.noted),
            lone_surrogates,
        })
    }
}

/// Unescaped strings that are not UTF-8, though their page is: an
/// error of this parser, reported as one rather than read.
#[cold]
fn malformed_copy() -> Malformed {
    Malformed {
        what: "unescaping broke a string's UTF-8".to_owned(),
        at: None,
    }
}

/// `text` as a `str`, checked with SIMD: the standard library's check
/// goes a byte at a time through text that is not ASCII.
fn utf8(text: &[u8]) -> Result<&str, Malformed> {
    simdutf8::basic::from_utf8(text).map_err(|_| {
        let at = std::str::from_utf8(text).map_or_else(|e| e.valid_up_to(), |_| 0);
        Malformed::at("invalid UTF-8", at)
    })
}

impl<'s> Doc<'s> {
    pub(crate) fn root(&self) -> Item<'_> {
        Item { doc: self, at: 0 }
    }

    fn byte(&self, at: usize) -> u8 {
        self.kinds.get(at).copied().unwrap_or(0) & !AFTER_LITERAL
    }

    fn offset(&self, at: usize) -> usize {
        self.positions
            .get(at)
            .map_or(self.text.len(), |&p| p as usize)
    }

    /// Where the content of the string whose opening quote is entry `at`
    /// lies: quotes are ASCII, so on character boundaries.
    fn content(&self, at: usize) -> std::ops::Range<usize> {
        self.offset(at) + 1..self.offset(at + 1)
    }

    /// Inlined into [`Node::view`], which reads a string a value.
    #[inline(always)]
    fn str(&self, at: usize) -> &str {
        let content = self.content(at);
        match self.text.get(content.clone()) {
            Some(text) => text,
            None => self.beside(content).unwrap_or_default(),
        }
    }

    /// The bytes of [`Doc::str`], without its checks of character
    /// boundaries: keys are compared as bytes.
    fn string(&self, at: usize) -> &[u8] {
        let content = self.content(at);
        match self.text.as_bytes().get(content.clone()) {
            Some(text) => text,
            None => self.beside(content).map(str::as_bytes).unwrap_or_default(),
        }
    }

    /// An unescaped string, by its offsets past the page's end.
    fn beside(&self, content: std::ops::Range<usize>) -> Option<&str> {
        let end = self.text.len();
        self.unescaped
            .get(content.start.checked_sub(end)?..content.end.checked_sub(end)?)
    }

    /// The entry just past the value at `at`.
    fn after(&self, at: usize) -> usize {
        past_value(self.byte(at), self.partners, at)
    }

    /// The literal that ends before entry `at`, without the space around
    /// it. Inlined into [`Node::view`], which reads a literal a value.
    #[inline]
    fn scalar(&self, at: usize) -> &str {
        let start = if at == 0 { 0 } else { self.offset(at - 1) + 1 };
        let literal = self.text.get(start..self.offset(at)).unwrap_or_default();
        // Pages seldom put space around a literal: two compares tell,
        // where the trim tests both ends for each kind of space.
        match literal.as_bytes() {
            [first, .., last] if *first > b' ' && *last > b' ' => literal,
            [only] if *only > b' ' => literal,
            _ => literal.trim_ascii(),
        }
    }

    /// Calls `each` with the entry of every element of the array at `at`;
    /// stops when `each` says so.
    fn each_element(&self, at: usize, mut each: impl FnMut(usize) -> bool) {
        let close = self.partners.get(at).map_or(at, |&p| p as usize);
        if close == at + 1 && self.scalar(at + 1).is_empty() {
            return;
        }
        let mut i = at + 1;
        loop {
            if !each(i) {
                return;
            }
            let next = self.after(i);
            if next >= close {
                return;
            }
            i = next + 1;
        }
    }

    /// Calls `each` with the key entry and value entry of every member of
    /// the object at `at`; stops when `each` says so.
    fn each_member(&self, at: usize, mut each: impl FnMut(usize, usize) -> bool) {
        if self.byte(at + 1) == b'}' {
            return;
        }
        let mut i = at + 1;
        loop {
            if !each(i, i + 3) {
                return;
            }
            let next = self.after(i + 3);
            if self.byte(next) != b',' {
                return;
            }
            i = next + 1;
        }
    }
}

/// The entry just past the value at entry `at` of a checked index, whose
/// structural byte is `byte`: a string's two quotes, a container up to its
/// partner, and a literal, which has no entry of its own, none.
#[inline(always)]
fn past_value(byte: u8, partners: &[u32], at: usize) -> usize {
    match byte {
        b'"' => at + 2,
        b'{' | b'[' => partners.get(at).map_or(at, |&p| p as usize + 1),
        _ => at,
    }
}

/// The view of a checked literal. A short one (up to 19 bytes after
/// its sign) is read in one pass: a whole number ends with its digits,
/// and a decimal without an exponent (`9412.80`) is that integer over a
/// power of ten, read exactly as the standard library reads it (see
/// [`decimal()`] for digits past 2^53). Longer or exponent forms go to
/// the standard library at once.
pub(crate) fn scalar_view(literal: &str) -> View<'_> {
    match literal {
        "true" => return View::Bool(true),
        "false" => return View::Bool(false),
        "null" | "" => return View::Null,
        _ => {}
    }
    let text = literal.as_bytes();
    let (negative, digits) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, text),
    };
    if digits.len() > 19 {
        return standard_literal(literal);
    }
    // Below 10^19: no overflow of 64 bits.
    let mut value = 0u64;
    let mut places = None;
    for (i, &d) in digits.iter().enumerate() {
        match d {
            b'0'..=b'9' => value = value * 10 + u64::from(d - b'0'),
            b'.' if places.is_none() && digits.len() >= 2 => {
                places = Some(digits.len() - i - 1);
            }
            _ => return float_literal(literal),
        }
    }
    match places {
        Some(places) => {
            // Below 2^53 the digits are exact as a double, as is the
            // power of ten: their quotient is rounded once.
            let magnitude = match POWERS_OF_TEN.get(places) {
                Some(power) if value <= 1 << 53 => value as f64 / power,
                _ => match decimal(value, places) {
                    Some(magnitude) => magnitude,
                    None => return float_literal(literal),
                },
            };
            View::F64(if negative { -magnitude } else { magnitude })
        }
        None if negative => match value {
            u if u <= i64::MIN.unsigned_abs() => View::I64((u as i64).wrapping_neg()),
            _ => View::Big(literal),
        },
        None => match i64::try_from(value) {
            Ok(i) => View::I64(i),
            Err(_) => View::U64(value),
        },
    }
}

/// The powers of ten a short decimal's places call for, all exact.
/// (Powers up to 10^22 are exact doubles.)
const POWERS_OF_TEN: [f64; 19] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18,
];

/// The view the standard library gives a literal of any length: a
/// double for a decimal or exponent form, else a whole number, else a
/// big one. [`scalar_view`] takes it for literals of over 19 bytes after
/// their sign.
#[cold]
pub(crate) fn standard_literal(literal: &str) -> View<'_> {
    if literal.contains(['.', 'e', 'E']) {
        float_literal(literal)
    } else if let Ok(i) = literal.parse::<i64>() {
        View::I64(i)
    } else if let Ok(u) = literal.parse::<u64>() {
        View::U64(u)
    } else {
        View::Big(literal)
    }
}

/// A decimal or exponent literal read by the standard library; one a
/// double cannot hold is a big number.
fn float_literal(literal: &str) -> View<'_> {
    match literal.parse::<f64>() {
        Ok(f) if f.is_finite() && !crate::json::underflows(literal.as_bytes(), f) => View::F64(f),
        _ => View::Big(literal),
    }
}

impl<'d> Node<'d> for Item<'d> {
    // A pass over the members reads each key once and stops when every
    // wanted key is found.
    const KEYS_PER_GET: usize = 1;

    fn view(self) -> View<'d> {
        match self.doc.byte(self.at) {
            b'"' => View::Str(self.doc.str(self.at)),
            b'{' | b'[' => View::Compound,
            _ => scalar_view(self.doc.scalar(self.at)),
        }
    }

    fn number_text(self) -> Option<&'d str> {
        match self.doc.byte(self.at) {
            b'"' | b'{' | b'[' => None,
            _ => Some(self.doc.scalar(self.at)),
        }
    }

    fn members_within(self) -> Option<usize> {
        if self.doc.byte(self.at) != b'{' {
            return None;
        }
        let close = *self.doc.partners.get(self.at)? as usize;
        // Every member has one colon; strings' colons are not entries.
        let kinds = self.doc.kinds.get(self.at + 1..close)?;
        Some(count_colons(kinds))
    }

    fn get(self, key: &str) -> Option<Self> {
        if !self.is_object() {
            return None;
        }
        let mut found = None;
        self.doc.each_member(self.at, |k, v| {
            if self.doc.string(k) == key.as_bytes() {
                found = Some(v);
                return false;
            }
            true
        });
        found.map(|at| Item { doc: self.doc, at })
    }

    // Walks the elements rather than collecting them: a path with an
    // index reads one element of every record.
    fn at(self, index: i64) -> Option<Self> {
        if self.doc.byte(self.at) != b'[' {
            return None;
        }
        let doc = self.doc;
        let wanted = match usize::try_from(index) {
            Ok(wanted) => wanted,
            Err(_) => {
                let mut len = 0;
                doc.each_element(self.at, |_| {
                    len += 1;
                    true
                });
                resolve_index(index, len)?
            }
        };
        let (mut seen, mut found) = (0, None);
        doc.each_element(self.at, |at| {
            if seen == wanted {
                found = Some(Item { doc, at });
            }
            seen += 1;
            found.is_none()
        });
        found
    }

    fn elements(self, out: &mut Vec<Self>) -> Option<()> {
        if self.doc.byte(self.at) != b'[' {
            return None;
        }
        let doc = self.doc;
        doc.each_element(self.at, |at| {
            out.push(Item { doc, at });
            true
        });
        Some(())
    }

    fn children(self, out: &mut Vec<Self>) {
        let doc = self.doc;
        if self.elements(out).is_none() && self.is_object() {
            doc.each_member(self.at, |_, at| {
                out.push(Item { doc, at });
                true
            });
        }
    }

    fn is_object(self) -> bool {
        self.doc.byte(self.at) == b'{'
    }

    fn members(self, each: &mut dyn FnMut(&str, Self)) {
        if !self.is_object() {
            return;
        }
        let doc = self.doc;
        doc.each_member(self.at, |k, at| {
            each(doc.str(k), Item { doc, at });
            true
        });
    }

    fn members_while(self, mut each: impl FnMut(&[u8], Self) -> bool) {
        if !self.is_object() {
            return;
        }
        let doc = self.doc;
        doc.each_member(self.at, |k, at| each(doc.string(k), Item { doc, at }));
    }

    fn noted_columns(self, ordinal: usize, mut each: impl FnMut(usize, Option<Self>)) -> bool {
        let doc = self.doc;
        let Some(row) = doc.noted.and_then(|noted| noted.row(self.at, ordinal)) else {
            return false;
        };
        for (column, &at) in row.iter().enumerate() {
            let value = (at != NOWHERE).then_some(Item {
                doc,
                at: at as usize,
            });
            each(column, value);
        }
        true
    }
}

/// How many of `kinds` are colons, whatever their `AFTER_LITERAL` bit.
/// Eight kinds a step, in the bytes of a word: the compiler's own
/// vectors for this loop took four a step.
fn count_colons(kinds: &[u8]) -> usize {
    const ONES: u64 = u64::from_ne_bytes([1; 8]);
    const LOW: u64 = ONES * 0x7f;
    let mut blocks = kinds.chunks_exact(128);
    let mut total = 0;
    for block in blocks.by_ref() {
        total += colons_in_words(block);
    }
    let rest = blocks.remainder();
    let words = rest.len() / 8 * 8;
    total += colons_in_words(&rest[..words]);
    let tail = rest[words..].iter();
    return total + tail.filter(|&&kind| kind & !AFTER_LITERAL == b':').count();

    /// The colons of at most 16 words, whose byte lanes then hold at most
    /// 128 in all.
    fn colons_in_words(block: &[u8]) -> usize {
        let mut lanes = 0u64;
        for word in block.chunks_exact(8) {
            let word = u64::from_le_bytes(word.try_into().expect("eight bytes"));
            // A byte is zero where the kind is a colon. None has its top
            // bit, so adding 0x7f to each carries into no other byte.
            let other = (word & LOW) ^ (ONES * u64::from(b':'));
            lanes += (!(other + LOW) & !LOW) >> 7;
        }
        (lanes.wrapping_mul(ONES) >> 56) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::node::Node;

    fn scanned(text: &str) -> Result<serde_json::Value, String> {
        let mut scanner = Scanner::default();
        let doc = scanner
            .scan(text.as_bytes(), None)
            .map_err(|e| e.to_string())?;
        Ok(doc.root().to_serde())
    }

    /// What the tree parse makes of `text`, through the same trait.
    fn parsed(text: &str) -> Result<serde_json::Value, String> {
        let mut parser = crate::json::Parser::default();
        let mut scratch = crate::json::Scratch::default();
        let value = parser.parse(text.as_bytes(), &mut scratch)?;
        Ok((&value).to_serde())
    }

    fn agree(text: &str) {
        assert_eq!(scanned(text), parsed(text), "{text}");
    }

    /// JSON text may hold a surrogate without its pair (RFC 8259, 8.2);
    /// UTF-8 cannot. Both parsers read one as U+FFFD and count it.
    #[test]
    fn lone_surrogates_read_as_the_replacement_character_and_are_counted() {
        for (text, value, lone) in [
            (r#"{"a":"\ud800"}"#, "\u{fffd}", 1),
            (r#"{"a":"x\udc00y"}"#, "x\u{fffd}y", 1),
            (r#"{"a":"\uDBFF\u0041"}"#, "\u{fffd}A", 1),
            (r#"{"a":"\ud800\ud800\udc00"}"#, "\u{fffd}\u{10000}", 1),
            (r#"{"a":"\udc00\ud800"}"#, "\u{fffd}\u{fffd}", 2),
            (r#"{"a":"\ud83d\ude00"}"#, "\u{1f600}", 0),
            (r#"{"a":"\ufffd"}"#, "\u{fffd}", 0),
            (r#"{"a":"\\ud800"}"#, "\\ud800", 0),
            (r#"{"a":"\"\ud800"}"#, "\"\u{fffd}", 1),
        ] {
            agree(text);
            assert_eq!(
                scanned(text),
                Ok(serde_json::json!({ "a": value })),
                "{text}"
            );
            let mut scanner = Scanner::default();
            let doc = scanner.scan(text.as_bytes(), None).unwrap();
            assert_eq!(doc.lone_surrogates(), lone, "{text}");
            let mut parser = crate::json::Parser::default();
            let mut scratch = crate::json::Scratch::default();
            parser.parse(text.as_bytes(), &mut scratch).unwrap();
            assert_eq!(parser.lone_surrogates, lone, "{text}");
        }
    }

    #[test]
    fn number_literals_read_as_the_standard_library_reads_them() {
        let mut literals: Vec<String> = [
            "0",
            "-0",
            "0.0",
            "-0.0",
            "1.5",
            "9412.80",
            "0.1",
            "0.30000000000000004",
            "0.35334734044320948",
            "9007199254740991.5",
            "900719925474099.1",
            "9007199254740993",
            "9223372036854775807",
            "9223372036854775808",
            "-9223372036854775808",
            "-9223372036854775809",
            "18446744073709551615",
            "18446744073709551616",
            "1e5",
            "-2.5E-3",
            "1e-400",
            "1e400",
            "0.0000000000000000000001",
            "0.00000000000000000000001",
            "123456789012345678901234.5",
            "4.35",
            "1.",
            ".5",
        ]
        .map(String::from)
        .to_vec();
        // Decimals of every width of whole part and fraction, zeros at
        // the end among them, and their negatives.
        let mut next = crate::json::xorshift(0x2545_f491_4f6c_dd1d);
        for whole in 1..=20 {
            for places in 0..=24 {
                let seed = next();
                let digits = format!("{seed:020}{:020}", seed.rotate_left(29));
                let lead = if whole == 1 { "0" } else { "1" };
                let mut literal = format!("{lead}{}", &digits[..whole - 1]);
                if places > 0 {
                    literal = format!("{literal}.{}", &digits[20..20 + places.min(20)]);
                    literal.extend(std::iter::repeat_n('0', places.saturating_sub(20)));
                }
                literals.push(format!("-{literal}"));
                literals.push(literal);
            }
        }
        for literal in &literals {
            let (ours, theirs) = (scalar_view(literal), standard_literal(literal));
            match (ours, theirs) {
                (View::F64(a), View::F64(b)) => {
                    assert_eq!(a.to_bits(), b.to_bits(), "{literal}: {a} against {b}")
                }
                (ours, theirs) => {
                    assert_eq!(format!("{ours:?}"), format!("{theirs:?}"), "{literal}")
                }
            }
        }
        assert!(matches!(scalar_view("9412.80"), View::F64(f) if f == 9412.8));
        assert!(matches!(
            scalar_view("-9223372036854775808"),
            View::I64(i64::MIN)
        ));
    }

    #[test]
    fn colons_are_counted_as_a_byte_loop_counts_them() {
        // Colons with and without the literal bit, kinds one bit off a
        // colon and others, in runs of every length past two blocks.
        let kinds: Vec<u8> = (0..400u32)
            .map(|i| match i * 7919 % 11 {
                0..=3 => b':',
                4 => b':' | AFTER_LITERAL,
                5 => b',' | AFTER_LITERAL,
                6 => b':' ^ 1,
                _ => (i * 31 % 256) as u8,
            })
            .collect();
        for start in 0..9 {
            for end in start..kinds.len() {
                let kinds = &kinds[start..end];
                let by_byte = kinds
                    .iter()
                    .filter(|&&kind| kind & !AFTER_LITERAL == b':')
                    .count();
                assert_eq!(count_colons(kinds), by_byte, "{start}..{end}");
            }
        }
        assert_eq!(count_colons(&[b':'; 300]), 300);
    }

    #[test]
    fn reads_every_kind_of_value_as_the_full_parse_does() {
        for text in [
            r#"{"a":1,"b":[true,false,null],"c":{"d":"e","f":[]},"g":{},"h":-2.5e3}"#,
            r#"[1,"two",[3,[4,[]]],{"five":5}]"#,
            r#"  { "a" : [ 1 , 2 ] , "b" : { } , "c" : [ ] , "d" : "x" }  "#,
            "42",
            " -7 ",
            "[ 1 ,\t2\n,\r\ntrue , null\t,0,7 ,\n-1.5e2\n]",
            "{\"a\":\n5\n,\"b\":\tfalse,\"c\": 0}",
            "\"bare\"",
            "[[],[[]],{},[{}]]",
            r#"{"n":[0,-0.0,1.5,1e2,18446744073709551615,-9223372036854775808]}"#,
            r#"{"big":123456789012345678901234567890,"neg":-9223372036854775809,"inf":1e400}"#,
            r#"{"esc":"a\"b\\c\/d\b\f\n\r\t","u":"\u00e9\u4e2d\ud83d\ude00","k\u0041y":1}"#,
            r#"{"dup":1,"dup":2}"#,
            "{\"utf8\":\"héllo 中文 😀\"}",
        ] {
            agree(text);
        }
    }

    #[test]
    fn indexes_select_elements_from_either_end() {
        let mut scanner = Scanner::default();
        let doc = scanner
            .scan(br#"[1,"two",[3],{"four":4},5]"#, None)
            .expect("valid page");
        let at = |index| doc.root().at(index).map(|item| item.to_serde().to_string());
        assert_eq!(at(0).as_deref(), Some("1"));
        assert_eq!(at(1).as_deref(), Some("\"two\""));
        assert_eq!(at(3).as_deref(), Some(r#"{"four":4}"#));
        assert_eq!(at(4).as_deref(), Some("5"));
        assert_eq!(at(5), None);
        assert_eq!(at(-1).as_deref(), Some("5"));
        assert_eq!(at(-3).as_deref(), Some("[3]"));
        assert_eq!(at(-5).as_deref(), Some("1"));
        assert_eq!(at(-6), None);
        let empty = Scanner::default()
            .scan(b"[ ]", None)
            .map(|d| d.root().at(0).is_none());
        assert_eq!(empty, Ok(true));
    }

    #[test]
    fn reads_the_corpus_shapes_as_the_full_parse_does() {
        use hydrant_bench::corpus::Shape;
        for shape in [
            Shape::Flat,
            Shape::Nested,
            Shape::Escapes,
            Shape::Numbers,
            Shape::Wide,
        ] {
            let page = shape.page(3, 200);
            agree(std::str::from_utf8(&page).expect("corpus pages are UTF-8"));
        }
    }

    #[test]
    fn escapes_and_quotes_across_block_boundaries() {
        // Runs of backslashes of every length, ending at every offset of a
        // 64-byte block, before a quote or a letter.
        for pad in 0..70 {
            for run in 1..6 {
                let mut s = "x".repeat(pad);
                for _ in 0..run {
                    s.push_str("\\\\");
                }
                s.push_str("\\\"y");
                agree(&format!(r#"{{"k":"{s}","after":[1,"{s}"]}}"#));
            }
        }
    }

    #[test]
    fn escaped_strings_however_spread_over_blocks_read_as_the_full_parse_does() {
        // Strings of escapes and plain text, short and long, keys among
        // them: several escaped strings in one block, one string's
        // escapes over several blocks, blocks with no escape between.
        let pieces = [
            "a",
            "bc",
            " ",
            "é",
            "中",
            r"\n",
            r#"\""#,
            r"\\",
            r"\/",
            r"\u0007",
            r"\u00e9",
            r"\ud83d\ude00",
            r"\t",
            "plain text of some length",
        ];
        let mut random = crate::json::xorshift(0x2545_f491_4f6c_dd1d);
        let mut next = |below: usize| (random() % below as u64) as usize;
        for _ in 0..400 {
            let mut text = String::from("[");
            for member in 0..1 + next(12) {
                let mut string = || {
                    let mut s = String::new();
                    let most = [3, 20, 90][next(3)];
                    for _ in 0..next(most) {
                        s.push_str(pieces[next(pieces.len())]);
                    }
                    s
                };
                let (key, value) = (string(), string());
                if member > 0 {
                    text.push(',');
                }
                text.push_str(&format!(r#"{{"{key}x":"{value}","n":{member}}}"#));
            }
            text.push(']');
            agree(&text);
        }
    }

    #[test]
    fn malformed_pages_are_refused_with_where() {
        for (text, message) in [
            (r#"{"a":1"#, "expected `,` or `}` at byte 6"),
            (r#"{"a":1,}"#, "expected a key at byte 7"),
            (r#"{"a" 1}"#, "expected `:` at byte 5"),
            (r#"{"a":}"#, "expected a value at byte 5"),
            (r#"[1,2"#, "expected `,` or `]` at byte 4"),
            (r#"[1,]"#, "expected a value at byte 3"),
            (r#"[1 2]"#, "invalid literal `1 2` at byte 1"),
            (r#"{"a":tru}"#, "invalid literal `tru` at byte 5"),
            (r#"{"a":01}"#, "invalid literal `01` at byte 5"),
            (r#"{"a":1.}"#, "invalid literal `1.` at byte 5"),
            (r#"{"a":"b" "c":1}"#, "expected `,` or `}` at byte 9"),
            (r#"["a" "b"]"#, "expected `,` or `]` at byte 5"),
            (r#"{"a":[1}]"#, "expected `,` or `]` at byte 7"),
            (r#"{"a":"b}"#, "unterminated string at byte 8"),
            (
                "{\"a\":\"b\u{1}\"}",
                "unescaped control character in a string at byte 7",
            ),
            (r#"{"a":"\x"}"#, "invalid escape in a string at byte 6"),
            (r#"{"a":"\u12"}"#, "invalid escape in a string at byte 6"),
            (r#"{"a":1} {"#, "expected the end of the text at byte 8"),
            (r#"{"a":1} x"#, "expected the end of the text at byte 8"),
            ("nul", "invalid literal `nul` at byte 0"),
            ("{\"a\":\u{c}1}", "invalid literal `\u{c}1` at byte 5"),
            ("{\"a\":1,\u{1}\"b\":2}", "expected a key at byte 7"),
            ("[1\"a\"]", "expected `,` or `]` at byte 2"),
            ("   ", "the body is empty"),
            ("", "the body is empty"),
        ] {
            assert_eq!(scanned(text), Err(message.to_owned()), "{text}");
            assert!(parsed(text).is_err(), "the full parse takes {text}");
        }
        assert_eq!(
            scanned(&"[".repeat(1100)),
            Err("nesting deeper than 1024 at byte 1024".to_owned())
        );
        let mut invalid = br#"{"a":"#.to_vec();
        invalid.extend_from_slice(b"\"\xff\"}");
        let mut scanner = Scanner::default();
        assert_eq!(
            scanner
                .scan(&invalid, None)
                .map(|_| ())
                .map_err(|e| e.to_string()),
            Err("invalid UTF-8 at byte 6".to_owned())
        );
    }

    #[test]
    fn malformed_members_amid_long_objects_are_refused() {
        // Eight kinds or more after the member: the check reads them at
        // once, and must still tell each fault as the member by member
        // check does.
        for (member, message) in [
            (r#""a":"b"x"#, "expected `,` or `}` at byte 8"),
            (r#""a":"b" "c""#, "expected `,` or `}` at byte 9"),
            (r#""a":12x"#, "invalid literal `12x` at byte 5"),
            (r#""a":01"#, "invalid literal `01` at byte 5"),
            (r#""a":-"#, "invalid literal `-` at byte 5"),
            (r#""a":"#, "expected a value at byte 5"),
            (r#""a" x:"b""#, "expected `:` at byte 5"),
            (r#"x"a":"b""#, "expected a key at byte 1"),
            (r#""a":"b",,"c":1"#, "expected a key at byte 9"),
            (r#""a":"b"]"#, "expected `,` or `}` at byte 8"),
            (r#""a":1]"#, "expected `,` or `}` at byte 6"),
        ] {
            let text = format!(r#"{{{member},"c":"d","e":"f","g":"h"}}"#);
            assert_eq!(scanned(&text), Err(message.to_owned()), "{text}");
            assert!(parsed(&text).is_err(), "the full parse takes {text}");
        }
        let text = r#"{"a":"b","c":12,"d":true,"e":null,"f":{"g":"h","i":7},"j":"k"}"#;
        agree(text);
    }

    /// The structurals of `text` found one byte at a time, with their
    /// kinds; `None` where a string holds a control byte or does not end.
    fn structurals_bytewise(text: &[u8]) -> Option<(Vec<u32>, Vec<u8>)> {
        let (mut found, mut kinds) = (Vec::new(), Vec::new());
        let mut inside = false;
        let mut escaped = false;
        let mut after_literal = false;
        for (i, &b) in text.iter().enumerate() {
            // Outside strings, where a backslash is refused later, it
            // still escapes only a quote.
            let is_escaped = escaped;
            escaped = !is_escaped && b == b'\\';
            let opens_or_closes = b == b'"' && !is_escaped;
            if opens_or_closes || !inside && b"{}[]:,".contains(&b) {
                found.push(i as u32);
                kinds.push(if after_literal { b | AFTER_LITERAL } else { b });
                after_literal = false;
                inside ^= opens_or_closes;
            } else if inside && b < 0x20 {
                return None;
            } else if !inside && !is_space(b) {
                after_literal = true;
            }
        }
        (!inside).then_some((found, kinds))
    }

    #[test]
    fn plain_literals_are_told_as_the_full_check_tells_them() {
        let alphabet = b"019/:-.eE +tnfrualsx";
        let mut texts: Vec<Vec<u8>> = vec![Vec::new()];
        for _ in 0..3 {
            let longer: Vec<Vec<u8>> = texts
                .iter()
                .flat_map(|t| {
                    alphabet.iter().map(move |&b| {
                        let mut t = t.clone();
                        t.push(b);
                        t
                    })
                })
                .collect();
            texts.extend(longer);
        }
        for word in [
            "true",
            "null",
            "false",
            "trUe",
            "nul",
            "fals",
            "falsee",
            "12345678",
            "123456789",
            "01234567",
            "0",
            "00",
            "10000000",
            "9999999a",
            "tru\u{0}",
            "\u{0}",
        ] {
            texts.push(word.as_bytes().to_vec());
        }
        for text in texts {
            for tail in [*b"        ", *b",1234567", *b"\0\0\0\0\0\0\0\0"] {
                let mut word = text.clone();
                word.extend_from_slice(&tail);
                let plain = is_plain_literal(&word[..8.min(word.len())], text.len());
                let shown = String::from_utf8_lossy(&text);
                if plain {
                    assert!(is_literal(&text), "`{shown}` told plain, not a literal");
                }
                let unsigned_whole = !text.is_empty()
                    && text.len() <= 8
                    && text.iter().all(u8::is_ascii_digit)
                    && (text.len() == 1 || text[0] != b'0');
                let word_literal = matches!(&text[..], b"true" | b"false" | b"null");
                assert_eq!(plain, unsigned_whole || word_literal, "`{shown}`");
            }
        }
    }

    #[test]
    fn literals_are_told_as_serde_json_tells_them() {
        // Runs of digits of every length around a word's eight, and a
        // wrong byte in every place of them.
        let mut next = crate::json::xorshift(0x1234_5678_9abc_def1);
        let mut digits = |n: usize| -> String {
            (0..n)
                .map(|_| char::from(b'0' + (next() % 10) as u8))
                .collect()
        };
        let mut texts: Vec<Vec<u8>> = Vec::new();
        for n in 0..=26 {
            let run = digits(n);
            let half = digits(n / 2);
            for text in [
                run.clone(),
                format!("-{run}"),
                format!("0.{run}"),
                format!("{half}.{run}"),
                format!("-1{run}.{half}e+1{}", &run[..n.min(2)]),
                format!("{run}E-{}", &half[..half.len().min(2)]),
            ] {
                let text = text.into_bytes();
                for at in 0..text.len() {
                    for bad in [b'/', b':', b'a', b'.', b'e', b'-', b' ', 0x7f, 0xfa, 0xff] {
                        let mut wrong = text.clone();
                        wrong[at] = bad;
                        texts.push(wrong);
                    }
                }
                texts.push(text);
            }
        }
        for text in texts {
            let spaced = text.first().is_some_and(u8::is_ascii_whitespace)
                || text.last().is_some_and(u8::is_ascii_whitespace);
            // Read as a value that is not kept, a number is only
            // checked, not converted: `4e972` is a number here too.
            let number = text
                .first()
                .is_some_and(|&b| b == b'-' || b.is_ascii_digit());
            let expected =
                !spaced && number && serde_json::from_slice::<serde::de::IgnoredAny>(&text).is_ok();
            let shown = String::from_utf8_lossy(&text);
            assert_eq!(is_literal(&text), expected, "`{shown}`");
        }
    }

    #[test]
    fn literals_and_space_across_block_boundaries() {
        for pad in 0..70 {
            let space = " ".repeat(pad);
            for text in [
                format!("[{space}123 , true,\n\tnull ,-1.5e3]"),
                format!("{{\"k\":{space}false\r\n}}"),
                format!("{space}[{space}0{space}]"),
                format!("{{{space}\"a\"{space}:{space}7{space},\"b\":\"x\"}}"),
            ] {
                agree(&text);
            }
            for (text, at) in [
                (format!("[{space}1 2]"), pad + 1),
                (format!("[{space}\u{c}1]"), pad + 1),
            ] {
                let want = format!(
                    "invalid literal `{}` at byte {at}",
                    text[at..text.len() - 1].to_owned()
                );
                assert_eq!(scanned(&text), Err(want), "{text}");
            }
            let text = format!("{{\"a\":1{space}x,\"b\":2}}");
            assert!(scanned(&text).is_err(), "{text}");
        }
    }

    #[test]
    fn structurals_match_a_byte_loop() {
        let alphabet = b"a1\"\\{}[]:, \n\x01\x0c\xc3\xa9";
        let mut next = crate::json::xorshift(0x9e37_79b9_7f4a_7c15);
        for round in 0..3000 {
            let text: Vec<u8> = (0..1 + round % 300)
                .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                .collect();
            let want = structurals_bytewise(&text).map(|(positions, kinds)| {
                let escaped = escaped_blocks(&text, &positions);
                (positions, kinds, escaped)
            });
            let (mut positions, mut kinds, mut escaped) = (Vec::new(), Vec::new(), Vec::new());
            let found = structurals(&text, &mut positions, &mut kinds, &mut escaped);
            let got = found.map(|f| {
                (
                    positions[..f.count].to_vec(),
                    kinds[..f.count].to_vec(),
                    escaped.clone(),
                )
            });
            let expected = want;
            assert_eq!(got.ok(), expected, "{}", String::from_utf8_lossy(&text));
            let found = scan_blocks(
                &text,
                &mut positions,
                &mut kinds,
                &mut escaped,
                classify_bytes,
                flatten_scalar,
            );
            let got = found.map(|f| {
                (
                    positions[..f.count].to_vec(),
                    kinds[..f.count].to_vec(),
                    escaped.clone(),
                )
            });
            assert_eq!(got.ok(), expected, "{}", String::from_utf8_lossy(&text));
            #[cfg(target_arch = "x86_64")]
            for got in structurals_by_every_loop(&text) {
                assert_eq!(got.ok(), expected, "{}", String::from_utf8_lossy(&text));
            }
        }
    }

    /// The blocks of `text` that hold a backslash, told byte by byte.
    fn escaped_blocks(text: &[u8], positions: &[u32]) -> Vec<Escaped> {
        text.chunks(64)
            .enumerate()
            .filter_map(|(index, block)| {
                let backslashes = block
                    .iter()
                    .enumerate()
                    .filter(|&(_, &b)| b == b'\\')
                    .fold(0u64, |mask, (i, _)| mask | 1 << i);
                let base = index as u32 * 64;
                (backslashes != 0).then(|| Escaped {
                    base,
                    entry: positions.iter().filter(|&&p| p < base).count() as u32,
                    backslashes,
                })
            })
            .collect()
    }
}

//! The hot path's JSON parser: a structural index of the page, checked
//! whole and then walked in place.
//!
//! A full parse builds a value for everything on a page; the hot path reads
//! a handful of values per record. Here one SIMD pass over the bytes finds
//! every string quote and every `{}[]:,` outside strings
//! ([`structurals`]); one pass over that index checks the grammar and pairs
//! each bracket with its partner ([`check`]), so that a walk steps over an
//! unread object or array at once; strings holding escapes are unescaped in
//! place. A scalar is parsed only when it is read. The page is still
//! checked whole — UTF-8, every string's characters and escapes, every
//! literal, bracket, comma and colon — so a malformed page fails as it
//! would under a full parse.
//!
//! Given the extractor's [`KeyPlan`] (its paths, when all are keys), the check
//! also notes the entry of each record's column values as it passes them,
//! so that extraction reads them without walking the records again.

use std::fmt;

use crate::json::ZERO_DIGITS;
use crate::json::keys::KeySet;
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
    /// A copy of a page whose strings hold escapes, unescaped in place.
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
        Some(KeyPlan {
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
    positions: &'s [u32],
    kinds: &'s [u8],
    partners: &'s [u32],
    noted: Option<&'s Noted>,
}

/// A value of a scanned page: a string, object or array by the index
/// entry of its opening quote or bracket; a scalar by the entry of the
/// structural just after it (or the end of the index, for a bare scalar).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Item<'d> {
    doc: &'d Doc<'d>,
    at: usize,
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
        let found = structurals(body, &mut self.positions, &mut self.kinds)?;
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
            escaped: found.backslashes,
            noted: &mut self.noted,
            template: &mut self.template,
        }
        .check()?;
        let text = if found.backslashes {
            self.unescaped.clear();
            self.unescaped.extend_from_slice(body);
            unescape_strings(&mut self.unescaped, positions)?;
            // Unescaping copies every byte but those of escapes, which
            // are ASCII, so the copy is UTF-8 exactly when the page is;
            // checking only the copy saves a pass.
            utf8(&self.unescaped).map_err(|_| utf8(body).err().unwrap_or(malformed_copy()))?
        } else {
            utf8(body)?
        };
        Ok(Doc {
            text,
            positions,
            kinds,
            partners,
            noted: plan.map(|_| &self.noted),
        })
    }
}

/// A copy that unescaping left invalid, though its page is valid: an
/// error of this parser, reported as one rather than read.
#[cold]
fn malformed_copy() -> Malformed {
    Malformed {
        what: "unescaping broke the text's UTF-8".to_owned(),
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

    fn str(&self, at: usize) -> &str {
        self.text.get(self.content(at)).unwrap_or_default()
    }

    /// The bytes of [`Doc::str`], without its checks of character
    /// boundaries: keys are compared as bytes.
    fn string(&self, at: usize) -> &[u8] {
        self.text
            .as_bytes()
            .get(self.content(at))
            .unwrap_or_default()
    }

    /// The entry just past the value at `at`.
    fn after(&self, at: usize) -> usize {
        past_value(self.byte(at), self.partners, at)
    }

    fn scalar(&self, at: usize) -> &str {
        let start = if at == 0 { 0 } else { self.offset(at - 1) + 1 };
        self.text
            .get(start..self.offset(at))
            .unwrap_or_default()
            .trim_ascii()
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

fn scalar_view(literal: &str) -> View<'_> {
    match literal {
        "true" => return View::Bool(true),
        "false" => return View::Bool(false),
        "null" | "" => return View::Null,
        _ => {}
    }
    let text = literal.as_bytes();
    if text.iter().any(|b| matches!(b, b'.' | b'e' | b'E')) {
        return match literal.parse::<f64>() {
            Ok(f) if f.is_finite() && !crate::json::underflows(text, f) => View::F64(f),
            _ => View::Big(literal),
        };
    }
    if let Some(digits) = text.strip_prefix(b"-") {
        return match parse_digits(digits) {
            Some(u) if u <= i64::MIN.unsigned_abs() => View::I64((u as i64).wrapping_neg()),
            _ => View::Big(literal),
        };
    }
    match parse_digits(text) {
        Some(u) => match i64::try_from(u) {
            Ok(i) => View::I64(i),
            Err(_) => View::U64(u),
        },
        None => View::Big(literal),
    }
}

/// The value of checked decimal digits, if it fits 64 bits.
fn parse_digits(digits: &[u8]) -> Option<u64> {
    digits.iter().try_fold(0u64, |value, &d| {
        value.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
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

/// What the structural pass found.
struct Found {
    count: usize,
    backslashes: bool,
}

/// The bits of a 64-byte block that are `"`, `\`, one of `{}[]:,`, and a
/// control character.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Masks {
    quote: u64,
    backslash: u64,
    operator: u64,
    control: u64,
    /// Bytes up to 0x20: space, or control characters.
    space: u64,
}

#[cfg(any(test, not(target_arch = "x86_64")))]
fn classify_bytes(block: &[u8; 64]) -> Masks {
    let mut masks = Masks::default();
    for (i, &b) in block.iter().enumerate() {
        let bit = 1u64 << i;
        match b {
            b'"' => masks.quote |= bit,
            b'\\' => masks.backslash |= bit,
            b'{' | b'}' | b'[' | b']' | b':' | b',' => masks.operator |= bit,
            0..=0x1f => masks.control |= bit,
            _ => {}
        }
        if b <= 0x20 {
            masks.space |= bit;
        }
    }
    masks
}

#[cfg(not(target_arch = "x86_64"))]
fn structurals(
    text: &[u8],
    positions: &mut Vec<u32>,
    kinds: &mut Vec<u8>,
) -> Result<Found, Malformed> {
    scan_blocks(text, positions, kinds, classify_bytes, flatten_scalar)
}

#[cfg(target_arch = "x86_64")]
use x86::structurals;
#[cfg(all(test, target_arch = "x86_64"))]
use x86::structurals_by_every_loop;

#[cfg(target_arch = "x86_64")]
mod x86 {
    //! The engine's only `unsafe`: entering functions compiled for
    //! CPU features that have been checked to be present.

    use std::arch::x86_64::{
        __m128i, __m256i, __m512i, _mm_cmpeq_epi8, _mm_max_epu8, _mm_movemask_epi8, _mm_or_si128,
        _mm_set_epi64x, _mm_set1_epi8, _mm256_cmpeq_epi8, _mm256_loadu_si256, _mm256_max_epu8,
        _mm256_movemask_epi8, _mm256_or_si256, _mm256_set1_epi8, _mm512_add_epi32,
        _mm512_cmpeq_epi8_mask, _mm512_cmple_epu8_mask, _mm512_loadu_si512, _mm512_mask_blend_epi8,
        _mm512_maskz_compress_epi8, _mm512_maskz_compress_epi32, _mm512_or_si512, _mm512_set1_epi8,
        _mm512_set1_epi32, _mm512_setr_epi32, _mm512_storeu_si512,
    };

    use super::{AFTER_LITERAL, Entries, Found, Malformed, Masks, flatten_scalar, scan_blocks};

    #[allow(unsafe_code)]
    pub(super) fn structurals(
        text: &[u8],
        positions: &mut Vec<u32>,
        kinds: &mut Vec<u8>,
    ) -> Result<Found, Malformed> {
        if has_avx512() {
            // SAFETY: the CPU was just seen to have every feature
            // `scan_avx512` is compiled for.
            unsafe { scan_avx512(text, positions, kinds) }
        } else if has_avx2() {
            // SAFETY: the CPU was just seen to have every feature
            // `scan_avx2` is compiled for.
            unsafe { scan_avx2(text, positions, kinds) }
        } else {
            // SAFETY: SSE2 is part of the x86_64 baseline.
            unsafe { scan_sse2(text, positions, kinds) }
        }
    }

    /// A block's masks, `$width` bytes a vector: SSE2 and AVX2 make the same
    /// compares, with intrinsics that differ only in name and width.
    macro_rules! classify_by_vectors {
        ($block:ident, $width:literal, $bits:ty, $load:ident, $eq:ident, $or:ident,
         $max:ident, $set1:ident, $movemask:ident) => {{
            let mut masks = Masks::default();
            let (vectors, _) = $block.as_chunks::<$width>();
            for (part, bytes) in vectors.iter().enumerate() {
                let v = $load(bytes);
                let is = |b: u8| $eq(v, $set1(b as i8));
                // `[` and `]` are `{` and `}` without bit 5.
                let folded = $or(v, $set1(0x20));
                let operator = $or(
                    $or(
                        $eq(folded, $set1(b'{' as i8)),
                        $eq(folded, $set1(b'}' as i8)),
                    ),
                    $or(is(b':'), is(b',')),
                );
                let at_most = |b: i8| $eq($max(v, $set1(b)), $set1(b));
                let bits = |m| u64::from($movemask(m) as $bits) << (part * $width);
                masks.quote |= bits(is(b'"'));
                masks.backslash |= bits(is(b'\\'));
                masks.operator |= bits(operator);
                masks.control |= bits(at_most(0x1f));
                masks.space |= bits(at_most(0x20));
            }
            masks
        }};
    }

    /// Whether the CPU has every feature `scan_avx512` is compiled for.
    fn has_avx512() -> bool {
        std::is_x86_feature_detected!("avx512f")
            && std::is_x86_feature_detected!("avx512bw")
            && std::is_x86_feature_detected!("avx512vbmi2")
            && std::is_x86_feature_detected!("bmi1")
            && std::is_x86_feature_detected!("popcnt")
    }

    /// Whether the CPU has every feature `scan_avx2` is compiled for.
    fn has_avx2() -> bool {
        std::is_x86_feature_detected!("avx2")
            && std::is_x86_feature_detected!("bmi1")
            && std::is_x86_feature_detected!("popcnt")
    }

    /// The offsets and kinds of a text's structurals.
    #[cfg(test)]
    type Index = (Vec<u32>, Vec<u8>);

    /// What every loop this CPU can run finds, for the tests.
    #[cfg(test)]
    #[allow(unsafe_code)]
    pub(super) fn structurals_by_every_loop(text: &[u8]) -> Vec<Result<Index, Malformed>> {
        type Loop = unsafe fn(&[u8], &mut Vec<u32>, &mut Vec<u8>) -> Result<Found, Malformed>;
        let mut loops: Vec<Loop> = vec![scan_sse2];
        if has_avx2() {
            loops.push(scan_avx2);
        }
        if has_avx512() {
            loops.push(scan_avx512);
        }
        loops
            .into_iter()
            .map(|scan| {
                let (mut positions, mut kinds) = (Vec::new(), Vec::new());
                // SAFETY: SSE2 is part of the x86_64 baseline, and the
                // other loops were pushed after their features were seen.
                let found = unsafe { scan(text, &mut positions, &mut kinds) }?;
                positions.truncate(found.count);
                kinds.truncate(found.count);
                Ok((positions, kinds))
            })
            .collect()
    }

    // With AVX-512, classifying a block takes one compare a class, and
    // writing its entries out a few compresses however many there are,
    // where the other loops take a few instructions an entry.
    #[target_feature(enable = "avx512f,avx512bw,avx512vbmi2,bmi1,popcnt")]
    fn scan_avx512(
        text: &[u8],
        positions: &mut Vec<u32>,
        kinds: &mut Vec<u8>,
    ) -> Result<Found, Malformed> {
        scan_blocks(
            text,
            positions,
            kinds,
            |b| classify_avx512(b),
            |b, e, p, k| flatten_avx512(b, e, p, k),
        )
    }

    #[inline]
    #[target_feature(enable = "avx512f")]
    #[allow(unsafe_code)]
    fn load_avx512(block: &[u8; 64]) -> __m512i {
        // SAFETY: the load reads the 64 bytes of `block`, and takes no
        // alignment.
        unsafe { _mm512_loadu_si512(block.as_ptr().cast()) }
    }

    /// What a whole-vector store may write into: plain integers, of which
    /// every bit pattern is a value.
    trait Lane: Copy {}
    impl Lane for u8 {}
    impl Lane for u32 {}

    #[inline]
    #[target_feature(enable = "avx512f")]
    #[allow(unsafe_code)]
    fn store_avx512<T: Lane>(to: &mut [T], v: __m512i) {
        let room = std::mem::size_of_val(to);
        assert!(room >= 64, "a 64-byte store into {room} bytes");
        // SAFETY: `to` was just seen to hold the 64 bytes written, every
        // bit pattern is a `Lane`, and the store takes no alignment.
        unsafe { _mm512_storeu_si512(to.as_mut_ptr().cast(), v) }
    }

    #[inline]
    #[target_feature(enable = "avx512f,avx512bw")]
    fn classify_avx512(block: &[u8; 64]) -> Masks {
        let v = load_avx512(block);
        let is = |b: u8| _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8(b as i8));
        // `[` and `]` are `{` and `}` without bit 5.
        let folded = _mm512_or_si512(v, _mm512_set1_epi8(0x20));
        let brackets = _mm512_cmpeq_epi8_mask(folded, _mm512_set1_epi8(b'{' as i8))
            | _mm512_cmpeq_epi8_mask(folded, _mm512_set1_epi8(b'}' as i8));
        Masks {
            quote: is(b'"'),
            backslash: is(b'\\'),
            operator: brackets | is(b':') | is(b','),
            control: _mm512_cmple_epu8_mask(v, _mm512_set1_epi8(0x1f)),
            space: _mm512_cmple_epu8_mask(v, _mm512_set1_epi8(0x20)),
        }
    }

    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512vbmi2,popcnt")]
    fn flatten_avx512(block: &[u8; 64], entries: Entries, positions: &mut [u32], kinds: &mut [u8]) {
        let v = load_avx512(block);
        let marked = _mm512_or_si512(v, _mm512_set1_epi8(AFTER_LITERAL as i8));
        let kind = _mm512_mask_blend_epi8(entries.after_literal, v, marked);
        store_avx512(kinds, _mm512_maskz_compress_epi8(entries.structural, kind));
        let lanes = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
        let mut written = 0;
        for quarter in 0..4u32 {
            let offsets = _mm512_add_epi32(
                lanes,
                _mm512_set1_epi32(entries.base.wrapping_add(quarter * 16) as i32),
            );
            let bits = (entries.structural >> (quarter * 16)) as u16;
            // Compressed in a register and stored whole: a compress
            // straight to memory is microcoded, and slow, on Zen 4.
            store_avx512(
                &mut positions[written..],
                _mm512_maskz_compress_epi32(bits, offsets),
            );
            written += bits.count_ones() as usize;
        }
    }

    // The same loop compiled twice: with AVX2 it classifies 32 bytes an
    // instruction, and the compiler uses BMI's bit tricks and `popcnt`
    // for the offsets.
    #[target_feature(enable = "avx2,bmi1,popcnt")]
    fn scan_avx2(
        text: &[u8],
        positions: &mut Vec<u32>,
        kinds: &mut Vec<u8>,
    ) -> Result<Found, Malformed> {
        scan_blocks(text, positions, kinds, |b| classify_avx2(b), flatten_scalar)
    }

    #[inline]
    #[target_feature(enable = "avx2")]
    #[allow(unsafe_code)]
    fn load_avx2(half: &[u8; 32]) -> __m256i {
        // SAFETY: the load reads the 32 bytes of `half`, and takes no
        // alignment.
        unsafe { _mm256_loadu_si256(half.as_ptr().cast()) }
    }

    #[inline]
    #[target_feature(enable = "avx2")]
    fn classify_avx2(block: &[u8; 64]) -> Masks {
        classify_by_vectors!(
            block,
            32,
            u32,
            load_avx2,
            _mm256_cmpeq_epi8,
            _mm256_or_si256,
            _mm256_max_epu8,
            _mm256_set1_epi8,
            _mm256_movemask_epi8
        )
    }

    #[target_feature(enable = "sse2")]
    fn scan_sse2(
        text: &[u8],
        positions: &mut Vec<u32>,
        kinds: &mut Vec<u8>,
    ) -> Result<Found, Malformed> {
        scan_blocks(text, positions, kinds, |b| classify(b), flatten_scalar)
    }

    #[inline]
    #[target_feature(enable = "sse2")]
    fn load(bytes: &[u8]) -> __m128i {
        let word = |i: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&bytes[i..i + 8]);
            i64::from_le_bytes(w)
        };
        _mm_set_epi64x(word(8), word(0))
    }

    #[inline]
    #[target_feature(enable = "sse2")]
    fn classify(block: &[u8; 64]) -> Masks {
        classify_by_vectors!(
            block,
            16,
            u16,
            load,
            _mm_cmpeq_epi8,
            _mm_or_si128,
            _mm_max_epu8,
            _mm_set1_epi8,
            _mm_movemask_epi8
        )
    }
}

const EVEN: u64 = 0x5555_5555_5555_5555;
const ODD: u64 = !EVEN;

/// Each bit set where an odd-length run of backslashes ends just before:
/// the escaped bytes (simdjson's algorithm). `carry` says whether the last
/// block ended in such a run.
#[inline(always)]
fn escaped(backslash: u64, carry: &mut u64) -> u64 {
    let starts = backslash & !(backslash << 1);
    let even_start_mask = EVEN ^ *carry;
    let even_starts = starts & even_start_mask;
    let odd_starts = starts & !even_start_mask;
    let even_carries = backslash.wrapping_add(even_starts);
    let (odd_carries, overflow) = backslash.overflowing_add(odd_starts);
    let odd_carries = odd_carries | *carry;
    *carry = u64::from(overflow);
    let even_start_odd_end = even_carries & !backslash & ODD;
    let odd_start_even_end = odd_carries & !backslash & EVEN;
    even_start_odd_end | odd_start_even_end
}

/// Each bit up to and including bit i set if an odd number of `bits` are
/// at or below i.
#[inline(always)]
fn prefix_xor(mut bits: u64) -> u64 {
    bits ^= bits << 1;
    bits ^= bits << 2;
    bits ^= bits << 4;
    bits ^= bits << 8;
    bits ^= bits << 16;
    bits ^= bits << 32;
    bits
}

/// Writes the offset of every structural of `text` into `positions`: both
/// quotes of every string, and `{}[]:,` outside strings.
#[inline(always)]
fn scan_blocks(
    text: &[u8],
    positions: &mut Vec<u32>,
    kinds: &mut Vec<u8>,
    classify: impl Fn(&[u8; 64]) -> Masks,
    flatten: impl Fn(&[u8; 64], Entries, &mut [u32], &mut [u8]),
) -> Result<Found, Malformed> {
    let mut count = 0usize;
    let mut inside_carry = 0u64;
    let mut escape_carry = 0u64;
    let mut any_backslash = 0u64;
    let mut literal_carry = 0u64;
    let mut gap_carry = 0u64;
    let mut tail = [b' '; 64];
    for (index, chunk) in text.chunks(64).enumerate() {
        let block: &[u8; 64] = match chunk.try_into() {
            Ok(block) => block,
            Err(_) => {
                tail[..chunk.len()].copy_from_slice(chunk);
                &tail
            }
        };
        let masks = classify(block);
        any_backslash |= masks.backslash;
        let quotes = if masks.backslash == 0 && escape_carry == 0 {
            masks.quote
        } else {
            masks.quote & !escaped(masks.backslash, &mut escape_carry)
        };
        // Bits from an opening quote up to its closing one, excluded.
        let inside = prefix_xor(quotes) ^ inside_carry;
        inside_carry = ((inside as i64) >> 63) as u64;
        let base = index * 64;
        let control = masks.control & inside;
        if control != 0 {
            return Err(Malformed::at(
                "unescaped control character in a string",
                base + control.trailing_zeros() as usize,
            ));
        }
        let bits = (masks.operator & !inside) | quotes;
        let literal = literal_bytes(block, &masks, inside, bits);
        // The structurals that follow literal text: a run of gap bytes
        // (space, or a string's content) that starts just after a literal
        // ends at such a structural, and adding the run's first bit to
        // the gaps carries into the byte that ends it.
        let gap = !(bits | literal);
        let starts = ((literal << 1) | literal_carry) & !literal;
        literal_carry = literal >> 63;
        let (sum, first) = gap.overflowing_add(starts);
        let (sum, second) = sum.overflowing_add(gap_carry);
        gap_carry = u64::from(first || second);
        let after_literal = (sum ^ gap) & bits;
        if bits == 0 {
            continue;
        }
        if positions.len() < count + 64 {
            let grown = (positions.len() * 2).max(count + 64 + 4096);
            positions.resize(grown, 0);
            kinds.resize(grown, 0);
        }
        let added = bits.count_ones() as usize;
        let entries = Entries {
            structural: bits,
            after_literal,
            base: base as u32,
        };
        flatten(
            block,
            entries,
            &mut positions[count..count + 64],
            &mut kinds[count..count + 64],
        );
        count += added;
    }
    if inside_carry != 0 {
        return Err(Malformed::at("unterminated string", text.len()));
    }
    Ok(Found {
        count,
        backslashes: any_backslash != 0,
    })
}

/// The structurals of one block, for a flatten to write out.
#[derive(Clone, Copy)]
struct Entries {
    structural: u64,
    /// Those of `structural` that follow literal text.
    after_literal: u64,
    /// The offset of the block's first byte.
    base: u32,
}

/// Writes the offset of every structural of a block to `positions`, and
/// its kind to `kinds`, both at least 64 long: what is written past the
/// block's last entry is overwritten by the next block's.
#[inline(always)]
fn flatten_scalar(block: &[u8; 64], entries: Entries, positions: &mut [u32], kinds: &mut [u8]) {
    let (slot, kind_slot) = (&mut positions[..64], &mut kinds[..64]);
    let mut bits = entries.structural;
    let mut j = 0;
    // Eight at a time, unconditionally: fewer branches than one at a
    // time.
    while bits != 0 {
        for k in 0..8 {
            let bit = bits.trailing_zeros();
            slot[(j + k) & 63] = entries.base.wrapping_add(bit);
            kind_slot[(j + k) & 63] = block[(bit & 63) as usize];
            bits &= bits.wrapping_sub(1);
        }
        j += 8;
    }
    // Literals are few beside strings and brackets: their entries are
    // marked one by one.
    let mut after_literal = entries.after_literal;
    while after_literal != 0 {
        let below = after_literal & after_literal.wrapping_neg();
        let entry = (entries.structural & (below - 1)).count_ones() as usize;
        kind_slot[entry & 63] |= AFTER_LITERAL;
        after_literal &= after_literal - 1;
    }
}

/// Set in an entry's kind when literal text (a number, `true`, `false`,
/// `null`, or anything else that is neither space nor structural) comes
/// between the entry before it and it: the check then reads only kinds
/// where the text between two structurals must be blank.
const AFTER_LITERAL: u8 = 0x80;

/// The bytes of a block outside strings that are neither space nor
/// structural. A control character other than tab, newline and carriage
/// return counts as literal text, which the check refuses.
#[inline(always)]
fn literal_bytes(block: &[u8; 64], masks: &Masks, inside: u64, structural: u64) -> u64 {
    let mut space = masks.space;
    let mut controls = masks.control & !inside;
    while controls != 0 {
        let bit = controls.trailing_zeros();
        if !is_space(block[bit as usize]) {
            space &= !(1 << bit);
        }
        controls &= controls - 1;
    }
    !(space | inside | structural)
}

/// `text` without JSON's space (not form feed) at either end.
fn trim_space(text: &[u8]) -> &[u8] {
    let start = text
        .iter()
        .position(|&b| !is_space(b))
        .unwrap_or(text.len());
    let end = text
        .iter()
        .rposition(|&b| !is_space(b))
        .map_or(start, |e| e + 1);
    &text[start..end]
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\n' | b'\r' | b'\t')
}

/// The grammar's walk. Its steps answer `None` on a fault, which they
/// leave in `fault`: a small return keeps the walk's calls cheap. A walk
/// through a value whose members a [`KeyPlan`] wants carries the plan's node
/// for it, [`NOWHERE`] otherwise.
struct Checker<'a> {
    text: &'a [u8],
    positions: &'a [u32],
    kinds: &'a [u8],
    partners: &'a mut [u32],
    fault: Option<Malformed>,
    plan: Option<&'a KeyPlan>,
    escaped: bool,
    noted: &'a mut Noted,
    template: &'a mut Template,
}

impl Checker<'_> {
    /// Checks the grammar over the structural index, records the partner
    /// of every bracket, and notes the columns of `plan`; `escaped` says that
    /// some string of the page holds an escape.
    fn check(mut self) -> Result<(), Malformed> {
        // Every step that answers `None` has left its fault.
        if let Some(end) = self.value(0, 0, self.plan.map_or(NOWHERE, |_| 0)) {
            let after = self.after_value(end, end == 0);
            if end < self.positions.len() || !self.blank(after, self.text.len()) {
                self.expected::<()>("the end of the text", end, after);
            }
        }
        self.fault.map_or(Ok(()), Err)
    }

    #[inline(always)]
    fn offset(&self, i: usize) -> usize {
        self.positions
            .get(i)
            .map_or(self.text.len(), |&p| p as usize)
    }

    /// The structural byte of entry `i`, with [`AFTER_LITERAL`] set if
    /// literal text comes before it: compared with a structural byte, it
    /// also says that only space comes before it.
    #[inline(always)]
    fn kind(&self, i: usize) -> u8 {
        self.kinds.get(i).copied().unwrap_or(0)
    }

    /// The kinds of entries `i` to `i + 7`, entry `i`'s in the low byte;
    /// `None` near the end of the index.
    #[inline(always)]
    fn kinds_word(&self, i: usize) -> Option<u64> {
        let kinds = self.kinds.get(i..i + 8)?;
        Some(u64::from_le_bytes(kinds.try_into().expect("eight kinds")))
    }

    /// Whether the text before entry `at` is a literal [`is_plain_literal`]
    /// tells.
    #[inline(always)]
    fn plain_literal(&self, at: usize) -> bool {
        let from = self.end_of(at);
        self.text
            .get(from..from + 8)
            .is_some_and(|word| is_plain_literal(word, self.offset(at).wrapping_sub(from)))
    }

    /// The byte after the value that ends just before entry `next`.
    #[inline(always)]
    fn end_of(&self, next: usize) -> usize {
        if next == 0 {
            0
        } else {
            self.offset(next - 1) + 1
        }
    }

    #[inline(always)]
    fn blank(&self, from: usize, to: usize) -> bool {
        from >= to || self.text[from..to].iter().all(|&b| is_space(b))
    }

    fn fail<T>(&mut self, what: String, at: usize) -> Option<T> {
        self.fault = Some(Malformed::at(what, at));
        None
    }

    /// Points at what was found instead of `what`: the first byte that
    /// is not space from `from` on, at the latest entry `i`.
    #[cold]
    fn expected<T>(&mut self, what: &str, i: usize, from: usize) -> Option<T> {
        let at = self.offset(i);
        let mut from = from.min(at);
        while from < at && is_space(self.text[from]) {
            from += 1;
        }
        self.fail(format!("expected {what}"), from)
    }

    /// Where the text after a value ending before entry `next` starts: a
    /// literal runs up to the entry itself.
    fn after_value(&self, next: usize, scalar: bool) -> usize {
        if scalar {
            self.offset(next)
        } else {
            self.end_of(next)
        }
    }

    /// The value that starts after the entry before `i`: the entry after
    /// the value.
    fn value(&mut self, i: usize, depth: u32, node: u32) -> Option<usize> {
        match self.kind(i) {
            b'"' => return Some(i + 2),
            b'{' => {
                let members = self.members_of(node, i);
                return self.object(i, depth + 1, members);
            }
            b'[' => {
                let elements = self.elements_of(node);
                return self.array(i, depth + 1, elements);
            }
            _ => {}
        }
        if self.literal(i) {
            return Some(i);
        }
        let from = self.end_of(i);
        let at = self.offset(i);
        let literal = trim_space(&self.text[from.min(at)..at]);
        if literal.is_empty() {
            return self.expected("a value", i, from);
        }
        let start = from
            + self.text[from..]
                .iter()
                .take_while(|&&b| is_space(b))
                .count();
        let shown = String::from_utf8_lossy(&literal[..literal.len().min(40)]).into_owned();
        self.fail(format!("invalid literal `{shown}`"), start)
    }

    /// Whether the text before entry `at` is a literal value.
    #[inline(always)]
    fn literal(&self, at: usize) -> bool {
        if self.plain_literal(at) {
            return true;
        }
        let from = self.end_of(at);
        let literal = trim_space(&self.text[from.min(self.offset(at))..self.offset(at)]);
        !literal.is_empty() && is_literal(literal)
    }

    /// The record whose `{` is entry `open`, an element of the array
    /// holding the records at `depth`: the entry after it.
    fn record(&mut self, open: usize, depth: u32) -> Option<usize> {
        if let Some(end) = self.as_template(open, depth) {
            self.template.misses = 0;
            return Some(end);
        }
        let end = self.value(open, depth, ELEMENT)?;
        self.template.misses += 1;
        if self.template.misses.is_power_of_two() {
            let (kinds, partners) = (&self.kinds[open..end], &self.partners[open..end]);
            self.template.take(kinds, partners, open, depth);
        }
        Some(end)
    }

    /// Checks the record at entry `open` against the template, pairs its
    /// brackets and notes its columns: the entry after it, or `None`
    /// (with no fault) if it is to be walked.
    fn as_template(&mut self, open: usize, depth: u32) -> Option<usize> {
        let template = &*self.template;
        let end = open + template.kinds.len();
        if template.kinds.is_empty()
            || template.depth != depth
            || self.kinds.get(open..end)? != template.kinds.as_slice()
            || !template
                .literals
                .iter()
                .all(|&at| self.literal(open + at as usize))
        {
            return None;
        }
        for &(at, partner) in &template.pairs {
            self.partners[open + at as usize] = open as u32 + partner;
        }
        let record = self.members_of(ELEMENT, open);
        self.note_members(open, record);
        Some(end)
    }

    /// Notes the columns under the members of the object at entry `open`,
    /// the value of `node`, as [`Checker::object`] does, in a record whose
    /// grammar and brackets are known.
    fn note_members(&mut self, open: usize, node: u32) {
        let plan = self.plan.expect("a node is of a plan");
        if node == NOWHERE
            || plan.nodes[node as usize].keys.is_empty()
            || self.kind(open + 1) != b'"'
        {
            return;
        }
        let all = plan.nodes[node as usize].keys.all();
        let (mut found, mut next) = (0, 0);
        let mut key = open + 1;
        loop {
            let child = self.member(node, key, &mut found, &mut next);
            let value = key + 3;
            let kind = self.kind(value);
            if kind == b'{' {
                let members = self.members_of(child, value);
                self.note_members(value, members);
            }
            if found == all {
                return;
            }
            let after = past_value(kind & !AFTER_LITERAL, self.partners, value);
            if self.kind(after) & !AFTER_LITERAL != b',' {
                return;
            }
            key = after + 1;
        }
    }

    /// After a value ending just before entry `i`: the separator there,
    /// if only space comes before it; a literal value, checked already,
    /// runs up to it.
    #[inline(always)]
    fn separator(&self, i: usize, scalar: bool) -> u8 {
        if scalar {
            self.kind(i) & !AFTER_LITERAL
        } else {
            self.kind(i)
        }
    }

    fn too_deep<T>(&mut self, open: usize) -> Option<T> {
        let at = self.offset(open);
        self.fail(format!("nesting deeper than {MAX_DEPTH}"), at)
    }

    /// Pairs the bracket at entry `open` with its partner at entry
    /// `close`: the entry after the container.
    #[inline(always)]
    fn closed(&mut self, open: usize, close: usize) -> usize {
        self.partners[open] = close as u32;
        close + 1
    }

    /// Enters the object or array at entry `open`, closed by `close`:
    /// its first item's entry, or the entry after it if it is empty.
    fn enter(&mut self, open: usize, depth: u32, close: u8) -> Option<Step> {
        if depth > MAX_DEPTH {
            return self.too_deep(open);
        }
        let i = open + 1;
        if self.kind(i) == close {
            return Some(Step::End(self.closed(open, i)));
        }
        Some(Step::Item(i))
    }

    /// After an item of the container at `open` that ends before entry
    /// `next`: the next item's entry, or the entry after the container.
    fn step(&mut self, open: usize, next: usize, scalar: bool, close: u8) -> Option<Step> {
        match self.separator(next, scalar) {
            b',' => Some(Step::Item(next + 1)),
            c if c == close => Some(Step::End(self.closed(open, next))),
            _ => {
                let what = if close == b'}' {
                    "`,` or `}`"
                } else {
                    "`,` or `]`"
                };
                let from = self.after_value(next, scalar);
                self.expected(what, next, from)
            }
        }
    }

    /// The node for the members of the object at entry `open`, the value
    /// of `node`; a record's object starts its row of noted values.
    #[inline(always)]
    fn members_of(&mut self, node: u32, open: usize) -> u32 {
        let Some(plan) = self.plan.filter(|_| node != NOWHERE) else {
            return NOWHERE;
        };
        if node == ELEMENT || node == plan.records {
            self.noted.start(open);
            self.note(plan.record, open);
            return plan.record;
        }
        if plan.nodes[node as usize].keys.is_empty() {
            return NOWHERE;
        }
        node
    }

    /// The node for the elements of the array that is the value of `node`.
    #[inline(always)]
    fn elements_of(&self, node: u32) -> u32 {
        match self.plan {
            Some(plan) if node == plan.records && plan.array_holds_records => ELEMENT,
            _ => NOWHERE,
        }
    }

    /// Whether every key `node` wants is in `found`; a key found later is
    /// a repeat, whose value is not taken, and one with an escape is not
    /// wanted either.
    #[inline(always)]
    fn all_found(&self, node: u32, found: u64) -> bool {
        let plan = self.plan.expect("a node is of a plan");
        found == plan.nodes[node as usize].keys.all()
    }

    fn note(&mut self, node: u32, value: usize) {
        let plan = self.plan.expect("a node is of a plan");
        for &column in &plan.nodes[node as usize].columns {
            self.noted.note(column, value);
        }
    }

    /// The node of the member whose key is entry `key`, in an object of
    /// `node`, noting the columns whose value it is; `found` and `next`
    /// are as in [`KeySet::find`].
    #[inline(always)]
    fn member(&mut self, node: u32, key: usize, found: &mut u64, next: &mut usize) -> u32 {
        let plan = self.plan.expect("a node is of a plan");
        let here = &plan.nodes[node as usize];
        let start = self.offset(key) + 1;
        let bytes = self
            .text
            .get(start..self.offset(key + 1))
            .unwrap_or_default();
        let Some(i) = here.keys.find(bytes, *found, *next) else {
            // Unescaped, the key might be a wanted one: the record is
            // left to the walk after unescaping.
            if self.escaped && node >= plan.record && bytes.contains(&b'\\') {
                self.noted.unsure();
            }
            return NOWHERE;
        };
        *found |= 1 << i;
        *next = i + 1;
        let child = here.children[i];
        self.note(child, key + 3);
        child
    }

    fn object(&mut self, open: usize, depth: u32, mut node: u32) -> Option<usize> {
        let mut i = match self.enter(open, depth, b'}')? {
            Step::Item(i) => i,
            Step::End(end) => return Some(end),
        };
        let (mut found, mut next) = (0, 0);
        loop {
            // Eight kinds read at once tell most members whole: a key, `:`
            // and a string or a plain literal before `,` or `}`.
            let word = self.kinds_word(i).filter(|w| w & 0xFF_FFFF == KEY_COLON);
            if word.is_none() {
                if self.kind(i) != b'"' {
                    return self.expected("a key", i, self.end_of(i));
                }
                if self.kind(i + 2) != b':' {
                    return self.expected("`:`", i + 2, self.end_of(i + 2));
                }
            }
            let value = i + 3;
            let child = if node == NOWHERE {
                NOWHERE
            } else {
                let child = self.member(node, i, &mut found, &mut next);
                if self.all_found(node, found) {
                    node = NOWHERE;
                }
                child
            };
            if let Some(word) = word {
                match (word >> 24) & 0xFF_FFFF {
                    STRING_COMMA => {
                        i = value + 3;
                        continue;
                    }
                    STRING_CLOSE => return Some(self.closed(open, value + 2)),
                    _ => {}
                }
                let separator = (word >> 24) as u8;
                if separator & AFTER_LITERAL != 0 && self.plain_literal(value) {
                    match separator & !AFTER_LITERAL {
                        b',' => {
                            i = value + 1;
                            continue;
                        }
                        b'}' => return Some(self.closed(open, value)),
                        _ => {}
                    }
                }
            }
            // Most values are strings.
            let after = if self.kind(value) == b'"' {
                value + 2
            } else {
                self.value(value, depth, child)?
            };
            i = match self.step(open, after, after == value, b'}')? {
                Step::Item(i) => i,
                Step::End(end) => return Some(end),
            };
        }
    }

    fn array(&mut self, open: usize, depth: u32, node: u32) -> Option<usize> {
        let mut i = match self.enter(open, depth, b']')? {
            Step::Item(i) => i,
            Step::End(end) => return Some(end),
        };
        loop {
            let next = if node == ELEMENT && self.kind(i) == b'{' {
                self.record(i, depth)?
            } else {
                self.value(i, depth, node)?
            };
            i = match self.step(open, next, next == i, b']')? {
                Step::Item(i) => i,
                Step::End(end) => return Some(end),
            };
        }
    }
}

/// The kinds of a key and its `:`, as [`Checker::kinds_word`] reads them.
const KEY_COLON: u64 = kinds(b"\"\":");
/// The kinds of a string value and the `,` after it.
const STRING_COMMA: u64 = kinds(b"\"\",");
/// The kinds of a string value and the `}` after it.
const STRING_CLOSE: u64 = kinds(b"\"\"}");

const fn kinds(bytes: &[u8; 3]) -> u64 {
    bytes[0] as u64 | (bytes[1] as u64) << 8 | (bytes[2] as u64) << 16
}

/// Where a walk through a container goes on.
enum Step {
    /// At the entry of its next item.
    Item(usize),
    /// At the entry after its closing bracket.
    End(usize),
}

/// Whether the first `len` bytes of `word` are `true`, `false`, `null`
/// or a whole number without sign, space or leading zero: most literals
/// of a page, told in registers rather than byte by byte. A literal this
/// does not tell goes to [`is_literal`].
#[inline(always)]
fn is_plain_literal(word: &[u8], len: usize) -> bool {
    if !(1..=8).contains(&len) {
        return false;
    }
    let word = u64::from_le_bytes(word.try_into().expect("eight bytes"));
    let mask = u64::MAX >> (64 - 8 * len);
    let literal = word & mask;
    const HIGH_NIBBLES: u64 = 0xF0F0_F0F0_F0F0_F0F0;
    // Bytes past the literal read as `0`, so only its own can fail.
    let digits = literal | (ZERO_DIGITS & !mask);
    // A byte is a digit when its high nibble is 3 and adding 6 to it
    // leaves the nibble so, i.e. its low nibble is below 10.
    let all_digits = digits & HIGH_NIBBLES == ZERO_DIGITS
        && digits.wrapping_add(0x0606_0606_0606_0606) & HIGH_NIBBLES == ZERO_DIGITS;
    if all_digits {
        return len == 1 || literal as u8 != b'0';
    }
    match len {
        4 => {
            literal == u64::from(u32::from_le_bytes(*b"true"))
                || literal == u64::from(u32::from_le_bytes(*b"null"))
        }
        5 => literal == u64::from_le_bytes(*b"false\0\0\0"),
        _ => false,
    }
}

/// Whether `text` is `true`, `false`, `null` or a JSON number.
fn is_literal(text: &[u8]) -> bool {
    match text {
        b"true" | b"false" | b"null" => return true,
        _ => {}
    }
    let digits = |i: &mut usize| {
        let start = *i;
        while text.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i - start
    };
    let mut i = usize::from(text.first() == Some(&b'-'));
    let first = i;
    let whole = digits(&mut i);
    if whole == 0 || (whole > 1 && text[first] == b'0') {
        return false;
    }
    if text.get(i) == Some(&b'.') {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    }
    if matches!(text.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(text.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == text.len()
}

/// Unescapes, in place, every string of `text` that holds a backslash,
/// moving the entry of its closing quote to the new end of its content.
/// The grammar was checked: every backslash is inside a string.
fn unescape_strings(text: &mut [u8], positions: &mut [u32]) -> Result<(), Malformed> {
    let mut entry = 0;
    let mut from = 0;
    while let Some(found) = memchr::memchr(b'\\', &text[from..]) {
        let backslash = from + found;
        // The closing quote is the first structural after the backslash.
        let close = entry + positions[entry..].partition_point(|&p| (p as usize) < backslash);
        let Some(&quote) = positions.get(close) else {
            return Err(Malformed::at("invalid escape in a string", backslash));
        };
        let quote = quote as usize;
        let end = unescape(text, backslash, quote)?;
        text[end..quote].fill(b' ');
        positions[close] = end as u32;
        entry = close + 1;
        from = quote + 1;
    }
    Ok(())
}

/// Unescapes `text[from..end]`, whose first byte is a backslash, in
/// place; the new end.
fn unescape(text: &mut [u8], from: usize, end: usize) -> Result<usize, Malformed> {
    let mut read = from;
    let mut write = from;
    while read < end {
        if text[read] != b'\\' {
            let run = memchr::memchr(b'\\', &text[read..end]).unwrap_or(end - read);
            text.copy_within(read..read + run, write);
            read += run;
            write += run;
            continue;
        }
        let bad = || Malformed::at("invalid escape in a string", read);
        let plain = match text.get(read + 1).filter(|_| read + 1 < end) {
            Some(b'"') => b'"',
            Some(b'\\') => b'\\',
            Some(b'/') => b'/',
            Some(b'b') => 0x08,
            Some(b'f') => 0x0c,
            Some(b'n') => b'\n',
            Some(b'r') => b'\r',
            Some(b't') => b'\t',
            Some(b'u') => {
                let (c, taken) = unicode_escape(&text[read..end]).ok_or_else(bad)?;
                let mut utf8 = [0u8; 4];
                let encoded = c.encode_utf8(&mut utf8).as_bytes();
                text[write..write + encoded.len()].copy_from_slice(encoded);
                write += encoded.len();
                read += taken;
                continue;
            }
            _ => return Err(bad()),
        };
        text[write] = plain;
        write += 1;
        read += 2;
    }
    Ok(write)
}

/// The character of the `\uXXXX` escape (two, for a surrogate pair) at the
/// start of `text`, and the bytes it takes.
fn unicode_escape(text: &[u8]) -> Option<(char, usize)> {
    let hex = |at: usize| -> Option<u32> {
        let digits = std::str::from_utf8(text.get(at..at + 4)?).ok()?;
        if !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        u32::from_str_radix(digits, 16).ok()
    };
    let first = hex(2)?;
    match first {
        0xd800..=0xdbff => {
            if text.get(6..8)? != b"\\u" {
                return None;
            }
            let second = hex(8)?;
            if !(0xdc00..=0xdfff).contains(&second) {
                return None;
            }
            let c = 0x10000 + ((first - 0xd800) << 10) + (second - 0xdc00);
            Some((char::from_u32(c)?, 12))
        }
        0xdc00..=0xdfff => None,
        _ => Some((char::from_u32(first)?, 6)),
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

    #[test]
    fn reads_every_kind_of_value_as_the_full_parse_does() {
        for text in [
            r#"{"a":1,"b":[true,false,null],"c":{"d":"e","f":[]},"g":{},"h":-2.5e3}"#,
            r#"[1,"two",[3,[4,[]]],{"five":5}]"#,
            r#"  { "a" : [ 1 , 2 ] , "b" : { } , "c" : [ ] , "d" : "x" }  "#,
            "42",
            " -7 ",
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
            (r#"{"a":"\ud800"}"#, "invalid escape in a string at byte 6"),
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
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for round in 0..3000 {
            let text: Vec<u8> = (0..1 + round % 300)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    alphabet[(seed % alphabet.len() as u64) as usize]
                })
                .collect();
            let want = structurals_bytewise(&text);
            let (mut positions, mut kinds) = (Vec::new(), Vec::new());
            let found = structurals(&text, &mut positions, &mut kinds);
            let got = found.map(|f| (positions[..f.count].to_vec(), kinds[..f.count].to_vec()));
            let expected = want;
            assert_eq!(got.ok(), expected, "{}", String::from_utf8_lossy(&text));
            let found = scan_blocks(
                &text,
                &mut positions,
                &mut kinds,
                classify_bytes,
                flatten_scalar,
            );
            let got = found.map(|f| (positions[..f.count].to_vec(), kinds[..f.count].to_vec()));
            assert_eq!(got.ok(), expected, "{}", String::from_utf8_lossy(&text));
            #[cfg(target_arch = "x86_64")]
            for got in structurals_by_every_loop(&text) {
                assert_eq!(got.ok(), expected, "{}", String::from_utf8_lossy(&text));
            }
        }
    }
}

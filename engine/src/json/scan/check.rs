//! Stage 2: one recursive pass over the index that checks the whole
//! grammar, pairs brackets, and notes the columns of the plan.

use super::*;

/// The grammar's walk. Its steps answer `None` on a fault, which they
/// leave in `fault`: a small return keeps the walk's calls cheap. A walk
/// through a value whose members a [`KeyPlan`] wants carries the plan's node
/// for it, [`NOWHERE`] otherwise.
pub(super) struct Checker<'a> {
    pub(super) text: &'a [u8],
    pub(super) positions: &'a [u32],
    pub(super) kinds: &'a [u8],
    pub(super) partners: &'a mut [u32],
    pub(super) fault: Option<Malformed>,
    pub(super) plan: Option<&'a KeyPlan>,
    pub(super) escaped: bool,
    pub(super) noted: &'a mut Noted,
    pub(super) template: &'a mut Template,
}

impl Checker<'_> {
    /// Checks the grammar over the structural index, records the partner
    /// of every bracket, and notes the columns of `plan`; `escaped` says that
    /// some string of the page holds an escape.
    pub(super) fn check(mut self) -> Result<(), Malformed> {
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
            self.trace_template(open);
        }
        Some(end)
    }

    /// Makes the template's [`Trace`] of the record at entry `open`, just
    /// taken as the template: walked and noted already, so the walk here
    /// notes what is noted. A key with an escape spoils the trace, for
    /// whether it is wanted is known only after unescaping.
    fn trace_template(&mut self, open: usize) {
        let mut trace = std::mem::take(&mut self.template.trace);
        trace.clear();
        if let Some(plan) = self.plan {
            let mut tracing = Tracing {
                trace: &mut trace,
                open,
            };
            self.walk_members(open, plan.record, &mut tracing);
            if !trace.bytes.contains(&b'\\') {
                trace.plan = plan.id;
            }
        }
        self.template.trace = trace;
    }

    /// Notes the record at entry `open`, of the template's kinds, from the
    /// template's trace if every key the trace compared has the same bytes
    /// here: `false` (nothing noted) else.
    fn replay(&mut self, open: usize) -> bool {
        let trace = &self.template.trace;
        if self.plan.is_none_or(|plan| plan.id != trace.plan) {
            return false;
        }
        for (entry, bytes) in &trace.keys {
            let key = open + *entry as usize;
            let (start, end) = (self.offset(key) + 1, self.offset(key + 1));
            let wanted = &trace.bytes[bytes.start as usize..bytes.end as usize];
            if !self
                .text
                .get(start..end)
                .is_some_and(|key| same_key(key, wanted))
            {
                return false;
            }
        }
        self.noted.note_all(&trace.notes, open);
        true
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
        // Through a slice taken once, as in `Noted::note_all`.
        let partners = &mut *self.partners;
        for &(at, partner) in &template.pairs {
            partners[open + at as usize] = open as u32 + partner;
        }
        let record = self.members_of(ELEMENT, open);
        if !self.replay(open) {
            self.note_members(open, record);
        }
        Some(end)
    }

    /// Notes the columns under the members of the object at entry `open`,
    /// the value of `node`, as [`Checker::object`] does, in a record whose
    /// grammar and brackets are known.
    fn note_members(&mut self, open: usize, node: u32) {
        self.walk_members(open, node, &mut ());
    }

    /// [`Checker::note_members`], telling `tracer` each key compared and
    /// each note made.
    fn walk_members(&mut self, open: usize, node: u32, tracer: &mut impl Tracer) {
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
            let child = self.member(node, key, &mut found, &mut next, tracer);
            let value = key + 3;
            let kind = self.kind(value);
            if kind == b'{' {
                let members = self.members_of(child, value);
                self.walk_members(value, members, tracer);
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
            self.note(plan.record, open, &mut ());
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

    fn note(&mut self, node: u32, value: usize, tracer: &mut impl Tracer) {
        let plan = self.plan.expect("a node is of a plan");
        for &column in &plan.nodes[node as usize].columns {
            self.noted.note(column, value);
            tracer.note(column, value);
        }
    }

    /// The node of the member whose key is entry `key`, in an object of
    /// `node`, noting the columns whose value it is; `found` and `next`
    /// are as in [`KeySet::find`].
    #[inline(always)]
    fn member(
        &mut self,
        node: u32,
        key: usize,
        found: &mut u64,
        next: &mut usize,
        tracer: &mut impl Tracer,
    ) -> u32 {
        let plan = self.plan.expect("a node is of a plan");
        let here = &plan.nodes[node as usize];
        let start = self.offset(key) + 1;
        let bytes = self
            .text
            .get(start..self.offset(key + 1))
            .unwrap_or_default();
        tracer.key(key, bytes);
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
        self.note(child, key + 3, tracer);
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
                let child = self.member(node, i, &mut found, &mut next, &mut ());
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
pub(super) const KEY_COLON: u64 = kinds(b"\"\":");
/// The kinds of a string value and the `,` after it.
pub(super) const STRING_COMMA: u64 = kinds(b"\"\",");
/// The kinds of a string value and the `}` after it.
pub(super) const STRING_CLOSE: u64 = kinds(b"\"\"}");

pub(super) const fn kinds(bytes: &[u8; 3]) -> u64 {
    bytes[0] as u64 | (bytes[1] as u64) << 8 | (bytes[2] as u64) << 16
}

/// Where a walk through a container goes on.
pub(super) enum Step {
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
pub(super) fn is_plain_literal(word: &[u8], len: usize) -> bool {
    if !(1..=8).contains(&len) {
        return false;
    }
    let word = u64::from_le_bytes(word.try_into().expect("eight bytes"));
    let mask = u64::MAX >> (64 - 8 * len);
    let literal = word & mask;
    if lane_digits(literal, mask).is_some() {
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
pub(super) fn is_literal(text: &[u8]) -> bool {
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

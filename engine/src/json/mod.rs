//! Parsing pages with simd-json, and writing JSON text.
//!
//! simd-json refuses numbers it cannot hold in 64 bits (`2^64`, `1e400`).
//! So that such values are never rounded, a page that fails on one is
//! parsed again with each of those literals carried as a string marked by
//! [`BIG`]: `string` and `json` columns then keep the exact text, numeric
//! columns call it a bad type.

pub(crate) mod keys;
pub(crate) mod node;
pub mod path;
pub(crate) mod scan;

use serde_json::Value;
use simd_json::{BorrowedValue, StaticNode};

/// Prefix of a string that carries a number literal too big for 64 bits.
/// It starts with U+0001, which JSON text can only hold escaped.
pub(crate) const BIG: &str = "\u{1}N:";

/// A reusable simd-json parser.
pub(crate) struct Parser {
    pub(crate) buffers: simd_json::Buffers,
}

impl std::fmt::Debug for Parser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Parser").finish_non_exhaustive()
    }
}

impl Default for Parser {
    fn default() -> Self {
        Parser {
            buffers: simd_json::Buffers::new(64 * 1024),
        }
    }
}

impl Parser {
    /// Parses `body`, using `scratch` as the in-place buffer simd-json
    /// needs; the result borrows strings from `scratch`. `body` is left
    /// intact, so that it can still be written raw or quoted in an error.
    pub(crate) fn parse<'a>(
        &mut self,
        body: &[u8],
        scratch: &'a mut Scratch,
    ) -> Result<BorrowedValue<'a>, String> {
        let Scratch { main, rewritten } = scratch;
        main.clear();
        main.extend_from_slice(body);
        // simd-json reads a literal too small for a double as 0: such a
        // page is read as one with a literal too big.
        if !has_underflow(body) {
            match simd_json::to_borrowed_value_with_buffers(main, &mut self.buffers) {
                // A large object's map keeps the last of repeated keys: a
                // page that has one and repeats a key is read again without
                // the repeats, the first kept, as the structural index reads.
                Ok(value) if !has_object_over(body, ORDERED_MEMBERS) || !repeats_keys(body) => {
                    return Ok(value);
                }
                Ok(_) => {}
                Err(e) if *e.error() == simd_json::ErrorType::InvalidNumber => {}
                Err(e) => return Err(describe(&e, body)),
            }
        }
        // The rewrites may leave out bytes (a repeated member): the body
        // is checked whole first, as the parser would have.
        if let Err(e) = std::str::from_utf8(body) {
            return Err(format!("invalid UTF-8 at byte {}", e.valid_up_to()));
        }
        *rewritten = first_members_only(&mark_big_numbers(body));
        simd_json::to_borrowed_value_with_buffers(rewritten, &mut self.buffers)
            .map_err(|e| describe(&e, body))
    }
}

/// Objects up to this many members keep their members in order, so that a
/// repeated key finds its first value; larger ones are hash maps, where
/// the last value of a repeated key replaces the first.
const ORDERED_MEMBERS: usize = 32;

/// Whether the text has an object of more than `limit` members: the
/// tree's maps of those are hash maps whatever their unique keys number,
/// so the text, not the tree, tells.
fn has_object_over(text: &[u8], limit: usize) -> bool {
    const ARRAY: usize = usize::MAX;
    let mut members: Vec<usize> = Vec::new();
    let (mut in_string, mut escaped) = (false, false);
    for &b in text {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' => members.push(1),
            b'[' => members.push(ARRAY),
            b'}' | b']' => {
                members.pop();
            }
            b',' => {
                if let Some(count) = members.last_mut().filter(|c| **c != ARRAY) {
                    *count += 1;
                    if *count > limit {
                        return true;
                    }
                }
            }
            _ => {}
        }
    }
    false
}

/// Whether an object of the text repeats a key.
fn repeats_keys(text: &[u8]) -> bool {
    first_members_only(text).len() != text.len()
}

/// JSON text with the repeated members of objects of more than
/// [`ORDERED_MEMBERS`] members left out, the first kept: what the
/// structural index reads, made readable for a tree (smaller objects keep
/// theirs in order, and find the first). Text that is not JSON comes back
/// as it is, for the parser to refuse.
fn first_members_only(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let mut at = 0;
    if copy_value(text, &mut at, &mut out, 0).is_none() {
        return text.to_vec();
    }
    out.extend_from_slice(&text[at..]);
    out
}

/// Copies the value at `at` (after white space) to `out`, leaving out
/// repeated members of objects; `None` for text that is not JSON.
fn copy_value(text: &[u8], at: &mut usize, out: &mut Vec<u8>, depth: usize) -> Option<()> {
    copy_space(text, at, out);
    if depth > 1024 {
        return None;
    }
    match *text.get(*at)? {
        b'{' => {
            *at += 1;
            // Members, each with the text after it; written once the object
            // is read, as only an object of more than ORDERED_MEMBERS
            // members loses its repeats (smaller ones keep their order, and
            // their text is written as received).
            let mut members: Vec<(&[u8], Vec<u8>)> = Vec::new();
            let mut head = Vec::new();
            copy_space(text, at, &mut head);
            if text.get(*at) == Some(&b'}') {
                *at += 1;
                out.push(b'{');
                out.extend_from_slice(&head);
                out.push(b'}');
                return Some(());
            }
            loop {
                let mut piece = std::mem::take(&mut head);
                copy_space(text, at, &mut piece);
                let key_start = *at;
                copy_string(text, at, &mut piece)?;
                let key = &text[key_start..*at];
                copy_space(text, at, &mut piece);
                (text.get(*at) == Some(&b':')).then_some(())?;
                piece.push(b':');
                *at += 1;
                copy_value(text, at, &mut piece, depth + 1)?;
                copy_space(text, at, &mut piece);
                members.push((key, piece));
                match *text.get(*at)? {
                    b',' => *at += 1,
                    b'}' => {
                        *at += 1;
                        break;
                    }
                    _ => return None,
                }
            }
            let large = members.len() > ORDERED_MEMBERS;
            let mut kept: Vec<&[u8]> = Vec::with_capacity(members.len());
            out.push(b'{');
            for (key, piece) in &members {
                if large && kept.contains(key) {
                    continue;
                }
                if !kept.is_empty() {
                    out.push(b',');
                }
                out.extend_from_slice(piece);
                kept.push(key);
            }
            out.push(b'}');
            Some(())
        }
        b'[' => {
            out.push(b'[');
            *at += 1;
            loop {
                copy_space(text, at, out);
                if text.get(*at) == Some(&b']') {
                    out.push(b']');
                    *at += 1;
                    return Some(());
                }
                copy_value(text, at, out, depth + 1)?;
                copy_space(text, at, out);
                match *text.get(*at)? {
                    b',' => {
                        out.push(b',');
                        *at += 1;
                    }
                    b']' => {}
                    _ => return None,
                }
            }
        }
        b'"' => copy_string(text, at, out),
        _ => {
            let end = text[*at..]
                .iter()
                .position(|b| matches!(b, b',' | b'}' | b']') || b.is_ascii_whitespace())
                .map_or(text.len(), |p| *at + p);
            // What is left out must be JSON as much as what is kept: the
            // parser never sees it.
            let literal = &text[*at..end];
            (matches!(literal, b"true" | b"false" | b"null") || is_json_number(literal))
                .then_some(())?;
            out.extend_from_slice(literal);
            *at = end;
            Some(())
        }
    }
}

/// Copies a string, checked as the parser would check it: no control
/// character, only JSON's escapes.
fn copy_string(text: &[u8], at: &mut usize, out: &mut Vec<u8>) -> Option<()> {
    (text.get(*at) == Some(&b'"')).then_some(())?;
    let mut end = *at + 1;
    loop {
        match *text.get(end)? {
            b'\\' => match *text.get(end + 1)? {
                b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => end += 2,
                b'u' => {
                    let hex = text.get(end + 2..end + 6)?;
                    hex.iter().all(u8::is_ascii_hexdigit).then_some(())?;
                    end += 6;
                }
                _ => return None,
            },
            b'"' => break,
            0..=0x1f => return None,
            _ => end += 1,
        }
    }
    out.extend_from_slice(&text[*at..=end]);
    *at = end + 1;
    Some(())
}

fn copy_space(text: &[u8], at: &mut usize, out: &mut Vec<u8>) {
    while let Some(&b) = text.get(*at).filter(|b| b.is_ascii_whitespace()) {
        out.push(b);
        *at += 1;
    }
}

/// What the start of a body tells of its leading members.
#[derive(Debug, PartialEq)]
pub(crate) enum Leading {
    /// Every key's value, in the order of the keys.
    Found(Vec<Value>),
    /// The body ends before it tells: more of it might.
    Cut,
    /// Not every key is plainly at the head: only a parse can tell.
    Absent,
}

/// The values of the top-level members named in `keys`, read from the
/// start of `body` without parsing the rest: found only when every key
/// comes before the first member whose value is an object or array, with
/// a value that is plainly a string, an integer, `true`, `false` or
/// `null`. The first occurrence of a key wins, as in a full parse, which
/// still checks the whole page afterwards. No key to find is found at
/// once.
pub(crate) fn leading_members(body: &[u8], keys: &[&str]) -> Leading {
    if keys.is_empty() {
        return Leading::Found(Vec::new());
    }
    // Running out of bytes is `Cut`; anything else unexpected, `Absent`.
    macro_rules! more {
        ($found:expr) => {
            match $found {
                Some(found) => found,
                None => return Leading::Cut,
            }
        };
    }
    let mut found: Vec<Option<Value>> = vec![None; keys.len()];
    let mut missing = keys.len();
    let mut at = skip_space(body, 0);
    if *more!(body.get(at)) != b'{' {
        return Leading::Absent;
    }
    at += 1;
    while missing > 0 {
        at = skip_space(body, at);
        if *more!(body.get(at)) != b'"' {
            return Leading::Absent;
        }
        let key_end = more!(string_end(body, at));
        let key = &body[at + 1..key_end - 1];
        at = skip_space(body, key_end);
        if *more!(body.get(at)) != b':' {
            return Leading::Absent;
        }
        at = skip_space(body, at + 1);
        let value_end = match more!(body.get(at)) {
            b'"' => more!(string_end(body, at)),
            b'{' | b'[' => return Leading::Absent,
            _ => at + more!(body[at..].iter().position(|b| b",}] \t\r\n".contains(b))),
        };
        if let Some(slot) = keys.iter().position(|k| k.as_bytes() == key)
            && found[slot].is_none()
        {
            let Some(value) = scalar(&body[at..value_end]) else {
                return Leading::Absent;
            };
            found[slot] = Some(value);
            missing -= 1;
        }
        at = skip_space(body, value_end);
        if missing > 0 && *more!(body.get(at)) != b',' {
            return Leading::Absent;
        }
        at += 1;
    }
    Leading::Found(found.into_iter().flatten().collect())
}

fn skip_space(body: &[u8], mut at: usize) -> usize {
    while body.get(at).is_some_and(|b| b" \t\r\n".contains(b)) {
        at += 1;
    }
    at
}

/// Where the string starting at `body[at]` (a quote) ends, past its
/// closing quote.
fn string_end(body: &[u8], at: usize) -> Option<usize> {
    if body.get(at) != Some(&b'"') {
        return None;
    }
    let mut i = at + 1;
    loop {
        i += body
            .get(i..)?
            .iter()
            .position(|&b| b == b'"' || b == b'\\')?;
        if body[i] == b'"' {
            return Some(i + 1);
        }
        i += 2;
    }
}

/// A scalar token as a full parse gives it; `None` for anything else,
/// including numbers that are not 64-bit integers.
fn scalar(token: &[u8]) -> Option<Value> {
    match token {
        b"true" => Some(Value::Bool(true)),
        b"false" => Some(Value::Bool(false)),
        b"null" => Some(Value::Null),
        [b'"', ..] => serde_json::from_slice::<String>(token)
            .ok()
            .map(Value::String),
        _ => {
            let digits = token.strip_prefix(b"-").unwrap_or(token);
            if digits.is_empty()
                || !digits.iter().all(u8::is_ascii_digit)
                || (digits.len() > 1 && digits[0] == b'0')
            {
                return None;
            }
            let text = std::str::from_utf8(token).ok()?;
            text.parse::<i64>()
                .map(Value::from)
                .or_else(|_| text.parse::<u64>().map(Value::from))
                .ok()
        }
    }
}

/// Copies `body` into `buffer` followed by the padding simd-json reads
/// past the end, so that it parses there without a second, padded copy.
pub(crate) fn padded_copy(buffer: &mut Vec<u8>, body: &[u8]) {
    buffer.clear();
    buffer.reserve(body.len() + simd_json::INPUT_PADDING);
    buffer.extend_from_slice(body);
    buffer.resize(body.len() + simd_json::INPUT_PADDING, b' ');
}

/// The buffers a page is parsed in; reuse one per pipeline stage.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    pub(crate) main: Vec<u8>,
    pub(crate) rewritten: Vec<u8>,
}

pub(crate) fn describe(error: &simd_json::Error, text: &[u8]) -> String {
    if text.iter().all(u8::is_ascii_whitespace) {
        return "the body is empty".to_owned();
    }
    error.to_string()
}

/// Rewrites number literals that do not fit 64 bits as marked strings.
/// Anything that is not a well-formed number is left for the parser to
/// refuse.
pub(crate) fn mark_big_numbers(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() + 64);
    let mut i = 0;
    let mut in_string = false;
    while i < text.len() {
        let b = text[i];
        if in_string {
            out.push(b);
            if b == b'\\' && i + 1 < text.len() {
                out.push(text[i + 1]);
                i += 2;
                continue;
            }
            if b == b'"' {
                in_string = false;
            }
            i += 1;
        } else if b == b'"' {
            in_string = true;
            out.push(b);
            i += 1;
        } else if b == b'-' || b.is_ascii_digit() {
            let end = text[i..]
                .iter()
                .position(|c| !matches!(c, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E'))
                .map_or(text.len(), |p| i + p);
            let token = &text[i..end];
            if is_json_number(token) && !fits_64_bits(token) {
                out.extend_from_slice(b"\"\\u0001N:");
                out.extend_from_slice(token);
                out.push(b'"');
            } else {
                out.extend_from_slice(token);
            }
            i = end;
        } else {
            out.push(b);
            i += 1;
        }
    }
    out
}

fn is_json_number(token: &[u8]) -> bool {
    let mut i = 0;
    let n = token.len();
    if i < n && token[i] == b'-' {
        i += 1;
    }
    match token.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => {
            while i < n && token[i].is_ascii_digit() {
                i += 1;
            }
        }
        _ => return false,
    }
    if i < n && token[i] == b'.' {
        i += 1;
        let start = i;
        while i < n && token[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return false;
        }
    }
    if i < n && matches!(token[i], b'e' | b'E') {
        i += 1;
        if i < n && matches!(token[i], b'+' | b'-') {
            i += 1;
        }
        let start = i;
        while i < n && token[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return false;
        }
    }
    i == n
}

fn fits_64_bits(token: &[u8]) -> bool {
    let text = std::str::from_utf8(token).unwrap_or_default();
    if token.iter().any(|b| matches!(b, b'.' | b'e' | b'E')) {
        text.parse::<f64>()
            .is_ok_and(|f| f.is_finite() && !underflows(token, f))
    } else {
        text.parse::<i64>().is_ok() || text.parse::<u64>().is_ok()
    }
}

/// Whether `value`, read from the number literal `token`, is a zero that
/// the literal is not (`1e-400`): too small for a double, as `1e400` is too
/// big.
pub(crate) fn underflows(token: &[u8], value: f64) -> bool {
    value == 0.0
        && token
            .iter()
            .take_while(|b| !matches!(b, b'e' | b'E'))
            .any(|b| matches!(b, b'1'..=b'9'))
}

/// Whether `body` holds a number literal that underflows a double. Only
/// literals with a negative exponent can, so a body without `e-` costs a
/// search for it.
fn has_underflow(body: &[u8]) -> bool {
    [&b"e-"[..], &b"E-"[..]].iter().any(|needle| {
        memchr::memmem::find_iter(body, needle).any(|at| {
            if !body.get(at + 2).is_some_and(u8::is_ascii_digit) {
                return false;
            }
            let start = body[..at]
                .iter()
                .rposition(|b| !matches!(b, b'0'..=b'9' | b'.' | b'-'))
                .map_or(0, |p| p + 1);
            let end = body[at + 2..]
                .iter()
                .position(|b| !b.is_ascii_digit())
                .map_or(body.len(), |p| at + 2 + p);
            let token = &body[start..end];
            is_json_number(token)
                && std::str::from_utf8(token)
                    .ok()
                    .and_then(|t| t.parse::<f64>().ok())
                    .is_some_and(|f| underflows(token, f))
        })
    })
}

/// The literal text of a marked big number, if `s` is one.
pub(crate) fn big_number(s: &str) -> Option<&str> {
    s.strip_prefix(BIG)
}

/// Writes a `serde_json` value as compact JSON text, big numbers unmarked.
pub(crate) fn write_serde(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                write_static(&StaticNode::I64(i), out)
            } else if let Some(u) = n.as_u64() {
                write_static(&StaticNode::U64(u), out)
            } else {
                write_static(&StaticNode::F64(n.as_f64().unwrap_or_default()), out)
            }
        }
        Value::String(s) => write_str_or_big(s, out),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_serde(item, out);
            }
            out.push(b']');
        }
        Value::Object(map) => {
            out.push(b'{');
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_str(key, out);
                out.push(b':');
                write_serde(item, out);
            }
            out.push(b'}');
        }
    }
}

pub(crate) fn write_static(node: &StaticNode, out: &mut Vec<u8>) {
    match node {
        StaticNode::Null => out.extend_from_slice(b"null"),
        StaticNode::Bool(true) => out.extend_from_slice(b"true"),
        StaticNode::Bool(false) => out.extend_from_slice(b"false"),
        StaticNode::I64(i) => write_int(*i, out),
        StaticNode::U64(u) => write_uint(*u, out),
        StaticNode::F64(f) => write_f64(*f, out),
    }
}

/// Writes a finite double so that it parses back to the same bits, in
/// the fewest digits.
pub(crate) fn write_f64(f: f64, out: &mut Vec<u8>) {
    if let Some(millionths) = whole_millionths(f) {
        if f < 0.0 {
            out.push(b'-');
        }
        write_millionths(millionths, out);
    } else if f.is_finite() {
        put_short(out, zmij::Buffer::new().format_finite(f).as_bytes());
    } else {
        out.extend_from_slice(b"null");
    }
}

/// `|f|` in millionths, when it is at least 0.001 and below 2^32 and
/// the decimal of those millionths reads back as `f`: most of an API's
/// prices, coordinates and measures. Such a decimal is the shortest
/// that reads back as `f` (there, a double's spacing is under a
/// millionth, so no other decimal of six places reads as `f`, and one of
/// more places has more digits), and its digits are at hand, where the
/// general search for the shortest costs about 20 ns a value.
#[inline(always)]
fn whole_millionths(f: f64) -> Option<u64> {
    const MILLION: f64 = 1e6;
    let magnitude = f.abs();
    // Also false for NaN.
    if !(1e-3..4_294_967_296.0).contains(&magnitude) {
        return None;
    }
    // Truncating after adding a half rounds without a call to `round`,
    // which the baseline x86-64 lacks an instruction for; the check
    // after it refuses whatever does not read back. Signed, the
    // conversions are one instruction each.
    let millionths = (magnitude * MILLION + 0.5) as i64;
    (millionths as f64 / MILLION == magnitude).then_some(millionths as u64)
}

/// The decimal of `millionths` (below 2^52): its whole part, then its
/// fraction without trailing zeros, or `.0`, as the general formatter
/// writes it.
#[inline(always)]
fn write_millionths(millionths: u64, out: &mut Vec<u8>) {
    write_uint(millionths / 1_000_000, out);
    let fraction = (millionths % 1_000_000) as u32;
    // `00dddddd`: the two leading zeros give way to `.` and the first
    // digit moves down; trailing zero digits are cut off, but one.
    let digits = eight_digits(fraction);
    let zeros = if fraction == 0 {
        5
    } else {
        (digits - ZERO_DIGITS).leading_zeros() / 8
    };
    let word = (digits >> 8 & !0xFF) | u64::from(b'.');
    let at = out.len();
    out.extend_from_slice(&word.to_le_bytes());
    out.truncate(at + 7 - zeros as usize);
}

fn write_str_or_big(s: &str, out: &mut Vec<u8>) {
    match big_number(s) {
        Some(literal) => out.extend_from_slice(literal.as_bytes()),
        None => write_str(s, out),
    }
}

/// Writes `s` as a JSON string: quotes, backslashes and control characters
/// escaped, everything else copied as is.
///
/// Inlined, as are [`write_int`] and [`write_uint`], into the NDJSON row
/// loop (`encode/escapes` 100 → 95 ns a record, `nested` 72 → 69, the
/// whole `page/nested` to NDJSON 460 → 450 µs; `numbers` 89 → 91).
#[inline(always)]
pub(crate) fn write_str(s: &str, out: &mut Vec<u8>) {
    let bytes = s.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut i = 0;
    // Eight bytes are looked at and copied at a time (a copy of constant
    // length is a move, where one of any length is a call): a clean word
    // is kept whole, and one that holds an escape is cut at its first. The
    // last bytes make a word of their own, padded with zeros.
    while i < bytes.len() {
        // Sixteen clean bytes are kept at once: long runs of text without
        // an escape are the common case (`encode/nested` 80 → 77 ns a
        // record, `escapes` 107 → 103).
        if let Some(pair) = bytes.get(i..i + 16) {
            let pair: &[u8; 16] = pair.try_into().expect("sixteen bytes");
            let low = u64::from_le_bytes(pair[..8].try_into().expect("eight bytes"));
            let high = u64::from_le_bytes(pair[8..].try_into().expect("eight bytes"));
            if escape_mask(low) | escape_mask(high) == 0 {
                out.extend_from_slice(pair);
                i += 16;
                continue;
            }
        }
        let (word, real) = match bytes.get(i..i + 8) {
            Some(word) => (u64::from_le_bytes(word.try_into().expect("eight bytes")), 8),
            None => (tail_word(bytes, i), bytes.len() - i),
        };
        out.extend_from_slice(&word.to_le_bytes());
        let padding = u64::MAX.checked_shl(8 * real as u32).unwrap_or(0);
        let found = escape_mask(word) & !padding;
        if found == 0 {
            out.truncate(out.len() - 8 + real);
            i += real;
            continue;
        }
        let clean = (found.trailing_zeros() / 8) as usize;
        out.truncate(out.len() - 8 + clean);
        let escape = &ESCAPES[usize::from(bytes[i + clean])];
        out.extend_from_slice(escape);
        out.truncate(out.len() - escape.len() + usize::from(escape[7]));
        i += clean + 1;
    }
    out.push(b'"');
}

/// How each byte is written escaped, for those that need it: the escape's
/// bytes, padded, with its length last. A lookup, where a `match` on the
/// byte is a branch that escape-heavy text mispredicts.
const ESCAPES: [[u8; 8]; 256] = {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut table = [[0; 8]; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = [b'\\', b'u', b'0', b'0', HEX[b >> 4], HEX[b & 0xf], 0, 6];
        b += 1;
    }
    let short: [(u8, u8); 7] = [
        (b'"', b'"'),
        (b'\\', b'\\'),
        (b'\n', b'n'),
        (b'\r', b'r'),
        (b'\t', b't'),
        (0x08, b'b'),
        (0x0c, b'f'),
    ];
    let mut i = 0;
    while i < short.len() {
        table[short[i].0 as usize] = [b'\\', short[i].1, 0, 0, 0, 0, 0, 2];
        i += 1;
    }
    table
};

/// The bytes of `bytes` from `from` on, fewer than eight, as the low bytes
/// of a word whose others are zero; taken with fixed-size loads, which
/// may overlap, rather than a copy of a length known only at run time.
fn tail_word(bytes: &[u8], from: usize) -> u64 {
    if bytes.len() >= 8 {
        // The last eight bytes, shifted down past those already written.
        let last: [u8; 8] = bytes[bytes.len() - 8..].try_into().expect("eight bytes");
        return u64::from_le_bytes(last) >> (8 * (8 - (bytes.len() - from)));
    }
    short_word(&bytes[from..])
}

/// `bytes`, fewer than eight, as the low bytes of a word whose others are
/// zero, by loads of fixed size that may overlap.
pub(crate) fn short_word(bytes: &[u8]) -> u64 {
    let n = bytes.len();
    debug_assert!(n < 8, "{n} bytes for a short word");
    if n >= 4 {
        let load = |at: usize| {
            u64::from(u32::from_le_bytes(
                bytes[at..at + 4].try_into().expect("four bytes"),
            ))
        };
        return load(0) | load(n - 4) << (8 * (n - 4));
    }
    if n == 0 {
        return 0;
    }
    u64::from(bytes[0])
        | u64::from(bytes[n / 2]) << (8 * (n / 2))
        | u64::from(bytes[n - 1]) << (8 * (n - 1))
}

/// Appends the decimal digits of `value`.
#[inline(always)]
pub(crate) fn write_int(value: i64, out: &mut Vec<u8>) {
    if value < 0 {
        out.push(b'-');
    }
    write_uint(value.unsigned_abs(), out);
}

/// Appends the decimal digits of `value`, built in registers and stored
/// as whole words. Formatting into a buffer and copying it, as with
/// `itoa`, reads back digits just stored two bytes at a time: the load
/// cannot be forwarded from those stores and waits for them to retire,
/// which was a fifth of the encoding of a number-heavy record.
#[inline(always)]
pub(crate) fn write_uint(value: u64, out: &mut Vec<u8>) {
    const EIGHT_DIGITS: u64 = 100_000_000;
    if value < EIGHT_DIGITS {
        put_leading_digits(value as u32, out);
    } else if value < EIGHT_DIGITS * EIGHT_DIGITS {
        put_leading_digits((value / EIGHT_DIGITS) as u32, out);
        out.extend_from_slice(&eight_digits((value % EIGHT_DIGITS) as u32).to_le_bytes());
    } else {
        put_short(out, itoa::Buffer::new().format(value).as_bytes());
    }
}

/// Appends `value` (below 10^8) without leading zeros.
fn put_leading_digits(value: u32, out: &mut Vec<u8>) {
    let digits = eight_digits(value);
    // The first digit is the lowest byte; a zero digit is the byte `0`.
    let zeros = if value == 0 {
        7
    } else {
        (digits - ZERO_DIGITS).trailing_zeros() / 8
    };
    let at = out.len();
    out.extend_from_slice(&(digits >> (8 * zeros)).to_le_bytes());
    out.truncate(at + 8 - zeros as usize);
}

/// Eight ASCII `0`s: a word of digits is its digits' values plus this.
pub(crate) const ZERO_DIGITS: u64 = u64::from_le_bytes([b'0'; 8]);

/// The eight decimal digits of `value` (below 10^8, with leading zeros)
/// as ASCII, the first in the lowest byte: each step splits every lane
/// of the word in two, dividing by a multiply and a shift.
fn eight_digits(value: u32) -> u64 {
    let (high, low) = (value / 10_000, value % 10_000);
    let fours = u64::from(high) | u64::from(low) << 32;
    let hundreds = ((fours * 10_486) >> 20) & 0x0000_007f_0000_007f;
    let pairs = (fours - 100 * hundreds) << 16 | hundreds;
    let tens = ((pairs * 103) >> 10) & 0x000f_000f_000f_000f;
    let ones = pairs - 10 * tens;
    (ones << 8 | tens) + ZERO_DIGITS
}

/// Appends `bytes`, when at most 32 long, with fixed-size copies that may
/// overlap: a copy of a length known only at run time is a call, which
/// costs more than the copy of a number's digits.
pub(crate) fn put_short(out: &mut Vec<u8>, bytes: &[u8]) {
    let n = bytes.len();
    if n > 32 {
        out.extend_from_slice(bytes);
        return;
    }
    let at = out.len();
    out.extend_from_slice(&[0; 32]);
    let to = &mut out[at..at + 32];
    match n {
        0 => {}
        1..=3 => {
            to[0] = bytes[0];
            to[n / 2] = bytes[n / 2];
            to[n - 1] = bytes[n - 1];
        }
        4..=7 => {
            to[..4].copy_from_slice(&bytes[..4]);
            to[n - 4..n].copy_from_slice(&bytes[n - 4..]);
        }
        8..=16 => {
            to[..8].copy_from_slice(&bytes[..8]);
            to[n - 8..n].copy_from_slice(&bytes[n - 8..]);
        }
        _ => {
            to[..16].copy_from_slice(&bytes[..16]);
            to[n - 16..n].copy_from_slice(&bytes[n - 16..]);
        }
    }
    out.truncate(at + n);
}

/// A mask whose lowest set bit falls in the first of the eight bytes of
/// `word` that is a quote, a backslash or a control character (below
/// 0x20); zero when there is none. Bits above the first may be set
/// wrongly (a borrow carries), so only the lowest is read.
fn escape_mask(word: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let zeros = |v: u64| v.wrapping_sub(ONES) & !v & HIGHS;
    let below_space = word.wrapping_sub(ONES * 0x20) & !word & HIGHS;
    below_space | zeros(word ^ (ONES * u64::from(b'"'))) | zeros(word ^ (ONES * u64::from(b'\\')))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn repeated_keys_keep_their_first_value_in_objects_of_any_size() {
        use simd_json::prelude::*;
        assert_eq!(
            first_members_only(br#" {"a": 1, "b": [{"c": 1, "c": 2}], "a": {"x": 3}} "#),
            br#" {"a": 1, "b": [{"c": 1, "c": 2}], "a": {"x": 3}} "#,
            "objects that keep their members in order keep their repeats"
        );
        let members: Vec<String> = (0..33).map(|i| format!("\"k{i}\": {i}")).collect();
        let wide = format!("{{{}, \"k0\": {{\"x\": 1}}}}", members.join(", "));
        let kept = String::from_utf8(first_members_only(wide.as_bytes())).unwrap();
        assert_eq!(kept, format!("{{{}}}", members.join(", ")));
        assert_eq!(first_members_only(b"{\"a\": }"), b"{\"a\": }");
        // Bytes a rewrite leaves out are still checked: invalid UTF-8 in a
        // repeated member fails the page, as on the structural index.
        let mut parser = Parser::default();
        let body = b"[{\"a\": 1, \"a\": \"x\x90y\", \"n\": 1e-400}]";
        let err = parser
            .parse(body, &mut Scratch::default())
            .map(|_| ())
            .unwrap_err();
        assert_eq!(err, "invalid UTF-8 at byte 17");
        // So is a literal or a string that is not JSON.
        for body in [
            &b"[{\"a\": 1, \"a\": 17\x1d, \"n\": 1e-400}]"[..],
            b"[{\"a\": 1, \"a\": \"x\x01\", \"n\": 1e-400}]",
            b"[{\"a\": 1, \"a\": \"\\q\", \"n\": 1e-400}]",
            b"[{\"a\": 1, \"a\": tru, \"n\": 1e-400}]",
        ] {
            assert!(
                parser.parse(body, &mut Scratch::default()).is_err(),
                "{body:?}"
            );
        }
        // Found by the fuzz target: 35 members, 16 of them repeats, make a
        // map of 19 keys, which took the last of each.
        let page = r#"[{"k0": 0, "k1": 1, "k2": 2, "k3": 3, "k4": 4, "k5": 5, "k6": 6, "k7": 7, "k8": 8, "k9": 9, "k10": 10, "k11": 11, "k12": 12, "k13": 13, "k14": 14, "k15": 15, "k16": 16, "k17": 17, "k18": 18,
            "k0": -1, "k1": -1, "k2": -1, "k3": -1, "k4": -1, "k5": -1, "k6": -1, "k7": -1, "k8": -1, "k9": -1, "k10": -1, "k11": -1, "k12": -1, "k13": -1, "k14": -1, "k15": -1}]"#;
        let mut scratch = Scratch::default();
        let tree = Parser::default()
            .parse(page.as_bytes(), &mut scratch)
            .unwrap();
        let record = &tree.as_array().unwrap()[0];
        for i in 0..19 {
            let value = record
                .get(format!("k{i}").as_str())
                .and_then(|v| v.as_i64());
            assert_eq!(value, Some(i), "k{i}");
        }
        // Objects past the size whose members keep their order, each key
        // repeated once further on, with a big number or without.
        let mut parser = Parser::default();
        for size in [33, 40, 57, 100] {
            for big in ["", ", \"big\": 1e400"] {
                let members: Vec<String> = (0..size).map(|i| format!("\"k{i}\": {i}")).collect();
                let again: Vec<String> = (0..size).map(|i| format!("\"k{i}\": -1")).collect();
                let body = format!("[{{{}, {}{big}}}]", members.join(", "), again.join(", "));
                let mut scratch = Scratch::default();
                let page = parser.parse(body.as_bytes(), &mut scratch).unwrap();
                let record = &page.as_array().unwrap()[0];
                for i in 0..size {
                    let value = record
                        .get(format!("k{i}").as_str())
                        .and_then(|v| v.as_i64());
                    assert_eq!(value, Some(i), "k{i} of {size}{big}");
                }
            }
        }
    }

    #[test]
    fn strings_of_every_short_length_are_escaped_as_serde_json_does() {
        // Lengths around the sixteen-byte runs, the eight-byte words and
        // the tails of under eight, with no escape, one anywhere, or two
        // side by side.
        for len in 0..=40 {
            let plain: String = (0..len)
                .map(|i| char::from(b'a' + (i % 26) as u8))
                .collect();
            let mut texts = vec![plain.clone()];
            for at in 0..len {
                for byte in ["\"", "\u{0}", "\u{1f}\\"] {
                    let mut text = plain.clone();
                    text.replace_range(at..=at, byte);
                    texts.push(text);
                }
            }
            for text in texts {
                let mut out = b"prefix".to_vec();
                write_str(&text, &mut out);
                let expected = format!("prefix{}", serde_json::to_string(&text).unwrap());
                assert_eq!(String::from_utf8(out).unwrap(), expected, "{text:?}");
            }
        }
    }

    #[test]
    fn doubles_are_written_as_the_general_formatter_writes_them() {
        let mut values = vec![
            1e-3,
            0.001_000_000_000_000_1,
            0.000_999_999_999_999_9,
            0.1 + 0.2,
            1.0 / 3.0,
            4_294_967_295.999_999,
            4_294_967_296.0,
            4_294_967_296.5,
            9.999_999_5,
            123.0,
            1e9,
            0.0,
            -0.0,
            f64::MIN_POSITIVE,
            f64::MAX,
            1e-7,
        ];
        // Decimals of up to eight places, their neighbouring doubles, and
        // doubles of any bits over the range the short path takes.
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..200_000 {
            let places = (next() % 9) as i32;
            let decimal = (next() % 10_000_000_000) as f64 / 10f64.powi(places);
            let bits = 0x3F40_0000_0000_0000 + next() % 0x0120_0000_0000_0000;
            values.extend([
                decimal,
                f64::from_bits(decimal.to_bits() + 1),
                f64::from_bits(decimal.to_bits().saturating_sub(1)),
                f64::from_bits(bits),
            ]);
        }
        for value in values {
            for signed in [value, -value] {
                let mut out = b"prefix".to_vec();
                write_f64(signed, &mut out);
                let expected = format!("prefix{}", zmij::Buffer::new().format(signed));
                assert_eq!(String::from_utf8(out).unwrap(), expected, "{signed:e}");
            }
        }
    }

    #[test]
    fn integers_are_written_as_std_writes_them() {
        let mut values: Vec<i64> = (-1000..=100_000).collect();
        let mut power: i64 = 10;
        while let Some(next) = power.checked_mul(10) {
            values.extend([power - 1, power, power + 1, -power, -power + 1]);
            power = next;
        }
        values.extend([i64::MAX, i64::MIN, i64::MIN + 1, 1_234_567_890_123]);
        // Digits of every kind in every place, from a fixed LCG.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..100_000 {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            values.push((x >> (x % 64)) as i64);
        }
        for value in values {
            let mut out = b"x".to_vec();
            write_int(value, &mut out);
            assert_eq!(out, format!("x{value}").into_bytes(), "{value}");
        }
        for value in [
            u64::MAX,
            u64::MAX / 10,
            10_000_000_000_000_000,
            9_999_999_999_999_999,
        ] {
            let mut out = Vec::new();
            write_uint(value, &mut out);
            assert_eq!(out, value.to_string().into_bytes(), "{value}");
        }
    }

    #[test]
    fn short_copies_append_exactly_their_bytes() {
        let source: Vec<u8> = (1..=40).collect();
        for len in 0..=40 {
            let mut out = b"head".to_vec();
            put_short(&mut out, &source[..len]);
            assert_eq!(&out[..4], b"head");
            assert_eq!(&out[4..], &source[..len], "length {len}");
        }
    }

    #[test]
    fn strings_are_escaped_wherever_the_escaped_byte_falls() {
        for filler in ["a", "é"] {
            for at in 0..20 {
                for (byte, escaped) in [
                    ('"', "\\\""),
                    ('\\', "\\\\"),
                    ('\n', "\\n"),
                    ('\u{1}', "\\u0001"),
                    ('\u{1f}', "\\u001f"),
                ] {
                    let text = format!("{}{byte}{}", filler.repeat(at), filler.repeat(19 - at));
                    let mut out = Vec::new();
                    write_str(&text, &mut out);
                    let expected = format!(
                        "\"{}{escaped}{}\"",
                        filler.repeat(at),
                        filler.repeat(19 - at)
                    );
                    assert_eq!(String::from_utf8(out).unwrap(), expected, "at {at}");
                }
            }
        }
        let mut out = Vec::new();
        write_str("plain ascii text of some length ~ \u{7f}", &mut out);
        assert_eq!(out, b"\"plain ascii text of some length ~ \x7f\"");
        // Several escapes in one word, next to each other and to bytes a
        // borrow could wrongly flag: as serde_json writes them.
        for text in [
            "\"\"\\\\\n\r\t\u{8}\u{c}\u{0}",
            "\u{1}!\u{1f} \"#\\]",
            "ab\u{1f}\u{20}\u{21}\"\u{22}cd\u{5c}\u{5b}\u{5d}é\n😀\u{7f}\u{0}x",
            "tail\"",
        ] {
            let mut out = Vec::new();
            write_str(text, &mut out);
            assert_eq!(
                String::from_utf8(out).unwrap(),
                serde_json::to_string(text).unwrap()
            );
        }
    }

    fn roundtrip(text: &str) -> String {
        let mut scratch = Scratch::default();
        let mut parser = Parser::default();
        let value = parser.parse(text.as_bytes(), &mut scratch).unwrap();
        let mut out = Vec::new();
        crate::json::node::Node::write_json(&value, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn big_numbers_stay_exact() {
        assert_eq!(
            roundtrip(
                r#"{"a":123456789012345678901234567890,"b":-9223372036854775809,"c":1e400,"d":"x"}"#
            ),
            r#"{"a":123456789012345678901234567890,"b":-9223372036854775809,"c":1e400,"d":"x"}"#
        );
        assert_eq!(
            roundtrip("[18446744073709551615,-1,0.5]"),
            "[18446744073709551615,-1,0.5]"
        );
    }

    #[test]
    fn malformed_numbers_are_still_refused() {
        let mut parser = Parser::default();
        for bad in [
            "[1.]",
            "[01]",
            "[-]",
            "[1e]",
            "{\"a\": 99999999999999999999999 x}",
        ] {
            assert!(
                parser
                    .parse(bad.as_bytes(), &mut Scratch::default())
                    .is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn strings_are_escaped() {
        assert_eq!(
            roundtrip(r#"["q\"b\\n\nt\tc\u0001é😀"]"#),
            r#"["q\"b\\n\nt\tc\u0001é😀"]"#
        );
    }

    #[test]
    fn empty_body_is_named() {
        assert_eq!(
            Parser::default()
                .parse(b"  ", &mut Scratch::default())
                .unwrap_err(),
            "the body is empty"
        );
    }

    fn head(body: &str, keys: &[&str]) -> Option<serde_json::Value> {
        match leading_members(body.as_bytes(), keys) {
            Leading::Found(values) => Some(serde_json::Value::from(values)),
            Leading::Cut | Leading::Absent => None,
        }
    }

    #[test]
    fn leading_members_are_read_before_the_first_container() {
        assert_eq!(
            head(r#"{"next":"/a?b=1","data":[1]}"#, &["next"]),
            Some(json!(["/a?b=1"]))
        );
        assert_eq!(
            head(
                " {\n \"n\" : \"x\\\"y\\u00e9\" ,\t\"c\": -12, \"t\": true, \"z\": null, \"data\": []}",
                &["c", "n", "z"]
            ),
            Some(json!([-12, "x\"yé", null]))
        );
        assert_eq!(
            head(r#"{"c":18446744073709551615,"data":[]}"#, &["c"]),
            Some(json!([18446744073709551615u64]))
        );
        // The first occurrence wins, as in a full parse.
        assert_eq!(
            head(r#"{"next":"a","next":"b"}"#, &["next"]),
            Some(json!(["a"]))
        );
        // Nothing to find is found at once, whatever the page starts with.
        assert_eq!(head(r#"["a"]"#, &[]), Some(json!([])));
        assert_eq!(head("", &[]), Some(json!([])));
    }

    #[test]
    fn leading_members_give_up_rather_than_guess() {
        for (body, why) in [
            (r#"{"data":[1],"next":"x"}"#, "after an array"),
            (r#"{"meta":{"next":"x"}}"#, "inside an object"),
            (r#"{"a":1}"#, "absent: only a full parse can say"),
            (r#"{"n\u0065xt":"x"}"#, "an escaped key"),
            (r#"{"next":1.5}"#, "not an integer"),
            (r#"{"next":1e3}"#, "not an integer"),
            (r#"{"next":007}"#, "not JSON"),
            (r#"{"next":"a\x"}"#, "a bad escape"),
            (r#"["next"]"#, "not an object"),
            (r#"{"next":"abc"#, "cut short"),
            (r#"{"next" "abc"}"#, "no colon"),
            ("", "empty"),
        ] {
            assert_eq!(head(body, &["next"]), None, "{why}: {body}");
        }
    }

    #[test]
    fn a_cut_head_is_told_from_one_that_cannot_hold_the_keys() {
        for body in [
            "",
            " ",
            "{",
            r#"{"ne"#,
            r#"{"next""#,
            r#"{"next":"ab"#,
            r#"{"next":12"#,
            r#"{"a":1"#,
            r#"{"a":1,"#,
        ] {
            assert_eq!(
                leading_members(body.as_bytes(), &["next"]),
                Leading::Cut,
                "{body}"
            );
        }
        for body in [
            r#"{"data":["#,
            r#"{"meta":{"next":"x"}}"#,
            r#"{"a":1}"#,
            r#"{"next":1.5,"#,
            r#"{"next" "abc"}"#,
            r#"["next"]"#,
        ] {
            assert_eq!(
                leading_members(body.as_bytes(), &["next"]),
                Leading::Absent,
                "{body}"
            );
        }
    }
}

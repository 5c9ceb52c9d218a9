//! simd-json's tree of a page, with reused buffers: number literals
//! beyond 64 bits kept exact as marked strings, and objects with repeated
//! keys reduced to their first members.

use super::*;
use crate::json::scan::Scanner;

/// Prefix of a string that carries a number literal too big for 64 bits
/// (or, read for pagination, one a double would print otherwise): the
/// paginator's own mark for such numbers.
pub(crate) const BIG: &str = hydrant_paginate::NUMBER_TEXT;

/// A reusable simd-json parser.
pub(crate) struct Parser {
    pub(crate) buffers: simd_json::Buffers,
    /// Escapes of a surrogate without its partner in the last text
    /// parsed, read as U+FFFD (see [`crate::json::scan::Doc::lone_surrogates`]).
    pub(crate) lone_surrogates: usize,
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
            lone_surrogates: 0,
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
        self.lone_surrogates = 0;
        main.clear();
        main.extend_from_slice(body);
        // The body with its lone surrogates rewritten, once it is known
        // to have some.
        let mut fixed = None;
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
                Err(e) => match lone_surrogates(body) {
                    (_, 0) => return Err(describe(&e, body)),
                    rewritten => fixed = Some(rewritten),
                },
            }
        }
        // The rewrites may leave out bytes (a repeated member): the body
        // is checked whole first, as the parser would have.
        if let Err(e) = std::str::from_utf8(body) {
            return Err(format!("invalid UTF-8 at byte {}", e.valid_up_to()));
        }
        let (body, lone) = fixed.unwrap_or_else(|| lone_surrogates(body));
        self.lone_surrogates = lone;
        *rewritten = first_members_only(&mark_big_numbers(&body));
        simd_json::to_borrowed_value_with_buffers(rewritten, &mut self.buffers)
            .map_err(|e| describe(&e, &body))
    }
}

/// The text with each `\uXXXX` escape of a surrogate without its partner
/// written `\ufffd` (the same length), and how many there were: simd-json
/// refuses them, though JSON text may hold them (RFC 8259, 8.2).
pub(super) fn lone_surrogates(text: &[u8]) -> (std::borrow::Cow<'_, [u8]>, usize) {
    let surrogate = |at: usize| {
        let hex = std::str::from_utf8(text.get(at + 2..at + 6)?).ok()?;
        let unit = u16::from_str_radix(hex, 16).ok()?;
        (text.get(at..at + 2)? == b"\\u" && (0xd800..=0xdfff).contains(&unit)).then_some(unit)
    };
    let mut fixed = std::borrow::Cow::Borrowed(text);
    let (mut count, mut at, mut in_string) = (0, 0, false);
    while at < text.len() {
        match text[at] {
            b'"' => in_string = !in_string,
            b'\\' if in_string => {
                let pair = surrogate(at).filter(|u| *u < 0xdc00).is_some()
                    && surrogate(at + 6).is_some_and(|low| low >= 0xdc00);
                if pair {
                    at += 12;
                    continue;
                }
                if surrogate(at).is_some() {
                    fixed.to_mut()[at + 2..at + 6].copy_from_slice(b"fffd");
                    count += 1;
                }
                // An escape is two bytes at least; `\"` does not end the string.
                at += 2;
                continue;
            }
            _ => {}
        }
        at += 1;
    }
    (fixed, count)
}

/// Objects up to this many members keep their members in order, so that a
/// repeated key finds its first value; larger ones are hash maps, where
/// the last value of a repeated key replaces the first.
pub(crate) const ORDERED_MEMBERS: usize = 32;

/// Whether the text has an object of more than `limit` members: the
/// tree's maps of those are hash maps whatever their unique keys number,
/// so the text, not the tree, tells.
pub(super) fn has_object_over(text: &[u8], limit: usize) -> bool {
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
pub(super) fn repeats_keys(text: &[u8]) -> bool {
    first_members_only(text).len() != text.len()
}

/// JSON text with the repeated members of objects of more than
/// [`ORDERED_MEMBERS`] members left out, the first kept: what the
/// structural index reads, made readable for a tree (smaller objects keep
/// theirs in order, and find the first). Text that is not JSON comes back
/// as it is, for the parser to refuse.
pub(super) fn first_members_only(text: &[u8]) -> Vec<u8> {
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
pub(super) fn copy_value(
    text: &[u8],
    at: &mut usize,
    out: &mut Vec<u8>,
    depth: usize,
) -> Option<()> {
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
pub(super) fn copy_string(text: &[u8], at: &mut usize, out: &mut Vec<u8>) -> Option<()> {
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

pub(super) fn copy_space(text: &[u8], at: &mut usize, out: &mut Vec<u8>) {
    while let Some(&b) = text.get(*at).filter(|b| b.is_ascii_whitespace()) {
        out.push(b);
        *at += 1;
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

/// What is wrong with a text the parser refused. simd-json's own words
/// ("InternalError at character 8") rarely help, so the scanner, which
/// refuses the same texts, names the fault where it can.
pub(crate) fn describe(error: &simd_json::Error, text: &[u8]) -> String {
    match Scanner::default().scan(text, None) {
        Err(malformed) => malformed.to_string(),
        Ok(_) => error.to_string(),
    }
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

pub(super) fn is_json_number(token: &[u8]) -> bool {
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

pub(super) fn fits_64_bits(token: &[u8]) -> bool {
    let text = std::str::from_utf8(token).unwrap_or_default();
    !matches!(
        super::scan::standard_literal(text),
        super::node::View::Big(_)
    )
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
pub(super) fn has_underflow(body: &[u8]) -> bool {
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

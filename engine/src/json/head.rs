//! The top-level members at the head of a body, read while the rest is
//! still arriving.

use super::*;

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
        // A key spelled with an escape may be one of `keys`, which a
        // parse would take first.
        if key.contains(&b'\\') {
            return Leading::Absent;
        }
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

/// The first byte at or after `at` that is not JSON's space (RFC 8259:
/// space, tab, line feed, carriage return).
#[inline(always)]
pub(crate) fn skip_space(body: &[u8], mut at: usize) -> usize {
    while matches!(body.get(at), Some(b' ' | b'\t' | b'\r' | b'\n')) {
        at += 1;
    }
    at
}

/// Where the string starting at `body[at]` (a quote) ends, past its
/// closing quote.
pub(super) fn string_end(body: &[u8], at: usize) -> Option<usize> {
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
pub(super) fn scalar(token: &[u8]) -> Option<Value> {
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

//! Strings holding escapes, unescaped into a buffer beside the page.

use super::*;

/// Unescapes every string of `body` that holds a backslash into `out`,
/// and points the entries of its two quotes there. An offset past the
/// page's end reads from `out`, as if `out` followed the page, so the
/// page itself is not copied and stays as it came for a second scan.
/// `escaped` holds every block with a backslash, in order. The grammar
/// was checked: every backslash is inside a string, so the first entry at
/// or after one is the closing quote of its string, and the entry before
/// that its opening quote.
pub(super) fn unescape_strings(
    body: &[u8],
    positions: &mut [u32],
    escaped: &[Escaped],
    out: &mut Vec<u8>,
) -> Result<usize, Malformed> {
    out.clear();
    let mut lone = 0;
    // Bytes before `from` are done: unescaping a string takes its later
    // backslashes with it, in this block or the next ones.
    let mut from = 0;
    let mut entry = 0;
    for block in escaped {
        let base = block.base as usize;
        let mut backslashes = block.backslashes & bits_from(from, base);
        entry = entry.max(block.entry as usize);
        while backslashes != 0 {
            let backslash = base + backslashes.trailing_zeros() as usize;
            // Only the block's own entries can come before the quote.
            let close = entry
                + positions[entry..]
                    .iter()
                    .take_while(|&&p| (p as usize) < backslash)
                    .count();
            let bad = || Malformed::at("invalid escape in a string", backslash);
            let (Some(open), Some(&quote)) = (close.checked_sub(1), positions.get(close)) else {
                return Err(bad());
            };
            let quote = quote as usize;
            let start = out.len();
            out.extend_from_slice(
                body.get(positions[open] as usize + 1..backslash)
                    .ok_or_else(bad)?,
            );
            lone += unescape(body, backslash, quote, out)?;
            // The content starts one past the opening quote's offset.
            positions[open] = beside(body, start)? - 1;
            positions[close] = beside(body, out.len())?;
            entry = close + 1;
            from = quote + 1;
            backslashes &= bits_from(from, base);
        }
    }
    Ok(lone)
}

/// The offset of byte `at` of the buffer beside `body`.
fn beside(body: &[u8], at: usize) -> Result<u32, Malformed> {
    u32::try_from(body.len() + at).map_err(|_| Malformed {
        what: "a body over 4 GiB with its unescaped strings is too large to scan".to_owned(),
        at: None,
    })
}

/// The bits of the block that starts at `base` for bytes at `from` or
/// after.
fn bits_from(from: usize, base: usize) -> u64 {
    match from.checked_sub(base) {
        None => u64::MAX,
        Some(skipped) => u32::try_from(skipped)
            .ok()
            .and_then(|skipped| u64::MAX.checked_shl(skipped))
            .unwrap_or(0),
    }
}

/// Unescapes `body[from..end]`, whose first byte is a backslash, onto
/// `out`; answers how many lone surrogates became U+FFFD (see
/// [`unicode_escape`]).
pub(super) fn unescape(
    body: &[u8],
    from: usize,
    end: usize,
    out: &mut Vec<u8>,
) -> Result<usize, Malformed> {
    let mut lone = 0;
    let mut read = from;
    while read < end {
        if body[read] != b'\\' {
            let run = memchr::memchr(b'\\', &body[read..end]).unwrap_or(end - read);
            out.extend_from_slice(&body[read..read + run]);
            read += run;
            continue;
        }
        let bad = || Malformed::at("invalid escape in a string", read);
        let plain = match body.get(read + 1).filter(|_| read + 1 < end) {
            Some(b'"') => b'"',
            Some(b'\\') => b'\\',
            Some(b'/') => b'/',
            Some(b'b') => 0x08,
            Some(b'f') => 0x0c,
            Some(b'n') => b'\n',
            Some(b'r') => b'\r',
            Some(b't') => b'\t',
            Some(b'u') => {
                let (c, taken, alone) = unicode_escape(&body[read..end]).ok_or_else(bad)?;
                lone += usize::from(alone);
                out.extend_from_slice(c.encode_utf8(&mut [0u8; 4]).as_bytes());
                read += taken;
                continue;
            }
            _ => return Err(bad()),
        };
        out.push(plain);
        read += 2;
    }
    Ok(lone)
}

/// Unescapes the content of a string, `text`, onto `out`: `None` if an
/// escape is invalid or stands for a lone surrogate, which the page path
/// reads as U+FFFD and counts.
pub(crate) fn unescape_content(text: &[u8], out: &mut Vec<u8>) -> Option<()> {
    let first = memchr::memchr(b'\\', text).unwrap_or(text.len());
    out.extend_from_slice(&text[..first]);
    if first < text.len() && unescape(text, first, text.len(), out).ok()? > 0 {
        return None;
    }
    Some(())
}

/// What a lone surrogate escape becomes. RFC 8259 lets JSON text hold one
/// (`"\ud800"`, from text cut inside a pair), but no UTF-8 text can.
pub(crate) const LONE: char = char::REPLACEMENT_CHARACTER;

/// The character of the `\uXXXX` escape (two, for a surrogate pair) at the
/// start of `text`, the bytes it takes, and whether it was a surrogate
/// without its partner, read as [`LONE`].
pub(super) fn unicode_escape(text: &[u8]) -> Option<(char, usize, bool)> {
    let hex = |at: usize| hex4(text.get(at..at + 4)?);
    let first = hex(2)?;
    match first {
        0xd800..=0xdbff => {
            let second = (text.get(6..8) == Some(b"\\u"))
                .then(|| hex(8))
                .flatten()
                .filter(|second| (0xdc00..=0xdfff).contains(second));
            let Some(second) = second else {
                return Some((LONE, 6, true));
            };
            let c = 0x10000 + ((first - 0xd800) << 10) + (second - 0xdc00);
            Some((char::from_u32(c)?, 12, false))
        }
        0xdc00..=0xdfff => Some((LONE, 6, true)),
        _ => Some((char::from_u32(first)?, 6, false)),
    }
}

/// The value of four hex digits, either case. A byte at a time, without
/// `from_utf8` and `from_str_radix`: on a page of escaped control
/// characters they were most of the escape's cost.
fn hex4(digits: &[u8]) -> Option<u32> {
    let digits: &[u8; 4] = digits.try_into().ok()?;
    let mut value = 0;
    for &b in digits {
        let nibble = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            b'A'..=b'F' => b - b'A' + 10,
            _ => return None,
        };
        value = value << 4 | u32::from(nibble);
    }
    Some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_digits_read_as_the_standard_library_reads_them() {
        for value in 0..=0xffff_u32 {
            for text in [format!("{value:04x}"), format!("{value:04X}")] {
                assert_eq!(hex4(text.as_bytes()), Some(value), "{text}");
            }
        }
        for bad in [b'g', b'G', b'/', b':', b'@', b'`', b'+', b'-', b' ', 0xc3] {
            for at in 0..4 {
                let mut text = *b"0a0F";
                text[at] = bad;
                assert_eq!(hex4(&text), None, "{text:?}");
            }
        }
        assert_eq!(hex4(b"abc"), None);
    }
}

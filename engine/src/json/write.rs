//! JSON text: strings escaped a word at a time, integers and doubles
//! written without a formatter.

use super::*;

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
pub(super) fn whole_millionths(f: f64) -> Option<u64> {
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
pub(super) fn write_millionths(millionths: u64, out: &mut Vec<u8>) {
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

pub(super) fn write_str_or_big(s: &str, out: &mut Vec<u8>) {
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
pub(super) const ESCAPES: [[u8; 8]; 256] = {
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
pub(super) fn tail_word(bytes: &[u8], from: usize) -> u64 {
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
pub(super) fn put_leading_digits(value: u32, out: &mut Vec<u8>) {
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
pub(super) fn eight_digits(value: u32) -> u64 {
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
pub(crate) fn escape_mask(word: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let zeros = |v: u64| v.wrapping_sub(ONES) & !v & HIGHS;
    let below_space = word.wrapping_sub(ONES * 0x20) & !word & HIGHS;
    below_space | zeros(word ^ (ONES * u64::from(b'"'))) | zeros(word ^ (ONES * u64::from(b'\\')))
}

//! Timestamps and dates: RFC 3339, `YYYY-MM-DD HH:MM:SS`, strftime
//! formats and unix seconds or milliseconds.

use super::*;
use crate::json::{ZERO_DIGITS, lane_digits, short_word};

/// 0000-01-01T00:00:00Z and 9999-12-31T23:59:59.999999Z in unix
/// microseconds: the times RFC 3339, which every output writes, can spell.
const RFC_3339_MICROS: std::ops::RangeInclusive<i64> =
    -62_167_219_200_000_000..=253_402_300_799_999_999;

/// `micros` if RFC 3339 can spell it. A time past the year 9999 (unix
/// microseconds read as milliseconds, a typo) is a bad type, not a cell
/// no output can write.
fn in_rfc_3339(micros: i64) -> Option<i64> {
    RFC_3339_MICROS.contains(&micros).then_some(micros)
}

/// Unix seconds, or milliseconds when above 10^11, to microseconds.
pub(super) fn number_to_micros(value: f64) -> Option<i64> {
    let micros = if value.abs() > 1e11 {
        value * 1e3
    } else {
        value * 1e6
    };
    (micros.is_finite() && micros.abs() < 9.2e18).then(|| micros.round() as i64)
}

pub(super) fn to_micros(value: View<'_>, format: Option<&str>) -> Option<i64> {
    let micros = match value {
        View::I64(i) => {
            if i.unsigned_abs() > 100_000_000_000 {
                i.checked_mul(1_000)
            } else {
                i.checked_mul(1_000_000)
            }
        }
        View::U64(u) => to_micros(View::I64(i64::try_from(u).ok()?), format),
        View::F64(f) => number_to_micros(f),
        View::Str(s) => parse_timestamp(s, format),
        _ => None,
    };
    in_rfc_3339(micros?)
}

pub(super) fn parse_timestamp(s: &str, format: Option<&str>) -> Option<i64> {
    let micros = |dt: DateTime<Utc>| -> Option<i64> {
        dt.timestamp()
            .checked_mul(1_000_000)?
            .checked_add(i64::from(dt.timestamp_subsec_micros()))
    };
    if let Some(format) = format {
        if let Ok(dt) = DateTime::parse_from_str(s, format) {
            return micros(dt.with_timezone(&Utc));
        }
        if let Ok(naive) = NaiveDateTime::parse_from_str(s, format) {
            return micros(Utc.from_utc_datetime(&naive));
        }
        if let Ok(date) = NaiveDate::parse_from_str(s, format) {
            return micros(Utc.from_utc_datetime(&date.and_time(NaiveTime::MIN)));
        }
        return None;
    }
    if let Some(micros) = utc_seconds_micros(s.as_bytes()) {
        return Some(micros);
    }
    if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
        return micros(dt.with_timezone(&Utc));
    }
    for naive_format in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(s, naive_format) {
            return micros(Utc.from_utc_datetime(&naive));
        }
    }
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_digit() || b == b'-' || b == b'.')
    {
        return if s.contains('.') {
            number_to_micros(s.parse().ok()?)
        } else {
            to_micros(View::I64(s.parse().ok()?), None)
        };
    }
    None
}

/// The commonest timestamp of APIs, `YYYY-MM-DDTHH:MM:SSZ`, with a
/// fraction of up to nine digits before the `Z` or none, read without
/// chrono's general RFC 3339 parser, which took most of a timestamp
/// column's time; anything else (offsets, a leap second, a date that
/// does not exist) is left to chrono. The fraction is kept to
/// microseconds, as chrono keeps it.
pub(crate) fn utc_seconds_micros(text: &[u8]) -> Option<i64> {
    let (whole, tail) = text.split_first_chunk::<19>()?;
    let micros = match tail {
        [b'Z'] => 0,
        [b'.', fraction @ .., b'Z'] => fraction_micros(fraction)?,
        _ => return None,
    };
    let (year, month, day, of_day) = utc_fields(whole)?;
    let days = days_from_civil(year, month, day);
    Some((days * 86_400 + i64::from(of_day)) * 1_000_000 + micros)
}

/// Whether `text` (no quotes) is a timestamp that every text output
/// writes as the same text, so that it can be copied: as
/// [`utc_seconds_micros`] reads it, of the years 0001 to 9999, its
/// fraction the shortest exact one (none, three digits not all zero, or
/// six whose last three are not all zero).
#[inline(always)]
pub(crate) fn written_as_read(text: &[u8]) -> bool {
    let Some((whole, tail)) = text.split_first_chunk::<19>() else {
        return false;
    };
    let fraction = match tail {
        [b'Z'] => true,
        [b'.', fraction @ .., b'Z'] => {
            matches!(fraction.len(), 3 | 6)
                && !fraction.ends_with(b"000")
                && fraction_micros(fraction).is_some()
        }
        _ => false,
    };
    fraction && utc_fields(whole).is_some_and(|(year, ..)| year > 0)
}

/// The year, month, day and second of the day of `YYYY-MM-DDTHH:MM:SS`,
/// if it is a time that exists (no leap second).
///
/// The text is read in words: its digits checked and its separators
/// compared a word at a time, not a byte at a time.
#[inline(always)]
fn utc_fields(whole: &[u8; 19]) -> Option<(u32, u32, u32, u32)> {
    let word = |at: usize| u64::from_le_bytes(whole[at..at + 8].try_into().expect("eight bytes"));
    // `YYYY-MM-`, `DDTHH:MM` and `M:SS` (the minute's last digit again).
    let (date, time) = (word(0), word(8));
    let last = u32::from_le_bytes(whole[15..19].try_into().expect("four bytes"));
    let separators = date & 0xff00_00ff_0000_0000 == 0x2d00_002d_0000_0000
        && time & 0x0000_ff00_00ff_0000 == 0x0000_3a00_0054_0000
        && last & 0x0000_ff00 == 0x0000_3a00;
    let date = lane_digits(date, 0x00ff_ff00_ffff_ffff)?;
    let time = lane_digits(time, 0xffff_00ff_ff00_ffff)?;
    let last = lane_digits(u64::from(last), 0xffff_0000)?;
    if !separators {
        return None;
    }
    let [y0, y1, y2, y3, _, m0, m1, _] = date.to_le_bytes().map(u32::from);
    let [d0, d1, _, h0, h1, _, n0, n1] = time.to_le_bytes().map(u32::from);
    let [_, _, s0, s1, ..] = last.to_le_bytes().map(u32::from);
    let year = y0 * 1000 + y1 * 100 + y2 * 10 + y3;
    let (month, day) = (m0 * 10 + m1, d0 * 10 + d1);
    let (hour, minute, second) = (h0 * 10 + h1, n0 * 10 + n1, s0 * 10 + s1);
    let month_days = match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        1..=12 => 31,
        _ => return None,
    };
    if day == 0 || day > month_days || hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    Some((year, month, day, hour * 3600 + minute * 60 + second))
}

/// Days from 1970-01-01 to a date of years 0 to 9999, by Howard
/// Hinnant's `days_from_civil`, with years counted from March. In
/// unsigned 32 bits, where dividing by a constant is a multiply: the
/// year is moved 400 years on, so that January and February of year 0
/// (counted in the year before) stay above zero, and that era's days
/// are taken back at the end.
fn days_from_civil(year: u32, month: u32, day: u32) -> i64 {
    let shifted = year + 400 - u32::from(month <= 2);
    let era = shifted / 400;
    let year_of_era = shifted - era * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    i64::from(era * 146_097 + day_of_era) - 146_097 - 719_468
}

/// The microseconds of a fraction's digits (one to nine), those past the
/// sixth dropped; `None` if one is not a digit. The first eight are read
/// as one word, padded with `0`s.
fn fraction_micros(fraction: &[u8]) -> Option<i64> {
    let first = |bytes: &[u8]| u64::from_le_bytes(bytes[..8].try_into().expect("eight bytes"));
    let (eight, ninth) = match fraction.len() {
        n @ 1..=7 => (short_word(fraction) | ZERO_DIGITS << (8 * n), b'0'),
        8 => (first(fraction), b'0'),
        9 => (first(fraction), fraction[8]),
        _ => return None,
    };
    let digits = lane_digits(eight, u64::MAX)?;
    ninth
        .is_ascii_digit()
        .then(|| eight_digits_value(digits) as i64 / 100)
}

/// The number eight digit values make, the first in the lowest byte:
/// pairs, then fours, then the eight, each step a multiply whose
/// carries out of the word are not wanted.
fn eight_digits_value(digits: u64) -> u64 {
    let pairs = digits.wrapping_mul(10 << 8 | 1) >> 8 & 0x00ff_00ff_00ff_00ff;
    let fours = pairs.wrapping_mul(100 << 16 | 1) >> 16 & 0x0000_ffff_0000_ffff;
    fours.wrapping_mul(10_000 << 32 | 1) >> 32
}

pub(super) fn to_date(value: View<'_>, format: Option<&str>) -> Option<i32> {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1)?;
    let days = |date: NaiveDate| i32::try_from((date - epoch).num_days()).ok();
    if let (View::Str(s), None) = (value, format)
        && let Ok(date) = NaiveDate::parse_from_str(s, "%Y-%m-%d")
    {
        return days(date);
    }
    if let (View::Str(s), Some(format)) = (value, format)
        && let Ok(date) = NaiveDate::parse_from_str(s, format)
    {
        return days(date);
    }
    // A datetime is a date only at midnight (UTC): anything else would
    // lose its time.
    let micros = to_micros(value, format)?;
    if micros.rem_euclid(86_400_000_000) != 0 {
        return None;
    }
    i32::try_from(micros.div_euclid(86_400_000_000)).ok()
}

//! Timestamps and dates: RFC 3339, `YYYY-MM-DD HH:MM:SS`, strftime
//! formats and unix seconds or milliseconds.

use super::*;

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
    match value {
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
    }
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
pub(super) fn utc_seconds_micros(text: &[u8]) -> Option<i64> {
    let (whole, tail) = text.split_first_chunk::<19>()?;
    let micros = match tail {
        [b'Z'] => 0,
        [b'.', fraction @ .., b'Z'] if (1..=9).contains(&fraction.len()) => {
            fraction_micros(fraction)?
        }
        _ => return None,
    };
    // The fourteen digits' values, checked at once by their largest: a
    // byte that is not a digit is above 9 once `0` is taken from it.
    let d = |i: usize| u32::from(whole[i].wrapping_sub(b'0'));
    let digits = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18].map(d);
    if digits.iter().max() > Some(&9)
        || [whole[4], whole[7], whole[10], whole[13], whole[16]] != *b"--T::"
    {
        return None;
    }
    let [y0, y1, y2, y3, m0, m1, d0, d1, h0, h1, n0, n1, s0, s1] = digits;
    let year = y0 * 1000 + y1 * 100 + y2 * 10 + y3;
    let (month, day) = (m0 * 10 + m1, d0 * 10 + d1);
    let (hour, minute, second) = (h0 * 10 + h1, n0 * 10 + n1, s0 * 10 + s1);
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let month_days = match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        1..=12 => 31,
        _ => return None,
    };
    if day == 0 || day > month_days || hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    // Days from 1970-01-01 to the date, by Howard Hinnant's
    // `days_from_civil`, with years counted from March.
    let shifted = i64::from(year) - i64::from(month <= 2);
    let era = shifted.div_euclid(400);
    let year_of_era = shifted - era * 400;
    let day_of_year = i64::from((153 * ((month + 9) % 12) + 2) / 5 + day - 1);
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    let days = era * 146_097 + day_of_era - 719_468;
    let seconds = days * 86_400 + i64::from(hour * 3600 + minute * 60 + second);
    Some(seconds * 1_000_000 + micros)
}

/// The microseconds of a fraction's digits (one to nine), those past the
/// sixth dropped; `None` if one is not a digit.
fn fraction_micros(fraction: &[u8]) -> Option<i64> {
    let mut micros = 0;
    for place in 0..6 {
        let digit = fraction.get(place).map_or(Some(0), |&b| {
            b.is_ascii_digit().then(|| i64::from(b - b'0'))
        })?;
        micros = micros * 10 + digit;
    }
    fraction
        .get(6..)
        .is_none_or(|rest| rest.iter().all(u8::is_ascii_digit))
        .then_some(micros)
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

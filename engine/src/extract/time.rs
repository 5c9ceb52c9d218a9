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

/// The commonest timestamp of APIs, `YYYY-MM-DDTHH:MM:SSZ`, read
/// without chrono's general RFC 3339 parser, which took most of a
/// timestamp column's time; anything else (fractions, offsets, a leap
/// second, a date that does not exist) is left to chrono.
pub(super) fn utc_seconds_micros(text: &[u8]) -> Option<i64> {
    // `…SS.fffZ`: the fraction, up to nine digits, kept to microseconds
    // as chrono keeps it.
    if text.len() > 21 && text[19] == b'.' && text.len() <= 30 {
        let (whole, fraction) = (&text[..19], &text[20..text.len() - 1]);
        if text[text.len() - 1] != b'Z' || !fraction.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let mut seconds = [b'Z'; 20];
        seconds[..19].copy_from_slice(whole);
        let micros = fraction
            .iter()
            .chain(std::iter::repeat(&b'0'))
            .take(6)
            .fold(0i64, |v, &d| v * 10 + i64::from(d - b'0'));
        return utc_seconds_micros(&seconds).map(|s| s + micros);
    }
    let [
        y0,
        y1,
        y2,
        y3,
        b'-',
        m0,
        m1,
        b'-',
        d0,
        d1,
        b'T',
        h0,
        h1,
        b':',
        n0,
        n1,
        b':',
        s0,
        s1,
        b'Z',
    ] = *text
    else {
        return None;
    };
    let digits = |ds: &[u8]| {
        ds.iter().try_fold(0u32, |v, &d| {
            d.is_ascii_digit().then(|| v * 10 + u32::from(d - b'0'))
        })
    };
    let year = digits(&[y0, y1, y2, y3])?;
    let (month, day) = (digits(&[m0, m1])?, digits(&[d0, d1])?);
    let (hour, minute, second) = (digits(&[h0, h1])?, digits(&[n0, n1])?, digits(&[s0, s1])?);
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
    Some(seconds * 1_000_000)
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

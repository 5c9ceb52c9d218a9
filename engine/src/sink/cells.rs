//! The JSON text of typed cells: numbers, dates and timestamps written
//! without a formatter.

use super::*;

/// One cell as JSON text, on its own.
pub(crate) fn write_json_cell(cell: &Cell<'_>, out: &mut Vec<u8>) {
    write_json_cell_in(cell, &mut Hours::default(), out);
}

/// One cell of a page's rows as JSON text; `hours` is kept from row to
/// row. Inlined, so that the row loop of `NdjsonEncoder::encode` holds
/// each cell's match rather than a call per cell (`encode/wide` 810 → 734
/// ns a record, `escapes` 104 → 99, `nested` 78 → 71).
#[inline(always)]
pub(crate) fn write_json_cell_in(cell: &Cell<'_>, hours: &mut Hours, out: &mut Vec<u8>) {
    match cell {
        Cell::Null => out.extend_from_slice(b"null"),
        Cell::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Cell::Int(i) => write_int(*i, out),
        Cell::Float(f) => write_f32(*f, out),
        Cell::Double(d) => write_f64(*d, out),
        Cell::DoubleText(_, text) => put_short(out, text.as_bytes()),
        Cell::Str(s) => write_str(s, out),
        Cell::Json(text) => out.extend_from_slice(text),
        Cell::Date(_) | Cell::Timestamp(_) | Cell::Binary(_) => {
            out.push(b'"');
            write_string_text(cell, hours, out);
            out.push(b'"');
        }
    }
}

/// The text of a cell that JSON writes as a string of it, which CSV
/// writes bare: a date, a timestamp, bytes in base64. `false`, and
/// nothing written, for any other cell.
#[inline(always)]
pub(crate) fn write_string_text(cell: &Cell<'_>, hours: &mut Hours, out: &mut Vec<u8>) -> bool {
    match cell {
        Cell::Date(days) => write_date(*days, out),
        Cell::Timestamp(micros) => write_timestamp_in(*micros, hours, out),
        Cell::Binary(bytes) => out.extend_from_slice(
            base64::engine::general_purpose::STANDARD
                .encode(bytes)
                .as_bytes(),
        ),
        _ => return false,
    }
    true
}

pub(super) fn write_f32(f: f32, out: &mut Vec<u8>) {
    if f.is_finite() {
        put_short(out, zmij::Buffer::new().format_finite(f).as_bytes());
    } else {
        out.extend_from_slice(b"null");
    }
}

/// `YYYY-MM-DD`.
pub(crate) fn write_date(days: i32, out: &mut Vec<u8>) {
    if let Some((year, month, day)) = civil_date(i64::from(days)) {
        out.extend_from_slice(&year_month(year, month).to_le_bytes());
        out.extend_from_slice(&(two_digits(day) as u16).to_le_bytes());
        return;
    }
    // Years past 9999 or before 0: chrono's extended form.
    let date = chrono::NaiveDate::from_ymd_opt(1970, 1, 1)
        .and_then(|epoch| epoch.checked_add_signed(chrono::TimeDelta::days(i64::from(days))));
    match date {
        Some(date) => out.extend_from_slice(date.format("%Y-%m-%d").to_string().as_bytes()),
        None => out.extend_from_slice(b"invalid-date"),
    }
}

/// [`write_timestamp_in`] of a year past 9999 or before 0, in chrono's
/// extended form of the date.
#[cold]
fn write_far_timestamp(micros: i64, out: &mut Vec<u8>) {
    let Some(dt) = chrono::DateTime::from_timestamp_micros(micros) else {
        out.extend_from_slice(b"invalid-timestamp");
        return;
    };
    out.extend_from_slice(dt.format("%Y-%m-%dT%H:%M").to_string().as_bytes());
    let seconds = micros.div_euclid(1_000_000);
    write_seconds(
        seconds.rem_euclid(60) as u32,
        micros.rem_euclid(1_000_000) as u32,
        out,
    );
}

/// The text of the hour the last timestamp written fell in: the records
/// of a page mostly fall in a few hours, and the date's arithmetic is
/// most of what a timestamp costs to write. Kept for a page's rows.
#[derive(Debug, Default)]
pub(crate) struct Hours {
    /// Hours since 1970-01-01T00:00Z, and its `YYYY-MM-` and `DDTHH:`.
    last: Option<(i64, u64, u64)>,
}

/// A timestamp as RFC 3339 in UTC with `Z`: no fraction, milliseconds,
/// or microseconds, whichever is the shortest exact form. The date and
/// hour come from `hours` when the timestamp falls in the same hour as
/// the one written before.
///
/// The text is put together in words, in registers, and each word stored
/// once: text built a byte at a time on the stack and then copied out is
/// read before its bytes have left the store queue, which stalls.
#[inline(always)]
pub(crate) fn write_timestamp_in(micros: i64, hours: &mut Hours, out: &mut Vec<u8>) {
    let seconds = micros.div_euclid(1_000_000);
    let hour = seconds.div_euclid(3600);
    let (year_month, day_hour) = match hours.last {
        Some((last, year_month, day_hour)) if last == hour => (year_month, day_hour),
        _ => {
            let Some((year, month, day)) = civil_date(hour.div_euclid(24)) else {
                write_far_timestamp(micros, out);
                return;
            };
            let day_hour = two_digits(day)
                | u64::from(b'T') << 16
                | two_digits(hour.rem_euclid(24) as u32) << 24
                | u64::from(b':') << 40;
            let year_month = year_month(year, month);
            hours.last = Some((hour, year_month, day_hour));
            (year_month, day_hour)
        }
    };
    let of_hour = (seconds - hour * 3600) as u32;
    out.extend_from_slice(&year_month.to_le_bytes());
    out.extend_from_slice(&(day_hour | two_digits(of_hour / 60) << 48).to_le_bytes());
    write_seconds(of_hour % 60, micros.rem_euclid(1_000_000) as u32, out);
}

/// `:SS` and the shortest exact fraction, then `Z`.
pub(super) fn write_seconds(second: u32, fraction: u32, out: &mut Vec<u8>) {
    let seconds = u64::from(b':') | two_digits(second) << 8;
    if fraction == 0 {
        let word = seconds | u64::from(b'Z') << 24;
        out.extend_from_slice(&(word as u32).to_le_bytes());
    } else if fraction.is_multiple_of(1000) {
        let millis = fraction / 1000;
        let word = seconds
            | u64::from(b'.') << 24
            | u64::from(b'0' + (millis / 100) as u8) << 32
            | two_digits(millis % 100) << 40
            | u64::from(b'Z') << 56;
        out.extend_from_slice(&word.to_le_bytes());
    } else {
        let word = seconds
            | u64::from(b'.') << 24
            | two_digits(fraction / 10_000) << 32
            | two_digits(fraction / 100 % 100) << 48;
        out.extend_from_slice(&word.to_le_bytes());
        let last = two_digits(fraction % 100) | u64::from(b'Z') << 16;
        out.extend_from_slice(&last.to_le_bytes()[..3]);
    }
}

/// `YYYY-MM-` as the bytes of a little-endian word.
pub(super) fn year_month(year: u32, month: u32) -> u64 {
    two_digits(year / 100)
        | two_digits(year % 100) << 16
        | u64::from(b'-') << 32
        | two_digits(month) << 40
        | u64::from(b'-') << 56
}

/// The two ASCII digits of `value` (under 100), first digit in the low
/// byte.
pub(super) fn two_digits(value: u32) -> u64 {
    u64::from(b'0' + (value / 10) as u8) | u64::from(b'0' + (value % 10) as u8) << 8
}

/// The year, month and day of days since 1970-01-01 (Howard Hinnant's
/// `civil_from_days`), by hand: chrono's formatter costs hundreds of
/// nanoseconds a value. `None` for years outside 0..=9999 and for January
/// and February of year 0, which are left to chrono.
pub(super) fn civil_date(days: i64) -> Option<(u32, u32, u32)> {
    // Days from 0000-03-01, in unsigned 32 bits for years 0 to 9999: the
    // divisions by constants are then a multiply and a shift each, where
    // signed 64-bit ones need fix-ups.
    let z = days
        .checked_add(719_468)
        .and_then(|z| u32::try_from(z).ok())
        .filter(|&z| z < 146_097 * 25)?;
    let era = z / 146_097;
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + u32::from(month <= 2);
    (year <= 9999).then_some((year, month, day))
}

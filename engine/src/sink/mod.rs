//! Data out: the [`Sink`] trait and the NDJSON, CSV and raw writers.
//!
//! Files are written to `PATH.partial` and renamed to `PATH` only when the
//! run succeeds, so a file at `PATH` is always complete.

use std::io::{self, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use base64::Engine as _;

use crate::extract::{Batch, Cell, ColumnSpec};
use crate::job::{Output, OutputFormat};
use crate::json::{put_short, write_f64, write_int, write_str};

#[cfg(feature = "arrow")]
pub(crate) mod arrow;
mod file;
#[cfg(feature = "parquet")]
pub(crate) mod parquet;

pub(crate) use file::{Destination, Mark};

/// One page on its way out.
#[derive(Debug)]
pub(crate) struct PageOut<'p> {
    /// The response body as received (decoded).
    pub body: &'p [u8],
    pub columns: &'p [ColumnSpec],
    pub batch: &'p Batch<'p>,
}

/// Where records go.
pub(crate) trait Sink {
    /// Writes one page.
    fn page(&mut self, page: &PageOut<'_>) -> io::Result<()>;
    /// Writes rows already encoded by this sink's [`PageEncoder`], which a
    /// worker thread ran beside the fetch.
    fn encoded(&mut self, rows: &[u8]) -> io::Result<()> {
        let _ = rows;
        Err(io::Error::other(
            "this output format takes no pre-encoded rows",
        ))
    }
    /// The columns grew or widened (inferred columns of NDJSON, widened
    /// types of CSV): the pages after this one have these.
    fn columns_changed(&mut self, columns: &[ColumnSpec]) -> io::Result<()> {
        let _ = columns;
        Ok(())
    }
    /// Makes everything written so far durable and answers the length and
    /// digest of the output: what a checkpoint may count on after a crash.
    fn checkpoint(&mut self) -> io::Result<Mark>;
    /// Flushes everything; a file output is renamed into place.
    fn finish(self: Box<Self>) -> io::Result<()>;
}

/// Encodes rows as JSON objects, columns in order.
#[derive(Debug)]
pub(crate) struct NdjsonEncoder {
    keys: Vec<Key>,
}

/// Bytes copied for a key that fits: a fixed-size copy is a few moves,
/// where a copy of any length is a call, and keys are most of the calls
/// of a row of numbers.
/// Padded ahead of time, a key is one copy of the whole chunk, fewer moves
/// than [`put_short`]'s two overlapping ones (`encode/nested` 79 against
/// 87 ns a record).
const KEY_CHUNK: usize = 32;

/// `{"name":` for the first column, `,"name":` for the others, padded to
/// [`KEY_CHUNK`] when shorter.
#[derive(Debug)]
struct Key {
    padded: Vec<u8>,
    len: usize,
}

impl Key {
    fn new(text: Vec<u8>) -> Key {
        let len = text.len();
        let mut padded = text;
        if len <= KEY_CHUNK {
            padded.resize(KEY_CHUNK, 0);
        }
        Key { padded, len }
    }

    fn put(&self, out: &mut Vec<u8>) {
        match <&[u8; KEY_CHUNK]>::try_from(self.padded.as_slice()) {
            Ok(chunk) => {
                out.extend_from_slice(chunk);
                out.truncate(out.len() - KEY_CHUNK + self.len);
            }
            Err(_) => out.extend_from_slice(&self.padded),
        }
    }
}

impl NdjsonEncoder {
    pub(crate) fn new(columns: &[ColumnSpec]) -> NdjsonEncoder {
        let keys = columns
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let mut key = vec![if i == 0 { b'{' } else { b',' }];
                write_str(&c.name, &mut key);
                key.push(b':');
                Key::new(key)
            })
            .collect();
        NdjsonEncoder { keys }
    }

    /// Appends one row and its line break to `out`.
    pub(crate) fn encode(&self, cells: &[Cell<'_>], out: &mut Vec<u8>) {
        for (key, cell) in self.keys.iter().zip(cells) {
            key.put(out);
            write_json_cell(cell, out);
        }
        if self.keys.is_empty() {
            out.push(b'{');
        }
        out.extend_from_slice(b"}\n");
    }
}

/// The rows of a page as text lines, for the formats that are text: the
/// same for a sink and for a worker encoding pages ahead of it.
#[derive(Debug)]
pub(crate) enum PageEncoder {
    Ndjson(NdjsonEncoder),
    Csv { delimiter: u8 },
}

impl PageEncoder {
    /// The encoder of a job's output, if its format is text.
    pub(crate) fn for_output(output: &Output, columns: &[ColumnSpec]) -> Option<PageEncoder> {
        match output.format {
            OutputFormat::Ndjson => Some(PageEncoder::Ndjson(NdjsonEncoder::new(columns))),
            OutputFormat::Csv => Some(PageEncoder::Csv {
                delimiter: output.csv_delimiter,
            }),
            OutputFormat::Raw | OutputFormat::Parquet => None,
        }
    }

    /// Appends every row of `batch` to `out`, one line each.
    pub(crate) fn encode(&self, batch: &Batch<'_>, width: usize, out: &mut Vec<u8>) {
        let mut field = Vec::new();
        for row in 0..batch.rows {
            self.encode_row(batch.row(row, width), &mut field, out);
        }
    }

    fn encode_row(&self, cells: &[Cell<'_>], field: &mut Vec<u8>, out: &mut Vec<u8>) {
        match self {
            PageEncoder::Ndjson(encoder) => encoder.encode(cells, out),
            PageEncoder::Csv { delimiter } => encode_csv_row(cells, *delimiter, field, out),
        }
    }
}

/// Inlined, so that the row loop of [`NdjsonEncoder::encode`] holds each
/// cell's match rather than a call per cell (`encode/wide` 810 → 734 ns a
/// record, `escapes` 104 → 99, `nested` 78 → 71).
#[inline(always)]
pub(crate) fn write_json_cell(cell: &Cell<'_>, out: &mut Vec<u8>) {
    match cell {
        Cell::Null => out.extend_from_slice(b"null"),
        Cell::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Cell::Int(i) => write_int(*i, out),
        Cell::Float(f) => write_f32(*f, out),
        Cell::Double(d) => write_f64(*d, out),
        Cell::Str(s) => write_str(s, out),
        Cell::Json(text) => out.extend_from_slice(text),
        Cell::Date(days) => {
            out.push(b'"');
            write_date(*days, out);
            out.push(b'"');
        }
        Cell::Timestamp(micros) => {
            out.push(b'"');
            write_timestamp(*micros, out);
            out.push(b'"');
        }
        Cell::Binary(bytes) => {
            out.push(b'"');
            out.extend_from_slice(
                base64::engine::general_purpose::STANDARD
                    .encode(bytes)
                    .as_bytes(),
            );
            out.push(b'"');
        }
    }
}

fn write_f32(f: f32, out: &mut Vec<u8>) {
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

/// RFC 3339 in UTC with `Z`: no fraction, milliseconds, or microseconds,
/// whichever is the shortest exact form.
pub(crate) fn write_timestamp(micros: i64, out: &mut Vec<u8>) {
    let seconds = micros.div_euclid(1_000_000);
    let of_day = seconds.rem_euclid(86_400) as u32;
    let fraction = micros.rem_euclid(1_000_000) as u32;
    let (hour, minute, second) = (of_day / 3600, of_day / 60 % 60, of_day % 60);
    // The text is put together in words, in registers, and each word
    // stored once: text built a byte at a time on the stack and then
    // copied out is read before its bytes have left the store queue,
    // which stalls.
    let time = |day: u32| {
        two_digits(day)
            | u64::from(b'T') << 16
            | two_digits(hour) << 24
            | u64::from(b':') << 40
            | two_digits(minute) << 48
    };
    let Some((year, month, day)) = civil_date(seconds.div_euclid(86_400)) else {
        let Some(dt) = chrono::DateTime::from_timestamp_micros(micros) else {
            out.extend_from_slice(b"invalid-timestamp");
            return;
        };
        out.extend_from_slice(dt.format("%Y-%m-%d").to_string().as_bytes());
        // `THH:MM` of the word after the date's two digits of day.
        out.extend_from_slice(&time(0).to_le_bytes()[2..]);
        write_seconds(second, fraction, out);
        return;
    };
    out.extend_from_slice(&year_month(year, month).to_le_bytes());
    out.extend_from_slice(&time(day).to_le_bytes());
    write_seconds(second, fraction, out);
}

/// `:SS` and the shortest exact fraction, then `Z`.
fn write_seconds(second: u32, fraction: u32, out: &mut Vec<u8>) {
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
fn year_month(year: u32, month: u32) -> u64 {
    two_digits(year / 100)
        | two_digits(year % 100) << 16
        | u64::from(b'-') << 32
        | two_digits(month) << 40
        | u64::from(b'-') << 56
}

/// The two ASCII digits of `value` (under 100), first digit in the low
/// byte.
fn two_digits(value: u32) -> u64 {
    u64::from(b'0' + (value / 10) as u8) | u64::from(b'0' + (value % 10) as u8) << 8
}

/// The year, month and day of days since 1970-01-01 (Howard Hinnant's
/// `civil_from_days`), by hand: chrono's formatter costs hundreds of
/// nanoseconds a value. `None` for years outside 0..=9999 and for January
/// and February of year 0, which are left to chrono.
fn civil_date(days: i64) -> Option<(u32, u32, u32)> {
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

/// NDJSON (one object per record) or CSV (a header row unless turned off,
/// RFC 4180 quoting, `\n` line ends; a null is an empty field, an empty
/// string or binary `""`): the text formats, rows encoded by a
/// [`PageEncoder`].
#[derive(Debug)]
pub(crate) struct TextSink {
    out: Destination,
    encoder: PageEncoder,
    /// Written before the first row, or at the end if there is none.
    header: Option<Vec<u8>>,
    buffer: Vec<u8>,
}

impl TextSink {
    pub(crate) fn ndjson(out: Destination, columns: &[ColumnSpec]) -> TextSink {
        TextSink::new(out, PageEncoder::Ndjson(NdjsonEncoder::new(columns)), None)
    }

    /// The header goes first, unless the destination is a resumed file,
    /// which has it already.
    pub(crate) fn csv(
        out: Destination,
        columns: &[ColumnSpec],
        delimiter: u8,
        header: bool,
    ) -> TextSink {
        let header = (header && out.start == 0).then(|| {
            let mut line = Vec::new();
            for (i, c) in columns.iter().enumerate() {
                if i > 0 {
                    line.push(delimiter);
                }
                write_csv_field(c.name.as_bytes(), delimiter, false, &mut line);
            }
            line.push(b'\n');
            line
        });
        TextSink::new(out, PageEncoder::Csv { delimiter }, header)
    }

    fn new(out: Destination, encoder: PageEncoder, header: Option<Vec<u8>>) -> TextSink {
        TextSink {
            out,
            encoder,
            header,
            buffer: Vec::new(),
        }
    }

    fn write_header(&mut self) -> io::Result<()> {
        if let Some(header) = self.header.take() {
            self.out.writer.write_all(&header)?;
        }
        Ok(())
    }
}

impl Sink for TextSink {
    fn page(&mut self, page: &PageOut<'_>) -> io::Result<()> {
        self.write_header()?;
        self.buffer.clear();
        self.encoder
            .encode(page.batch, page.columns.len(), &mut self.buffer);
        self.out.writer.write_all(&self.buffer)
    }

    fn encoded(&mut self, rows: &[u8]) -> io::Result<()> {
        self.write_header()?;
        self.out.writer.write_all(rows)
    }

    fn columns_changed(&mut self, columns: &[ColumnSpec]) -> io::Result<()> {
        if let PageEncoder::Ndjson(_) = self.encoder {
            self.encoder = PageEncoder::Ndjson(NdjsonEncoder::new(columns));
        }
        Ok(())
    }

    fn checkpoint(&mut self) -> io::Result<Mark> {
        self.out.checkpoint()
    }

    fn finish(mut self: Box<Self>) -> io::Result<()> {
        self.write_header()?;
        self.out.commit()
    }
}

/// Appends one CSV line: a null is an empty field, any other empty value
/// is `""`.
fn encode_csv_row(cells: &[Cell<'_>], delimiter: u8, field: &mut Vec<u8>, out: &mut Vec<u8>) {
    for (i, cell) in cells.iter().enumerate() {
        if i > 0 {
            out.push(delimiter);
        }
        field.clear();
        let text: &[u8] = match cell {
            Cell::Null => continue,
            Cell::Str(s) => s.as_bytes(),
            Cell::Json(text) => text,
            other => {
                write_json_cell(other, field);
                if matches!(other, Cell::Date(_) | Cell::Timestamp(_) | Cell::Binary(_)) {
                    // Written quoted as JSON strings; CSV wants the bare text.
                    field.remove(0);
                    field.pop();
                }
                field
            }
        };
        write_csv_field(text, delimiter, text.is_empty(), out);
    }
    out.push(b'\n');
}

fn write_csv_field(text: &[u8], delimiter: u8, force_quotes: bool, out: &mut Vec<u8>) {
    let quote = force_quotes
        || text
            .iter()
            .any(|&b| b == delimiter || b == b'"' || b == b'\n' || b == b'\r');
    if !quote {
        out.extend_from_slice(text);
        return;
    }
    out.push(b'"');
    for &b in text {
        if b == b'"' {
            out.push(b'"');
        }
        out.push(b);
    }
    out.push(b'"');
}

/// Each response body as is, one per line (line breaks, which valid JSON
/// holds only between tokens, are dropped).
#[derive(Debug)]
pub(crate) struct RawSink {
    out: Destination,
}

impl RawSink {
    pub(crate) fn new(out: Destination) -> RawSink {
        RawSink { out }
    }
}

impl Sink for RawSink {
    fn page(&mut self, page: &PageOut<'_>) -> io::Result<()> {
        let body = page.body;
        let mut start = 0;
        for (i, &b) in body.iter().enumerate() {
            if b == b'\n' || b == b'\r' {
                self.out.writer.write_all(&body[start..i])?;
                start = i + 1;
            }
        }
        self.out.writer.write_all(&body[start..])?;
        self.out.writer.write_all(b"\n")
    }

    fn checkpoint(&mut self) -> io::Result<Mark> {
        self.out.checkpoint()
    }

    fn finish(self: Box<Self>) -> io::Result<()> {
        self.out.commit()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_use_the_shortest_exact_fraction() {
        let noon = 1_709_294_400_000_000;
        let text = |m| {
            let mut out = Vec::new();
            write_timestamp(m, &mut out);
            String::from_utf8(out).unwrap()
        };
        assert_eq!(text(noon), "2024-03-01T12:00:00Z");
        assert_eq!(text(noon + 250_000), "2024-03-01T12:00:00.250Z");
        assert_eq!(text(noon + 1), "2024-03-01T12:00:00.000001Z");
        assert_eq!(text(-1), "1969-12-31T23:59:59.999999Z");
        let far = 4_000_000 * 86_400 * 1_000_000;
        assert_eq!(text(far + 1_500_000), "+12921-08-18T00:00:01.500Z");
    }

    #[test]
    fn dates_and_times_agree_with_chrono_from_year_0_to_9999() {
        // Every 1 000 003 seconds (not a whole number of days) from year 0
        // to 9999, and the edges around them.
        let first = chrono::NaiveDate::from_ymd_opt(0, 1, 1)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap()
            .and_utc()
            .timestamp();
        let last = first + 10_000 * 366 * 86_400;
        let mut checked = 0;
        for seconds in (first..last).step_by(1_000_003).chain([-1, 0, 951_782_400]) {
            let Some(expected) = chrono::DateTime::from_timestamp(seconds, 0) else {
                continue;
            };
            let mut out = Vec::new();
            write_timestamp(seconds * 1_000_000, &mut out);
            let whole = expected.format("%Y-%m-%dT%H:%M:%SZ").to_string();
            assert_eq!(String::from_utf8(out).unwrap(), whole);
            // Fractions of every length: microseconds and milliseconds.
            for fraction in [
                seconds.rem_euclid(1_000_000),
                seconds.rem_euclid(1000) * 1000,
            ] {
                let micros = seconds * 1_000_000 + fraction;
                let mut out = Vec::new();
                write_timestamp(micros, &mut out);
                let expected = chrono::DateTime::from_timestamp_micros(micros)
                    .unwrap()
                    .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true);
                assert_eq!(String::from_utf8(out).unwrap(), expected);
            }
            let expected = whole;
            let mut date = Vec::new();
            write_date(seconds.div_euclid(86_400) as i32, &mut date);
            assert_eq!(
                String::from_utf8(date).unwrap(),
                expected[..expected.len() - 10]
            );
            checked += 1;
        }
        assert!(checked > 300_000);
        let mut far = Vec::new();
        write_date(4_000_000, &mut far);
        assert_eq!(String::from_utf8(far).unwrap(), "+12921-08-18");
    }

    #[test]
    fn csv_quoting() {
        let mut out = Vec::new();
        write_csv_field(b"a,b", b',', false, &mut out);
        out.push(b'|');
        write_csv_field(b"say \"hi\"", b',', false, &mut out);
        out.push(b'|');
        write_csv_field(b"", b',', true, &mut out);
        out.push(b'|');
        write_csv_field(b"plain", b',', false, &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "\"a,b\"|\"say \"\"hi\"\"\"|\"\"|plain"
        );
    }
}

/// A writer that keeps only the count of bytes written.
#[derive(Debug, Clone, Default)]
pub(crate) struct Counted(pub Arc<AtomicU64>);

impl Write for Counted {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.fetch_add(buf.len() as u64, Ordering::Relaxed);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

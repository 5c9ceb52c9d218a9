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
mod behind;
mod cells;
mod compress;
#[cfg(target_os = "linux")]
mod direct;
mod file;
mod ndjson;
#[cfg(feature = "parquet")]
pub(crate) mod parquet;
mod raw;
mod text;

pub(crate) use cells::{Hours, write_json_cell};
use cells::{write_json_cell_in, write_string_text};
pub(crate) use file::{Destination, Mark, partial_path, written_in_place};
pub(crate) use ndjson::NdjsonEncoder;
pub(crate) use raw::{RawSink, without_line_breaks};
pub(crate) use text::TextSink;
use text::*;

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
    fn encoded(&mut self, rows: Vec<u8>) -> io::Result<()> {
        let _ = rows;
        Err(io::Error::other(
            "this output format takes no pre-encoded rows",
        ))
    }
    /// Writes a page's rows that a worker made into an Arrow batch.
    #[cfg(feature = "parquet")]
    fn encoded_batch(&mut self, batch: arrow_array::RecordBatch) -> io::Result<()> {
        let _ = batch;
        Err(io::Error::other(
            "this output format takes no Arrow batches",
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

/// The rows of a page as text lines, for the formats that are text: the
/// same for a sink and for a worker encoding pages ahead of it.
#[derive(Debug)]
pub(crate) enum TextEncoder {
    Ndjson(NdjsonEncoder),
    Csv { delimiter: u8 },
}

impl TextEncoder {
    /// Appends every row of `batch` to `out`, one line each.
    pub(crate) fn encode(&self, batch: &Batch<'_>, width: usize, out: &mut Vec<u8>) {
        let mut field = Vec::new();
        let mut hours = Hours::default();
        for row in 0..batch.rows {
            let cells = batch.row(row, width);
            match self {
                TextEncoder::Ndjson(encoder) => encoder.encode(cells, &mut hours, out),
                TextEncoder::Csv { delimiter } => {
                    encode_csv_row(cells, *delimiter, &mut hours, &mut field, out)
                }
            }
        }
    }
}

/// How a page worker makes a page's rows for the job's output.
#[derive(Debug)]
pub(crate) enum PageEncoder {
    Text(TextEncoder, TextRoom),
    /// Each body as it came: see [`without_line_breaks`].
    Raw,
    /// A page's rows as one Arrow batch, for a Parquet output.
    #[cfg(feature = "parquet")]
    Arrow(Vec<ColumnSpec>),
}

/// The room a page's text is given before it is encoded: as much, for
/// each byte of the body, as the last page's text took, and a sixteenth
/// more. A text that outgrows its buffer is copied as it grows; one much
/// smaller than its buffer holds memory for nothing.
#[derive(Debug)]
pub(crate) struct TextRoom {
    /// Text bytes for 256 bytes of body, on the last page made.
    per_256: AtomicU64,
}

impl Default for TextRoom {
    /// Before the first page: as much text as body.
    fn default() -> TextRoom {
        TextRoom {
            per_256: AtomicU64::new(256),
        }
    }
}

impl TextRoom {
    /// The bytes to make room for, for a body of `body` bytes.
    fn for_body(&self, body: usize) -> usize {
        let per_256 = self.per_256.load(Ordering::Relaxed);
        let room = (body as u64 / 256).saturating_mul(per_256) / 16 * 17;
        usize::try_from(room)
            .unwrap_or(usize::MAX)
            .saturating_add(4096)
    }

    /// Notes the text a body of `body` bytes made.
    fn note(&self, body: usize, text: usize) {
        if body > 0 {
            let per_256 = (text as u64).saturating_mul(256) / body as u64 + 1;
            self.per_256.store(per_256, Ordering::Relaxed);
        }
    }
}

/// A page's rows as a worker made them.
#[derive(Debug)]
pub(crate) enum Made {
    /// Text lines, for [`Sink::encoded`].
    Text(Vec<u8>),
    /// An Arrow batch, for [`Sink::encoded_batch`].
    #[cfg(feature = "parquet")]
    Batch(arrow_array::RecordBatch),
}

impl Made {
    /// The text lines, if these rows are text.
    pub(crate) fn into_text(self) -> Option<Vec<u8>> {
        match self {
            Made::Text(text) => Some(text),
            #[cfg(feature = "parquet")]
            Made::Batch(_) => None,
        }
    }
}

impl PageEncoder {
    /// The encoder of a job's output; `None` for Parquet without the
    /// `parquet` feature.
    pub(crate) fn for_output(output: &Output, columns: &[ColumnSpec]) -> Option<PageEncoder> {
        match output.format {
            OutputFormat::Ndjson => Some(PageEncoder::Text(
                TextEncoder::Ndjson(NdjsonEncoder::new(columns)),
                TextRoom::default(),
            )),
            OutputFormat::Csv => Some(PageEncoder::Text(
                TextEncoder::Csv {
                    delimiter: output.csv_delimiter,
                },
                TextRoom::default(),
            )),
            #[cfg(feature = "parquet")]
            OutputFormat::Parquet => Some(PageEncoder::Arrow(columns.to_vec())),
            #[cfg(not(feature = "parquet"))]
            OutputFormat::Parquet => None,
            OutputFormat::Raw => Some(PageEncoder::Raw),
        }
    }

    /// The rows of `batch`, from the page `body`, as this encoder makes
    /// them. `None` for [`PageEncoder::Raw`], which makes no rows: the
    /// body itself goes out, through [`without_line_breaks`], without a
    /// copy.
    pub(crate) fn make(&self, body: &[u8], batch: &Batch<'_>, width: usize) -> Option<Made> {
        Some(match self {
            PageEncoder::Raw => return None,
            PageEncoder::Text(encoder, room) => {
                let mut text = Vec::with_capacity(room.for_body(body.len()));
                encoder.encode(batch, width, &mut text);
                room.note(body.len(), text.len());
                Made::Text(text)
            }
            #[cfg(feature = "parquet")]
            PageEncoder::Arrow(columns) => Made::Batch(arrow::Builders::page_batch(&PageOut {
                body,
                columns,
                batch,
            })),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::cells::*;
    use super::*;

    /// A timestamp told written as read is what an output writes for it;
    /// any other reads as another text, or not at all here.
    #[test]
    fn a_timestamp_written_as_read_is_what_outputs_write() {
        let written = |text: &str| {
            let micros = crate::extract::utc_seconds_micros(text.as_bytes())?;
            let mut out = Vec::new();
            write_json_cell(&Cell::Timestamp(micros), &mut out);
            Some(String::from_utf8(out).unwrap())
        };
        let (mut same, mut other) = (0, 0);
        for date in [
            "2023-11-14",
            "2024-02-29",
            "2023-02-29",
            "0001-01-01",
            "0000-01-01",
            "9999-12-31",
            "2023-13-01",
        ] {
            for time in [
                "00:00:00", "23:59:59", "22:13:45", "24:00:00", "12:60:00", "23:59:60",
            ] {
                for fraction in [
                    "", ".956", ".950", ".000", ".5", ".95", ".9560", ".123456", ".123000",
                    ".000001", ".000000", ".1234567", ".12345", ".abc", ".",
                ] {
                    let text = format!("{date}T{time}{fraction}Z");
                    let told = crate::extract::written_as_read(text.as_bytes());
                    let is = written(&text) == Some(format!("\"{text}\""));
                    // Year 0 is left to the conversion, which writes its
                    // first two months through chrono.
                    assert_eq!(told, is && !date.starts_with("0000"), "{text}");
                    same += usize::from(is);
                    other += usize::from(!is);
                }
            }
        }
        assert!(same > 50 && other > 500, "{same} {other}");
        for text in [
            "2023-11-14T22:13:45+00:00",
            "2023-11-14 22:13:45Z",
            "2023-11-14T22:13:45z",
            "2023-11-14T22:13:45",
            "",
        ] {
            assert!(!crate::extract::written_as_read(text.as_bytes()), "{text}");
        }
    }

    /// A page's text gets as much room as the last page's text took for
    /// each byte of body, a little more, and not much more.
    #[test]
    fn a_page_of_text_gets_the_room_the_last_page_took() {
        let room = TextRoom::default();
        assert!(room.for_body(300_000) >= 300_000, "before the first page");
        for (body, text) in [(400_000, 390_000), (400_000, 80_000), (10_000, 12_000)] {
            room.note(body, text);
            let given = room.for_body(body);
            assert!(given >= text, "{body} → {text}: {given}");
            assert!(given <= text / 16 * 17 + 8192, "{body} → {text}: {given}");
        }
    }

    /// A timestamp written on its own, with no hour kept from before.
    fn write_timestamp(micros: i64, out: &mut Vec<u8>) {
        write_timestamp_in(micros, &mut Hours::default(), out);
    }

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
    fn timestamps_written_with_the_hour_kept_read_as_written_afresh() {
        // Runs within an hour, across hours, days, years and the epoch,
        // back and forth, and years left to chrono, all through one
        // `Hours`.
        let hour = 3_600_000_000_i64;
        let mut micros = Vec::new();
        for start in [
            1_699_999_999_999_999,
            -1,
            -hour,
            951_782_400_000_000 - 1,
            253_402_300_799_000_000 - 2 * hour,
            4_000_000 * 86_400 * 1_000_000,
            -62_167_219_200_000_000 - hour,
        ] {
            let mut at = start;
            for step in [0, 1, 999, 1_000, 250_000, 59_000_000, hour, 7, hour - 1, 1] {
                at += step;
                micros.push(at);
            }
            micros.extend([start, start - hour, start, start + 24 * hour]);
        }
        let mut hours = Hours::default();
        for &m in &micros {
            let (mut kept, mut afresh) = (Vec::new(), Vec::new());
            write_timestamp_in(m, &mut hours, &mut kept);
            write_timestamp(m, &mut afresh);
            assert_eq!(
                String::from_utf8(kept).unwrap(),
                String::from_utf8(afresh).unwrap(),
                "{m}"
            );
        }
    }

    #[test]
    fn a_page_of_timestamps_dates_and_bytes_is_written_as_ndjson_and_as_csv() {
        let column = ColumnSpec::named;
        let columns = [
            column("at", crate::job::ColumnType::Timestamp),
            column("on", crate::job::ColumnType::Date),
            column("raw", crate::job::ColumnType::Binary),
        ];
        let noon = 1_709_294_400_000_000;
        let hour = 3_600_000_000;
        let batch = Batch::of(
            vec![
                Cell::Timestamp(noon + 250_000),
                Cell::Date(19_783),
                Cell::Binary(vec![1, 2, 3]),
                Cell::Timestamp(noon + 59 * 60_000_000 + 1),
                Cell::Null,
                Cell::Binary(Vec::new()),
                Cell::Timestamp(noon + hour),
                Cell::Date(-1),
                Cell::Null,
                Cell::Null,
                Cell::Date(0),
                Cell::Binary(vec![0xff]),
                Cell::Timestamp(noon - 12 * hour),
                Cell::Null,
                Cell::Null,
            ],
            5,
        );
        let text = |encoder: TextEncoder| {
            let mut out = Vec::new();
            encoder.encode(&batch, columns.len(), &mut out);
            String::from_utf8(out).unwrap()
        };
        assert_eq!(
            text(TextEncoder::Ndjson(NdjsonEncoder::new(&columns))),
            concat!(
                "{\"at\":\"2024-03-01T12:00:00.250Z\",\"on\":\"2024-03-01\",\"raw\":\"AQID\"}\n",
                "{\"at\":\"2024-03-01T12:59:00.000001Z\",\"on\":null,\"raw\":\"\"}\n",
                "{\"at\":\"2024-03-01T13:00:00Z\",\"on\":\"1969-12-31\",\"raw\":null}\n",
                "{\"at\":null,\"on\":\"1970-01-01\",\"raw\":\"/w==\"}\n",
                "{\"at\":\"2024-03-01T00:00:00Z\",\"on\":null,\"raw\":null}\n",
            )
        );
        assert_eq!(
            text(TextEncoder::Csv { delimiter: b',' }),
            concat!(
                "2024-03-01T12:00:00.250Z,2024-03-01,AQID\n",
                "2024-03-01T12:59:00.000001Z,,\"\"\n",
                "2024-03-01T13:00:00Z,1969-12-31,\n",
                ",1970-01-01,/w==\n",
                "2024-03-01T00:00:00Z,,\n",
            )
        );
    }

    #[test]
    fn a_row_of_one_null_is_not_an_empty_line() {
        // An empty line is skipped by the readers users have: the record
        // would be lost. Two fields of null stay `,`.
        let mut out = Vec::new();
        let (mut hours, mut field) = (Hours::default(), Vec::new());
        for cells in [
            &[Cell::Int(1)][..],
            &[Cell::Null],
            &[Cell::Str("".into())],
            &[Cell::Null, Cell::Null],
        ] {
            text::encode_csv_row(cells, b',', &mut hours, &mut field, &mut out);
        }
        assert_eq!(String::from_utf8_lossy(&out), "1\n\"\"\n\"\"\n,\n");
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(&out[..]);
        assert_eq!(reader.records().count(), 4);
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

//! Arrow record batches from extracted rows: the typed columns as Arrow
//! arrays, all nullable, handed on page by page.

use std::io;
use std::sync::Arc;
use std::sync::mpsc::SyncSender;

use arrow_array::RecordBatch;
use arrow_array::builder::{
    BinaryBuilder, BooleanBuilder, Date32Builder, Float32Builder, Float64Builder, Int32Builder,
    Int64Builder, StringBuilder, TimestampMicrosecondBuilder,
};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};

use crate::extract::{Cell, ColumnSpec, ColumnType};
#[cfg(feature = "parquet")]
use crate::json::node::View;
use crate::sink::{PageOut, Sink};

/// The Arrow type of each column type: `json` columns hold their JSON
/// text, timestamps are microseconds in UTC.
pub fn data_type(kind: ColumnType) -> DataType {
    match kind {
        ColumnType::String | ColumnType::Json => DataType::Utf8,
        ColumnType::Int => DataType::Int32,
        ColumnType::Long => DataType::Int64,
        ColumnType::Float => DataType::Float32,
        ColumnType::Double => DataType::Float64,
        ColumnType::Boolean => DataType::Boolean,
        ColumnType::Date => DataType::Date32,
        ColumnType::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        ColumnType::Binary => DataType::Binary,
    }
}

/// The schema of the columns, every field nullable.
pub fn schema(columns: &[ColumnSpec]) -> SchemaRef {
    Arc::new(Schema::new(
        columns
            .iter()
            .map(|c| Field::new(&c.name, data_type(c.kind), true))
            .collect::<Vec<_>>(),
    ))
}

/// Rows collected column by column until a batch is taken.
#[derive(Debug)]
pub(crate) struct Builders {
    schema: SchemaRef,
    columns: Vec<Column>,
    rows: usize,
}

#[derive(Debug)]
enum Column {
    Utf8(StringBuilder),
    Int32(Int32Builder),
    Int64(Int64Builder),
    Float32(Float32Builder),
    Float64(Float64Builder),
    Boolean(BooleanBuilder),
    Date32(Date32Builder),
    Timestamp(TimestampMicrosecondBuilder),
    Binary(BinaryBuilder),
}

impl Builders {
    pub(crate) fn new(columns: &[ColumnSpec]) -> Builders {
        Builders::with_columns(columns, columns.iter().map(|c| Column::new(c.kind)))
    }

    fn with_columns(specs: &[ColumnSpec], columns: impl Iterator<Item = Column>) -> Builders {
        Builders {
            schema: schema(specs),
            columns: columns.collect(),
            rows: 0,
        }
    }

    /// A page's rows as one batch, as the page makers of a Parquet
    /// output build it: in builders sized for the page, so that no buffer
    /// grows (and copies what it holds) while the rows go in.
    pub(crate) fn page_batch(page: &PageOut<'_>) -> RecordBatch {
        let width = page.columns.len();
        let rows = page.batch.rows;
        let columns = page.columns.iter().enumerate().map(|(i, c)| {
            let bytes = match c.kind {
                ColumnType::String | ColumnType::Json | ColumnType::Binary => page
                    .batch
                    .cells
                    .iter()
                    .skip(i)
                    .step_by(width)
                    .map(value_bytes)
                    .sum(),
                _ => 0,
            };
            Column::with_capacity(c.kind, rows, bytes)
        });
        let mut builders = Builders::with_columns(page.columns, columns);
        builders.push_page(page);
        builders.take()
    }

    pub(crate) fn rows(&self) -> usize {
        self.rows
    }

    /// Appends a page's rows column by column: one column's builder and
    /// its cells' type stay the same through the inner loop.
    pub(crate) fn push_page(&mut self, page: &PageOut<'_>) {
        let width = page.columns.len();
        let rows = page.batch.rows;
        let cells = &page.batch.cells[..rows * width];
        for (column, index) in self.columns.iter_mut().zip(0..width) {
            for cell in cells.iter().skip(index).step_by(width) {
                column.push(cell);
            }
        }
        self.rows += rows;
    }

    /// Appends a cell to column `index`, a row being written a cell at a
    /// time, in column order, and closed by [`Builders::end_row`].
    #[cfg(feature = "parquet")]
    pub(crate) fn push_cell(&mut self, index: usize, cell: &Cell<'_>) {
        self.columns[index].push(cell);
    }

    /// Appends column `index`'s value from its JSON text, where that text
    /// is the value as it stands: a string without escapes in a string
    /// column, a whole number of up to 18 digits in a `long` one, a
    /// decimal in a `double` one, an RFC 3339 time in UTC in a
    /// `timestamp` one, `true` or `false` in a boolean one, `null` in
    /// any. Whether it did: other
    /// text is the caller's to convert. A row's cells are not built for
    /// such values, as NDJSON copies them.
    #[cfg(feature = "parquet")]
    pub(crate) fn push_text(&mut self, index: usize, text: &str) -> bool {
        match (&mut self.columns[index], text.as_bytes()) {
            (column, b"null") => column.push_null(),
            (Column::Utf8(b), [b'"', .., b'"']) => b.append_value(&text[1..text.len() - 1]),
            (Column::Boolean(b), b"true") => b.append_value(true),
            (Column::Boolean(b), b"false") => b.append_value(false),
            (Column::Int64(b), digits) => match short_whole(digits) {
                Some(whole) => b.append_value(whole),
                None => return false,
            },
            (Column::Timestamp(b), [b'"', inner @ .., b'"']) => {
                match crate::extract::utc_seconds_micros(inner) {
                    Some(micros) => b.append_value(micros),
                    None => return false,
                }
            }
            (Column::Float64(b), _) => match crate::json::scan::scalar_view(text) {
                View::F64(double) => b.append_value(double),
                _ => return false,
            },
            _ => return false,
        }
        true
    }

    /// Closes a row written by [`Builders::push_cell`].
    #[cfg(feature = "parquet")]
    pub(crate) fn end_row(&mut self) {
        self.rows += 1;
    }

    /// The rows so far as one batch; the builders start empty again.
    pub(crate) fn take(&mut self) -> RecordBatch {
        let arrays = self.columns.iter_mut().map(Column::finish).collect();
        self.rows = 0;
        RecordBatch::try_new(self.schema.clone(), arrays)
            .expect("every builder matches its field and holds every row")
    }
}

/// A whole number of up to 18 digits, with or without a minus: it fits
/// 64 bits with no check on the way.
#[cfg(feature = "parquet")]
fn short_whole(text: &[u8]) -> Option<i64> {
    let (negative, digits) = match text.split_first()? {
        (b'-', rest) => (true, rest),
        _ => (false, text),
    };
    if digits.is_empty() || digits.len() > 18 {
        return None;
    }
    let mut value = 0i64;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        value = value * 10 + i64::from(d - b'0');
    }
    Some(if negative { -value } else { value })
}

/// The bytes a string, JSON or binary cell adds to its column.
fn value_bytes(cell: &Cell<'_>) -> usize {
    match cell {
        Cell::Str(s) => s.len(),
        Cell::Json(bytes) | Cell::Binary(bytes) => bytes.len(),
        _ => 0,
    }
}

impl Column {
    fn new(kind: ColumnType) -> Column {
        Column::with_capacity(kind, 1024, 1024)
    }

    /// An empty column with room for `rows` values and, for strings and
    /// bytes, `bytes` of them.
    fn with_capacity(kind: ColumnType, rows: usize, bytes: usize) -> Column {
        match kind {
            ColumnType::String | ColumnType::Json => {
                Column::Utf8(StringBuilder::with_capacity(rows, bytes))
            }
            ColumnType::Int => Column::Int32(Int32Builder::with_capacity(rows)),
            ColumnType::Long => Column::Int64(Int64Builder::with_capacity(rows)),
            ColumnType::Float => Column::Float32(Float32Builder::with_capacity(rows)),
            ColumnType::Double => Column::Float64(Float64Builder::with_capacity(rows)),
            ColumnType::Boolean => Column::Boolean(BooleanBuilder::with_capacity(rows)),
            ColumnType::Date => Column::Date32(Date32Builder::with_capacity(rows)),
            ColumnType::Timestamp => Column::Timestamp(
                TimestampMicrosecondBuilder::with_capacity(rows).with_timezone("UTC"),
            ),
            ColumnType::Binary => Column::Binary(BinaryBuilder::with_capacity(rows, bytes)),
        }
    }

    /// Appends a cell; extraction gives each column cells of its own type
    /// (or null), so any other pairing cannot happen and is stored as null.
    fn push(&mut self, cell: &Cell<'_>) {
        match (self, cell) {
            (Column::Utf8(b), Cell::Str(s)) => b.append_value(s),
            (Column::Utf8(b), Cell::Json(text)) => b.append_value(String::from_utf8_lossy(text)),
            (Column::Int32(b), Cell::Int(i)) => b.append_option(i32::try_from(*i).ok()),
            (Column::Int64(b), Cell::Int(i)) => b.append_value(*i),
            (Column::Float32(b), Cell::Float(f)) => b.append_value(*f),
            (Column::Float64(b), Cell::Double(d) | Cell::DoubleText(d, _)) => b.append_value(*d),
            (Column::Boolean(b), Cell::Bool(v)) => b.append_value(*v),
            (Column::Date32(b), Cell::Date(days)) => b.append_value(*days),
            (Column::Timestamp(b), Cell::Timestamp(micros)) => b.append_value(*micros),
            (Column::Binary(b), Cell::Binary(bytes)) => b.append_value(bytes),
            (column, _) => column.push_null(),
        }
    }

    fn push_null(&mut self) {
        match self {
            Column::Utf8(b) => b.append_null(),
            Column::Int32(b) => b.append_null(),
            Column::Int64(b) => b.append_null(),
            Column::Float32(b) => b.append_null(),
            Column::Float64(b) => b.append_null(),
            Column::Boolean(b) => b.append_null(),
            Column::Date32(b) => b.append_null(),
            Column::Timestamp(b) => b.append_null(),
            Column::Binary(b) => b.append_null(),
        }
    }

    fn finish(&mut self) -> arrow_array::ArrayRef {
        match self {
            Column::Utf8(b) => Arc::new(b.finish()),
            Column::Int32(b) => Arc::new(b.finish()),
            Column::Int64(b) => Arc::new(b.finish()),
            Column::Float32(b) => Arc::new(b.finish()),
            Column::Float64(b) => Arc::new(b.finish()),
            Column::Boolean(b) => Arc::new(b.finish()),
            Column::Date32(b) => Arc::new(b.finish()),
            Column::Timestamp(b) => Arc::new(b.finish()),
            Column::Binary(b) => Arc::new(b.finish()),
        }
    }
}

/// Hands each page on as a batch.
pub(crate) struct ArrowSink {
    pub(crate) builders: Builders,
    pub(crate) sender: SyncSender<RecordBatch>,
}

impl Sink for ArrowSink {
    fn page(&mut self, page: &PageOut<'_>) -> io::Result<()> {
        self.builders.push_page(page);
        if self.builders.rows() == 0 {
            return Ok(());
        }
        self.sender.send(self.builders.take()).map_err(|_| {
            io::Error::new(io::ErrorKind::BrokenPipe, "the record batches were dropped")
        })
    }

    fn checkpoint(&mut self) -> io::Result<crate::sink::Mark> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "a record batch stream cannot be checkpointed",
        ))
    }

    fn finish(self: Box<Self>) -> io::Result<()> {
        Ok(())
    }
}

/// The sink of a run that only wants its columns: the first page stops
/// the run.
pub(crate) struct Enough;

impl Sink for Enough {
    fn page(&mut self, _: &PageOut<'_>) -> io::Result<()> {
        Err(io::Error::new(
            io::ErrorKind::BrokenPipe,
            "the columns are known",
        ))
    }

    fn checkpoint(&mut self) -> io::Result<crate::sink::Mark> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "a run for its columns keeps no checkpoint",
        ))
    }

    fn finish(self: Box<Self>) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use arrow_array::cast::AsArray;
    use arrow_array::types::{Float64Type, Int64Type};

    use super::*;
    use crate::extract::Batch;

    /// A page's batch holds each row's values, in builders sized from the
    /// page: strings, JSON text and bytes of any length, nulls, and a cell
    /// of another type as null.
    #[test]
    fn a_page_batch_holds_every_value_of_the_page() {
        let column = ColumnSpec::named;
        let columns = [
            column("name", ColumnType::String),
            column("id", ColumnType::Long),
            column("raw", ColumnType::Json),
            column("blob", ColumnType::Binary),
            column("score", ColumnType::Double),
        ];
        let long = "é".repeat(3000);
        let mut cells = Vec::new();
        for i in 0..5i64 {
            cells.push(match i {
                2 => Cell::Null,
                4 => Cell::Str(Cow::Owned(long.clone())),
                _ => Cell::Str(Cow::Owned(format!("n{i}"))),
            });
            cells.push(if i == 3 {
                Cell::Bool(true)
            } else {
                Cell::Int(i * 10)
            });
            cells.push(Cell::Json(format!("{{\"a\":{i}}}").into_bytes()));
            cells.push(Cell::Binary(vec![i as u8; i as usize * 700]));
            cells.push(Cell::Double(i as f64 / 4.0));
        }
        let batch = Batch::of(cells, 5);
        let made = Builders::page_batch(&PageOut {
            body: b"",
            columns: &columns,
            batch: &batch,
        });
        assert_eq!(made.num_rows(), 5);
        let names: Vec<Option<&str>> = made.column(0).as_string::<i32>().iter().collect();
        assert_eq!(
            names,
            vec![
                Some("n0"),
                Some("n1"),
                None,
                Some("n3"),
                Some(long.as_str())
            ]
        );
        let ids: Vec<Option<i64>> = made.column(1).as_primitive::<Int64Type>().iter().collect();
        assert_eq!(ids, vec![Some(0), Some(10), Some(20), None, Some(40)]);
        let raw: Vec<Option<&str>> = made.column(2).as_string::<i32>().iter().collect();
        assert_eq!(raw[4], Some("{\"a\":4}"));
        let blobs = made.column(3).as_binary::<i32>();
        assert_eq!(blobs.value(3), vec![3u8; 2100].as_slice());
        let scores = made.column(4).as_primitive::<Float64Type>();
        assert_eq!(scores.value(2), 0.5);
    }

    /// A value's text goes in as it stands only where it is one:
    /// anything else is left for the caller to convert, and adds nothing.
    #[cfg(feature = "parquet")]
    #[test]
    fn text_goes_in_only_as_it_stands() {
        use arrow_array::cast::AsArray;
        let column = ColumnSpec::named;
        let columns = [
            column("name", ColumnType::String),
            column("id", ColumnType::Long),
            column("on", ColumnType::Boolean),
        ];
        let mut builders = Builders::new(&columns);
        let taken = [
            (0, r#""n 1""#),
            (1, "-123456789012345678"),
            (2, "true"),
            (0, "null"),
            (1, "null"),
            (2, "false"),
        ];
        for (index, text) in taken {
            assert!(builders.push_text(index, text), "{text}");
        }
        let refused = [
            (0, "true"),
            (0, "12"),
            (1, "1234567890123456789"),
            (1, "-"),
            (1, ""),
            (1, "1.5"),
            (1, "1e3"),
            (1, r#""12""#),
            (2, "1"),
            (2, r#""true""#),
        ];
        for (index, text) in refused {
            assert!(!builders.push_text(index, text), "{text}");
        }
        builders.end_row();
        builders.end_row();
        let made = builders.take();
        let names: Vec<Option<&str>> = made.column(0).as_string::<i32>().iter().collect();
        assert_eq!(names, vec![Some("n 1"), None]);
        let ids: Vec<Option<i64>> = made.column(1).as_primitive::<Int64Type>().iter().collect();
        assert_eq!(ids, vec![Some(-123_456_789_012_345_678), None]);
        let on: Vec<Option<bool>> = made.column(2).as_boolean().iter().collect();
        assert_eq!(on, vec![Some(true), Some(false)]);
    }
}

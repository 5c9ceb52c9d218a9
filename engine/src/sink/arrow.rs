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
        Builders {
            schema: schema(columns),
            columns: columns.iter().map(|c| Column::new(c.kind)).collect(),
            rows: 0,
        }
    }

    pub(crate) fn rows(&self) -> usize {
        self.rows
    }

    pub(crate) fn push_page(&mut self, page: &PageOut<'_>) {
        let width = page.columns.len();
        for row in 0..page.batch.rows {
            self.push_row(page.batch.row(row, width));
        }
    }

    fn push_row(&mut self, cells: &[Cell<'_>]) {
        for (column, cell) in self.columns.iter_mut().zip(cells) {
            column.push(cell);
        }
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

impl Column {
    fn new(kind: ColumnType) -> Column {
        match kind {
            ColumnType::String | ColumnType::Json => Column::Utf8(StringBuilder::new()),
            ColumnType::Int => Column::Int32(Int32Builder::new()),
            ColumnType::Long => Column::Int64(Int64Builder::new()),
            ColumnType::Float => Column::Float32(Float32Builder::new()),
            ColumnType::Double => Column::Float64(Float64Builder::new()),
            ColumnType::Boolean => Column::Boolean(BooleanBuilder::new()),
            ColumnType::Date => Column::Date32(Date32Builder::new()),
            ColumnType::Timestamp => {
                Column::Timestamp(TimestampMicrosecondBuilder::new().with_timezone("UTC"))
            }
            ColumnType::Binary => Column::Binary(BinaryBuilder::new()),
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
            (Column::Float64(b), Cell::Double(d)) => b.append_value(*d),
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

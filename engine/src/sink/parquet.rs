//! Parquet: the output sink, streaming row groups in bounded memory.

use std::io;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, GzipLevel, ZstdLevel};
use parquet::file::properties::WriterProperties;

use crate::extract::ColumnSpec;
use crate::sink::arrow::Builders;
use crate::sink::{Destination, PageOut, Sink};

/// Rows collected before they are handed to the writer: small enough to
/// keep memory low, large enough for the encoders.
pub(crate) const CHUNK_ROWS: usize = 8192;

/// `output.format = "parquet"`: rows are gathered into Arrow batches here,
/// and an [`Encoder`] turns them into row groups.
pub(crate) struct ParquetSink {
    builders: Builders,
    encoder: Box<dyn Encoder>,
}

/// What encodes a Parquet sink's batches: in place ([`InPlace`]), or on a
/// thread of its own that the read loop starts, so that the encoding and
/// compression run beside the fetching and parsing.
pub(crate) trait Encoder: Send {
    /// Encodes a batch (or queues it to be).
    fn write(&mut self, batch: RecordBatch) -> io::Result<()>;
    /// Writes what is left and the footer, and commits the file.
    fn finish(self: Box<Self>) -> io::Result<()>;
}

/// The Parquet writer of a destination, encoding where it is called.
pub(crate) struct InPlace(ArrowWriter<Destination>);

impl InPlace {
    pub(crate) fn new(
        out: Destination,
        schema: SchemaRef,
        compression: &str,
        row_group_size: usize,
    ) -> io::Result<InPlace> {
        let compression = match compression {
            "snappy" => Compression::SNAPPY,
            "gzip" => Compression::GZIP(GzipLevel::default()),
            "lz4" => Compression::LZ4_RAW,
            "none" => Compression::UNCOMPRESSED,
            _ => Compression::ZSTD(ZstdLevel::default()),
        };
        let properties = WriterProperties::builder()
            .set_compression(compression)
            .set_max_row_group_row_count(Some(row_group_size))
            .set_created_by(concat!("hydrant ", env!("CARGO_PKG_VERSION")).to_owned())
            .build();
        ArrowWriter::try_new(out, schema, Some(properties))
            .map(InPlace)
            .map_err(io::Error::other)
    }
}

impl Encoder for InPlace {
    fn write(&mut self, batch: RecordBatch) -> io::Result<()> {
        self.0.write(&batch).map_err(io::Error::other)
    }

    fn finish(self: Box<Self>) -> io::Result<()> {
        let out = self.0.into_inner().map_err(io::Error::other)?;
        out.commit()
    }
}

impl ParquetSink {
    /// A sink of `columns`; `encoder` takes the batches of their schema
    /// (see [`ParquetSink::schema`]).
    pub(crate) fn new(columns: &[ColumnSpec], encoder: Box<dyn Encoder>) -> ParquetSink {
        ParquetSink {
            builders: Builders::new(columns),
            encoder,
        }
    }

    /// The Arrow schema of `columns`, as the encoder gets them.
    pub(crate) fn schema(columns: &[ColumnSpec]) -> SchemaRef {
        Builders::new(columns).schema().clone()
    }

    fn write_rows(&mut self) -> io::Result<()> {
        if self.builders.rows() > 0 {
            let batch = self.builders.take();
            self.encoder.write(batch)?;
        }
        Ok(())
    }
}

impl Sink for ParquetSink {
    fn page(&mut self, page: &PageOut<'_>) -> io::Result<()> {
        self.builders.push_page(page);
        if self.builders.rows() >= CHUNK_ROWS {
            self.write_rows()?;
        }
        Ok(())
    }

    fn checkpoint(&mut self) -> io::Result<crate::sink::Mark> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "a Parquet output cannot be checkpointed",
        ))
    }

    fn finish(mut self: Box<Self>) -> io::Result<()> {
        self.write_rows()?;
        self.encoder.finish()
    }
}

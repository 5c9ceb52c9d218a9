//! Parquet: the output sink, streaming row groups in bounded memory.

use std::io;

use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, GzipLevel, ZstdLevel};
use parquet::file::properties::WriterProperties;

use crate::extract::ColumnSpec;
use crate::sink::arrow::Builders;
use crate::sink::{Destination, PageOut, Sink};

/// Rows collected before they are handed to the writer: small enough to
/// keep memory low, large enough for the encoders.
pub(crate) const CHUNK_ROWS: usize = 8192;

/// `output.format = "parquet"`.
pub(crate) struct ParquetSink {
    builders: Builders,
    writer: ArrowWriter<Destination>,
}

impl ParquetSink {
    pub(crate) fn new(
        out: Destination,
        columns: &[ColumnSpec],
        compression: &str,
        row_group_size: usize,
    ) -> io::Result<ParquetSink> {
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
        let builders = Builders::new(columns);
        let writer = ArrowWriter::try_new(out, builders.schema().clone(), Some(properties))
            .map_err(io::Error::other)?;
        Ok(ParquetSink { builders, writer })
    }

    fn write_rows(&mut self) -> io::Result<()> {
        if self.builders.rows() > 0 {
            let batch = self.builders.take();
            self.writer.write(&batch).map_err(io::Error::other)?;
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
        let out = self.writer.into_inner().map_err(io::Error::other)?;
        out.commit()
    }
}

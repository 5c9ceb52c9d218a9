//! Parquet: the output sink, streaming row groups in bounded memory.

use std::io;

use arrow_array::{Array, RecordBatch};
use arrow_schema::SchemaRef;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_writer::ArrowRowGroupWriterFactory;
use parquet::basic::{Compression, Encoding, GzipLevel, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::ColumnPath;

use crate::extract::ColumnSpec;
use crate::job::{ParquetOptions, ParquetStatistics};
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

/// The Parquet writer of a destination, encoding where it is called. It
/// is opened with the first batch, whose values choose the columns that
/// get a dictionary.
pub(crate) struct InPlace(Writer);

enum Writer {
    Waiting {
        out: Destination,
        schema: SchemaRef,
        properties: Box<Properties>,
    },
    Open(Box<ArrowWriter<Destination>>),
    /// Only while the writer is being opened.
    Gone,
}

/// A column gets a dictionary when its first batch holds at most this
/// share of distinct values: below it the dictionary saves space and time;
/// above it (ids, UUIDs, measures, free text) it is hashed for nothing
/// and dropped once full.
const DICTIONARY_SHARE: f64 = 0.5;

impl InPlace {
    pub(crate) fn new(
        out: Destination,
        schema: SchemaRef,
        options: &ParquetOptions,
    ) -> io::Result<InPlace> {
        // The job checked the level against the codec's range.
        let invalid = |e: parquet::errors::ParquetError| io::Error::other(e.to_string());
        let level = options.level;
        let compression = match options.compression.as_str() {
            "snappy" => Compression::SNAPPY,
            "gzip" => Compression::GZIP(match level {
                Some(level) => {
                    GzipLevel::try_new(u32::try_from(level).unwrap_or(u32::MAX)).map_err(invalid)?
                }
                None => GzipLevel::default(),
            }),
            "lz4" => Compression::LZ4_RAW,
            "none" => Compression::UNCOMPRESSED,
            _ => Compression::ZSTD(match level {
                Some(level) => ZstdLevel::try_new(level).map_err(invalid)?,
                None => ZstdLevel::default(),
            }),
        };
        Ok(InPlace(Writer::Waiting {
            out,
            schema,
            properties: Box::new(Properties {
                compression,
                row_group_size: options.row_group_size,
                statistics: options.statistics,
            }),
        }))
    }

    /// The writer, opened with the columns' dictionaries and codecs
    /// chosen by `first`, the first batch (none: the defaults).
    fn open(&mut self, first: Option<&RecordBatch>) -> io::Result<&mut ArrowWriter<Destination>> {
        if let Writer::Waiting { .. } = self.0 {
            let Writer::Waiting {
                out,
                schema,
                properties,
            } = std::mem::replace(&mut self.0, Writer::Gone)
            else {
                unreachable!("matched above");
            };
            let properties = properties.for_file(&schema, first);
            let writer =
                ArrowWriter::try_new(out, schema, Some(properties)).map_err(io::Error::other)?;
            self.0 = Writer::Open(Box::new(writer));
        }
        match &mut self.0 {
            Writer::Open(writer) => Ok(writer),
            _ => Err(io::Error::other("the Parquet writer could not be opened")),
        }
    }
}

/// A Parquet file opened for its columns to be encoded apart, each row
/// group's column chunks then appended in order (see [`InPlace::split`]).
pub(crate) struct Split {
    pub(crate) file: SerializedFileWriter<Destination>,
    /// Makes the column writers of each row group.
    pub(crate) columns: ArrowRowGroupWriterFactory,
    pub(crate) schema: SchemaRef,
    pub(crate) row_group_size: usize,
}

impl InPlace {
    /// The file opened as [`Encoder::write`] opens it for `first`, the
    /// first batch (the same schema, metadata and dictionaries), with
    /// nothing written yet: for the caller to encode the columns of each
    /// row group on threads of its own.
    pub(crate) fn split(mut self, first: &RecordBatch) -> io::Result<Split> {
        let row_group_size = match &self.0 {
            Writer::Waiting { properties, .. } => properties.row_group_size,
            _ => return Err(io::Error::other("the Parquet writer was already opened")),
        };
        let schema = first.schema();
        self.open(Some(first))?;
        let Writer::Open(writer) = self.0 else {
            unreachable!("opened above");
        };
        let (file, columns) = writer.into_serialized_writer().map_err(io::Error::other)?;
        Ok(Split {
            file,
            columns,
            schema,
            row_group_size: row_group_size.max(1),
        })
    }
}

impl Split {
    /// Writes the footer and commits the file.
    pub(crate) fn finish(self) -> io::Result<()> {
        let out = self.file.into_inner().map_err(io::Error::other)?;
        out.commit()
    }
}

/// What the job asks of the file, before the first batch is seen.
struct Properties {
    compression: Compression,
    row_group_size: usize,
    statistics: ParquetStatistics,
}

impl Properties {
    /// The writer's properties: the codec, the row groups' size, each
    /// column's encoding, and, chosen by `first` (the first batch), the
    /// columns that get a dictionary, those without statistics and those
    /// stored without the codec.
    fn for_file(&self, schema: &SchemaRef, first: Option<&RecordBatch>) -> WriterProperties {
        let mut properties = WriterProperties::builder()
            .set_compression(self.compression)
            .set_max_row_group_row_count(Some(self.row_group_size))
            .set_created_by(concat!("hydrant ", env!("CARGO_PKG_VERSION")).to_owned());
        if self.statistics == ParquetStatistics::None {
            properties = properties.set_statistics_enabled(EnabledStatistics::None);
        }
        for field in schema.fields() {
            if let Some(encoding) = encoding(field.data_type()) {
                properties = properties
                    .set_column_encoding(ColumnPath::from(field.name().as_str()), encoding);
            }
        }
        let Some(batch) = first else {
            return properties.build();
        };
        let schema = batch.schema();
        // The columns chosen, for the debug event that shows the layout.
        let (mut dictionaries, mut without_statistics, mut without_codec) =
            (Vec::new(), Vec::new(), Vec::new());
        for (field, array) in schema.fields().iter().zip(batch.columns()) {
            let path = || ColumnPath::from(field.name().as_str());
            if let Some(share) = distinct_share(array.as_ref()) {
                let dictionary = share <= DICTIONARY_SHARE;
                properties = properties.set_column_dictionary_enabled(path(), dictionary);
                if dictionary {
                    dictionaries.push(field.name().clone());
                }
            }
            if self.statistics == ParquetStatistics::Auto && prunes_nothing(array.as_ref()) {
                properties =
                    properties.set_column_statistics_enabled(path(), EnabledStatistics::None);
                without_statistics.push(field.name().clone());
            }
        }
        if self.compression != Compression::UNCOMPRESSED {
            for column in incompressible(batch, properties.clone().build()) {
                without_codec.push(column.string());
                properties = properties.set_column_compression(column, Compression::UNCOMPRESSED);
            }
        }
        tracing::debug!(
            rows = batch.num_rows(),
            dictionary = %dictionaries.join(","),
            without_statistics = %without_statistics.join(","),
            without_codec = %without_codec.join(","),
            "parquet columns chosen by the first batch"
        );
        properties.build()
    }
}

/// Rows in each slice of the first batch that [`prunes_nothing`] looks at.
const SLICE_ROWS: usize = 128;

/// Slices the first batch must fill for [`prunes_nothing`] to judge.
const SLICES: usize = 4;

/// Whether a column of strings or bytes holds, in every slice of
/// [`SLICE_ROWS`] rows of the first batch, the same smallest and the same
/// largest value, and they differ: values interleaved, as a status, a
/// country or a type often are. Each page and row group would then carry
/// those two values too, and a reader could skip none by them. Their
/// statistics cost the writer two comparisons of bytes a row: a sixth of
/// its time on realistic pages. Numbers are compared in registers and
/// keep theirs.
fn prunes_nothing(array: &dyn Array) -> bool {
    use arrow_array::cast::AsArray;
    use arrow_schema::DataType;

    fn each_slice_spans<'a>(values: impl Iterator<Item = Option<&'a [u8]>>) -> bool {
        let values: Vec<Option<&[u8]>> = values.collect();
        if values.len() < SLICES * SLICE_ROWS {
            return false;
        }
        let min_max = |slice: &[Option<&'a [u8]>]| {
            let mut present = slice.iter().flatten();
            let first = *present.next()?;
            Some(present.fold((first, first), |(min, max), &v| (min.min(v), max.max(v))))
        };
        // Every slice spans the same two values when each spans the first's.
        let mut slices = values.chunks_exact(SLICE_ROWS);
        match slices.next().and_then(min_max) {
            Some((min, max)) if min != max => {
                slices.all(|slice| min_max(slice) == Some((min, max)))
            }
            _ => false,
        }
    }
    match array.data_type() {
        DataType::Utf8 => each_slice_spans(
            array
                .as_string::<i32>()
                .iter()
                .map(|v| v.map(str::as_bytes)),
        ),
        DataType::Binary => each_slice_spans(array.as_binary::<i32>().iter()),
        _ => false,
    }
}

/// A column is stored without the codec when the codec kept more than
/// this share of its bytes in the first batch. Random numbers, ids and
/// hashes cost the codec time and shrink by a few percent at most: on
/// realistic pages, storing them as they are took a tenth off the
/// encoding's time and added 1% to the file.
const CODEC_KEEPS: f64 = 0.9;

/// Rows of the first batch the codec is tried on.
const TRIAL_ROWS: usize = 4096;

/// Columns with fewer bytes than this in the trial keep the codec: too
/// few to judge by (a column null so far, say).
const TRIAL_BYTES: i64 = 1024;

/// The columns of `first` that the codec leaves almost as large as they
/// were: its first rows written to memory with `properties`, each
/// column's size compared before and after the codec. None if the trial
/// fails: the real write then says why.
fn incompressible(first: &RecordBatch, properties: WriterProperties) -> Vec<ColumnPath> {
    let rows = first.slice(0, first.num_rows().min(TRIAL_ROWS));
    let Ok(mut writer) = ArrowWriter::try_new(Vec::new(), rows.schema(), Some(properties)) else {
        return Vec::new();
    };
    if writer.write(&rows).is_err() {
        return Vec::new();
    }
    let Ok(metadata) = writer.close() else {
        return Vec::new();
    };
    // Each column's sizes summed over the trial's row groups.
    let mut sizes: Vec<(ColumnPath, i64, i64)> = Vec::new();
    for group in metadata.row_groups() {
        for (i, column) in group.columns().iter().enumerate() {
            if i == sizes.len() {
                sizes.push((column.column_path().clone(), 0, 0));
            }
            sizes[i].1 += column.uncompressed_size();
            sizes[i].2 += column.compressed_size();
        }
    }
    sizes
        .into_iter()
        .filter(|&(_, before, after)| {
            before >= TRIAL_BYTES && after as f64 > CODEC_KEEPS * before as f64
        })
        .map(|(path, ..)| path)
        .collect()
}

/// The encoding of a column's values where it has no dictionary (or its
/// dictionary is full); `None` for Parquet's default, `PLAIN`. Whole
/// numbers, dates and timestamps are stored as the differences between
/// them, bit-packed, and strings as their lengths apart from their bytes.
/// Either leaves zstd fewer bytes, and bytes it compresses better: on
/// realistic pages the encoding took a quarter less time and the file was
/// 14% smaller. Doubles stay `PLAIN`: their bits do not shrink that way.
fn encoding(data_type: &arrow_schema::DataType) -> Option<Encoding> {
    use arrow_schema::DataType;
    match data_type {
        DataType::Int32 | DataType::Int64 | DataType::Date32 | DataType::Timestamp(..) => {
            Some(Encoding::DELTA_BINARY_PACKED)
        }
        DataType::Utf8 | DataType::Binary => Some(Encoding::DELTA_LENGTH_BYTE_ARRAY),
        _ => None,
    }
}

/// The share of distinct values among the non-null values of a column of
/// strings, numbers, dates or timestamps; `None` for other types.
fn distinct_share(array: &dyn Array) -> Option<f64> {
    use arrow_array::cast::AsArray;
    use arrow_array::types::*;
    use arrow_schema::{DataType, TimeUnit};
    use std::collections::HashSet;

    fn share<T: std::hash::Hash + Eq>(values: impl Iterator<Item = Option<T>>) -> f64 {
        let mut seen = HashSet::new();
        let mut count = 0usize;
        for value in values.flatten() {
            seen.insert(value);
            count += 1;
        }
        if count == 0 {
            0.0
        } else {
            seen.len() as f64 / count as f64
        }
    }
    Some(match array.data_type() {
        DataType::Utf8 => share(array.as_string::<i32>().iter()),
        DataType::Binary => share(array.as_binary::<i32>().iter()),
        DataType::Int32 => share(array.as_primitive::<Int32Type>().iter()),
        DataType::Int64 => share(array.as_primitive::<Int64Type>().iter()),
        DataType::Date32 => share(array.as_primitive::<Date32Type>().iter()),
        DataType::Float32 => share(
            array
                .as_primitive::<Float32Type>()
                .iter()
                .map(|v| v.map(f32::to_bits)),
        ),
        DataType::Float64 => share(
            array
                .as_primitive::<Float64Type>()
                .iter()
                .map(|v| v.map(f64::to_bits)),
        ),
        DataType::Timestamp(TimeUnit::Microsecond, _) => {
            share(array.as_primitive::<TimestampMicrosecondType>().iter())
        }
        _ => return None,
    })
}

impl Encoder for InPlace {
    fn write(&mut self, batch: RecordBatch) -> io::Result<()> {
        self.open(Some(&batch))?
            .write(&batch)
            .map_err(io::Error::other)
    }

    fn finish(mut self: Box<Self>) -> io::Result<()> {
        self.open(None)?;
        let Writer::Open(writer) = self.0 else {
            unreachable!("opened above");
        };
        let out = writer.into_inner().map_err(io::Error::other)?;
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

    /// The Arrow schema of the file of `columns`: the batches' schema,
    /// with each `json` column marked as JSON (Arrow's `arrow.json`,
    /// Parquet's `JSON` logical type), so that readers, a write job's
    /// input among them, tell its text from a string's.
    pub(crate) fn schema(columns: &[ColumnSpec]) -> SchemaRef {
        let schema = crate::sink::arrow::schema(columns);
        let fields = schema.fields().iter().zip(columns).map(|(field, column)| {
            let field = field.as_ref().clone();
            if column.kind == crate::extract::ColumnType::Json {
                field.with_extension_type(arrow_schema::extension::Json::default())
            } else {
                field
            }
        });
        std::sync::Arc::new(arrow_schema::Schema::new(fields.collect::<Vec<_>>()))
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

    fn encoded_batch(&mut self, batch: RecordBatch) -> io::Result<()> {
        // Rows gathered here come first: pages are written in order.
        self.write_rows()?;
        self.encoder.write(batch)
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::{Float64Array, StringArray};
    use arrow_schema::{DataType, Field, Schema};
    use parquet::file::metadata::ParquetMetaData;
    use parquet::file::reader::{FileReader, SerializedFileReader};

    use super::*;

    /// The job's defaults but for `codec` and `row_group_size`.
    fn options(codec: &str, row_group_size: usize) -> ParquetOptions {
        ParquetOptions {
            compression: codec.to_owned(),
            row_group_size,
            ..ParquetOptions::default()
        }
    }

    /// `batch` written as a run writes it, with `options`: the file's
    /// metadata and the batches read back.
    fn written(
        batch: &RecordBatch,
        options: &ParquetOptions,
    ) -> (ParquetMetaData, Vec<RecordBatch>) {
        use parquet::arrow::arrow_reader::ParquetRecordBatchReader;

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.parquet");
        let out = Destination::open(Some(&path)).unwrap();
        let mut encoder = Box::new(InPlace::new(out, batch.schema(), options).unwrap());
        encoder.write(batch.clone()).unwrap();
        encoder.finish().unwrap();
        let reader = SerializedFileReader::new(std::fs::File::open(&path).unwrap()).unwrap();
        let read = ParquetRecordBatchReader::try_new(std::fs::File::open(&path).unwrap(), 8192)
            .unwrap()
            .map(Result::unwrap)
            .collect();
        (reader.metadata().clone(), read)
    }

    /// Few distinct values get a dictionary; mostly distinct ones do not.
    #[test]
    fn a_dictionary_only_where_values_repeat() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("status", DataType::Utf8, true),
            Field::new("score", DataType::Float64, true),
        ]));
        let rows = 1000;
        let status = StringArray::from_iter_values((0..rows).map(|i| ["open", "paid"][i % 2]));
        let score = Float64Array::from_iter_values((0..rows).map(|i| i as f64 / 7.0));
        let batch =
            RecordBatch::try_new(schema.clone(), vec![Arc::new(status), Arc::new(score)]).unwrap();
        let (metadata, _) = written(&batch, &options("zstd", 65536));
        let group = metadata.row_group(0);
        let dictionary = |i: usize| {
            group
                .column(i)
                .encodings()
                .any(|e| e == Encoding::RLE_DICTIONARY || e == Encoding::PLAIN_DICTIONARY)
        };
        assert!(dictionary(0), "status");
        assert!(!dictionary(1), "score");
        assert_eq!(metadata.file_metadata().num_rows(), rows as i64);
    }

    /// Whole numbers and timestamps are stored as bit-packed differences,
    /// strings as lengths apart from bytes, doubles as they are; all read
    /// back the same.
    #[test]
    fn numbers_and_strings_without_a_dictionary_are_delta_encoded() {
        use arrow_array::{Int64Array, TimestampMicrosecondArray};

        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, true),
            Field::new("uuid", DataType::Utf8, true),
            Field::new("score", DataType::Float64, true),
            Field::new(
                "at",
                DataType::Timestamp(arrow_schema::TimeUnit::Microsecond, Some("UTC".into())),
                true,
            ),
        ]));
        let rows = 1000i64;
        let columns: Vec<Arc<dyn Array>> = vec![
            Arc::new(Int64Array::from_iter(
                (0..rows).map(|i| (i % 7 != 3).then_some(i * 3)),
            )),
            Arc::new(StringArray::from_iter_values(
                (0..rows).map(|i| format!("{:08x}-{i}", i * 2654435761)),
            )),
            Arc::new(Float64Array::from_iter_values(
                (0..rows).map(|i| i as f64 / 7.0),
            )),
            Arc::new(
                TimestampMicrosecondArray::from_iter_values(
                    (0..rows).map(|i| 1_700_000_000_000_000 + i * 1_000_317),
                )
                .with_timezone("UTC"),
            ),
        ];
        let batch = RecordBatch::try_new(schema.clone(), columns).unwrap();
        let (metadata, read) = written(&batch, &options("zstd", 65536));
        let group = metadata.row_group(0);
        let encodings = |i: usize| group.column(i).encodings().collect::<Vec<_>>();
        assert!(encodings(0).contains(&Encoding::DELTA_BINARY_PACKED), "id");
        assert!(
            encodings(1).contains(&Encoding::DELTA_LENGTH_BYTE_ARRAY),
            "uuid"
        );
        assert!(encodings(2).contains(&Encoding::PLAIN), "score");
        assert!(encodings(3).contains(&Encoding::DELTA_BINARY_PACKED), "at");
        assert_eq!(read, vec![batch]);
    }

    /// A column the codec cannot shrink (random doubles) is stored as it
    /// is; one it can (repeated text), one it can over the trial's rows
    /// though not in its first row group, and one too small to judge
    /// (nulls so far) keep the codec. The values read back the same.
    #[test]
    fn a_column_the_codec_cannot_shrink_is_stored_as_it_is() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("score", DataType::Float64, true),
            Field::new("text", DataType::Utf8, true),
            Field::new("gone", DataType::Utf8, true),
            Field::new("mixed", DataType::Float64, true),
        ]));
        let rows = 5000u64;
        // The bits of a multiplicative hash: nothing for a codec to find.
        let random = |i: u64| f64::from_bits((i + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 2);
        let mixed = (0..rows).map(|i| if i < 1000 { random(i) } else { i as f64 / 4.0 });
        let columns: Vec<Arc<dyn Array>> = vec![
            Arc::new(Float64Array::from_iter_values((0..rows).map(random))),
            Arc::new(StringArray::from_iter_values((0..rows).map(|i| {
                format!("order {i} was paid in full and shipped on time")
            }))),
            Arc::new(StringArray::from(vec![None::<&str>; rows as usize])),
            Arc::new(Float64Array::from_iter_values(mixed)),
        ];
        let batch = RecordBatch::try_new(schema.clone(), columns).unwrap();
        let written = |codec: &str| {
            let (metadata, read) = written(&batch, &options(codec, 1000));
            assert_eq!(read, vec![batch.clone()], "{codec}");
            let group = metadata.row_group(0);
            (0..4)
                .map(|i| group.column(i).compression())
                .collect::<Vec<_>>()
        };
        let zstd = Compression::ZSTD(ZstdLevel::default());
        assert_eq!(
            written("zstd"),
            vec![Compression::UNCOMPRESSED, zstd, zstd, zstd]
        );
        assert_eq!(
            written("snappy"),
            vec![
                Compression::UNCOMPRESSED,
                Compression::SNAPPY,
                Compression::SNAPPY,
                Compression::SNAPPY
            ]
        );
        assert_eq!(written("none"), vec![Compression::UNCOMPRESSED; 4]);
    }

    /// Strings whose every slice holds the same smallest and largest
    /// value get no statistics under `auto`; sorted, constant, sparse and
    /// numeric columns keep theirs, as does a batch too short to judge.
    /// `all` and `none` mean what they say. The values read back the same.
    #[test]
    fn statistics_only_where_they_can_prune() {
        use arrow_array::BinaryArray;

        let schema = Arc::new(Schema::new(vec![
            Field::new("status", DataType::Utf8, true),
            Field::new("kind", DataType::Binary, true),
            Field::new("sorted", DataType::Utf8, true),
            Field::new("constant", DataType::Utf8, true),
            Field::new("sparse", DataType::Utf8, true),
            Field::new("score", DataType::Float64, true),
        ]));
        let batch = |rows: usize| {
            let statuses = ["draft", "open", "paid", "void"];
            let columns: Vec<Arc<dyn Array>> = vec![
                Arc::new(StringArray::from_iter_values(
                    (0..rows).map(|i| statuses[i * 7 % 4]),
                )),
                Arc::new(BinaryArray::from_iter_values(
                    (0..rows).map(|i| [b"a", b"b", b"c"][i % 3]),
                )),
                Arc::new(StringArray::from_iter_values(
                    (0..rows).map(|i| format!("k{i:05}")),
                )),
                Arc::new(StringArray::from_iter_values((0..rows).map(|_| "same"))),
                // Interleaved, but nulls all through the first slice.
                Arc::new(StringArray::from_iter(
                    (0..rows).map(|i| (i >= SLICE_ROWS).then_some(statuses[i % 4])),
                )),
                Arc::new(Float64Array::from_iter_values(
                    (0..rows).map(|i| (i % 10) as f64),
                )),
            ];
            RecordBatch::try_new(schema.clone(), columns).unwrap()
        };
        let with_statistics = |batch: &RecordBatch, statistics: ParquetStatistics| {
            let options = ParquetOptions {
                statistics,
                ..ParquetOptions::default()
            };
            let (metadata, read) = written(batch, &options);
            assert_eq!(read, vec![batch.clone()], "{statistics:?}");
            let group = metadata.row_group(0);
            (0..6)
                .map(|i| group.column(i).statistics().is_some())
                .collect::<Vec<_>>()
        };
        let judged = batch(SLICE_ROWS * SLICES);
        assert_eq!(
            with_statistics(&judged, ParquetStatistics::Auto),
            [false, false, true, true, true, true]
        );
        assert_eq!(with_statistics(&judged, ParquetStatistics::All), [true; 6]);
        assert_eq!(
            with_statistics(&judged, ParquetStatistics::None),
            [false; 6]
        );
        let short = batch(SLICE_ROWS * SLICES - 1);
        assert_eq!(with_statistics(&short, ParquetStatistics::Auto), [true; 6]);
    }
}

//! A write job's Parquet input: its rows as JSON records.

use std::path::Path as FsPath;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type, UInt8Type,
    UInt16Type, UInt32Type, UInt64Type,
};
use arrow_array::{Array, RecordBatch};
use arrow_schema::{DataType, TimeUnit};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::error::{Error, Result};
use crate::extract::Cell;
use crate::json::write_str;
use crate::sink::parquet::CHUNK_ROWS;
use crate::sink::write_json_cell;
use crate::write::input::{InputRecord, InputRecords};

/// A Parquet file's rows as JSON records, one row group at a time.
pub(crate) fn read(path: &FsPath) -> Result<InputRecords> {
    let shown = format!("input.path `{}`", path.display());
    let file =
        std::fs::File::open(path).map_err(|e| Error::io(format!("cannot open {shown}"), e))?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .and_then(|b| b.with_batch_size(CHUNK_ROWS).build())
        .map_err(|e| Error::data(format!("{shown} is not a readable Parquet file: {e}")))?;
    let rows = reader.flat_map(move |batch| -> Vec<Result<InputRecord>> {
        match batch {
            Ok(batch) => match records(&batch) {
                Ok(records) => records
                    .into_iter()
                    .map(|r| Ok(InputRecord::Record(r)))
                    .collect(),
                Err(e) => vec![Err(Error::data(format!("{shown}: {e}")))],
            },
            Err(e) => vec![Err(Error::data(format!("cannot read {shown}: {e}")))],
        }
    });
    Ok(Box::new(rows))
}

/// Each row of a batch as a JSON object, members in column order.
fn records(batch: &RecordBatch) -> std::result::Result<Vec<Vec<u8>>, String> {
    let schema = batch.schema();
    let mut keys = Vec::with_capacity(schema.fields().len());
    for (i, field) in schema.fields().iter().enumerate() {
        let mut key = vec![if i == 0 { b'{' } else { b',' }];
        write_str(field.name(), &mut key);
        key.push(b':');
        keys.push(key);
    }
    let mut rows = vec![Vec::new(); batch.num_rows()];
    for ((key, column), field) in keys.iter().zip(batch.columns()).zip(schema.fields()) {
        let json = field.extension_type_name() == Some(JSON);
        for (row, out) in rows.iter_mut().enumerate() {
            out.extend_from_slice(key);
            if column.is_null(row) {
                out.extend_from_slice(b"null");
            } else if json {
                write_json(column.as_ref(), row, out)
                    .map_err(|e| format!("column `{}` is marked JSON, but {e}", field.name()))?;
            } else {
                write_value(column.as_ref(), row, out)?;
            }
        }
    }
    for out in &mut rows {
        if keys.is_empty() {
            out.push(b'{');
        }
        out.push(b'}');
    }
    Ok(rows)
}

/// The name of Arrow's JSON extension type, which a Parquet column of
/// the `JSON` logical type reads as: hydrant's `json` columns, and those
/// of other writers (DuckDB's `JSON`, pyarrow's `pa.json_()`).
const JSON: &str = "arrow.json";

/// Writes the text of a JSON column as the value it holds, so that an
/// object read back goes as the object, not as a string of it. A line
/// break can only be white space between tokens in JSON (strings escape
/// theirs): it is left out, so the record stays on one line.
fn write_json(
    column: &dyn Array,
    row: usize,
    out: &mut Vec<u8>,
) -> std::result::Result<(), String> {
    let text = match column.data_type() {
        DataType::Utf8 => column.as_string::<i32>().value(row),
        DataType::LargeUtf8 => column.as_string::<i64>().value(row),
        DataType::Utf8View => column.as_string_view().value(row),
        other => return Err(format!("its type is {other}")),
    };
    if let Err(e) = serde_json::from_str::<serde::de::IgnoredAny>(text) {
        let shown: String = text.chars().take(60).collect();
        return Err(format!("{shown:?} is not JSON: {e}"));
    }
    out.extend(text.bytes().filter(|&b| b != b'\n' && b != b'\r'));
    Ok(())
}

/// Writes one value as a read column of its type would be written, so
/// that Parquet input and NDJSON output agree.
fn write_value(
    column: &dyn Array,
    row: usize,
    out: &mut Vec<u8>,
) -> std::result::Result<(), String> {
    let cell = match column.data_type() {
        DataType::Boolean => Cell::Bool(column.as_boolean().value(row)),
        DataType::Int8 => Cell::Int(column.as_primitive::<Int8Type>().value(row).into()),
        DataType::Int16 => Cell::Int(column.as_primitive::<Int16Type>().value(row).into()),
        DataType::Int32 => Cell::Int(column.as_primitive::<Int32Type>().value(row).into()),
        DataType::Int64 => Cell::Int(column.as_primitive::<Int64Type>().value(row)),
        DataType::UInt8 => Cell::Int(column.as_primitive::<UInt8Type>().value(row).into()),
        DataType::UInt16 => Cell::Int(column.as_primitive::<UInt16Type>().value(row).into()),
        DataType::UInt32 => Cell::Int(column.as_primitive::<UInt32Type>().value(row).into()),
        DataType::UInt64 => {
            // Beyond i64 a number is still written exactly, as its digits.
            let value = column.as_primitive::<UInt64Type>().value(row);
            crate::json::write_uint(value, out);
            return Ok(());
        }
        DataType::Float32 => Cell::Float(column.as_primitive::<Float32Type>().value(row)),
        DataType::Float64 => Cell::Double(column.as_primitive::<Float64Type>().value(row)),
        DataType::Utf8 => Cell::Str(column.as_string::<i32>().value(row).into()),
        DataType::LargeUtf8 => Cell::Str(column.as_string::<i64>().value(row).into()),
        DataType::Utf8View => Cell::Str(column.as_string_view().value(row).into()),
        DataType::Binary => Cell::Binary(column.as_binary::<i32>().value(row).to_vec()),
        DataType::LargeBinary => Cell::Binary(column.as_binary::<i64>().value(row).to_vec()),
        DataType::Date32 => Cell::Date(column.as_primitive::<Date32Type>().value(row)),
        DataType::Timestamp(unit, _) => Cell::Timestamp(timestamp_micros(column, *unit, row)),
        other => return Err(format!("columns of type {other} cannot be read")),
    };
    write_json_cell(&cell, out);
    Ok(())
}

fn timestamp_micros(column: &dyn Array, unit: TimeUnit, row: usize) -> i64 {
    use arrow_array::types::{
        TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
        TimestampSecondType,
    };
    match unit {
        TimeUnit::Second => column
            .as_primitive::<TimestampSecondType>()
            .value(row)
            .saturating_mul(1_000_000),
        TimeUnit::Millisecond => column
            .as_primitive::<TimestampMillisecondType>()
            .value(row)
            .saturating_mul(1000),
        TimeUnit::Microsecond => column.as_primitive::<TimestampMicrosecondType>().value(row),
        TimeUnit::Nanosecond => column.as_primitive::<TimestampNanosecondType>().value(row) / 1000,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::StringArray;
    use arrow_schema::{Field, Schema};
    use parquet::arrow::ArrowWriter;

    use super::*;

    /// A file of one row group: `doc` marked JSON, `note` plain text.
    fn file(doc: &str, note: &str) -> tempfile::NamedTempFile {
        let schema = Arc::new(Schema::new(vec![
            Field::new("doc", DataType::Utf8, true)
                .with_extension_type(arrow_schema::extension::Json::default()),
            Field::new("note", DataType::Utf8, true),
        ]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(StringArray::from(vec![doc])),
                Arc::new(StringArray::from(vec![note])),
            ],
        )
        .unwrap();
        let file = tempfile::NamedTempFile::new().unwrap();
        let mut writer = ArrowWriter::try_new(file.reopen().unwrap(), schema, None).unwrap();
        writer.write(&batch).unwrap();
        writer.close().unwrap();
        file
    }

    fn rows(file: &tempfile::NamedTempFile) -> Vec<Result<String>> {
        read(file.path())
            .unwrap()
            .map(|r| {
                r.map(|r| match r {
                    InputRecord::Record(bytes) => String::from_utf8(bytes).unwrap(),
                    other => panic!("a record, not {other:?}"),
                })
            })
            .collect()
    }

    #[test]
    fn a_json_column_goes_as_its_value_and_text_as_text() {
        let doc = "{\n  \"k\": [1, \"a b\"],\r\n  \"big\": 12345678901234567890123\n}";
        let got = rows(&file(doc, "{\"k\":1}"));
        let record = got[0].as_ref().unwrap();
        assert_eq!(
            record,
            "{\"doc\":{  \"k\": [1, \"a b\"],  \"big\": 12345678901234567890123},\"note\":\"{\\\"k\\\":1}\"}"
        );
    }

    #[test]
    fn a_json_column_that_holds_no_json_is_refused() {
        let got = rows(&file("{\"k\": tru", "x"));
        let error = got[0].as_ref().unwrap_err().to_string();
        assert!(
            error.contains("column `doc` is marked JSON, but \"{\\\"k\\\": tru\" is not JSON"),
            "{error}"
        );
        assert!(error.contains("input.path `"), "{error}");
    }
}

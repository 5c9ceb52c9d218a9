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
    for (key, column) in keys.iter().zip(batch.columns()) {
        for (row, out) in rows.iter_mut().enumerate() {
            out.extend_from_slice(key);
            if column.is_null(row) {
                out.extend_from_slice(b"null");
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

//! A write job's Parquet input: its rows as JSON records.

use std::path::Path as FsPath;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Decimal128Type, Decimal256Type, Float32Type, Float64Type, Int8Type, Int16Type,
    Int32Type, Int64Type, TimestampNanosecondType, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use arrow_array::{Array, RecordBatch};
use arrow_schema::extension::{ExtensionType, Json};
use arrow_schema::{DataType, TimeUnit};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::error::{Error, Result};
use crate::extract::{Cell, shown};
use crate::json::scan::Scanner;
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
    let mut scanner = Scanner::default();
    for ((key, column), field) in keys.iter().zip(batch.columns()).zip(schema.fields()) {
        let json = field.extension_type_name() == Some(Json::NAME);
        for (row, out) in rows.iter_mut().enumerate() {
            out.extend_from_slice(key);
            if column.is_null(row) {
                out.extend_from_slice(b"null");
            } else if json {
                write_json(column.as_ref(), row, &mut scanner, out)
                    .map_err(|e| format!("column `{}` is marked JSON, but {e}", field.name()))?;
            } else {
                write_value(column.as_ref(), row, out)
                    .map_err(|e| format!("column `{}`: {e}", field.name()))?;
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

/// Writes the text of a column marked JSON (Arrow's `arrow.json`, which
/// Parquet's `JSON` logical type reads as: hydrant's `json` columns,
/// DuckDB's `JSON`) as the value it holds, so that an object read back
/// goes as the object, not as a string of it. The text is checked as a
/// page is. A line break can only be white space between tokens in JSON
/// (strings escape theirs): it is left out, so the record stays on one
/// line.
fn write_json(
    column: &dyn Array,
    row: usize,
    scanner: &mut Scanner,
    out: &mut Vec<u8>,
) -> std::result::Result<(), String> {
    let text = match column.data_type() {
        DataType::Utf8 => column.as_string::<i32>().value(row),
        DataType::LargeUtf8 => column.as_string::<i64>().value(row),
        DataType::Utf8View => column.as_string_view().value(row),
        other => return Err(format!("its type is {other}")),
    };
    if let Err(malformed) = scanner.scan(text.as_bytes(), None) {
        return Err(format!("{} is not JSON: {malformed}", shown(text)));
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
        DataType::Timestamp(unit, _) => {
            write_timestamp(column, *unit, row, out);
            return Ok(());
        }
        DataType::Decimal128(..) => {
            // The exact digits, as a JSON number: money stays money.
            let text = column.as_primitive::<Decimal128Type>().value_as_string(row);
            out.extend_from_slice(text.as_bytes());
            return Ok(());
        }
        DataType::Decimal256(..) => {
            let text = column.as_primitive::<Decimal256Type>().value_as_string(row);
            out.extend_from_slice(text.as_bytes());
            return Ok(());
        }
        DataType::Dictionary(..) => {
            let dictionary = column.as_any_dictionary();
            let key = dictionary_key(dictionary.keys(), row)?;
            return write_item(dictionary.values().as_ref(), key, out);
        }
        DataType::List(_) => return write_list(&column.as_list::<i32>().value(row), out),
        DataType::LargeList(_) => return write_list(&column.as_list::<i64>().value(row), out),
        DataType::FixedSizeList(..) => {
            return write_list(&column.as_fixed_size_list().value(row), out);
        }
        DataType::Struct(fields) => {
            let columns = column.as_struct().columns();
            out.push(b'{');
            for (i, (field, member)) in fields.iter().zip(columns).enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_str(field.name(), out);
                out.push(b':');
                write_item(member.as_ref(), row, out)?;
            }
            out.push(b'}');
            return Ok(());
        }
        DataType::Map(..) => return write_map(column.as_map().value(row), out),
        other => return Err(format!("columns of type {other} cannot be read")),
    };
    write_json_cell(&cell, out);
    Ok(())
}

/// A value that may be null, within a list, struct or map.
fn write_item(
    column: &dyn Array,
    row: usize,
    out: &mut Vec<u8>,
) -> std::result::Result<(), String> {
    if column.is_null(row) {
        out.extend_from_slice(b"null");
        Ok(())
    } else {
        write_value(column, row, out)
    }
}

/// The elements of one list value as a JSON array.
fn write_list(elements: &dyn Array, out: &mut Vec<u8>) -> std::result::Result<(), String> {
    out.push(b'[');
    for i in 0..elements.len() {
        if i > 0 {
            out.push(b',');
        }
        write_item(elements, i, out)?;
    }
    out.push(b']');
    Ok(())
}

/// The entries of one map value as a JSON object. JSON's keys are
/// strings: a key that is not one goes as the text of its JSON (`1`,
/// `1.5`, `true`), as Python's `json.dumps` and DuckDB's `to_json`
/// write them; a key that is a list, struct or map has no such text.
fn write_map(
    entries: arrow_array::StructArray,
    out: &mut Vec<u8>,
) -> std::result::Result<(), String> {
    let (keys, values) = (entries.column(0), entries.column(1));
    if keys.data_type().is_nested() {
        return Err(format!(
            "a map with keys of type {} cannot be a JSON object",
            keys.data_type()
        ));
    }
    out.push(b'{');
    for i in 0..entries.len() {
        if i > 0 {
            out.push(b',');
        }
        let key = out.len();
        write_value(keys.as_ref(), i, out)?;
        // Numbers and `true`/`false` hold nothing to escape.
        if out.get(key) != Some(&b'"') {
            out.insert(key, b'"');
            out.push(b'"');
        }
        out.push(b':');
        write_item(values.as_ref(), i, out)?;
    }
    out.push(b'}');
    Ok(())
}

/// The index into a dictionary's values of row `row`'s key.
fn dictionary_key(keys: &dyn Array, row: usize) -> std::result::Result<usize, String> {
    let key = match keys.data_type() {
        DataType::Int8 => i64::from(keys.as_primitive::<Int8Type>().value(row)),
        DataType::Int16 => i64::from(keys.as_primitive::<Int16Type>().value(row)),
        DataType::Int32 => i64::from(keys.as_primitive::<Int32Type>().value(row)),
        DataType::Int64 => keys.as_primitive::<Int64Type>().value(row),
        DataType::UInt8 => i64::from(keys.as_primitive::<UInt8Type>().value(row)),
        DataType::UInt16 => i64::from(keys.as_primitive::<UInt16Type>().value(row)),
        DataType::UInt32 => i64::from(keys.as_primitive::<UInt32Type>().value(row)),
        other => return Err(format!("dictionary keys of type {other} cannot be read")),
    };
    usize::try_from(key).map_err(|_| format!("dictionary key {key} is negative"))
}

/// A nanosecond timestamp as RFC 3339 in UTC: as a microsecond one is
/// written, with all nine digits of the fraction where the last three are
/// not zero, so that no nanosecond is lost (pandas writes nanoseconds).
fn write_nanos(nanos: i64, out: &mut Vec<u8>) {
    let micros = nanos.div_euclid(1000);
    let start = out.len();
    write_json_cell(&Cell::Timestamp(micros), out);
    if nanos.rem_euclid(1000) == 0 {
        return;
    }
    // `…:SS[.fff[fff]]Z"`: keep up to the seconds, then the fraction.
    let seconds_end = out[start..]
        .iter()
        .rposition(|&b| b == b':')
        .map_or(out.len() - 2, |colon| start + colon + 3);
    out.truncate(seconds_end);
    let fraction = micros.rem_euclid(1_000_000) * 1000 + nanos.rem_euclid(1000);
    out.extend_from_slice(format!(".{fraction:09}Z\"").as_bytes());
}

/// A timestamp of any unit as RFC 3339 in UTC, as a read writes one;
/// nanoseconds go through [`write_nanos`], which keeps all of them.
fn write_timestamp(column: &dyn Array, unit: TimeUnit, row: usize, out: &mut Vec<u8>) {
    use arrow_array::types::{
        TimestampMicrosecondType, TimestampMillisecondType, TimestampSecondType,
    };
    let micros = match unit {
        TimeUnit::Second => column
            .as_primitive::<TimestampSecondType>()
            .value(row)
            .saturating_mul(1_000_000),
        TimeUnit::Millisecond => column
            .as_primitive::<TimestampMillisecondType>()
            .value(row)
            .saturating_mul(1000),
        TimeUnit::Microsecond => column.as_primitive::<TimestampMicrosecondType>().value(row),
        TimeUnit::Nanosecond => {
            let nanos = column.as_primitive::<TimestampNanosecondType>().value(row);
            return write_nanos(nanos, out);
        }
    };
    write_json_cell(&Cell::Timestamp(micros), out);
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
        written(&batch)
    }

    /// A Parquet file holding `batch`.
    fn written(batch: &RecordBatch) -> tempfile::NamedTempFile {
        let file = tempfile::NamedTempFile::new().unwrap();
        let mut writer =
            ArrowWriter::try_new(file.reopen().unwrap(), batch.schema(), None).unwrap();
        writer.write(batch).unwrap();
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

    /// JSON's keys are strings: a map keyed by numbers, booleans or dates
    /// goes with each key's text, as `json.dumps` writes it; strings of
    /// every Arrow kind stay strings; a map keyed by lists has no JSON and is refused,
    /// naming the type.
    #[test]
    fn a_map_keyed_by_numbers_goes_with_their_text_as_keys() {
        use arrow_array::ArrayRef;
        use arrow_array::builder::{
            BooleanBuilder, Date32Builder, Float64Builder, Int32Builder, LargeStringBuilder,
            ListBuilder, MapBuilder, StringBuilder,
        };

        let mut by_id = MapBuilder::new(None, Int32Builder::new(), StringBuilder::new());
        for (id, name) in [(7, "a"), (-12, "b\"")] {
            by_id.keys().append_value(id);
            by_id.values().append_value(name);
        }
        by_id.append(true).unwrap();
        let mut by_flag = MapBuilder::new(None, BooleanBuilder::new(), Float64Builder::new());
        by_flag.keys().append_value(true);
        by_flag.values().append_value(0.5);
        by_flag.append(true).unwrap();
        let mut by_rate = MapBuilder::new(None, Float64Builder::new(), Int32Builder::new());
        by_rate.keys().append_value(1.5);
        by_rate.values().append_value(1);
        by_rate.append(true).unwrap();
        let mut by_day = MapBuilder::new(None, Date32Builder::new(), Int32Builder::new());
        by_day.keys().append_value(19_723);
        by_day.values().append_value(3);
        by_day.append(true).unwrap();
        let mut by_name = MapBuilder::new(None, LargeStringBuilder::new(), Int32Builder::new());
        by_name.keys().append_value("é\"k");
        by_name.values().append_null();
        by_name.append(true).unwrap();
        let batch = RecordBatch::try_from_iter([
            ("by_id", Arc::new(by_id.finish()) as ArrayRef),
            ("by_flag", Arc::new(by_flag.finish())),
            ("by_rate", Arc::new(by_rate.finish())),
            ("by_day", Arc::new(by_day.finish())),
            ("by_name", Arc::new(by_name.finish())),
        ])
        .unwrap();
        let got: Vec<String> = rows(&written(&batch))
            .into_iter()
            .map(Result::unwrap)
            .collect();
        assert_eq!(
            got,
            [
                r#"{"by_id":{"7":"a","-12":"b\""},"by_flag":{"true":0.5},"by_rate":{"1.5":1},"by_day":{"2024-01-01":3},"by_name":{"é\"k":null}}"#
            ]
        );

        let mut by_list = MapBuilder::new(
            None,
            ListBuilder::new(Int32Builder::new()),
            Int32Builder::new(),
        );
        by_list.keys().values().append_value(1);
        by_list.keys().append(true);
        by_list.values().append_value(2);
        by_list.append(true).unwrap();
        let batch =
            RecordBatch::try_from_iter([("by_list", Arc::new(by_list.finish()) as ArrayRef)])
                .unwrap();
        let error = match rows(&written(&batch)).remove(0) {
            Err(e) => e.to_string(),
            Ok(row) => panic!("a map keyed by lists went as {row}"),
        };
        assert!(
            error.contains("column `by_list`: a map with keys of type List("),
            "{error}"
        );
    }

    /// Columns other writers make (pandas' nanoseconds, Spark's decimals,
    /// lists, structs and maps, pyarrow's dictionaries) go as the JSON of
    /// their values: nothing is cut, nothing refused.
    #[test]
    fn nested_decimal_dictionary_and_nanosecond_columns_go_as_json() {
        use arrow_array::builder::{Int64Builder, MapBuilder, StringBuilder};
        use arrow_array::types::Int32Type;
        use arrow_array::{
            ArrayRef, Decimal128Array, DictionaryArray, Int64Array, ListArray, StructArray,
            TimestampNanosecondArray,
        };

        let nanos: ArrayRef = Arc::new(
            TimestampNanosecondArray::from(vec![1, 1_700_000_000_123_456_789, -1])
                .with_timezone("UTC"),
        );
        let price: ArrayRef = Arc::new(
            Decimal128Array::from(vec![Some(1234), None, Some(-5)])
                .with_precision_and_scale(10, 2)
                .unwrap(),
        );
        let status: ArrayRef = Arc::new(
            vec![Some("open"), None, Some("open")]
                .into_iter()
                .collect::<DictionaryArray<Int32Type>>(),
        );
        let tags: ArrayRef = Arc::new(ListArray::from_iter_primitive::<Int64Type, _, _>(vec![
            Some(vec![Some(1), None]),
            None,
            Some(vec![]),
        ]));
        let fields = vec![
            Arc::new(Field::new("city", DataType::Utf8, true)),
            Arc::new(Field::new("zip", DataType::Int64, true)),
        ];
        let user: ArrayRef = Arc::new(
            StructArray::try_new(
                fields.into(),
                vec![
                    Arc::new(StringArray::from(vec![Some("X"), None, Some("é\"")])),
                    Arc::new(Int64Array::from(vec![Some(1), Some(2), None])),
                ],
                Some(vec![true, false, true].into()),
            )
            .unwrap(),
        );
        let mut map = MapBuilder::new(None, StringBuilder::new(), Int64Builder::new());
        map.keys().append_value("k");
        map.values().append_value(1);
        map.append(true).unwrap();
        map.append(false).unwrap();
        map.append(true).unwrap();
        let counts: ArrayRef = Arc::new(map.finish());
        let batch = RecordBatch::try_from_iter([
            ("at", nanos),
            ("price", price),
            ("status", status),
            ("tags", tags),
            ("user", user),
            ("counts", counts),
        ])
        .unwrap();
        let file = written(&batch);

        let got: Vec<String> = rows(&file).into_iter().map(Result::unwrap).collect();
        assert_eq!(
            got,
            [
                r#"{"at":"1970-01-01T00:00:00.000000001Z","price":12.34,"status":"open","tags":[1,null],"user":{"city":"X","zip":1},"counts":{"k":1}}"#,
                r#"{"at":"2023-11-14T22:13:20.123456789Z","price":null,"status":null,"tags":null,"user":null,"counts":null}"#,
                r#"{"at":"1969-12-31T23:59:59.999999999Z","price":-0.05,"status":"open","tags":[],"user":{"city":"é\"","zip":null},"counts":{}}"#,
            ]
        );
    }

    /// Every unit of a timestamp column reads as the same instant, with
    /// what fraction it holds.
    #[test]
    fn timestamps_of_every_unit_go_as_rfc_3339() {
        use arrow_array::{
            ArrayRef, TimestampMicrosecondArray, TimestampMillisecondArray,
            TimestampNanosecondArray, TimestampSecondArray,
        };
        let columns: [(&str, ArrayRef); 4] = [
            (
                "s",
                Arc::new(TimestampSecondArray::from(vec![1_700_000_000, -1])),
            ),
            (
                "ms",
                Arc::new(TimestampMillisecondArray::from(vec![1_700_000_000_250, -1])),
            ),
            (
                "us",
                Arc::new(TimestampMicrosecondArray::from(vec![
                    1_700_000_000_250_001,
                    -1,
                ])),
            ),
            (
                "ns",
                Arc::new(TimestampNanosecondArray::from(vec![
                    1_700_000_000_000_000_000,
                    -1_000,
                ])),
            ),
        ];
        let batch = RecordBatch::try_from_iter(columns).unwrap();
        let file = written(&batch);
        let got: Vec<String> = rows(&file).into_iter().map(Result::unwrap).collect();
        assert_eq!(
            got,
            [
                r#"{"s":"2023-11-14T22:13:20Z","ms":"2023-11-14T22:13:20.250Z","us":"2023-11-14T22:13:20.250001Z","ns":"2023-11-14T22:13:20Z"}"#,
                r#"{"s":"1969-12-31T23:59:59Z","ms":"1969-12-31T23:59:59.999Z","us":"1969-12-31T23:59:59.999999Z","ns":"1969-12-31T23:59:59.999999Z"}"#,
            ]
        );
    }
}

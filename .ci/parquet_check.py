"""Reads the Parquet files the tests left with pyarrow, an independent
reader, and checks every row against hydrant's NDJSON output of the same
job. Usage: parquet_check.py DIR (holding NAME.parquet beside NAME.ndjson)."""

import base64
import datetime
import json
import math
import pathlib
import sys

import pyarrow.parquet as pq


def same(column, parquet_value, ndjson_value):
    if parquet_value is None or ndjson_value is None:
        return parquet_value is None and ndjson_value is None
    if isinstance(parquet_value, datetime.datetime):
        expected = datetime.datetime.fromisoformat(ndjson_value.replace("Z", "+00:00"))
        return parquet_value == expected
    if isinstance(parquet_value, datetime.date):
        return parquet_value == datetime.date.fromisoformat(ndjson_value)
    if isinstance(parquet_value, bytes):
        return parquet_value == base64.b64decode(ndjson_value)
    if isinstance(parquet_value, float) and column.type == "float":
        return math.isclose(parquet_value, ndjson_value, rel_tol=1e-6)
    if isinstance(parquet_value, str) and parquet_value != ndjson_value:
        # A `json` column: the JSON text in Parquet, the value in NDJSON.
        return json.loads(parquet_value) == ndjson_value
    return parquet_value == ndjson_value


def main(folder):
    checked = 0
    for parquet in sorted(pathlib.Path(folder).glob("*.parquet")):
        table = pq.read_table(parquet)
        rows = table.to_pylist()
        lines = parquet.with_suffix(".ndjson").read_text().splitlines()
        expected = [json.loads(line) for line in lines]
        assert len(rows) == len(expected), f"{parquet}: {len(rows)} rows, NDJSON has {len(expected)}"
        for i, (row, want) in enumerate(zip(rows, expected)):
            assert list(row) == list(want), f"{parquet} row {i}: columns {list(row)} != {list(want)}"
            for field in table.schema:
                got = row[field.name]
                assert same(field, got, want[field.name]), (
                    f"{parquet} row {i} column {field.name}: {got!r} != {want[field.name]!r}"
                )
        checked += 1
        print(f"pyarrow: {parquet.name}: {len(rows)} rows x {len(table.schema)} columns match")
    assert checked > 0, f"no Parquet files in {folder}"


if __name__ == "__main__":
    main(sys.argv[1])

"""The Arrow stream of a job against the CLI's NDJSON, errors and run()."""

import datetime
import json
import os
import pickle
import signal
import subprocess
import threading
import time
import warnings

import pyarrow as pa
import pytest

import hydrant

TYPED_COLUMNS = """
[records]
path = "data"
[[columns]]
name = "id"
type = "long"
[[columns]]
name = "i"
type = "int"
[[columns]]
name = "s"
[[columns]]
name = "f"
type = "float"
[[columns]]
name = "d"
type = "double"
[[columns]]
name = "b"
type = "boolean"
[[columns]]
name = "day"
type = "date"
[[columns]]
name = "ts"
type = "timestamp"
[[columns]]
name = "bin"
type = "binary"
[[columns]]
name = "j"
type = "json"
"""


def typed_job(base, tmp_path):
    path = tmp_path / "typed.toml"
    path.write_text(f'[request]\nurl = "{base}/typed"\n{TYPED_COLUMNS}')
    return path


def test_the_arrow_stream_holds_what_the_cli_writes(base, cli, tmp_path):
    path = typed_job(base, tmp_path)
    table = pa.table(hydrant.Job.load(str(path)).read())
    assert table.schema == pa.schema([
        ("id", pa.int64()), ("i", pa.int32()), ("s", pa.string()), ("f", pa.float32()),
        ("d", pa.float64()), ("b", pa.bool_()), ("day", pa.date32()),
        ("ts", pa.timestamp("us", tz="UTC")), ("bin", pa.binary()), ("j", pa.string()),
    ])
    out = subprocess.run([cli, "run", str(path), "--quiet"], capture_output=True, text=True, check=True)
    ndjson = [json.loads(line) for line in out.stdout.splitlines()]
    rows = table.to_pylist()
    assert len(rows) == len(ndjson) == 2
    for row, line in zip(rows, ndjson):
        assert row["id"] == line["id"] and row["i"] == line["i"] and row["s"] == line["s"]
        assert row["f"] == line["f"] and row["d"] == line["d"] and row["b"] == line["b"]
        assert row["day"].isoformat() == line["day"]
        stamp = row["ts"].astimezone(datetime.timezone.utc)
        assert stamp == datetime.datetime.fromisoformat(line["ts"].replace("Z", "+00:00"))
        assert (row["bin"] is None) == (line["bin"] is None)
        assert json.loads(row["j"]) == line["j"]
    assert rows[0]["bin"] == b"hi"
    assert rows[1]["s"] == 'tab\there "q" é ✓'


def test_duckdb_polars_and_pyarrow_readers_take_the_stream(base, tmp_path):
    import duckdb
    import polars

    job = hydrant.Job.load(str(typed_job(base, tmp_path)))
    reader = pa.RecordBatchReader.from_stream(job.read())
    assert reader.read_all().num_rows == 2
    records = job.read()
    assert duckdb.sql("select sum(id) as total, max(s) from records").fetchall() == [
        (3, 'tab\there "q" é ✓')
    ]
    frame = polars.DataFrame(job.read())
    assert frame.columns == ["id", "i", "s", "f", "d", "b", "day", "ts", "bin", "j"]
    assert frame["id"].to_list() == [1, 2] and frame["s"][1] == 'tab\there "q" é ✓'
    assert frame["ts"].dtype == polars.Datetime("us", "UTC")


def test_duckdb_reads_the_clis_compressed_ndjson_and_csv(ledger, cli, tmp_path):
    # A checkpoint a page: each page ends a zstd frame or a gzip member,
    # and DuckDB reads them all, as the rows of the NDJSON.
    import duckdb

    parquet, want = ledger
    job = (parquet.parent / "ledger.toml").read_text()
    total = sum(row[0] for row in want)
    for name, reader, magic in [
        ("ledger.ndjson.zst", "read_json", b"\x28\xb5\x2f\xfd"),
        ("ledger.csv.zst", "read_csv", b"\x28\xb5\x2f\xfd"),
        ("ledger.ndjson.gz", "read_json", b"\x1f\x8b\x08"),
    ]:
        checkpointed = tmp_path / f"{name}.toml"
        state = tmp_path / f"{name}.state"
        checkpointed.write_text(f'{job}[state]\npath = "{state}"\nevery = "0s"\n')
        out = tmp_path / name
        subprocess.run([cli, "run", str(checkpointed), "--output", str(out), "--quiet"], check=True)
        assert out.read_bytes().startswith(magic) and out.read_bytes().count(magic) > 1, name
        query = f"select count(*), sum(id), count(*) filter (where status = 'paid') from {reader}('{out}')"
        assert duckdb.sql(query).fetchall() == [(3000, total, 1000)], name


def test_duckdb_polars_and_pyarrow_read_the_clis_parquet(ledger):
    # Whole numbers, dates and timestamps delta-encoded, strings with their
    # lengths apart, a repeating string in a dictionary, JSON text marked
    # as JSON, no statistics for a status whose every slice holds all its
    # values: each reader gets every row as the NDJSON has it, and filters
    # by the columns with statistics and without.
    import duckdb
    import polars
    import pyarrow.parquet as pq

    path, want = ledger
    encodings = {
        c.path_in_schema: c.encodings
        for c in (pq.ParquetFile(path).metadata.row_group(0).column(i) for i in range(9))
    }
    assert pq.ParquetFile(path).schema.column(8).logical_type.type == "JSON"
    assert "DELTA_BINARY_PACKED" in encodings["id"] and "DELTA_BINARY_PACKED" in encodings["at"]
    assert "DELTA_LENGTH_BYTE_ARRAY" in encodings["ref"]
    assert "RLE_DICTIONARY" in encodings["status"]
    group = pq.ParquetFile(path).metadata.row_group(0)
    statistics = {group.column(i).path_in_schema: group.column(i).statistics for i in range(9)}
    assert statistics["status"] is None
    assert (statistics["id"].min, statistics["id"].max) == (0, 2999)
    assert statistics["seen"].null_count == 300
    assert statistics["ref"].has_min_max
    table = f"read_parquet('{path}')"
    assert duckdb.sql(f"select count(*) from {table} where status = 'paid'").fetchall() == [(1000,)]
    assert duckdb.sql(f"select min(id) from {table} where id > 2990 and status = 'void'").fetchall() == [(2993,)]
    utc = datetime.timezone.utc

    def as_utc(t):
        return t.astimezone(utc) if t.tzinfo else t.replace(tzinfo=utc)

    def row(r):
        return r[:7] + (as_utc(r[7]), json.loads(r[8]))

    got = duckdb.sql(f"select * from read_parquet('{path}') order by id").fetchall()
    assert [row(r) for r in got] == want
    frame = polars.read_parquet(path).sort("id")
    assert [row(r) for r in frame.iter_rows()] == want
    table = pq.read_table(path).sort_by("id")
    assert [row(tuple(r.values())) for r in table.to_pylist()] == want


def test_errors_carry_the_message_and_exit_code(base, tmp_path):
    with pytest.raises(hydrant.HydrantError) as config:
        hydrant.Job.from_toml('[request]\nurl = "http://x.invalid/"\n[records]\npth = "data"\n')
    assert config.value.exit_code == 2
    assert "unknown field `pth`" in str(config.value)
    missing = hydrant.Job.from_toml(f'[request]\nurl = "{base}/missing"\n')
    with pytest.raises(hydrant.HydrantError) as failed:
        pa.table(missing.read())
    assert failed.value.exit_code == 1
    assert "answered 404" in str(failed.value)


def test_run_writes_the_output_and_returns_the_summary(base, tmp_path):
    out = tmp_path / "typed.ndjson"
    job = hydrant.Job.from_toml(
        f'[request]\nurl = "{base}/typed"\n[output]\npath = "{out}"\n{TYPED_COLUMNS}'
    )
    summary = job.run()
    assert summary["records"] == 2 and summary["stopped"] == "no_next"
    assert summary["output"] == str(out)
    assert len(out.read_text().splitlines()) == 2


def test_a_job_pickles_without_its_variables(base, tmp_path):
    path = tmp_path / "secret.toml"
    path.write_text(f'[request]\nurl = "{base}/typed"\nheaders = {{ Authorization = "Bearer ${{TOKEN}}" }}\n')
    job = hydrant.Job.load(str(path), vars={"TOKEN": "s3cret-t0ken"})
    pickled = pickle.dumps(job)
    assert b"s3cret-t0ken" not in pickled
    with pytest.raises(hydrant.HydrantError, match="TOKEN"):
        pickle.loads(pickled)


def test_a_stream_leaves_the_state_file_alone(base, tmp_path):
    state = tmp_path / "state.json"
    text = (
        f'[request]\nurl = "{base}/typed"\n[records]\npath = "data"\n'
        f'[state]\npath = "{state}"\n[output]\npath = "{tmp_path / "out.ndjson"}"\n'
        '[incremental]\ncursor = "id"\ntype = "long"\nstart = 0\nkey = ["id"]\nfilter = true\n'
    )
    job = hydrant.Job.from_toml(text)
    # A stream reads from the stored bookmark and does not move it.
    assert pa.table(job.read()).num_rows == 2
    assert not state.exists()
    assert pa.table(job.read()).num_rows == 2
    # A run moves it; the next stream starts there: the API ignores the
    # bound, so record 1 is filtered out, and record 2, at the bookmark,
    # was emitted by the run.
    assert job.run()["incremental"]["bookmark_after"] == 2
    assert json.loads(state.read_text())["bookmark"] == 2
    assert pa.table(job.read()).to_pylist() == []


def test_a_runs_warnings_reach_python(base, tmp_path):
    # `/typed` has its records under `data`: a job that looks under
    # `items` gets none, and the CLI would print a warning saying so.
    text = (
        f'[request]\nurl = "{base}/typed"\n[records]\npath = "items"\n'
        '[[columns]]\nname = "id"\ntype = "long"\n'
    )
    job = hydrant.Job.from_toml(text)
    records = job.read()
    assert records.summary is None
    with pytest.warns(hydrant.HydrantWarning, match=r"records.path `items` matches nothing") as seen:
        assert pa.table(records).num_rows == 0
    assert len(seen) == 1
    assert records.summary["records"] == 0
    assert records.summary["warnings"] == [str(seen[0].message)]
    # duckdb reads the stream on threads of its own (and takes one stream
    # for the schema first).
    import duckdb

    with pytest.warns(hydrant.HydrantWarning, match=r"records.path `items` matches nothing"):
        assert duckdb.sql("select count(id) from records").fetchall() == [(0,)]
    # A filter of "error" fails the read, as it fails run().
    with warnings.catch_warnings():
        warnings.simplefilter("error", hydrant.HydrantWarning)
        with pytest.raises(pa.ArrowInvalid, match=r"HydrantWarning: records.path `items`"):
            pa.table(job.read())
        with pytest.raises(hydrant.HydrantWarning, match=r"records.path `items` matches nothing"):
            hydrant.Job.from_toml(text + f'[output]\npath = "{tmp_path / "o.ndjson"}"\n').run()
    # A run without warnings issues none, and its summary counts what came.
    good = hydrant.Job.load(str(typed_job(base, tmp_path))).read()
    with warnings.catch_warnings():
        warnings.simplefilter("error", hydrant.HydrantWarning)
        assert pa.table(good).num_rows == 2
    assert good.summary["records"] == 2 and good.summary["warnings"] == []


@pytest.fixture
def ctrl_c():
    """Presses Ctrl-C half a second after it is called (the default
    handler in place, as in a terminal or a notebook)."""
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    timers = []

    def soon():
        timers.append(threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT)))
        timers[-1].start()

    yield soon
    for timer in timers:
        timer.join()
    signal.signal(signal.SIGINT, before)


def test_ctrl_c_stops_a_read_and_a_run(base, tmp_path, ctrl_c):
    # The second page takes 10 s; Ctrl-C does not wait for it.
    def job(first, out=None):
        text = (
            f'[request]\nurl = "{base}/slow?page={first}"\n[records]\npath = "data"\n'
            '[paginate]\ntype = "next_link"\nfrom = "next"\n'
        )
        return hydrant.Job.from_toml(text + (f'[output]\npath = "{out}"\n' if out else ""))

    started = time.monotonic()
    # A stream ends with the pages it had, then the interruption, which
    # the reader raises.
    ctrl_c()
    with pytest.raises(pa.ArrowInvalid, match="interrupted"):
        pa.table(job(0).read())
    # Before the first page, Ctrl-C is raised, caused by the interruption.
    ctrl_c()
    with pytest.raises(KeyboardInterrupt) as before_first:
        job(1).read().__arrow_c_stream__()
    assert isinstance(before_first.value.__cause__, hydrant.HydrantError)
    assert before_first.value.__cause__.exit_code == 130
    # run() stops as `hydrant run` stops on SIGINT: no output is left.
    out = tmp_path / "slow.ndjson"
    ctrl_c()
    with pytest.raises(KeyboardInterrupt) as stopped:
        job(0, out).run()
    assert stopped.value.__cause__.exit_code == 130
    assert "interrupted" in str(stopped.value.__cause__)
    assert not out.exists() and not (tmp_path / "slow.ndjson.partial").exists()
    assert time.monotonic() - started < 10, "waited for the slow page"


def flaky_job(base, tmp_path, out, state):
    """A checkpointed job of `/flaky`, whose page 2 fails once for this test."""
    return hydrant.Job.from_toml(
        f'[request]\nurl = "{base}/flaky"\nquery = {{ t = "{tmp_path.name}" }}\n'
        '[paginate]\ntype = "page"\n[limits]\nconcurrency = 1\n'
        f'[state]\npath = "{state}"\n[output]\npath = "{out}"\n'
    )


def test_run_resumes_from_its_checkpoint(api, base, tmp_path):
    out, state = tmp_path / "flaky.ndjson", tmp_path / "state.json"
    job = flaky_job(base, tmp_path, out, state)
    with pytest.raises(hydrant.HydrantError, match="answered 404") as failed:
        job.run()
    assert failed.value.exit_code == 1
    assert state.exists() and not out.exists()
    job.run(resume=True)
    assert [json.loads(line)["id"] for line in out.read_text().splitlines()] == list(range(1, 101))
    firsts = [target for target, _ in api.seen if f"t={tmp_path.name}" in target and "page=1" in target]
    assert len(firsts) == 1, "page 1 is not asked again"


def test_a_resumed_gzip_output_reads_whole_in_duckdb_and_python(api, base, tmp_path):
    # A gzip output ends a member at each checkpoint; the resumed run adds
    # members after the last whole one, which gzip readers read as one text.
    import gzip

    import duckdb

    out, state = tmp_path / "flaky.ndjson.gz", tmp_path / "state.json"
    job = flaky_job(base, tmp_path, out, state)
    with pytest.raises(hydrant.HydrantError, match="answered 404"):
        job.run()
    job.run(resume=True)
    with gzip.open(out, "rt") as lines:
        assert [json.loads(line)["id"] for line in lines] == list(range(1, 101))
    got = duckdb.sql(f"select count(*), sum(id) from read_json_auto('{out}')").fetchall()
    assert got == [(100, 5050)]

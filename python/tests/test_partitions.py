"""Partitions: every record in exactly one, picklable, no credential."""

import json
import pickle

import pyarrow as pa
import pytest

import hydrant


def fanout_job(base, tmp_path):
    path = tmp_path / "weather.toml"
    cities = ", ".join(f'"c{i}"' for i in range(10))
    path.write_text(
        f'[request]\nurl = "{base}/weather"\nheaders = {{ X-Api-Key = "${{KEY}}" }}\n'
        f'[fanout]\nparam = "city"\nvalues = [{cities}]\n'
        '[[columns]]\nname = "city"\n[[columns]]\nname = "n"\ntype = "long"\n'
        '[[columns]]\nname = "temp"\ntype = "double"\n'
    )
    return hydrant.Job.load(str(path), vars={"KEY": "k3y-never-pickled"})


def test_partitions_cover_every_record_once_in_order(base, tmp_path):
    job = fanout_job(base, tmp_path)
    whole = pa.table(job.read()).to_pylist()
    assert len(whole) == 30
    parts = job.partitions(4)
    assert [p.index for p in parts] == [0, 1, 2, 3] and all(p.count == 4 for p in parts)
    rows = []
    for part in parts:
        rows += pa.table(job.read(partition=part)).to_pylist()
    assert rows == whole


def test_partitions_are_picklable_and_hold_no_credential(base, tmp_path):
    job = fanout_job(base, tmp_path)
    parts = job.partitions(3)
    for part in parts:
        assert "k3y-never-pickled" not in part.to_json()
        again = pickle.loads(pickle.dumps(part))
        assert again == part
    assert parts == job.partitions(3), "deterministic"


def test_a_job_that_cannot_be_cut_is_one_partition_and_says_why(base):
    job = hydrant.Job.from_toml(
        f'[request]\nurl = "{base}/pages"\n[paginate]\ntype = "page"\n'
    )
    parts = job.partitions(8)
    assert len(parts) == 1
    assert "not known before the run" in parts[0].reason
    assert pa.table(job.read(partition=parts[0])).num_rows == 200
    counted = hydrant.Job.from_toml(
        f'[request]\nurl = "{base}/pages"\n[paginate]\ntype = "page"\nmax_requests = 5\n'
    )
    parts = counted.partitions(2)
    assert len(parts) == 2
    assert sum(pa.table(counted.read(partition=p)).num_rows for p in parts) == 200


def test_every_part_has_the_inferred_columns_of_the_whole_job(base):
    # Value `c`, the first, has no records; `b`'s list their members in
    # another order and have one more. The columns come from the first
    # page with records (`a`), for the whole job, `job.columns()` (the
    # Spark schema) and every part; a part that inferred its own would
    # differ, or have none.
    job = hydrant.Job.from_toml(
        f'[request]\nurl = "{base}/shapes"\n[fanout]\nparam = "v"\nvalues = ["c", "a", "b"]\n'
    )
    assert job.columns() == [("id", "long"), ("name", "string")]
    with pytest.warns(hydrant.HydrantWarning, match=r"outside the inferred columns \(extra\)"):
        whole = pa.table(job.read())
    parts = job.partitions(3)
    assert len(parts) == 3
    empty = pa.table(job.read(partition=parts[0]))
    first = pa.table(job.read(partition=parts[1]))
    with pytest.warns(hydrant.HydrantWarning, match=r"outside the inferred columns \(extra\)"):
        second = job.read(partition=parts[2])
        table = pa.table(second)
    assert first.schema == table.schema == empty.schema == whole.schema
    assert empty.num_rows == 0
    assert first.to_pylist() + table.to_pylist() == whole.to_pylist() == [
        {"id": 1, "name": "x"}, {"id": 2, "name": "y"},
    ]
    assert second.summary["unseen_fields"] == {"extra": 1}
    assert pickle.loads(pickle.dumps(parts[2])) == parts[2]


def test_each_part_run_writes_a_file_of_its_own(base, tmp_path):
    # Run one after the other into one folder, parts keep all their records.
    out = tmp_path / "weather.ndjson"
    job = hydrant.Job.from_toml(
        f'[request]\nurl = "{base}/weather"\n[fanout]\nparam = "city"\nvalues = ["c0", "c1"]\n'
        f'[output]\npath = "{out}"\n'
    )
    outputs = [job.run(partition=part)["output"] for part in job.partitions(2)]
    assert outputs == [str(tmp_path / "weather-1-of-2.ndjson"), str(tmp_path / "weather-2-of-2.ndjson")]
    cities = [[json.loads(line)["city"] for line in open(path)] for path in outputs]
    assert cities == [["c0"] * 3, ["c1"] * 3]
    assert not out.exists()

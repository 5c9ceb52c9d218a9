"""A Spark 4 local session reads a fan-out job through the data source."""

import os
import sys

import pytest

pyspark = pytest.importorskip("pyspark", reason="pyspark is installed by .ci/run")

KEY = "k3y-from-the-environment"


@pytest.fixture(scope="module")
def spark():
    from pyspark.sql import SparkSession

    # Spark's Python workers run this interpreter, where hydrant is.
    os.environ["PYSPARK_PYTHON"] = sys.executable
    # Every process that loads the job reads the key from its own
    # environment, never from a partition: the driver's, which the local
    # workers inherit, and the executors' (spark.executorEnv on a cluster).
    os.environ["WEATHER_KEY"] = KEY
    session = (
        SparkSession.builder.master("local[2]")
        .appName("hydrant-test")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.executorEnv.WEATHER_KEY", KEY)
        .getOrCreate()
    )
    import hydrant.spark

    hydrant.spark.register(session)
    yield session
    session.stop()


def test_spark_reads_every_record_of_a_fanout_job_once(spark, api, base, tmp_path):
    cities = ", ".join(f'"c{i}"' for i in range(10))
    path = tmp_path / "weather.toml"
    path.write_text(
        f'[request]\nurl = "{base}/weather"\nheaders = {{ X-Api-Key = "${{WEATHER_KEY}}" }}\n'
        f'[fanout]\nparam = "city"\nvalues = [{cities}]\n'
        '[[columns]]\nname = "city"\n[[columns]]\nname = "n"\ntype = "long"\n'
        '[[columns]]\nname = "temp"\ntype = "double"\n'
    )
    before = len(api.seen)
    df = spark.read.format("hydrant").option("job", str(path)).option("partitions", 4).load()
    assert [(f.name, f.dataType.simpleString()) for f in df.schema.fields] == [
        ("city", "string"), ("n", "bigint"), ("temp", "double"),
    ]
    assert df.rdd.getNumPartitions() == 4
    rows = sorted((r.city, r.n, r.temp) for r in df.collect())
    assert rows == sorted((f"c{i}", n, 10.5 + n) for i in range(10) for n in range(3))
    keys = {headers.get("x-api-key") for target, headers in api.seen[before:]}
    assert keys == {KEY}


def test_spark_reads_a_job_whose_columns_are_inferred(spark, base, tmp_path):
    # The schema comes from the first page with records (value `c` has
    # none), and each part reads those columns, though value `b`'s records
    # list their members in another order.
    path = tmp_path / "shapes.toml"
    path.write_text(
        f'[request]\nurl = "{base}/shapes"\n[fanout]\nparam = "v"\nvalues = ["c", "a", "b"]\n'
    )
    df = spark.read.format("hydrant").option("job", str(path)).option("partitions", 2).load()
    assert [(f.name, f.dataType.simpleString()) for f in df.schema.fields] == [
        ("id", "bigint"), ("name", "string"),
    ]
    assert sorted((r.id, r.name) for r in df.collect()) == [(1, "x"), (2, "y")]


def test_spark_reads_the_clis_parquet(spark, ledger):
    # Spark's own Parquet reader, on whole numbers, dates and timestamps
    # delta-encoded and strings stored with their lengths apart.
    import datetime
    import json

    path, want = ledger
    spark.conf.set("spark.sql.session.timeZone", "UTC")
    got = sorted(
        (r.id, r.account, r.amount, r.status, r.ref, r.seen, r.day,
         r.at.astimezone(datetime.timezone.utc), json.loads(r.lines))
        for r in spark.read.parquet(str(path)).collect()
    )
    assert len(got) == 3000 and got == want

"""hydrant as a Spark 4 data source (the Python Data Source API).

>>> import hydrant.spark
>>> hydrant.spark.register(spark)
>>> df = spark.read.format("hydrant").option("job", "orders.toml").load()

Options: ``job`` (the job file, required; every executor must be able to
read it), ``partitions`` (default: the session's default parallelism, as
``register`` found it). One Spark partition runs each ``Job.partitions(n)``
part. Credentials are read on each executor from its environment
(``spark.executorEnv.NAME``), never sent with a partition.
"""

from __future__ import annotations

from typing import Iterator

from pyspark.sql.datasource import DataSource, DataSourceReader, InputPartition

from hydrant._hydrant import Job, Partition

# The Spark SQL type of each column type.
SPARK_TYPES = {
    "string": "STRING",
    "json": "STRING",
    "int": "INT",
    "long": "BIGINT",
    "float": "FLOAT",
    "double": "DOUBLE",
    "boolean": "BOOLEAN",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
    "binary": "BINARY",
}


def ddl(columns: list[tuple[str, str]]) -> str:
    """A Spark DDL schema of ``(name, type)`` columns."""
    return ", ".join(f"`{name.replace('`', '``')}` {SPARK_TYPES[kind]}" for name, kind in columns)


class HydrantDataSource(DataSource):
    """Reads a hydrant job: ``spark.read.format("hydrant")``."""

    #: Parts when the ``partitions`` option is not given.
    default_partitions = 2

    @classmethod
    def name(cls) -> str:
        return "hydrant"

    def _job(self) -> Job:
        path = self.options.get("job")
        if not path:
            raise ValueError('hydrant: the option "job" (the job file) is missing')
        return Job.load(path)

    def schema(self) -> str:
        return ddl(self._job().columns())

    def reader(self, schema) -> "HydrantReader":
        n = int(self.options.get("partitions", self.default_partitions))
        return HydrantReader(self.options["job"], n)


class HydrantPartition(InputPartition):
    """One part of the job, as JSON text: no credential."""


class HydrantReader(DataSourceReader):
    def __init__(self, path: str, n: int):
        self.path = path
        self.n = n

    def partitions(self) -> list[HydrantPartition]:
        return [HydrantPartition(p.to_json()) for p in Job.load(self.path).partitions(self.n)]

    def read(self, partition: HydrantPartition) -> Iterator:
        import pyarrow

        part = Partition.from_json(partition.value)
        reader = pyarrow.RecordBatchReader.from_stream(Job.load(self.path).read(partition=part))
        yield from reader


def register(spark) -> None:
    """Registers the data source with a session, its default number of
    parts being the session's default parallelism."""
    try:
        default = spark.sparkContext.defaultParallelism
    except Exception:  # Spark Connect has no SparkContext.
        default = int(spark.conf.get("spark.default.parallelism", "2"))
    source = type("HydrantDataSource", (HydrantDataSource,), {"default_partitions": default})
    spark.dataSource.register(source)

"""hydrant as a Ray Data source.

>>> import hydrant.ray
>>> ds = hydrant.ray.read_hydrant("orders.toml", parallelism=8)

One read task runs each ``Job.partitions(n)`` part. Credentials are read
on each worker from its environment (Ray's ``runtime_env``), never sent
with a task.
"""

from __future__ import annotations

from typing import Union

from hydrant._hydrant import Job, Partition


def _read(path: str, part: str):
    import pyarrow

    stream = Job.load(path).read(partition=Partition.from_json(part))
    return [pyarrow.table(stream)]


def read_hydrant(job: Union[str, "Job"], parallelism: int = 8):
    """A Ray Dataset of the job's records: one read task per part."""
    from ray.data import Datasource, ReadTask, read_datasource
    from ray.data.block import BlockMetadata

    path = job if isinstance(job, str) else None
    if path is None:
        raise TypeError("read_hydrant takes the path of a job file, which every worker reads")

    class HydrantDatasource(Datasource):
        def estimate_inmemory_data_size(self):
            return None

        def get_read_tasks(self, parallelism: int, **_):
            tasks = []
            for part in Job.load(path).partitions(parallelism):
                text = part.to_json()
                meta = BlockMetadata(num_rows=None, size_bytes=None, input_files=None, exec_stats=None)
                tasks.append(ReadTask(lambda text=text: _read(path, text), meta))
            return tasks

    return read_datasource(HydrantDatasource(), override_num_blocks=parallelism)

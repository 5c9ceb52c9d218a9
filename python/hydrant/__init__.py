"""hydrant: pull records out of REST APIs as fast as the API allows.

>>> import hydrant, pyarrow
>>> job = hydrant.Job.load("orders.toml", vars={"TOKEN": "..."})
>>> table = pyarrow.table(job.read())

``Job.partitions(n)`` cuts a job into parts that run apart; ``hydrant.spark``
and ``hydrant.ray`` run them on Spark and Ray.
"""

from hydrant._hydrant import HydrantError, HydrantWarning, Job, Partition, Stream

__all__ = ["HydrantError", "HydrantWarning", "Job", "Partition", "Stream"]

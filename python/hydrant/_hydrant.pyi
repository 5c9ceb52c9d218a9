"""Type stubs of the engine module."""

from typing import Any, Mapping, Optional, Tuple

class HydrantError(Exception):
    """A hydrant error. ``exit_code`` is what ``hydrant run`` would exit
    with: 2 for a config error, 1 for a failed run, 130 if interrupted."""

    exit_code: int

class HydrantWarning(UserWarning):
    """A warning of a run, as ``hydrant run`` prints it: records that may
    be missing or were changed. Issued when a stream ends and by
    ``Job.run()``; a filter of ``"error"`` turns it into a failure."""

class Partition:
    """One part of a job, from ``Job.partitions(n)``. Picklable; it holds
    no credential."""

    @property
    def index(self) -> int: ...
    @property
    def count(self) -> int: ...
    @property
    def reason(self) -> Optional[str]:
        """Why the job is one part, when it could not be cut."""
    def to_json(self) -> str: ...
    @staticmethod
    def from_json(text: str) -> "Partition": ...

class Stream:
    """A job's records, not yet read: an object of the Arrow PyCapsule
    interface. Each stream taken from it runs the job again."""

    def __arrow_c_stream__(self, requested_schema: Any = None) -> Any: ...
    @property
    def summary(self) -> Optional[dict[str, Any]]:
        """The summary of the last stream read to its end (``records``,
        ``requests``, ``warnings``…), as ``Job.run()`` returns it."""

class Job:
    """A hydrant job."""

    @staticmethod
    def load(path: str, vars: Optional[Mapping[str, str]] = None) -> "Job":
        """Loads a job file (native TOML or JSON, DataWorks, Data Factory,
        YAML); ``vars`` fill ``${NAME}``, the environment the rest."""
    @staticmethod
    def from_toml(
        text: str,
        vars: Optional[Mapping[str, str]] = None,
        name: str = "job.toml",
    ) -> "Job": ...
    @property
    def name(self) -> str: ...
    def read(self, partition: Optional[Partition] = None) -> Stream:
        """The records as an Arrow stream (all of them, or a part's)."""
    def partitions(self, n: int) -> list[Partition]:
        """``min(n, units)`` parts: fan-out values, requests of a plan with
        a known end, or incremental windows."""
    def run(self, partition: Optional[Partition] = None, resume: bool = False) -> dict[str, Any]:
        """Runs the job as ``hydrant run`` does; returns the summary.
        ``resume`` goes on from the ``[state]`` checkpoint, as ``--resume``."""
    def columns(self) -> list[Tuple[str, str]]:
        """``(name, type)`` of each output column: declared, or inferred
        as a stream infers them (from the first pages with records)."""

"""Class-scale grading: every roster unit fetched, checked, reported; parallel (a local
process pool or Dask distributed), resumable after a crash, cached by what the result
depends on. ``run_batch`` is the Python API behind ``grader batch``."""

from grader.batch.cache import Backoff, cache_key, is_transient, probe, spec_hash
from grader.batch.engine import BatchError, BatchOptions, BatchSummary, gpu_need, run_batch
from grader.batch.executors import DaskExecutor, ExecutorError, LocalExecutor
from grader.batch.progress import NullProgress, RichProgress
from grader.batch.units import GradingUnit, Member, build_units

__all__ = [
    "Backoff", "BatchError", "BatchOptions", "BatchSummary", "DaskExecutor", "ExecutorError",
    "GradingUnit", "LocalExecutor", "Member", "NullProgress", "RichProgress", "build_units",
    "cache_key", "gpu_need", "is_transient", "probe", "run_batch", "spec_hash",
]  # fmt: skip

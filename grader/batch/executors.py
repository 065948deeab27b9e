"""Where grading jobs run: a local process pool (default) or a Dask distributed cluster.

Both take JSON-able payloads and hand back ``(payload, answer_or_exception)`` pairs as jobs
finish; the batch engine persists each answer itself, on the machine that runs the batch.

Dask on many machines: start a scheduler (``dask scheduler``) and workers that have the
same grader version installed and see OUT and the mirror cache on a shared file system
(the same paths); a GPU machine's workers declare their GPUs so reruns go one per GPU::

    dask scheduler --port 8786
    dask worker tcp://HEAD:8786 --nworkers 1 --nthreads 1 --resources GPU=1   # per GPU
    grader batch SPEC --roster roster.csv --out /shared/out --executor dask://HEAD:8786

On a Slurm cluster, ``dask-jobqueue`` submits the workers as Slurm jobs::

    from dask_jobqueue import SLURMCluster
    cluster = SLURMCluster(cores=4, memory="16GB", processes=1, walltime="04:00:00",
                           job_extra_directives=["--gres=gpu:1"],
                           worker_extra_args=["--resources", "GPU=1"])
    cluster.scale(jobs=8)        # eight GPU nodes
    print(cluster.scheduler_address)   # -> --executor dask://HOST:PORT
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import multiprocessing.util
import os
import tempfile
import time
from collections.abc import Callable
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Protocol

from grader.batch.worker import die_with_parent, grade_payload
from grader.extras import require
from grader.sandbox.base import SOCKET_PATH_MAX

Done = list[tuple[dict[str, Any], dict[str, Any] | BaseException]]


def _collect(futures: dict[Any, dict[str, Any]], finished: Any) -> Done:
    """Pair each finished future's payload with its answer, or with the exception that
    ended it (a dead or lost worker is one unit's error, not the batch's)."""
    out: Done = []
    for future in finished:
        payload = futures.pop(future)
        try:
            out.append((payload, future.result()))
        except BaseException as exc:  # noqa: BLE001
            out.append((payload, exc))
    return out


class ExecutorError(Exception):
    """The executor cannot be used (a bad address, no scheduler there)."""


class Executor(Protocol):
    name: str

    def submit(self, payload: dict[str, Any]) -> None: ...

    def poll(self, timeout: float) -> Done: ...

    @property
    def pending(self) -> int: ...

    def close(self, cancel: bool = False) -> None: ...


# the fork server listens on TMPDIR/pymp-XXXXXXXX/listener-XXXXXXXX, 33 bytes more
_MP_SUFFIX = len("/pymp-XXXXXXXX/listener-XXXXXXXX")
SHORT_TEMP_DIRS = ("/tmp", "/var/tmp", "/dev/shm")


def short_mp_temp_dir() -> str:
    """multiprocessing's folder for its sockets, made where the fork server's socket path
    fits: TMPDIR when it is short enough, else the first of SHORT_TEMP_DIRS that can be
    written (a Slurm job's or a test's TMPDIR can be longer than a socket path). Python
    3.11 fails there with "AF_UNIX path too long"."""
    base = tempfile.gettempdir()
    if len(os.fsencode(base)) + _MP_SUFFIX <= SOCKET_PATH_MAX:
        return multiprocessing.util.get_temp_dir()
    for short in SHORT_TEMP_DIRS:
        if os.path.isdir(short) and os.access(short, os.W_OK | os.X_OK):
            saved, tempfile.tempdir = tempfile.tempdir, short
            try:  # multiprocessing keeps the folder it makes for the rest of the process
                return multiprocessing.util.get_temp_dir()
            finally:
                tempfile.tempdir = saved
    return multiprocessing.util.get_temp_dir()


class LocalExecutor:
    """A pool of ``jobs`` worker processes, forked from a clean fork server that has the
    grader imported already (fast to start; no thread state of the batch is forked)."""

    def __init__(self, jobs: int = 1, job: Callable[[dict], dict] = grade_payload):
        self.name = f"local ({jobs} process{'es' if jobs != 1 else ''})"
        self.jobs = max(1, jobs)
        self.job = job
        self._pool: cf.ProcessPoolExecutor | None = None
        self._futures: dict[cf.Future, dict[str, Any]] = {}

    def _start(self) -> cf.ProcessPoolExecutor:
        if self._pool is None:  # started on the first job: an unchanged regrade needs none
            short_mp_temp_dir()  # before the fork server makes its socket there
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(["grader.batch.worker"])
            self._pool = cf.ProcessPoolExecutor(
                max_workers=self.jobs,
                mp_context=context,
                initializer=die_with_parent,
                initargs=(os.getpid(),),
            )
        return self._pool

    def submit(self, payload: dict[str, Any]) -> None:
        try:
            future = self._start().submit(self.job, payload)
        except BrokenProcessPool:  # a worker died (killed, out of memory): renew
            self.close(cancel=True)
            future = self._start().submit(self.job, payload)
        self._futures[future] = payload

    @property
    def pending(self) -> int:
        return len(self._futures)

    def poll(self, timeout: float) -> Done:
        if not self._futures:
            return []
        finished, _ = cf.wait(list(self._futures), timeout=timeout, return_when=cf.FIRST_COMPLETED)
        return _collect(self._futures, finished)

    def close(self, cancel: bool = False) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=not cancel, cancel_futures=cancel)
            self._pool = None


def dask_address(executor: str) -> str:
    """``dask://HOST:PORT`` (or ``tcp://HOST:PORT``) -> the scheduler address."""
    for prefix in ("dask://", "tcp://", "tls://"):
        if executor.startswith(prefix):
            rest = executor[len(prefix) :]
            if not rest or ":" not in rest:
                break
            return ("tls://" if prefix == "tls://" else "tcp://") + rest
    raise ExecutorError(
        f"--executor {executor!r}: use 'local' or 'dask://HOST:PORT' (a Dask scheduler)"
    )


class DaskExecutor:
    """Jobs on a Dask distributed cluster. When the spec reruns on a GPU, every job asks for
    the worker resource ``GPU=1`` (workers started with ``--resources GPU=1``), so reruns go
    one per GPU; otherwise jobs run on any worker. Work folders are the batch's OUT paths:
    workers on other machines need OUT and the mirror cache on a shared file system."""

    def __init__(self, address: str, gpu: str = "none", connect_timeout: float = 20.0):
        try:
            require("distributed", "--executor dask://")
            from dask.distributed import Client, as_completed
        except ImportError as exc:  # pragma: no cover - dask is a dependency
            raise ExecutorError(
                "the Dask executor needs `pip install 'dask[distributed]'`"
            ) from exc
        self.address = dask_address(address)
        try:
            self.client = Client(self.address, timeout=connect_timeout, set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise ExecutorError(f"no Dask scheduler answers at {self.address}: {exc}") from None
        self.requested = gpu
        self.count_interval_s = 10.0  # GPU workers are recounted while jobs are submitted
        self.gpu_workers = 0
        workers = self._count_workers()
        if gpu == "required" and not self.gpu_workers:
            raise ExecutorError(
                f"the spec reruns on a GPU but no worker at {self.address} declares one; "
                "start workers with `dask worker ADDRESS --resources GPU=1`"
            )
        self.name = f"dask {self.address} ({workers} workers, {self.gpu_workers} with GPU)"
        self._futures: dict[Any, dict[str, Any]] = {}
        self._completed = as_completed([], loop=self.client.loop)

    def _count_workers(self) -> int:
        workers = self.client.scheduler_info().get("workers", {})
        self.gpu_workers = sum(1 for w in workers.values() if w.get("resources", {}).get("GPU"))
        self._counted_at = time.monotonic()
        return len(workers)

    @property
    def gpu(self) -> bool:
        """Whether jobs ask for a GPU worker: always for "required"; for "optional" while
        the cluster has GPU workers (recounted as workers join and leave)."""
        if self.requested == "required":
            return True
        if self.requested != "optional":
            return False
        if time.monotonic() - self._counted_at >= self.count_interval_s:
            self._count_workers()
        return self.gpu_workers > 0

    def submit(self, payload: dict[str, Any]) -> None:
        future = self.client.submit(
            grade_payload,
            payload,
            key=f"grade-{payload['unit']['id']}-{payload['attempt_id']}",
            pure=False,
            resources={"GPU": 1} if self.gpu else None,
        )
        self._futures[future] = payload
        self._completed.add(future)

    @property
    def pending(self) -> int:
        return len(self._futures)

    def poll(self, timeout: float) -> Done:
        if not self._futures:
            return []
        finished = self._completed.next_batch(block=False)
        if not finished:
            time.sleep(min(timeout, 0.05))
            finished = self._completed.next_batch(block=False)
        return _collect(self._futures, finished)

    def close(self, cancel: bool = False) -> None:
        if cancel and self._futures:
            self.client.cancel(list(self._futures))
        self.client.close()

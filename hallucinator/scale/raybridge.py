"""Ray, at arm's length: importing it, starting or joining it, the chunk task, progress, and its errors.

Ray is an optional extra (``pip install "hallucinator[ray]"``); nothing else in the package imports
it.  :func:`ray_session` starts a local Ray (``--ray local``: one CPU per worker thread, quiet, no
dashboard) or joins a running cluster (``--ray ADDRESS``), and leaves it as it found it.
:class:`Dispatcher` keeps ``workers`` chunks running, collects their results as they finish, and
reads their progress from one small actor so a single bar covers every worker.

A worker process that dies (killed, out of memory) makes Ray rerun its chunk, up to ``retries``
times, on any worker; a :class:`~hallucinator.errors.UserError` inside a chunk (a frame that cannot
be decoded) is not retried and fails the job with its one line.
"""
from __future__ import annotations

import logging
import os
import socket
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from typing import Callable, Dict, Iterator, List, Optional, Tuple

from ..errors import UserError
from .options import LOCAL
from .tasks import ChunkJob, ChunkResult, Sources, run_chunk

INSTALL = 'pip install "hallucinator[ray]"'
FRAME_POLL_S = 0.1      # how often the driver looks for a running chunk's next frame
PROGRESS_POLL_S = 0.5   # how often it asks the workers' progress (for the bar)
AUTH_MODE = "RAY_AUTH_MODE"   # Ray sends its token to a cluster given by address only when this says "token"

_SESSION_PROGRESS: Dict[tuple, object] = {}     # this process's progress actor, by Ray session (held so it lives)


def import_ray():
    """The ``ray`` module, or a one-line error saying how to get it."""
    try:
        import ray
    except ImportError:
        raise UserError(f"--ray needs Ray, which is not installed; {INSTALL}") from None
    return ray


def _join(ray, address: str, quiet) -> None:
    """``ray.init`` at ``address``, with what Ray's C++ client writes straight to the standard error held back
    (a line a second for about 20 s while a cluster refuses its token): written out once it has joined,
    dropped when it fails, as the one-line error says why."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            ray.init(address=address, **quiet)
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        held.seek(0)
        sys.stderr.write(held.read().decode(errors="replace"))


@contextmanager
def ray_session(address: str, cpus: int) -> Iterator[object]:
    """Ray started here (``local``, with ``cpus`` CPUs) or joined at ``address``; shut down or left on exit.

    When this process is already connected to Ray, that connection is used and left open.
    """
    ray = import_ray()
    if ray.is_initialized():
        yield ray
        return
    quiet = dict(include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
    try:
        if address == LOCAL:
            ray.init(address="local", num_cpus=cpus, **quiet)    # a new Ray, never one found running
        else:
            _join(ray, address, quiet)
    except (ConnectionError, ValueError, RuntimeError) as exc:
        where = "start a local Ray" if address == LOCAL else f"join the Ray cluster at {address}"
        why = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        fix = "start one with 'ray start --head' and give its address, or use --ray local"
        if address != LOCAL and os.environ.get(AUTH_MODE, "").lower() != "token":
            fix += (f"; if the cluster asks for a token (Ray turns token authentication on by default), set "
                    f"{AUTH_MODE}=token here, with the head's token ('ray get-auth-token' there) in RAY_AUTH_TOKEN "
                    "or ~/.ray/auth_token")
        raise UserError(f"cannot {where} ({why}); {fix}") from None
    try:
        yield ray
    finally:
        _SESSION_PROGRESS.clear()
        ray.shutdown()


class _Progress:
    """Frames done per task and each task's attempts (pid, node), reported by the tasks (by :func:`task_key`).

    One per Ray session (:func:`progress_actor`), shared by the runs a process makes in it (a benchmark's),
    each under its own run id, so no run waits for a fresh actor's process to start.
    """

    def __init__(self):
        self.attempts: Dict[tuple, List[List]] = {}
        self.done: Dict[tuple, int] = {}          # frames each task has reported (its current attempt)

    def forget(self, run: str) -> None:
        """Drop a finished run's tasks."""
        for table in (self.attempts, self.done):
            for key in [k for k in table if k[0] == run]:
                del table[key]

    def start(self, key: tuple, pid: int, node: str) -> None:
        self.attempts.setdefault(key, []).append([pid, node])
        self.done[key] = 0

    def frame(self, key: tuple, done: int) -> None:
        self.done[key] = max(self.done.get(key, 0), done)

    def state(self):
        return self.done, self.attempts


def progress_actor(ray):
    """This Ray session's :class:`_Progress` actor, started on first use; this process holds it until the
    session ends (a later session gets its own)."""
    context = ray.get_runtime_context()
    session = context.get_node_id(), context.get_job_id()      # a job id is reused by a new local Ray, a node id not
    if session not in _SESSION_PROGRESS:
        _SESSION_PROGRESS.clear()
        _SESSION_PROGRESS[session] = ray.remote(num_cpus=0)(_Progress).remote()
    return _SESSION_PROGRESS[session]


def task_key(run: str, job: ChunkJob) -> Tuple[str, int, int, int]:
    """What the progress actor counts a task under: its run, its chunk's index and where that chunk begins (a
    chunk sent ahead of the scan and withdrawn at a cut, and the chunk sent in its place, are different tasks)."""
    c = job.chunk
    return run, c.index, c.warm_start, c.start


def dream_chunk(job: ChunkJob, sources: Optional[Sources], progress, key: tuple) -> ChunkResult:
    """The Ray task: record the attempt, dream the chunk, report frames as they are done (under ``key``)."""
    import ray

    ray.get(progress.start.remote(key, os.getpid(), socket.gethostname()))
    return run_chunk(job, sources, lambda n: progress.frame.remote(key, n))


class Dispatcher:
    """Runs chunk jobs as Ray tasks, at most ``window`` at once; results by chunk index as they finish."""

    def __init__(self, ray, window: int, retries: int, resources: Dict[str, float],
                 on_progress: Optional[Callable[[Dict[int, int]], None]] = None):
        self.ray, self.window, self.on_progress = ray, max(1, window), on_progress
        self.max_retries = retries
        self.task = ray.remote(dream_chunk).options(max_retries=retries, retry_exceptions=False, **resources)
        self.progress = progress_actor(ray)
        self.run = uuid.uuid4().hex[:12]
        self.queue: List[tuple] = []
        self.running: Dict[object, ChunkJob] = {}
        self.results: Dict[int, ChunkResult] = {}
        self.keys: Dict[int, tuple] = {}                      # chunk index -> its task's key (not withdrawn)
        self._reported: Tuple[Dict, Dict] = ({}, {})          # the actor's (done, attempts), by task key
        self._polled = -float("inf")

    @property
    def done(self) -> Dict[int, int]:
        """Frames each chunk's task has reported (its current attempt)."""
        return {k: self._reported[0].get(key, 0) for k, key in self.keys.items()}

    @property
    def attempts(self) -> Dict[int, List[List]]:
        return {k: self._reported[1][key] for k, key in self.keys.items() if key in self._reported[1]}

    def submit(self, job: ChunkJob, sources: Optional[Callable[[], Sources]] = None) -> None:
        """Queue ``job``; ``sources`` (called when it starts) gives its frames when they are shipped."""
        key = self.keys[job.chunk.index] = task_key(self.run, job)
        self.queue.append((job, sources, key))

    def withdraw(self, chunk: int) -> None:
        """Take chunk ``chunk``'s job back, queued or running (a chunk sent ahead that a cut moved): a running
        task is interrupted, its worker process kept; frames it cached are under its own key and go unused."""
        self.queue = [q for q in self.queue if q[0].chunk.index != chunk]
        for ref, job in list(self.running.items()):
            if job.chunk.index == chunk:
                del self.running[ref]
                try:
                    self.ray.cancel(ref, force=False)
                except Exception:
                    pass
        self.results.pop(chunk, None)
        self.keys.pop(chunk, None)

    def wait_for(self, chunk: int) -> ChunkResult:
        """Run tasks until chunk ``chunk``'s result is in; a failed chunk fails here with one line."""
        while chunk not in self.results:
            self._top_up()
            if not self.running:
                raise RuntimeError(f"chunk {chunk} was never submitted")
            ready, _ = self.ray.wait(list(self.running), num_returns=1, timeout=0.5)
            self._collect(ready)
            self._poll()
        self._top_up()
        return self.results[chunk]

    def wait_for_frames(self, chunk: int, cached: Callable[[], bool]) -> None:
        """Run tasks until ``cached()`` (the frame wanted is in the shared cache) or chunk ``chunk`` has finished."""
        while chunk not in self.results and not cached():
            self._top_up()
            if not self.running:
                raise RuntimeError(f"chunk {chunk} was never submitted")
            ready, _ = self.ray.wait(list(self.running), num_returns=1, timeout=FRAME_POLL_S)
            self._collect(ready)
            self._poll()

    def pump(self) -> None:
        """Collect finished chunks and start queued ones, without waiting (called between frames written)."""
        if self.running:
            ready, _ = self.ray.wait(list(self.running), num_returns=len(self.running), timeout=0)
            self._collect(ready)
        self._top_up()
        self._poll()

    def _top_up(self) -> None:
        while self.queue and len(self.running) < self.window:
            job, sources, key = self.queue.pop(0)
            data = self.ray.put(sources()) if sources else None
            self.running[self.task.remote(job, data, self.progress, key)] = job

    def _collect(self, ready) -> None:
        for ref in ready:
            job = self.running.pop(ref, None)
            if job is not None:          # not withdrawn meanwhile
                self.results[job.chunk.index] = self._get(ref, job)

    def _poll(self, now: bool = False) -> None:
        """The workers' progress from the actor: at most every PROGRESS_POLL_S unless ``now``."""
        t = time.monotonic()
        if not now and t - self._polled < PROGRESS_POLL_S:
            return
        self._polled = t
        self._reported = self.ray.get(self.progress.state.remote())
        if self.on_progress:
            self.on_progress(self.done)

    def _get(self, ref, job: ChunkJob) -> ChunkResult:
        c = job.chunk
        what = f"chunk {c.index} (frames {c.warm_start}-{c.stop - 1})"
        try:
            return self.ray.get(ref)
        except self.ray.exceptions.RayTaskError as exc:
            cause = getattr(exc, "cause", None)
            if isinstance(cause, UserError):
                raise UserError(f"{what}: {cause.message}") from None
            raise
        except (self.ray.exceptions.WorkerCrashedError, self.ray.exceptions.OutOfMemoryError):
            raise UserError(f"{what}: its worker process died on all {1 + self.max_retries} attempts "
                            "(out of memory?); run the same command again to resume, with fewer --workers",
                            code=1) from None

    def cancel(self) -> None:
        """Stop what is still running or queued (after a failure), and drop this run's progress."""
        self.queue.clear()
        for ref in list(self.running):
            try:
                self.ray.cancel(ref, force=True)
            except Exception:
                pass
        self.running.clear()
        self.progress.forget.remote(self.run)

    def attempt_log(self) -> Dict[int, List[List]]:
        """Per chunk, the (pid, node) of each attempt that began dreaming it."""
        self._poll(now=True)
        return self.attempts

    def retries(self) -> Dict[int, int]:
        """Reruns per chunk (attempts beyond the first)."""
        return {c: len(a) - 1 for c, a in self.attempt_log().items() if len(a) > 1}


def task_resources(device: str, threads: int, cluster: Dict[str, float]) -> Dict[str, float]:
    """What one chunk task asks of Ray: a GPU when the cluster has them and the device allows, else CPUs."""
    if device in ("auto", "cuda") and cluster.get("GPU", 0) >= 1:
        return {"num_gpus": 1, "num_cpus": 1}
    return {"num_cpus": max(1, threads)}

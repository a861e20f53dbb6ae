"""Where the server's model calls run: one bounded work queue (a single worker thread, so one model call at a time
and the page's own requests never pile up behind a thread pool) and background jobs that feed it piece by piece.

A job (explaining or evaluating a dataset) runs in its own thread but sends each chunk of model work through the
same queue as the interactive requests, so a click on *Explain* waits for at most one chunk of a long job, never
for the whole job. Jobs report progress (``done`` of ``total``) and stop between chunks when cancelled.
"""

from __future__ import annotations

import itertools
import queue
import threading
import time
import traceback
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Callable

from ..errors import InvalidArgumentError, LumosError

__all__ = ["WorkQueue", "QueueFull", "Job", "Jobs", "Cancelled"]


class QueueFull(LumosError, RuntimeError):
    """The work queue holds its maximum of pending calls (the server answers 503: try again shortly)."""


class Cancelled(LumosError, RuntimeError):
    """A job was cancelled between two of its chunks."""


class WorkQueue:
    """Run callables one at a time on a single worker thread, holding at most ``max_pending`` waiting calls.

    ``submit(fn)`` returns a :class:`concurrent.futures.Future`; a call beyond the bound raises
    :class:`QueueFull` at once instead of waiting (a request never blocks on a full queue).
    """

    def __init__(self, max_pending: int = 64) -> None:
        if not isinstance(max_pending, int) or max_pending < 1:
            raise InvalidArgumentError(f"The 'max_pending' parameter of WorkQueue must be an int >= 1. Got {max_pending!r}.")
        self.max_pending = max_pending
        self._queue: queue.Queue[tuple[Callable[[], Any], Future] | None] = queue.Queue(maxsize=max_pending)
        self._thread = threading.Thread(target=self._work, name="lumos-work", daemon=True)
        self._thread.start()
        self.n_done = 0

    def submit(self, fn: Callable[[], Any]) -> Future:
        future: Future = Future()
        try:
            self._queue.put_nowait((fn, future))
        except queue.Full:
            raise QueueFull(f"The server's work queue is full ({self.max_pending} calls waiting); try again "
                            "shortly.") from None
        return future

    def call(self, fn: Callable[[], Any]) -> Any:
        """Run ``fn`` on the worker and wait for its result (for job threads; requests await the future)."""
        return self.submit(fn).result()

    @property
    def pending(self) -> int:
        return self._queue.qsize()

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            fn, future = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn())
            except BaseException as exc:  # handed to the waiting request, which answers it
                future.set_exception(exc)
            self.n_done += 1

    def close(self) -> None:
        """Stop the worker after the calls already queued."""
        self._queue.put(None)
        self._thread.join(timeout=5)


@dataclass
class Job:
    """A background job: its kind, progress (``done`` of ``total``), state and result or error."""

    id: str
    kind: str
    total: int
    done: int = 0
    state: str = "running"  # running | done | failed | cancelled
    result: Any = None
    error: str | None = None
    started: float = field(default_factory=time.time)
    finished: float | None = None
    _cancel: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def check(self) -> None:
        """Raise :class:`Cancelled` when the job was asked to stop (called between chunks)."""
        if self._cancel.is_set():
            raise Cancelled(f"The job {self.id} was cancelled.")

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "total": self.total, "done": self.done, "state": self.state,
                "result": self.result, "error": self.error,
                "seconds": (self.finished or time.time()) - self.started}


class Jobs:
    """The server's background jobs: start one (a function of the job that returns its JSON-ready result),
    look it up, cancel it. At most ``max_running`` run at once."""

    def __init__(self, max_running: int = 4) -> None:
        self.max_running = max_running
        self._jobs: dict[str, Job] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def start(self, kind: str, total: int, run: Callable[[Job], Any]) -> Job:
        with self._lock:
            running = sum(j.state == "running" for j in self._jobs.values())
            if running >= self.max_running:
                raise QueueFull(f"{running} background jobs are running (at most {self.max_running}); wait for one "
                                "to finish or cancel one.")
            job = Job(id=f"job-{next(self._ids)}", kind=kind, total=total)
            self._jobs[job.id] = job

        def body() -> None:
            try:
                job.result = run(job)
                job.state = "done"
            except Cancelled:
                job.state = "cancelled"
            except LumosError as exc:
                job.state, job.error = "failed", str(exc)
            except Exception as exc:  # a bug: keep the server up, say what broke
                job.state, job.error = "failed", f"{type(exc).__name__}: {exc}"
                traceback.print_exc()
            job.finished = time.time()

        threading.Thread(target=body, name=job.id, daemon=True).start()
        return job

    def get(self, job_id: str) -> Job:
        from ..errors import UnknownNameError

        try:
            return self._jobs[job_id]
        except KeyError:
            raise UnknownNameError(f"No job {job_id!r}; jobs: {', '.join(self._jobs) or 'none'}.") from None

    def cancel(self, job_id: str) -> Job:
        job = self.get(job_id)
        job._cancel.set()
        return job

    def list(self) -> list[Job]:
        return list(self._jobs.values())

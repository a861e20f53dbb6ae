"""The work queue and background jobs: one call at a time, a bound that refuses instead of waiting, progress and
cancel."""

from __future__ import annotations

import threading
import time

import pytest

from lumos.errors import InvalidArgumentError
from lumos.server.work import Jobs, QueueFull, WorkQueue


def test_calls_run_one_at_a_time_in_order():
    """Submitted calls run on one worker thread, in submission order, never two at once."""
    q = WorkQueue(max_pending=50)
    running, seen, order = [], [], []
    lock = threading.Lock()

    def call(i):
        def fn():
            with lock:
                running.append(i)
                seen.append(len(running))
            time.sleep(0.002)
            with lock:
                running.remove(i)
            order.append(i)
            return i * i
        return fn

    futures = [q.submit(call(i)) for i in range(20)]
    assert [f.result(timeout=10) for f in futures] == [i * i for i in range(20)]
    assert order == list(range(20)) and max(seen) == 1
    q.close()


def test_full_queue_refuses_at_once():
    """Beyond max_pending waiting calls, submit raises QueueFull (the server's 503) instead of blocking."""
    q = WorkQueue(max_pending=2)
    gate = threading.Event()
    first = q.submit(gate.wait)
    time.sleep(0.05)  # the worker holds the first call; two more may wait
    q.submit(lambda: 1)
    q.submit(lambda: 2)
    with pytest.raises(QueueFull, match="2 calls waiting"):
        q.submit(lambda: 3)
    gate.set()
    assert first.result(timeout=5) is True
    q.close()


def test_errors_reach_the_caller():
    """An exception raised by a call is raised by its future, and the worker keeps going."""
    q = WorkQueue()
    bad = q.submit(lambda: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        bad.result(timeout=5)
    assert q.call(lambda: "still here") == "still here"
    q.close()


def test_max_pending_is_validated():
    """A max_pending below 1 is refused with a message naming the parameter."""
    with pytest.raises(InvalidArgumentError, match="'max_pending'"):
        WorkQueue(max_pending=0)


def test_job_progress_result_and_cancel():
    """A job reports done of total and its result; a cancelled job stops between chunks."""
    jobs = Jobs(max_running=1)

    def count(job):
        for i in range(5):
            job.check()
            job.done = i + 1
        return {"sum": 15}

    job = jobs.start("count", 5, count)
    for _ in range(100):
        if job.state != "running":
            break
        time.sleep(0.01)
    assert job.to_dict()["state"] == "done" and job.done == 5 and job.result == {"sum": 15}

    gate = threading.Event()

    def slow(job):
        for i in range(100):
            gate.wait(5)
            job.check()
            job.done = i + 1
        return None

    long = jobs.start("slow", 100, slow)
    with pytest.raises(QueueFull):
        jobs.start("another", 1, count)  # max_running=1
    jobs.cancel(long.id)
    gate.set()
    for _ in range(200):
        if long.state != "running":
            break
        time.sleep(0.01)
    assert long.state == "cancelled" and long.done == 0

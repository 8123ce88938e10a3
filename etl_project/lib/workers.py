"""The processes the pipeline works on: the calling one plus a pool of spawned workers kept for the
life of the process.

A CLI run of several batches pays the workers' start-up (imports, the theme method's set-up) once.
Work that comes after the core in the same process can use the kept workers too: the dataset checks
run Great Expectations in one (:mod:`etl_project.lib.expectations`), so the calling process never
imports it and the import overlaps the steps that run meanwhile.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
import threading
from concurrent.futures import Future, ProcessPoolExecutor, wait
from multiprocessing import get_context, parent_process
from multiprocessing.connection import wait as wait_for


def default_workers() -> int:
    """Processes the core works on, the calling one included: ``ETL_CORE_WORKERS`` if set, else the
    usable CPU count (at most 4: each process holds a batch in memory)."""
    configured = os.environ.get("ETL_CORE_WORKERS")
    if configured:
        return max(1, int(configured))
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(usable, 4))


_POOLS: dict[int, ProcessPoolExecutor] = {}


def worker_pool(helpers: int) -> ProcessPoolExecutor | None:
    """A pool of ``helpers`` spawned processes, kept for the life of this process: a CLI run of several
    partitions pays the workers' start-up (imports) once, not once per partition."""
    if helpers < 1:
        return None
    pool = _POOLS.get(helpers)
    if pool is None or getattr(pool, "_broken", False) or getattr(pool, "_shutdown_thread", False):
        pool = _POOLS[helpers] = ProcessPoolExecutor(max_workers=helpers, mp_context=get_context("spawn"), initializer=_worker_setup)
    return pool


def _worker_setup() -> None:
    """A worker's set-up: it ends as soon as its exit handlers have run, and it ends when the process
    that started it is gone.

    Tearing down a worker's interpreter (every module it imported, Great Expectations' included, and
    the objects of the batches it ran) took about a second, and the calling process waits for its
    workers before it exits. A worker holds nothing that needs that teardown: what it writes is
    closed when its call returns.

    A calling process killed outright (SIGKILL, the out-of-memory killer) never tells its workers to
    stop, and a spawned worker waiting for its next call would wait for ever, holding its memory. So
    a thread watches the parent's sentinel and ends the worker when the parent dies; a call it was
    running is lost with the run, and the next run clears what that run left (lib/commit.py)."""
    atexit.register(_end_now)  # run first: handlers run last-registered first, after multiprocessing's own
    parent = parent_process()
    if parent is not None:
        threading.Thread(target=_end_with, args=(parent.sentinel,), name="etl-parent-watch", daemon=True).start()


def _end_with(parent_sentinel: int) -> None:
    wait_for([parent_sentinel])  # ready when the parent process has ended
    os._exit(1)


def _end_now() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(0)


def kept_pool() -> ProcessPoolExecutor | None:
    """A working pool this process has already started (the core's), else None: what runs after the core
    may use its idle workers, but never starts processes of its own."""
    for pool in _POOLS.values():
        if not getattr(pool, "_broken", False) and not getattr(pool, "_shutdown_thread", False):
            return pool
    return None


@atexit.register
def _close_pools() -> None:
    for pool in _POOLS.values():
        pool.shutdown(wait=False, cancel_futures=True)


def run_calls(pool: ProcessPoolExecutor | None, calls: list[tuple]) -> list:
    """Results of ``fn(*args)`` for each ``(fn, *args)`` in ``calls``, in order.

    The calling process takes calls too, so ``pool`` holds one process fewer than
    the work runs on; each process takes the next call when it is free. The
    first exception is raised once every started call has ended.
    """
    if pool is None:
        return [fn(*args) for fn, *args in calls]
    pending = iter(enumerate(calls))
    lock = threading.RLock()  # a callback of an already finished future runs at once, under the lock
    futures: dict[int, Future] = {}
    results: dict[int, object] = {}

    def take():
        with lock:
            return next(pending, None)

    def feed(_: Future | None = None) -> None:
        with lock:
            item = take()
            if item is not None:
                i, (fn, *args) = item
                futures[i] = pool.submit(fn, *args)
                futures[i].add_done_callback(feed)

    for _ in range(pool._max_workers):
        feed()
    try:
        while (item := take()) is not None:
            i, (fn, *args) = item
            results[i] = fn(*args)
    finally:
        with lock:
            started = list(futures.values())
            for _ in pending:  # nothing more starts
                pass
        wait(started)
    for i, future in futures.items():
        results[i] = future.result()
    return [results[i] for i in range(len(calls))]

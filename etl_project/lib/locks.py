"""Write locks for a warehouse on object storage, across machines: PostgreSQL advisory locks.

On local disk :meth:`etl_project.lib.warehouse.Warehouse.locked` takes a file
lock. An object store has none, so there a table's read-merge-write is kept
apart from other writers by

* when ``ETL_WAREHOUSE_LOCK_URL`` names a PostgreSQL database (e.g. the
  Dagster instance's, ``postgresql://user:password@host:5432/dagster``), a
  session-level advisory lock per name (the warehouse's write lock, a batch's
  lock, the manifest's), here. The cluster profile requires it; the Dagster pool
  ``warehouse_writes`` there only caps the batches in flight. This also covers
  writers that are not Dagster steps: the batch manifest written when a sensor,
  the schedule or ``etl-project run`` claims a batch, and ``etl-project run``
  started from any machine against the same ``s3://`` warehouse.

The lock belongs to a database session: a writer that dies (even SIGKILL)
drops its connection and with it the lock, so nothing stays locked.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterator

LOCK_URL_VARIABLE = "ETL_WAREHOUSE_LOCK_URL"


def lock_key(warehouse_uri: str, table: str) -> int:
    """A signed 64-bit key (what ``pg_advisory_lock`` takes) for one table of one warehouse."""
    digest = hashlib.sha256(f"etl_project\0{warehouse_uri.rstrip('/')}\0{table}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@contextlib.contextmanager
def advisory_lock(url: str, key: int) -> Iterator[None]:
    """Hold PostgreSQL's session advisory lock ``key`` (waiting for it) while the block runs."""
    import psycopg2

    connection = psycopg2.connect(url)
    try:
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute("select pg_advisory_lock(%s)", (key,))
            try:
                yield
            finally:
                cursor.execute("select pg_advisory_unlock(%s)", (key,))
    finally:
        connection.close()


@contextlib.contextmanager
def remote_lock(warehouse_uri: str, table: str) -> Iterator[None]:
    """The table's advisory lock when ``ETL_WAREHOUSE_LOCK_URL`` is set, else nothing (the pool alone)."""
    url = os.environ.get(LOCK_URL_VARIABLE)
    if not url:
        yield
        return
    with advisory_lock(url, lock_key(warehouse_uri, table)):
        yield


@contextlib.contextmanager
def remote_try_lock(warehouse_uri: str, name: str) -> Iterator[bool]:
    """Try the advisory lock without waiting: yields True when taken (or when no lock server is set)."""
    url = os.environ.get(LOCK_URL_VARIABLE)
    if not url:
        yield True
        return
    import psycopg2

    key = lock_key(warehouse_uri, name)
    connection = psycopg2.connect(url)
    try:
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute("select pg_try_advisory_lock(%s)", (key,))
            got = bool(cursor.fetchone()[0])
            try:
                yield got
            finally:
                if got:
                    cursor.execute("select pg_advisory_unlock(%s)", (key,))
    finally:
        connection.close()

"""Ingest batches: which raw files each run reads (pure, no Dagster).

A batch is a set of raw files claimed together, named by the UTC time it was
claimed (``20261201T191300Z``). Its files are recorded in the warehouse, in
``_batches/manifest.parquet`` (``batch, path, size, mtime_ns, claimed_at``), so
a batch can be re-run later and reads the same files; in Dagster every batch
is one partition of the pipeline's assets.

A file is *pending* when its (path, size, mtime) is in no batch yet: new
files, and files changed since they were claimed. Whether a changed file's
*content* changed is decided by its SHA-256 when it is read (see
:func:`etl_project.lib.warehouse.Warehouse.known_sources`): a file that was
only touched costs one hash, nothing more.

Batches are bounded (:data:`DEFAULT_MAX_FILES`, :data:`DEFAULT_MAX_BYTES`): a cold start on a
huge folder becomes many bounded batches. A batch is *finished* when its rows were published: its
``_published/<batch>.json`` mark is committed in the same commit as its rows
(:mod:`etl_project.lib.pipeline`). A claimed batch without the mark is *unfinished* (its run was
killed, crashed or failed) and every entry point takes it up again: ``etl-project run``, the sensor
and the daily schedule. While a run works on a batch it holds the batch's lock
(:func:`batch_lock`), which dies with its process, so two runs never work on one batch at once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from etl_project.lib.readers import discover_folder
from etl_project.lib.warehouse import Warehouse

MANIFEST = "_batches/manifest.parquet"
# An ingest batch holds at most this many files and about this many bytes (ETL_BATCH_MAX_FILES /
# ETL_BATCH_MAX_MB): a cold start on 500,000 files becomes bounded partitions, each a bounded run.
DEFAULT_MAX_FILES = 50_000
DEFAULT_MAX_BYTES = 1024 * 2**20
LISTING_SCHEMA = {"path": pl.String, "size": pl.Int64, "mtime_ns": pl.Int64}
MANIFEST_SCHEMA = {"batch": pl.String, **LISTING_SCHEMA, "claimed_at": pl.Datetime("us", "UTC")}


def scan(raw_root: Path) -> pl.DataFrame:
    """Every path the pipeline would read or reject under ``raw_root``, with size and mtime (no content read)."""
    rows = []
    for rel, path in discover_folder(Path(raw_root)).paths():
        try:
            stat = os.lstat(path)  # the real path: a relative one with an escaped name names no file
        except OSError:
            continue  # vanished between listing and stat: it will be seen next time
        rows.append((rel, stat.st_size, stat.st_mtime_ns))
    return pl.DataFrame(rows, schema=LISTING_SCHEMA, orient="row").sort("path")


def fingerprint(listing: pl.DataFrame) -> str:
    """A short digest of a listing: equal listings, equal fingerprints (a cheap sensor cursor)."""
    digest = hashlib.sha256()
    for path, size, mtime in listing.sort("path").iter_rows():
        digest.update(f"{path}\0{size}\0{mtime}\n".encode())
    return digest.hexdigest()[:32]


def read_manifest(warehouse: Warehouse) -> pl.DataFrame:
    path = warehouse.root / MANIFEST
    return warehouse.read_file(path) if warehouse.exists(path) else pl.DataFrame(schema=MANIFEST_SCHEMA)


def pending(listing: pl.DataFrame, manifest: pl.DataFrame) -> pl.DataFrame:
    """Listing rows no batch has claimed in this exact version (path, size, mtime)."""
    return listing.join(manifest.select(list(LISTING_SCHEMA)), on=list(LISTING_SCHEMA), how="anti").sort("path")


def settled(listing: pl.DataFrame, quiet_seconds: float, *, now: dt.datetime | None = None) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(files unchanged for at least ``quiet_seconds``, files changed more recently): a file still
    being copied in is not claimed until it has stopped changing."""
    if quiet_seconds <= 0:
        return listing, listing.head(0)
    now = now or dt.datetime.now(dt.timezone.utc)
    cutoff = int((now.timestamp() - quiet_seconds) * 1e9)
    quiet = pl.col("mtime_ns") <= cutoff
    return listing.filter(quiet), listing.filter(~quiet)


def batch_key(now: dt.datetime, existing: set[str]) -> str:
    key = now.astimezone(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    n = 1
    candidate = key
    while candidate in existing:
        n += 1
        candidate = f"{key}-{n}"
    return candidate


def bounded(files: pl.DataFrame, *, max_files: int, max_bytes: int) -> list[pl.DataFrame]:
    """``files`` (a listing, path order) cut into consecutive batches of at most ``max_files`` files
    and about ``max_bytes`` bytes (a single bigger file is a batch of its own)."""
    files = files.sort("path")
    sizes = files.get_column("size").fill_null(0).to_list()
    chunks, start, total = [], 0, 0
    for i, size in enumerate(sizes):
        if i > start and (i - start >= max_files or total + size > max_bytes):
            chunks.append(files.slice(start, i - start))
            start, total = i, 0
        total += size
    chunks.append(files.slice(start, len(sizes) - start))
    return chunks


def claim(
    warehouse: Warehouse,
    files: pl.DataFrame,
    *,
    now: dt.datetime | None = None,
    max_files: int = DEFAULT_MAX_FILES,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> list[str]:
    """Record ``files`` (a listing) as new batches of bounded size; returns their keys, in order.

    An empty listing is one empty batch (a run that only checks the warehouse).
    """
    now = now or dt.datetime.now(dt.timezone.utc)
    with warehouse.locked("_batches"):
        manifest = read_manifest(warehouse)
        existing = set(manifest.get_column("batch").unique())
        keys, parts = [], [manifest]
        for chunk in bounded(files, max_files=max_files, max_bytes=max_bytes):
            key = batch_key(now, existing)
            existing.add(key)
            keys.append(key)
            parts.append(
                chunk.select(list(LISTING_SCHEMA))
                .with_columns(pl.lit(key).alias("batch"), pl.lit(now).cast(pl.Datetime("us", "UTC")).alias("claimed_at"))
                .select(list(MANIFEST_SCHEMA))
            )
        warehouse.replace_file_atomically(warehouse.root / MANIFEST, pl.concat(parts, how="vertical"), "_batches")
    return keys


def claim_pending(warehouse: Warehouse, raw_root: Path, *, everything: bool = False, **caps) -> tuple[list[str], pl.DataFrame]:
    """Claim every pending file (or, with ``everything``, every file) as new bounded batches."""
    listing = scan(raw_root)
    files = listing if everything else pending(listing, read_manifest(warehouse))
    return claim(warehouse, files, **caps), files


def files_of(warehouse: Warehouse, batch: str) -> list[str]:
    """Relative paths of the files a batch claimed (a batch never claimed has none)."""
    manifest = read_manifest(warehouse)
    return sorted(manifest.filter(pl.col("batch") == batch).get_column("path").unique().to_list())


def batches(warehouse: Warehouse) -> list[str]:
    return sorted(read_manifest(warehouse).get_column("batch").unique().to_list())


# ---------------------------------------------------------------- which batches are finished

PUBLISHED = "_published"  # <batch>.json, committed together with the batch's rows (lib/commit.py)
ERRORS = "_batches/errors"  # <batch>.json: the last failure of an unfinished batch


def _keys_in(warehouse: Warehouse, folder: str) -> set[str]:
    from pyarrow import fs as pafs

    selector = pafs.FileSelector(str(warehouse.root / folder), recursive=False, allow_not_found=True)
    return {info.base_name.removesuffix(".json") for info in warehouse.fs.get_file_info(selector) if info.base_name.endswith(".json")}


def published(warehouse: Warehouse) -> set[str]:
    return _keys_in(warehouse, PUBLISHED)


def unfinished(warehouse: Warehouse) -> list[str]:
    """Claimed batches whose rows were never published (their run was killed, crashed or failed), oldest first."""
    return sorted(set(batches(warehouse)) - published(warehouse))


def batch_lock(key: str) -> str:
    """The name of the lock a run holds while it works on batch ``key``."""
    return f"batch-{key}"


def record_failure(warehouse: Warehouse, key: str, message: str, run_id: str | None = None) -> None:
    """Remember why the last run of ``key`` failed, for ``etl-project status`` (best effort)."""
    record = {"batch": key, "error": message[:2000], "run_id": run_id, "failed_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}
    try:
        warehouse.write_bytes(f"{ERRORS}/{key}.json", json.dumps(record).encode())
    except OSError:
        pass


def last_failure(warehouse: Warehouse, key: str) -> dict | None:
    path = warehouse.root / ERRORS / f"{key}.json"
    if not warehouse.exists(path):
        return None
    with warehouse.fs.open_input_stream(str(path)) as handle:
        return json.loads(handle.read())


def forget_failure(warehouse: Warehouse, key: str) -> None:
    path = warehouse.root / ERRORS / f"{key}.json"
    if warehouse.exists(path):
        warehouse.delete_file(path)


@dataclass(frozen=True)
class NextRuns:
    """What an entry point should run now (:func:`next_runs`)."""

    unfinished: list[str]  # claimed earlier, never published, nobody working on them now
    claimed: list[str]  # new batches of the files that were pending
    busy: list[str]  # unfinished batches another live process is working on
    changing: int  # pending files left for later: still changing (quiet period)


def next_runs(
    warehouse: Warehouse,
    raw_root: Path,
    *,
    listing: pl.DataFrame | None = None,
    quiet_seconds: float = 0,
    everything: bool = False,
    claim_empty: bool = False,
    now: dt.datetime | None = None,
    **caps,
) -> NextRuns:
    """The batches to run now, the same for ``etl-project run``, the sensor and the schedule:
    every unfinished batch nobody is working on, then the pending files (settled for
    ``quiet_seconds``; with ``everything``, every file) claimed as new bounded batches.
    """
    listing = scan(raw_root) if listing is None else listing
    todo = listing if everything else pending(listing, read_manifest(warehouse))
    ready, changing = settled(todo, quiet_seconds, now=now)
    waiting = unfinished(warehouse)
    busy = [key for key in waiting if warehouse.lock_holder(batch_lock(key)) is not None]
    claimed = claim(warehouse, ready, now=now, **caps) if ready.height or claim_empty else []
    return NextRuns([k for k in waiting if k not in busy], claimed, busy, changing.height)


def last_published_at(warehouse: Warehouse) -> dt.datetime | None:
    """When the newest batch was published (its mark's modification time), or None."""
    from pyarrow import fs as pafs

    selector = pafs.FileSelector(str(warehouse.root / PUBLISHED), recursive=False, allow_not_found=True)
    times = [info.mtime for info in warehouse.fs.get_file_info(selector) if info.base_name.endswith(".json") and info.mtime is not None]
    return max(times).astimezone(dt.timezone.utc) if times else None

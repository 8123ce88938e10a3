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
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from pathlib import Path

import polars as pl

from etl_project.lib.readers import discover
from etl_project.lib.warehouse import Warehouse

MANIFEST = "_batches/manifest.parquet"
LISTING_SCHEMA = {"path": pl.String, "size": pl.Int64, "mtime_ns": pl.Int64}
MANIFEST_SCHEMA = {"batch": pl.String, **LISTING_SCHEMA, "claimed_at": pl.Datetime("us", "UTC")}


def scan(raw_root: Path) -> pl.DataFrame:
    """Every path the pipeline would read or reject under ``raw_root``, with size and mtime (no content read)."""
    raw_root = Path(raw_root)
    files, rejects = discover(raw_root)
    rows = []
    for rel in [f.relative for f in files] + [r["source_file"] for r in rejects]:
        try:
            stat = os.lstat(raw_root / rel)
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


def batch_key(now: dt.datetime, existing: set[str]) -> str:
    key = now.astimezone(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    n = 1
    candidate = key
    while candidate in existing:
        n += 1
        candidate = f"{key}-{n}"
    return candidate


def claim(warehouse: Warehouse, files: pl.DataFrame, *, now: dt.datetime | None = None) -> str:
    """Record ``files`` (a listing) as a new batch; returns the batch key. An empty batch is allowed."""
    now = now or dt.datetime.now(dt.timezone.utc)
    with warehouse.locked("_batches"):
        manifest = read_manifest(warehouse)
        key = batch_key(now, set(manifest.get_column("batch").unique()))
        rows = files.select(list(LISTING_SCHEMA)).with_columns(
            pl.lit(key).alias("batch"), pl.lit(now).cast(pl.Datetime("us", "UTC")).alias("claimed_at")
        ).select(list(MANIFEST_SCHEMA))
        updated = pl.concat([manifest, rows], how="vertical")
        warehouse.replace_file_atomically(warehouse.root / MANIFEST, updated, "_batches")
    return key


def claim_pending(warehouse: Warehouse, raw_root: Path, *, everything: bool = False) -> tuple[str, pl.DataFrame]:
    """Claim every pending file (or, with ``everything``, every file) as one new batch."""
    listing = scan(raw_root)
    files = listing if everything else pending(listing, read_manifest(warehouse))
    return claim(warehouse, files), files


def files_of(warehouse: Warehouse, batch: str) -> list[str]:
    """Relative paths of the files a batch claimed (a batch never claimed has none)."""
    manifest = read_manifest(warehouse)
    return sorted(manifest.filter(pl.col("batch") == batch).get_column("path").unique().to_list())


def batches(warehouse: Warehouse) -> list[str]:
    return sorted(read_manifest(warehouse).get_column("batch").unique().to_list())

"""The whole transformation core without Dagster: raw folder -> warehouse tables.

The Dagster assets run these same steps one asset each; this module chains
them for the benchmark, the CLI's embedders and anyone running the pipeline
as a library. ``TABLES`` is the one place that says how each table is keyed,
sorted and partitioned, so the assets and the core cannot drift apart.

How a large corpus stays in bounded memory
------------------------------------------
The files are cut into batches of about ``batch_bytes`` of input (consecutive
in path order), and no stage ever holds more than one batch per process:

1. *read* each batch: read, identify, repair; the repaired records are spilled
   to a local scratch folder (Parquet), and only their keys (id, text hash,
   source, position) come back;
2. *deduplicate* across the whole input on those keys alone (no text): which
   record is kept, which is a copy, which conflicts (:func:`duplicate_outcomes`,
   the same rule as for one frame);
3. *tables* per batch: apply those outcomes, split turns, validate, flag; the
   rows are spilled per warehouse file (split and id bucket);
4. *write*, in the calling process, one warehouse file at a time: each file's
   rows from every batch are upserted into it (:func:`publish_table`).

Steps 1 and 3 run in worker processes (``workers``) when there is more than one
batch; a single batch (the 1,250-interview release is one) runs in-process.
The result is the same table for any batch size or number of workers.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path

import polars as pl

from etl_project.lib.readers import DEFAULT_MAX_FILE_BYTES, RawFile, discover, read_files, read_raw_folder
from etl_project.lib.themes import flag_themes
from etl_project.lib.transform import (
    DEFAULT_MAX_TRANSCRIPT_CHARS,
    DUPLICATE_KEYS,
    apply_duplicate_outcomes,
    build_tables,
    duplicate_outcomes,
    identify,
    quarantine_rows,
    repair,
)
from etl_project.lib.warehouse import BUCKET_COLUMN, Published, Warehouse, bucket_of, publish_table
from etl_project.schemas import QuarantineModel, ThemeFlagsModel, TranscriptsModel, TurnsModel

TABLES: dict[str, dict] = {
    "transcripts": {
        "model": TranscriptsModel,
        "key": ["transcript_id"],
        "sort_by": ["transcript_id"],
        "carry": ("ingested_at", ["text_sha256"]),
    },
    "turns": {"model": TurnsModel, "key": ["transcript_id"], "sort_by": ["transcript_id", "turn_index"]},
    "theme_flags": {"model": ThemeFlagsModel, "key": ["transcript_id"], "sort_by": ["transcript_id"]},
    "quarantine": {
        "model": QuarantineModel,
        "key": ["source_file", "source_record"],
        "sort_by": ["source_file", "source_record"],
        "partition_by": None,
        "carry": ("detected_at", ["source_sha256", "reason"]),
    },
}
BUCKETED_TABLES = ("transcripts", "turns", "theme_flags")

DEFAULT_BATCH_BYTES = 32 * 2**20
_POSITION = "_pos"  # a record's place in path order across batches: batch number << 32 | row
_SPILL_CODEC = "lz4"  # scratch files are read back once, soon: speed over size


@dataclass
class CoreRun:
    files_read: int = 0
    batches: int = 0
    workers: int = 1
    published: dict[str, Published] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)  # per stage, summed over batches (work, not wall)
    wall_seconds: dict[str, float] = field(default_factory=dict)  # per pass, as the caller waits for it


def plan_batches(files: list[RawFile], batch_bytes: int) -> list[list[RawFile]]:
    """Consecutive runs of ``files`` (path order kept) of about ``batch_bytes`` each; a bigger file is a batch alone."""
    batches: list[list[RawFile]] = []
    current: list[RawFile] = []
    size = 0
    for f in files:
        try:
            n = f.path.stat().st_size
        except OSError:
            n = 0
        if current and size + n > batch_bytes:
            batches.append(current)
            current, size = [], 0
        current.append(f)
        size += n
    if current:
        batches.append(current)
    return batches


def default_workers() -> int:
    """``ETL_CORE_WORKERS`` if set, else the usable CPU count (at most 4: each worker holds a batch)."""
    configured = os.environ.get("ETL_CORE_WORKERS")
    if configured:
        return max(1, int(configured))
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(usable, 4))


# ------------------------------------------------------------------ the two per-batch passes


def _read_pass(
    number: int, files: list[RawFile], rejects: list[dict], scratch: str, max_file_bytes: int, max_transcript_chars: int
) -> tuple[pl.DataFrame, dict[str, float]]:
    """Read, identify and repair one batch; spill it; return the keys of its good records."""
    clock = time.perf_counter()
    records = identify(read_files(files, rejects, max_file_bytes=max_file_bytes), max_transcript_chars=max_transcript_chars)
    read_s = time.perf_counter() - clock
    clock = time.perf_counter()
    records = repair(records).with_columns(
        (pl.int_range(pl.len(), dtype=pl.Int64) + (number << 32)).alias(_POSITION)
    )
    records.write_parquet(Path(scratch) / f"records-{number:05d}.parquet", compression=_SPILL_CODEC)
    keys = records.filter(pl.col("reject_reason").is_null()).select(_POSITION, *DUPLICATE_KEYS)
    return keys, {"read": read_s, "repair": time.perf_counter() - clock}


def _tables_pass(number: int, outcomes: pl.DataFrame, scratch: str, now: dt.datetime) -> tuple[dict[str, int], dict[str, float]]:
    """Deduplicate (by the global outcomes), split, validate and flag one batch; spill rows per warehouse file."""
    clock = time.perf_counter()
    spilled = Path(scratch) / f"records-{number:05d}.parquet"
    frame = apply_duplicate_outcomes(pl.read_parquet(spilled), outcomes, position=_POSITION)
    spilled.unlink()
    tables = build_tables(frame, ingested_at=now)
    seconds = {"split_validate": time.perf_counter() - clock}
    clock = time.perf_counter()
    flags = flag_themes(tables.turns)
    seconds["flag"] = time.perf_counter() - clock
    clock = time.perf_counter()
    rows = {}
    for table, rows_of in (("transcripts", tables.transcripts), ("turns", tables.turns), ("theme_flags", flags)):
        rows[table] = rows_of.height
        keyed = rows_of.with_columns(bucket_of(pl.col("transcript_id")).alias(BUCKET_COLUMN))
        for (split, bucket), part in keyed.group_by("split", BUCKET_COLUMN, maintain_order=True):
            folder = Path(scratch) / table / f"split={split}" / f"bucket={bucket}"
            folder.mkdir(parents=True, exist_ok=True)
            part.drop(BUCKET_COLUMN).write_parquet(folder / f"batch-{number:05d}.parquet", compression=_SPILL_CODEC)
    rejected = quarantine_rows(tables.rejected, detected_at=now)
    rows["quarantine"] = rejected.height
    (Path(scratch) / "quarantine").mkdir(exist_ok=True)
    rejected.write_parquet(Path(scratch) / "quarantine" / f"batch-{number:05d}.parquet")
    seconds["spill"] = time.perf_counter() - clock
    return rows, seconds


# ------------------------------------------------------------------ the core


def run_core(
    raw_root: Path,
    warehouse_root: Path,
    *,
    now: dt.datetime | None = None,
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
    max_transcript_chars: int = DEFAULT_MAX_TRANSCRIPT_CHARS,
    batch_bytes: int = DEFAULT_BATCH_BYTES,
    workers: int | None = None,
    scratch_dir: str | None = None,
) -> CoreRun:
    """Read, repair, deduplicate, split, validate, flag and publish, batch by batch (module docstring).

    ``scratch_dir`` is where batches are spilled (default: the system's temporary
    folder, or ``ETL_SCRATCH_DIR``); it is removed at the end, also on failure.
    """
    now = now or dt.datetime.now(dt.timezone.utc)
    raw_root = Path(raw_root)
    if not raw_root.is_dir():
        raise FileNotFoundError(f"raw folder {raw_root} does not exist or is not a folder")
    run = CoreRun()
    files, rejects = discover(raw_root)
    batches = plan_batches(files, batch_bytes) or [[]]
    run.files_read, run.batches = len(files), len(batches)
    run.workers = min(workers or default_workers(), len(batches))
    scratch = Path(tempfile.mkdtemp(prefix="etl-core-", dir=scratch_dir or os.environ.get("ETL_SCRATCH_DIR")))
    try:
        rows = _batch_passes(run, batches, rejects, scratch, now, max_file_bytes, max_transcript_chars)
        seen = pl.DataFrame({"source_file": sorted({f.relative for f in files} | {r["source_file"] for r in rejects})}, schema={"source_file": pl.String})
        _publish(run, Warehouse(warehouse_root), scratch, rows, seen)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return run


def _add(run: CoreRun, seconds: dict[str, float]) -> None:
    for stage, s in seconds.items():
        run.seconds[stage] = run.seconds.get(stage, 0.0) + s


def _batch_passes(
    run: CoreRun,
    batches: list[list[RawFile]],
    rejects: list[dict],
    scratch: Path,
    now: dt.datetime,
    max_file_bytes: int,
    max_transcript_chars: int,
) -> dict[str, int]:
    """Passes 1-3 (read, deduplicate, tables), in worker processes when there are several; rows per table."""
    started = time.perf_counter()
    pool = ProcessPoolExecutor(max_workers=run.workers, mp_context=get_context("spawn")) if run.workers > 1 else None
    submit = pool.submit if pool else _run_here
    try:
        read_jobs = [
            submit(_read_pass, n, batch, rejects if n == 0 else [], str(scratch), max_file_bytes, max_transcript_chars)
            for n, batch in enumerate(batches)
        ]
        keys = []
        for job in read_jobs:
            batch_keys, seconds = job.result()
            keys.append(batch_keys)
            _add(run, seconds)
        run.wall_seconds["read_repair"] = time.perf_counter() - started
        clock = time.perf_counter()
        outcomes = duplicate_outcomes(pl.concat(keys), position=_POSITION)
        batch_of = (pl.col(_POSITION) // (1 << 32)).alias("_batch")
        per_batch = {n: part.drop("_batch") for (n,), part in outcomes.with_columns(batch_of).group_by("_batch")}
        _add(run, {"deduplicate": time.perf_counter() - clock})
        clock = time.perf_counter()
        table_jobs = [submit(_tables_pass, n, per_batch.get(n, outcomes.clear()), str(scratch), now) for n in range(len(batches))]
        rows: dict[str, int] = defaultdict(int)
        for job in table_jobs:
            batch_rows, seconds = job.result()
            for table, count in batch_rows.items():
                rows[table] += count
            _add(run, seconds)
        run.wall_seconds["tables"] = time.perf_counter() - clock
    finally:
        if pool:
            pool.shutdown(cancel_futures=True)
    return rows


def _publish(run: CoreRun, warehouse: Warehouse, scratch: Path, rows: dict[str, int], seen: pl.DataFrame) -> None:
    """Pass 4: upsert the spilled rows into the warehouse, one warehouse file at a time."""
    clock = time.perf_counter()
    for table in BUCKETED_TABLES:
        run.published[table] = _publish_spilled(warehouse, table, scratch / table, rows[table])
    rejected = pl.concat([pl.read_parquet(p) for p in sorted((scratch / "quarantine").glob("*.parquet"))])
    rejected = rejected.sort(TABLES["quarantine"]["sort_by"], nulls_last=True)
    run.published["quarantine"] = publish_table(warehouse, table="quarantine", batch=rejected, **TABLES["quarantine"], replaces=seen)
    run.seconds["write"] = time.perf_counter() - clock
    run.wall_seconds["write"] = run.seconds["write"]


class _Done:
    """A finished call, shaped like a future (the in-process path)."""

    def __init__(self, value):
        self._value = value

    def result(self):
        return self._value


def _run_here(fn, *args) -> _Done:
    return _Done(fn(*args))


def _publish_spilled(warehouse: Warehouse, table: str, folder: Path, batch_rows: int) -> Published:
    """Upsert every spilled warehouse file of ``table``, one file at a time; one summary for the table."""
    spec = TABLES[table]
    done: list[Published] = []
    for bucket_dir in sorted(folder.glob("split=*/bucket=*")):
        frame = pl.read_parquet(sorted(bucket_dir.glob("*.parquet")))
        done.append(publish_table(warehouse, table=table, batch=frame, **spec))
    files = sorted(f for p in done for f in p.files)
    last = done[-1] if done else None
    return Published(
        table,
        batch_rows,
        sum(p.rows_in_touched_partitions for p in done),
        files,
        pl.concat([p.merged.head(20) for p in done]) if done else pl.DataFrame(),
        last.rows_in_table if last else warehouse.row_count(table),
    )


def prune_missing(raw_root: Path, warehouse_root: Path) -> dict[str, int]:
    """Make the warehouse mirror the raw folder: drop transcripts whose id no file holds any more.

    Not part of a normal run (the warehouse keeps what it once ingested); an
    operator asks for it. Every file is read to learn which ids exist; an id
    whose file now holds only a broken version is kept (its last good version
    stays). Quarantine rows of files that are gone are dropped too.
    """
    from etl_project.lib.batches import scan

    warehouse = Warehouse(warehouse_root)
    records, _ = read_raw_folder(raw_root)
    present = records.select("transcript_id").drop_nulls().unique()
    removed = {table: warehouse.prune(table, present) for table in ("transcripts", "turns", "theme_flags")}
    files = scan(raw_root).select(pl.col("path").alias("source_file"))
    removed["quarantine"] = warehouse.prune("quarantine", files)
    return removed

"""The whole transformation core without Dagster: raw folder -> warehouse tables.

The Dagster assets run these same steps one asset each; this module chains
them for the benchmark, the CLI's embedders and anyone running the pipeline
as a library. ``TABLES`` is the one place that says how each table is keyed,
sorted and partitioned, so the assets and the core cannot drift apart.

How a large corpus stays in bounded memory
------------------------------------------
The files are cut into batches of about ``batch_bytes`` of input (consecutive
in path order), and no process ever holds more than one batch, or one
warehouse file, at a time:

1. each batch is read, repaired, deduplicated, split and validated
   (:func:`_batch_pass`); its rows are spilled to a local scratch folder as
   Arrow IPC files, one file per warehouse file (split and id bucket), and only the
   keys of its records (id, text hash, source, position) come back;
2. an id found in more than one batch (rare: the same interview in two
   exports) means those batches are done again with the duplicate outcome
   computed over the whole input's keys (:func:`duplicate_outcomes`), so the
   first copy in path order wins exactly as when the input is one frame;
3. each table is written one warehouse file at a time: that file's rows from
   every batch are upserted into it (:func:`publish_table`); the four tables
   are written side by side. Before that, theme flags are made per warehouse
   file from its spilled turns (up to 10,000 interviews at a time: flagging
   has a fixed cost per call), so nothing is published until every row exists.

Batches and tables go to worker processes (``workers``, spawned) when there is
more than one batch; a single batch (the 1,250-interview release is one) runs
in-process. The tables are the same for any batch size or number of workers
(``etl_project_tests/test_core.py``).
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor, wait
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
from etl_project.lib.warehouse import BUCKET_COLUMN, Published, Warehouse, _alive, bucket_of, publish_table
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

DEFAULT_BATCH_BYTES = 16 * 2**20
_POSITION = "_pos"  # a record's place in path order across batches: batch number << 32 | row
_SPILL = ".arrow"  # scratch files are Arrow IPC, uncompressed: read back once, soon, so speed over size


@dataclass
class CoreRun:
    files_read: int = 0
    batches: int = 0
    workers: int = 1
    batches_redone: int = 0  # batches done again because an id of theirs was in another batch too
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
    """Processes the core works on, the calling one included: ``ETL_CORE_WORKERS`` if set, else the
    usable CPU count (at most 4: each process holds a batch in memory)."""
    configured = os.environ.get("ETL_CORE_WORKERS")
    if configured:
        return max(1, int(configured))
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(usable, 4))


# ------------------------------------------------------------------ one batch


@dataclass(frozen=True)
class _Limits:
    max_file_bytes: int
    max_transcript_chars: int


def _batch_pass(
    number: int,
    files: list[RawFile],
    rejects: list[dict],
    scratch: str,
    now: dt.datetime,
    limits: _Limits,
    outcomes: pl.DataFrame | None = None,
) -> tuple[pl.DataFrame, dict[str, float]]:
    """Read, repair, deduplicate, split and validate one batch; spill its rows per warehouse file.

    Duplicates are resolved within the batch unless ``outcomes`` (of the whole
    input) are given. Returns the keys of the batch's good records (for the
    cross-batch check) and the seconds per stage.
    """
    clock = time.perf_counter()
    records = identify(read_files(files, rejects, max_file_bytes=limits.max_file_bytes), max_transcript_chars=limits.max_transcript_chars)
    seconds = {"read": time.perf_counter() - clock}
    clock = time.perf_counter()
    records = repair(records).with_columns((pl.int_range(pl.len(), dtype=pl.Int64) + (number << 32)).alias(_POSITION))
    keys = records.filter(pl.col("reject_reason").is_null()).select(_POSITION, *DUPLICATE_KEYS)
    frame = apply_duplicate_outcomes(records, duplicate_outcomes(keys, position=_POSITION) if outcomes is None else outcomes, position=_POSITION)
    del records
    seconds["repair"] = time.perf_counter() - clock
    tables = build_tables(frame, ingested_at=now, seconds=seconds)
    del frame
    clock = time.perf_counter()
    _forget_batch(Path(scratch), number)
    for table, rows_of in (("transcripts", tables.transcripts), ("turns", tables.turns)):
        keyed = rows_of.with_columns(bucket_of(pl.col("transcript_id")).alias(BUCKET_COLUMN))
        for (split, bucket), part in keyed.group_by("split", BUCKET_COLUMN, maintain_order=True):
            folder = Path(scratch) / table / f"split={split}" / f"bucket={bucket}"
            folder.mkdir(parents=True, exist_ok=True)
            part.drop(BUCKET_COLUMN).write_ipc(folder / f"batch-{number:05d}{_SPILL}")
    rejected = quarantine_rows(tables.rejected, detected_at=now)
    (Path(scratch) / "quarantine").mkdir(exist_ok=True)
    rejected.write_ipc(Path(scratch) / "quarantine" / f"batch-{number:05d}{_SPILL}")
    seconds["spill"] = time.perf_counter() - clock
    return keys, seconds


def _forget_batch(scratch: Path, number: int) -> None:
    """Remove what an earlier pass over batch ``number`` spilled (before it is redone)."""
    for path in scratch.glob(f"*/split=*/bucket=*/batch-{number:05d}{_SPILL}"):
        path.unlink()
    (scratch / "quarantine" / f"batch-{number:05d}{_SPILL}").unlink(missing_ok=True)


def _publish_spilled(warehouse_root: str, table: str, scratch: str, seen: pl.DataFrame | None) -> Published:
    """Upsert every spilled warehouse file of ``table``, one file at a time; one summary for the table.

    Only the counts of each upsert are kept (its merged rows are let go at once), so memory
    stays that of one warehouse file.
    """
    clock = time.perf_counter()
    spec = TABLES[table]
    warehouse = Warehouse(warehouse_root)
    # one folder per warehouse file: a bucket of a bucketed table, or the quarantine's one file
    folders = [Path(scratch) / table] if table == "quarantine" else sorted((Path(scratch) / table).glob("split=*/bucket=*"))
    rows, touched, files, validate_s, columns, in_table = 0, 0, [], 0.0, pl.DataFrame(), None
    for folder in folders:
        batch = _read_spilled(folder)
        done = publish_table(warehouse, table=table, batch=batch, **spec, **({"replaces": seen} if table == "quarantine" else {}))
        rows += batch.height
        del batch
        touched += done.rows_in_touched_partitions
        files.extend(done.files)
        validate_s += done.validate_s
        columns, in_table = done.merged.clear(), done.rows_in_table
        del done
    published = Published(
        table,
        rows,
        touched,
        sorted(files),
        columns,
        in_table if in_table is not None else warehouse.row_count(table),
        validate_s,
        time.perf_counter() - clock,
    )
    return published


def _read_spilled(folder: Path) -> pl.DataFrame:
    """The rows spilled into ``folder`` by every batch, in batch order."""
    return pl.concat([pl.read_ipc(p) for p in sorted(folder.glob(f"*{_SPILL}"))])


def _flag_bucket(scratch: str, bucket: str) -> float:
    """Theme flags of one warehouse file's interviews, from its spilled turns; spilled beside them.

    Flagging runs per warehouse file (up to 10,000 interviews at once), not per batch: each call
    has a fixed cost. Returns the seconds it took.
    """
    clock = time.perf_counter()
    flags = flag_themes(_read_spilled(Path(scratch) / "turns" / bucket))
    folder = Path(scratch) / "theme_flags" / bucket
    folder.mkdir(parents=True, exist_ok=True)
    flags.write_ipc(folder / f"flags{_SPILL}")
    return time.perf_counter() - clock


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
    seen = pl.DataFrame({"source_file": sorted({f.relative for f in files} | {r["source_file"] for r in rejects})}, schema={"source_file": pl.String})
    limits = _Limits(max_file_bytes, max_transcript_chars)
    scratch_root = scratch_dir or os.environ.get("ETL_SCRATCH_DIR") or tempfile.gettempdir()
    _remove_dead_scratch(Path(scratch_root))
    scratch = tempfile.mkdtemp(prefix=f"{_SCRATCH_PREFIX}{os.getpid()}-", dir=scratch_root)
    # the calling process works too: workers - 1 helper processes
    pool = ProcessPoolExecutor(max_workers=run.workers - 1, mp_context=get_context("spawn")) if run.workers > 1 else None
    try:
        clock = time.perf_counter()
        done = run_calls(pool, [(_batch_pass, n, batch, rejects if n == 0 else [], scratch, now, limits) for n, batch in enumerate(batches)])
        keys = []
        for batch_keys, seconds in done:
            keys.append(batch_keys)
            _add(run, seconds)
        run.wall_seconds["batches"] = time.perf_counter() - clock
        clock = time.perf_counter()
        redo = _batches_sharing_ids(keys)
        if redo:  # an id in several batches: redo those batches with the outcome over the whole input
            outcomes = duplicate_outcomes(pl.concat(keys), position=_POSITION).with_columns((pl.col(_POSITION) // (1 << 32)).alias("_batch"))
            calls = [
                (_batch_pass, n, batches[n], rejects if n == 0 else [], scratch, now, limits, outcomes.filter(pl.col("_batch") == n).drop("_batch"))
                for n in redo
            ]
            for _, seconds in run_calls(pool, calls):
                _add(run, {f"redo_{stage}": s for stage, s in seconds.items()})
        run.batches_redone = len(redo)
        run.wall_seconds["cross_batch_duplicates"] = time.perf_counter() - clock
        clock = time.perf_counter()
        buckets = [d.relative_to(Path(scratch) / "turns").as_posix() for d in sorted((Path(scratch) / "turns").glob("split=*/bucket=*"))]
        run.seconds["flag"] = sum(run_calls(pool, [(_flag_bucket, scratch, b) for b in buckets]))
        run.wall_seconds["flag"] = time.perf_counter() - clock
        clock = time.perf_counter()
        order = ("turns", "transcripts", "theme_flags", "quarantine")  # biggest first
        calls = [(_publish_spilled, str(warehouse_root), t, scratch, seen if t == "quarantine" else None) for t in order]
        published = dict(zip(order, run_calls(pool, calls)))
        run.published = {table: published[table] for table in TABLES}
        run.wall_seconds["write"] = time.perf_counter() - clock
        # work seconds of the writers (they run side by side), pandera's share apart
        run.seconds["write_validate"] = sum(p.validate_s for p in run.published.values())
        run.seconds["write"] = sum(p.write_s for p in run.published.values()) - run.seconds["write_validate"]
    finally:
        if pool:
            pool.shutdown(cancel_futures=True)
        shutil.rmtree(scratch, ignore_errors=True)
    return run


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


_SCRATCH_PREFIX = "etl-core-"


def _remove_dead_scratch(root: Path) -> None:
    """Remove scratch folders left by core runs whose process is gone (killed before cleaning up)."""
    for folder in root.glob(f"{_SCRATCH_PREFIX}*-*"):
        pid = folder.name.removeprefix(_SCRATCH_PREFIX).split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


def _add(run: CoreRun, seconds: dict[str, float]) -> None:
    for stage, s in seconds.items():
        run.seconds[stage] = run.seconds.get(stage, 0.0) + s


def _batches_sharing_ids(keys: list[pl.DataFrame]) -> list[int]:
    """Numbers of the batches holding a transcript id that another batch holds too."""
    if len(keys) < 2:
        return []
    located = pl.concat(keys).select("transcript_id", (pl.col(_POSITION) // (1 << 32)).alias("_batch")).unique()
    shared = located.filter(pl.len().over("transcript_id") > 1)
    return sorted(shared.get_column("_batch").unique().to_list())


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

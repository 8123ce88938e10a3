"""The pipeline's one engine: a batch of raw files -> the warehouse tables, published as one unit.

Every entry point runs this code: the Dagster asset ``warehouse_tables`` (so ``make run`` /
``etl-project run``, the sensor, the schedule, UI launches and backfills), the benchmark and the
tests. ``TABLES`` is the one place that says how each table is keyed, sorted and partitioned.

How a run goes (write-audit-publish)
------------------------------------
1. **stage** (no lock held): the files are cut into batches of about ``batch_bytes`` of input
   (consecutive in path order). Each is read, repaired, deduplicated, split and validated on its own
   (:func:`_batch_pass`), on every core; its rows are spilled to a run-owned scratch folder as Arrow
   IPC, one file per warehouse file (split and id bucket). An id found in more than one batch sends
   those batches round again with the duplicate outcome over the whole input's keys, so the first copy
   in path order wins exactly as when the input is one frame. Theme flags are then made per warehouse
   file from its spilled turns. No process ever holds more than one batch, or one warehouse file.
2. **audit**: the blocking checks run on the staged rows (:class:`Audit`): every merged file against
   its pandera contract, ids unique, and whether the repair itself works (a second repair pass must
   find almost nothing to change). A failure raises :class:`AuditFailed`: nothing of the batch is
   published and the batch stays unfinished, ready to run again.
3. **publish**, under the warehouse write lock: the batch meets the published tables
   (:func:`~etl_project.lib.transform.resolve_against_published`: files read again replace what they
   produced before; a duplicate id from another file follows the path-order rule), each touched
   warehouse file is merged and staged, then everything (four tables and the batch's published mark)
   is committed at once (:mod:`etl_project.lib.commit`).

The scratch folder is removed at the end, also on failure; one left by a killed run is removed by the
next run. The tables are the same for any batch size or number of workers
(``etl_project_tests/test_core.py``).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from etl_project.lib import flag_cache
from etl_project.lib.batches import ERRORS, PUBLISHED
from etl_project.lib.commit import Commit, _recover_locked
from etl_project.lib.readers import DEFAULT_MAX_FILE_BYTES, RawFile, discover, read_files, read_raw_folder
from etl_project.lib.repair import changed_by_second_pass
from etl_project.lib.themes import flag_themes, method_version, resolve_method
from etl_project.lib.workers import default_workers, run_calls, worker_pool
from etl_project.lib.transform import (
    DEFAULT_MAX_TRANSCRIPT_CHARS,
    DUPLICATE_KEYS,
    PUBLISHED_KEYS,
    apply_duplicate_outcomes,
    build_tables,
    duplicate_outcomes,
    identify,
    quarantine_rows,
    rename_duplicate_winners,
    repair,
    resolve_against_published,
    Tables,
    screen_turns,
)
from etl_project.lib.warehouse import BUCKET_COLUMN, ContractViolation, Warehouse, _alive, bucket_of, merge_file
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
SPILL = ".arrow"  # scratch files are Arrow IPC, uncompressed: read back once, soon, so speed over size

# The repair audit fails only when a second repair pass would still change at least this many
# transcripts *and* this share of those ftfy looked at: a repair that does nothing, or half its job.
# Text ftfy cannot settle (or legitimate text that merely looks damaged) is marked, never failed.
REPAIR_AUDIT_MIN_TRANSCRIPTS = 5
REPAIR_AUDIT_MAX_SHARE = 0.5


@dataclass(frozen=True)
class Audit:
    """One blocking check on the staged rows, before anything is published."""

    table: str
    name: str
    passed: bool
    description: str
    details: dict = field(default_factory=dict)


class AuditFailed(RuntimeError):
    """A blocking check failed on the staged rows: nothing of the batch was published."""

    def __init__(self, audits: list[Audit]):
        self.audits = audits
        failed = [a for a in audits if not a.passed]
        super().__init__("; ".join(f"{a.table}.{a.name}: {a.description}" for a in failed) + " -- nothing of this batch was published")


@dataclass
class CoreRun:
    files_read: int = 0
    files_unchanged: int = 0  # claimed files whose content was already in the warehouse (not read again)
    batches: int = 0
    workers: int = 1
    batches_redone: int = 0  # batches done again because an id of theirs was in another batch too
    rows: dict[str, int] = field(default_factory=dict)  # rows this run published (or replaced) per table
    rows_in_table: dict[str, int] = field(default_factory=dict)
    files_written: dict[str, int] = field(default_factory=dict)
    stats: dict[str, int] = field(default_factory=dict)  # repairs, copies folded, residual mojibake, ...
    audits: list[Audit] = field(default_factory=list)
    new_quarantine: pl.DataFrame | None = None  # quarantine rows not in the table before (for alerts)
    residual: pl.DataFrame | None = None  # transcripts still judged damaged after repair (for alerts)
    published: bool = False
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


def _warm(method: str) -> bool:
    """A worker's one-off set-up: the theme method's rule plans, compiled cues and model, built on a
    one-turn transcript (otherwise the first bucket it flags pays for them)."""
    import polars as pl

    flag_themes(
        pl.DataFrame({"transcript_id": ["warm-up"], "split": ["workforce"], "turn_index": [0], "speaker": ["participant"], "text": ["It saves me time."]}),
        method=method,
    )
    return True


def warm_pool(workers: int | None = None) -> None:
    """Start the core's worker processes now, without waiting for them: they import the pipeline and
    set up the theme method while the caller does something else (the CLI imports Dagster meanwhile),
    instead of when the first batch is handed out."""
    pool = worker_pool((workers or default_workers()) - 1)
    try:
        method = resolve_method()
    except ValueError:  # an unknown ETL_THEME_METHOD: the run itself says so
        method = None
    if pool is not None and method is not None:
        for _ in range(pool._max_workers):
            pool.submit(_warm, method)


# ------------------------------------------------------------------ one batch


@dataclass(frozen=True)
class _Limits:
    max_file_bytes: int
    max_transcript_chars: int
    slice_bytes: int = DEFAULT_BATCH_BYTES  # turns are split, validated and spilled this much text at a time


def text_slices(frame: pl.DataFrame, slice_bytes: int) -> list[tuple[int, int]]:
    """``(offset, length)`` runs of ``frame``'s rows holding about ``slice_bytes`` of ``text`` each (at
    least one row each): a batch that is one big file (a release CSV of 90 MB) is split into turns and
    validated a slice at a time, so its memory follows the batch cap, not the file."""
    if frame.height == 0:
        return [(0, 0)]  # an empty batch still spills its (empty) tables, as one slice
    sizes = frame.get_column("text").str.len_bytes().fill_null(0).cast(pl.Int64).to_numpy()
    before = np.cumsum(sizes) - sizes  # text in the rows ahead of each row
    starts = np.flatnonzero(np.diff(before // max(slice_bytes, 1), prepend=-1))
    ends = np.append(starts[1:], frame.height)
    return [(int(a), int(b - a)) for a, b in zip(starts, ends)]


def _batch_pass(
    number: int,
    files: list[RawFile],
    rejects: list[dict],
    scratch: str,
    now: dt.datetime,
    limits: _Limits,
    outcomes: pl.DataFrame | None = None,
    known: pl.DataFrame | None = None,
) -> dict:
    """Read, repair, deduplicate, split and validate one batch; spill its rows per warehouse file.

    Duplicates are resolved within the batch unless ``outcomes`` (of the whole input) are given.
    Records of files whose (path, SHA-256) is in ``known`` are already in the warehouse and are let
    go. Returns the keys of the batch's good records (for the cross-batch check), its kept
    transcripts' keys (to meet the published table), the files read, counts and seconds per stage.
    """
    clock = time.perf_counter()
    records = read_files(files, rejects, max_file_bytes=limits.max_file_bytes)
    unchanged = 0
    if known is not None and not known.is_empty() and records.height:
        before = records.get_column("source_file").n_unique()
        records = records.join(known, on=["source_file", "source_sha256"], how="anti")
        unchanged = before - records.get_column("source_file").n_unique()
    records = identify(records, max_transcript_chars=limits.max_transcript_chars)
    seconds = {"read": time.perf_counter() - clock}
    clock = time.perf_counter()
    records = screen_turns(repair(records)).with_columns((pl.int_range(pl.len(), dtype=pl.Int64) + (number << 32)).alias(_POSITION))
    ok = records.filter(pl.col("reject_reason").is_null())
    keys = ok.select(_POSITION, *DUPLICATE_KEYS)
    # the repair audit: would a second pass change what this one repaired or could not settle?
    doubtful = ok.filter((pl.col("n_repairs") > 0) | pl.col("residual_mojibake")).select("transcript_id", "text")
    again = doubtful.filter(changed_by_second_pass(doubtful.get_column("text"))).get_column("transcript_id") if doubtful.height else pl.Series([], dtype=pl.String)
    frame = apply_duplicate_outcomes(records, duplicate_outcomes(keys, position=_POSITION) if outcomes is None else outcomes, position=_POSITION)
    read = records.select("source_file").unique()
    del records, ok
    seconds["repair"] = time.perf_counter() - clock
    _forget_batch(Path(scratch), number)
    seconds["spill"] = 0.0
    landed_parts = []
    # duplicates are settled for the whole batch above; what follows is per transcript, so slices give the same rows
    for piece, (offset, length) in enumerate(text_slices(frame, limits.slice_bytes)):
        tables = build_tables(frame.slice(offset, length), ingested_at=now, seconds=seconds)
        clock = time.perf_counter()
        _spill(Path(scratch), f"batch-{number:05d}-{piece:05d}{SPILL}", tables, now)
        landed_parts.append(tables.transcripts.select(*PUBLISHED_KEYS, "n_repairs", "n_copies", "residual_mojibake"))
        del tables
        seconds["spill"] += time.perf_counter() - clock
    del frame
    landed = pl.concat(landed_parts)
    return {
        "keys": keys,
        "kept": landed.select(PUBLISHED_KEYS),
        "read": read,
        "residual": landed.filter(pl.col("residual_mojibake")).select("transcript_id", "source_file", "source_record"),
        "stats": {
            "files_unchanged": unchanged,
            "repairs_made": int(landed.get_column("n_repairs").sum() or 0),
            "transcripts_repaired": int((landed.get_column("n_repairs") > 0).sum()),
            "identical_copies_folded": int((landed.get_column("n_copies") - 1).sum() or 0),
            "residual_mojibake": int(landed.get_column("residual_mojibake").sum()),
            "repair_looked_at": doubtful.height,
            "repair_changed_again": again.len(),
        },
        "changed_again": again.head(20).to_list(),
        "seconds": seconds,
    }


def _spill(scratch: Path, name: str, tables: Tables, now: dt.datetime) -> None:
    """Write a slice's transcripts and turns per warehouse file, and its quarantine rows, as ``name`` in ``scratch``."""
    for table, rows_of in (("transcripts", tables.transcripts), ("turns", tables.turns)):
        keyed = rows_of.with_columns(bucket_of(pl.col("transcript_id")).alias(BUCKET_COLUMN))
        for (split, bucket), part in keyed.group_by("split", BUCKET_COLUMN, maintain_order=True):
            folder = scratch / table / f"split={split}" / f"bucket={bucket}"
            folder.mkdir(parents=True, exist_ok=True)
            part.drop(BUCKET_COLUMN).write_ipc(folder / name)
    (scratch / "quarantine").mkdir(exist_ok=True)
    quarantine_rows(tables.rejected, detected_at=now).write_ipc(scratch / "quarantine" / name)


def _forget_batch(scratch: Path, number: int) -> None:
    """Remove what an earlier pass over batch ``number`` spilled (before it is redone)."""
    for path in scratch.glob(f"*/split=*/bucket=*/batch-{number:05d}-*{SPILL}"):
        path.unlink()
    for path in scratch.glob(f"quarantine/batch-{number:05d}-*{SPILL}"):
        path.unlink()


def _read_spilled(folder: Path, columns: list[str] | None = None) -> pl.DataFrame | None:
    """The rows spilled into ``folder`` by every batch, in batch order (None when nothing was)."""
    paths = sorted(folder.glob(f"*{SPILL}"))
    return pl.concat([pl.read_ipc(p, columns=columns) for p in paths]) if paths else None


@dataclass(frozen=True)
class Flagged:
    """What flagging one warehouse file's interviews did (returned from a worker)."""

    seconds: float
    flagged: int = 0  # transcripts the method ran on
    reused: int = 0  # transcripts whose flags by this method version were known for this very content


def flag_bucket(scratch: str, bucket: str, method: str | None = None, warehouse_root: str | None = None) -> Flagged:
    """Theme flags of one warehouse file's interviews, from its spilled turns; spilled beside them.

    Flagging runs per warehouse file (up to 10,000 interviews at once), not per batch: each call
    has a fixed cost. With ``warehouse_root``, an interview whose content already has flags by this
    method version (published, or in the flag cache) takes them and is not flagged again: a file read
    again because a few of its rows changed costs the flagging of those rows only.
    """
    clock = time.perf_counter()
    spilled = sorted((Path(scratch) / "turns" / bucket).glob(f"*{SPILL}"))
    if not spilled:  # a redone batch took its rows back out of this file
        return Flagged(time.perf_counter() - clock)
    turns = pl.scan_ipc(spilled)  # read by flag_themes: the participant turns, the other columns it needs
    method = resolve_method(method)
    known = None
    if warehouse_root is not None:
        target = tuple(part.split("=", 1)[1] for part in bucket.split("/"))
        hashes = _read_spilled(Path(scratch) / "transcripts" / bucket, columns=["transcript_id", flag_cache.HASH])
        if hashes is not None:
            known = flag_cache.known(Warehouse(warehouse_root), target, method, method_version(method), hashes)
    if known is not None:
        turns = turns.join(known.lazy().select("transcript_id"), on="transcript_id", how="anti")
    left = known is None or turns.select(pl.len()).collect().item() > 0
    flags = flag_themes(turns, method=method) if left else None
    if known is not None:
        flags = known if flags is None else pl.concat([flags, known.select(flags.columns)])
    folder = Path(scratch) / "theme_flags" / bucket
    folder.mkdir(parents=True, exist_ok=True)
    flags.write_ipc(folder / f"flags{SPILL}")
    reused = 0 if known is None else known.height
    return Flagged(time.perf_counter() - clock, flags.height - reused, reused)


@dataclass(frozen=True)
class Staged:
    """What staging one warehouse file did (returned from a worker to the caller)."""

    table: str
    moves: list
    deletes: list
    rows_in_batch: int
    rows_in_file: int
    validate_s: float
    seconds: float = 0.0  # the whole merge and staging of the file
    violation: pl.DataFrame | None = None  # failure cases when the merged rows break the contract
    new_rows: pl.DataFrame | None = None  # quarantine only: rows not in the table before


def stage_file(
    warehouse_root: str,
    commit_id: str,
    table: str,
    target: tuple[str | None, str],
    scratch: str,
    drop_from_batch: pl.DataFrame | None,
    drop_published: pl.DataFrame | None,
    extra_rows: pl.DataFrame | None = None,
    replaces: pl.DataFrame | None = None,
    winners: pl.DataFrame | None = None,
) -> Staged:
    """Merge this run's rows for one warehouse file with the file as published, check, and stage it."""
    clock = time.perf_counter()
    warehouse = Warehouse(warehouse_root)
    commit = Commit.attach(warehouse, commit_id)
    spec = TABLES[table]
    partition, bucket = target
    folder = Path(scratch) / table if partition is None else Path(scratch) / table / f"split={partition}" / f"bucket={bucket}"
    batch = _read_spilled(folder)
    if extra_rows is not None and extra_rows.height:
        batch = extra_rows if batch is None else pl.concat([batch, extra_rows.select(batch.columns)])
    if batch is not None and drop_from_batch is not None and drop_from_batch.height:
        batch = batch.join(drop_from_batch, on="transcript_id", how="anti")
    before = warehouse.read(table, files=[target]) if partition is not None else warehouse.read(table)
    drop = replaces if table == "quarantine" else drop_published
    try:
        done = merge_file(
            warehouse, commit, table=table, target=target, batch=batch, drop=drop, existing=before,
            transform=(lambda merged: rename_duplicate_winners(merged, winners)) if winners is not None else None, **spec,
        )
    except ContractViolation as exc:
        return Staged(table, [], [], 0 if batch is None else batch.height, 0, time.perf_counter() - clock, violation=exc.failure_cases.head(20))
    new_rows = None
    if table == "quarantine":
        merged = done.merged
        new_rows = merged if before is None else merged.join(before, on=["source_file", "source_record", "source_sha256", "reason"], how="anti", nulls_equal=True)
        new_rows = new_rows.select("source_file", "source_record", "transcript_id", "reason")
    return Staged(table, commit.moves, commit.deletes, done.rows_in_batch, done.rows_in_file, done.validate_s, time.perf_counter() - clock, new_rows=new_rows)


# ------------------------------------------------------------------ the core


def run_core(
    raw_root: Path,
    warehouse_root: Path | str,
    *,
    only: Iterable[str] | None = None,
    skip_unchanged: bool = False,
    batch: str | None = None,
    now: dt.datetime | None = None,
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
    max_transcript_chars: int = DEFAULT_MAX_TRANSCRIPT_CHARS,
    batch_bytes: int = DEFAULT_BATCH_BYTES,
    workers: int | None = None,
    scratch_dir: str | None = None,
    progress: Callable[[str], None] | None = None,
    holder: dict | None = None,
    theme_method: str | None = None,
) -> CoreRun:
    """Stage, audit and publish the files under ``raw_root`` (module docstring).

    ``only`` (relative paths) limits the run to those files: an ingest batch's. With
    ``skip_unchanged``, files whose content is already in the warehouse are not processed again, and
    transcripts whose content already has flags by the method are not flagged again.
    ``batch`` names the ingest batch: its published mark is committed with its rows. ``scratch_dir``
    is where batches are spilled (default: ``ETL_SCRATCH_DIR`` or the system's temporary folder).
    Raises :class:`AuditFailed` when a blocking check fails (nothing published).
    """
    now = now or dt.datetime.now(dt.timezone.utc)
    say = progress or (lambda message: None)
    raw_root = Path(raw_root)
    if not raw_root.is_dir():
        raise FileNotFoundError(f"raw folder {raw_root} does not exist or is not a folder")
    warehouse = Warehouse(warehouse_root)
    run = CoreRun()
    files, rejects = discover(raw_root, None if only is None else set(only))
    batches = plan_batches(files, batch_bytes) or [[]]
    run.files_read, run.batches = len(files), len(batches)
    run.workers = min(workers or default_workers(), len(batches))
    known = _known_sources(warehouse, files) if skip_unchanged else None
    limits = _Limits(max_file_bytes, max_transcript_chars, batch_bytes)
    scratch_root = scratch_dir or os.environ.get("ETL_SCRATCH_DIR") or tempfile.gettempdir()
    _remove_dead_scratch(Path(scratch_root))
    scratch = tempfile.mkdtemp(prefix=f"{SCRATCH_PREFIX}{os.getpid()}-", dir=scratch_root)
    pool = worker_pool(run.workers - 1)  # the calling process works too
    try:
        clock = time.perf_counter()
        say(f"staging {len(files)} file(s) in {len(batches)} batch(es) on {run.workers} process(es)")
        calls = [(_batch_pass, n, b, rejects if n == 0 else [], scratch, now, limits, None, _known_of(known, b)) for n, b in enumerate(batches)]
        results = dict(enumerate(run_calls(pool, calls)))
        for result in results.values():
            _add(run, result["seconds"])
        run.wall_seconds["batches"] = time.perf_counter() - clock
        clock = time.perf_counter()
        keys = [results[n]["keys"] for n in range(len(batches))]
        read = pl.concat([r["read"] for r in results.values()]).unique()
        published = _published_copies(warehouse, pl.concat(keys), read)
        redo = sorted(set(_batches_sharing_ids(keys)) | set(_batches_holding(keys, published)))
        if redo:
            # an id in several batches, or already published from a file not read now: redo those
            # batches with the outcome over every copy, so the first in path order wins wherever it is
            candidates = pl.concat([*keys, published.select(_POSITION, *DUPLICATE_KEYS)])
            outcomes = duplicate_outcomes(candidates, position=_POSITION).with_columns((pl.col(_POSITION) // (1 << 32)).alias("_batch"))
            calls = [
                (_batch_pass, n, batches[n], rejects if n == 0 else [], scratch, now, limits, outcomes.filter(pl.col("_batch") == n).drop("_batch"), _known_of(known, batches[n]))
                for n in redo
            ]
            for n, result in zip(redo, run_calls(pool, calls)):
                _add(run, {f"redo_{stage}": s for stage, s in result["seconds"].items()})
                results[n] = result
        run.batches_redone = len(redo)
        run.wall_seconds["cross_batch_duplicates"] = time.perf_counter() - clock
        for result in results.values():
            for name, value in result["stats"].items():
                run.stats[name] = run.stats.get(name, 0) + value
        run.files_unchanged = run.stats.get("files_unchanged", 0)
        kept = pl.concat([r["kept"] for r in results.values()])
        run.residual = pl.concat([r["residual"] for r in results.values()])
        clock = time.perf_counter()
        buckets = [d.relative_to(Path(scratch) / "turns").as_posix() for d in sorted((Path(scratch) / "turns").glob("split=*/bucket=*"))]
        say(f"flagging themes in {len(buckets)} warehouse file(s)")
        # the method is resolved here, not in the workers: a kept worker's environment is the one it was
        # started with, and ETL_THEME_METHOD may have changed since (a test, a long-lived code server)
        method = resolve_method(theme_method)
        reuse_from = str(warehouse.uri) if skip_unchanged else None  # --reprocess does everything again, flagging included
        flagged = run_calls(pool, [(flag_bucket, scratch, b, method, reuse_from) for b in buckets])
        run.seconds["flag"] = sum(f.seconds for f in flagged)
        run.stats["transcripts_flagged"] = sum(f.flagged for f in flagged)
        run.stats["flags_reused"] = sum(f.reused for f in flagged)
        run.wall_seconds["flag"] = time.perf_counter() - clock
        run.audits = _staged_audits(kept, run.stats, [t for r in results.values() for t in r["changed_again"]])
        if not all(a.passed for a in run.audits):
            raise AuditFailed(run.audits)
        clock = time.perf_counter()
        say("publishing")
        with warehouse.locked(holder={"batch": batch, **(holder or {})}):
            _publish(run, warehouse, pool, scratch, kept=kept, read=read, batch=batch, now=now)
        run.wall_seconds["write"] = time.perf_counter() - clock
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return run


def _staged_audits(kept: pl.DataFrame, stats: dict[str, int], changed_again: list[str]) -> list[Audit]:
    """The blocking checks that need only the staged rows (the contracts are checked while merging)."""
    duplicated = kept.filter(pl.col("transcript_id").is_duplicated())
    looked, again = stats.get("repair_looked_at", 0), stats.get("repair_changed_again", 0)
    broken = again >= REPAIR_AUDIT_MIN_TRANSCRIPTS and again > REPAIR_AUDIT_MAX_SHARE * looked
    return [
        Audit(
            "transcripts", "ids_unique", duplicated.is_empty(),
            "every staged transcript id is unique" if duplicated.is_empty() else f"{duplicated.get_column('transcript_id').n_unique()} id(s) staged more than once",
            {"duplicated_ids": duplicated.get_column("transcript_id").unique().sort().head(20).to_list()},
        ),
        Audit(
            "transcripts", "repair_is_stable", not broken,
            f"a second repair pass would change {again} of the {looked} transcripts ftfy repaired or could not settle"
            + (" (the repair itself is broken)" if broken else ""),
            {"changed_by_second_pass": again, "looked_at": looked, "transcripts": sorted(changed_again)[:20]},
        ),
    ]


def _publish(run: CoreRun, warehouse: Warehouse, pool, scratch: str, *, kept: pl.DataFrame, read: pl.DataFrame, batch: str | None, now: dt.datetime) -> None:
    """Meet the published tables, stage every touched file, audit the contracts, commit (under the write lock)."""
    _recover_locked(warehouse)
    warehouse.clear_staging()
    published = warehouse.read("transcripts", columns=list(PUBLISHED_KEYS), skip_damaged=[])
    if published is None:
        published = pl.DataFrame(schema={c: kept.schema[c] for c in PUBLISHED_KEYS})
    plan = resolve_against_published(kept, published, read, detected_at=now)
    bucketed = lambda frame: frame.with_columns(bucket_of(pl.col("transcript_id")).alias(BUCKET_COLUMN))  # noqa: E731
    drop_batch, drop_pub = bucketed(plan.drop_from_batch), bucketed(plan.drop_published)
    spilled = {tuple(v.split("=", 1)[1] for v in d.relative_to(Path(scratch) / "transcripts").parts) for d in (Path(scratch) / "transcripts").glob("split=*/bucket=*")}
    targets = sorted(spilled | set(drop_pub.select("split", BUCKET_COLUMN).unique().rows()))

    def only(frame: pl.DataFrame, target: tuple[str, str]) -> pl.DataFrame:
        return frame.filter((pl.col("split") == target[0]) & (pl.col(BUCKET_COLUMN) == target[1])).select("transcript_id")

    commit = Commit(warehouse, label=batch or "")
    try:
        calls = [
            (stage_file, str(warehouse.uri), commit.id, table, target, scratch, only(drop_batch, target), only(drop_pub, target))
            for table in BUCKETED_TABLES
            for target in targets
        ]
        calls.append((stage_file, str(warehouse.uri), commit.id, "quarantine", (None, "0"), scratch, None, None, plan.quarantine, read, plan.winners))
        staged: list[Staged] = run_calls(pool, calls)
        violations = {}
        for done in staged:
            commit.adopt(done.moves, done.deletes)
            run.rows[done.table] = run.rows.get(done.table, 0) + done.rows_in_batch
            run.files_written[done.table] = run.files_written.get(done.table, 0) + len(done.moves) + len(done.deletes)
            run.seconds["write_validate"] = run.seconds.get("write_validate", 0.0) + done.validate_s
            run.seconds["write"] = run.seconds.get("write", 0.0) + done.seconds - done.validate_s
            if done.violation is not None:
                violations.setdefault(done.table, []).append(done.violation)
            if done.new_rows is not None:
                run.new_quarantine = done.new_rows
        run.audits += [contract_audit(table, violations.get(table)) for table in TABLES]
        if violations:
            raise AuditFailed(run.audits)
        if batch is not None:
            mark = {"batch": batch, "published_at": now.isoformat(), "files_read": run.files_read, "rows": run.rows}
            commit.stage_bytes(warehouse.root / PUBLISHED / f"{batch}.json", json.dumps(mark).encode())
            if warehouse.exists(warehouse.root / ERRORS / f"{batch}.json"):
                commit.stage_delete(warehouse.root / ERRORS / f"{batch}.json")
        commit.commit()
    except BaseException:
        commit.abort()
        raise
    run.published = True
    for table in TABLES:
        run.rows_in_table[table] = warehouse.row_count(table)


def contract_audit(table: str, cases: list[pl.DataFrame] | None) -> Audit:
    """The blocking ``matches_contract`` check of a table from the failure cases of its staged files (None: none failed)."""
    return Audit(
        table, "matches_contract", not cases,
        "every row about to be written satisfies the table's pandera model" if not cases else "rows about to be written break the contract",
        {"failure_cases": pl.concat(cases, how="diagonal_relaxed").head(20).to_dicts()} if cases else {},
    )


def _known_sources(warehouse: Warehouse, files: list[RawFile]) -> pl.DataFrame:
    """(source_file, source_sha256) already in the warehouse, for the run's files only."""
    paths = pl.DataFrame({"source_file": [f.relative for f in files]}, schema={"source_file": pl.String})
    return warehouse.known_sources().join(paths, on="source_file", how="semi")


def _known_of(known: pl.DataFrame | None, files: list[RawFile]) -> pl.DataFrame | None:
    if known is None or known.is_empty():
        return None
    return known.filter(pl.col("source_file").is_in([f.relative for f in files]))


SCRATCH_PREFIX = "etl-core-"


def _remove_dead_scratch(root: Path) -> None:
    """Remove scratch folders left by core runs whose process is gone (killed before cleaning up)."""
    for folder in root.glob(f"{SCRATCH_PREFIX}*-*"):
        pid = folder.name.removeprefix(SCRATCH_PREFIX).split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


def _add(run: CoreRun, seconds: dict[str, float]) -> None:
    for stage, s in seconds.items():
        run.seconds[stage] = run.seconds.get(stage, 0.0) + s


def _published_copies(warehouse: Warehouse, keys: pl.DataFrame, read: pl.DataFrame) -> pl.DataFrame:
    """Published copies of this run's ids from files this run does not read (those it reads it
    replaces), with negative positions: they take part in the duplicate rule, they are no batch's."""
    published = warehouse.read("transcripts", columns=list(PUBLISHED_KEYS), skip_damaged=[])  # damage elsewhere never stops a run
    if published is None or keys.is_empty():
        return pl.DataFrame(schema={_POSITION: pl.Int64, **{c: pl.String for c in PUBLISHED_KEYS}})
    copies = (
        published.join(keys.select("transcript_id").unique(), on="transcript_id", how="semi")
        .join(read.select("source_file"), on="source_file", how="anti")
    )
    return copies.with_columns((-1 - pl.int_range(pl.len(), dtype=pl.Int64)).alias(_POSITION))


def _batches_holding(keys: list[pl.DataFrame], published: pl.DataFrame) -> list[int]:
    ids = published.select("transcript_id").unique()
    return [n for n, k in enumerate(keys) if not k.join(ids, on="transcript_id", how="semi").is_empty()]


def _batches_sharing_ids(keys: list[pl.DataFrame]) -> list[int]:
    """Numbers of the batches holding a transcript id that another batch holds too."""
    if len(keys) < 2:
        return []
    located = pl.concat(keys).select("transcript_id", (pl.col(_POSITION) // (1 << 32)).alias("_batch")).unique()
    shared = located.filter(pl.len().over("transcript_id") > 1)
    return sorted(shared.get_column("_batch").unique().to_list())


def prune_missing(raw_root: Path, warehouse_root: Path | str, *, dry_run: bool = False) -> dict[str, int]:
    """Make the warehouse mirror the raw folder: drop transcripts whose id no file holds any more.

    Not part of a normal run (the warehouse keeps what it once ingested); an
    operator asks for it. Every file is read to learn which ids exist; an id
    whose file now holds only a broken version is kept (its last good version
    stays). Quarantine rows of files that are gone are dropped too. One commit.
    """
    from etl_project.lib.batches import scan

    records, _ = read_raw_folder(raw_root)
    present = records.select("transcript_id").drop_nulls().unique()
    files = scan(raw_root).select(pl.col("path").alias("source_file"))
    warehouse = Warehouse(warehouse_root)
    cached = dict.fromkeys(flag_cache.cache_tables(warehouse), present)  # cached flags hold quotes: they go with their transcript
    return warehouse.prune({**dict.fromkeys(BUCKETED_TABLES, present), "quarantine": files, **cached}, dry_run=dry_run)


# ------------------------------------------------------------------ one ingest batch: what every entry point runs


class BatchBusy(RuntimeError):
    """Another live process holds the batch's lock (it is working on the batch now)."""


def run_batch(
    raw_root: Path,
    warehouse_root: Path | str,
    key: str,
    *,
    reprocess: bool = False,
    wait: bool = True,
    holder: dict | None = None,
    **options,
) -> CoreRun:
    """Run ingest batch ``key`` (its claimed files, see :mod:`etl_project.lib.batches`) through the core.

    The run holds the batch's lock, so two runs never work on one batch at once: with ``wait`` the
    second waits for the first to end and then runs (finding the batch's files already in the
    warehouse, it publishes only what changed, usually nothing); without, it raises
    :class:`BatchBusy` naming the holder. Files whose content is already in the warehouse are
    skipped unless ``reprocess``. A failure is recorded for ``etl-project status`` and re-raised;
    the batch stays unfinished.
    """
    from etl_project.lib.batches import batch_lock

    warehouse = Warehouse(warehouse_root)
    lock = batch_lock(key)
    record = {"batch": key, **(holder or {})}
    if not wait:
        with warehouse.try_locked(lock, holder=record) as got:
            if got is None:
                raise BatchBusy(f"batch {key} is being run by {_describe(warehouse.lock_holder(lock))}")
            return _run_locked_batch(raw_root, warehouse, key, reprocess, record, options)
    with warehouse.locked(lock, holder=record):
        return _run_locked_batch(raw_root, warehouse, key, reprocess, record, options)


def _run_locked_batch(raw_root: Path, warehouse: Warehouse, key: str, reprocess: bool, record: dict, options: dict) -> CoreRun:
    from etl_project.lib.batches import files_of, record_failure

    try:
        return run_core(raw_root, warehouse.uri, only=files_of(warehouse, key), skip_unchanged=not reprocess, batch=key, holder=record, **options)
    except BaseException as exc:
        reason = "interrupted" if isinstance(exc, KeyboardInterrupt) else f"{type(exc).__name__}: {exc}"
        record_failure(warehouse, key, reason, record.get("run_id"))
        raise


def _describe(holder: dict | None) -> str:
    if not holder:
        return "another process"
    run = f", run {holder['run_id']}" if holder.get("run_id") else ""
    return f"pid {holder.get('pid')} on {holder.get('host')} since {holder.get('since')}{run}"

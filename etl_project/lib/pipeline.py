"""The whole transformation core without Dagster: raw folder -> warehouse tables.

The Dagster assets run these same steps one asset each; this module chains
them in one process for the benchmark and for anyone embedding the pipeline.
``TABLES`` is the one place that says how each table is keyed, sorted and
partitioned, so the assets and the core cannot drift apart.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from etl_project.lib.readers import DEFAULT_MAX_FILE_BYTES, read_raw_folder
from etl_project.lib.themes import flag_themes
from etl_project.lib.transform import DEFAULT_MAX_TRANSCRIPT_CHARS, build_tables, deduplicate, identify, quarantine_rows, repair
from etl_project.lib.warehouse import Published, Warehouse, publish_table
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


@dataclass
class CoreRun:
    files_read: int = 0
    published: dict[str, Published] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


def run_core(
    raw_root: Path,
    warehouse_root: Path,
    *,
    now: dt.datetime | None = None,
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
    max_transcript_chars: int = DEFAULT_MAX_TRANSCRIPT_CHARS,
) -> CoreRun:
    """Read, repair, split, validate, flag and publish; returns what each stage did and took."""
    now = now or dt.datetime.now(dt.timezone.utc)
    run = CoreRun()
    clock = time.perf_counter()

    def lap(stage: str) -> None:
        nonlocal clock
        run.seconds[stage] = run.seconds.get(stage, 0.0) + time.perf_counter() - clock
        clock = time.perf_counter()

    records, run.files_read = read_raw_folder(raw_root, max_file_bytes=max_file_bytes)
    records = identify(records, max_transcript_chars=max_transcript_chars)
    lap("read")
    repaired = deduplicate(repair(records))
    lap("repair")
    tables = build_tables(repaired, ingested_at=now)
    lap("split_validate")
    flags = flag_themes(tables.turns)
    lap("flag")
    warehouse = Warehouse(warehouse_root)
    rejected = quarantine_rows(tables.rejected, detected_at=now)
    seen = records.select("source_file").unique()
    for table, batch, extra in (
        ("transcripts", tables.transcripts, {}),
        ("turns", tables.turns, {}),
        ("theme_flags", flags, {}),
        ("quarantine", rejected, {"replaces": seen}),
    ):
        run.published[table] = publish_table(warehouse, table=table, batch=batch, **TABLES[table], **extra)
    lap("write")
    return run


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

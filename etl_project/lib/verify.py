"""Checking the warehouse's files against the contracts, and rebuilding the damaged ones.

:func:`damaged_files` reads every table file's footer and schema (no data pages) and compares the
columns and types with the table's pandera model: a truncated file, a file that is not Parquet, a
missing or retyped column are each reported with the reason. :func:`repair` rebuilds: the damaged
files, and their twins in the other keyed tables (a warehouse file of ``transcripts``, ``turns`` and
``theme_flags`` holds the same ids), are dropped in one commit, then every raw file a batch ever
claimed is read again through the core, which publishes those ids anew. Untouched files come out
the same (a re-run on the same input gives the same tables).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from etl_project.lib.warehouse import Warehouse, _plain_arrow_type
from etl_project.schemas import QuarantineModel, ThemeFlagsModel, TranscriptsModel, TurnsModel

MODELS = {"transcripts": TranscriptsModel, "turns": TurnsModel, "theme_flags": ThemeFlagsModel, "quarantine": QuarantineModel}
KEYED = ("transcripts", "turns", "theme_flags")


@dataclass(frozen=True)
class Damage:
    table: str
    file: str  # path as the warehouse's file system names it
    reason: str


def expected_schema(table: str) -> pa.Schema:
    """The Arrow schema a table's files carry (the partition column lives in the folder name)."""
    model = MODELS[table]
    columns = model.to_schema().columns
    empty = pl.DataFrame(schema={name: column.dtype.type for name, column in columns.items()})
    if table in KEYED:
        empty = empty.drop("split")
    return pa.schema([pa.field(f.name, _plain_arrow_type(f.type)) for f in empty.to_arrow().schema])


def damaged_files(warehouse: Warehouse) -> list[Damage]:
    """Every table file whose footer cannot be read or whose columns differ from the contract."""
    found = []
    for table in MODELS:
        want = expected_schema(table)
        for path in warehouse.partition_files(table):
            try:
                with warehouse.fs.open_input_file(str(path)) as handle:
                    got = pq.ParquetFile(handle).schema_arrow
            except Exception as exc:  # noqa: BLE001 - any unreadable file is damage to report
                found.append(Damage(table, str(path), f"cannot read the Parquet footer ({type(exc).__name__}: {str(exc).splitlines()[0][:160]})"))
                continue
            missing = [f.name for f in want if f.name not in got.names]
            retyped = [f"{f.name} is {got.field(f.name).type}, not {f.type}" for f in want if f.name in got.names and not got.field(f.name).type.equals(f.type)]
            extra = [name for name in got.names if name not in want.names]
            problems = ([f"missing column(s) {', '.join(missing)}"] if missing else []) + retyped + ([f"unknown column(s) {', '.join(extra)}"] if extra else [])
            if problems:
                found.append(Damage(table, str(path), "; ".join(problems)))
    return found


def twins(warehouse: Warehouse, damage: list[Damage]) -> list[Path | PurePosixPath]:
    """The files to drop: each damaged one, and for a keyed table the same split and bucket in the others."""
    drop = set()
    for d in damage:
        path = PurePosixPath(d.file)
        drop.add(d.file)
        if d.table in KEYED:
            relative = path.relative_to(PurePosixPath(str(warehouse.table_dir(d.table))))
            for other in KEYED:
                candidate = warehouse.table_dir(other) / relative
                if warehouse.exists(candidate):
                    drop.add(str(candidate))
    kind = Path if warehouse.is_local else PurePosixPath
    return sorted(kind(p) for p in drop)


def repair(warehouse: Warehouse, raw_root: Path, **options) -> dict:
    """Drop the damaged files (and their twins) in one commit, then rebuild them from the raw files."""
    from etl_project.lib.batches import read_manifest
    from etl_project.lib.commit import Commit, _recover_locked
    from etl_project.lib.pipeline import run_core

    damage = damaged_files(warehouse)
    if not damage:
        return {"damaged": 0, "dropped": 0, "files_read": 0}
    dropped = twins(warehouse, damage)
    with warehouse.locked():
        _recover_locked(warehouse)
        commit = Commit(warehouse, label="verify --repair")
        try:
            for path in dropped:
                commit.stage_delete(path)
            commit.commit()
        except BaseException:
            commit.abort()
            raise
    claimed = sorted(set(read_manifest(warehouse).get_column("path").to_list()))
    run = run_core(raw_root, warehouse.uri, only=claimed or None, **options)
    return {"damaged": len(damage), "dropped": len(dropped), "files_read": run.files_read}

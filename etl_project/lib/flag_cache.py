"""The flag cache: flags already made, found by method version and content, so none is made twice.

``theme_flags`` holds one row per transcript, made by one method. When a reflag replaces a row made
by another method version, that row is not thrown away: it goes to
``_flag_cache/schema=<schema version>/<method_version>/split=<split>/part-<bucket>.parquet`` together
with the ``text_sha256`` of the transcript it was derived from, in the same commit as the reflag
(the folder is versioned with the tables, :data:`etl_project.lib.commit.VERSIONED`). A later reflag
back to that method version takes the rows whose transcript still has that ``text_sha256`` from
here instead of flagging the turns again. So each transcript is flagged once per method version
and content, however often the method is switched; the expensive encoder of ``best`` runs once.

Why the content hash and not just the id: the published flags row of a transcript is rewritten
whenever its content changes, but the cached rows of other methods are not. A cached row whose
hash no longer matches the transcript's is stale; it is never used, and it is dropped the next time
its file is written. ``etl-project prune`` drops cached rows of transcripts it removes.

The core asks :func:`known` before it flags a warehouse file's interviews: published rows of the
method for the same content, and cached ones, are taken as they are, so a file read again because a
few of its interviews changed costs the flagging of those few.

The folder name starts with an underscore, so readers of the tables (hive-style globs, Spark) skip it;
it is not a table for analysts, and its files are the ``theme_flags`` contract plus ``text_sha256``.
"""

from __future__ import annotations

import re

import polars as pl

from etl_project.lib.warehouse import Warehouse, part_name
from etl_project.schemas import SCHEMA_VERSION, ThemeFlagsModel

CACHE = "_flag_cache"
HASH = "text_sha256"


def cache_table(method_version: str) -> str:
    """The cache folder of one method version under the warehouse root (schema version included:
    rows of an older ``theme_flags`` contract are never served into a newer one)."""
    return f"{CACHE}/schema={SCHEMA_VERSION}/{re.sub(r'[^A-Za-z0-9._+-]', '_', method_version)}"


def cache_tables(warehouse: Warehouse) -> list[str]:
    """Every cache folder that holds a file (for ``prune``)."""
    base = warehouse.table_dir(CACHE)
    found = set()
    for path in warehouse.partition_files(CACHE):
        parts = path.relative_to(base).parts  # schema=N / version / split=S / part-B.parquet
        if len(parts) == 4:
            found.add(f"{CACHE}/{parts[0]}/{parts[1]}")
    return sorted(found)


def lookup(warehouse: Warehouse, method: str, method_version: str, target: tuple[str, str], wanted: pl.DataFrame) -> pl.DataFrame | None:
    """Cached rows of ``method`` at ``method_version`` for the (``transcript_id``, ``text_sha256``) pairs in ``wanted``
    (one warehouse file's), without the hash column: exactly the rows a new flagging would make."""
    cached = warehouse.read(cache_table(method_version), files=[target])
    if cached is None:
        return None
    hits = (
        cached.filter((pl.col("method") == method) & (pl.col("method_version") == method_version))
        .join(wanted.select("transcript_id", HASH), on=["transcript_id", HASH], how="semi")
        .drop(HASH)
    )
    return hits if hits.height else None


def stash(warehouse: Warehouse, commit, target: tuple[str, str], replaced: pl.DataFrame, current: pl.DataFrame) -> int:
    """Stage, in ``commit``, the flags rows ``replaced`` (published rows about to be replaced by another
    method) into the cache file of their method version for ``target``; rows of the file whose
    transcript changed since, or is gone, are dropped on the way. ``current`` has the
    (``transcript_id``, ``text_sha256``) of every transcript of the file now. Returns the rows stashed."""
    replaced = replaced.join(current.select("transcript_id", HASH), on="transcript_id", how="inner")
    for version in replaced.get_column("method_version").unique().sort():
        rows = replaced.filter(pl.col("method_version") == version)
        table = cache_table(version)
        before = warehouse.read(table, files=[target])
        if before is not None:
            still_valid = before.join(current.select("transcript_id", HASH), on=["transcript_id", HASH], how="semi")
            rows = pl.concat([still_valid.join(rows, on="transcript_id", how="anti"), rows.select(still_valid.columns)])
        path = warehouse.table_dir(table) / f"split={target[0]}" / part_name(target[1])
        commit.stage_frame(path, rows.drop("split").sort("transcript_id"), CACHE)
    return replaced.height


def known(warehouse: Warehouse, target: tuple[str, str], method: str, version: str, wanted: pl.DataFrame) -> pl.DataFrame | None:
    """Flags rows of ``method`` at ``version`` already made for the (``transcript_id``, ``text_sha256``)
    pairs in ``wanted``: published ones (a published flags row is rewritten with its transcript, so it
    belongs to the published ``text_sha256``) and those in the flag cache. None when there are none."""
    found = []
    flags = warehouse.read("theme_flags", files=[target], skip_damaged=[])
    if flags is not None and set(flags.columns) != set(ThemeFlagsModel.to_schema().columns):
        flags = None  # a file of an older schema version: its rows lack columns the contract has now
    hashes = warehouse.read("transcripts", columns=["transcript_id", HASH], files=[target], skip_damaged=[])
    if flags is not None and hashes is not None:
        same = hashes.join(wanted.select("transcript_id", HASH), on=["transcript_id", HASH], how="semi").select("transcript_id")
        found.append(flags.filter((pl.col("method") == method) & (pl.col("method_version") == version)).join(same, on="transcript_id", how="semi"))
    missing = wanted if not found else wanted.join(found[0], on="transcript_id", how="anti")
    if missing.height and (cached := lookup(warehouse, method, version, target, missing)) is not None:
        found.append(cached.select(found[0].columns) if found else cached)
    rows = pl.concat(found) if found else None
    return rows if rows is not None and rows.height else None

"""Re-derive ``theme_flags`` from the stored ``turns`` after a change of flagging method (no Dagster).

The flags of a transcript are a function of its turns and the method; the warehouse keeps both the
turns and, on every flags row, the ``method`` and ``method_version`` that made it. So a method change
needs no raw file: per warehouse file (split and id bucket, as the core writes them), the transcripts
whose stored flags are not of the wanted method version have their stored turns flagged again, and
the ``theme_flags`` file is merged and staged exactly as the core stages it
(:func:`etl_project.lib.pipeline.flag_bucket` and ``stage_file``: same contract check, same
layout), then every file is published in one commit (:mod:`etl_project.lib.commit`).

**Flagged once per method version.** Flags rows are rewritten in the same commit as their transcript
whenever its content changes, so a published row of the wanted ``(method, method_version)`` is the
flags of the transcript's current content by that method: it is kept, not computed again, and a
second reflag with the same method changes nothing. A published row of another version is not lost
either: it moves to the flag cache (:mod:`etl_project.lib.flag_cache`) in the same commit, keyed by
the transcript's ``text_sha256``, and a reflag back to that version takes it from there. Switching
methods back and forth flags each transcript's content once per method version.

The whole reflag runs under the warehouse write lock (other writers wait; readers never do), so the
turns it reads are the turns it publishes flags for.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from etl_project.lib import flag_cache
from etl_project.lib.commit import Commit, _recover_locked
from etl_project.lib.pipeline import (
    SCRATCH_PREFIX,
    SPILL,
    Audit,
    AuditFailed,
    Staged,
    contract_audit,
    flag_bucket,
    stage_file,
)
from etl_project.lib.themes import method_version, resolve_method
from etl_project.lib.warehouse import Warehouse
from etl_project.lib.workers import default_workers, run_calls, worker_pool

TABLE = "theme_flags"


@dataclass(frozen=True)
class FileDone:
    """What reflagging one warehouse file did (returned from a worker)."""

    transcripts: int  # in the file's turns
    reflagged: int = 0  # flagged from the turns now
    from_cache: int = 0  # taken from the flag cache
    stashed: int = 0  # published rows of another method version moved to the cache
    staged: Staged | None = None


@dataclass
class ReflagRun:
    method: str
    method_version: str
    transcripts: int = 0  # transcripts in the turns table
    reflagged: int = 0  # of those, flagged again now from their turns
    from_cache: int = 0  # of those, given their rows of this version from the flag cache
    stashed: int = 0  # rows of other method versions moved to the flag cache
    files_written: int = 0
    rows_in_table: int = 0
    audits: list[Audit] = field(default_factory=list)
    seconds: float = 0.0


def targets(warehouse: Warehouse) -> list[tuple[str, str]]:
    """(split, bucket) of every turns file: the files whose flags may need deriving."""
    return sorted({(path.parent.name.partition("=")[2], path.name.removeprefix("part-").removesuffix(".parquet")) for path in warehouse.partition_files("turns")})


def _reflag_file(warehouse_root: str, commit_id: str, target: tuple[str, str], scratch: str, method: str, version: str) -> FileDone:
    """Bring one warehouse file's flags to ``version``: rows already of it are kept, rows in the flag
    cache for the transcript's current content are taken from there, the rest are flagged from the
    stored turns; the merged flags file is staged in the commit, and the rows it replaces go to the
    cache (:mod:`etl_project.lib.flag_cache`)."""
    warehouse = Warehouse(warehouse_root)
    ids = warehouse.read("turns", columns=["transcript_id"], files=[target])  # one small column first: usually all are current
    if ids is None:
        return FileDone(0)
    ids = ids.unique()
    stored = warehouse.read(TABLE, columns=["transcript_id", "method", "method_version"], files=[target])
    current = ids.head(0) if stored is None else stored.filter((pl.col("method") == method) & (pl.col("method_version") == version)).select("transcript_id")
    stale = ids.join(current, on="transcript_id", how="anti")
    if stale.is_empty():
        return FileDone(ids.height)
    commit = Commit.attach(warehouse, commit_id)
    hashes = warehouse.read("transcripts", columns=["transcript_id", flag_cache.HASH], files=[target])
    stale = stale.join(hashes, on="transcript_id", how="left")
    cached = flag_cache.lookup(warehouse, method, version, target, stale)
    to_flag = stale if cached is None else stale.join(cached, on="transcript_id", how="anti")
    stashed = 0
    if stored is not None:
        replaced = warehouse.read(TABLE, files=[target]).join(stale, on="transcript_id", how="semi")
        stashed = flag_cache.stash(warehouse, commit, target, replaced, hashes)
    bucket = f"split={target[0]}/bucket={target[1]}"
    if to_flag.height:
        turns = warehouse.read("turns", columns=["transcript_id", "split", "turn_index", "speaker", "text"], files=[target])
        folder = Path(scratch) / "turns" / bucket
        folder.mkdir(parents=True, exist_ok=True)
        turns.join(to_flag, on="transcript_id", how="semi").write_ipc(folder / f"turns{SPILL}")
        flag_bucket(scratch, bucket, method)
    staged = stage_file(warehouse_root, commit_id, TABLE, target, scratch, None, None, extra_rows=cached)
    moves = commit.moves + staged.moves  # the cache files, then the flags file
    return FileDone(ids.height, to_flag.height, 0 if cached is None else cached.height, stashed, dataclasses.replace(staged, moves=moves))


def reflag(warehouse_root: Path | str, method: str | None = None, *, workers: int | None = None, holder: dict | None = None, progress=None) -> ReflagRun:
    """``theme_flags`` re-derived from the stored ``turns`` by ``method`` (default: ``ETL_THEME_METHOD``,
    else the default method) for every transcript whose flags are of another method version; one
    commit. Raises :class:`AuditFailed` (nothing published) when the merged rows break the contract."""
    say = progress or (lambda message: None)
    clock = time.perf_counter()
    name = resolve_method(method)
    run = ReflagRun(method=name, method_version=method_version(name))
    warehouse = Warehouse(warehouse_root)
    scratch_root = os.environ.get("ETL_SCRATCH_DIR") or tempfile.gettempdir()  # as the core's: a killed run's is removed by the next core run
    scratch = tempfile.mkdtemp(prefix=f"{SCRATCH_PREFIX}{os.getpid()}-reflag-", dir=scratch_root)
    try:
        with warehouse.locked(holder={"reflag": run.method_version, **(holder or {})}):
            _recover_locked(warehouse)
            warehouse.clear_staging()
            files = targets(warehouse)
            say(f"re-deriving {TABLE} ({name} {run.method_version}) from the turns of {len(files)} warehouse file(s)")
            commit = Commit(warehouse, label=f"reflag {run.method_version}")
            try:
                pool = worker_pool(min(workers or default_workers(), max(len(files), 1)) - 1)
                done = run_calls(pool, [(_reflag_file, str(warehouse.uri), commit.id, t, scratch, name, run.method_version) for t in files])
                violations = []
                for file in done:
                    run.transcripts += file.transcripts
                    run.reflagged += file.reflagged
                    run.from_cache += file.from_cache
                    run.stashed += file.stashed
                    staged = file.staged
                    if staged is None:
                        continue
                    commit.adopt(staged.moves, staged.deletes)
                    run.files_written += len(staged.moves) + len(staged.deletes)
                    if staged.violation is not None:
                        violations.append(staged.violation)
                run.audits = [contract_audit(TABLE, violations)]
                if violations:
                    raise AuditFailed(run.audits)
                commit.commit()
            except BaseException:
                commit.abort()
                raise
        run.rows_in_table = warehouse.row_count(TABLE)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    run.seconds = time.perf_counter() - clock
    say(f"{run.reflagged} of {run.transcripts} transcript(s) flagged again, {run.from_cache} taken from the flag cache, "
        f"{run.stashed} replaced row(s) cached, {run.files_written} file(s) written")
    return run

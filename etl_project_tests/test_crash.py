"""Crash safety: a run killed (SIGKILL) in the middle of the write stage leaves a readable warehouse,
and the next run completes it to exactly what an uninterrupted run gives."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import polars as pl
import pyarrow.parquet as pq
import pytest

from etl_project.lib.pipeline import run_core
from etl_project_tests.conftest import SIMPLE_DIALOG, md_transcript

TABLES = ("transcripts", "turns", "theme_flags")
KILLER = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    from etl_project.lib import warehouse
    from etl_project.lib.pipeline import run_core

    mode, after = sys.argv[3], int(sys.argv[4])
    calls = {"replace": 0, "write": 0}
    real_replace, real_write = os.replace, warehouse.write_parquet

    def replace(src, dst):
        real_replace(src, dst)
        calls["replace"] += 1
        if mode == "after-replace" and calls["replace"] == after:
            os.kill(os.getpid(), signal.SIGKILL)

    def write_parquet(frame, table, where):
        calls["write"] += 1
        if mode == "mid-write" and calls["write"] == after:
            Path(where).write_bytes(b"PAR1 torn")
            os.kill(os.getpid(), signal.SIGKILL)
        real_write(frame, table, where)

    warehouse.os.replace = replace
    warehouse.write_parquet = write_parquet
    run_core(Path(sys.argv[1]), Path(sys.argv[2]))
    """
)


def write_batch(raw: Path, ids: list[str], extra: str = "") -> None:
    for transcript_id in ids:
        (raw / f"{transcript_id}.md").write_text(md_transcript(transcript_id, SIMPLE_DIALOG + extra))


def snapshot(warehouse: Path) -> dict[str, pl.DataFrame]:
    out = {}
    for table in TABLES:
        frame = pl.read_parquet(warehouse / table / "**" / "*.parquet", hive_partitioning=True)
        out[table] = frame.drop("ingested_at", strict=False).sort(pl.all())
    return out


def readable_everywhere(warehouse: Path) -> None:
    for path in warehouse.glob("*/**/part-*.parquet"):
        pq.read_table(path)  # every published file is a whole Parquet file
    for table in TABLES:
        duckdb.sql(f"select count(*) from read_parquet('{warehouse}/{table}/**/*.parquet', hive_partitioning = true)").fetchall()


@pytest.mark.parametrize(("mode", "after"), [("after-replace", 2), ("after-replace", 4), ("mid-write", 3)])
def test_killed_write_stage_leaves_old_or_new_files_and_next_run_completes(tmp_path: Path, mode: str, after: int) -> None:
    raw, warehouse, clean = tmp_path / "raw", tmp_path / "wh", tmp_path / "clean"
    raw.mkdir()
    write_batch(raw, ["work_0001", "creativity_0001", "science_0001"])
    run_core(raw, warehouse)
    files_before = {p: p.read_bytes() for p in warehouse.glob("*/**/part-*.parquet")}

    write_batch(raw, ["work_0002", "creativity_0002", "science_0002"])
    write_batch(raw, ["work_0001"], extra="\n\nAI: One more question?")
    proc = subprocess.run([sys.executable, "-c", KILLER, str(raw), str(warehouse), mode, str(after)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == -9, proc.stderr

    readable_everywhere(warehouse)
    run_core(raw, clean)
    expected_files = {p.relative_to(clean): p for p in clean.glob("*/**/part-*.parquet")}
    changed = 0
    for path, old_bytes in files_before.items():
        now = path.read_bytes()
        if now != old_bytes:  # replaced: then it is the finished new file, not a torn one
            changed += 1
            assert pl.read_parquet(path).drop("ingested_at", strict=False).sort(pl.all()).equals(
                pl.read_parquet(expected_files[path.relative_to(warehouse)]).drop("ingested_at", strict=False).sort(pl.all())
            )
    assert changed == (after if mode == "after-replace" else after - 1)

    run_core(raw, warehouse)
    readable_everywhere(warehouse)
    final, reference = snapshot(warehouse), snapshot(clean)
    for table in TABLES:
        assert final[table].equals(reference[table]), table
    assert final["transcripts"]["transcript_id"].n_unique() == final["transcripts"].height == 6
    assert list((warehouse / "_staging").iterdir()) == []  # the dead writer's leftovers are gone

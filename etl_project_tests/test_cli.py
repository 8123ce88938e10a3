"""`etl-project run`, as an operator runs it: environment-selected folders, a summary, exit codes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import polars as pl

from etl_project_tests.conftest import md_transcript

CLI = str(Path(sys.executable).parent / "etl-project")


def run_cli(raw: Path, warehouse: Path, home: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "ETL_RAW_DIR": str(raw), "ETL_WAREHOUSE_DIR": str(warehouse), "DAGSTER_HOME": str(home)}
    return subprocess.run([CLI, "run"], env=env, capture_output=True, text=True, timeout=300)


def test_run_honours_the_environment_and_prints_a_summary(raw_dir: Path, warehouse_dir: Path, tmp_path: Path) -> None:
    (raw_dir / "a.md").write_text(md_transcript("work_0001"))
    (raw_dir / "b.md").write_text("no id and no turns")
    proc = run_cli(raw_dir, warehouse_dir, tmp_path / "home")
    assert proc.returncode == 0, proc.stderr
    summary = proc.stdout
    assert "files read            2" in summary
    assert "transcripts written   1 this run" in summary
    assert "quarantined           1 this run" in summary
    assert "time taken" in summary
    assert pl.read_parquet(warehouse_dir / "transcripts" / "split=workforce" / "part-0.parquet").height == 1
    assert (tmp_path / "home").is_dir()  # the run is recorded in the Dagster instance


def test_missing_raw_folder_is_a_clear_error(tmp_path: Path) -> None:
    proc = run_cli(tmp_path / "nope", tmp_path / "wh", tmp_path / "home")
    assert proc.returncode == 2
    assert "raw folder" in proc.stderr and "nope" in proc.stderr

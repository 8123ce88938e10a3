"""Damaged warehouses have a way out: `etl-project verify` names the damage, `--repair` rebuilds it,
damage in one split never stops runs that do not touch it; `etl-project prune` reflects deletions."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq

from etl_project.lib.pipeline import TABLES, run_core
from etl_project.lib.warehouse import Warehouse
from etl_project_tests.conftest import SIMPLE_DIALOG, md_transcript

CLI = str(Path(sys.executable).parent / "etl-project")


def cli(raw: Path, warehouse: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "ETL_RAW_DIR": str(raw), "ETL_WAREHOUSE_DIR": str(warehouse), "DAGSTER_HOME": str(warehouse.parent / "home")}
    (warehouse.parent / "home").mkdir(exist_ok=True)
    return subprocess.run([CLI, *args], env=env, capture_output=True, text=True, timeout=300)


def raw_folder(root: Path) -> Path:
    raw = root / "raw"
    raw.mkdir()
    for i in range(4):
        for prefix in ("work", "creativity", "science"):
            (raw / f"{prefix}_{i:04d}.md").write_text(md_transcript(f"{prefix}_{i:04d}", SIMPLE_DIALOG + f"\n\nUser: note {i}"))
    (raw / "broken.md").write_text("no id, no turns")
    return raw


def tables(root: Path) -> dict[str, pl.DataFrame]:
    wh = Warehouse(root)
    return {t: wh.read(t).drop("ingested_at", "detected_at", strict=False).sort(pl.all()) for t in TABLES}


def test_verify_names_damage_and_repair_restores_the_undamaged_tables(tmp_path: Path) -> None:
    raw = raw_folder(tmp_path)
    warehouse, clean = tmp_path / "wh", tmp_path / "clean"
    assert cli(raw, warehouse, "run", "--no-progress").returncode == 0
    run_core(raw, clean)
    ok = cli(raw, warehouse, "verify")
    assert ok.returncode == 0 and "matches its table's contract" in ok.stdout

    truncated = warehouse / "turns" / "split=creatives" / "part-b00000.parquet"
    data = truncated.read_bytes()
    truncated.unlink()  # a new inode: the generation's other links stay whole
    truncated.write_bytes(data[: len(data) // 2])
    retyped = warehouse / "theme_flags" / "split=scientists" / "part-b00000.parquet"
    table = pq.read_table(retyped).drop(["n_flags"])
    retyped.unlink()
    pq.write_table(table, retyped)

    found = cli(raw, warehouse, "verify")
    assert found.returncode == 1
    assert "turns/split=creatives/part-b00000.parquet: cannot read the Parquet footer" in found.stdout
    assert "theme_flags/split=scientists/part-b00000.parquet: missing column(s) n_flags" in found.stdout
    assert "Traceback" not in found.stderr

    status = cli(raw, warehouse, "status")  # the report survives the damage and names it
    assert status.returncode == 0 and "damaged" in status.stdout

    repaired = cli(raw, warehouse, "verify", "--repair")
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    assert cli(raw, warehouse, "verify").returncode == 0
    got, want = tables(warehouse), tables(clean)
    for table in TABLES:
        assert got[table].equals(want[table]), table


def test_damage_in_one_split_never_stops_a_run_that_does_not_touch_it(tmp_path: Path) -> None:
    raw = raw_folder(tmp_path)
    warehouse = tmp_path / "wh"
    assert cli(raw, warehouse, "run", "--no-progress").returncode == 0
    damaged = warehouse / "transcripts" / "split=scientists" / "part-b00000.parquet"
    damaged.unlink()
    damaged.write_bytes(b"PAR1 not really")
    (warehouse / "_staging" / "a stray folder").mkdir(parents=True)  # nobody's leftovers
    (raw / "work_0100.md").write_text(md_transcript("work_0100"))
    again = cli(raw, warehouse, "run", "--no-progress")
    assert again.returncode == 0, again.stderr[-2000:]
    assert "work_0100" in Warehouse(warehouse).read("transcripts", files=[("workforce", "b00000")])["transcript_id"].to_list()
    assert not (warehouse / "_staging" / "a stray folder").exists()

    (raw / "science_0100.md").write_text(md_transcript("science_0100"))  # this one touches the damaged file
    touching = cli(raw, warehouse, "run", "--no-progress")
    assert touching.returncode == 1
    assert "split=scientists/part-b00000.parquet cannot be read" in touching.stderr and "verify --repair" in touching.stderr


def test_prune_lists_then_removes_what_no_raw_file_holds(tmp_path: Path) -> None:
    raw = raw_folder(tmp_path)
    warehouse = tmp_path / "wh"
    assert cli(raw, warehouse, "run", "--no-progress").returncode == 0
    (raw / "work_0001.md").unlink()
    (raw / "broken.md").unlink()
    before = tables(warehouse)
    dry = cli(raw, warehouse, "prune", "--dry-run")
    assert dry.returncode == 0 and "transcripts  would remove 1 row(s)" in dry.stdout and "quarantine   would remove 1 row(s)" in dry.stdout
    after_dry = tables(warehouse)
    assert all(after_dry[t].equals(before[t]) for t in TABLES)
    done = cli(raw, warehouse, "prune")
    assert done.returncode == 0 and "transcripts  removed 1 row(s)" in done.stdout
    got = tables(warehouse)
    for table in ("transcripts", "turns", "theme_flags"):
        assert "work_0001" not in got[table]["transcript_id"].to_list()
    assert got["quarantine"].is_empty()
    shutil.rmtree(raw)
    refused = cli(raw, warehouse, "prune")
    assert refused.returncode == 2 and "refusing to prune" in refused.stderr


def test_the_prune_job_in_the_ui_lists_then_removes(tmp_path: Path) -> None:
    import dagster as dg

    from etl_project.defs.warehouse.prune import prune_warehouse
    from etl_project_tests.conftest import resources_for

    raw = raw_folder(tmp_path)
    warehouse = tmp_path / "wh"
    run_core(raw, warehouse)
    (raw / "science_0002.md").unlink()
    job = dg.Definitions(jobs=[prune_warehouse], resources=resources_for(raw, warehouse)).resolve_job_def("prune_warehouse")
    dry = job.execute_in_process()  # the default is a dry run
    assert dry.output_for_node("prune_missing_transcripts")["transcripts"] == 1
    assert "science_0002" in Warehouse(warehouse).read("transcripts")["transcript_id"].to_list()
    done = job.execute_in_process(run_config={"ops": {"prune_missing_transcripts": {"config": {"dry_run": False}}}})
    assert done.output_for_node("prune_missing_transcripts")["turns"] > 0
    assert "science_0002" not in Warehouse(warehouse).read("transcripts")["transcript_id"].to_list()

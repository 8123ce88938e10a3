"""Crash safety through the entry point users run: `etl-project run` (what `make run` runs) killed by
SIGKILL at several points of a multi-batch run. After every kill the four tables are readable and
agree on their ids; one plain `etl-project run` afterwards lands every transcript exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import polars as pl
import pyarrow.parquet as pq
import pytest

from etl_project.lib.batches import published, unfinished
from etl_project.lib.pipeline import run_core
from etl_project.lib.warehouse import Warehouse
from etl_project_tests.conftest import SIMPLE_DIALOG, dialog, md_transcript

CLI = str(Path(sys.executable).parent / "etl-project")
KEYED = ("transcripts", "turns", "theme_flags")

# `etl-project run` with one function wrapped so that the process SIGKILLs itself at the n-th call.
KILLER = textwrap.dedent(
    """
    import os, signal, sys
    from etl_project.lib import commit, warehouse

    point, nth = sys.argv[1], int(sys.argv[2])
    calls = {"n": 0}

    def die_on_nth(real, before):
        def wrapper(*args, **kwargs):
            calls["n"] += 1
            if before and calls["n"] == nth:
                os.kill(os.getpid(), signal.SIGKILL)
            out = real(*args, **kwargs)
            if not before and calls["n"] == nth:
                os.kill(os.getpid(), signal.SIGKILL)
            return out
        return wrapper

    if point == "staging-a-file":  # a staged Parquet file half written
        real_write = warehouse.write_parquet
        def torn(frame, table, where):
            calls["n"] += 1
            if calls["n"] == nth:
                with open(where, "wb") as handle:
                    handle.write(b"PAR1 torn")
                os.kill(os.getpid(), signal.SIGKILL)
            return real_write(frame, table, where)
        warehouse.write_parquet = torn
    elif point == "before-switch":  # a batch wholly staged, not yet published
        commit.Commit.commit = die_on_nth(commit.Commit.commit, before=True)
    elif point == "building-generation":  # the next generation half linked
        commit.os.link = die_on_nth(os.link, before=True)
    elif point == "after-switch":  # published, old generation not yet removed
        commit.remove_old_generations = die_on_nth(commit.remove_old_generations, before=True)
    from etl_project.cli import main
    sys.exit(main(["run", "--no-progress"]))
    """
)


def corpus(raw: Path, n: int) -> set[str]:
    """``n`` transcripts per split in one-transcript files, a CSV of a few more, and one bad file."""
    raw.mkdir(parents=True, exist_ok=True)
    ids = set()
    for i in range(n):
        for prefix in ("work", "creativity", "science"):
            tid = f"{prefix}_{i:04d}"
            (raw / f"{tid}.md").write_text(md_transcript(tid, SIMPLE_DIALOG + f"\n\nUser: detail {i}"))
            ids.add(tid)
    body = dialog(("Assistant", "Which tools?"), ("User", "Mostly a chat assistant, and I check its answers."))
    rows = [f'work_{9000 + i},"{body}"' for i in range(5)]
    (raw / "zz_release.csv").write_text("transcript_id,text\n" + "\n".join(rows) + "\n")
    ids |= {f"work_{9000 + i}" for i in range(5)}
    (raw / "broken.md").write_text("no id, no turns")
    return ids


def env_for(raw: Path, warehouse: Path, home: Path, **extra: str) -> dict[str, str]:
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    return {**os.environ, "ETL_RAW_DIR": str(raw), "ETL_WAREHOUSE_DIR": str(warehouse), "DAGSTER_HOME": str(home), **extra}


def ids_of(warehouse: Path) -> dict[str, pl.Series]:
    """Each keyed table's transcript ids, read as an analyst would (DuckDB over the hive folders)."""
    out = {}
    for path in warehouse.glob("*/**/part-*.parquet"):
        pq.read_table(path)  # every visible file is a whole Parquet file
    for table in KEYED:
        if not (warehouse / table).exists():
            out[table] = pl.Series([], dtype=pl.String)
            continue
        distinct = "distinct " if table == "turns" else ""  # many turns per transcript
        rows = duckdb.sql(f"select {distinct}transcript_id from read_parquet('{warehouse}/{table}/**/*.parquet', hive_partitioning = true)").fetchall()
        out[table] = pl.Series([r[0] for r in rows], dtype=pl.String).sort()
    return out


def assert_tables_agree(warehouse: Path) -> set[str]:
    ids = ids_of(warehouse)
    assert ids["transcripts"].is_unique().all(), "an id twice in transcripts"
    for table in KEYED:
        assert ids[table].equals(ids["transcripts"]), f"{table} disagrees with transcripts"
    return set(ids["transcripts"])


def tables(warehouse: Path) -> dict[str, pl.DataFrame]:
    wh = Warehouse(warehouse)
    out = {}
    for table in (*KEYED, "quarantine"):
        frame = wh.read(table)
        out[table] = frame.drop("ingested_at", "detected_at", strict=False).sort(pl.all())
    return out


@pytest.mark.parametrize(
    ("point", "nth"),
    # recover() at the start of the CLI, then per batch: recover, switch; so call 3 is batch 1's own clean-up
    [("staging-a-file", 5), ("before-switch", 2), ("building-generation", 3), ("after-switch", 3)],
)
def test_sigkill_at_any_point_of_a_multi_batch_run_then_one_run_lands_everything(tmp_path: Path, point: str, nth: int) -> None:
    raw, warehouse, clean = tmp_path / "raw", tmp_path / "wh", tmp_path / "clean"
    expected = corpus(raw, 6)
    env = env_for(raw, warehouse, tmp_path / "home", ETL_BATCH_MAX_FILES="12", ETL_CORE_WORKERS="1")
    killed = subprocess.run([sys.executable, "-c", KILLER, point, str(nth)], env=env, capture_output=True, text=True, timeout=300)
    assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr

    landed = assert_tables_agree(warehouse)
    wh = Warehouse(warehouse)
    assert unfinished(wh), "the kill left no batch to finish"
    for key in published(wh):  # a published batch is wholly there
        assert key not in unfinished(wh)
    assert landed < expected

    again = subprocess.run([CLI, "run", "--no-progress"], env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-3000:]
    assert assert_tables_agree(warehouse) == expected  # every transcript exactly once
    assert unfinished(wh) == []
    assert [p.name for p in (warehouse / "_generations").iterdir()] == [os.readlink(warehouse / "_current").split("/")[-1]]
    assert not any((warehouse / "_staging").iterdir())

    run_core(raw, clean)  # the same files in one uninterrupted pass
    got, want = tables(warehouse), tables(clean)
    for table in want:
        assert got[table].equals(want[table]), table


def test_sigkill_at_random_moments_of_make_run(tmp_path: Path) -> None:
    """As a user would try it: kill `etl-project run` after a few seconds, check the tables, again and again.

    Each kill comes later than the last one that landed nothing new, so on a slow (or busy) machine
    the kills still reach the moments between batches instead of all landing during start-up."""
    raw, warehouse = tmp_path / "raw", tmp_path / "wh"
    expected = corpus(raw, 60)
    env = env_for(raw, warehouse, tmp_path / "home", ETL_BATCH_MAX_FILES="40")
    partial, delay, before = 0, 5.0, set()
    for _ in range(8):
        proc = subprocess.Popen([CLI, "run", "--no-progress"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        proc.kill()
        proc.wait(timeout=60)
        landed = assert_tables_agree(warehouse)
        partial += 0 < len(landed) < len(expected)
        if partial >= 2 or landed == expected:
            break
        delay += 2.0 if landed == before else 0.0
        before = landed
    assert partial, "no kill landed between two batches: make the corpus bigger"
    final = subprocess.run([CLI, "run", "--no-progress"], env=env, capture_output=True, text=True, timeout=300)
    assert final.returncode == 0, final.stderr[-3000:]
    assert assert_tables_agree(warehouse) == expected
    assert unfinished(Warehouse(warehouse)) == []


def children(pid: int) -> list[int]:
    """Live processes whose parent is ``pid`` (from /proc; a zombie counts as gone)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            _, rest = stat.read_text().rsplit(")", 1)
        except OSError:
            continue
        state, ppid = rest.split()[:2]
        if int(ppid) == pid and state != "Z":
            found.append(int(stat.parent.name))
    return found


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads the process table from /proc")
def test_a_killed_run_takes_its_worker_processes_with_it(tmp_path: Path) -> None:
    """SIGKILL of `etl-project run` (or the out-of-memory killer) tells its spawned core workers nothing; they
    used to wait for their next call for ever, ~200 MB each, one more set per killed run. Each now ends
    within seconds of its parent."""
    raw, warehouse = tmp_path / "raw", tmp_path / "wh"
    corpus(raw, 60)
    env = env_for(raw, warehouse, tmp_path / "home", ETL_BATCH_MAX_FILES="40", ETL_CORE_WORKERS="2")
    proc = subprocess.Popen([CLI, "run", "--no-progress"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    workers: list[int] = []
    try:
        deadline = time.monotonic() + 120
        while not (workers := children(proc.pid)) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert workers, "the run started no worker process"
        proc.kill()
        proc.wait(timeout=60)
        deadline = time.monotonic() + 15
        while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not [pid for pid in workers if alive(pid)], "worker processes outlived the killed run"
    finally:
        for pid in workers:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)

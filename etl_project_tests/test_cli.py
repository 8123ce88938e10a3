"""`etl-project`, as an operator runs it: environment-selected folders, progress, summary, status, quarantine, exit codes."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest

from etl_project import cli
from etl_project_tests.conftest import md_transcript

CLI = str(Path(sys.executable).parent / "etl-project")
STEPS = ("warehouse_tables", "theme_report", "transcripts_expectations", "turns_expectations")


def env_for(raw: Path, warehouse: Path, home: Path) -> dict[str, str]:
    return {**os.environ, "ETL_RAW_DIR": str(raw), "ETL_WAREHOUSE_DIR": str(warehouse), "DAGSTER_HOME": str(home)}


def run_cli(raw: Path, warehouse: Path, home: Path, *args: str) -> subprocess.CompletedProcess:
    command = list(args) or ["run"]
    return subprocess.run([CLI, *command], env=env_for(raw, warehouse, home), capture_output=True, text=True, timeout=300)


def write_home(home: Path) -> Path:
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    return home


def fingerprint(warehouse: Path) -> dict[str, str]:
    """Every table and manifest file with its content hash (locks, staging and alerts left out)."""
    skip = ("_locks", "_staging", "_alerts")
    return {
        str(p.relative_to(warehouse)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(warehouse.rglob("*"))
        if p.is_file() and not p.relative_to(warehouse).parts[0].startswith(skip)
    }


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One real `etl-project run` on two inputs (one good, one quarantined), shared by the read-only tests."""
    root = tmp_path_factory.mktemp("cli_run")
    raw, warehouse, home = root / "raw", root / "warehouse", write_home(root / "home")
    raw.mkdir()
    (raw / "a.md").write_text(md_transcript("work_0001"))
    (raw / "b.md").write_text("no id and no turns")
    proc = run_cli(raw, warehouse, home)
    return {"raw": raw, "warehouse": warehouse, "home": home, "proc": proc}


# ------------------------------------------------------------------ run


def test_run_honours_the_environment_and_prints_a_summary(ran: dict) -> None:
    proc = ran["proc"]
    assert proc.returncode == 0, proc.stderr
    summary = proc.stdout
    assert "files read            2" in summary
    assert "transcripts written   1 this run" in summary
    assert "quarantined           1 this run" in summary
    assert "time taken" in summary
    assert pl.read_parquet(ran["warehouse"] / "transcripts" / "split=workforce" / "*.parquet").height == 1
    assert (ran["home"] / "history").is_dir()  # the run is recorded in the Dagster instance


def test_run_prints_a_line_per_step_as_it_finishes(ran: dict) -> None:
    lines = [line for line in ran["proc"].stderr.splitlines() if line.lstrip().startswith("[")]
    finished = {line.split()[1]: line for line in lines}
    assert set(STEPS) <= set(finished), lines
    counters = [line.split("]")[0].split("[")[1].split("/") for line in lines]
    assert [int(done) for done, _ in counters] == list(range(1, len(lines) + 1))  # one line per finished step, in order
    assert len({total for _, total in counters}) == 1 and int(counters[0][1]) >= len(lines)
    for step in STEPS:
        assert " done " in finished[step] and finished[step].rstrip().split(" done ")[1].split()[1] == "s"
    assert "transcripts 1" in finished["warehouse_tables"] and "quarantine 1" in finished["warehouse_tables"]
    assert "publishing" in ran["proc"].stderr  # the core's own stages are shown as they start


def test_no_progress_and_nothing_to_do(ran: dict) -> None:
    proc = run_cli(ran["raw"], ran["warehouse"], ran["home"], "run", "--no-progress")
    assert proc.returncode == 0, proc.stderr
    assert "nothing to do" in proc.stdout and "[1/" not in proc.stderr


def test_a_second_batch_in_the_same_dagster_home_runs(ran: dict, tmp_path: Path) -> None:
    raw, warehouse, home = tmp_path / "raw", tmp_path / "warehouse", tmp_path / "home"
    for source, target in ((ran["raw"], raw), (ran["warehouse"], warehouse), (ran["home"], home)):
        shutil.copytree(source, target)
    (raw / "creativity_0002.md").write_text(md_transcript("creativity_0002"))
    proc = run_cli(raw, warehouse, home, "run", "--no-progress")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "transcripts written   1 this run; 2 in the warehouse" in proc.stdout  # the whole table, not just the touched file


def test_missing_raw_folder_is_a_clear_error(tmp_path: Path) -> None:
    proc = run_cli(tmp_path / "nope", tmp_path / "wh", tmp_path / "home")
    assert proc.returncode == 2
    assert "raw folder" in proc.stderr and "nope" in proc.stderr


@pytest.mark.parametrize("where", ["a file", "under a file"])
def test_unwritable_warehouse_is_refused_before_running(raw_dir: Path, tmp_path: Path, where: str) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("not a folder")
    warehouse = blocker if where == "a file" else blocker / "warehouse"
    (raw_dir / "a.md").write_text(md_transcript("work_0001"))
    proc = run_cli(raw_dir, warehouse, tmp_path / "home")
    assert proc.returncode == 2, proc.stderr
    assert "cannot write to the warehouse" in proc.stderr and str(warehouse) in proc.stderr
    assert "Traceback" not in proc.stderr
    assert blocker.read_text() == "not a folder"


def test_unknown_batch_is_a_usage_error(ran: dict) -> None:
    proc = run_cli(ran["raw"], ran["warehouse"], ran["home"], "run", "--batch", "19990101T000000Z")
    assert proc.returncode == 2 and "no batch" in proc.stderr


def test_a_failed_run_exits_1_and_names_the_step(raw_dir: Path, warehouse_dir: Path, tmp_path: Path) -> None:
    (raw_dir / "a.md").write_text(md_transcript("work_0001"))
    for folder in ("transcripts/split=workforce", "quarantine"):  # table files the run must read, and cannot
        (warehouse_dir / folder).mkdir(parents=True)
        (warehouse_dir / folder / "part-b00000.parquet").write_bytes(b"this is not parquet")
        (warehouse_dir / folder / "part-0.parquet").write_bytes(b"this is not parquet")
    proc = run_cli(raw_dir, warehouse_dir, write_home(tmp_path / "home"))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "run failed in step(s)" in proc.stderr and "--batch" in proc.stderr
    assert "FAILED" in proc.stderr  # the progress line of the failed step
    assert "run summary" not in proc.stdout


CHECKS_ELSEWHERE = """
import sys
from etl_project.cli import main
code = main(["run"])
print("great_expectations imported by the CLI process:", "great_expectations" in sys.modules)
sys.exit(code)
"""


@pytest.mark.parametrize("workers", ["2", "1"])
def test_the_dataset_checks_run_in_the_cores_worker_after_the_report(tmp_path: Path, workers: str) -> None:
    """`etl-project run` keeps a core worker process; the dataset checks run Great Expectations there (an import of
    seconds and ~150 MB the CLI process never pays), after theme_report, so the import overlaps the report. Their
    outcome still reaches the run and the alerts: one split only fails `every_split_present` (WARN). With a single
    core process (ETL_CORE_WORKERS=1) there is no worker and the checks run in the CLI process, with the same outcome."""
    raw, warehouse, home = tmp_path / "raw", tmp_path / "warehouse", write_home(tmp_path / "home")
    raw.mkdir()
    (raw / "a.md").write_text(md_transcript("work_0001"))
    env = {**env_for(raw, warehouse, home), "ETL_CORE_WORKERS": workers}
    proc = subprocess.run([sys.executable, "-c", CHECKS_ELSEWHERE], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert f"great_expectations imported by the CLI process: {workers == '1'}" in proc.stdout
    order = [line.split()[1] for line in proc.stderr.splitlines() if line.lstrip().startswith("[")]
    assert order.index("theme_report") < order.index("transcripts_expectations") and order.index("theme_report") < order.index("turns_expectations")
    alerts = [json.loads(line) for line in (warehouse / "_alerts" / "alerts.jsonl").read_text().splitlines()]
    assert "every_split_present" in [a["details"]["check"] for a in alerts if a["kind"] == "check_failed"]


BLOCKING_RUN = """
import signal, sys, time
from pathlib import Path
signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a terminal, whatever the parent ignores
from etl_project.lib import commit
real = commit.Commit.commit
def hang_before_commit(self):
    Path(sys.argv[1]).write_text("blocked")  # every file of the batch is staged: the run hangs until Ctrl-C
    time.sleep(300)
    return real(self)
commit.Commit.commit = hang_before_commit
from etl_project.cli import main
sys.exit(main(["run"]))
"""


def test_ctrl_c_exits_130_publishes_nothing_and_the_next_run_finishes_the_batch(ran: dict, tmp_path: Path) -> None:
    import dagster as dg

    from etl_project.lib.batches import unfinished
    from etl_project.lib.warehouse import Warehouse

    raw, warehouse = tmp_path / "raw", tmp_path / "warehouse"
    shutil.copytree(ran["raw"], raw)  # copy2 keeps mtimes: the copied files are not pending
    shutil.copytree(ran["warehouse"], warehouse, symlinks=True)
    tables = lambda: {k: v for k, v in fingerprint(warehouse).items() if not k.startswith("_batches")}  # noqa: E731
    before = tables()
    (raw / "creativity_0002.md").write_text(md_transcript("creativity_0002"))
    (raw / "c.md").write_text("no id either")
    home, marker = write_home(tmp_path / "home"), tmp_path / "blocked"
    proc = subprocess.Popen(
        [sys.executable, "-c", BLOCKING_RUN, str(marker)],
        env=env_for(raw, warehouse, home), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.monotonic() + 180
        while not marker.exists():
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the run never staged its batch"
            time.sleep(0.1)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, stdout + stderr
    assert "interrupted; the warehouse keeps its previous state" in stderr
    assert "Traceback" not in stderr and "DagsterExecutionInterruptedError" not in stderr
    assert tables() == before  # nothing of the batch was published: no file was touched
    assert not any((warehouse / "_staging").iterdir())
    (key,) = unfinished(Warehouse(warehouse))  # the claim stays: the batch is unfinished, not lost
    instance = dg.DagsterInstance.from_config(str(home))
    try:
        (record,) = instance.get_run_records(limit=1)
        assert record.dagster_run.status.value in {"FAILURE", "CANCELED"}
    finally:
        instance.dispose()
    again = run_cli(raw, warehouse, home, "run", "--no-progress")  # a plain run, no key to know
    assert again.returncode == 0, again.stderr[-3000:]
    assert f"batches               1 ({key})" in again.stdout
    assert "transcripts written   1 this run; 2 in the warehouse" in again.stdout
    assert unfinished(Warehouse(warehouse)) == []


# ------------------------------------------------------------------ status


def test_status_reads_counts_from_the_files_and_the_last_run(ran: dict) -> None:
    proc = run_cli(ran["raw"], ran["warehouse"], ran["home"], "status")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert str(ran["warehouse"]) in out
    transcripts = next(line for line in out.splitlines() if line.strip().startswith("transcripts"))
    assert transcripts.split()[1:3] == ["1", "1"]  # workforce, total
    assert "quarantine  1 input(s)" in out
    assert "last run    SUCCESS" in out and "warehouse_job" in out
    assert "none waiting" in out


def test_status_json(ran: dict) -> None:
    proc = run_cli(ran["raw"], ran["warehouse"], ran["home"], "status", "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["tables"]["transcripts"]["rows_by_split"] == {"workforce": 1}
    assert report["tables"]["turns"]["rows"] == 4
    assert report["tables"]["theme_flags"]["rows"] == 1
    assert report["quarantine_rows"] == report["tables"]["quarantine"]["rows"] == 1
    assert report["batches"] == 1 and report["pending_files"] == 0 and report["raw_files"] == 2
    assert report["last_run"]["status"] == "SUCCESS" and report["last_run"]["seconds"] > 0
    assert report["last_run"]["batch"] == report["last_batch"]


def test_status_of_an_empty_warehouse_without_instance(tmp_path: Path) -> None:
    proc = run_cli(tmp_path / "raw", tmp_path / "warehouse", tmp_path / "no_home", "status")
    assert proc.returncode == 0, proc.stderr
    assert "no tables yet" in proc.stdout
    assert "last run    none recorded" in proc.stdout
    assert "does not exist" in proc.stdout  # the raw folder
    assert not (tmp_path / "warehouse").exists() and not (tmp_path / "no_home").exists()  # status writes nothing


# ------------------------------------------------------------------ quarantine


def test_quarantine_lists_the_rejected_inputs(ran: dict) -> None:
    proc = run_cli(ran["raw"], ran["warehouse"], ran["home"], "quarantine")
    assert proc.returncode == 0, proc.stderr
    header, row = proc.stdout.splitlines()[1:3]
    assert header.split()[:4] == ["source_file", "record", "id", "detected_at"] and header.rstrip().endswith("reason")
    assert row.startswith("b.md") and "no transcript id" in row


def test_quarantine_json_and_limit(ran: dict) -> None:
    proc = run_cli(ran["raw"], ran["warehouse"], ran["home"], "quarantine", "--json")
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    assert len(rows) == 1
    assert set(rows[0]) == {"source_file", "source_record", "transcript_id", "reason", "detected_at"}
    assert rows[0]["source_file"] == "b.md" and rows[0]["transcript_id"] is None
    assert rows[0]["detected_at"].endswith("+00:00")
    none = run_cli(ran["raw"], ran["warehouse"], ran["home"], "quarantine", "--json", "--limit", "0")
    assert json.loads(none.stdout) == rows  # 0 = all
    bad = run_cli(ran["raw"], ran["warehouse"], ran["home"], "quarantine", "--limit", "-1")
    assert bad.returncode == 2 and "--limit" in bad.stderr


def test_quarantine_limit_cuts_the_listing(tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse"
    (warehouse / "quarantine").mkdir(parents=True)
    from etl_project.lib.warehouse import to_arrow
    import datetime as dt
    import pyarrow.parquet as pq

    now = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)
    frame = pl.DataFrame(
        {
            "source_file": [f"f{i}.md" for i in range(3)], "source_record": ["", "row 2", "line 3"],
            "transcript_id": [None, "work_1", "x"], "reason": ["r0", "r1", "r2"],
            "source_sha256": [None, "0" * 64, "1" * 64], "detected_at": [now] * 3,
        },
        schema_overrides={"detected_at": pl.Datetime("us", "UTC")},
    )
    pq.write_table(to_arrow(frame, "quarantine"), warehouse / "quarantine" / "part-0.parquet")
    proc = run_cli(tmp_path / "raw", warehouse, tmp_path / "home", "quarantine", "--limit", "2")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert "3 quarantined input(s)" in lines[0] and "showing 2" in lines[0]
    assert len(lines) == 2 + 2 and lines[3].split()[:3] == ["f1.md", "row", "2"]
    assert "2026-01-02 03:04:05" in lines[2]


def test_quarantine_of_an_empty_warehouse(tmp_path: Path) -> None:
    text = run_cli(tmp_path / "raw", tmp_path / "warehouse", tmp_path / "home", "quarantine")
    assert text.returncode == 0 and "the quarantine is empty" in text.stdout
    as_json = run_cli(tmp_path / "raw", tmp_path / "warehouse", tmp_path / "home", "quarantine", "--json")
    assert as_json.returncode == 0 and json.loads(as_json.stdout) == []


# ------------------------------------------------------------------ in-process helpers


def test_default_folders_are_under_the_project_root(monkeypatch: pytest.MonkeyPatch) -> None:
    from etl_project.definitions import PROJECT_ROOT

    assert cli.PROJECT_ROOT == PROJECT_ROOT
    monkeypatch.delenv("ETL_WAREHOUSE_DIR", raising=False)
    monkeypatch.delenv("ETL_RAW_DIR", raising=False)
    assert cli.warehouse_root() == PROJECT_ROOT / "data" / "warehouse"
    assert cli.raw_root() == PROJECT_ROOT / "data" / "raw"
    monkeypatch.setenv("ETL_WAREHOUSE_DIR", "/somewhere/else")
    assert cli.warehouse_root() == Path("/somewhere/else")


def test_help_lists_the_commands_and_exit_codes() -> None:
    proc = subprocess.run([CLI, "--help"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0
    for word in ("run", "status", "quarantine", "130"):
        assert word in proc.stdout
    assert subprocess.run([CLI, "bogus"], capture_output=True, text=True, timeout=60).returncode == 2


HANG_WHILE_STAGING = """
import signal, sys, time
from pathlib import Path
signal.signal(signal.SIGINT, signal.default_int_handler)
from etl_project.lib import pipeline
real = pipeline._staged_audits
def hang(*args, **kwargs):  # every file staged, nothing locked or published yet
    Path(sys.argv[1]).write_text("staged")
    time.sleep(300)
    return real(*args, **kwargs)
pipeline._staged_audits = hang
from etl_project.cli import main
sys.exit(main(["run", "--no-progress"]))
"""


def test_an_interrupted_run_never_undoes_another_runs_published_work(tmp_path: Path) -> None:
    from etl_project.lib.batches import batch_lock, published, unfinished
    from etl_project.lib.warehouse import Warehouse

    warehouse, home = tmp_path / "warehouse", write_home(tmp_path / "home")
    raw_a, raw_b = tmp_path / "raw_a", tmp_path / "raw_b"
    for raw, ids in ((raw_a, ["work_0001", "work_0002"]), (raw_b, ["science_0001", "science_0002"])):
        raw.mkdir()
        for tid in ids:
            (raw / f"{tid}.md").write_text(md_transcript(tid))
    marker = tmp_path / "staged"
    a = subprocess.Popen([sys.executable, "-c", HANG_WHILE_STAGING, str(marker)], env=env_for(raw_a, warehouse, home),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 180
        while not marker.exists():
            assert a.poll() is None, a.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.1)
        b = run_cli(raw_b, warehouse, write_home(tmp_path / "home_b"), "run", "--no-progress")  # B runs and finishes meanwhile
        assert b.returncode == 0, b.stderr[-2000:]
        (key_a,) = unfinished(Warehouse(warehouse))
        assert Warehouse(warehouse).lock_holder(batch_lock(key_a))["pid"] == a.pid  # the lock names its holder
        again = run_cli(raw_a, warehouse, write_home(tmp_path / "home_c"), "run", "--batch", key_a)
        assert again.returncode == 2 and f"pid {a.pid}" in again.stderr  # never two runs on one batch
        a.send_signal(signal.SIGINT)
        a.communicate(timeout=120)
    finally:
        if a.poll() is None:
            a.kill()
    assert a.returncode == 130
    landed = sorted(Warehouse(warehouse).read("transcripts")["transcript_id"])
    assert landed == ["science_0001", "science_0002"]  # B's rows stay; nothing of A's was published
    assert len(published(Warehouse(warehouse))) == 1 and unfinished(Warehouse(warehouse)) == [key_a]
    assert not list(warehouse.glob("_snapshot*"))

"""Hostile inputs beside good transcripts, through the whole core (issue 14).

Each case ran the old code into a traceback or cost good transcripts. Here the core
(``run_core``) must finish, land every good transcript, and quarantine each bad input
with its reason and, for a row, its row number.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from etl_project.lib.pipeline import run_core
from etl_project.lib.readers import discover_folder
from etl_project_tests.conftest import SIMPLE_DIALOG, md_transcript
from etl_project_tests.test_readers import _deny

CSV_TEXT = "AI: q?\n\nUser: a."


def transcripts(warehouse: Path) -> pl.DataFrame:
    return pl.read_parquet(warehouse / "transcripts" / "**" / "*.parquet", hive_partitioning=True)


def quarantine(warehouse: Path) -> dict[tuple[str, str], str]:
    frame = pl.read_parquet(warehouse / "quarantine" / "part-0.parquet")
    return {(r["source_file"], r["source_record"]): r["reason"] for r in frame.iter_rows(named=True)}


def csv_lines(ids: list[str]) -> list[str]:
    quoted = CSV_TEXT.replace('"', '""')
    return ["transcript_id,text", *(f'{i},"{quoted}"' for i in ids)]


@pytest.fixture
def hostile_raw(raw_dir: Path, monkeypatch: pytest.MonkeyPatch):
    """Good transcripts in every layout, and beside them one of each hostile input."""
    good: set[str] = set()

    def md(name: str, transcript_id: str) -> None:
        (raw_dir / name).parent.mkdir(parents=True, exist_ok=True)
        (raw_dir / name).write_text(md_transcript(transcript_id))
        good.add(transcript_id)

    md("a/good.md", "work_0001")
    md("work_0002.md", "work_0002")
    # a symlink loop (the old code: RuntimeError from resolve())
    os.symlink(raw_dir / "loop_b.md", raw_dir / "loop_a.md")
    os.symlink(raw_dir / "loop_a.md", raw_dir / "loop_b.md")
    # names that are not valid UTF-8 (the old code: UnicodeEncodeError); the good one is read by its bytes
    with open(os.fsencode(raw_dir) + b"/caf\xe9.md", "wb") as fh:
        fh.write(md_transcript("work_0003").encode())
    good.add("work_0003")
    with open(os.fsencode(raw_dir) + b"/caf\xe9.pdf", "wb") as fh:
        fh.write(b"%PDF-1.4")
    # a file that cannot be read (mode 000), a folder that cannot be listed
    (raw_dir / "locked.md").write_text(md_transcript("work_0004"))
    _deny(monkeypatch, raw_dir / "locked.md")
    (raw_dir / "closed").mkdir()
    (raw_dir / "closed" / "hidden_from_us.md").write_text(md_transcript("work_0005"))
    _deny(monkeypatch, raw_dir / "closed", listing=True)
    # a warehouse and a Dagster home inside the raw folder: never input
    (raw_dir / "warehouse" / "_locks").mkdir(parents=True)
    (raw_dir / "warehouse" / "transcripts" / "split=workforce").mkdir(parents=True)
    pq.write_table(pa.table({"transcript_id": ["work_0666"], "text": [SIMPLE_DIALOG]}), raw_dir / "warehouse" / "transcripts" / "split=workforce" / "part-b00000.parquet")
    (raw_dir / "dagster_home" / "history").mkdir(parents=True)
    (raw_dir / "dagster_home" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    (raw_dir / "dagster_home" / "history" / "work_0667.md").write_text(md_transcript("work_0667"))
    # CSV: an unterminated quote near the end, a NUL byte in one row of 1,000, a header naming a column twice
    ids = [f"work_1{i:04d}" for i in range(1, 11)]
    lines = csv_lines(ids)
    lines[9] = 'work_10009,"AI: q?\n\nUser: the file was cut he'  # row 9 (line 26) never closes its quote
    (raw_dir / "cut.csv").write_text("\n".join(lines[:10]))
    good.update(ids[:8])
    ids = [f"work_2{i:04d}" for i in range(1, 1001)]
    lines = csv_lines(ids)
    lines[700] = lines[700].replace("q?", "q\x00?")
    (raw_dir / "nul.csv").write_text("\n".join(lines) + "\n")
    good.update(ids[:699] + ids[700:])
    (raw_dir / "twice.csv").write_text(f'transcript_id,Transcript_ID,text\nwork_0010,work_0011,"{CSV_TEXT}"\n')
    # JSONL: U+2028 / U+0085 inside a string, then a line nested 100,000 deep (the old code: RecursionError)
    (raw_dir / "export.jsonl").write_text(
        "\n".join(
            [
                json.dumps({"transcript_id": "work_0012", "text": "AI: a\u2028b?\n\nUser: c\u0085d."}, ensure_ascii=False),
                '{"transcript_id": "work_0013", "text": ' + "[" * 100_000 + "]" * 100_000 + "}",
                json.dumps({"transcript_id": "work_0014", "text": SIMPLE_DIALOG}),
            ]
        ),
        encoding="utf-8",
    )
    good.update({"work_0012", "work_0014"})
    # Parquet: a repeated id column, an id column of numbers
    twice = pa.Table.from_arrays([pa.array(["work_0015"]), pa.array(["work_0016"]), pa.array([SIMPLE_DIALOG])], names=["transcript_id", "TRANSCRIPT_ID", "text"])
    pq.write_table(twice, raw_dir / "twice.parquet")
    pq.write_table(pa.table({"transcript_id": [17], "text": [SIMPLE_DIALOG]}), raw_dir / "numbers.parquet")
    # hidden files stay ignored
    (raw_dir / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    yield raw_dir, good
    (raw_dir / "locked.md").chmod(0o644)
    (raw_dir / "closed").chmod(0o755)


# (source_file, source_record) -> words the quarantine reason must contain
EXPECTED = {
    ("loop_a.md", ""): "cannot be resolved (a loop",
    ("loop_b.md", ""): "cannot be resolved (a loop",
    ("caf\\xe9.pdf", ""): "unsupported file type",
    ("locked.md", ""): "could not read the file (permission denied)",
    ("closed", ""): "could not list this folder (permission denied)",
    ("cut.csv", "row 9"): "a quoted field opened in line 26 is never closed",
    ("nul.csv", "row 700"): "a NUL byte in this record",
    ("twice.csv", ""): "2 columns named 'transcript_id'",
    ("export.jsonl", "line 2"): "line 2 is nested too deeply",
    ("twice.parquet", ""): "2 columns named 'transcript_id'",
    ("numbers.parquet", ""): "Parquet column 'transcript_id' holds int64, not text",
}


def test_hostile_inputs_beside_good_ones_through_the_core(hostile_raw, warehouse_dir: Path) -> None:
    raw, good = hostile_raw
    run_core(raw, warehouse_dir, workers=1)  # no exception
    landed = transcripts(warehouse_dir)
    assert set(landed["transcript_id"]) == good  # every good one, and nothing from the warehouse or Dagster home
    by_id = {r["transcript_id"]: r for r in landed.iter_rows(named=True)}
    assert by_id["work_0012"]["text"].startswith("AI: a\u2028b?\n\nUser: c")  # one record, not split as lines (repair may
    # still read U+0085 as the mojibake of '…': that is the repair step's call, not the reader's)
    got = quarantine(warehouse_dir)
    for where, words in EXPECTED.items():
        assert where in got, f"{where} not quarantined; have {sorted(got)}"
        assert words in got[where], (where, got[where])
    assert set(got) == set(EXPECTED)  # nothing else: hidden files ignored, skipped folders are no rejects
    for name, _ in got:
        assert name.isprintable()
        name.encode("utf-8")
    skipped = {s.relative: s.reason for s in discover_folder(raw).skipped}  # what `status` can list
    assert set(skipped) == {"warehouse", "dagster_home"}


def test_one_extra_field_in_row_50000_of_a_100000_row_csv_costs_that_row_only(raw_dir: Path, warehouse_dir: Path) -> None:
    ids = [f"work_{i:06d}" for i in range(1, 100_001)]
    lines = csv_lines(ids)
    lines[50_000] += ",surplus"
    (raw_dir / "release.csv").write_text("\n".join(lines) + "\n")
    run_core(raw_dir, warehouse_dir, workers=1)
    landed = transcripts(warehouse_dir)
    assert landed.height == 99_999
    assert "work_050000" not in set(landed["transcript_id"])
    assert quarantine(warehouse_dir) == {
        ("release.csv", "row 50000"): "row has 3 fields in line 149999; the header has 2 fields (an unquoted ',' in the text?)"
    }


def test_hostile_inputs_through_etl_project_run_and_status(hostile_raw, warehouse_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    """The same folder through the command users run (in this process, so the permission stand-ins of a
    root test run hold): exit 0, every good transcript, every reject with its reason; `status` answers."""
    from etl_project import cli

    raw, good = hostile_raw
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    for name, value in {"ETL_RAW_DIR": str(raw), "ETL_WAREHOUSE_DIR": str(warehouse_dir), "DAGSTER_HOME": str(home), "ETL_CORE_WORKERS": "1"}.items():
        monkeypatch.setenv(name, value)
    assert cli.main(["run", "--no-progress"]) == cli.EXIT_OK
    assert set(transcripts(warehouse_dir)["transcript_id"]) == good
    got = quarantine(warehouse_dir)
    assert set(got) == set(EXPECTED) and all(words in got[where] for where, words in EXPECTED.items())
    capsys.readouterr()
    assert cli.main(["status"]) == cli.EXIT_OK
    shown = capsys.readouterr().out
    assert f"{len(good)}" in shown and "quarantine  11 input(s)" in shown
    assert "skipped     warehouse:" in shown and "skipped     dagster_home:" in shown  # by design, and said

"""A drop zone full of bad files: every one ends as a quarantine row with a reason; every good one lands."""

from __future__ import annotations

import json
import os
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from etl_project.lib.alerts import read_alerts
from etl_project_tests.conftest import SIMPLE_DIALOG, dialog, materialize_all, md_transcript

GOOD_IDS = {"work_0001", "work_0002", "creativity_0001", "science_0001", "science_0002", "work_0003"}

# file (relative to the raw folder) -> (transcript id or None, words the reason must contain)
EXPECTED = {
    "empty.md": (None, "empty file"),
    "blank.txt": (None, "empty file"),
    "image.md": (None, "binary data"),
    "noise.txt": (None, "binary data"),
    "work_0100.md": ("work_0100", "no speaker turns"),
    "interviewer_only.md": ("work_0101", "no participant turns"),
    "notes.md": (None, "no transcript id"),
    "traversal.md": ("../../etc/passwd", "not a plain identifier"),
    "control.md": ("work_01\x07", "not a plain identifier"),
    "conflict.md": ("work_0001", "different text"),
    "slides.pdf": (None, "unsupported file type"),
    "broken.parquet": (None, "Parquet"),
    "columns.csv": (None, "no 'transcript_id' and 'text'"),
    "huge.md": ("work_0999", "characters, above the limit"),
    "outside.md": (None, "outside the raw folder"),
}


@pytest.fixture
def bad_raw(raw_dir: Path, tmp_path: Path) -> Path:
    """Generated, not committed: the huge file alone is ~30 MB."""
    def w(name: str, text: str) -> None:
        (raw_dir / name).parent.mkdir(parents=True, exist_ok=True)
        (raw_dir / name).write_text(text, encoding="utf-8")

    # good ones, in every layout
    w("a/good1.md", md_transcript("work_0001"))
    w("work_0002.txt", SIMPLE_DIALOG)
    w("good.csv", f'transcript_id,text\ncreativity_0001,"{SIMPLE_DIALOG}"\nwork_0200,""\n')
    (raw_dir / "good.jsonl").write_text(
        json.dumps({"transcript_id": "science_0001", "text": SIMPLE_DIALOG}) + "\n{broken json\n"
        + json.dumps({"transcript_id": "science_0002", "messages": [{"role": "assistant", "content": "Hi?"}, {"role": "user", "content": "Hello."}]}) + "\n"
    )
    pq.write_table(pa.table({"transcript_id": ["work_0003"], "text": [SIMPLE_DIALOG]}), raw_dir / "good.parquet")
    # bad ones
    w("empty.md", "")
    w("blank.txt", "   \n\t\n")
    (raw_dir / "image.md").write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(512))
    (raw_dir / "noise.txt").write_bytes(bytes(range(1, 32)) * 50)
    w("work_0100.md", "Just some notes about the interview, no dialog at all.")
    w("interviewer_only.md", md_transcript("work_0101", dialog(("AI", "Hello?"), ("AI", "Are you there?"))))
    w("notes.md", SIMPLE_DIALOG)
    w("traversal.md", md_transcript("../../etc/passwd"))
    w("control.md", md_transcript("work_01\x07"))
    w("conflict.md", md_transcript("work_0001", SIMPLE_DIALOG + "\n\nUser: And one more thing."))
    (raw_dir / "slides.pdf").write_bytes(b"%PDF-1.4")
    (raw_dir / "broken.parquet").write_bytes(b"PAR1" + os.urandom(64))
    w("columns.csv", "id,body\nwork_1,hello\n")
    w("huge.md", md_transcript("work_0999", "User: " + "word " * 6_000_000))  # ~30 MB on one line
    (raw_dir / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    (raw_dir / "._good1.md").write_bytes(b"\x00\x05\x16\x07")
    (tmp_path / "secret.md").write_text(md_transcript("work_0666"))
    os.symlink(tmp_path / "secret.md", raw_dir / "outside.md")
    return raw_dir


def test_every_bad_input_is_quarantined_with_its_reason_and_good_ones_land(bad_raw: Path, warehouse_dir: Path) -> None:
    materialize_all(bad_raw, warehouse_dir)
    transcripts = pl.read_parquet(warehouse_dir / "transcripts" / "**" / "*.parquet", hive_partitioning=True)
    assert set(transcripts["transcript_id"]) == GOOD_IDS
    assert "work_0666" not in transcripts["transcript_id"].to_list()  # nothing from outside the raw folder
    quarantine = pl.read_parquet(warehouse_dir / "quarantine" / "part-0.parquet")
    by_file = {(r["source_file"], r["source_record"]): r for r in quarantine.iter_rows(named=True)}
    for name, (transcript_id, words) in EXPECTED.items():
        row = by_file.get((name, ""))
        assert row is not None, f"{name} not quarantined; have {sorted(by_file)}"
        assert words in row["reason"], (name, row["reason"])
        assert row["transcript_id"] == transcript_id, name
    assert "different text; kept the copy from a/good1.md" in by_file[("conflict.md", "")]["reason"]
    assert "empty text" in by_file[("good.csv", "row 2")]["reason"] or "no text" in by_file[("good.csv", "row 2")]["reason"]
    assert "not valid JSON" in by_file[("good.jsonl", "line 2")]["reason"]
    assert not any(name.startswith((".DS_Store", "._")) for name, _ in by_file)
    assert quarantine.height == len(EXPECTED) + 2  # nothing quarantined twice, nothing extra


def test_bad_inputs_raise_one_alert_naming_them(bad_raw: Path, warehouse_dir: Path) -> None:
    materialize_all(bad_raw, warehouse_dir)
    alerts = read_alerts(warehouse_dir / "_alerts" / "alerts.jsonl")
    quarantine_alerts = [a for a in alerts if a["kind"] == "quarantine"]
    assert len(quarantine_alerts) == 1
    assert quarantine_alerts[0]["details"]["new_rows"] == len(EXPECTED) + 2
    # the same bad files again are not news
    materialize_all(bad_raw, warehouse_dir)
    assert [a["kind"] for a in read_alerts(warehouse_dir / "_alerts" / "alerts.jsonl")].count("quarantine") == 1

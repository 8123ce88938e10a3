"""The batched core (`run_core`): any batch size and any number of workers give the same tables
as the one-frame path the Dagster assets take, duplicates across batches included."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import polars as pl
import pytest

from etl_project.lib.pipeline import TABLES, plan_batches, run_core
from etl_project.lib.readers import discover, read_raw_folder
from etl_project.lib.themes import flag_themes
from etl_project.lib.transform import build_tables, deduplicate, identify, quarantine_rows, repair
from etl_project.lib.warehouse import Warehouse
from etl_project_tests.conftest import SAMPLE_RAW, SIMPLE_DIALOG, dialog, md_transcript
from etl_project_tests.test_bad_inputs import bad_raw  # noqa: F401  (a fixture)

NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.timezone.utc)
OTHER_DIALOG = dialog(("Assistant", "What do you use AI for?"), ("User", "Mostly for code review, honestly."))


@pytest.fixture
def messy_raw(bad_raw: Path) -> Path:  # noqa: F811
    """The bad-input drop zone, the shipped sample, and ids repeated across far-apart files."""
    shutil.copytree(SAMPLE_RAW, bad_raw / "sample", ignore=shutil.ignore_patterns("README*"))
    # work_0001 is in a/good1.md; these come later in path order, so they land in later batches
    (bad_raw / "zz").mkdir()
    (bad_raw / "zz" / "same_copy.md").write_text(md_transcript("work_0001"), encoding="utf-8")
    (bad_raw / "zz" / "other_text.md").write_text(md_transcript("work_0001", OTHER_DIALOG), encoding="utf-8")
    # the first copy of work_0500 has no turns (rejected later, in build_tables); the second differs
    (bad_raw / "b_first.md").write_text(md_transcript("work_0500", "no labels here at all"), encoding="utf-8")
    (bad_raw / "zz" / "work_0500_second.md").write_text(md_transcript("work_0500", SIMPLE_DIALOG), encoding="utf-8")
    # same text in two later files of one id that an earlier file holds with other text
    (bad_raw / "c_first.md").write_text(md_transcript("science_0700", OTHER_DIALOG), encoding="utf-8")
    for name in ("y1.md", "y2.md"):
        (bad_raw / "zz" / name).write_text(md_transcript("science_0700", SIMPLE_DIALOG), encoding="utf-8")
    return bad_raw


def tables_of(root: Path) -> dict[str, pl.DataFrame]:
    wh = Warehouse(root)
    out = {}
    for table, spec in TABLES.items():
        frame = wh.read(table)
        out[table] = frame.sort(spec["sort_by"], nulls_last=True) if frame is not None else None
    return out


def one_frame_tables(raw: Path) -> dict[str, pl.DataFrame]:
    """The tables the frame-at-a-time functions make (the Dagster assets' path), without the warehouse."""
    records, _ = read_raw_folder(raw)
    tables = build_tables(deduplicate(repair(identify(records))), ingested_at=NOW)
    return {
        "transcripts": tables.transcripts,
        "turns": tables.turns,
        "theme_flags": flag_themes(tables.turns),
        "quarantine": quarantine_rows(tables.rejected, detected_at=NOW),
    }


def test_batches_keep_path_order_and_cover_every_file(messy_raw: Path) -> None:
    files, _ = discover(messy_raw)
    batches = plan_batches(files, batch_bytes=4096)
    assert len(batches) > 5
    assert [f.relative for b in batches for f in b] == [f.relative for f in files]
    assert all(b for b in batches)


def test_many_batches_and_two_workers_give_the_one_frame_tables(messy_raw: Path, tmp_path: Path) -> None:
    expected = one_frame_tables(messy_raw)
    run = run_core(messy_raw, tmp_path / "many", now=NOW, batch_bytes=64 * 1024, workers=2)
    assert run.batches > 5 and run.workers == 2
    assert run.batches_redone >= 2  # the repeated ids sit in different batches: those were done again
    got = tables_of(tmp_path / "many")
    for table, spec in TABLES.items():
        want = expected[table].select(got[table].columns).sort(spec["sort_by"], nulls_last=True)
        assert got[table].equals(want), table
    # the cross-batch cases came out as the one-frame rule says
    q = got["quarantine"]
    reason = dict(zip(q["source_file"], q["reason"]))
    assert "different text" in reason["zz/other_text.md"] and "a/good1.md" in reason["zz/other_text.md"]
    assert "zz/same_copy.md" not in reason  # an identical copy is folded, not quarantined
    # the first copy of work_0500 has no turns: the first *usable* copy wins
    assert "no speaker turns" in reason["b_first.md"] and "zz/work_0500_second.md" not in reason
    assert "different text" in reason["zz/y1.md"] and "different text" in reason["zz/y2.md"]
    t = got["transcripts"]
    assert t.filter(pl.col("transcript_id") == "work_0001")["n_copies"].to_list() == [2]
    assert t.filter(pl.col("transcript_id") == "work_0500")["source_file"].to_list() == ["zz/work_0500_second.md"]


def test_one_batch_in_process_equals_many_batches(messy_raw: Path, tmp_path: Path) -> None:
    one = run_core(messy_raw, tmp_path / "one", now=NOW, batch_bytes=2**40, workers=4)
    assert one.batches == 1 and one.workers == 1 and one.batches_redone == 0
    run_core(messy_raw, tmp_path / "many", now=NOW, batch_bytes=128 * 1024, workers=1)
    a, b = tables_of(tmp_path / "one"), tables_of(tmp_path / "many")
    for table in TABLES:
        assert a[table].equals(b[table]), table
    assert one.published and one.rows_in_table["transcripts"] == a["transcripts"].height


def test_scratch_folder_is_removed_also_when_a_stage_fails(messy_raw: Path, tmp_path: Path, monkeypatch) -> None:
    from etl_project.lib import pipeline

    scratch = tmp_path / "scratch"
    scratch.mkdir()

    def boom(*args, **kwargs):
        raise RuntimeError("flagging broke")

    monkeypatch.setattr(pipeline, "flag_themes", boom)
    with pytest.raises(RuntimeError, match="flagging broke"):
        run_core(messy_raw, tmp_path / "wh", now=NOW, batch_bytes=8192, workers=1, scratch_dir=str(scratch))
    assert list(scratch.iterdir()) == []
    assert not (tmp_path / "wh" / "transcripts").exists()  # nothing published before every batch is done


def test_scratch_left_by_a_killed_run_is_removed_by_the_next(tmp_path: Path) -> None:
    import os

    scratch = tmp_path / "scratch"
    dead = scratch / "etl-core-999999999-abc"  # no such process
    alive = scratch / f"etl-core-{os.getpid()}-def"  # a run of this process, still going
    for folder in (dead, alive):
        (folder / "turns").mkdir(parents=True)
    run_core(SAMPLE_RAW, tmp_path / "wh", now=NOW, scratch_dir=str(scratch))
    assert not dead.exists() and alive.exists()
    assert sorted(p.name for p in scratch.iterdir()) == [alive.name]  # and the run's own folder is gone


def test_a_file_bigger_than_the_batch_is_split_and_validated_in_slices_with_the_same_tables(messy_raw: Path, tmp_path: Path, monkeypatch) -> None:
    """A release CSV is one file, so one batch however big; its turns are split, validated and spilled a
    slice of about the batch size at a time (memory follows the cap, not the file), with duplicates settled
    for the whole file first: the copies of an id in far-apart slices come out as in one frame."""
    from etl_project.lib import pipeline

    rows = [(f"work_{2000 + i}", dialog(("Assistant", f"Question {i}?"), ("User", f"Answer {i}, at some length. " * 20))) for i in range(120)]
    rows[90] = ("work_2005", rows[5][1])  # the same text as row 5's: folded into it
    rows[110] = ("work_2007", OTHER_DIALOG)  # other text than row 7's: a conflict, quarantined
    rows[60] = ("work_2060", "no speaker labels at all")  # rejected inside its slice
    pl.DataFrame({"transcript_id": [r[0] for r in rows], "text": [r[1] for r in rows]}).write_csv(messy_raw / "release.csv")
    expected = one_frame_tables(messy_raw)
    sliced = []
    real = pipeline.build_tables
    monkeypatch.setattr(pipeline, "build_tables", lambda frame, **kw: sliced.append(frame.height) or real(frame, **kw))
    run_core(messy_raw, tmp_path / "wh", now=NOW, batch_bytes=16 * 1024, workers=1)
    assert max(sliced) < 120 < sum(sliced)  # the CSV's 120 records went through in several slices
    got = tables_of(tmp_path / "wh")
    for table, spec in TABLES.items():
        assert got[table].equals(expected[table].select(got[table].columns).sort(spec["sort_by"], nulls_last=True)), table
    reason = dict(zip(got["quarantine"]["source_record"], got["quarantine"]["reason"]))
    assert "different text" in reason["row 111"] and "no speaker turns" in reason["row 61"]

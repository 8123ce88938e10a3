"""Records to tables: ids checked, duplicates folded or rejected, contract failures quarantined."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from etl_project.lib.readers import RECORD_SCHEMA, records_frame
from etl_project.lib.transform import build_tables, deduplicate, identify, quarantine_rows, repair, schema_failures
from etl_project.schemas import QuarantineModel, TranscriptsModel
from etl_project_tests.conftest import SIMPLE_DIALOG

NOW = dt.datetime(2026, 12, 1, tzinfo=dt.timezone.utc)


def record(transcript_id: str | None, text: str | None = SIMPLE_DIALOG, source_file: str = "a.md", where: str = "", **extra) -> dict:
    row = dict.fromkeys(RECORD_SCHEMA)
    row.update(source_file=source_file, source_format="text", source_record=where, source_sha256="0" * 64, transcript_id=transcript_id, text=text)
    row.update(extra)
    return row


def run(*rows: dict):
    frame = deduplicate(repair(identify(records_frame(list(rows)))))
    return build_tables(frame, ingested_at=NOW)


def reasons(tables) -> dict[str | None, str]:
    return dict(tables.rejected.select("transcript_id", "reject_reason").iter_rows())


@pytest.mark.parametrize(
    ("transcript_id", "expected_split"),
    [("work_0001", "workforce"), ("creativity_12", "creatives"), ("science_123456", "scientists"), ("pilot_7", "unknown")],
)
def test_split_comes_from_the_id_prefix_and_any_number_of_digits(transcript_id: str, expected_split: str) -> None:
    tables = run(record(transcript_id))
    assert tables.transcripts.select("transcript_id", "split").row(0) == (transcript_id, expected_split)


@pytest.mark.parametrize(
    ("transcript_id", "fragment"),
    [
        ("../etc/passwd", "not a plain identifier"),
        ("work/0001", "not a plain identifier"),
        ("work_0001\x00", "not a plain identifier"),
        ("work 1", "not a plain identifier"),
        ("work_12a", "not <prefix>_<digits>"),
    ],
)
def test_unsafe_or_misshapen_ids_are_rejected(transcript_id: str, fragment: str) -> None:
    tables = run(record(transcript_id), record("work_0002", source_file="b.md"))
    assert tables.transcripts.get_column("transcript_id").to_list() == ["work_0002"]
    assert fragment in reasons(tables)[transcript_id]


def test_identical_copies_fold_and_different_copies_are_rejected_naming_the_kept_one() -> None:
    tables = run(
        record("work_1", source_file="a.md"),
        record("work_1", source_file="b.csv", where="row 3"),  # identical: folded
        record("work_1", text=SIMPLE_DIALOG + "\n\nAI: One more?", source_file="c.csv", where="row 1"),
    )
    row = tables.transcripts.row(0, named=True)
    assert (row["source_file"], row["n_copies"]) == ("a.md", 2)
    rejected = tables.rejected.row(0, named=True)
    assert rejected["source_file"] == "c.csv"
    assert "different text; kept the copy from a.md" in rejected["reject_reason"]


def test_copies_that_differ_only_by_mojibake_are_identical() -> None:
    damaged = SIMPLE_DIALOG.replace("I use", "Iâ€™d say I use")
    clean = SIMPLE_DIALOG.replace("I use", "I’d say I use")
    tables = run(record("work_1", text=damaged, source_file="a.md"), record("work_1", text=clean, source_file="b.md"))
    assert tables.rejected.height == 0
    assert tables.transcripts.get_column("n_copies").to_list() == [2]


def test_no_turns_and_no_participant_turns_are_rejected() -> None:
    tables = run(
        record("work_1", text="Just notes, no dialog."),
        record("work_2", text="AI: Hello?\n\nAI: Anyone?"),
        record("work_3"),
    )
    assert tables.transcripts.get_column("transcript_id").to_list() == ["work_3"]
    assert "no speaker turns" in reasons(tables)["work_1"]
    assert "no participant turns" in reasons(tables)["work_2"]
    assert set(tables.turns.get_column("transcript_id")) == {"work_3"}


def test_contract_failure_quarantines_that_transcript_only() -> None:
    tables = run(record("work_1", dialog_number=-5), record("work_2", source_file="b.md"))
    assert tables.transcripts.get_column("transcript_id").to_list() == ["work_2"]
    assert "failed the transcripts contract: column 'dialog_number'" in reasons(tables)["work_1"]
    assert set(tables.turns.get_column("transcript_id")) == {"work_2"}


def test_schema_failures_maps_failure_cases_to_ids() -> None:
    good = run(record("work_1"), record("work_2", source_file="b.md")).transcripts
    bad = good.with_columns(pl.when(pl.col("transcript_id") == "work_2").then(-1).otherwise(pl.col("n_repairs")).cast(pl.Int32).alias("n_repairs"))
    failures = schema_failures(TranscriptsModel, bad)
    assert failures.get_column("transcript_id").to_list() == ["work_2"]
    assert "n_repairs" in failures.get_column("reason")[0]
    assert schema_failures(TranscriptsModel, good).height == 0


def test_counts_per_transcript() -> None:
    row = run(record("work_1")).transcripts.row(0, named=True)
    assert (row["n_turns"], row["n_participant_turns"]) == (4, 2)
    assert row["n_participant_words"] == len("I use it to draft emails, and I always double check what it gives me.".split()) + len(
        "Anything with clients. I like to handle that myself.".split()
    )
    TranscriptsModel.validate(run(record("work_1")).transcripts)


def test_every_rejected_record_reaches_the_quarantine_shape() -> None:
    tables = run(record(None, source_file="x.md"), record("work_1", text="   "), record("work_2", source_file="b.md"))
    rows = quarantine_rows(tables.rejected, detected_at=NOW)
    QuarantineModel.validate(rows)
    assert rows.height == 2
    assert set(rows.get_column("source_file")) == {"x.md", "a.md"}

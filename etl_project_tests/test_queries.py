"""Every query of docs/queries.sql runs on a fresh warehouse built from the shipped sample, with sane answers."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import duckdb
import pytest

from etl_project.schemas import THEME_FLAG_COLUMNS
from etl_project_tests.conftest import PROJECT_ROOT, SAMPLE_RAW, materialize_all

QUERIES_FILE = PROJECT_ROOT / "docs" / "queries.sql"
WAREHOUSE_PREFIX = "'data/warehouse/"
SAMPLE_SPLITS = {"workforce", "creatives", "scientists"}
NAME_LINE = re.compile(r"^-- name: (.*)$", re.M)


def parse_queries(text: str) -> dict[str, tuple[str, str]]:
    """``{name: (what it answers, sql)}`` from ``-- name: <slug>`` blocks."""
    queries: dict[str, tuple[str, str]] = {}
    matches = list(NAME_LINE.finditer(text))
    for match, following in zip(matches, [*matches[1:], None]):
        name = match.group(1).strip()
        body = text[match.end() : following.start() if following else len(text)].strip("\n")
        first, _, sql = body.partition("\n")
        assert name not in queries, f"duplicate query name {name}"
        queries[name] = (first, sql.strip())
    return queries


QUERIES = parse_queries(QUERIES_FILE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped sample plus three bad inputs (the sample itself quarantines nothing)."""
    root = tmp_path_factory.mktemp("queries")
    raw = root / "raw"
    shutil.copytree(SAMPLE_RAW, raw)
    (raw / "bad").mkdir()
    (raw / "bad" / "notes.docx").write_bytes(b"PK\x03\x04")
    (raw / "bad" / "export.jsonl").write_text("{oops\n")
    (raw / "bad" / "release.csv").write_text('transcript_id,text\nwork_9001,""\n')
    materialize_all(raw, root / "warehouse")
    return root / "warehouse"


def run(name: str, warehouse: Path) -> list[dict]:
    sql = QUERIES[name][1]
    assert WAREHOUSE_PREFIX in sql, f"{name}: reads no warehouse table through a project-relative path"
    relation = duckdb.sql(sql.replace(WAREHOUSE_PREFIX, f"'{warehouse.as_posix()}/"))
    return [dict(zip(relation.columns, row)) for row in relation.fetchall()]


def test_the_file_is_well_formed() -> None:
    assert len(QUERIES) >= 8
    for name, (what, sql) in QUERIES.items():
        assert re.fullmatch(r"[a-z][a-z0-9_]*", name), f"{name!r} is not a slug"
        assert what.startswith("-- ") and len(what) > 15, f"{name}: needs a one-line comment saying what it answers"
        assert sql.rstrip().endswith(";") and sql.count(";") == 1, f"{name}: one statement ending in ';'"
        assert "/tmp" not in sql and "/work" not in sql, f"{name}: paths must be relative to the project root"
    required = {
        "theme_prevalence_by_split", "verify_and_reliability_by_split", "longest_participant_answers",
        "transcripts_with_repairs", "quarantine_by_reason",
    }
    assert required <= set(QUERIES)


@pytest.mark.parametrize("name", list(QUERIES))
def test_every_query_returns_rows(warehouse: Path, name: str) -> None:
    rows = run(name, warehouse)
    assert rows, f"{name} returned no rows"
    assert all(value is not None for row in rows for key, value in row.items() if not key.startswith("example")), name


def test_theme_prevalence_covers_every_flag_in_every_split(warehouse: Path) -> None:
    rows = run("theme_prevalence_by_split", warehouse)
    assert {r["split"] for r in rows} == SAMPLE_SPLITS
    assert {(r["split"], r["flag"]) for r in rows} == {(s, f) for s in SAMPLE_SPLITS for f in THEME_FLAG_COLUMNS}
    for r in rows:
        assert 0 <= r["share"] <= 1
        assert r["transcripts_with_flag"] <= r["transcripts"]
        assert r["share"] == pytest.approx(r["transcripts_with_flag"] / r["transcripts"], abs=0.001)
    assert any(r["share"] > 0 for r in rows)


def test_verify_and_reliability_shares_are_consistent(warehouse: Path) -> None:
    rows = run("verify_and_reliability_by_split", warehouse)
    assert {r["split"] for r in rows} == SAMPLE_SPLITS
    for r in rows:
        for share in ("share_both", "share_verify", "share_concern", "share_verify_given_concern"):
            assert 0 <= r[share] <= 1, (r["split"], share)
        assert r["share_both"] <= min(r["share_verify"], r["share_concern"]) + 1e-9
        assert r["verify_and_concern"] <= r["participants"]
    overview = run("corpus_overview_by_split", warehouse)
    assert {r["split"]: r["participants"] for r in rows} == {r["split"]: r["transcripts"] for r in overview}


def test_longest_answers_are_participant_turns_longest_first(warehouse: Path) -> None:
    rows = run("longest_participant_answers", warehouse)
    assert len(rows) == 10
    words = [r["n_words"] for r in rows]
    assert words == sorted(words, reverse=True) and words[-1] > 100
    assert all(r["turn_index"] % 2 == 1 for r in rows)  # interviews open with the interviewer, then alternate
    assert all(r["opening"] and "\n" not in r["opening"] for r in rows)


def test_repaired_transcripts_are_the_mojibake_seeds(warehouse: Path) -> None:
    rows = run("transcripts_with_repairs", warehouse)
    assert len(rows) >= 5 and all(r["n_repairs"] > 0 for r in rows)
    assert all(r["source_file"].startswith("seeds/") for r in rows)


def test_quarantine_by_reason_counts_every_rejected_input(warehouse: Path) -> None:
    rows = run("quarantine_by_reason", warehouse)
    assert sum(r["inputs"] for r in rows) == 3
    assert {r["example_file"] for r in rows} == {"bad/notes.docx", "bad/export.jsonl", "bad/release.csv"}
    assert all(not any(ch.isdigit() for ch in r["reason_kind"]) for r in rows)


def test_evidence_quotes_are_for_the_asked_flag(warehouse: Path) -> None:
    rows = run("evidence_for_flag", warehouse)
    assert 0 < len(rows) <= 20
    assert all(r["quote"].strip() and r["turn_index"] >= 0 for r in rows)
    turns = duckdb.sql(
        f"select transcript_id, turn_index, speaker, text from read_parquet('{warehouse}/turns/**/*.parquet', hive_partitioning = true)"
    ).fetchall()
    by_key = {(t, i): (speaker, text) for t, i, speaker, text in turns}
    for r in rows:
        speaker, text = by_key[(r["transcript_id"], r["turn_index"])]
        assert speaker == "participant" and r["quote"] in text


def test_words_per_turn_has_both_speakers_in_every_split(warehouse: Path) -> None:
    rows = run("words_per_turn_by_speaker", warehouse)
    assert {(r["split"], r["speaker"]) for r in rows} == {(s, sp) for s in SAMPLE_SPLITS for sp in ("interviewer", "participant")}
    assert all(0 < r["avg_words"] <= r["max_words"] and r["median_words"] <= r["max_words"] for r in rows)


def test_corpus_overview_matches_the_turns_table(warehouse: Path) -> None:
    rows = run("corpus_overview_by_split", warehouse)
    assert {r["split"] for r in rows} == SAMPLE_SPLITS
    turns = dict(duckdb.sql(
        f"select split, count(*) from read_parquet('{warehouse}/turns/**/*.parquet', hive_partitioning = true) group by split"
    ).fetchall())
    assert {r["split"]: r["turns"] for r in rows} == turns
    assert sum(r["transcripts_repaired"] for r in rows) >= 5

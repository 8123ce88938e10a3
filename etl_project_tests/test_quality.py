"""Great Expectations suites, blocking on the batch, alerts for failures, none for a clean batch."""

from __future__ import annotations

import http.server
import json
import threading
from pathlib import Path

import polars as pl
import pytest

from etl_project.lib.alerts import read_alerts
from etl_project.lib.expectations import TRANSCRIPTS_SUITE, TURNS_SUITE, transcript_measures, turn_measures, validate
from etl_project_tests.conftest import SIMPLE_DIALOG, dialog, materialize_all, md_transcript


def transcripts_frame(texts: list[str], splits: list[str] | None = None, n_turns: int = 20) -> pl.DataFrame:
    n = len(texts)
    return pl.DataFrame(
        {
            "transcript_id": [f"work_{i}" for i in range(n)],
            "split": splits or ["workforce"] * n,
            "n_turns": [n_turns] * n,
            "n_words": [100] * n,
            "n_participant_words": [50] * n,
            "text": texts,
        },
        schema_overrides={"n_turns": pl.Int32, "n_words": pl.Int32, "n_participant_words": pl.Int32},
    )


def outcome(outcomes, name):
    return next(o for o in outcomes if o.name == name)


@pytest.mark.parametrize(
    ("text", "passes"),
    [("clean – text, café, SÃO PAULO", True), ("donâ€™t", False), ("cafÃ©", False), ("lost \ufffd char", False), ("Â£5", False)],
)
def test_mojibake_left_after_repair_fails_the_batch(text: str, passes: bool) -> None:
    frame = transcripts_frame(["clean"] * 10 + [text] * 2)
    assert outcome(validate(transcript_measures(frame), TRANSCRIPTS_SUITE), "no_mojibake_left").success is passes


def test_duplicate_ids_fail_and_observed_counts_are_reported() -> None:
    frame = transcripts_frame(["a", "b"]).with_columns(pl.lit("work_1").alias("transcript_id"))
    result = outcome(validate(transcript_measures(frame), TRANSCRIPTS_SUITE), "ids_unique")
    assert not result.success and result.observed["unexpected_count"] == 2


def test_dataset_suite_turn_range_word_share_and_splits() -> None:
    good = transcripts_frame(["x"] * 3, splits=["workforce", "creatives", "scientists"])
    assert all(o.success for o in validate(transcript_measures(good), TRANSCRIPTS_SUITE))
    one_split = transcripts_frame(["x"] * 3)
    assert not outcome(validate(transcript_measures(one_split), TRANSCRIPTS_SUITE), "every_split_present").success
    too_many_turns = transcripts_frame(["x"] * 3, splits=["workforce", "creatives", "scientists"], n_turns=500)
    assert not outcome(validate(transcript_measures(too_many_turns), TRANSCRIPTS_SUITE), "turns_in_range").success
    silent = good.with_columns(pl.lit(0, dtype=pl.Int32).alias("n_participant_words"))
    assert not outcome(validate(transcript_measures(silent), TRANSCRIPTS_SUITE), "participant_share_of_words").success


def test_empty_turn_share() -> None:
    turns = pl.DataFrame({"transcript_id": ["w"] * 10, "speaker": ["participant"] * 10, "n_words": [0, 0] + [5] * 8})
    assert not validate(turn_measures(turns), TURNS_SUITE)[0].success
    assert validate(turn_measures(turns.with_columns(pl.lit(5).alias("n_words"))), TURNS_SUITE)[0].success


def write_clean_batch(raw: Path) -> None:
    for i, split in enumerate(["work", "creativity", "science"]):
        (raw / f"{split}_{i:04d}.md").write_text(md_transcript(f"{split}_{i:04d}", SIMPLE_DIALOG * 3))


def test_clean_batch_raises_no_alert(raw_dir: Path, warehouse_dir: Path) -> None:
    write_clean_batch(raw_dir)
    result = materialize_all(raw_dir, warehouse_dir)
    assert all(e.passed for e in result.get_asset_check_evaluations())
    assert read_alerts(warehouse_dir / "_alerts" / "alerts.jsonl") == []


def test_malformed_file_raises_an_alert(raw_dir: Path, warehouse_dir: Path) -> None:
    write_clean_batch(raw_dir)
    (raw_dir / "broken.md").write_bytes(b"\x00\x01\x02 not a transcript")
    materialize_all(raw_dir, warehouse_dir)
    alerts = read_alerts(warehouse_dir / "_alerts" / "alerts.jsonl")
    assert [a["kind"] for a in alerts] == ["quarantine"]
    assert "broken.md" in alerts[0]["summary"] and "binary" in alerts[0]["summary"]


def test_error_check_blocks_what_depends_on_transcripts_and_alerts(raw_dir: Path, warehouse_dir: Path) -> None:
    import dagster as dg

    @dg.asset(deps=["transcripts"])
    def report_on_transcripts() -> None:
        """Stands for any downstream consumer, e.g. a prevalence report."""

    # U+FFFD is what is left where bytes were lost: repair cannot bring them back.
    for i in range(3):
        (raw_dir / f"work_{i:04d}.md").write_text(md_transcript(f"work_{i:04d}", dialog(("AI", "Hi?"), ("User", "I lost \ufffd\ufffd this"))))
    (raw_dir / "junk.md").write_text("no id, no turns")
    result = materialize_all(raw_dir, warehouse_dir, expect_success=False, extra_assets=[report_on_transcripts])
    failed = {(e.check_name, e.severity.value) for e in result.get_asset_check_evaluations() if not e.passed}
    assert ("no_mojibake_left", "ERROR") in failed
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert "report_on_transcripts" not in materialized  # blocked by the ERROR check
    assert {"transcripts", "quarantine"} <= materialized  # rows passed their contract; rejects are recorded
    kinds = {a["kind"] for a in read_alerts(warehouse_dir / "_alerts" / "alerts.jsonl")}
    assert kinds == {"check_failed", "quarantine"}


def test_alerts_are_posted_to_a_webhook(raw_dir: Path, warehouse_dir: Path) -> None:
    received: list[dict] = []

    class Hook(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        write_clean_batch(raw_dir)
        (raw_dir / "notes.md").write_text("no id here")
        materialize_all(raw_dir, warehouse_dir, webhook_url=f"http://127.0.0.1:{server.server_port}/hook")
    finally:
        server.shutdown()
    assert len(received) == 1
    assert received[0]["text"].startswith("[etl_project WARN] 1 new input(s) quarantined")
    assert read_alerts(warehouse_dir / "_alerts" / "alerts.jsonl")[0]["webhook"] == "sent (200)"

"""Quality: blocking checks on the staged batch (nothing published when one fails), per-transcript
repair residue without false alarms, Great Expectations suites on the published tables, alerts."""

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


def transcripts_frame(residual: list[bool], splits: list[str] | None = None, n_turns: int = 20) -> pl.DataFrame:
    n = len(residual)
    return pl.DataFrame(
        {
            "transcript_id": [f"work_{i}" for i in range(n)],
            "split": splits or ["workforce"] * n,
            "n_turns": [n_turns] * n,
            "n_words": [100] * n,
            "n_participant_words": [50] * n,
            "residual_mojibake": residual,
        },
        schema_overrides={"n_turns": pl.Int32, "n_words": pl.Int32, "n_participant_words": pl.Int32},
    )


def outcome(outcomes, name):
    return next(o for o in outcomes if o.name == name)


@pytest.mark.parametrize(("marked", "passes"), [(0, True), (1, True), (2, False)])
def test_residual_mojibake_share_warns_above_one_percent(marked: int, passes: bool) -> None:
    frame = transcripts_frame([True] * marked + [False] * (100 - marked))
    result = outcome(validate(transcript_measures(frame), TRANSCRIPTS_SUITE), "residual_mojibake_share")
    assert result.success is passes and result.severity == "WARN"


def test_duplicate_ids_in_the_published_table_fail_and_observed_counts_are_reported() -> None:
    frame = transcripts_frame([False, False]).with_columns(pl.lit("work_1").alias("transcript_id"))
    result = outcome(validate(transcript_measures(frame), TRANSCRIPTS_SUITE), "published_ids_unique")
    assert not result.success and result.observed["unexpected_count"] == 2


def test_dataset_suite_turn_range_word_share_and_splits() -> None:
    good = transcripts_frame([False] * 3, splits=["workforce", "creatives", "scientists"])
    assert all(o.success for o in validate(transcript_measures(good), TRANSCRIPTS_SUITE))
    one_split = transcripts_frame([False] * 3)
    assert not outcome(validate(transcript_measures(one_split), TRANSCRIPTS_SUITE), "every_split_present").success
    too_many_turns = transcripts_frame([False] * 3, splits=["workforce", "creatives", "scientists"], n_turns=500)
    assert not outcome(validate(transcript_measures(too_many_turns), TRANSCRIPTS_SUITE), "turns_in_range").success
    silent = good.with_columns(pl.lit(0, dtype=pl.Int32).alias("n_participant_words"))
    assert not outcome(validate(transcript_measures(silent), TRANSCRIPTS_SUITE), "participant_share_of_words").success


# Legitimate text that only looks like mojibake (the kind of case ftfy's own negative tests hold):
# Greek diaeresis quotes, Portuguese acute accents as quotes, leetspeak, line art, math, brand names.
LOOKS_DAMAGED_BUT_IS_NOT = [
    "Η ¨ανατροφή¨ δυστυχώς από τους προπονητές",
    "higher values (“+” and “×” curves) in the superficial region",
    "Bremer/Mccoy – DrÃ¥ber",
    "Con il corpo e lo spirito ammaccato,\u00a0è come se nel cuore avessi un vetro conficcato.",
    "4288×…",
    "``toda produzida pronta pra assa aí´´",
    "RETWEET SE VOCÊ…",
    "Join ZZAJÉ’s Official Fan List and receive news, events, and more!",
    "Ôôô VIDA MINHA",
    "OK??:(   `¬´    ):",
    "∆°",
    "ESSE CARA AI QUEM É¿",
    "Offering 5×£35 pin ups",
    "NESTLÉ® requiere contratar personal",
    "Connect with Āø on Facebook",
    "C O N C L U S Ã O",
    "MÄ£ÄM ÌÑÌ Q £ÄGÌ GÄLÄW ÑÍCH SÖÄ£ ÑÝÄ $ÚÄMÌ Q £ÄGÌ",
    "(-1/2)! = √π",
    "├┤a┼┐a┼┐a┼┐a┼┐a",
]


def test_legitimate_text_that_looks_damaged_is_kept_exactly_and_never_fails_the_batch(raw_dir: Path, warehouse_dir: Path) -> None:
    for i, text in enumerate(LOOKS_DAMAGED_BUT_IS_NOT):
        (raw_dir / f"work_{i:04d}.md").write_text(md_transcript(f"work_{i:04d}", dialog(("AI", "Say it?"), ("User", text))))
    result = materialize_all(raw_dir, warehouse_dir)  # asserts the run succeeded
    audits = {(e.asset_key.to_user_string(), e.check_name): e.passed for e in result.get_asset_check_evaluations()}
    assert audits[("transcripts", "repair_is_stable")] and audits[("transcripts", "ids_unique")]
    turns = pl.read_parquet(warehouse_dir / "turns" / "**" / "*.parquet").filter(pl.col("speaker") == "participant")
    assert sorted(turns["text"]) == sorted(LOOKS_DAMAGED_BUT_IS_NOT)  # not one character changed


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


def test_text_still_damaged_after_repair_is_kept_marked_and_alerted(raw_dir: Path, warehouse_dir: Path) -> None:
    # ftfy decodes "Ã§" but "Â¬" then stays, and its own badness heuristic still fires on "ç¬"
    (raw_dir / "work_0001.md").write_text(md_transcript("work_0001", dialog(("AI", "Hi?"), ("User", "The price was Ã\u00a7Â¬ at best"))))
    write_clean_batch(raw_dir)
    materialize_all(raw_dir, warehouse_dir)
    transcripts = pl.read_parquet(warehouse_dir / "transcripts" / "**" / "*.parquet")
    marked = transcripts.filter(pl.col("residual_mojibake"))["transcript_id"].to_list()
    assert transcripts.height == 4 and marked == ["work_0001"]  # kept, and marked
    alerts = read_alerts(warehouse_dir / "_alerts" / "alerts.jsonl")
    assert any(a["kind"] == "residual_mojibake" and "work_0001" in a["summary"] for a in alerts)


def test_a_failed_blocking_check_publishes_nothing_and_the_next_run_after_the_fix_publishes(
    raw_dir: Path, warehouse_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real job with a broken repair (it does nothing): repair_is_stable fails on the staged rows."""
    import dagster as dg

    from etl_project.lib import transform
    from etl_project.lib.batches import unfinished
    from etl_project.lib.warehouse import Warehouse

    write_clean_batch(raw_dir)
    materialize_all(raw_dir, warehouse_dir)  # a first, healthy batch is published
    before = {p: p.read_bytes() for p in warehouse_dir.glob("*/**/part-*.parquet")}
    for i in range(10, 18):  # damaged transcripts: "don’t" read as Windows-1252
        (raw_dir / f"work_{i:04d}.md").write_text(md_transcript(f"work_{i:04d}", dialog(("AI", "Why?"), ("User", "I donâ€™t trust it"))))
    real = transform.repair_column
    monkeypatch.setattr(transform, "repair_column", lambda frame, column="text", where=None: frame.with_columns(pl.lit(0, dtype=pl.Int32).alias("n_repairs")))
    instance = dg.DagsterInstance.ephemeral()
    failed = materialize_all(raw_dir, warehouse_dir, expect_success=False, instance=instance)
    assert not failed.success
    checks = {e.check_name: e.passed for e in failed.get_asset_check_evaluations()}
    assert checks["repair_is_stable"] is False
    assert not failed.get_asset_materialization_events()  # no table was materialized...
    assert {p: p.read_bytes() for p in warehouse_dir.glob("*/**/part-*.parquet")} == before  # ...or touched
    (key,) = unfinished(Warehouse(warehouse_dir))
    alerts = [a for a in read_alerts(warehouse_dir / "_alerts" / "alerts.jsonl") if a["kind"] == "check_failed"]
    assert alerts and "repair_is_stable" in alerts[-1]["summary"] and key in alerts[-1]["summary"]
    offending = alerts[-1]["details"]["checks"][0]["transcripts"]
    assert set(offending) == {f"work_{i:04d}" for i in range(10, 18)}

    monkeypatch.setattr(transform, "repair_column", real)  # the fix
    from etl_project_tests.conftest import run_batches

    (fixed,) = run_batches(raw_dir, warehouse_dir, [key], instance=instance)
    assert fixed.success and unfinished(Warehouse(warehouse_dir)) == []
    texts = pl.read_parquet(warehouse_dir / "transcripts" / "**" / "*.parquet").filter(pl.col("transcript_id") >= "work_0010")
    assert texts.height == 8 and texts["text"].str.contains("don’t").all()


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

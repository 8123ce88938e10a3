"""Smoke test of ``make bench`` (bench/): a 30-transcript run through the same code path (``make run`` included), no timing assertions."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from bench import generate as gen
from bench import run as bench_run
from etl_project.lib.repair import repair_text

N = 30
SEED = 7
MOJIBAKE_SIGNS = ("â€", "Ã", "Ð", "Î", "ðŸ", "\x80", "\x9d")


def _digest(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def pool() -> gen.Pool:
    return gen.load_pool()


def test_generator_is_deterministic_for_a_seed(tmp_path: Path, pool: gen.Pool) -> None:
    a = gen.generate(N, SEED, target=tmp_path / "a", pool=pool, quiet=True)
    b = gen.generate(N, SEED, target=tmp_path / "b", pool=pool, quiet=True)
    other = gen.generate(N, SEED + 1, target=tmp_path / "c", pool=pool, quiet=True)
    assert _digest(a / "raw") == _digest(b / "raw")
    assert (a / "truth.parquet").read_bytes() == (b / "truth.parquet").read_bytes()
    assert _digest(a / "raw") != _digest(other / "raw")
    info = gen.manifest(a)
    assert info["transcripts"] == N and info["md_files"] + info["csv_files"] == info["files"]
    assert info["md_files"] > 0 and info["csv_files"] > 0
    # cached: asking again reuses the folder (same manifest, not regenerated)
    assert gen.generate(N, SEED, target=tmp_path / "a", pool=pool, quiet=True) == a
    assert gen.manifest(a) == info


def test_damage_is_real_mojibake_that_the_repair_undoes(pool: gen.Pool) -> None:
    transcripts = list(gen.make_transcripts(N, SEED, pool))
    damaged = [t for t in transcripts if t.damage_kind]
    assert {t.damage_kind for t in damaged} == {"cp1252", "double", "latin1"}
    assert any(t.nonlatin for t in damaged)
    assert any(t.crlf for t in transcripts) and any(t.curly for t in transcripts)
    for t in damaged:
        stored = t.stored.replace("\r\n", "\n")
        assert stored != t.clean
        assert any(sign in stored for sign in MOJIBAKE_SIGNS), t.transcript_id
        assert repair_text(stored)[0] == t.clean
    for t in transcripts:
        if not t.damage_kind:
            assert t.stored.replace("\r\n", "\n") == t.clean
    # curly quotes and dashes are legitimate text: the repair keeps them
    curly = next(t for t in transcripts if t.curly and "’" in t.clean)
    assert repair_text(curly.clean)[0] == curly.clean


def test_smoke_run_compares_core_naive_and_make_run_and_writes_results(tmp_path: Path) -> None:
    report = tmp_path / "BENCHMARKS.md"
    report.write_text(f"# Benchmarks\n\nprose kept\n\n{bench_run.MARK_START}\nOLD-GENERATED-BLOCK\n{bench_run.MARK_END}\n\ntail kept\n")
    rc = bench_run.main(
        [
            "--sizes", str(N), "--seed", str(SEED), "--repeats", "1",
            "--skip", "cold",  # the cold-start breakdown would be a second `make run`
            "--naive-full-max", "10", "--naive-every", "3",  # exercise the subsample path too
            "--out", str(tmp_path / "out"), "--report", str(report),
        ]
    )
    assert rc == 0
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert results["ok"] is True
    assert {"date", "cores", "ram_gib", "cpu", "python", "libraries"} <= results["machine"].keys()
    per = results["summary"][str(N)]
    assert {"floor", "core", "naive", "core_sub", "dagster"} <= per.keys()
    for kind in ("floor", "core", "naive", "core_sub", "dagster"):
        assert {"runs", "wall_s", "mb_per_s", "transcripts_per_s", "peak_rss_mb", "input_bytes", "transcripts"} <= per[kind].keys()
        assert per[kind]["peak_rss_mb"] > 0 and per[kind]["runs"] == 1
    core = per["core"]
    assert set(core["stages_s"]) >= {"read", "repair", "flag", "write"}
    assert abs(sum(core["stage_share"].values()) - 1) < 1e-6
    assert "pandera_validate" in core["substages_s"]
    assert per["naive"]["input"].startswith("1 in 3") and per["naive"]["scaled_wall_s"] > 0
    # make run: the real console script, measured like the core (whole process tree), one Dagster run per batch
    make_run = per["dagster"]
    assert make_run["make_run_batches"] == 1 and make_run["transcripts_written"] == N
    assert make_run["workers"] >= 1 and len(make_run["per_run"]) == 1
    assert {"warehouse_tables", "transcripts_expectations"} <= make_run["steps_s"].keys()
    assert make_run["outside_steps_s"] is not None and make_run["process_s"] > 0
    ratios = results["ratios"][str(N)]
    assert {"core_vs_naive_speed", "core_vs_floor_time", "core_vs_naive_speed_same_input"} <= ratios.keys()
    assert {"make_run_vs_core_time", "make_run_vs_core_work_time", "make_run_vs_core_memory", "make_run_vs_naive_speed"} <= ratios.keys()
    assert all(ratios[k] > 0 for k in ("make_run_vs_core_time", "make_run_vs_naive_speed"))
    assert len(results["targets"]) == 12 and all({"target", "value", "met"} <= t.keys() for t in results["targets"])
    # the same transcripts as the release stores them (CSVs only): make run, the core and naive once each, tables compared
    release = results["release_csvs"]
    assert release["n"] == N and release["corpus"]["md_files"] == 0 and release["corpus"]["transcripts"] == N
    assert {"dagster", "core", "naive"} <= release["summary"].keys() and release["make_run_comparison"]["ok"] is True
    assert release["summary"]["dagster"]["transcripts_written"] == N
    assert any(t["target"].startswith(f"make run whole process tree at {N} as release CSVs") for t in results["targets"])
    targets = {t["target"] for t in results["targets"]}
    assert f"make run (etl-project run) on {N} < 15 s" in targets
    assert any(t.startswith("make run within 1.3x of the core") for t in targets)
    same = results["make_run_comparisons"][str(N)]
    assert same["ok"] is True
    assert {"transcripts_equal", "turns_equal", "theme_flags_equal", "quarantine_equal", "transcript_ids_and_texts"} <= same["checks"].keys()
    comparison = results["comparisons"][str(N)]
    assert comparison["ok"] is True
    assert all(c["ok"] for c in comparison["checks"].values())
    assert {"ids", "turn_counts", "core_no_mojibake", "core_text_exact", "turn_texts"} <= comparison["checks"].keys()
    assert comparison["info"]["damaged_transcripts"] > 0 and comparison["info"]["core_repairs"] > 0
    assert comparison["info"]["turns_uncurled_by_naive"] > 0  # the intended difference shows
    text = report.read_text()
    assert text.startswith("# Benchmarks\n\nprose kept") and text.rstrip().endswith("tail kept")
    assert "OLD-GENERATED-BLOCK" not in text and "| core |" in text and "| make run |" in text
    assert f"**{N} as release CSVs**" in text


def test_comparison_fails_loudly_on_a_real_difference(tmp_path: Path, pool: gen.Pool) -> None:
    import polars as pl

    from bench import naive
    from bench.compare import compare
    from etl_project.lib.pipeline import run_core

    corpus = gen.generate(N, SEED, target=tmp_path / "c", pool=pool, quiet=True)
    run_core(corpus / "raw", tmp_path / "core")
    assert naive.main(str(corpus / "raw"), str(tmp_path / "naive")) == 0
    assert compare(tmp_path / "core", tmp_path / "naive", corpus / "truth.parquet").ok
    turns = tmp_path / "naive" / "turns.parquet"
    frame = pl.read_parquet(turns)
    frame.filter(pl.col("turn_index") != 1).with_columns(
        pl.when(pl.col("turn_index") == 2).then(pl.col("text") + " extra").otherwise(pl.col("text")).alias("text")
    ).write_parquet(turns)
    broken = compare(tmp_path / "core", tmp_path / "naive", corpus / "truth.parquet")
    assert not broken.ok
    assert not broken.checks["turn_counts"]["ok"] and not broken.checks["turn_texts"]["ok"]

"""Each transcript is flagged once per method version and content, through `etl-project run`.

A file read again (the release CSV grew, or one interview in it was corrected) holds mostly
interviews whose flags are already published: the core takes those rows and flags only the new and
changed interviews. The reflag side of the cache (switching methods back and forth) is in test_reflag.py.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from etl_project import cli
from etl_project.lib.warehouse import Warehouse
from etl_project_tests.conftest import SAMPLE_RAW, ids_handed_over

APPENDED = "\n\nUser: One more thing: I now check every answer it gives me twice, because it made things up before."


def table(warehouse: Path, name: str) -> pl.DataFrame:
    return Warehouse(warehouse).read(name).sort("transcript_id")


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The ids of every transcript handed to the flagger (one core worker: flagged in this process)."""
    import etl_project.lib.pipeline as pipeline

    seen: list[str] = []
    real = pipeline.flag_themes

    def counting(turns: pl.DataFrame | pl.LazyFrame, method: str | None = None) -> pl.DataFrame:
        seen.extend(ids_handed_over(turns))
        return real(turns, method)

    monkeypatch.setattr(pipeline, "flag_themes", counting)
    monkeypatch.setenv("ETL_CORE_WORKERS", "1")
    return seen


def run(raw: Path, warehouse: Path, home: Path, monkeypatch: pytest.MonkeyPatch, *extra: str) -> None:
    for name, value in {"ETL_RAW_DIR": raw, "ETL_WAREHOUSE_DIR": warehouse, "DAGSTER_HOME": home}.items():
        monkeypatch.setenv(name, str(value))
    assert cli.main(["run", "--no-progress", *extra]) == cli.EXIT_OK


def test_a_file_read_again_flags_only_its_new_and_changed_interviews(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, counted: list[str]) -> None:
    release = pl.read_csv(SAMPLE_RAW / "release_csv" / "workforce_sample.csv")
    raw = tmp_path / "raw"
    raw.mkdir()
    release.head(4).write_csv(raw / "release.csv")
    warehouse, home = tmp_path / "warehouse", tmp_path / "home"
    run(raw, warehouse, home, monkeypatch)
    assert sorted(counted) == sorted(release.head(4)["transcript_id"])

    # the release grows by one interview and one interview's text is corrected: the file is read again
    corrected, added = release["transcript_id"][1], release["transcript_id"][4]
    release.head(5).with_columns(
        pl.when(pl.col("transcript_id") == corrected).then(pl.col("text") + APPENDED).otherwise(pl.col("text")).alias("text")
    ).write_csv(raw / "release.csv")
    counted.clear()
    run(raw, warehouse, home, monkeypatch)
    assert sorted(counted) == sorted([corrected, added])  # the other three took their published flags

    # the same tables as a cold run on the final input
    cold = tmp_path / "cold"
    run(raw, cold, tmp_path / "home-cold", monkeypatch)
    for name in ("theme_flags", "turns"):  # the corrected interview's flags are of its corrected text
        assert table(warehouse, name).equals(table(cold, name)), name
    assert table(warehouse, "transcripts").drop("ingested_at").equals(table(cold, "transcripts").drop("ingested_at"))

    # --reprocess does everything again, flagging included
    counted.clear()
    run(raw, warehouse, home, monkeypatch, "--reprocess")
    assert sorted(counted) == sorted(release.head(5)["transcript_id"])
    assert table(warehouse, "theme_flags").equals(table(cold, "theme_flags"))

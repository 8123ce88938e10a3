"""The theme_report asset: prevalence per split from the whole theme_flags table, a chart and a page."""

from __future__ import annotations

import struct
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from etl_project.defs.themes import report
from etl_project.defs.themes.report import theme_report
from etl_project.lib.themes import THEME_FLAGS
from etl_project_tests.conftest import SAMPLE_RAW, materialize_all, resources_for


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def table_rows(md: str) -> dict[str, list[str]]:
    """flag -> cells of a markdown table whose first column is the flag in backticks."""
    rows = {}
    for line in md.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells and cells[0].startswith("`") and cells[0].strip("`") in THEME_FLAGS:
            rows[cells[0].strip("`")] = cells[1:]
    return rows


@pytest.fixture(scope="module")
def materialized(tmp_path_factory) -> tuple[Path, dict]:
    """The sample materialized into a temp warehouse, then theme_report on its own (unpartitioned)."""
    warehouse = tmp_path_factory.mktemp("warehouse")
    with dg.instance_for_test() as instance:  # a real temp instance, alive for the whole fixture
        materialize_all(SAMPLE_RAW, warehouse, instance=instance)
        result = dg.materialize([theme_report], resources=resources_for(SAMPLE_RAW, warehouse), instance=instance)
        assert result.success
        metadata = dict(result.asset_materializations_for_node("theme_report")[0].metadata)  # read while the instance lives
    return warehouse, metadata


def test_prevalence_matches_a_direct_computation_from_the_table(materialized):
    warehouse, metadata = materialized
    flags = pl.read_parquet(warehouse / "theme_flags" / "**" / "*.parquet", hive_partitioning=True)
    assert metadata["transcripts"].value == flags.height == 185
    md = metadata["prevalence"].value
    assert "definitions differ; compare, don't force-match" in md
    splits = [s for s in report.SPLIT_ORDER if s in set(flags.get_column("split").to_list())]
    assert splits == ["workforce", "creatives", "scientists"]
    header = next(line for line in md.splitlines() if line.startswith("| flag |"))
    for s in splits:
        assert f"{s} (n={flags.filter(pl.col('split') == s).height})" in header
    rows = table_rows(md)
    assert set(rows) == set(THEME_FLAGS)
    estimates = pl.read_parquet(warehouse / "theme_prevalence" / "part-0.parquet")
    for flag in THEME_FLAGS:
        for k, s in enumerate(splits):
            part = flags.filter(pl.col("split") == s)
            true = int(part.get_column(flag).sum())
            e = estimates.filter((pl.col("split") == s) & (pl.col("flag") == flag)).row(0, named=True)
            assert e["n_transcripts"] == part.height and e["flagged"] == true
            raw = f"{true / part.height * 100:.0f}% ({true})"
            corrected = f"est. {e['estimated_share'] * 100:.0f}% [{e['ci_low'] * 100:.0f}-{e['ci_high'] * 100:.0f}]"
            assert rows[flag][k] == f"{raw}; {corrected}", (flag, s)
        comparators = [text for (s, f), (_, text) in report.PUBLISHED_COMPARATORS.items() if f == flag]
        assert all(text in rows[flag][-1] for text in comparators)


def test_chart_and_page_are_written_atomically_and_readable(materialized):
    warehouse, metadata = materialized
    chart = Path(metadata["chart_path"].value)
    page = Path(metadata["report_path"].value)
    assert chart == warehouse / "reports" / "theme_prevalence.png" and page == warehouse / "reports" / "theme_prevalence.md"
    data = chart.read_bytes()
    width, height = png_size(data)
    assert 800 <= width <= 2400 and 600 <= height <= 2400
    assert 20_000 < len(data) < 3_000_000
    assert sorted(p.name for p in chart.parent.iterdir()) == ["theme_prevalence.md", "theme_prevalence.png"]  # no temp files left
    text = page.read_text()
    assert text.startswith("# Theme prevalence by split") and "](theme_prevalence.png)" in text
    assert table_rows(text) == table_rows(metadata["prevalence"].value)
    assert metadata["chart"].value.startswith("![theme prevalence](data:image/png;base64,")


def test_report_on_an_empty_warehouse(tmp_path: Path):
    with dg.instance_for_test() as instance:
        result = dg.materialize([theme_report], resources=resources_for(tmp_path / "raw", tmp_path / "wh"), instance=instance)
        assert result.success
        metadata = result.asset_materializations_for_node("theme_report")[0].metadata
    assert metadata["transcripts"].value == 0
    assert png_size((tmp_path / "wh" / "reports" / "theme_prevalence.png").read_bytes())[0] >= 800


def test_prevalence_counts_and_order():
    flags = pl.DataFrame(
        {"split": ["scientists", "workforce", "workforce", "unknown"], **{f: [True, False, True, False] for f in THEME_FLAGS}}
    )
    prev = report.prevalence(flags)
    assert prev.height == 3 * len(THEME_FLAGS)
    assert prev.get_column("split").unique(maintain_order=True).to_list() == ["workforce", "scientists", "unknown"]
    row = prev.filter((pl.col("split") == "workforce") & (pl.col("flag") == THEME_FLAGS[0])).row(0, named=True)
    assert (row["transcripts"], row["true"], row["share"]) == (2, 1, 0.5)

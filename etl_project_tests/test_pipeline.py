"""End to end through Dagster: materialize every asset from a temp raw folder into a temp warehouse."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
import polars as pl
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from etl_project.definitions import build_definitions
from etl_project.lib.themes import THEME_FLAGS
from etl_project.schemas import THEME_FLAG_COLUMNS, ThemeFlagsModel, TranscriptsModel, TurnsModel
from etl_project_tests.conftest import DEV_LABELS, PROJECT_ROOT, SAMPLE_RAW, SIMPLE_DIALOG, materialize_all, md_transcript

TABLES = ("transcripts", "turns", "theme_flags")


def materialize(raw: Path, warehouse: Path) -> dg.ExecuteInProcessResult:
    return materialize_all(raw, warehouse)


def read(warehouse: Path, table: str) -> pl.DataFrame:
    return pl.read_parquet(warehouse / table / "**" / "*.parquet", hive_partitioning=True)


@pytest.fixture
def mixed_raw(raw_dir: Path) -> Path:
    """Every layout at once, with one good transcript per split, a duplicate and two bad inputs."""
    (raw_dir / "seeds").mkdir()
    (raw_dir / "seeds" / "001.txt").write_bytes(md_transcript("work_0210", SIMPLE_DIALOG.replace("I use", "Iâ€™d say I use")).encode("utf-8"))
    (raw_dir / "creativity_0004.md").write_text(SIMPLE_DIALOG)
    quoted = SIMPLE_DIALOG.replace('"', '""')
    (raw_dir / "release.csv").write_text(f'transcript_id,text\nscience_0001,"{quoted}"\ncreativity_0004,"{quoted}"\nwork_0300,""\n')
    (raw_dir / "export.jsonl").write_text(json.dumps({"transcript_id": "pilot_1", "text": SIMPLE_DIALOG}) + "\n{oops\n")
    (raw_dir / "notes.docx").write_bytes(b"PK\x03\x04")
    return raw_dir


def test_definitions_load_with_every_table_asset() -> None:
    keys = {key.to_user_string() for key in build_definitions().resolve_asset_graph().get_all_asset_keys()}
    assert {"transcripts", "turns", "theme_flags", "quarantine", "theme_prevalence", "theme_report"} == keys
    # one step makes every table: no intermediate frames handed from step to step
    assert {node.name for node in build_definitions().resolve_job_def("warehouse_job").graph.nodes} >= {"warehouse_tables", "theme_report"}


def test_dagster_definitions_validate_passes(tmp_path: Path) -> None:
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "dagster"), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300, env={**os.environ, "DAGSTER_HOME": str(tmp_path)},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_end_to_end_materialize_into_a_temp_warehouse(mixed_raw: Path, warehouse_dir: Path) -> None:
    materialize(mixed_raw, warehouse_dir)
    transcripts = read(warehouse_dir, "transcripts")
    assert sorted(transcripts["transcript_id"]) == ["creativity_0004", "pilot_1", "science_0001", "work_0210"]
    assert dict(transcripts.select("transcript_id", "split").iter_rows()) == {
        "creativity_0004": "creatives", "pilot_1": "unknown", "science_0001": "scientists", "work_0210": "workforce",
    }
    assert transcripts.filter(pl.col("transcript_id") == "creativity_0004")["n_copies"].item() == 2
    assert transcripts.filter(pl.col("transcript_id") == "work_0210")["n_repairs"].item() == 1
    assert not transcripts["text"].str.contains("â€").any()
    for table, model in (("transcripts", TranscriptsModel), ("turns", TurnsModel), ("theme_flags", ThemeFlagsModel)):
        frame = read(warehouse_dir, table).select(list(model.to_schema().columns))
        model.validate(frame)
    assert read(warehouse_dir, "turns").height == 4 * 4
    quarantine = pl.read_parquet(warehouse_dir / "quarantine" / "part-0.parquet")
    assert sorted(quarantine["source_file"]) == ["export.jsonl", "notes.docx", "release.csv"]
    assert all(quarantine["reason"].str.len_chars() > 10)
    assert set(Path(p).name for p in (warehouse_dir / "transcripts").glob("split=*")) == {"split=workforce", "split=creatives", "split=scientists", "split=unknown"}
    assert not any((warehouse_dir / "_staging").iterdir())


def test_rerun_on_the_same_input_gives_the_same_tables(mixed_raw: Path, warehouse_dir: Path) -> None:
    materialize(mixed_raw, warehouse_dir)
    first = {t: read(warehouse_dir, t).sort(pl.all()) for t in (*TABLES,)}
    first_q = pl.read_parquet(warehouse_dir / "quarantine" / "part-0.parquet")
    for reprocess in (False, True):  # nothing pending; then every file read and written again
        materialize_all(mixed_raw, warehouse_dir, reprocess=reprocess)
        for table in TABLES:
            assert read(warehouse_dir, table).sort(pl.all()).equals(first[table]), (table, reprocess)
        assert pl.read_parquet(warehouse_dir / "quarantine" / "part-0.parquet").equals(first_q)


def test_incremental_run_reads_only_new_or_changed_files(mixed_raw: Path, warehouse_dir: Path) -> None:
    materialize(mixed_raw, warehouse_dir)
    before = {p: p.stat().st_mtime_ns for p in warehouse_dir.glob("transcripts/**/*.parquet")}
    (mixed_raw / "science_0002.md").write_text(md_transcript("science_0002"))
    os.utime(mixed_raw / "creativity_0004.md")  # touched, same content: costs a hash, no rewrite
    result = materialize(mixed_raw, warehouse_dir)
    ingest = next(e for e in result.get_asset_materialization_events() if e.asset_key.to_user_string() == "transcripts")
    meta = {k: v.value for k, v in ingest.materialization.metadata.items()}
    assert (meta["files_read"], meta["files_unchanged_skipped"], meta["rows_from_this_batch"]) == (2, 1, 1)
    after = {p: p.stat().st_mtime_ns for p in warehouse_dir.glob("transcripts/**/*.parquet")}
    rewritten = sorted(p.parent.name for p in after if before.get(p) != after[p])
    assert rewritten == ["split=scientists"]
    assert read(warehouse_dir, "transcripts").height == 5


def test_changed_source_replaces_and_removed_source_stays(mixed_raw: Path, warehouse_dir: Path) -> None:
    materialize(mixed_raw, warehouse_dir)
    (mixed_raw / "creativity_0004.md").unlink()
    (mixed_raw / "release.csv").write_text(f'transcript_id,text\nscience_0001,"{SIMPLE_DIALOG}\n\nAI: A last question?"\n')
    materialize(mixed_raw, warehouse_dir)
    transcripts = read(warehouse_dir, "transcripts")
    assert transcripts["transcript_id"].n_unique() == transcripts.height == 4
    science = transcripts.filter(pl.col("transcript_id") == "science_0001").row(0, named=True)
    assert science["n_turns"] == 5
    turns = read(warehouse_dir, "turns").filter(pl.col("transcript_id") == "science_0001")
    assert turns["turn_index"].to_list() == [0, 1, 2, 3, 4]
    quarantine = pl.read_parquet(warehouse_dir / "quarantine" / "part-0.parquet")
    assert "release.csv" not in quarantine["source_file"].to_list()  # the fixed file left the quarantine


def test_four_readers_agree_on_every_table(mixed_raw: Path, warehouse_dir: Path) -> None:
    materialize(mixed_raw, warehouse_dir)
    for table in TABLES:
        root = warehouse_dir / table
        by_polars = pl.scan_parquet(root / "**" / "*.parquet", hive_partitioning=True).collect()
        by_arrow = ds.dataset(root, format="parquet", partitioning="hive").to_table()
        by_pandas = pd.read_parquet(root)
        by_duckdb = duckdb.sql(f"select * from read_parquet('{root}/**/*.parquet', hive_partitioning = true)").pl()
        counts = {
            "polars": by_polars.shape,
            "pyarrow": (by_arrow.num_rows, by_arrow.num_columns),
            "pandas": by_pandas.shape,
            "duckdb": by_duckdb.shape,
        }
        assert len(set(counts.values())) == 1, (table, counts)
        per_split = duckdb.sql(f"select split, count(*) from read_parquet('{root}/**/*.parquet', hive_partitioning = true) group by 1 order by 1").fetchall()
        assert per_split == sorted(by_polars.group_by("split").len().iter_rows())
        assert set(by_pandas.columns) == set(by_polars.columns) == set(by_arrow.column_names) == set(by_duckdb.columns)


def test_parquet_files_are_zstd_with_plain_types_and_version_metadata(mixed_raw: Path, warehouse_dir: Path) -> None:
    materialize(mixed_raw, warehouse_dir)
    path = warehouse_dir / "theme_flags" / "split=workforce" / "part-b00000.parquet"
    meta = pq.read_metadata(path)
    assert meta.row_group(0).column(0).compression == "ZSTD"
    schema = pq.read_schema(path)
    assert {b"etl_project.schema_version", b"etl_project.pipeline_version"} <= set(schema.metadata)
    assert "large" not in str(schema) and "view" not in str(schema)
    assert "split" not in schema.names  # the partition value lives in the folder name only
    ts = pq.read_schema(warehouse_dir / "transcripts" / "split=workforce" / "part-b00000.parquet").field("ingested_at").type
    assert (ts.unit, ts.tz) == ("us", "UTC")


def test_theme_flag_columns_are_the_taxonomy() -> None:
    taxonomy = (PROJECT_ROOT / "data" / "themes" / "TAXONOMY.md").read_text()
    listed = [line.split("`")[1] for line in taxonomy.splitlines() if line.startswith("| `")]
    assert tuple(listed) == THEME_FLAGS == THEME_FLAG_COLUMNS


@pytest.fixture(scope="module")
def sample_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    warehouse = tmp_path_factory.mktemp("sample_warehouse")
    materialize(SAMPLE_RAW, warehouse)
    return warehouse


def test_shipped_sample_lands_whole_and_alternates(sample_warehouse: Path) -> None:
    transcripts = read(sample_warehouse, "transcripts")
    files = [p for p in SAMPLE_RAW.rglob("*") if p.suffix in {".md", ".txt"} and p.name != "README.md"]
    csv_rows = sum(pl.read_csv(p).height for p in SAMPLE_RAW.rglob("*.csv"))
    assert transcripts.height == len(files) + csv_rows
    assert not (sample_warehouse / "quarantine" / "part-0.parquet").exists() or pl.read_parquet(sample_warehouse / "quarantine" / "part-0.parquet").height == 0
    assert not transcripts["text"].str.contains("â€|Ã|Â").any()
    assert transcripts.filter(pl.col("n_repairs") > 0).height >= 5  # every seed had mojibake
    turns = read(sample_warehouse, "turns").sort("transcript_id", "turn_index")
    alternates = turns.with_columns(prev=pl.col("speaker").shift().over("transcript_id")).filter(pl.col("prev") == pl.col("speaker"))
    assert alternates.height == 0
    assert set(turns.filter(pl.col("turn_index") == 0)["speaker"]) == {"interviewer"}


def test_turn_numbering_matches_the_human_coders(sample_warehouse: Path) -> None:
    """The labelled evidence quotes sit in the participant turn the coders numbered."""
    turns = read(sample_warehouse, "turns")
    labels = [json.loads(line) for line in DEV_LABELS.read_text().splitlines()]
    evidence = pl.DataFrame(
        [{"transcript_id": r["transcript_id"], "turn_index": e["turn"], "quote": e["quote"]} for r in labels for e in r["evidence"].values()],
        schema={"transcript_id": pl.String, "turn_index": pl.Int32, "quote": pl.String},
    )
    joined = evidence.join(turns, on=["transcript_id", "turn_index"], how="left")
    assert joined["speaker"].null_count() == 0
    assert set(joined["speaker"]) == {"participant"}
    found = joined.select(pl.col("text").str.contains(pl.col("quote"), literal=True).mean()).item()
    assert found > 0.97, found

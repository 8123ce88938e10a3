"""The data dictionary: fresh, complete, and true to what a real run writes (files and Dagster metadata)."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import duckdb
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from etl_project import __version__
from etl_project import dictionary
from etl_project.schemas import MODEL_OF_TABLE, SCHEMA_VERSION, SPLITS
from etl_project_tests.conftest import SIMPLE_DIALOG, materialize_all, md_transcript

PARTITIONED = [t for t in MODEL_OF_TABLE if t != "quarantine"]


# ------------------------------------------------------------------ the committed file


def test_committed_dictionary_equals_a_fresh_render() -> None:
    committed = dictionary.DICTIONARY_PATH.read_text(encoding="utf-8")
    assert committed == dictionary.render(), "docs/DATA_DICTIONARY.md is stale: run `make docs` and commit it"


def test_check_flag_fails_when_stale_and_write_mode_fixes_it(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = tmp_path / "DICT.md"
    assert dictionary.main(["--check", "--path", str(path)]) == 1  # missing counts as stale
    path.write_text(dictionary.render().replace("Interview id", "Interview ID"))
    assert dictionary.main(["--check", "--path", str(path)]) == 1
    assert "stale" in capsys.readouterr().err
    assert dictionary.main(["--path", str(path)]) == 0
    assert dictionary.main(["--check", "--path", str(path)]) == 0
    assert path.read_text(encoding="utf-8") == dictionary.render()


def test_render_is_deterministic() -> None:
    assert dictionary.render() == dictionary.render()


# ------------------------------------------------------------------ completeness


@pytest.mark.parametrize("table", list(MODEL_OF_TABLE))
def test_every_column_of_every_model_has_a_description(table: str) -> None:
    model = MODEL_OF_TABLE[table]
    assert (model.__doc__ or "").strip(), f"{table}: the model needs a docstring (the table description)"
    missing = [name for name, column in model.to_schema().columns.items() if not (column.description or "").strip()]
    assert not missing, f"{table}: columns without a description: {missing}"


def test_dictionary_documents_every_table_and_column() -> None:
    docs = {t.name: t for t in dictionary.table_docs()}
    assert list(docs) == list(MODEL_OF_TABLE)
    text = dictionary.render()
    for table, model in MODEL_OF_TABLE.items():
        assert f"\n## {table}\n" in text
        section = text.split(f"\n## {table}\n", 1)[1].split("\n## ", 1)[0]
        for name, column in model.to_schema().columns.items():
            doc = docs[table].column(name)
            assert doc.description == column.description.strip()
            assert f"| `{name}` |" in section, (table, name)
        assert docs[table].description in section


def test_partitioning_keys_and_checks_come_from_the_contract() -> None:
    docs = {t.name: t for t in dictionary.table_docs()}
    assert {t: d.partition_by for t, d in docs.items()} == {"transcripts": "split", "turns": "split", "theme_flags": "split", "quarantine": None, "theme_prevalence": None}
    assert docs["transcripts"].key == ("transcript_id",)
    assert docs["turns"].key == ("transcript_id", "turn_index")
    assert docs["quarantine"].key == ("source_file", "source_record")
    split = docs["transcripts"].column("split")
    assert split.partition and all(f"`{s}`" in split.checks[0] for s in SPLITS)
    assert docs["theme_flags"].column("n_flags").checks == ("`>= 0`", "`<= 14`")
    assert docs["transcripts"].column("transcript_id").checks[0] == "unique"
    assert any("matches regex" in c for c in docs["transcripts"].column("source_sha256").checks)
    assert docs["transcripts"].column("dialog_number").nullable and not docs["transcripts"].column("text").nullable
    assert "evidence must hold exactly one entry per true flag" in docs["theme_flags"].table_checks
    assert "(transcript_id, turn_index) is unique" in docs["turns"].table_checks


# ------------------------------------------------------------------ a real run


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dg.ExecuteInProcessResult]:
    """Every table written, every split present, quarantine included."""
    root = tmp_path_factory.mktemp("dictionary_run")
    raw, warehouse = root / "raw", root / "warehouse"
    raw.mkdir()
    for i, tid in enumerate(("work_0001", "creativity_0002", "science_0003", "pilot_4")):
        (raw / f"{tid}.md").write_text(md_transcript(tid, SIMPLE_DIALOG, dialog_number=i + 1))
    (raw / "export.jsonl").write_text(json.dumps({"transcript_id": "work_0005", "text": SIMPLE_DIALOG}) + "\n{oops\n")
    (raw / "notes.docx").write_bytes(b"PK\x03\x04")
    return warehouse, materialize_all(raw, warehouse)


def data_files(warehouse: Path, table: str) -> list[Path]:
    files = sorted((warehouse / table).glob("**/*.parquet"))
    assert files, f"{table}: no Parquet file written"
    return files


@pytest.mark.parametrize("table", list(MODEL_OF_TABLE))
def test_every_written_column_is_in_the_dictionary(run, table: str) -> None:
    warehouse, _ = run
    doc = next(t for t in dictionary.table_docs() if t.name == table)
    documented = [c.name for c in doc.columns]
    for f in data_files(warehouse, table):
        in_file = pq.read_schema(f).names
        undocumented = sorted(set(in_file) - set(documented))
        assert not undocumented, f"{f}: columns written but not in the data dictionary: {undocumented}"
        hive = [part.split("=", 1)[0] for part in f.relative_to(warehouse / table).parts[:-1]]
        assert set(hive) <= set(documented), f"{f}: undocumented partition folder {hive}"
        assert set(in_file) | set(hive) == set(documented), f"{f}: documented columns missing from the file"


@pytest.mark.parametrize("table", list(MODEL_OF_TABLE))
def test_file_types_are_the_documented_plain_types(run, table: str) -> None:
    warehouse, _ = run
    doc = next(t for t in dictionary.table_docs() if t.name == table)
    for f in data_files(warehouse, table):
        schema = pq.read_schema(f)
        for field in schema:
            assert str(field.type) == doc.column(field.name).arrow_type, (f, field)
            text = str(field.type)
            assert "large" not in text and "view" not in text, (f, field)
            if pa.types.is_timestamp(field.type):
                assert (field.type.unit, field.type.tz) == ("us", "UTC"), (f, field)


@pytest.mark.parametrize("table", list(MODEL_OF_TABLE))
def test_duckdb_sees_the_documented_types(run, table: str) -> None:
    warehouse, _ = run
    doc = next(t for t in dictionary.table_docs() if t.name == table)
    hive = "true" if doc.partition_by else "false"
    rows = duckdb.sql(f"describe select * from read_parquet('{warehouse / table}/**/*.parquet', hive_partitioning = {hive})").fetchall()
    seen = {name: kind.replace('"', "") for name, kind, *_ in rows}
    assert seen == {c.name: c.duckdb_type for c in doc.columns}


@pytest.mark.parametrize("table", list(MODEL_OF_TABLE))
def test_every_file_carries_table_schema_and_pipeline_version(run, table: str) -> None:
    warehouse, _ = run
    for f in data_files(warehouse, table):
        meta = pq.read_schema(f).metadata
        assert meta[b"etl_project.table"] == table.encode(), f
        assert meta[b"etl_project.schema_version"] == SCHEMA_VERSION.encode(), f
        assert meta[b"etl_project.pipeline_version"] == __version__.encode(), f
        assert pq.read_metadata(f).row_group(0).column(0).compression == "ZSTD", f


def test_evidence_reads_as_list_of_struct_in_pyarrow_and_duckdb(run) -> None:
    warehouse, _ = run
    table = ds.dataset(warehouse / "theme_flags", format="parquet", partitioning="hive").to_table()
    evidence = table.schema.field("evidence").type
    assert pa.types.is_list(evidence) and pa.types.is_struct(evidence.value_type)
    assert [f.name for f in evidence.value_type] == ["flag", "turn_index", "quote"]
    n_flags = sum(table.column("n_flags").to_pylist())
    assert n_flags > 0
    assert sum(len(e) for e in table.column("evidence").to_pylist()) == n_flags
    glob = f"{warehouse}/theme_flags/**/*.parquet"
    unnested = duckdb.sql(
        f"select e.flag, e.turn_index, e.quote from read_parquet('{glob}', hive_partitioning = true) f, unnest(f.evidence) as u(e)"
    ).fetchall()
    assert len(unnested) == n_flags
    assert all(isinstance(flag, str) and isinstance(turn, int) and quote for flag, turn, quote in unnested)


# ------------------------------------------------------------------ Dagster metadata


def test_each_table_asset_reports_a_column_schema_equal_to_its_model(run) -> None:
    _, result = run
    schemas = {}
    for event in result.get_asset_materialization_events():
        mat = event.event_specific_data.materialization
        if mat.asset_key.to_user_string() in MODEL_OF_TABLE and "dagster/column_schema" in mat.metadata:
            schemas[mat.asset_key.to_user_string()] = mat.metadata["dagster/column_schema"].schema
    assert set(schemas) == set(MODEL_OF_TABLE)
    for table, schema in schemas.items():
        model_columns = MODEL_OF_TABLE[table].to_schema().columns
        assert [c.name for c in schema.columns] == list(model_columns), table
        for column in schema.columns:
            assert column.description == model_columns[column.name].description, (table, column.name)

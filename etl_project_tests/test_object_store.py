"""The same pipeline with the warehouse on S3-compatible object storage (moto's server on localhost)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pyarrow.fs as pafs
import pytest

from etl_project.lib.batches import files_of
from etl_project.lib.pipeline import run_core
from etl_project.lib.warehouse import Warehouse
from etl_project_tests.conftest import SAMPLE_RAW, materialize_all

TABLES = ("transcripts", "turns", "theme_flags", "quarantine")


@pytest.fixture
def s3_bucket(monkeypatch: pytest.MonkeyPatch):
    server_module = pytest.importorskip("moto.server", reason="moto[server] is not installed (pip install 'moto[server]')")
    server = server_module.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    for key, value in {
        "AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true",
    }.items():
        monkeypatch.setenv(key, value)
    pafs.S3FileSystem(endpoint_override=endpoint, allow_bucket_creation=True, region="us-east-1").create_dir("warehouse-bucket")
    try:
        yield "s3://warehouse-bucket"
    finally:
        server.stop()


def tables(warehouse: Warehouse) -> dict[str, pl.DataFrame]:
    out = {}
    for table in TABLES:
        frame = warehouse.read(table)
        out[table] = None if frame is None else frame.drop("ingested_at", "detected_at", strict=False).sort(pl.all())
    return out


def test_core_on_object_storage_equals_local(s3_bucket: str, tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    for path in sorted((SAMPLE_RAW / "corpus").glob("work_0*.md"))[:12] + sorted(SAMPLE_RAW.glob("seeds/*.txt")):
        (raw / path.name).write_bytes(path.read_bytes())
    (raw / "junk.md").write_text("no id here")
    run_core(raw, tmp_path / "local")
    run_core(raw, f"{s3_bucket}/wh")
    remote, local = Warehouse(f"{s3_bucket}/wh"), Warehouse(tmp_path / "local")
    for table, frame in tables(local).items():
        assert tables(remote)[table].equals(frame), table
    assert [p.as_posix().split("/wh/")[1] for p in remote.partition_files("transcripts")] == ["transcripts/split=workforce/part-b00000.parquet"]
    run_core(raw, f"{s3_bucket}/wh")  # a re-run over objects is an upsert too
    assert remote.read("transcripts").height == local.read("transcripts").height == 17


def test_dagster_run_with_the_warehouse_on_object_storage(s3_bucket: str, tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    for path in sorted(SAMPLE_RAW.glob("seeds/*.txt")):
        (raw / path.name).write_bytes(path.read_bytes())
    root = f"{s3_bucket}/dagster"
    materialize_all(raw, root, alerts_path=str(tmp_path / "alerts.jsonl"))
    warehouse = Warehouse(root)
    assert sorted(warehouse.read("transcripts")["transcript_id"]) == ["work_0005", "work_0210", "work_0759", "work_0803", "work_0823"]
    assert warehouse.exists(warehouse.root / "reports" / "theme_prevalence.png")  # the report goes to the store too
    assert not (Path.cwd() / "warehouse-bucket").exists()  # nothing lands on local disk by mistake
    [batch] = sorted({b for b in warehouse.read_file(warehouse.root / "_batches" / "manifest.parquet")["batch"]})
    assert len(files_of(warehouse, batch)) == 5
    from etl_project.lib.alerts import read_alerts

    alerts = read_alerts(tmp_path / "alerts.jsonl")  # alerts stay local: objects cannot be appended to
    assert [(a["kind"], a["details"]["check"]) for a in alerts] == [("check_failed", "every_split_present")]  # only workforce seeds


def test_status_reports_row_counts_of_a_warehouse_on_object_storage(s3_bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    import json

    from etl_project import cli

    raw = tmp_path / "raw"
    raw.mkdir()
    for path in sorted(SAMPLE_RAW.glob("seeds/*.txt")) + sorted((SAMPLE_RAW / "corpus").glob("science_00*.md"))[:2]:
        (raw / path.name).write_bytes(path.read_bytes())
    (raw / "junk.md").write_text("no id here")
    root = f"{s3_bucket}/status"
    run_core(raw, root)
    for name, value in {"ETL_WAREHOUSE_DIR": root, "ETL_RAW_DIR": str(raw), "DAGSTER_HOME": str(tmp_path / "no_home")}.items():
        monkeypatch.setenv(name, value)
    assert cli.main(["status", "--json"]) == cli.EXIT_OK
    report = json.loads(capsys.readouterr().out)
    assert report["warehouse"] == root and report["exists"]
    local = Warehouse(root)
    expected = {table: local.read(table).height for table in TABLES}
    assert {table: t["rows"] for table, t in report["tables"].items()} == expected
    assert expected["transcripts"] == 7 and expected["quarantine"] == 1
    assert report["tables"]["transcripts"]["rows_by_split"] == {"workforce": 5, "scientists": 2}
    assert report["tables"]["transcripts"]["updated_at"] is not None and report["damaged_files"] == []
    assert cli.main(["status"]) == cli.EXIT_OK  # the table for a person, same counts
    text = capsys.readouterr().out
    assert f"warehouse   {root}" in text
    assert any(line.split()[:1] == ["transcripts"] and line.split()[1:4] == ["5", "2", "7"] for line in text.splitlines()), text
    assert not (tmp_path / "no_home").exists()  # status writes nothing

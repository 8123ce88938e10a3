"""After a change of flagging method: theme_flags re-derived from the stored turns, no raw file read.

The reflag is the same Dagster step (``warehouse_tables`` with only ``theme_flags`` selected, job
``reflag_theme_flags``) whatever starts it: the UI, ``etl-project run --reflag``, a test here.
"""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from etl_project import cli
from etl_project.lib.batches import batches
from etl_project.lib.warehouse import Warehouse
from etl_project_tests.conftest import SAMPLE_RAW, ids_handed_over, job_for, materialize_all

OLD, NEW = "lexicon", "tfidf"


def sample(raw: Path) -> Path:
    raw.mkdir()
    for prefix in ("work_00", "creativity_00", "science_00"):
        for path in sorted((SAMPLE_RAW / "corpus").glob(f"{prefix}*.md"))[:3]:
            (raw / path.name).write_bytes(path.read_bytes())
    return raw


def flags(warehouse: Path) -> pl.DataFrame:
    return Warehouse(warehouse).read("theme_flags").sort("transcript_id")


def files(warehouse: Path, table: str) -> dict[str, int]:
    """Each published file of a table with its inode: a file not rewritten keeps it."""
    return {str(p.relative_to(warehouse / table)): p.stat().st_ino for p in sorted((warehouse / table).rglob("*.parquet"))}


@pytest.fixture(scope="module")
def flagged_before(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A warehouse made by a full run with the old method, and the theme_flags a full run with the new one makes."""
    root = tmp_path_factory.mktemp("reflag")
    instance = dg.DagsterInstance.ephemeral()
    with pytest.MonkeyPatch.context() as env:
        env.setenv("ETL_THEME_METHOD", OLD)
        materialize_all(sample(root / "raw"), root / "old", instance=instance, caps={"max_files": 5})  # two batches
        env.setenv("ETL_THEME_METHOD", NEW)
        materialize_all(root / "raw", root / "full_new")
    assert len(batches(Warehouse(root / "old"))) == 2
    return {"root": root, "old": root / "old", "instance": instance, "expected": flags(root / "full_new")}


def copy_warehouse(source: Path, target: Path) -> Path:
    import shutil

    shutil.copytree(source, target, symlinks=True)
    return target


def test_reflag_from_turns_equals_a_full_run_with_the_new_method(flagged_before: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    warehouse = copy_warehouse(flagged_before["old"], tmp_path / "warehouse")
    assert set(flags(warehouse)["method"]) == {OLD}
    turns_before = files(warehouse, "turns")
    gone = tmp_path / "raw-not-there"  # no raw folder at all: the reflag cannot read a raw file
    monkeypatch.setenv("ETL_THEME_METHOD", NEW)
    keys = batches(Warehouse(warehouse))
    key = keys[-1]  # any batch: the reflag covers the whole table
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("ingest_batches", keys)
    job = job_for(gone, warehouse, job="reflag_theme_flags")
    assert {node.name for node in job.graph.nodes} == {"warehouse_tables", "theme_prevalence", "theme_report"}
    result = job.execute_in_process(instance=instance, partition_key=key, raise_on_error=False)
    assert result.success, [e.message for e in result.all_events if e.is_failure]
    assert not gone.exists()

    after = flags(warehouse)
    assert after.equals(flagged_before["expected"])  # the same rows, evidence and versions as a full run
    assert set(after["method"]) == {NEW}
    assert files(warehouse, "turns") == turns_before  # turns (and transcripts) untouched
    materialized = {m.asset_key.to_user_string(): m.metadata for m in result.asset_materializations_for_node("warehouse_tables")}
    assert list(materialized) == ["theme_flags"]
    assert materialized["theme_flags"]["transcripts_reflagged"].value == after.height == 9
    checks = {(e.asset_key.to_user_string(), e.check_name): e.passed for e in result.get_asset_check_evaluations()}
    assert checks == {("theme_flags", "matches_contract"): True, ("theme_prevalence", "contract"): True}
    prevalence = Warehouse(warehouse).read("theme_prevalence")
    assert set(prevalence["method"]) == {NEW}  # prevalence and report follow in the same launch

    # the flag cache: a second reflag with the same method flags nothing again and rewrites no file
    flag_files = files(warehouse, "theme_flags")
    again = job.execute_in_process(instance=instance, partition_key=key)
    [meta] = [m.metadata for m in again.asset_materializations_for_node("warehouse_tables")]
    assert meta["transcripts_reflagged"].value == 0 and meta["transcripts_already_of_this_version"].value == 9
    assert files(warehouse, "theme_flags") == flag_files


def test_only_theme_flags_or_all_four_tables_can_be_selected(flagged_before: dict, tmp_path: Path) -> None:
    warehouse = copy_warehouse(flagged_before["old"], tmp_path / "warehouse")
    keys = batches(Warehouse(warehouse))
    key = keys[0]
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("ingest_batches", keys)
    job = job_for(tmp_path / "raw", warehouse).get_subset(asset_selection={dg.AssetKey("turns")})
    result = job.execute_in_process(instance=instance, partition_key=key, raise_on_error=False)
    assert not result.success
    [failure] = [e for e in result.all_events if e.is_step_failure]
    assert "theme_flags alone" in failure.event_specific_data.error.message


def test_etl_project_run_reflag(flagged_before: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    warehouse = copy_warehouse(flagged_before["old"], tmp_path / "warehouse")
    for name, value in {"ETL_WAREHOUSE_DIR": warehouse, "ETL_RAW_DIR": tmp_path / "no-raw", "DAGSTER_HOME": tmp_path / "home", "ETL_THEME_METHOD": NEW}.items():
        monkeypatch.setenv(name, str(value))
    assert cli.main(["run", "--reflag", "--no-progress"]) == cli.EXIT_OK
    out = capsys.readouterr().out
    assert "9 transcript(s) flagged again" in out and "raw files read: 0" in out, out
    assert flags(warehouse).equals(flagged_before["expected"])
    assert cli.main(["run", "--reflag", "--no-progress"]) == cli.EXIT_OK
    assert "0 transcript(s) flagged again, 0 from the flag cache, 9 already of this version; 9 rows; 2 batch(es) marked" in capsys.readouterr().out
    assert not (tmp_path / "no-raw").exists()


def test_reflag_with_nothing_published_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setenv("ETL_WAREHOUSE_DIR", str(tmp_path / "empty"))
    assert cli.main(["run", "--reflag"]) == cli.EXIT_OK
    assert "nothing to re-derive" in capsys.readouterr().out
    assert os.listdir(tmp_path) == []  # nothing written


def test_a_method_change_shows_theme_flags_out_of_date_until_reflagged(flagged_before: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What the UI shows: each batch of theme_flags is stale for its code version after the method
    changed, and up to date again once the reflag job ran for it (as a backfill of every partition does)."""
    from dagster._utils.test.data_versions import get_stale_status_resolver

    from etl_project.definitions import ALL_ASSETS
    from etl_project.defs.jobs import reflag_theme_flags
    from etl_project.defs.quality.checks import ALL_CHECKS
    from etl_project.defs.warehouse.assets import CORE_CODE_VERSION
    from etl_project.lib.themes import method_version
    from etl_project_tests.conftest import resources_for

    new_version = f"{CORE_CODE_VERSION}+{method_version(NEW)}"  # what the code location says once ETL_THEME_METHOD=tfidf
    assets = [
        dg.map_asset_specs(lambda spec: spec.replace_attributes(code_version=new_version) if spec.key == dg.AssetKey("theme_flags") else spec, [a])[0]
        for a in ALL_ASSETS
    ]
    instance, keys = flagged_before["instance"], batches(Warehouse(flagged_before["old"]))
    flags_key = dg.AssetKey("theme_flags")

    def causes() -> dict[str, list[str]]:
        resolver = get_stale_status_resolver(instance, assets)
        return {key: [c.reason for c in resolver.get_stale_causes(flags_key, key)] for key in keys}

    assert causes() == {key: ["has a new code version"] for key in keys}
    warehouse = copy_warehouse(flagged_before["old"], tmp_path / "warehouse")
    monkeypatch.setenv("ETL_THEME_METHOD", NEW)
    defs = dg.Definitions(assets=assets, asset_checks=ALL_CHECKS, jobs=[reflag_theme_flags], resources=resources_for(tmp_path / "no-raw", warehouse))
    job = defs.resolve_job_def("reflag_theme_flags")
    for key in keys:
        assert job.execute_in_process(instance=instance, partition_key=key).success
    assert causes() == {key: [] for key in keys}
    assert flags(warehouse).equals(flagged_before["expected"])


def test_flags_that_break_the_contract_publish_nothing_and_alert(flagged_before: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import etl_project.lib.pipeline as pipeline
    from etl_project.lib.alerts import read_alerts

    warehouse = copy_warehouse(flagged_before["old"], tmp_path / "warehouse")
    before = flags(warehouse)
    real = pipeline.flag_themes
    monkeypatch.setattr(pipeline, "flag_themes", lambda turns, method=None: real(turns, method).with_columns(pl.lit(99, dtype=pl.Int32).alias("n_flags")))
    monkeypatch.setenv("ETL_CORE_WORKERS", "1")  # flagged in this process, where the broken flagger is
    monkeypatch.setenv("ETL_THEME_METHOD", NEW)
    keys = batches(Warehouse(warehouse))
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("ingest_batches", keys)
    alerts = tmp_path / "alerts.jsonl"
    result = job_for(tmp_path / "no-raw", warehouse, job="reflag_theme_flags", alerts_path=str(alerts)).execute_in_process(
        instance=instance, partition_key=keys[-1], raise_on_error=False
    )
    assert not result.success
    assert flags(warehouse).equals(before)  # nothing published
    checks = {(e.asset_key.to_user_string(), e.check_name): e.passed for e in result.get_asset_check_evaluations()}
    assert checks == {("theme_flags", "matches_contract"): False}
    [alert] = read_alerts(alerts)
    assert alert["kind"] == "check_failed" and alert["summary"].startswith("reflag not published: theme_flags.matches_contract failed")


def test_switching_methods_back_and_forth_flags_each_transcript_once_per_method(
    flagged_before: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    """The flag cache through `etl-project run --reflag`: old -> new -> old -> new flags each transcript once
    per method; a transcript whose content changed is flagged again; `prune` drops its cached rows."""
    import shutil

    import etl_project.lib.pipeline as pipeline
    from etl_project.lib import flag_cache

    warehouse = copy_warehouse(flagged_before["old"], tmp_path / "warehouse")
    raw = tmp_path / "raw"
    shutil.copytree(flagged_before["root"] / "raw", raw)
    old, new = flags(warehouse), flagged_before["expected"]
    flagged: list[str] = []  # every transcript the flagger is handed
    real = pipeline.flag_themes

    def counting(turns: pl.DataFrame | pl.LazyFrame, method: str | None = None) -> pl.DataFrame:
        flagged.extend(ids_handed_over(turns))
        return real(turns, method)

    monkeypatch.setattr(pipeline, "flag_themes", counting)
    for name, value in {"ETL_WAREHOUSE_DIR": warehouse, "ETL_RAW_DIR": raw, "DAGSTER_HOME": tmp_path / "home", "ETL_CORE_WORKERS": 1}.items():
        monkeypatch.setenv(name, str(value))  # one worker: flagged in this process, where the counter is

    def reflag_to(method: str) -> str:
        monkeypatch.setenv("ETL_THEME_METHOD", method)
        flagged.clear()
        assert cli.main(["run", "--reflag", "--no-progress"]) == cli.EXIT_OK
        return capsys.readouterr().out

    assert "9 transcript(s) flagged again, 0 from the flag cache" in reflag_to(NEW)
    assert len(flagged) == 9 and flags(warehouse).equals(new)
    assert "0 transcript(s) flagged again, 9 from the flag cache" in reflag_to(OLD)
    assert flagged == [] and flags(warehouse).equals(old)  # the very rows the old method published
    assert "0 transcript(s) flagged again, 9 from the flag cache" in reflag_to(NEW)
    assert flagged == [] and flags(warehouse).equals(new)
    assert (warehouse / flag_cache.CACHE).is_symlink()  # versioned with the tables: switched in the same commit

    # one transcript's content changes: the core flags it (by NEW, published now); its cached OLD row is stale
    changed = sorted(raw.glob("work_*.md"))[0]
    changed.write_text(changed.read_text(encoding="utf-8") + "\n\nUser: I now check every answer it gives me twice.\n", encoding="utf-8")
    flagged.clear()
    assert cli.main(["run", "--no-progress"]) == cli.EXIT_OK
    [changed_id] = flagged
    capsys.readouterr()
    assert "1 transcript(s) flagged again, 8 from the flag cache" in reflag_to(OLD)
    assert flagged == [changed_id]

    # prune: a transcript whose file is gone leaves the table and every cache folder
    gone = sorted(raw.glob("science_*.md"))[0]
    gone_id = gone.stem  # files of the sample are named by their id
    cached_ids = lambda: {i for t in flag_cache.cache_tables(Warehouse(warehouse)) for i in Warehouse(warehouse).read(t)["transcript_id"]}
    assert gone_id in cached_ids()
    gone.unlink()
    assert cli.main(["prune"]) == cli.EXIT_OK
    assert gone_id not in cached_ids() and gone_id not in set(flags(warehouse)["transcript_id"])


def test_a_plain_run_after_a_method_change_brings_the_flags_to_the_new_method(
    flagged_before: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    """`ETL_THEME_METHOD=tfidf etl-project run` (what `make run` runs) on a warehouse flagged by the lexicon,
    with no new file: the flags are re-derived from the stored turns, not left on the old method."""
    import shutil

    warehouse = copy_warehouse(flagged_before["old"], tmp_path / "warehouse")
    raw = tmp_path / "raw"
    shutil.copytree(flagged_before["root"] / "raw", raw)
    for name, value in {"ETL_WAREHOUSE_DIR": warehouse, "ETL_RAW_DIR": raw, "DAGSTER_HOME": tmp_path / "home", "ETL_THEME_METHOD": NEW}.items():
        monkeypatch.setenv(name, str(value))
    assert cli.main(["run", "--no-progress"]) == cli.EXIT_OK
    assert "9 transcript(s) flagged again" in capsys.readouterr().out
    assert flags(warehouse).equals(flagged_before["expected"])
    assert cli.main(["run", "--no-progress"]) == cli.EXIT_OK  # now in step: nothing to do
    assert capsys.readouterr().out.startswith("nothing to do")

"""The dg project shape: `[tool.dg]`, definitions loaded from the defs/ folder, `dg check defs` passing."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import dagster as dg
from dagster.components.definitions import LazyDefinitions

from etl_project_tests.conftest import PROJECT_ROOT

# What the code location held when definitions.py listed everything by hand (plus reflag_theme_flags):
# loading from defs/ must find the same, no more and no less.
EXPECTED = {
    "assets": ["quarantine", "theme_flags", "theme_prevalence", "theme_report", "transcripts", "turns"],
    "checks": [
        "quarantine:matches_contract", "theme_flags:matches_contract", "theme_prevalence:contract",
        "transcripts:every_split_present", "transcripts:ids_unique", "transcripts:matches_contract",
        "transcripts:participant_share_of_words", "transcripts:published_ids_unique", "transcripts:repair_is_stable",
        "transcripts:residual_mojibake_share", "transcripts:turns_in_range", "turns:empty_turns_share", "turns:matches_contract",
    ],
    "jobs": ["__ASSET_JOB", "prune_warehouse", "reflag_theme_flags", "warehouse_job"],
    "sensors": ["alert_on_run_failure", "raw_folder_sensor", "warehouse_freshness"],
    "schedules": ["daily_safety_net"],
    "resources": ["alerter", "raw_folder", "warehouse"],
}


def inventory(defs: dg.Definitions) -> dict[str, list[str]]:
    graph = defs.resolve_asset_graph()
    return {
        "assets": sorted(k.to_user_string() for k in graph.get_all_asset_keys()),
        "checks": sorted(f"{c.asset_key.to_user_string()}:{c.name}" for c in graph.asset_check_keys),
        "jobs": sorted(j.name for j in defs.resolve_all_job_defs()),
        "sensors": sorted(s.name for s in defs.sensors or []),
        "schedules": sorted(s.name for s in defs.schedules or []),
        "resources": sorted(defs.resources or {}),
    }


def test_pyproject_declares_a_dg_project_on_the_same_module_as_workspace_yaml() -> None:
    config = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["tool"]
    project = config["dg"]["project"]
    assert config["dg"]["directory_type"] == "project"
    assert project["defs_module"] == "etl_project.defs"
    assert project["code_location_target_module"] == config["dagster"]["module_name"] == "etl_project.definitions"
    assert "module_name: etl_project.definitions" in (PROJECT_ROOT / "workspace.yaml").read_text()


def test_the_defs_folder_holds_every_definition_and_the_location_adds_resources() -> None:
    from etl_project.definitions import build_definitions

    assert inventory(build_definitions()) == EXPECTED
    folder = dg.load_from_defs_folder(path_within_project=PROJECT_ROOT)
    assert not folder.resources and folder.executor is None  # both come from definitions.py
    assert sorted({j.name for j in folder.jobs} | {"__ASSET_JOB"}) == EXPECTED["jobs"]
    with_resources = dg.Definitions.merge(folder, dg.Definitions(resources=build_definitions().resources))
    assert inventory(with_resources) == EXPECTED


def test_the_cli_definitions_are_the_code_location_without_the_plugin_catalogue(monkeypatch, tmp_path: Path) -> None:
    """`etl-project` builds its job from the same defs folder, without the installed component-type catalogue
    (which imports every Dagster integration); importing the module builds nothing (the location is lazy)."""
    import etl_project.definitions as definitions

    full, cli_side = definitions.build_definitions(), definitions.build_definitions(plugin_catalog=False)
    assert inventory(cli_side) == inventory(full) == EXPECTED
    assert (full.metadata or {}).keys() - (cli_side.metadata or {}).keys() == {"plugin_component_types_json"}
    assert sorted(n.name for n in cli_side.resolve_job_def("warehouse_job").graph.nodes) == sorted(n.name for n in full.resolve_job_def("warehouse_job").graph.nodes)
    monkeypatch.setattr(definitions, "PROJECT_ROOT", tmp_path)  # an installed package: the same, both ways
    assert inventory(definitions.build_definitions(plugin_catalog=False)) == EXPECTED
    assert isinstance(definitions.defs, LazyDefinitions)  # what Dagster's loaders call when they load the location
    assert inventory(definitions.defs()) == EXPECTED


def test_an_installed_package_without_pyproject_loads_the_same(monkeypatch, tmp_path: Path) -> None:
    import etl_project.definitions as definitions

    monkeypatch.setattr(definitions, "PROJECT_ROOT", tmp_path)  # no pyproject.toml there, as in site-packages
    assert inventory(definitions.build_definitions()) == EXPECTED


def test_every_job_sensor_and_schedule_is_described() -> None:
    from etl_project.definitions import build_definitions

    defs = build_definitions()
    described = [*(j for j in defs.resolve_all_job_defs() if j.name != "__ASSET_JOB"), *defs.sensors, *defs.schedules]
    assert [d.name for d in described if not d.description] == []


def test_the_cluster_profile_still_brings_its_executor(monkeypatch) -> None:
    from etl_project.definitions import build_definitions

    monkeypatch.setenv("ETL_PROFILE", "cluster")
    monkeypatch.setenv("ETL_WAREHOUSE_DIR", "s3://bucket/prefix")
    monkeypatch.setenv("ETL_WAREHOUSE_LOCK_URL", "postgresql://user:pw@localhost:5432/db")
    defs = build_definitions()
    assert defs.executor is dg.in_process_executor
    assert inventory(defs) == EXPECTED


def test_dg_check_defs_passes(tmp_path: Path) -> None:
    (tmp_path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path), "PYTHONPATH": str(PROJECT_ROOT), "NO_COLOR": "1"}
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "dg"), "check", "defs"],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300, env=env,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "All definitions loaded successfully" in proc.stdout + proc.stderr


def test_every_asset_has_owners_tags_and_a_code_version() -> None:
    from etl_project.definitions import build_definitions

    graph = build_definitions().resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        assert node.owners == ["team:data-engineering"], key
        assert node.code_version and node.tags.get("layer") and node.tags.get("pii"), key
    from etl_project.lib.themes import method_version

    assert graph.get(dg.AssetKey("theme_flags")).code_version.endswith(f"+{method_version()}")  # a method change shows as a new code version

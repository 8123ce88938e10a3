"""Shared fixtures: temp raw folders and warehouses, the shipped sample, a file writer."""

from __future__ import annotations

import os
from pathlib import Path

import polars as pl
import pytest

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SAMPLE_RAW = PROJECT_ROOT / "data" / "raw"
DEV_LABELS = PROJECT_ROOT / "data" / "themes" / "dev_labels.jsonl"


def dialog(*turns: tuple[str, str]) -> str:
    """Release-style dialog text from (label, text) pairs."""
    return "\n\n".join(f"{label}: {text}" if text else f"{label}:" for label, text in turns)


SIMPLE_DIALOG = dialog(
    ("Assistant", "Hi! Could you tell me how AI fits into your work?"),
    ("User", "I use it to draft emails, and I always double check what it gives me."),
    ("AI", "Thanks. What tasks do you keep for yourself?"),
    ("User", "Anything with clients. I like to handle that myself."),
)


def md_transcript(transcript_id: str, body: str = SIMPLE_DIALOG, dialog_number: int = 1) -> str:
    return f"# Dialog {dialog_number:05d}\n\n**Transcript ID:** {transcript_id}\n\n---\n\n{body}\n"


@pytest.fixture
def raw_dir(tmp_path: Path) -> Path:
    path = tmp_path / "raw"
    path.mkdir()
    return path


@pytest.fixture
def warehouse_dir(tmp_path: Path) -> Path:
    path = tmp_path / "warehouse"
    path.mkdir()
    return path


def resources_for(raw: Path, warehouse: Path, **alerter_options) -> dict:
    from etl_project.defs.resources import Alerter, RawFolder, WarehouseResource

    wh = WarehouseResource(root=str(warehouse))
    return {"raw_folder": RawFolder(path=str(raw)), "warehouse": wh, "alerter": Alerter(warehouse=wh, **alerter_options)}


def job_for(raw: Path, warehouse: Path, *, job: str = "warehouse_job", **alerter_options):
    """The project's real ``warehouse_job`` (or ``job``: assets, checks, jobs from etl_project) on temp folders."""
    import dagster as dg

    from etl_project.definitions import ALL_ASSETS
    from etl_project.defs.jobs import reflag_theme_flags, warehouse_job
    from etl_project.defs.quality.checks import ALL_CHECKS

    defs = dg.Definitions(
        assets=ALL_ASSETS, asset_checks=ALL_CHECKS, jobs=[warehouse_job, reflag_theme_flags], resources=resources_for(raw, warehouse, **alerter_options)
    )
    return defs.resolve_job_def(job)


def run_batches(raw: Path, warehouse: Path, keys: list[str], *, instance=None, reprocess: bool = False, **alerter_options) -> list:
    """One run of the real job per batch key, as the sensor or ``etl-project run`` would start them."""
    import dagster as dg

    from etl_project.defs.ingest.partitions import ingest_batches

    instance = instance or dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(ingest_batches.name, keys)
    job = job_for(raw, warehouse, **alerter_options)
    return [
        job.execute_in_process(
            instance=instance, partition_key=key, run_config={"ops": {"warehouse_tables": {"config": {"reprocess": reprocess}}}}, raise_on_error=False
        )
        for key in keys
    ]


def materialize_all(
    raw: Path,
    warehouse: Path,
    *,
    expect_success: bool = True,
    reprocess: bool = False,
    instance=None,
    caps: dict | None = None,
    **alerter_options,
):
    """Claim the pending raw files as batches and run the real job for each; returns the last run's result."""
    from etl_project.lib.batches import claim_pending
    from etl_project.lib.warehouse import Warehouse

    keys, _ = claim_pending(Warehouse(warehouse), raw, everything=reprocess, **(caps or {}))
    results = run_batches(raw, warehouse, keys, instance=instance, reprocess=reprocess, **alerter_options)
    if expect_success:
        for result in results:
            assert result.success, [e.message for e in result.all_events if e.is_failure]
    return results[-1]


@pytest.fixture(scope="session", autouse=True)
def project_warehouse_untouched():
    """No test may write into the project's own data/warehouse (every run here uses temp folders)."""
    root = PROJECT_ROOT / "data" / "warehouse"
    before = sorted(p.name for p in root.iterdir())
    yield
    assert sorted(p.name for p in root.iterdir()) == before, "a test wrote into data/warehouse"


def ids_handed_over(turns: pl.DataFrame | pl.LazyFrame) -> list[str]:
    """The distinct transcript ids in a turns frame or scan (for spies on the flagger, which the core hands a scan)."""
    return turns.lazy().select(pl.col("transcript_id").unique().sort()).collect().to_series().to_list()

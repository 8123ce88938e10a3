"""Shared fixtures: temp raw folders and warehouses, the shipped sample, a file writer."""

from __future__ import annotations

import os
from pathlib import Path

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


def materialize_all(
    raw: Path,
    warehouse: Path,
    *,
    expect_success: bool = True,
    reprocess: bool = False,
    instance=None,
    extra_assets: list | None = None,
    **alerter_options,
):
    """Claim the pending raw files as a batch and materialize every asset and check for it."""
    import dagster as dg

    from etl_project.definitions import ALL_ASSETS
    from etl_project.defs.ingest.partitions import ingest_batches
    from etl_project.defs.quality.checks import ALL_CHECKS
    from etl_project.lib.batches import claim_pending
    from etl_project.lib.warehouse import Warehouse

    instance = instance or dg.DagsterInstance.ephemeral()
    key, _ = claim_pending(Warehouse(warehouse), raw, everything=reprocess)
    instance.add_dynamic_partitions(ingest_batches.name, [key])
    result = dg.materialize(
        [*ALL_ASSETS, *ALL_CHECKS, *(extra_assets or [])],
        resources=resources_for(raw, warehouse, **alerter_options),
        instance=instance,
        partition_key=key,
        run_config={"ops": {"raw_transcripts": {"config": {"reprocess": reprocess}}}},
        raise_on_error=False,
    )
    if expect_success:
        assert result.success, [e.message for e in result.all_events if e.is_failure]
    return result

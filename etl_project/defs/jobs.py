"""The jobs: the whole pipeline for one ingest batch, and the re-derivation of the theme flags."""

import dagster as dg

warehouse_job = dg.define_asset_job(
    "warehouse_job",
    selection=dg.AssetSelection.all(),
    description="Every asset and check for one ingest batch: its raw files -> the warehouse tables.",
)

REFLAG_SELECTION = dg.AssetSelection.assets("theme_flags").downstream()
"""theme_flags alone (warehouse_tables runs its reflag body, defs/warehouse/assets.py), then theme_prevalence and theme_report."""

reflag_theme_flags = dg.define_asset_job(
    "reflag_theme_flags",
    selection=REFLAG_SELECTION,
    description="Re-derive theme_flags from the stored turns with the current method (after a method change: its "
    "code version differs), then theme_prevalence and theme_report. No raw file is read; transcripts whose flags are "
    "already of this method version are skipped. Any batch as partition: the whole table is covered.",
)

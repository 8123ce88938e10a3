"""The job that runs the whole pipeline for one ingest batch."""

import dagster as dg

warehouse_job = dg.define_asset_job(
    "warehouse_job",
    selection=dg.AssetSelection.all(),
    description="Every asset and check for one ingest batch: its raw files -> the warehouse tables.",
)

"""The job that runs the whole pipeline for one ingest batch."""

import dagster as dg

from etl_project.defs.ingest.partitions import ingest_batches

warehouse_job = dg.define_asset_job(
    "warehouse_job",
    selection=dg.AssetSelection.all(),
    partitions_def=ingest_batches,
    description="Every asset and check for one ingest batch: its raw files -> the warehouse tables.",
)

"""The pipeline's partitions: one per ingest batch (a set of raw files claimed together).

An operator acts on batches: re-run one (it reads the same files again),
backfill several, see in the UI which failed. A cold start claims every file
in one batch, so 1,250 files are one run, not 1,250.
"""

import dagster as dg

ingest_batches = dg.DynamicPartitionsDefinition(name="ingest_batches")

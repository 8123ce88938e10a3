"""Ingest: the files of one batch become records (good or rejected)."""

import dagster as dg
import polars as pl
from pydantic import Field

from etl_project.defs.ingest.partitions import ingest_batches
from etl_project.defs.metadata import counts_by
from etl_project.defs.resources import RawFolder, WarehouseResource
from etl_project.lib.batches import files_of
from etl_project.lib.readers import read_raw_folder
from etl_project.lib.transform import identify


class IngestConfig(dg.Config):
    reprocess: bool = Field(
        default=False,
        description="Process every file of the batch, also those whose content (SHA-256) is already in the warehouse.",
    )


@dg.asset(group_name="ingest", kinds={"polars"}, partitions_def=ingest_batches)
def raw_transcripts(
    context: dg.AssetExecutionContext, config: IngestConfig, raw_folder: RawFolder, warehouse: WarehouseResource
) -> dg.Output[pl.DataFrame]:
    """One record per candidate transcript in the batch's files, with its source and id.

    Files whose content is already in the warehouse are skipped unless
    ``reprocess`` is set. Records that cannot become transcripts (unreadable
    file, no id, unsafe id, empty text, ...) carry a ``reject_reason`` and end
    in ``quarantine``.
    """
    wh = warehouse.get()
    claimed = set(files_of(wh, context.partition_key))
    records, n_files = read_raw_folder(raw_folder.root, max_file_bytes=raw_folder.max_file_bytes, only=claimed)
    found = set(records.get_column("source_file").unique())
    missing = sorted(claimed - found)
    for path in missing[:20]:
        context.log.warning("file of batch %s is gone from the raw folder: %s", context.partition_key, path)
    unchanged = 0
    if not config.reprocess and records.height:
        known = wh.known_sources()
        before = records.get_column("source_file").n_unique()
        records = records.join(known, on=["source_file", "source_sha256"], how="anti")
        unchanged = before - records.get_column("source_file").n_unique()
    records = identify(records, max_transcript_chars=raw_folder.max_transcript_chars)
    rejected = records.filter(pl.col("reject_reason").is_not_null())
    for row in rejected.select("source_file", "source_record", "reject_reason").iter_rows():
        context.log.warning("rejected %s %s: %s", row[0], row[1], row[2])
    return dg.Output(
        records,
        metadata={
            "batch": context.partition_key,
            "files_in_batch": len(claimed),
            "files_read": n_files,
            "files_unchanged_skipped": unchanged,
            "files_missing": len(missing),
            "records": records.height,
            "rejected": rejected.height,
            "records_by_format": counts_by(records.filter(pl.col("source_format").is_not_null()), "source_format"),
            "raw_folder": str(raw_folder.root),
        },
    )

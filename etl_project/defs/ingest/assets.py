"""Ingest: every file under the raw folder becomes records (good or rejected)."""


import dagster as dg
import polars as pl

from etl_project.defs.metadata import counts_by
from etl_project.defs.resources import RawFolder
from etl_project.lib.readers import read_raw_folder
from etl_project.lib.transform import identify


@dg.asset(group_name="ingest", kinds={"polars"})
def raw_transcripts(context: dg.AssetExecutionContext, raw_folder: RawFolder) -> dg.Output[pl.DataFrame]:
    """One record per candidate transcript found under the raw folder, with its source and id.

    Records that cannot become transcripts (unreadable file, no id, unsafe id,
    empty text, ...) carry a ``reject_reason`` and end in ``quarantine``.
    """
    records, n_files = read_raw_folder(raw_folder.root, max_file_bytes=raw_folder.max_file_bytes)
    records = identify(records, max_transcript_chars=raw_folder.max_transcript_chars)
    rejected = records.filter(pl.col("reject_reason").is_not_null())
    for row in rejected.select("source_file", "source_record", "reject_reason").iter_rows():
        context.log.warning("rejected %s %s: %s", row[0], row[1], row[2])
    return dg.Output(
        records,
        metadata={
            "files_read": n_files,
            "records": records.height,
            "rejected": rejected.height,
            "records_by_format": counts_by(records.filter(pl.col("source_format").is_not_null()), "source_format"),
            "raw_folder": str(raw_folder.root),
        },
    )

"""Transform: repair the encoding, fold duplicates, split turns and validate."""


import datetime as dt

import dagster as dg
import polars as pl

from etl_project.defs.ingest.partitions import ingest_batches
from etl_project.defs.metadata import preview
from etl_project.lib.transform import build_tables, deduplicate, quarantine_rows, repair

_OK = pl.col("reject_reason").is_null()


@dg.asset(group_name="transform", partitions_def=ingest_batches, kinds={"polars", "ftfy"})
def repaired_transcripts(raw_transcripts: pl.DataFrame) -> dg.Output[pl.DataFrame]:
    """Records with mojibake undone (ftfy, line by line), LF line endings and one record per id."""
    repaired = deduplicate(repair(raw_transcripts))
    landed = repaired.filter(_OK)
    newly_rejected = repaired.filter(~_OK).height - raw_transcripts.filter(~_OK).height
    return dg.Output(
        repaired,
        metadata={
            "repairs_made": int(landed.get_column("n_repairs").sum() or 0),
            "transcripts_repaired": int((landed.get_column("n_repairs") > 0).sum()),
            "identical_copies_folded": int((landed.get_column("n_copies") - 1).sum() or 0),
            "conflicting_duplicates_rejected": newly_rejected,
        },
    )


@dg.multi_asset(
    group_name="transform",
    partitions_def=ingest_batches,
    outs={
        "staged_transcripts": dg.AssetOut(description="Transcripts that passed every stage, ready to publish.", kinds={"polars"}),
        "staged_turns": dg.AssetOut(description="Speaker turns of the staged transcripts.", kinds={"polars"}),
        "rejected_inputs": dg.AssetOut(description="Every input of this run that did not become a transcript, with the reason.", kinds={"polars"}),
    },
)
def staged_tables(repaired_transcripts: pl.DataFrame):
    """Split speaker turns and validate transcripts and turns against their contracts.

    A transcript whose rows break a contract is rejected with the failed check
    as its reason; the rest of the batch goes on.
    """
    now = dt.datetime.now(dt.timezone.utc)
    tables = build_tables(repaired_transcripts, ingested_at=now)
    rejected = quarantine_rows(tables.rejected, detected_at=now)
    yield dg.Output(
        tables.transcripts,
        output_name="staged_transcripts",
        metadata={"rows": tables.transcripts.height, "preview": preview(tables.transcripts.drop("text"))},
    )
    yield dg.Output(
        tables.turns,
        output_name="staged_turns",
        metadata={"rows": tables.turns.height, "preview": preview(tables.turns)},
    )
    yield dg.Output(
        rejected,
        output_name="rejected_inputs",
        metadata={"rows": rejected.height, "preview": preview(rejected)},
    )

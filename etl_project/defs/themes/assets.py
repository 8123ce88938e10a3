"""Themes: the 14 TAXONOMY.md flags per transcript, judged on participant turns."""


import dagster as dg
import polars as pl

from etl_project.defs.ingest.partitions import ingest_batches
from etl_project.defs.profiles import WAREHOUSE_WRITES_POOL
from etl_project.defs.resources import WarehouseResource
from etl_project.defs.warehouse.assets import contract_check, publish
from etl_project.lib.themes import flag_themes


@dg.asset(group_name="themes", partitions_def=ingest_batches, kinds={"parquet"}, pool=WAREHOUSE_WRITES_POOL, check_specs=[contract_check("theme_flags")], deps=["staged_transcripts"])
def theme_flags(context: dg.AssetExecutionContext, warehouse: WarehouseResource, staged_turns: pl.DataFrame) -> dg.MaterializeResult:
    """One row per transcript: 14 boolean theme flags with evidence (turn index and quote) for each true flag."""
    flags = flag_themes(staged_turns)
    result = publish(context, warehouse.get(), table="theme_flags", batch=flags)
    flag_columns = [c for c, t in flags.schema.items() if t == pl.Boolean]
    prevalence = {c: int(flags.get_column(c).sum()) for c in flag_columns}
    return dg.MaterializeResult(
        metadata={**result.metadata, "method": ", ".join(sorted({f"{m} {v}" for m, v in flags.select("method", "method_version").unique().iter_rows()})), "true_flags_in_batch": prevalence},
        check_results=result.check_results,
    )

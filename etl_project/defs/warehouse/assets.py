"""Publish: the warehouse tables analysts read, each written atomically after its contract passed."""


from collections.abc import Sequence

import dagster as dg
import pandera.polars as pa
import polars as pl

from etl_project.defs.metadata import column_schema, counts_by, preview
from etl_project.defs.resources import WarehouseResource
from etl_project.lib.warehouse import Warehouse, carry_forward, upsert
from etl_project.schemas import QuarantineModel, TranscriptsModel, TurnsModel

CONTRACT_CHECK = "matches_contract"


def contract_check(table: str) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(
        CONTRACT_CHECK,
        asset=table,
        blocking=True,
        description="Every row about to be written satisfies the table's pandera model; nothing is written otherwise.",
    )


def publish(
    context: dg.AssetExecutionContext,
    warehouse: Warehouse,
    *,
    table: str,
    model: type[pa.DataFrameModel],
    batch: pl.DataFrame,
    key: Sequence[str],
    sort_by: Sequence[str],
    partition_by: str | None = "split",
    replaces: pl.DataFrame | None = None,
    carry: tuple[str, Sequence[str]] | None = None,
) -> dg.MaterializeResult:
    """Upsert ``batch`` into ``table``: read the touched partitions, merge, validate, write.

    ``replaces`` (key columns) names existing rows to drop besides the batch's own
    keys; ``carry`` = (column, unchanged_if) keeps first-seen timestamps stable.
    """
    partitions = None if partition_by is None else batch.get_column(partition_by).unique().to_list()
    existing = warehouse.read(table, partitions=partitions) if partitions != [] else None
    if existing is not None:
        existing = existing.select(batch.columns)
    if carry is not None:
        batch = carry_forward(batch, existing, column=carry[0], key=list(key), unchanged_if=list(carry[1]))
    merged = upsert(existing, batch, key)
    if replaces is not None and existing is not None:
        stale = existing.join(replaces, on=replaces.columns, how="semi").join(batch.select(key), on=list(key), how="anti")
        merged = merged.join(stale.select(key), on=list(key), how="anti")
    try:
        model.validate(merged, lazy=True)
    except pa.errors.SchemaErrors as exc:
        # The staged rows were validated already, so this is a pipeline bug:
        # fail loudly, write nothing, leave the previous table as it was.
        raise dg.Failure(
            description=f"{table}: rows about to be written break the contract; nothing was written",
            metadata={"failure_cases": preview(exc.failure_cases, rows=20)},
        ) from exc
    files = warehouse.write_partitioned(table, merged, partition_by=partition_by, sort_by=sort_by)
    total = merged.height
    metadata: dict = {
        "dagster/row_count": total,
        "rows_in_batch": batch.height,
        "files_written": len(files),
        "path": str(warehouse.table_dir(table)),
        "dagster/column_schema": column_schema(model),
        "preview": preview(merged.drop("text", strict=False)),
    }
    if partition_by is not None and merged.height:
        metadata["rows_by_" + partition_by] = counts_by(merged, partition_by)
    context.log.info("%s: %d rows in the touched partitions after merging %d from this run", table, total, batch.height)
    return dg.MaterializeResult(
        metadata=metadata,
        check_results=[
            dg.AssetCheckResult(check_name=CONTRACT_CHECK, passed=True, metadata={"rows_validated": total})
        ],
    )


@dg.asset(group_name="warehouse", kinds={"parquet"}, check_specs=[contract_check("transcripts")])
def transcripts(context: dg.AssetExecutionContext, warehouse: WarehouseResource, staged_transcripts: pl.DataFrame) -> dg.MaterializeResult:
    """One row per interview: repaired text, counts and provenance. Partitioned by split."""
    return publish(
        context, warehouse.get(), table="transcripts", model=TranscriptsModel, batch=staged_transcripts,
        key=["transcript_id"], sort_by=["transcript_id"], carry=("ingested_at", ["text_sha256"]),
    )


@dg.asset(group_name="warehouse", kinds={"parquet"}, check_specs=[contract_check("turns")])
def turns(context: dg.AssetExecutionContext, warehouse: WarehouseResource, staged_turns: pl.DataFrame) -> dg.MaterializeResult:
    """One row per speaker turn, in interview order. Partitioned by split."""
    return publish(
        context, warehouse.get(), table="turns", model=TurnsModel, batch=staged_turns,
        key=["transcript_id"], sort_by=["transcript_id", "turn_index"],
    )


@dg.asset(group_name="warehouse", kinds={"parquet"}, check_specs=[contract_check("quarantine")])
def quarantine(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, rejected_inputs: pl.DataFrame, raw_transcripts: pl.DataFrame
) -> dg.MaterializeResult:
    """Every input that could not become a valid transcript, with the reason. Not partitioned.

    The rows of a file read in this run replace that file's earlier rows (a
    fixed file leaves the quarantine); files not read in this run keep theirs.
    """
    seen = raw_transcripts.select("source_file").unique()
    for row in rejected_inputs.select("source_file", "source_record", "reason").iter_rows():
        context.log.warning("quarantined %s %s: %s", *row)
    return publish(
        context, warehouse.get(), table="quarantine", model=QuarantineModel, batch=rejected_inputs,
        key=["source_file", "source_record"], sort_by=["source_file", "source_record"], partition_by=None,
        replaces=seen, carry=("detected_at", ["source_sha256", "reason"]),
    )

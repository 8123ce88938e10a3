"""Publish: the warehouse tables analysts read, each written atomically after its contract passed."""


import dagster as dg
import polars as pl

from etl_project.defs.ingest.partitions import ingest_batches
from etl_project.defs.metadata import column_schema, counts_by, preview
from etl_project.defs.profiles import WAREHOUSE_WRITES_POOL
from etl_project.defs.resources import Alerter, WarehouseResource
from etl_project.lib.alerts import Alert
from etl_project.lib.warehouse import ContractViolation, Warehouse, publish_table
from etl_project.lib.pipeline import TABLES

CONTRACT_CHECK = "matches_contract"


def contract_check(table: str) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(
        CONTRACT_CHECK,
        asset=table,
        blocking=True,
        description="Every row about to be written satisfies the table's pandera model; nothing is written otherwise.",
    )


def publish(context: dg.AssetExecutionContext, warehouse: Warehouse, *, table: str, **options) -> dg.MaterializeResult:
    """Upsert a batch into a table (see :func:`publish_table`, options from ``TABLES``) and report it.

    The contract is checked on the merged rows before anything is written; a
    violation is a pipeline bug (staged rows were validated already), so the
    step fails, nothing is written and the previous table stays as it was.
    """
    try:
        done = publish_table(warehouse, table=table, **TABLES[table], **options)
    except ContractViolation as exc:
        raise dg.Failure(description=str(exc), metadata={"failure_cases": preview(exc.failure_cases, rows=20)}) from exc
    metadata: dict = {
        "dagster/row_count": done.rows_in_table,
        "rows_in_batch": done.rows_in_batch,
        "rows_in_touched_files": done.rows_in_touched_partitions,
        "files_written": len(done.files),
        "path": str(warehouse.table_dir(table)),
        "dagster/column_schema": column_schema(TABLES[table]["model"]),
        "preview": preview(done.merged.drop("text", strict=False)),
    }
    if "split" in done.merged.columns and done.merged.height:
        metadata["touched_rows_by_split"] = counts_by(done.merged, "split")
    context.log.info("%s: %d rows from this run merged; %d rows in the table", table, done.rows_in_batch, done.rows_in_table)
    return dg.MaterializeResult(
        metadata=metadata,
        check_results=[dg.AssetCheckResult(check_name=CONTRACT_CHECK, passed=True, metadata={"rows_validated": done.rows_in_touched_partitions})],
    )


@dg.asset(group_name="warehouse", partitions_def=ingest_batches, kinds={"parquet"}, pool=WAREHOUSE_WRITES_POOL, check_specs=[contract_check("transcripts")])
def transcripts(context: dg.AssetExecutionContext, warehouse: WarehouseResource, staged_transcripts: pl.DataFrame) -> dg.MaterializeResult:
    """One row per interview: repaired text, counts and provenance. Partitioned by split."""
    return publish(context, warehouse.get(), table="transcripts", batch=staged_transcripts)


@dg.asset(group_name="warehouse", partitions_def=ingest_batches, kinds={"parquet"}, pool=WAREHOUSE_WRITES_POOL, check_specs=[contract_check("turns")], deps=["staged_transcripts"])
def turns(context: dg.AssetExecutionContext, warehouse: WarehouseResource, staged_turns: pl.DataFrame) -> dg.MaterializeResult:
    """One row per speaker turn, in interview order. Partitioned by split."""
    return publish(context, warehouse.get(), table="turns", batch=staged_turns)


@dg.asset(group_name="warehouse", partitions_def=ingest_batches, kinds={"parquet"}, pool=WAREHOUSE_WRITES_POOL, check_specs=[contract_check("quarantine")])
def quarantine(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    alerter: Alerter,
    rejected_inputs: pl.DataFrame,
    raw_transcripts: pl.DataFrame,
) -> dg.MaterializeResult:
    """Every input that could not become a valid transcript, with the reason. Not partitioned.

    The rows of a file read in this run replace that file's earlier rows (a
    fixed file leaves the quarantine); files not read in this run keep theirs.
    Rows not seen before raise one alert per run.
    """
    seen = raw_transcripts.select("source_file").unique()
    before = warehouse.get().read("quarantine")
    new = rejected_inputs if before is None else rejected_inputs.join(
        before, on=["source_file", "source_record", "source_sha256", "reason"], how="anti", nulls_equal=True
    )
    result = publish(context, warehouse.get(), table="quarantine", batch=rejected_inputs, replaces=seen)
    if new.height:
        listed = new.select("source_file", "source_record", "transcript_id", "reason").head(20).to_dicts()
        alerter.raise_alert(
            context.log,
            Alert(
                kind="quarantine",
                severity="WARN",
                summary=f"{new.height} new input(s) quarantined, e.g. {listed[0]['source_file']}: {listed[0]['reason']}",
                details={"new_rows": new.height, "examples": listed},
                run_id=context.run.run_id,
            ),
        )
    return dg.MaterializeResult(metadata={**result.metadata, "new_rows": new.height}, check_results=result.check_results)

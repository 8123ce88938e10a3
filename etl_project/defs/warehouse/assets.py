"""The warehouse tables: one asset per table, all four made by one call into the pipeline's core.

``warehouse_tables`` is the only place rows are made, whatever starts the run (``etl-project run``,
the sensor, the schedule, a launch or backfill in the UI, the cluster). Its body is
:func:`etl_project.lib.pipeline.run_batch` over the partition's files: stage in a run-owned scratch
folder, run the blocking checks on the staged rows, then publish all four tables as one commit.
Nothing crosses an IO manager: the step returns metadata, never frames.

The step is subsettable for one purpose: selected alone (job ``reflag_theme_flags``, or
``theme_flags`` picked in the UI when its code version shows the flagging method changed),
``theme_flags`` is re-derived from the stored ``turns`` (:func:`etl_project.lib.reflag.reflag`), with
no raw file read. Any other subset is refused: the core makes the four tables together.
"""


import datetime as dt
import os
from collections.abc import Iterator
from typing import Optional

import dagster as dg
from pydantic import Field

from etl_project.defs.ingest.partitions import ingest_batches
from etl_project.defs.metadata import OWNERS, column_schema, preview
from etl_project.defs.profiles import WAREHOUSE_WRITES_POOL
from etl_project.defs.quality.checks import CHECK_STEPS
from etl_project.defs.resources import Alerter, RawFolder, WarehouseResource
from etl_project.lib.alerts import Alert
from etl_project.lib.expectations import warm_in_worker
from etl_project.lib.pipeline import TABLES, Audit, AuditFailed, CoreRun, run_batch
from etl_project.lib.reflag import ReflagRun, reflag
from etl_project.lib.themes import method_version, resolve_method

TABLE_DESCRIPTIONS = {
    "transcripts": "One row per interview: repaired text, counts and provenance. Hive-partitioned by split.",
    "turns": "One row per speaker turn, in interview order. Hive-partitioned by split.",
    "theme_flags": "One row per transcript: 14 boolean theme flags with evidence (turn index and quote) for each true flag.",
    "quarantine": "Every input that could not become a valid transcript, with the reason. One file.",
}
GROUP = {"transcripts": "warehouse", "turns": "warehouse", "theme_flags": "themes", "quarantine": "warehouse"}

# The blocking checks: run on the staged rows, before anything is published (lib/pipeline.py).
AUDITS: dict[tuple[str, str], str] = {
    **{(table, "matches_contract"): "Every row about to be written satisfies the table's pandera model; nothing is published otherwise." for table in TABLES},
    ("transcripts", "ids_unique"): "Every staged transcript id is unique (checked before publishing).",
    ("transcripts", "repair_is_stable"): "A second repair pass changes (almost) nothing: only a broken repair fails this; text still judged "
    "damaged is kept and marked residual_mojibake instead.",
}


class WarehouseRunConfig(dg.Config):
    reprocess: bool = Field(
        default=False,
        description="Process every file of the batch, also those whose content (SHA-256) is already in the warehouse.",
    )
    theme_method: Optional[str] = Field(
        default=None,
        description="Theme flagging method (terms_lexicon, minilm_tfidf_lexicon, tfidf_lexicon, tfidf, lexicon; default, best); default: ETL_THEME_METHOD, else terms_lexicon.",
    )


CORE_CODE_VERSION = "core-2"
"""Bumped when the rows the core makes for a table change for the same input (README, schema versions)."""
FRESH_WITHIN = dt.timedelta(hours=int(os.environ.get("ETL_FRESHNESS_HOURS", "26")))
"""A table is stale when no batch was published for this long: the daily schedule plus slack (ETL_FRESHNESS_HOURS)."""


def code_version(table: str) -> str:
    """What the UI compares to tell a table is out of date: the core's version, or the flagging method's."""
    return f"{CORE_CODE_VERSION}+{method_version(resolve_method())}" if table == "theme_flags" else CORE_CODE_VERSION


@dg.multi_asset(
    name="warehouse_tables",
    specs=[
        dg.AssetSpec(
            table,
            description=TABLE_DESCRIPTIONS[table],
            group_name=GROUP[table],
            kinds={"parquet", "polars"},
            metadata={"dagster/column_schema": column_schema(spec["model"])},
            code_version=code_version(table),
            owners=OWNERS,
            tags={"layer": "warehouse", "pii": "interview-text" if table in ("transcripts", "turns") else "none"},
            freshness_policy=dg.FreshnessPolicy.time_window(fail_window=FRESH_WITHIN),
        )
        for table, spec in TABLES.items()
    ],
    check_specs=[dg.AssetCheckSpec(name, asset=table, blocking=True, description=text) for (table, name), text in AUDITS.items()],
    partitions_def=ingest_batches,
    pool=WAREHOUSE_WRITES_POOL,
    can_subset=True,
)
def warehouse_tables(
    context: dg.AssetExecutionContext,
    config: WarehouseRunConfig,
    raw_folder: RawFolder,
    warehouse: WarehouseResource,
    alerter: Alerter,
) -> Iterator:
    """The batch's raw files -> transcripts, turns, theme_flags and quarantine, published together;
    theme_flags selected alone: re-derived from the stored turns (module docstring)."""
    key = context.partition_key
    selected = {asset.to_user_string() for asset in context.selected_asset_keys}
    if selected == {REFLAGGED}:
        yield from reflag_step(context, config, warehouse, alerter)
        return
    if selected != set(TABLES):
        raise dg.Failure(description=f"{', '.join(sorted(selected))}: the core makes {', '.join(TABLES)} together; "
                         f"select all four, or {REFLAGGED} alone to re-derive it from the stored turns")
    try:
        run = run_batch(
            raw_folder.root,
            warehouse.root,
            key,
            reprocess=config.reprocess,
            theme_method=config.theme_method,
            holder={"run_id": context.run.run_id},
            max_file_bytes=raw_folder.max_file_bytes,
            max_transcript_chars=raw_folder.max_transcript_chars,
            progress=lambda message: context.log.info(f"batch {key}: {message}"),
        )
    except AuditFailed as failed:
        yield from not_published(context, alerter, failed, f"batch {key}", {"batch": key})
    if dataset_checks_follow(context):
        warm_in_worker(warehouse.get().uri)  # Great Expectations imports in the core's idle worker while the other steps run
    for table in TABLES:
        yield dg.MaterializeResult(asset_key=table, metadata=table_metadata(run, table))
    yield from check_results(run.audits)
    alert_on_inputs(context, alerter, key, run)


REFLAGGED = "theme_flags"


def dataset_checks_follow(context: dg.AssetExecutionContext) -> bool:
    """Whether this run goes on to the dataset checks (not so for `etl-project run`'s batches before the last)."""
    steps = context.run.step_keys_to_execute
    return steps is None or not CHECK_STEPS.isdisjoint(steps)


def reflag_step(context: dg.AssetExecutionContext, config: WarehouseRunConfig, warehouse: WarehouseResource, alerter: Alerter) -> Iterator:
    """theme_flags from the stored turns with the configured method; transcripts already flagged by it are kept."""
    try:
        done = reflag(warehouse.root, config.theme_method, holder={"run_id": context.run.run_id}, progress=lambda message: context.log.info(f"reflag: {message}"))
    except AuditFailed as failed:
        yield from not_published(context, alerter, failed, "reflag", {"reflag": True})
    yield dg.MaterializeResult(asset_key=REFLAGGED, metadata=reflag_metadata(done))
    yield from check_results(done.audits)


def not_published(context: dg.AssetExecutionContext, alerter: Alerter, failed: AuditFailed, what: str, details: dict) -> Iterator:
    """A blocking check failed on the staged rows: report the checks, alert, fail the step (nothing was published)."""
    yield from check_results(failed.audits)
    failures = [a for a in failed.audits if not a.passed]
    alerter.raise_alert(
        context.log,
        Alert(
            kind="check_failed",
            severity="ERROR",
            summary=f"{what} not published: " + "; ".join(f"{a.table}.{a.name} failed ({a.description})" for a in failures),
            details={**details, "checks": [{"table": a.table, "check": a.name, **a.details} for a in failures]},
            run_id=context.run.run_id,
        ),
    )
    raise dg.Failure(description=str(failed), metadata={"failed_checks": [f"{a.table}.{a.name}" for a in failures]}) from failed


def reflag_metadata(done: ReflagRun) -> dict:
    return {
        "dagster/column_schema": column_schema(TABLES[REFLAGGED]["model"]),
        "dagster/row_count": done.rows_in_table,
        "method": f"{done.method} {done.method_version}",
        "transcripts_reflagged": done.reflagged,
        "transcripts_from_flag_cache": done.from_cache,
        "transcripts_already_of_this_version": done.transcripts - done.reflagged - done.from_cache,
        "rows_moved_to_flag_cache": done.stashed,
        "files_written": done.files_written,
        "seconds": round(done.seconds, 2),
        "raw_files_read": 0,
    }


def table_metadata(run: CoreRun, table: str) -> dict:
    metadata: dict = {
        "dagster/column_schema": column_schema(TABLES[table]["model"]),
        "dagster/row_count": run.rows_in_table.get(table, 0),
        "rows_from_this_batch": run.rows.get(table, 0),
        "files_written": run.files_written.get(table, 0),
    }
    if table == "transcripts":
        metadata.update(
            files_read=run.files_read,
            files_unchanged_skipped=run.files_unchanged,
            **{name: run.stats.get(name, 0) for name in ("repairs_made", "transcripts_repaired", "identical_copies_folded", "residual_mojibake")},
            seconds_by_stage={stage: round(s, 2) for stage, s in run.seconds.items()},
        )
    if table == "theme_flags":
        metadata.update(transcripts_flagged=run.stats.get("transcripts_flagged", 0), flags_reused=run.stats.get("flags_reused", 0))
    if table == "quarantine" and run.new_quarantine is not None:
        metadata["new_rows"] = run.new_quarantine.height
        if run.new_quarantine.height:
            metadata["new_rows_preview"] = preview(run.new_quarantine, rows=10)
    return metadata


def check_results(audits: list[Audit]) -> Iterator[dg.AssetCheckResult]:
    for audit in audits:
        yield dg.AssetCheckResult(
            asset_key=audit.table,
            check_name=audit.name,
            passed=audit.passed,
            severity=dg.AssetCheckSeverity.ERROR,
            description=audit.description,
            metadata={k: v if isinstance(v, (int, float, str, bool)) else dg.MetadataValue.json(v) for k, v in audit.details.items()},
        )


def alert_on_inputs(context: dg.AssetExecutionContext, alerter: Alerter, key: str, run: CoreRun) -> None:
    """One alert for newly quarantined inputs, one for transcripts still judged damaged after repair."""
    warnings = (
        ("quarantine", "new_rows", run.new_quarantine, lambda n, first: f"{n} new input(s) quarantined, e.g. {first['source_file']}: {first['reason']}"),
        ("residual_mojibake", "transcripts", run.residual,
         lambda n, first: f"{n} transcript(s) still look damaged after repair (kept, marked residual_mojibake), e.g. {first['transcript_id']}"),
    )
    for kind, counted, rows, summary in warnings:
        if rows is None or rows.is_empty():
            continue
        listed = rows.head(20).to_dicts()
        alerter.raise_alert(
            context.log,
            Alert(kind=kind, severity="WARN", summary=summary(rows.height, listed[0]), details={"batch": key, counted: rows.height, "examples": listed}, run_id=context.run.run_id),
        )

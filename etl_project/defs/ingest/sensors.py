"""Automation: a sensor for new or changed raw files, a daily safety-net schedule, failure alerts."""

import dagster as dg
import polars as pl

from etl_project.defs.ingest.partitions import ingest_batches
from etl_project.defs.jobs import warehouse_job
from etl_project.defs.resources import Alerter, RawFolder, WarehouseResource
from etl_project.lib.alerts import Alert
from etl_project.lib.batches import LISTING_SCHEMA, claim, fingerprint, pending, read_manifest, scan


def _request(key: str, n_files: int, reason: str) -> dg.RunRequest:
    return dg.RunRequest(run_key=key, partition_key=key, tags={"etl_project/trigger": reason, "etl_project/files": str(n_files)})


@dg.sensor(
    job=warehouse_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Every 30 s: new or changed files under the raw folder become one batch and one run.",
)
def raw_folder_sensor(context: dg.SensorEvaluationContext, raw_folder: RawFolder, warehouse: WarehouseResource):
    """The cursor is a fingerprint of the folder listing: an unchanged folder costs one directory walk."""
    if not raw_folder.root.is_dir():
        return dg.SkipReason(f"raw folder {raw_folder.root} does not exist")
    listing = scan(raw_folder.root)
    seen = fingerprint(listing)
    if context.cursor == seen:
        return dg.SkipReason("no file added or changed since the last tick")
    wh = warehouse.get()
    todo = pending(listing, read_manifest(wh))
    if todo.is_empty():
        return dg.SensorResult(skip_reason="every file is already in a batch", cursor=seen)
    key = claim(wh, todo)
    context.log.info("batch %s: %d new or changed file(s)", key, todo.height)
    return dg.SensorResult(
        run_requests=[_request(key, todo.height, "sensor")],
        dynamic_partitions_requests=[ingest_batches.build_add_request([key])],
        cursor=seen,
    )


@dg.schedule(
    job=warehouse_job,
    cron_schedule="0 3 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Daily at 03:00 UTC: whatever the sensor missed becomes a batch, and every check runs on the whole warehouse.",
)
def daily_safety_net(context: dg.ScheduleEvaluationContext, raw_folder: RawFolder, warehouse: WarehouseResource):
    wh = warehouse.get()
    listing = scan(raw_folder.root) if raw_folder.root.is_dir() else pl.DataFrame(schema=LISTING_SCHEMA)
    todo = pending(listing, read_manifest(wh))
    key = claim(wh, todo, now=context.scheduled_execution_time)
    context.instance.add_dynamic_partitions(ingest_batches.name, [key])
    return _request(key, todo.height, "schedule")


@dg.run_failure_sensor(default_status=dg.DefaultSensorStatus.RUNNING, description="A failed run raises an alert.")
def alert_on_run_failure(context: dg.RunFailureSensorContext, alerter: Alerter):
    run = context.dagster_run
    alerter.raise_alert(
        context.log,
        Alert(
            kind="run_failed",
            severity="ERROR",
            summary=f"run {run.run_id[:8]} of {run.job_name} failed: {context.failure_event.message}",
            details={"partition": run.tags.get("dagster/partition"), "run_id": run.run_id},
            run_id=run.run_id,
        ),
    )

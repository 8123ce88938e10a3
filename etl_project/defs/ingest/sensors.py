"""Automation: a sensor for new, changed or unfinished batches, a daily safety-net schedule, failure alerts.

Both the sensor and the schedule ask :func:`etl_project.lib.batches.next_runs` what to run, as
``etl-project run`` does: every claimed batch that was never published (its run was killed, crashed
or failed) is taken up again, then the pending files are claimed as new bounded batches, one
partition and one run each.
"""

import datetime as dt

import dagster as dg
import polars as pl

from etl_project.defs.ingest.partitions import ingest_batches
from etl_project.defs.jobs import warehouse_job
from etl_project.defs.resources import Alerter, RawFolder, WarehouseResource
from etl_project.lib.alerts import Alert
from etl_project.lib.batches import LISTING_SCHEMA, fingerprint, next_runs, scan

IN_FLIGHT = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED]
RETRY_FAILED_AFTER = dt.timedelta(hours=1)
"""The sensor retries a batch whose last run failed (rather than died) at most this often; the
daily schedule retries it whatever the time, and ``etl-project run`` at once."""


def _request(key: str, reason: str, attempt: int = 1) -> dg.RunRequest:
    run_key = key if attempt == 1 else f"{key}:attempt-{attempt}"
    return dg.RunRequest(run_key=run_key, partition_key=key, tags={"etl_project/trigger": reason})


def _resume_requests(instance: dg.DagsterInstance, keys: list[str], reason: str, *, now: dt.datetime, retry_failed_after: dt.timedelta | None) -> list[dg.RunRequest]:
    """Run requests for unfinished batches: none while a run of the batch is queued or starting; a
    batch whose last run failed waits ``retry_failed_after`` (None: no wait)."""
    requests = []
    for key in keys:
        records = instance.get_run_records(dg.RunsFilter(tags={"dagster/partition": key}), limit=50)
        last = records[0] if records else None
        if last is not None and last.dagster_run.status in IN_FLIGHT[:3]:
            continue  # queued or starting: it will take the batch
        if (
            retry_failed_after is not None
            and last is not None
            and last.dagster_run.status == dg.DagsterRunStatus.FAILURE
            and last.end_time is not None
            and now.timestamp() - last.end_time < retry_failed_after.total_seconds()
        ):
            continue
        requests.append(_request(key, reason, attempt=len(records) + 1))
    return requests


@dg.sensor(
    job=warehouse_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Every 30 s: unfinished batches run again; new or changed files (once quiet) become bounded batches, one run each.",
)
def raw_folder_sensor(context: dg.SensorEvaluationContext, raw_folder: RawFolder, warehouse: WarehouseResource):
    """The cursor is a fingerprint of the folder listing: an unchanged, settled folder costs one directory walk."""
    if not raw_folder.root.is_dir():
        return dg.SkipReason(f"raw folder {raw_folder.root} does not exist")
    wh = warehouse.get()
    listing = scan(raw_folder.root)
    seen = fingerprint(listing)
    unchanged = context.cursor == seen
    plan = next_runs(wh, raw_folder.root, listing=listing.head(0) if unchanged else listing, quiet_seconds=raw_folder.quiet_seconds, **raw_folder.caps)
    now = dt.datetime.now(dt.timezone.utc)
    requests = _resume_requests(context.instance, plan.unfinished, "sensor (unfinished batch)", now=now, retry_failed_after=RETRY_FAILED_AFTER)
    requests += [_request(key, "sensor") for key in plan.claimed]
    for key in plan.claimed:
        context.log.info("batch %s claimed", key)
    cursor = seen if not plan.changing else context.cursor  # files still changing: look again next tick
    if not requests:
        why = f"{plan.changing} file(s) still changing" if plan.changing else "no file added or changed, no unfinished batch"
        return dg.SensorResult(skip_reason=why, cursor=cursor)
    return dg.SensorResult(
        run_requests=requests,
        dynamic_partitions_requests=[ingest_batches.build_add_request(plan.claimed)] if plan.claimed else [],
        cursor=cursor,
    )


@dg.schedule(
    job=warehouse_job,
    cron_schedule="0 3 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Daily at 03:00 UTC: unfinished batches run again, whatever the sensor missed becomes a batch, and every check runs on the whole warehouse.",
)
def daily_safety_net(context: dg.ScheduleEvaluationContext, raw_folder: RawFolder, warehouse: WarehouseResource):
    wh = warehouse.get()
    listing = scan(raw_folder.root) if raw_folder.root.is_dir() else pl.DataFrame(schema=LISTING_SCHEMA)
    plan = next_runs(
        wh, raw_folder.root, listing=listing, quiet_seconds=raw_folder.quiet_seconds, claim_empty=True, now=context.scheduled_execution_time, **raw_folder.caps
    )
    context.instance.add_dynamic_partitions(ingest_batches.name, plan.claimed)
    day = context.scheduled_execution_time.strftime("%Y%m%d")
    resumed = [
        dg.RunRequest(run_key=f"{r.partition_key}:schedule-{day}", partition_key=r.partition_key, tags={"etl_project/trigger": "schedule (unfinished batch)"})
        for r in _resume_requests(context.instance, plan.unfinished, "schedule", now=context.scheduled_execution_time, retry_failed_after=None)
    ]
    return resumed + [_request(key, "schedule") for key in plan.claimed]


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

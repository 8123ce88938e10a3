"""The raw-folder sensor and the daily schedule, driven with Dagster's own test contexts: new files
once quiet, bounded batches on a cold start, unfinished batches taken up again."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import dagster as dg

from etl_project.defs.ingest.partitions import ingest_batches
from etl_project.defs.ingest.sensors import daily_safety_net, raw_folder_sensor
from etl_project.defs.resources import RawFolder, WarehouseResource
from etl_project.lib.batches import files_of
from etl_project.lib.warehouse import Warehouse
from etl_project_tests.conftest import materialize_all, md_transcript


def tick(instance: dg.DagsterInstance, raw: Path, warehouse: Path, cursor: str | None, **settings):
    settings.setdefault("quiet_seconds", 0)
    context = dg.build_sensor_context(
        instance=instance,
        cursor=cursor,
        resources={"raw_folder": RawFolder(path=str(raw), **settings), "warehouse": WarehouseResource(root=str(warehouse))},
    )
    result = raw_folder_sensor(context)
    return result, (result.cursor if isinstance(result, dg.SensorResult) else context.cursor)


def run_requests(result) -> list[dg.RunRequest]:
    return list(result.run_requests or []) if isinstance(result, dg.SensorResult) else []


def test_new_file_then_same_file_then_changed_file(raw_dir: Path, warehouse_dir: Path) -> None:
    instance = dg.DagsterInstance.ephemeral()
    (raw_dir / "work_0001.md").write_text(md_transcript("work_0001"))
    result, cursor = tick(instance, raw_dir, warehouse_dir, None)
    [request] = run_requests(result)
    assert files_of(Warehouse(warehouse_dir), request.partition_key) == ["work_0001.md"]
    assert result.dynamic_partitions_requests[0].partition_keys == [request.partition_key]
    from etl_project_tests.conftest import run_batches

    assert run_batches(raw_dir, warehouse_dir, [request.partition_key], instance=instance)[0].success  # what the daemon does

    again, cursor = tick(instance, raw_dir, warehouse_dir, cursor)
    assert run_requests(again) == []
    restarted, _ = tick(instance, raw_dir, warehouse_dir, None)  # cursor lost: the manifest still knows
    assert run_requests(restarted) == []

    (raw_dir / "work_0001.md").write_text(md_transcript("work_0001") + "\nUser: one more thing\n")
    (raw_dir / "work_0002.md").write_text(md_transcript("work_0002"))
    changed, _ = tick(instance, raw_dir, warehouse_dir, cursor)
    [second] = run_requests(changed)
    assert second.partition_key != request.partition_key
    assert files_of(Warehouse(warehouse_dir), second.partition_key) == ["work_0001.md", "work_0002.md"]


def test_hidden_files_do_not_trigger_runs(raw_dir: Path, warehouse_dir: Path) -> None:
    (raw_dir / ".DS_Store").write_bytes(b"\x00\x01")
    result, _ = tick(dg.DagsterInstance.ephemeral(), raw_dir, warehouse_dir, None)
    assert run_requests(result) == []


def test_a_file_still_changing_waits_for_the_quiet_period(raw_dir: Path, warehouse_dir: Path) -> None:
    instance = dg.DagsterInstance.ephemeral()
    (raw_dir / "work_0001.md").write_text(md_transcript("work_0001"))  # being copied in: modified just now
    waiting, cursor = tick(instance, raw_dir, warehouse_dir, None, quiet_seconds=60)
    assert run_requests(waiting) == [] and "still changing" in waiting.skip_reason.skip_message
    assert cursor is None  # the listing is looked at again next tick, though it did not change
    old = (dt.datetime.now() - dt.timedelta(minutes=5)).timestamp()
    os.utime(raw_dir / "work_0001.md", (old, old))  # it has stopped changing
    [request] = run_requests(tick(instance, raw_dir, warehouse_dir, cursor, quiet_seconds=60)[0])
    assert files_of(Warehouse(warehouse_dir), request.partition_key) == ["work_0001.md"]


def test_a_cold_start_on_many_files_is_bounded_batches(raw_dir: Path, warehouse_dir: Path) -> None:
    for i in range(300):
        (raw_dir / f"work_{i:04d}.md").write_text(md_transcript(f"work_{i:04d}"))
    result, _ = tick(dg.DagsterInstance.ephemeral(), raw_dir, warehouse_dir, None, batch_max_files=120)
    requests = run_requests(result)
    sizes = [len(files_of(Warehouse(warehouse_dir), r.partition_key)) for r in requests]
    assert sizes == [120, 120, 60]
    assert result.dynamic_partitions_requests[0].partition_keys == [r.partition_key for r in requests]


def test_sensor_batch_runs_and_lands(raw_dir: Path, warehouse_dir: Path) -> None:
    instance = dg.DagsterInstance.ephemeral()
    (raw_dir / "work_0001.md").write_text(md_transcript("work_0001"))
    result, _ = tick(instance, raw_dir, warehouse_dir, None)
    [request] = run_requests(result)
    # what the daemon does with the request: run the job for that partition
    from etl_project_tests.conftest import run_batches

    (run,) = run_batches(raw_dir, warehouse_dir, [request.partition_key], instance=instance)
    assert run.success
    assert Warehouse(warehouse_dir).read("transcripts").get_column("transcript_id").to_list() == ["work_0001"]


def test_an_unfinished_batch_is_taken_up_again_with_no_key_to_know(raw_dir: Path, warehouse_dir: Path) -> None:
    """A batch claimed by a tick whose run then died (killed worker, lost container): the sensor runs it again."""
    with dg.instance_for_test() as instance:
        (raw_dir / "work_0001.md").write_text(md_transcript("work_0001"))
        result, cursor = tick(instance, raw_dir, warehouse_dir, None)
        [first] = run_requests(result)
        instance.add_dynamic_partitions(ingest_batches.name, [first.partition_key])
        # the run was created and then died before publishing: recorded as failed long ago
        from etl_project.definitions import build_definitions

        job = build_definitions().resolve_job_def("warehouse_job")
        run = instance.create_run_for_job(job, run_config={}, tags={"dagster/partition": first.partition_key})
        instance.report_run_failed(run)
        record = instance.get_run_records(dg.RunsFilter(run_ids=[run.run_id]))[0]
        assert record.dagster_run.status == dg.DagsterRunStatus.FAILURE

        soon, cursor = tick(instance, raw_dir, warehouse_dir, cursor)
        assert run_requests(soon) == []  # a failed batch is not retried every 30 s

        from etl_project.defs.ingest import sensors

        later = sensors._resume_requests(instance, [first.partition_key], "sensor", now=dt.datetime.now(dt.timezone.utc) + sensors.RETRY_FAILED_AFTER * 2, retry_failed_after=sensors.RETRY_FAILED_AFTER)
        [again] = later
        assert again.partition_key == first.partition_key and again.run_key != first.run_key

        never_started = dg.RunsFilter(tags={"dagster/partition": first.partition_key})
        instance.delete_run(run.run_id)  # a batch whose run never even got recorded (killed before launch)
        assert not instance.get_run_records(never_started)
        [resumed] = run_requests(tick(instance, raw_dir, warehouse_dir, cursor)[0])
        assert resumed.partition_key == first.partition_key


def test_daily_schedule_claims_what_is_left_and_always_runs(raw_dir: Path, warehouse_dir: Path) -> None:
    with dg.instance_for_test() as instance:
        check_schedule(instance, raw_dir, warehouse_dir)


def check_schedule(instance: dg.DagsterInstance, raw_dir: Path, warehouse_dir: Path) -> None:
    (raw_dir / "work_0001.md").write_text(md_transcript("work_0001"))
    materialize_all(raw_dir, warehouse_dir)
    (raw_dir / "work_0002.md").write_text(md_transcript("work_0002"))
    os.utime(raw_dir / "work_0002.md", (1_000_000_000, 1_000_000_000))  # an old mtime a watcher could miss

    def schedule_tick() -> dg.RunRequest:
        # as a context manager: a schedule context left open keeps the instance it entered as the
        # process's current one, and every later Definitions load resolves that dead instance
        with dg.build_schedule_context(
            instance=instance,
            scheduled_execution_time=dt.datetime(2026, 12, 2, 3, 0, tzinfo=dt.timezone.utc),
            resources={"raw_folder": RawFolder(path=str(raw_dir)), "warehouse": WarehouseResource(root=str(warehouse_dir))},
        ) as context:
            return daily_safety_net(context)

    [request] = schedule_tick()
    assert files_of(Warehouse(warehouse_dir), request.partition_key) == ["work_0002.md"]
    assert request.partition_key in instance.get_dynamic_partitions(ingest_batches.name)
    # its run never happened: the next day's tick takes the unfinished batch up again, and claims an empty one
    resumed, nothing_left = schedule_tick()
    assert resumed.partition_key == request.partition_key
    assert files_of(Warehouse(warehouse_dir), nothing_left.partition_key) == []  # still runs: checks on the whole warehouse


def test_a_stale_warehouse_raises_one_alert_time_simulated(raw_dir: Path, warehouse_dir: Path, monkeypatch) -> None:
    from etl_project.defs.quality import freshness
    from etl_project.defs.resources import Alerter
    from etl_project.lib.alerts import read_alerts

    (raw_dir / "work_0001.md").write_text(md_transcript("work_0001"))
    materialize_all(raw_dir, warehouse_dir)
    wh = WarehouseResource(root=str(warehouse_dir))
    alerts_file = warehouse_dir / "_alerts" / "alerts.jsonl"

    def tick(hours_later: float, cursor: str | None):
        monkeypatch.setattr(freshness, "now", lambda: dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=hours_later))
        with dg.build_sensor_context(cursor=cursor, resources={"warehouse": wh, "alerter": Alerter(warehouse=wh)}) as context:
            result = freshness.warehouse_freshness(context)
        return result, getattr(result, "cursor", cursor)

    _, cursor = tick(1, None)
    assert [a for a in read_alerts(alerts_file) if a["kind"] == "stale_warehouse"] == []  # fresh after an hour
    _, cursor = tick(30, cursor)
    stale = [a for a in read_alerts(alerts_file) if a["kind"] == "stale_warehouse"]
    assert len(stale) == 1 and "stale" in stale[0]["summary"] and "26 h" in stale[0]["summary"]
    tick(31, cursor)  # still stale: not alerted again
    assert len([a for a in read_alerts(alerts_file) if a["kind"] == "stale_warehouse"]) == 1

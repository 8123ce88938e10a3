"""The raw-folder sensor and the daily schedule, driven with Dagster's own test contexts."""

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


def tick(instance: dg.DagsterInstance, raw: Path, warehouse: Path, cursor: str | None):
    context = dg.build_sensor_context(
        instance=instance,
        cursor=cursor,
        resources={"raw_folder": RawFolder(path=str(raw)), "warehouse": WarehouseResource(root=str(warehouse))},
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


def test_a_cold_start_on_many_files_is_one_run(raw_dir: Path, warehouse_dir: Path) -> None:
    for i in range(300):
        (raw_dir / f"work_{i:04d}.md").write_text(md_transcript(f"work_{i:04d}"))
    result, _ = tick(dg.DagsterInstance.ephemeral(), raw_dir, warehouse_dir, None)
    [request] = run_requests(result)
    assert len(files_of(Warehouse(warehouse_dir), request.partition_key)) == 300


def test_sensor_batch_runs_and_lands(raw_dir: Path, warehouse_dir: Path) -> None:
    instance = dg.DagsterInstance.ephemeral()
    (raw_dir / "work_0001.md").write_text(md_transcript("work_0001"))
    result, _ = tick(instance, raw_dir, warehouse_dir, None)
    [request] = run_requests(result)
    instance.add_dynamic_partitions(ingest_batches.name, [request.partition_key])
    # what the daemon does with the request: run the job for that partition
    from etl_project.definitions import ALL_ASSETS
    from etl_project_tests.conftest import resources_for

    run = dg.materialize(ALL_ASSETS, resources=resources_for(raw_dir, warehouse_dir), instance=instance, partition_key=request.partition_key)
    assert run.success
    assert Warehouse(warehouse_dir).read("transcripts").get_column("transcript_id").to_list() == ["work_0001"]


def test_daily_schedule_claims_what_is_left_and_always_runs(raw_dir: Path, warehouse_dir: Path) -> None:
    with dg.instance_for_test() as instance:
        check_schedule(instance, raw_dir, warehouse_dir)


def check_schedule(instance: dg.DagsterInstance, raw_dir: Path, warehouse_dir: Path) -> None:
    (raw_dir / "work_0001.md").write_text(md_transcript("work_0001"))
    materialize_all(raw_dir, warehouse_dir)
    (raw_dir / "work_0002.md").write_text(md_transcript("work_0002"))
    os.utime(raw_dir / "work_0002.md", (1_000_000_000, 1_000_000_000))  # an old mtime a watcher could miss

    def schedule_tick() -> dg.RunRequest:
        context = dg.build_schedule_context(
            instance=instance,
            scheduled_execution_time=dt.datetime(2026, 12, 2, 3, 0, tzinfo=dt.timezone.utc),
            resources={"raw_folder": RawFolder(path=str(raw_dir)), "warehouse": WarehouseResource(root=str(warehouse_dir))},
        )
        return daily_safety_net(context)

    request = schedule_tick()
    assert files_of(Warehouse(warehouse_dir), request.partition_key) == ["work_0002.md"]
    assert request.partition_key in instance.get_dynamic_partitions(ingest_batches.name)
    nothing_left = schedule_tick()
    assert files_of(Warehouse(warehouse_dir), nothing_left.partition_key) == []  # still runs: checks on the whole warehouse

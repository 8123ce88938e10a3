"""Warehouse writes: staged then switched to at once, upserts without duplicates, first-seen times kept."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest

from etl_project.lib import warehouse as wh_module
from etl_project.lib.commit import Commit
from etl_project.lib.warehouse import BUCKET_COLUMN, Warehouse, bucket_of, carry_forward, merge_file, upsert

TABLE = "turns"  # a versioned table folder; the rows here are not real turns (the model below takes anything)


class AnyRows:  # merge_file only needs .validate and .to_schema().columns
    @staticmethod
    def validate(frame, lazy=True):
        return frame

    @staticmethod
    def to_schema():
        return type("Schema", (), {"columns": {"transcript_id": None, "split": None, "value": None}})


def frame(ids: list[str], value: str, split: str = "workforce") -> pl.DataFrame:
    return pl.DataFrame({"transcript_id": ids, "split": [split] * len(ids), "value": [value] * len(ids)})


def publish(wh: Warehouse, rows: pl.DataFrame) -> list[str]:
    """Upsert ``rows`` file by file in one commit, as the pipeline does; returns the targets changed."""
    commit = Commit(wh)
    keyed = rows.with_columns(bucket_of(pl.col("transcript_id")).alias(BUCKET_COLUMN))
    try:
        for (split, bucket), part in keyed.group_by("split", BUCKET_COLUMN, maintain_order=True):
            merge_file(
                wh, commit, table=TABLE, model=AnyRows, target=(split, bucket), batch=part.drop(BUCKET_COLUMN),
                existing=wh.read(TABLE, files=[(split, bucket)]), key=["transcript_id"], sort_by=["transcript_id"],
            )
    except BaseException:
        commit.abort()
        raise
    targets = commit.targets
    commit.commit()
    return targets


def test_write_then_read_round_trips_with_partitions(warehouse_dir: Path) -> None:
    wh = Warehouse(warehouse_dir)
    data = pl.concat([frame(["work_2", "work_1"], "a"), frame(["science_1"], "b", "scientists")])
    assert publish(wh, data) == [f"{TABLE}/split=scientists/part-b00000.parquet", f"{TABLE}/split=workforce/part-b00000.parquet"]
    back = wh.read(TABLE, columns=["transcript_id", "split", "value"]).sort("transcript_id")
    assert back.rows() == [("science_1", "scientists", "b"), ("work_1", "workforce", "a"), ("work_2", "workforce", "a")]
    assert wh.read(TABLE, files=[("scientists", "b00000")]).height == 1
    assert wh.read(TABLE, files=[("scientists", "b00001")]) is None
    assert wh.read("missing") is None
    assert pl.read_parquet(warehouse_dir / TABLE / "**" / "*.parquet", hive_partitioning=True).height == 3  # the plain path analysts use


def test_a_failed_write_leaves_the_previous_file_intact(warehouse_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    wh = Warehouse(warehouse_dir)
    publish(wh, frame(["work_1"], "old"))
    target = warehouse_dir / TABLE / "split=workforce" / "part-b00000.parquet"
    before = target.read_bytes()

    def crash(frame, table, where):
        Path(where).write_bytes(b"PAR1 half a file")
        raise OSError("disk full")

    monkeypatch.setattr(wh_module, "write_parquet", crash)
    with pytest.raises(OSError, match="disk full"):
        publish(wh, frame(["work_1", "work_2"], "new"))
    assert target.read_bytes() == before
    assert pq.read_table(target).num_rows == 1
    assert list((warehouse_dir / "_staging").iterdir()) == []  # the aborted commit took its staged files along


def test_clear_staging_removes_leftovers_of_dead_writers_only(warehouse_dir: Path) -> None:
    import subprocess

    dead = subprocess.Popen(["true"])
    dead.wait()
    live = subprocess.Popen(["sleep", "30"])
    try:
        (warehouse_dir / "_staging").mkdir()
        (warehouse_dir / "_staging" / f"turns-{dead.pid}-abc.parquet").write_bytes(b"partial")
        (warehouse_dir / "_staging" / f"turns-{live.pid}-def.parquet").write_bytes(b"being written")
        assert Warehouse(warehouse_dir).clear_staging() == 1
        assert [p.name for p in (warehouse_dir / "_staging").iterdir()] == [f"turns-{live.pid}-def.parquet"]
    finally:
        live.kill()
        live.wait()


def test_upsert_replaces_by_key_and_keeps_the_rest() -> None:
    existing = pl.concat([frame(["work_1", "work_2"], "old")])
    merged = upsert(existing, frame(["work_2", "work_3"], "new"), "transcript_id").sort("transcript_id")
    assert merged.select("transcript_id", "value").rows() == [("work_1", "old"), ("work_2", "new"), ("work_3", "new")]
    again = upsert(merged, frame(["work_2", "work_3"], "new"), "transcript_id").sort("transcript_id")
    assert again.equals(merged)


def test_carry_forward_keeps_first_seen_time_only_for_unchanged_rows() -> None:
    t0, t1 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc), dt.datetime(2026, 6, 1, tzinfo=dt.timezone.utc)
    existing = pl.DataFrame({"transcript_id": ["a", "b"], "sha": ["1", "2"], "at": [t0, t0]})
    batch = pl.DataFrame({"transcript_id": ["a", "b", "c"], "sha": ["1", "changed", "3"], "at": [t1, t1, t1]})
    out = carry_forward(batch, existing, column="at", key=["transcript_id"], unchanged_if=["sha"])
    assert out.sort("transcript_id")["at"].to_list() == [t0, t1, t1]


def test_rows_are_bucketed_by_id_number_and_only_touched_buckets_are_rewritten(warehouse_dir: Path) -> None:
    wh = Warehouse(warehouse_dir)
    schema = {"transcript_id": pl.String, "split": pl.String, "value": pl.String}
    first = pl.DataFrame({"transcript_id": ["work_1", "work_9999", "work_10000", "work_123456", "pilot"], "split": ["workforce"] * 4 + ["unknown"], "value": ["a"] * 5}, schema=schema)
    publish(wh, first)
    names = sorted(p.relative_to(warehouse_dir / TABLE).as_posix() for p in wh.partition_files(TABLE))
    assert names == ["split=unknown/part-x.parquet", "split=workforce/part-b00000.parquet", "split=workforce/part-b00001.parquet", "split=workforce/part-b00012.parquet"]

    untouched = {p.name: p.stat().st_ino for p in wh.partition_files(TABLE) if "b00000" not in p.name}
    changed = publish(wh, pl.DataFrame({"transcript_id": ["work_2"], "split": ["workforce"], "value": ["b"]}, schema=schema))
    assert changed == [f"{TABLE}/split=workforce/part-b00000.parquet"]
    assert {p.name: p.stat().st_ino for p in wh.partition_files(TABLE) if "b00000" not in p.name} == untouched  # the same files, linked
    assert sorted(wh.read(TABLE, files=[("workforce", "b00000")])["transcript_id"]) == ["work_1", "work_2", "work_9999"]
    assert wh.read(TABLE).height == 6


def test_prune_drops_only_transcripts_no_file_holds_any_more(tmp_path: Path) -> None:
    from etl_project.lib.pipeline import prune_missing, run_core
    from etl_project_tests.conftest import md_transcript

    raw, wh_root = tmp_path / "raw", tmp_path / "wh"
    raw.mkdir()
    for transcript_id in ("work_0001", "work_0002", "science_0001"):
        (raw / f"{transcript_id}.md").write_text(md_transcript(transcript_id))
    (raw / "junk.md").write_text("no id")
    run_core(raw, wh_root)
    (raw / "work_0002.md").unlink()
    (raw / "science_0001.md").unlink()
    (raw / "junk.md").unlink()
    wh = Warehouse(wh_root)
    run_core(raw, wh_root)  # a normal run keeps what is gone from the folder
    assert wh.read("transcripts").height == 3
    removed = prune_missing(raw, wh_root)
    assert removed == {"transcripts": 2, "turns": 8, "theme_flags": 2, "quarantine": 1}
    assert wh.read("transcripts")["transcript_id"].to_list() == ["work_0001"]
    assert list((wh_root / "transcripts" / "split=scientists").glob("*.parquet")) == []
    assert prune_missing(raw, wh_root) == {"transcripts": 0, "turns": 0, "theme_flags": 0, "quarantine": 0}

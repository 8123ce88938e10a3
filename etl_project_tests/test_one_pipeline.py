"""One pipeline: the Dagster job (the real definitions, as the sensor, the CLI or a UI backfill run
it) makes exactly the core's tables, whatever the partitioning; one duplicate rule whatever the
arrival order; nothing large left in DAGSTER_HOME."""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from etl_project.lib.batches import claim, pending, read_manifest, scan
from etl_project.lib.pipeline import TABLES, run_core
from etl_project.lib.warehouse import Warehouse
from etl_project_tests.conftest import SAMPLE_RAW, SIMPLE_DIALOG, dialog, materialize_all, md_transcript, run_batches
from etl_project_tests.test_bad_inputs import bad_raw  # noqa: F401  (a fixture)
from etl_project_tests.test_core import messy_raw  # noqa: F401  (a fixture)

TIMESTAMPS = ("ingested_at", "detected_at")
# n_copies counts the identical copies of the batch that published a transcript: an identical copy
# arriving in a later batch is folded away without a count (README, duplicates). Compared where the
# copies arrive together.
PER_BATCH = ("n_copies",)
OTHER_DIALOG = dialog(("Assistant", "What do you use AI for?"), ("User", "Mostly for code review, honestly."))
THIRD_DIALOG = dialog(("AI", "And at home?"), ("User", "Recipes. It is good at recipes."))


def tables_of(root: Path, ignore: tuple[str, ...] = ()) -> dict[str, pl.DataFrame]:
    wh = Warehouse(root)
    out = {}
    for table, spec in TABLES.items():
        frame = wh.read(table)
        out[table] = frame.drop(*TIMESTAMPS, *ignore, strict=False).sort(spec["sort_by"], nulls_last=True) if frame is not None else None
    return out


def assert_same_tables(a: Path, b: Path, ignore: tuple[str, ...] = ()) -> None:
    left, right = tables_of(a, ignore), tables_of(b, ignore)
    for table in TABLES:
        assert left[table].equals(right[table].select(left[table].columns)), table


def test_the_job_over_bounded_partitions_makes_the_cores_tables(messy_raw: Path, tmp_path: Path) -> None:  # noqa: F811
    """Bad-input zone, the sample, ids repeated across far-apart files: partitions of 40 files put the
    copies of an id in different partitions, days apart as far as the rule is concerned."""
    run_core(messy_raw, tmp_path / "core")
    home = tmp_path / "dagster_home"
    home.mkdir()
    with dg.instance_for_test(temp_dir=str(home)) as instance:
        materialize_all(messy_raw, tmp_path / "job", instance=instance, caps={"max_files": 40})
        keys = instance.get_dynamic_partitions("ingest_batches")
    assert len(keys) >= 4
    assert_same_tables(tmp_path / "core", tmp_path / "job", ignore=PER_BATCH)
    # no frames pickled between steps: the instance holds run records, event and compute logs, nothing else
    stored = [p for p in home.rglob("*") if p.is_file()]
    assert not [p for p in stored if "storage" in p.relative_to(home).parts and "compute_logs" not in p.relative_to(home).parts]
    assert sum(p.stat().st_size for p in stored) < 5 * 2**20


def copies(raw: Path, names_texts: list[tuple[str, str]], transcript_id: str = "work_0042") -> None:
    for name, text in names_texts:
        (raw / name).write_text(md_transcript(transcript_id, text))


@pytest.mark.parametrize("order", ["one batch", "two core batches", "a then b", "b then a", "c, b, then a"])
def test_one_duplicate_rule_whatever_the_arrival(tmp_path: Path, order: str) -> None:
    """The same id with different text in a.md, b.md and c.md: a.md (first in path order) wins,
    the others are quarantined naming a.md, however and whenever the copies arrive."""
    files = [("a.md", SIMPLE_DIALOG), ("b.md", OTHER_DIALOG), ("c.md", THIRD_DIALOG)]
    reference_raw, reference = tmp_path / "ref_raw", tmp_path / "ref"
    reference_raw.mkdir()
    copies(reference_raw, files)
    run_core(reference_raw, reference)

    raw, warehouse = tmp_path / "raw", tmp_path / "wh"
    raw.mkdir()
    if order == "one batch":
        copies(raw, files)
        materialize_all(raw, warehouse)
    elif order == "two core batches":
        copies(raw, files)
        run_core(raw, warehouse, batch_bytes=1)  # every file a core batch of its own
    else:
        arrival = {"a then b": ["a.md", "b.md", "c.md"], "b then a": ["b.md", "c.md", "a.md"], "c, b, then a": ["c.md", "b.md", "a.md"]}[order]
        instance = dg.DagsterInstance.ephemeral()
        for name in arrival:  # each file its own partition, run before the next arrives
            copies(raw, [f for f in files if f[0] == name])
            wh = Warehouse(warehouse)
            keys = claim(wh, pending(scan(raw), read_manifest(wh)))
            assert all(r.success for r in run_batches(raw, warehouse, keys, instance=instance))
    assert_same_tables(reference, warehouse)
    got = tables_of(warehouse)
    assert got["transcripts"].select("transcript_id", "source_file").rows() == [("work_0042", "a.md")]
    reasons = dict(got["quarantine"].select("source_file", "reason").iter_rows())
    assert set(reasons) == {"b.md", "c.md"}
    assert all("different text; kept the copy from a.md" in r for r in reasons.values())


def test_a_file_read_again_replaces_everything_it_made_before(tmp_path: Path) -> None:
    """Edits are reflected: an id edited in a file leaves no ghost, and a file edited into something
    invalid no longer has a current version."""
    raw, warehouse = tmp_path / "raw", tmp_path / "wh"
    raw.mkdir()
    (raw / "one.md").write_text(md_transcript("work_0001"))
    (raw / "two.md").write_text(md_transcript("work_0002"))
    materialize_all(raw, warehouse)
    (raw / "one.md").write_text(md_transcript("work_0100"))  # the header id was corrected
    (raw / "two.md").write_text("the export broke: no id, no turns")
    materialize_all(raw, warehouse)
    got = tables_of(warehouse)
    for table in ("transcripts", "turns", "theme_flags"):
        assert sorted(set(got[table]["transcript_id"])) == ["work_0100"], table
    assert got["quarantine"]["source_file"].to_list() == ["two.md"]


def test_a_backfill_of_several_partitions_from_the_ui_lands_them_all(tmp_path: Path) -> None:
    """A backfill is one run per partition of the same job: several claimed batches, run in any order."""
    raw, warehouse = tmp_path / "raw", tmp_path / "wh"
    shutil.copytree(SAMPLE_RAW / "corpus", raw)
    wh = Warehouse(warehouse)
    keys = claim(wh, scan(raw), max_files=50)
    assert len(keys) == 4
    results = run_batches(raw, warehouse, list(reversed(keys)))
    assert all(r.success for r in results)
    run_core(raw, tmp_path / "core")
    assert_same_tables(tmp_path / "core", warehouse)


def test_reprocess_rebuilds_files_of_an_older_schema_version(tmp_path: Path):
    """A warehouse written before theme_flags had its p_<flag> columns (schema version 2): a plain run that
    would keep old rows beside new ones publishes nothing (the contract check), and `--reprocess` (the
    README's upgrade path) rewrites every file with the new columns, no row lost, no null left."""
    raw, warehouse = tmp_path / "raw", tmp_path / "warehouse"
    raw.mkdir()
    for i, tid in enumerate(("work_0001", "science_0002", "creativity_0003")):
        (raw / f"{tid}.md").write_text(md_transcript(tid, SIMPLE_DIALOG, dialog_number=i + 1))
    materialize_all(raw, warehouse)
    old = sorted((warehouse / "theme_flags").rglob("*.parquet"))
    for path in old:  # what version 2 wrote: no probabilities
        frame = pl.read_parquet(path)
        frame.drop([c for c in frame.columns if c.startswith("p_")]).write_parquet(path)
    (raw / "work_0004.md").write_text(md_transcript("work_0004", SIMPLE_DIALOG, dialog_number=4))
    failed = materialize_all(raw, warehouse, expect_success=False)
    assert not failed.success
    assert pl.read_parquet(warehouse / "theme_flags" / "**" / "*.parquet", hive_partitioning=True).height == 3  # nothing published
    materialize_all(raw, warehouse, reprocess=True)
    flags = pl.read_parquet(warehouse / "theme_flags" / "**" / "*.parquet", hive_partitioning=True)
    assert sorted(flags["transcript_id"]) == ["creativity_0003", "science_0002", "work_0001", "work_0004"]
    probabilities = [c for c in flags.columns if c.startswith("p_")]
    assert len(probabilities) == 14 and flags.select(probabilities).null_count().sum_horizontal().item() == 0

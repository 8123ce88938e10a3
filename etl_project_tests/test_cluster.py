"""The `cluster` profile for real: PostgreSQL instance, Redis broker, two Celery workers, S3 warehouse.

Everything listens on 127.0.0.1 only and is started here (cluster_services.py):
PostgreSQL from Debian's packages (initdb + postgres in a temp dir, a free
port), redis-server (installed with apt-get when missing), moto's S3 server,
two ``dagster-celery`` workers with the committed ``deploy/cluster/celery.yaml``
and runs through the ``dagster`` CLI with ``ETL_PROFILE=cluster`` and the
committed ``deploy/cluster/dagster.yaml``. Every process is stopped by its own
process group id. When a service cannot be had, the tests skip saying which.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pytest

from etl_project_tests import cluster_services as cs
from etl_project_tests.conftest import SAMPLE_RAW, materialize_all

TABLES = ("transcripts", "turns", "theme_flags", "quarantine")
WRITERS = ("transcripts", "turns", "theme_flags", "quarantine")
KEYS = {"transcripts": ["transcript_id"], "turns": ["transcript_id", "turn_index"], "theme_flags": ["transcript_id"]}
WORKERS = ("w1", "w2")
RUN_TIMEOUT = 300
AWS_VARIABLES = ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_EC2_METADATA_DISABLED")

# Test-only fault, imported by the workers (``-i etl_fault_injection``): when the file named by
# ETL_TEST_FAULT_FILE holds a table name, the next write of that table completes and then the step
# fails, once (the file is removed when it fires). Nothing of it is in the project's code.
FAULT_MODULE = '''
import os

from etl_project.lib import warehouse as _warehouse

_write_partitioned = _warehouse.Warehouse.write_partitioned


def write_partitioned(self, table, frame, **options):
    written = _write_partitioned(self, table, frame, **options)
    armed = os.environ.get("ETL_TEST_FAULT_FILE", "")
    try:
        with open(armed) as handle:
            target = handle.read().strip()
    except OSError:
        return written
    if target == table:
        try:
            os.remove(armed)
        except FileNotFoundError:
            return written
        raise RuntimeError(f"injected fault: {table} written ({len(written)} files), then the step fails")
    return written


_warehouse.Warehouse.write_partitioned = write_partitioned
'''

# The slice of the sample: 30 corpus files across the three splits, the 5 seeds (mojibake), one bad file.
CORPUS = sorted((SAMPLE_RAW / "corpus").glob("*.md"))
SLICE = CORPUS[::5][:30]
SEEDS = sorted((SAMPLE_RAW / "seeds").glob("*.txt"))
RETRY_FILES = [p for p in CORPUS if p not in SLICE][:8]


@dataclass
class Cluster:
    services: object
    env: dict[str, str]
    raw: Path
    warehouse: str
    fault_file: Path
    hostnames: set[str]

    def add(self, files: list[Path], extra: dict[str, str] | None = None) -> None:
        for path in files:
            shutil.copy(path, self.raw / path.name)
        for name, text in (extra or {}).items():
            (self.raw / name).write_text(text)

    def claim(self) -> str:
        from etl_project.lib.batches import claim_pending
        from etl_project.lib.warehouse import Warehouse

        key, files = claim_pending(Warehouse(self.warehouse), self.raw)
        assert files.height, "nothing pending"
        instance = self.services.instance()
        try:
            instance.add_dynamic_partitions("ingest_batches", [key])
        finally:
            instance.dispose()
        return key


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:

    root = tmp_path_factory.mktemp("cluster")
    raw = root / "raw"
    raw.mkdir()
    faults = root / "faults"
    faults.mkdir()
    (faults / "etl_fault_injection.py").write_text(FAULT_MODULE)
    try:
        with cs.cluster_services(root / "services") as services:
            warehouse = f"s3://{services.bucket}/warehouse"
            fault_file = root / "fault-armed"
            env = services.env(warehouse, raw, ETL_TEST_FAULT_FILE=str(fault_file))
            worker_env = {**env, "PYTHONPATH": os.pathsep.join(p for p in (str(faults), env.get("PYTHONPATH", "")) if p)}
            for name in WORKERS:
                cs.start_worker(services, worker_env, name, includes=("etl_fault_injection",))
            hostnames = {f"{name}@{os.uname().nodename}" for name in WORKERS}
            with cs.environment(**{k: env[k] for k in AWS_VARIABLES}):  # this process reads the warehouse too
                yield Cluster(services, env, raw, warehouse, fault_file, hostnames)
    except cs.Unavailable as exc:
        pytest.skip(f"cluster services unavailable: {exc}")


# ------------------------------------------------------------------ helpers


def wait(proc, timeout: float = RUN_TIMEOUT) -> int:
    from etl_project_tests.cluster_services import stop_process

    try:
        return proc.wait(timeout=timeout)
    except Exception:
        stop_process(proc)
        raise


def run_log(cluster: Cluster, name: str) -> str:
    return (cluster.services.root / f"{name}.log").read_text(errors="replace")[-4000:]


def runs_of(instance, partition: str) -> list:
    import dagster as dg

    return list(instance.get_runs(filters=dg.RunsFilter(tags={"dagster/partition": partition})))


def tables(root: str | Path, ids: set[str] | None = None) -> dict[str, pl.DataFrame | None]:
    from etl_project.lib.warehouse import Warehouse

    warehouse = Warehouse(root)
    out: dict[str, pl.DataFrame | None] = {}
    for table in TABLES:
        frame = warehouse.read(table)
        if frame is not None:
            if ids is not None and table != "quarantine":
                frame = frame.filter(pl.col("transcript_id").is_in(sorted(ids)))
            frame = frame.drop("ingested_at", "detected_at", strict=False)
            frame = frame.sort(KEYS.get(table, ["source_file", "source_record", "reason"]), nulls_last=True)
        out[table] = frame
    return out


def assert_tables_equal(remote: dict, local: dict) -> None:
    for table in TABLES:
        left, right = remote[table], local[table]
        assert (left is None) == (right is None), table
        if left is None:
            continue
        assert left.columns == right.columns, table
        assert left.height == right.height, (table, left.height, right.height)
        assert left.equals(right.select(left.columns)), table


def assert_no_duplicates(root: str) -> None:
    from etl_project.lib.warehouse import Warehouse

    warehouse = Warehouse(root)
    for table, key in KEYS.items():
        frame = warehouse.read(table, columns=key)
        assert frame is not None and frame.height == frame.unique().height, f"duplicate {key} rows in {table}"


def local_copy(files: list[Path], tmp_path: Path, extra: dict[str, str] | None = None) -> Path:
    raw = tmp_path / "local-raw"
    raw.mkdir()
    for path in files:
        shutil.copy(path, raw / path.name)
    for name, text in (extra or {}).items():
        (raw / name).write_text(text)
    return raw


# ------------------------------------------------------------------ the profiles, without services


def test_local_profile_changes_nothing() -> None:
    from etl_project.definitions import defs
    from etl_project.defs.profiles import WAREHOUSE_WRITES_POOL, build_profile

    profile = build_profile({})
    assert (profile.name, profile.executor, profile.resources) == ("local", None, {})
    job = defs.resolve_job_def("warehouse_job")
    assert job.executor_def.name == "multi_or_in_process_executor"  # the test process has no ETL_PROFILE
    assert "io_manager" not in defs.resources
    pools = {node.name: node.definition.pool for node in job.graph.nodes}
    assert {n for n, p in pools.items() if p == WAREHOUSE_WRITES_POOL} == set(WRITERS)


def test_cluster_profile_is_celery_and_s3_from_configuration() -> None:
    pytest.importorskip("dagster_celery", reason="the cluster extra is not installed (pip install -e '.[cluster]')")
    pytest.importorskip("dagster_aws", reason="the cluster extra is not installed (pip install -e '.[cluster]')")
    from etl_project.defs.profiles import ProfileError, build_profile, celery_config

    profile = build_profile({"ETL_PROFILE": "cluster", "ETL_WAREHOUSE_DIR": "s3://lake/etl/warehouse", "AWS_ENDPOINT_URL": "http://minio:9000"})
    assert profile.executor.name == "celery"
    io = profile.resources["io_manager"]
    assert (io.s3_bucket, io.s3_prefix) == ("lake", "etl/warehouse/_dagster_io")
    assert celery_config({})["broker"] == {"env": "ETL_CELERY_BROKER_URL"}
    assert celery_config({})["backend"] == {"env": "ETL_CELERY_BACKEND_URL"}
    explicit = build_profile({"ETL_PROFILE": "Cluster", "ETL_WAREHOUSE_DIR": "s3://lake/w", "ETL_IO_URI": "s3://scratch/io"})
    assert (explicit.resources["io_manager"].s3_bucket, explicit.resources["io_manager"].s3_prefix) == ("scratch", "io")
    with pytest.raises(ProfileError, match="object storage"):
        build_profile({"ETL_PROFILE": "cluster", "ETL_WAREHOUSE_DIR": "/srv/warehouse"})
    with pytest.raises(ProfileError, match="not a deployment profile"):
        build_profile({"ETL_PROFILE": "kubernetes"})


# ------------------------------------------------------------------ on the services


def test_two_batches_at_once_on_two_celery_workers_equal_a_local_run(cluster: Cluster, tmp_path: Path) -> None:
    from etl_project.defs.profiles import WAREHOUSE_WRITES_POOL
    from etl_project_tests.cluster_services import dagster_execute

    bad = {"junk.md": "no id here, no speaker turns either"}
    first, second = SLICE[:15], SLICE[15:] + SEEDS
    cluster.add(first, bad)
    batch_a = cluster.claim()
    cluster.add(second)
    batch_b = cluster.claim()
    started = time.monotonic()
    procs = {key: dagster_execute(cluster.services, cluster.env, key, log_name=f"run-{key}") for key in (batch_a, batch_b)}
    codes = {key: wait(proc) for key, proc in procs.items()}
    elapsed = time.monotonic() - started
    for key, code in codes.items():
        assert code == 0, run_log(cluster, f"run-{key}")

    instance = cluster.services.instance()
    try:
        facts = {}
        for key in (batch_a, batch_b):
            [run] = runs_of(instance, key)
            facts[key] = cs.step_facts(instance, run.run_id)
        # every step of both runs ran in a Celery worker, and both workers had work
        workers = {step["worker"] for run in facts.values() for step in run.values()}
        assert all("worker" in step for run in facts.values() for step in run.values()), facts
        assert workers == cluster.hostnames, workers
        # the pool of the committed dagster.yaml: one warehouse write at a time, across both runs
        limits = {pool.name: pool.limit for pool in instance.event_log_storage.get_pool_limits()}
        assert limits.get(WAREHOUSE_WRITES_POOL) == 1, limits
        writes = sorted((run[w]["start"], run[w]["end"]) for run in facts.values() for w in WRITERS)
        assert len(writes) == 2 * len(WRITERS)
        for (_, end), (start, _) in zip(writes, writes[1:]):
            assert start >= end, f"two warehouse writes overlapped: {writes}"
    finally:
        instance.dispose()

    # both batches' rows are there, bucket files shared by the two batches included
    remote = tables(cluster.warehouse)
    ids_a = {p.stem for p in first}
    assert ids_a <= set(remote["transcripts"]["transcript_id"])
    assert remote["transcripts"].height == 35
    assert remote["quarantine"]["source_file"].to_list() == ["junk.md"]
    # and the warehouse equals a local run on the same input
    local_raw = local_copy(first + second, tmp_path, bad)
    materialize_all(local_raw, tmp_path / "local-warehouse", alerts_path=str(tmp_path / "alerts.jsonl"))
    assert_tables_equal(remote, tables(tmp_path / "local-warehouse"))
    assert_no_duplicates(cluster.warehouse)
    print(f"two batches on two workers: {elapsed:.1f} s")


def test_a_step_failing_after_its_write_then_retried_leaves_no_duplicates(cluster: Cluster, tmp_path: Path) -> None:
    from etl_project.lib.warehouse import Warehouse
    from etl_project_tests.cluster_services import dagster_execute, dagster_reexecute_from_failure

    cluster.add(RETRY_FILES)
    batch = cluster.claim()
    ids = {p.stem for p in RETRY_FILES}
    before = Warehouse(cluster.warehouse).read("turns", columns=["transcript_id"])
    cluster.fault_file.write_text("turns")  # the workers' next write of `turns` completes, then the step fails
    code = wait(dagster_execute(cluster.services, cluster.env, batch, log_name=f"run-{batch}-faulty"))
    assert code != 0, run_log(cluster, f"run-{batch}-faulty")
    assert not cluster.fault_file.exists(), "the injected fault did not fire"
    written = Warehouse(cluster.warehouse).read("turns", columns=["transcript_id"])
    assert written.filter(pl.col("transcript_id").is_in(sorted(ids))).height > 0  # the failed attempt had written
    assert before is None or written.height > before.height

    instance = cluster.services.instance()
    try:
        [failed] = runs_of(instance, batch)
        facts = cs.step_facts(instance, failed.run_id)
        assert facts["turns"]["outcome"].value == "STEP_FAILURE", facts
    finally:
        instance.dispose()

    code = wait(dagster_reexecute_from_failure(cluster.services, cluster.env, failed.run_id, log_name=f"reexecute-{batch}"))
    assert code == 0, run_log(cluster, f"reexecute-{batch}")
    instance = cluster.services.instance()
    try:
        retry = next(r for r in runs_of(instance, batch) if r.run_id != failed.run_id)
        assert retry.parent_run_id == failed.run_id
        facts = cs.step_facts(instance, retry.run_id)
        assert "turns" in facts and "raw_transcripts" not in facts, sorted(facts)  # from failure: earlier steps not re-run
        assert {step["worker"] for step in facts.values()} <= cluster.hostnames
    finally:
        instance.dispose()

    assert_no_duplicates(cluster.warehouse)
    local_raw = local_copy(RETRY_FILES, tmp_path)
    materialize_all(local_raw, tmp_path / "local-warehouse", alerts_path=str(tmp_path / "alerts.jsonl"))
    remote, local = tables(cluster.warehouse, ids), tables(tmp_path / "local-warehouse")
    remote["quarantine"] = local["quarantine"]  # this batch has no bad input; the quarantine holds the earlier one's
    assert_tables_equal(remote, local)


def test_claims_wait_for_the_advisory_lock(cluster: Cluster, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from etl_project.lib.batches import batches, claim, scan
    from etl_project.lib.locks import LOCK_URL_VARIABLE, advisory_lock, lock_key
    from etl_project.lib.warehouse import Warehouse

    monkeypatch.setenv(LOCK_URL_VARIABLE, cluster.services.pg_url)
    root = f"s3://{cluster.services.bucket}/claims"
    raw = local_copy(SEEDS, tmp_path)
    listing = scan(raw)
    done: list[str] = []
    with advisory_lock(cluster.services.pg_url, lock_key(root, "_batches")):  # another machine is claiming
        waiting = threading.Thread(target=lambda: done.append(claim(Warehouse(root), listing.head(2))))
        waiting.start()
        time.sleep(1.5)
        assert waiting.is_alive() and not done, "a claim went ahead while the manifest was locked"
    waiting.join(timeout=30)
    assert len(done) == 1
    threads = [threading.Thread(target=lambda i=i: done.append(claim(Warehouse(root), listing.slice(2 + i, 1)))) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(batches(Warehouse(root))) == sorted(done) and len(set(done)) == 4  # no claim lost another's rows

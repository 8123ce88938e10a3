"""The `cluster` profile for real: runs distributed whole to Celery workers, PostgreSQL instance, S3 warehouse.

Everything listens on 127.0.0.1 only and is started here (cluster_services.py): PostgreSQL from
Debian's packages (initdb + postgres in a temp dir, a free port), redis-server (installed with
apt-get when missing), moto's S3 server, the Dagster daemon (run queue and run monitor) and two
``dagster-celery`` workers, all with the committed ``deploy/cluster/dagster.yaml`` and
``deploy/cluster/celery.yaml`` and ``ETL_PROFILE=cluster``. Runs are started as a user would, with
``dagster job backfill`` (the runs go to the queue; the daemon launches each on a worker). Every
process is stopped by its own process group id. When a service cannot be had, the tests skip
saying which.
"""

from __future__ import annotations

import os
import threading
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pytest
import yaml

from etl_project_tests import cluster_services as cs
from etl_project_tests.conftest import SAMPLE_RAW

PROJECT_ROOT = Path(__file__).resolve().parent.parent
TABLES = ("transcripts", "turns", "theme_flags", "quarantine")
KEYS = {"transcripts": ["transcript_id"], "turns": ["transcript_id", "turn_index"], "theme_flags": ["transcript_id"]}
WORKERS = ("w1", "w2")
RUN_TIMEOUT = 240
AWS_VARIABLES = ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_EC2_METADATA_DISABLED")
CELERY_VARIABLES = ("ETL_CELERY_BROKER_URL", "ETL_CELERY_BACKEND_URL")
# The run monitor's intervals are minutes in deploy/cluster/dagster.yaml; seconds here.
MONITORING = {"poll_interval_seconds": 2, "cancel_timeout_seconds": 10, "free_slots_after_run_end_seconds": 2}

# Test-only hooks, imported by the workers (``-i etl_fault_injection``): when the file named by
# ETL_TEST_HOLD_FILE exists, the next commit waits (up to 2 minutes) with its batch's files staged on
# the object store and the warehouse write lock held, and says so in `<file>.holding`. The test
# cancels the run then. Nothing of it is in the project's code.
FAULT_MODULE = '''
import os
import threading
import time
from pathlib import Path

from etl_project.lib.commit import Commit

_commit = Commit.commit


def commit(self, *args, **kwargs):
    armed = Path(os.environ.get("ETL_TEST_HOLD_FILE", "/nonexistent/hold"))
    try:
        armed.unlink()
    except OSError:
        return _commit(self, *args, **kwargs)
    Path(str(armed) + ".holding").write_text(str(os.getpid()))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        time.sleep(0.2)
    return _commit(self, *args, **kwargs)


Commit.commit = commit


# Small core batches (ETL_TEST_CORE_BATCH_BYTES), so that even these small ingest batches are staged by
# the core's process pool inside the Celery worker's process, as large ones are.
from etl_project.lib import pipeline as _pipeline

_run_core = _pipeline.run_core


def run_core(*args, **kwargs):
    if os.environ.get("ETL_TEST_CORE_BATCH_BYTES"):
        kwargs.setdefault("batch_bytes", int(os.environ["ETL_TEST_CORE_BATCH_BYTES"]))
    return _run_core(*args, **kwargs)


_pipeline.run_core = run_core
'''

# The sample: 30 corpus files across the three splits, the 5 seeds (mojibake), one bad file.
CORPUS = sorted((SAMPLE_RAW / "corpus").glob("*.md"))
SLICE = CORPUS[::5][:30]
SEEDS = sorted((SAMPLE_RAW / "seeds").glob("*.txt"))
LATER = [p for p in CORPUS if p not in SLICE][:18]
BAD = {"junk.md": "no id here, no speaker turns either"}


@dataclass
class Cluster:
    services: cs.Services
    env: dict[str, str]
    raw: Path
    warehouse: str
    hold_file: Path
    hostnames: set[str]
    cancelled: str | None = None
    killed: str | None = None

    def add(self, files: list[Path], extra: dict[str, str] | None = None) -> None:
        for path in files:
            shutil.copy(path, self.raw / path.name)
        for name, text in (extra or {}).items():
            (self.raw / name).write_text(text)

    def claim(self, max_files: int) -> list[str]:
        """The pending files as batches of at most ``max_files`` (what the sensor does), registered as partitions."""
        from etl_project.lib.batches import claim_pending
        from etl_project.lib.warehouse import Warehouse

        keys, files = claim_pending(Warehouse(self.warehouse), self.raw, max_files=max_files)
        assert files.height, "nothing pending"
        instance = self.services.instance()
        try:
            instance.add_dynamic_partitions("ingest_batches", keys)
        finally:
            instance.dispose()
        return keys

    def backfill(self, keys: list[str], name: str) -> dict[str, list]:
        """``dagster job backfill`` of the batches; waits until every run of them has finished."""
        code = wait(cs.dagster_backfill(self.services, self.env, keys, log_name=name))
        assert code == 0, log_tail(self, name)
        return cs.wait_for_runs(self.services, keys, RUN_TIMEOUT)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    root = tmp_path_factory.mktemp("cluster")
    raw = root / "raw"
    raw.mkdir()
    faults = root / "faults"
    faults.mkdir()
    (faults / "etl_fault_injection.py").write_text(FAULT_MODULE)
    try:
        with cs.cluster_services(root / "services", instance_overrides={"run_monitoring": MONITORING}) as services:
            warehouse = f"s3://{services.bucket}/warehouse"
            hold_file = root / "hold"
            env = services.env(warehouse, raw, ETL_TEST_HOLD_FILE=str(hold_file), ETL_TEST_CORE_BATCH_BYTES="20000", ETL_CORE_WORKERS="2")
            worker_env = {**env, "PYTHONPATH": os.pathsep.join(p for p in (str(faults), env.get("PYTHONPATH", "")) if p)}
            for name in WORKERS:
                cs.start_worker(services, worker_env, name, includes=("etl_fault_injection",))
            # The daemon's sensor would claim and launch on its own; this test launches its backfills
            # itself, so the daemon's code location sees no raw folder (the sensor skips).
            cs.start_daemon(services, {**env, "ETL_RAW_DIR": str(root / "no-raw-folder-for-the-sensor")})
            hostnames = {f"{name}@{os.uname().nodename}" for name in WORKERS}
            with cs.environment(**{k: env[k] for k in (*AWS_VARIABLES, *CELERY_VARIABLES, "ETL_WAREHOUSE_LOCK_URL")}):  # this process reads the warehouse and cancels runs too
                yield Cluster(services, env, raw, warehouse, hold_file, hostnames)
    except cs.Unavailable as exc:
        pytest.skip(f"cluster services unavailable: {exc}")


# ------------------------------------------------------------------ helpers


def wait(proc, timeout: float = RUN_TIMEOUT) -> int:
    try:
        return proc.wait(timeout=timeout)
    except Exception:
        cs.stop_process(proc)
        raise


def log_tail(cluster: Cluster, name: str) -> str:
    return (cluster.services.root / f"{name}.log").read_text(errors="replace")[-4000:]


def tables(root: str | Path) -> dict[str, pl.DataFrame | None]:
    from etl_project.lib.warehouse import Warehouse

    warehouse = Warehouse(root)
    out: dict[str, pl.DataFrame | None] = {}
    for table in TABLES:
        frame = warehouse.read(table)
        if frame is not None:
            frame = frame.drop("ingested_at", "detected_at", strict=False)
            frame = frame.sort(KEYS.get(table, ["source_file", "source_record", "reason"]), nulls_last=True)
        out[table] = frame
    return out


def assert_equals_one_machine(cluster: Cluster, tmp_path: Path) -> None:
    """The cluster's warehouse equals the core run once, on one machine, over every file it was given."""
    from etl_project.lib.pipeline import run_core

    local_raw = tmp_path / "local-raw"
    shutil.copytree(cluster.raw, local_raw)
    run_core(local_raw, tmp_path / "local-warehouse", workers=1)
    remote, local = tables(cluster.warehouse), tables(tmp_path / "local-warehouse")
    for table in TABLES:
        left, right = remote[table], local[table]
        assert (left is None) == (right is None), table
        if left is None:
            continue
        assert left.columns == right.columns, table
        assert left.height == right.height, (table, left.height, right.height)
        assert left.equals(right.select(left.columns)), table
    for table, key in KEYS.items():
        frame = remote[table].select(key)
        assert frame.height == frame.unique().height, f"duplicate {key} rows in {table}"


def pool_info(cluster: Cluster):
    from etl_project.defs.profiles import WAREHOUSE_WRITES_POOL

    instance = cluster.services.instance()
    try:
        return instance.event_log_storage.get_concurrency_info(WAREHOUSE_WRITES_POOL)
    finally:
        instance.dispose()


# ------------------------------------------------------------------ the profiles and files, without services


def test_local_profile_changes_nothing() -> None:
    from etl_project.definitions import build_definitions
    from etl_project.defs.profiles import WAREHOUSE_WRITES_POOL, build_profile

    profile = build_profile({})
    assert (profile.name, profile.executor, profile.resources) == ("local", None, {})
    defs = build_definitions()
    job = defs.resolve_job_def("warehouse_job")
    assert job.executor_def.name == "multi_or_in_process_executor"  # the test process has no ETL_PROFILE
    assert "io_manager" not in defs.resources
    pools = {node.name: node.definition.pool for node in job.graph.nodes}
    assert {n for n, p in pools.items() if p == WAREHOUSE_WRITES_POOL} == {"warehouse_tables"}


def test_cluster_profile_runs_in_process_and_needs_s3_and_a_lock_server() -> None:
    from etl_project.defs.profiles import ProfileError, build_profile

    env = {"ETL_PROFILE": "Cluster", "ETL_WAREHOUSE_DIR": "s3://lake/etl/warehouse", "ETL_WAREHOUSE_LOCK_URL": "postgresql://u:p@pg:5432/dagster"}
    profile = build_profile(env)
    assert (profile.name, profile.executor.name, profile.resources) == ("cluster", "in_process", {})  # no IO manager, no step executor
    with pytest.raises(ProfileError, match="object storage"):
        build_profile({**env, "ETL_WAREHOUSE_DIR": "/srv/warehouse"})
    with pytest.raises(ProfileError, match="ETL_WAREHOUSE_LOCK_URL"):
        build_profile({k: v for k, v in env.items() if k != "ETL_WAREHOUSE_LOCK_URL"})
    with pytest.raises(ProfileError, match="not a deployment profile"):
        build_profile({"ETL_PROFILE": "kubernetes"})


def test_cluster_instance_file_is_valid_and_says_what_matters(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """deploy/cluster/dagster.yaml against Dagster's own instance schema, and the settings #17 depends on."""
    pytest.importorskip("dagster_celery", reason="the cluster extra is not installed (pip install -e '.[cluster]')")
    from dagster._core.instance.config import dagster_instance_config
    from etl_project.defs.profiles import CeleryRunLauncher

    for variable in ("DAGSTER_PG_HOST", "DAGSTER_PG_PORT", "DAGSTER_PG_USERNAME", "DAGSTER_PG_PASSWORD", "DAGSTER_PG_DB",
                     "ETL_CELERY_BROKER_URL", "ETL_CELERY_BACKEND_URL"):
        monkeypatch.setenv(variable, "5432" if variable.endswith("PORT") else "x")
    shutil.copy(cs.CLUSTER_DAGSTER_YAML, tmp_path / "dagster.yaml")
    config, _ = dagster_instance_config(str(tmp_path))
    assert config["run_coordinator"]["class"] == "QueuedRunCoordinator"
    assert (config["run_launcher"]["module"], config["run_launcher"]["class"]) == ("etl_project.defs.profiles", "CeleryRunLauncher")
    from dagster._config import process_config

    launcher = process_config(CeleryRunLauncher.config_type(), config["run_launcher"]["config"])
    assert launcher.success, launcher.errors
    runs = config["concurrency"]["runs"]
    assert {"key": "dagster/partition", "value": {"applyLimitPerUniqueValue": True}, "limit": 1} in runs["tag_concurrency_limits"]
    monitoring = config["run_monitoring"]
    assert monitoring["enabled"] and monitoring["free_slots_after_run_end_seconds"] > 0  # dagster-io/dagster#28456
    assert config["concurrency"]["pools"]["default_limit"] > 1  # the pool is a cap, the advisory lock the mutex
    celery = yaml.safe_load(cs.CELERY_YAML.read_text())["execution"]["config"]
    assert (celery["broker"], celery["backend"]) == (config["run_launcher"]["config"]["broker"], config["run_launcher"]["config"]["backend"])


# ------------------------------------------------------------------ on the services


def test_a_backfill_of_four_batches_runs_on_both_workers_at_once_and_equals_one_machine(cluster: Cluster, tmp_path: Path) -> None:
    cluster.add(SLICE + SEEDS, BAD)
    keys = cluster.claim(max_files=9)
    assert len(keys) == 4
    started = time.monotonic()
    runs = cluster.backfill(keys, "backfill-four")
    elapsed = time.monotonic() - started
    instance = cluster.services.instance()
    try:
        facts = {key: cs.run_facts(instance, found[0].run_id) for key, found in runs.items()}
        # inside each run, the core staged its batch with a process pool in the worker's run process
        for found in runs.values():
            messages = [record.user_message for record in instance.all_logs(found[0].run_id)]
            assert any("on 2 process(es)" in m for m in messages), [m for m in messages if "staging" in m]
    finally:
        instance.dispose()
    assert all(len(found) == 1 for found in runs.values()), runs
    assert all(f["status"].value == "SUCCESS" for f in facts.values()), facts
    # every run went whole to a worker, and both workers had runs
    assert {f["worker"] for f in facts.values()} == cluster.hostnames, facts
    # runs of different batches overlapped in time on different workers
    overlapping = [
        (a, b) for a in facts for b in facts
        if a < b and facts[a]["worker"] != facts[b]["worker"] and facts[a]["start"] < facts[b]["end"] and facts[b]["start"] < facts[a]["end"]
    ]
    assert overlapping, facts
    # every run gave its pool slot back
    info = pool_info(cluster)
    assert (info.claimed_slots, info.pending_steps) == ([], []), info
    assert_equals_one_machine(cluster, tmp_path)
    print(f"four batches on two workers: {elapsed:.1f} s, overlapping pairs {len(overlapping)}")


def hold_a_run_mid_write(cluster: Cluster, files: list[Path], name: str):
    """A batch of ``files`` launched with its commit held: returns (batch, run, pid of the run's process)
    once its files are staged on the object store and it holds its pool slot, the write lock and the batch lock."""
    import dagster as dg

    cluster.add(files)
    [batch] = cluster.claim(max_files=100)
    cluster.hold_file.write_text("hold")
    holding = Path(str(cluster.hold_file) + ".holding")
    holding.unlink(missing_ok=True)
    assert wait(cs.dagster_backfill(cluster.services, cluster.env, [batch], log_name=name)) == 0, log_tail(cluster, name)
    cs.wait_for(holding.exists, RUN_TIMEOUT, "the run to reach its commit")
    instance = cluster.services.instance()
    try:
        [run] = instance.get_runs(filters=dg.RunsFilter(tags={"dagster/partition": batch}))
    finally:
        instance.dispose()
    assert [slot.run_id for slot in pool_info(cluster).claimed_slots] == [run.run_id]
    assert cs.held_advisory_locks(cluster.services.pg_url) >= 2
    return batch, run, int(holding.read_text())


def assert_nothing_held(cluster: Cluster, batch: str) -> None:
    """The run's pool slot and its advisory locks are free again, and nothing of its batch was published."""
    from etl_project.lib.batches import unfinished
    from etl_project.lib.warehouse import Warehouse

    cs.wait_for(lambda: pool_info(cluster).claimed_slots == [], 60, "the run's pool slot to be freed")
    cs.wait_for(lambda: cs.held_advisory_locks(cluster.services.pg_url) == 0, 30, "the advisory locks to be released")
    assert batch in unfinished(Warehouse(cluster.warehouse))


def test_a_run_cancelled_mid_write_ends_canceled_and_holds_nothing(cluster: Cluster) -> None:
    import dagster as dg

    batch, run, _ = hold_a_run_mid_write(cluster, LATER[:6], "backfill-cancelled")
    instance = cluster.services.instance()
    try:
        assert instance.run_coordinator.cancel_run(run.run_id)  # what the UI's "Terminate" does
    finally:
        instance.dispose()
    [ended] = cs.wait_for_runs(cluster.services, [batch], 90)[batch]
    assert ended.status == dg.DagsterRunStatus.CANCELED, ended.status
    assert_nothing_held(cluster, batch)
    cluster.cancelled = batch


def test_a_run_killed_mid_write_is_failed_by_the_monitor_and_its_slot_freed(cluster: Cluster) -> None:
    import signal

    import dagster as dg

    batch, run, pid = hold_a_run_mid_write(cluster, LATER[6:12], "backfill-killed")
    os.kill(pid, signal.SIGKILL)  # the run's process dies without any cleanup
    time.sleep(0.5)
    # its slot outlives it (dagster-io/dagster#28456) ...
    assert [slot.run_id for slot in pool_info(cluster).claimed_slots] == [run.run_id]
    # ... until the run monitor has seen the dead worker, failed the run, and freed the slot
    # (free_slots_after_run_end_seconds; dagster 1.13.27 does not log how many it freed)
    [ended] = cs.wait_for_runs(cluster.services, [batch], 90)[batch]
    assert ended.status == dg.DagsterRunStatus.FAILURE, ended.status
    assert_nothing_held(cluster, batch)
    cluster.killed = batch


def test_after_a_cancel_and_a_kill_the_next_runs_complete_and_equal_one_machine(cluster: Cluster, tmp_path: Path) -> None:
    import dagster as dg

    from etl_project.lib.batches import unfinished
    from etl_project.lib.warehouse import Warehouse

    cluster.add(LATER[12:])
    [fresh] = cluster.claim(max_files=100)
    again = [key for key in (cluster.cancelled, cluster.killed) if key]
    runs = cluster.backfill([*again, fresh], "backfill-after")
    for key, found in runs.items():
        assert found[0].status == dg.DagsterRunStatus.SUCCESS, (key, [r.status for r in found])  # newest first
    assert unfinished(Warehouse(cluster.warehouse)) == []
    info = pool_info(cluster)
    assert (info.claimed_slots, info.pending_steps) == ([], []), info
    assert_equals_one_machine(cluster, tmp_path)


def test_claims_wait_for_the_advisory_lock(cluster: Cluster, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from etl_project.lib.batches import batches, claim, scan
    from etl_project.lib.locks import LOCK_URL_VARIABLE, advisory_lock, lock_key
    from etl_project.lib.warehouse import Warehouse

    monkeypatch.setenv(LOCK_URL_VARIABLE, cluster.services.pg_url)
    root = f"s3://{cluster.services.bucket}/claims"
    raw = tmp_path / "claims-raw"
    raw.mkdir()
    for path in SEEDS:
        shutil.copy(path, raw / path.name)
    listing = scan(raw)
    done: list[str] = []
    with advisory_lock(cluster.services.pg_url, lock_key(root, "_batches")):  # another machine is claiming
        waiting = threading.Thread(target=lambda: done.extend(claim(Warehouse(root), listing.head(2))))
        waiting.start()
        time.sleep(1.5)
        assert waiting.is_alive() and not done, "a claim went ahead while the manifest was locked"
    waiting.join(timeout=30)
    assert len(done) == 1
    threads = [threading.Thread(target=lambda i=i: done.extend(claim(Warehouse(root), listing.slice(2 + i, 1)))) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(batches(Warehouse(root))) == sorted(done) and len(set(done)) == 4  # no claim lost another's rows


# ------------------------------------------------------------------ the same profile on Kubernetes, on paper

K8S = PROJECT_ROOT / "deploy" / "k8s"
K8S_VERSION = "1.37.0"


def test_k8s_manifests_validate_against_the_kubernetes_schemas() -> None:
    """deploy/k8s/manifests.yaml against the Kubernetes API schemas shipped inside kubernetes-validate (offline, strict)."""
    kubernetes_validate = pytest.importorskip("kubernetes_validate", reason="kubernetes-validate is not installed (pip install kubernetes-validate)")
    documents = [d for d in yaml.safe_load_all((K8S / "manifests.yaml").read_text()) if d]
    assert {d["kind"] for d in documents} >= {"Namespace", "ConfigMap", "Secret", "ServiceAccount", "PersistentVolumeClaim"}
    for document in documents:
        kubernetes_validate.validate(document, K8S_VERSION, strict=True)  # raises on any unknown or ill-typed field
    with pytest.raises(kubernetes_validate.ValidationError):  # and it does catch a mistake
        kubernetes_validate.validate({**documents[-1], "spec": {"hard": {"requests.cpu": ["40"]}}}, K8S_VERSION, strict=True)
    env = next(d for d in documents if d["kind"] == "ConfigMap")["data"]
    assert env["ETL_PROFILE"] == "cluster" and env["ETL_WAREHOUSE_DIR"].startswith("s3://")
    assert "ETL_WAREHOUSE_LOCK_URL" in next(d for d in documents if d.get("metadata", {}).get("name") == "etl-cluster-secrets")["stringData"]
    claim = next(d for d in documents if d["kind"] == "PersistentVolumeClaim")
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]  # the drop zone: every run pod and the sensor at once


def render_instance(values: dict) -> dict:
    """The instance settings the Dagster chart renders from the keys values.yaml uses (its
    templates/helpers/instance/_concurrency.tpl and configmap-instance.yaml, for chart 1.13)."""
    pools, runs = values["concurrency"]["pools"], values["concurrency"]["runs"]
    monitoring = values["dagsterDaemon"]["runMonitoring"]
    launcher = values["runLauncher"]["config"]["k8sRunLauncher"]
    return {
        "run_coordinator": {"module": "dagster.core.run_coordinator", "class": values["dagsterDaemon"]["runCoordinator"]["type"]},
        "run_launcher": {
            "module": "dagster_k8s",
            "class": values["runLauncher"]["type"],
            "config": {
                "load_incluster_config": launcher["loadInclusterConfig"],
                "image_pull_policy": launcher["imagePullPolicy"],
                "env_config_maps": [m["name"] for m in launcher["envConfigMaps"]],
                "env_secrets": [s["name"] for s in launcher["envSecrets"]],
                "env_vars": launcher["envVars"],
                "volumes": launcher["volumes"],
                "volume_mounts": launcher["volumeMounts"],
                "resources": launcher["resources"],
                "run_k8s_config": {"job_spec_config": launcher["runK8sConfig"]["jobSpecConfig"]},
            },
        },
        "concurrency": {
            "pools": {"default_limit": pools["defaultLimit"], "granularity": pools["granularity"]},
            "runs": {"max_concurrent_runs": runs["maxConcurrentRuns"], "tag_concurrency_limits": runs["tagConcurrencyLimits"]},
        },
        "run_monitoring": {
            "enabled": monitoring["enabled"],
            "start_timeout_seconds": monitoring["startTimeoutSeconds"],
            "cancel_timeout_seconds": monitoring["cancelTimeoutSeconds"],
            "poll_interval_seconds": monitoring["pollIntervalSeconds"],
            "free_slots_after_run_end_seconds": monitoring["freeSlotsAfterRunEndSeconds"],
        },
        "telemetry": {"enabled": values["telemetry"]["enabled"]},
    }


def test_k8s_helm_values_render_the_same_instance_settings_as_the_cluster_file(tmp_path: Path) -> None:
    """No package ships the Dagster chart's values schema, so: the instance file values.yaml renders to is
    valid for Dagster's own instance schema (and the K8sRunLauncher's, when dagster-k8s is installed), and
    its queue, limits and run monitoring are those of deploy/cluster/dagster.yaml."""
    from dagster._config import process_config
    from dagster._core.instance.config import dagster_instance_config

    values = yaml.safe_load((K8S / "values.yaml").read_text())
    rendered = render_instance(values)
    (tmp_path / "dagster.yaml").write_text(yaml.safe_dump(rendered))
    config, _ = dagster_instance_config(str(tmp_path))
    cluster = yaml.safe_load(cs.CLUSTER_DAGSTER_YAML.read_text())
    assert config["concurrency"] == cluster["concurrency"]
    assert config["run_monitoring"] == cluster["run_monitoring"]
    assert config["run_coordinator"]["class"] == cluster["run_coordinator"]["class"]
    assert values["postgresql"]["enabled"] is False and values["generatePostgresqlPasswordSecret"] is False
    [code] = values["dagster-user-deployments"]["deployments"]
    assert code["dagsterApiGrpcArgs"] == ["--module-name", "etl_project.definitions"]
    try:
        from dagster_k8s import K8sRunLauncher
    except ImportError:
        return
    launcher = dict(rendered["run_launcher"]["config"], instance_config_map="dagster-instance", dagster_home="/opt/dagster/dagster_home",
                    service_account_name="etl-runs", postgres_password_secret="dagster-postgresql-secret")
    checked = process_config(K8sRunLauncher.config_type(), launcher)
    assert checked.success, checked.errors

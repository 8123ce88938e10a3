"""Real services on 127.0.0.1 for the `cluster` profile: PostgreSQL, Redis, an S3 endpoint, Celery workers.

Used by ``test_cluster.py`` and by ``bench/cluster_speedup.py``. Every process
is started here with ``start_new_session=True`` and stopped by its own process
group id (never by name). A service that is missing and cannot be installed
raises :class:`Unavailable` naming what is missing (the test turns it into a skip).
"""

from __future__ import annotations

import contextlib
import glob
import json
import logging
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
WAREHOUSE_WRITES_POOL = "warehouse_writes"  # etl_project.defs.profiles.WAREHOUSE_WRITES_POOL
VENV_BIN = Path(sys.executable).parent
CLUSTER_DAGSTER_YAML = PROJECT_ROOT / "deploy" / "cluster" / "dagster.yaml"
CELERY_YAML = PROJECT_ROOT / "deploy" / "cluster" / "celery.yaml"
PG_USER = "dagster"
PG_PASSWORD = "dagster"
PG_DB = "dagster"


@contextlib.contextmanager
def environment(**values: str) -> Iterator[None]:
    """``os.environ`` with ``values`` set, restored as it was afterwards (also on error)."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def run_facts(instance, run_id: str) -> dict:
    """A run as the cluster saw it: its status, when it started and ended, and the Celery worker that executed it."""
    record = instance.get_run_record_by_id(run_id)
    run = record.dagster_run
    worker = None
    task_id = run.tags.get("dagster-celery/task_id")
    if task_id:
        # the worker's name is kept with the task's state (result_extended in celery.yaml)
        worker = instance.run_launcher.celery.AsyncResult(task_id).worker
    return {"status": run.status, "start": record.start_time, "end": record.end_time, "worker": worker, "partition": run.tags.get("dagster/partition")}


def held_advisory_locks(pg_url: str) -> int:
    """How many PostgreSQL advisory locks are held right now (the warehouse's write and batch locks)."""
    import psycopg2

    connection = psycopg2.connect(pg_url)
    try:
        with connection.cursor() as cursor:
            cursor.execute("select count(*) from pg_locks where locktype = 'advisory' and granted")
            return int(cursor.fetchone()[0])
    finally:
        connection.close()


class Unavailable(RuntimeError):
    """A service this needs is not installed and could not be installed or started."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout: float, what: str, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except Exception as exc:  # noqa: BLE001 - retried until the deadline
            last = exc
        time.sleep(interval)
    raise Unavailable(f"{what} did not come up within {timeout:.0f} s" + (f" ({last})" if last else ""))


def stop_process(proc: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 20) -> None:
    """Stop a process started with ``start_new_session=True``: its group, by its own id, then SIGKILL."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    # children that outlived their leader (e.g. Celery pool processes) are still in the group
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


# ------------------------------------------------------------------ installing Debian packages


def _apt_install(package: str) -> str | None:
    """``apt-get install`` a Debian package when we are root; returns why not, or None when it worked."""
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return "not root or no apt-get"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    cmd = ["apt-get", "install", "-y", "-qq", "--no-install-recommends", package]
    for attempt in range(2):
        try:
            done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=400)
        except subprocess.TimeoutExpired:
            return "apt-get install timed out"
        if done.returncode == 0:
            return None
        if attempt == 0:  # package lists may be missing or stale
            subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True, timeout=300)
    return (done.stderr or done.stdout).strip().splitlines()[-1:][0] if (done.stderr or done.stdout) else "apt-get failed"


def postgres_bin_dir() -> Path | None:
    for candidate in [shutil.which("initdb"), *sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)]:
        if candidate and Path(candidate).exists():
            directory = Path(os.path.realpath(candidate)).parent
            if (directory / "postgres").exists():
                return directory
    return None


def ensure_postgres() -> Path:
    found = postgres_bin_dir()
    if found is None:
        why = _apt_install("postgresql")
        found = postgres_bin_dir()
        if found is None:
            raise Unavailable(f"PostgreSQL (initdb, postgres) is not installed and could not be installed: {why}")
    return found


def ensure_redis() -> str:
    found = shutil.which("redis-server")
    if found is None:
        why = _apt_install("redis-server")
        found = shutil.which("redis-server")
        if found is None:
            raise Unavailable(f"redis-server is not installed and could not be installed: {why}")
    return found


# ------------------------------------------------------------------ the services


@dataclass
class Services:
    """What is running, and the environment a Dagster process of the cluster profile needs."""

    root: Path
    pg_port: int
    redis_port: int
    s3_endpoint: str
    bucket: str
    dagster_home: Path
    processes: list[subprocess.Popen] = field(default_factory=list)

    @property
    def pg_url(self) -> str:
        return f"postgresql://{PG_USER}:{PG_PASSWORD}@127.0.0.1:{self.pg_port}/{PG_DB}"

    def env(self, warehouse: str, raw: Path, **extra: str) -> dict[str, str]:
        """The environment of the cluster profile: the same for run processes and workers."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ETL_", "DAGSTER_"))}
        env.update(
            PATH=f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}",
            ETL_PROFILE="cluster",
            DAGSTER_HOME=str(self.dagster_home),
            DAGSTER_PG_HOST="127.0.0.1",
            DAGSTER_PG_PORT=str(self.pg_port),
            DAGSTER_PG_USERNAME=PG_USER,
            DAGSTER_PG_PASSWORD=PG_PASSWORD,
            DAGSTER_PG_DB=PG_DB,
            ETL_CELERY_BROKER_URL=f"redis://127.0.0.1:{self.redis_port}/0",
            ETL_CELERY_BACKEND_URL=f"redis://127.0.0.1:{self.redis_port}/1",
            ETL_WAREHOUSE_DIR=warehouse,
            ETL_RAW_DIR=str(raw),
            ETL_ALERTS_FILE=str(self.root / "alerts.jsonl"),
            ETL_WAREHOUSE_LOCK_URL=self.pg_url,
            AWS_ENDPOINT_URL=self.s3_endpoint,
            AWS_ACCESS_KEY_ID="test",
            AWS_SECRET_ACCESS_KEY="test",
            AWS_DEFAULT_REGION="us-east-1",
            AWS_REGION="us-east-1",
            AWS_EC2_METADATA_DISABLED="true",
            GX_ANALYTICS_ENABLED="false",
            PYTHONUNBUFFERED="1",
        )
        env.update(extra)
        return env

    def instance(self):
        """The Postgres-backed Dagster instance (the cluster dagster.yaml), from this process."""
        import dagster as dg

        with environment(DAGSTER_PG_HOST="127.0.0.1", DAGSTER_PG_PORT=str(self.pg_port), DAGSTER_PG_USERNAME=PG_USER,
                         DAGSTER_PG_PASSWORD=PG_PASSWORD, DAGSTER_PG_DB=PG_DB,
                         ETL_CELERY_BROKER_URL=f"redis://127.0.0.1:{self.redis_port}/0",
                         ETL_CELERY_BACKEND_URL=f"redis://127.0.0.1:{self.redis_port}/1"):
            return dg.DagsterInstance.from_config(str(self.dagster_home))

    def start(self, cmd: list[str], *, env: Mapping[str, str] | None = None, log: Path, **options) -> subprocess.Popen:
        handle = open(log, "ab")
        try:
            proc = subprocess.Popen(cmd, env=env, stdout=handle, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    start_new_session=True, **options)
        finally:
            handle.close()
        self.processes.append(proc)
        return proc

    def stop_all(self) -> None:
        for proc in reversed(self.processes):
            stop_process(proc, signal.SIGINT if getattr(proc, "_etl_is_postgres", False) else signal.SIGTERM)


def _start_postgres(services: Services, bin_dir: Path) -> None:
    data = Path(tempfile.mkdtemp(prefix="etl-pg-"))  # outside pytest's 0700 tmp tree: postgres must reach it
    user_options: dict = {}
    if os.geteuid() == 0:  # initdb and postgres refuse to run as root
        account = next((name for name in ("postgres", "nobody") if _has_user(name)), None)
        if account is None:
            raise Unavailable("PostgreSQL cannot run as root and there is no 'postgres' or 'nobody' account")
        entry = pwd.getpwnam(account)
        os.chown(data, entry.pw_uid, entry.pw_gid)
        user_options = {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}
    services.root.joinpath("pg_data_dir").write_text(str(data))
    pwfile = data / "pw"
    pwfile.write_text(PG_PASSWORD)
    if user_options:
        os.chown(pwfile, user_options["user"], user_options["group"])
    done = subprocess.run(
        [str(bin_dir / "initdb"), "-D", str(data / "db"), "-U", PG_USER, f"--pwfile={pwfile}", "-A", "md5", "-E", "UTF8", "--no-sync"],
        capture_output=True, text=True, timeout=180, **user_options,
    )
    if done.returncode != 0:
        raise Unavailable(f"initdb failed: {done.stderr.strip()[-300:]}")
    port = free_port()
    proc = services.start(
        [str(bin_dir / "postgres"), "-D", str(data / "db"), "-p", str(port), "-h", "127.0.0.1", "-k", str(data),
         "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off", "-c", "max_connections=300"],
        log=services.root / "postgres.log", **user_options,
    )
    proc._etl_is_postgres = True  # type: ignore[attr-defined]  # stopped with SIGINT (fast shutdown)
    services.pg_port = port

    import psycopg2

    def ready():
        if proc.poll() is not None:
            raise Unavailable(f"postgres exited: {(services.root / 'postgres.log').read_text()[-500:]}")
        psycopg2.connect(host="127.0.0.1", port=port, user=PG_USER, password=PG_PASSWORD, dbname="postgres").close()
        return True

    wait_for(ready, 60, "PostgreSQL")
    conn = psycopg2.connect(host="127.0.0.1", port=port, user=PG_USER, password=PG_PASSWORD, dbname="postgres")
    conn.autocommit = True
    with conn.cursor() as cursor:
        cursor.execute(f"create database {PG_DB}")
    conn.close()


def _has_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def _start_redis(services: Services, binary: str) -> None:
    port = free_port()
    directory = services.root / "redis"
    directory.mkdir()
    proc = services.start(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(directory), "--daemonize", "no"],
        log=services.root / "redis.log",
    )
    services.redis_port = port

    def ready():
        if proc.poll() is not None:
            raise Unavailable(f"redis-server exited: {(services.root / 'redis.log').read_text()[-500:]}")
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")

    wait_for(ready, 30, "Redis")


def write_instance_yaml(target: Path, overrides: Mapping) -> None:
    import yaml

    config = yaml.safe_load(CLUSTER_DAGSTER_YAML.read_text())
    for section, values in overrides.items():
        config[section] = {**(config.get(section) or {}), **values} if isinstance(values, Mapping) else values
    target.write_text(yaml.safe_dump(config, sort_keys=False))


@contextlib.contextmanager
def cluster_services(root: Path, bucket: str = "etl-cluster", *, instance_overrides: Mapping | None = None) -> Iterator[Services]:
    """PostgreSQL, Redis and an S3 endpoint (moto) on 127.0.0.1, an instance home with the cluster dagster.yaml.

    ``instance_overrides`` are merged into the committed dagster.yaml (a section's keys replace the
    file's): the test shortens the run monitor's intervals, which are minutes in production."""
    try:
        import dagster_celery  # noqa: F401
        import dagster_postgres  # noqa: F401
        import dagster_aws  # noqa: F401
        import psycopg2  # noqa: F401
    except ImportError as exc:
        raise Unavailable(f"the cluster extra is not installed ({exc.name}); pip install -e '.[cluster]'") from exc
    try:
        from moto.server import ThreadedMotoServer
    except ImportError as exc:
        raise Unavailable("moto[server] is not installed (pip install 'moto[server]')") from exc
    pg_bin = ensure_postgres()
    redis_bin = ensure_redis()
    root.mkdir(parents=True, exist_ok=True)
    home = root / "dagster_home"
    home.mkdir()
    write_instance_yaml(home / "dagster.yaml", instance_overrides or {})
    services = Services(root=root, pg_port=0, redis_port=0, s3_endpoint="", bucket=bucket, dagster_home=home)
    moto = None
    try:
        _start_postgres(services, pg_bin)
        _start_redis(services, redis_bin)
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto logs every request otherwise
        moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        moto.start()
        host, port = moto.get_host_and_port()
        services.s3_endpoint = f"http://{host}:{port}"
        import pyarrow.fs as pafs

        pafs.S3FileSystem(endpoint_override=services.s3_endpoint, access_key="test", secret_key="test",
                          allow_bucket_creation=True, region="us-east-1").create_dir(bucket)
        instance = services.instance()  # creates the instance's tables once, before any worker races to
        try:
            # What the first writer step would do: give the pool the default limit of dagster.yaml. Done
            # once here because two runs doing it at the same moment make one of them fail
            # (dagster-postgres 0.29.27: UniqueViolation on concurrency_limits); see deploy/README.md.
            instance.event_log_storage.initialize_concurrency_limit_to_default(WAREHOUSE_WRITES_POOL)
        finally:
            instance.dispose()
        yield services
    finally:
        services.stop_all()
        if moto is not None:
            moto.stop()
        data_dir = root / "pg_data_dir"
        if data_dir.exists():
            shutil.rmtree(data_dir.read_text(), ignore_errors=True)


def start_worker(services: Services, env: Mapping[str, str], name: str, *, concurrency: int = 1, includes: tuple[str, ...] = ()) -> subprocess.Popen:
    """A Celery worker (``dagster-celery worker start``) with the committed celery.yaml; waits until it is ready."""
    log = services.root / f"worker-{name}.log"
    cmd = [str(VENV_BIN / "dagster-celery"), "worker", "start", "-A", "dagster_celery.app", "-y", str(CELERY_YAML), "-n", name]
    for module in includes:
        cmd += ["-i", module]
    cmd += ["--", f"--concurrency={concurrency}", "--pool=prefork", "--without-gossip", "--without-mingle"]
    proc = services.start(cmd, env=dict(env), log=log, cwd=str(services.root))

    def ready():
        if proc.poll() is not None:
            raise Unavailable(f"worker {name} exited: {log.read_text()[-1500:]}")
        return " ready." in log.read_text(errors="replace")

    wait_for(ready, 120, f"Celery worker {name}", interval=0.5)
    return proc


def start_daemon(services: Services, env: Mapping[str, str]) -> subprocess.Popen:
    """``dagster-daemon run``: the run queue (launches runs on the workers) and the run monitor (frees slots)."""
    log = services.root / "daemon.log"
    cmd = [str(VENV_BIN / "dagster-daemon"), "run", "-m", "etl_project.definitions"]
    proc = services.start(cmd, env=dict(env), log=log, cwd=str(services.root))

    def ready():
        if proc.poll() is not None:
            raise Unavailable(f"dagster-daemon exited: {log.read_text()[-1500:]}")
        instance = services.instance()
        try:
            beats = {beat.daemon_type for beat in instance.get_daemon_heartbeats().values()}
        finally:
            instance.dispose()
        return {"QUEUED_RUN_COORDINATOR", "MONITORING"} <= beats

    wait_for(ready, 180, "dagster-daemon", interval=1.0)
    return proc


def dagster_backfill(services: Services, env: Mapping[str, str], partitions: list[str], *, log_name: str) -> subprocess.Popen:
    """``dagster job backfill`` of warehouse_job over ``partitions``: one queued run per batch (what the UI's backfill does)."""
    cmd = [str(VENV_BIN / "dagster"), "job", "backfill", "-m", "etl_project.definitions", "-j", "warehouse_job",
           "--partitions", ",".join(partitions), "--noprompt"]
    return services.start(cmd, env=dict(env), log=services.root / f"{log_name}.log", cwd=str(services.root))


def wait_for_runs(services: Services, partitions: list[str], timeout: float, *, statuses=None) -> dict[str, list]:
    """Wait until every run of ``partitions`` has reached one of ``statuses`` (default: finished); the runs per partition."""
    import dagster as dg
    from dagster._core.storage.dagster_run import FINISHED_STATUSES

    wanted = set(statuses or FINISHED_STATUSES)
    deadline = time.monotonic() + timeout
    while True:
        instance = services.instance()
        try:
            runs = {key: list(instance.get_runs(filters=dg.RunsFilter(tags={"dagster/partition": key}))) for key in partitions}
        finally:
            instance.dispose()
        if all(runs[key] and all(run.status in wanted for run in runs[key]) for key in partitions):
            return runs
        if time.monotonic() > deadline:
            raise TimeoutError({key: [run.status.value for run in found] for key, found in runs.items()})
        time.sleep(1.0)

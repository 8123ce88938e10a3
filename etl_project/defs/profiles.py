"""Deployment profiles: where runs execute (``ETL_PROFILE``).

``local`` (the default) changes nothing: Dagster's default executor (in-process
or one process per step), the instance in ``$DAGSTER_HOME`` (SQLite), the
warehouse on local disk.

``cluster`` distributes *runs*, not steps. A run is one ingest batch (a
partition of ``warehouse_job``); its heavy step is one call into the pipeline's
core, which spreads the batch over the machine's cores itself. So the instance
(``deploy/cluster/dagster.yaml``: PostgreSQL, the queued run coordinator and
dagster-celery's ``CeleryRunLauncher``) sends each run whole to the next free
Celery worker, and inside the run the steps execute one after the other in that
worker's process (:data:`dagster.in_process_executor`): no step hands anything to
another through an IO manager, so no step needs another machine. The warehouse
is an ``s3://`` root. What the code reads:

=========================  =====================================================
``ETL_PROFILE``            ``local`` (default) or ``cluster``
``ETL_WAREHOUSE_DIR``      ``s3://bucket/prefix`` (required for ``cluster``)
``ETL_WAREHOUSE_LOCK_URL`` ``postgresql://...`` (required for ``cluster``): the
                           warehouse write lock and the per-batch locks are
                           PostgreSQL advisory locks (:mod:`etl_project.lib.locks`)
``AWS_ENDPOINT_URL`` ...   the S3 endpoint and credentials (pyarrow conventions)
=========================  =====================================================

Writers cannot collide: the core takes the write lock for its publish phase only
(merge + commit), so runs of different batches stage in parallel and queue for
the commit alone. An object store has no lock of its own, which is why the
profile refuses to start without ``ETL_WAREHOUSE_LOCK_URL``. The step stays in
the pool :data:`WAREHOUSE_WRITES_POOL`, whose limit on the cluster (8) only caps
how many batches are worked on at once.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import dagster as dg

from etl_project.lib.locks import LOCK_URL_VARIABLE

PROFILES = ("local", "cluster")
DEFAULT_PROFILE = "local"
WAREHOUSE_WRITES_POOL = "warehouse_writes"
"""The concurrency pool of the step that writes the warehouse tables: on the cluster a cap on batches in flight, not a mutex."""


class ProfileError(ValueError):
    """The deployment profile is unknown or its settings are incomplete."""


@dataclass(frozen=True)
class Profile:
    """What a profile adds to the code location: an executor (None: Dagster's default) and resources."""

    name: str
    executor: dg.ExecutorDefinition | None = None
    resources: dict[str, Any] = field(default_factory=dict)


def profile_name(env: Mapping[str, str] | None = None) -> str:
    env = os.environ if env is None else env
    name = (env.get("ETL_PROFILE") or DEFAULT_PROFILE).strip().lower()
    if name not in PROFILES:
        raise ProfileError(f"ETL_PROFILE={name!r} is not a deployment profile; use one of {', '.join(PROFILES)}")
    return name


def split_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix`` -> (``bucket``, ``some/prefix``)."""
    if not uri.startswith("s3://"):
        raise ProfileError(f"{uri!r} is not an s3://bucket/prefix URI")
    bucket, _, prefix = uri[len("s3://"):].partition("/")
    if not bucket:
        raise ProfileError(f"{uri!r} names no bucket")
    return bucket, prefix.strip("/")


def check_cluster_settings(env: Mapping[str, str]) -> None:
    """Refuse settings with which runs on several machines could not share one warehouse safely."""
    warehouse = env.get("ETL_WAREHOUSE_DIR", "")
    if not warehouse.startswith("s3://"):
        raise ProfileError(
            "ETL_PROFILE=cluster needs the warehouse on object storage: set ETL_WAREHOUSE_DIR=s3://bucket/prefix "
            f"(got {warehouse or 'nothing'}); workers on other machines cannot see a local folder"
        )
    split_s3_uri(warehouse)
    lock_url = env.get(LOCK_URL_VARIABLE, "")
    if not lock_url.startswith(("postgresql://", "postgres://")):
        raise ProfileError(
            f"ETL_PROFILE=cluster needs {LOCK_URL_VARIABLE}=postgresql://user:password@host:5432/db (e.g. the instance's "
            "database): an object store has no lock, and runs of different batches publish to the same tables"
        )


def build_profile(env: Mapping[str, str] | None = None) -> Profile:
    """The profile named by ``ETL_PROFILE`` in ``env`` (default: the process environment)."""
    env = os.environ if env is None else env
    name = profile_name(env)
    if name == "local":
        return Profile(name)
    check_cluster_settings(env)
    return Profile(name, executor=dg.in_process_executor)


try:  # the cluster extra; the local profile does not need it
    from dagster_celery.launcher import CeleryRunLauncher as _CeleryRunLauncher
except ImportError:  # pragma: no cover - depends on the install
    _CeleryRunLauncher = None

def allow_run_processes(**_: Any) -> None:
    """Let a Celery pool process start processes of its own.

    A run executes in a pool process of its Celery worker, and Celery's pool processes are daemonic;
    Python refuses to let a daemonic process start children ("daemonic processes are not allowed to
    have children"), and the core's process pool is made of children; billiard's authentication key
    cannot be handed to a spawned child either. Connected to Celery's
    ``worker_process_init`` below, so any worker that imports this module (``celery.yaml`` lists it in
    ``imports``) runs the core on all its cores. The pool processes' children are the core's helpers,
    which end with the run's process (their pipes close).
    """
    import multiprocessing
    import multiprocessing.process

    process = multiprocessing.current_process()
    process._config["daemon"] = False  # noqa: SLF001 - the usual way round
    # billiard (Celery's multiprocessing) left its own AuthenticationString here, which the standard
    # library's spawn cannot pickle for the children: give the process a key of the standard kind
    process._config["authkey"] = multiprocessing.process.AuthenticationString(os.urandom(32))  # noqa: SLF001


if _CeleryRunLauncher is not None:
    from celery.signals import worker_process_init

    worker_process_init.connect(allow_run_processes, weak=False)

    class CeleryRunLauncher(_CeleryRunLauncher):
        """dagster-celery's run launcher, with a cancellation that says it is one.

        ``CeleryRunLauncher.terminate`` (0.29.27) revokes the run's task without marking the run
        CANCELING first, so the interrupted run ends as a *failure* ("no user initiated termination
        request was found"), raises a failure alert and is retried like a crash. Here the run is
        marked CANCELING first, as Dagster's own launchers do: it ends CANCELED.
        """

        def terminate(self, run_id: str) -> bool:
            run = self._instance.get_run_by_id(run_id)
            if run is None or run.is_finished:
                return False
            self._instance.report_run_canceling(run)
            return super().terminate(run_id)


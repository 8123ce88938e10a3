"""Deployment profiles: where the steps run and how they hand data to each other (``ETL_PROFILE``).

``local`` (the default) changes nothing: Dagster's default executor (in-process
or one process per step), the default filesystem IO manager for step outputs,
the instance in ``$DAGSTER_HOME`` (SQLite), the warehouse on local disk.

``cluster`` runs every step as a Celery task (dagster-celery, Redis broker)
and keeps step outputs in S3-compatible object storage (dagster-aws's
``S3PickleIOManager``), so a step may run on any machine of the cluster. The
instance (runs, events, partitions, concurrency slots) lives in PostgreSQL
(``deploy/cluster/dagster.yaml``), the warehouse in an ``s3://`` root
(``ETL_WAREHOUSE_DIR``). What the code reads:

=========================  =====================================================
``ETL_PROFILE``            ``local`` (default) or ``cluster``
``ETL_WAREHOUSE_DIR``      ``s3://bucket/prefix`` (required for ``cluster``)
``ETL_IO_URI``             where step outputs go, ``s3://bucket/prefix``;
                           default ``<ETL_WAREHOUSE_DIR>/_dagster_io``
``ETL_CELERY_CONFIG``      the Celery executor's config file; default
                           ``deploy/cluster/celery.yaml`` (its broker and backend
                           come from ``ETL_CELERY_BROKER_URL`` / ``_BACKEND_URL``)
``AWS_ENDPOINT_URL`` ...   the S3 endpoint and credentials (boto3 / pyarrow
                           conventions), the same for the warehouse and step outputs
=========================  =====================================================

The executor reads the same ``celery.yaml`` the workers are started with
(``dagster-celery worker start -y deploy/cluster/celery.yaml``), so the two
cannot disagree on the broker.

Writers of the warehouse tables are kept apart by the Dagster concurrency
pool :data:`WAREHOUSE_WRITES_POOL` (limit 1 in ``deploy/cluster/dagster.yaml``):
an object store has no file lock.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg

PROJECT_ROOT = Path(__file__).resolve().parents[2]
PROFILES = ("local", "cluster")
DEFAULT_PROFILE = "local"
WAREHOUSE_WRITES_POOL = "warehouse_writes"
"""The concurrency pool of every step that writes a warehouse table (limit 1 on the cluster)."""
DEFAULT_CELERY_CONFIG = PROJECT_ROOT / "deploy" / "cluster" / "celery.yaml"
IO_SUBFOLDER = "_dagster_io"


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


def _setting(env: Mapping[str, str], variable: str, default: str | None = None) -> str | dg.EnvVar | None:
    """The variable as a ``dg.EnvVar`` when set (read where the step runs, shown as such in the UI), else ``default``."""
    return dg.EnvVar(variable) if env.get(variable) else default


def split_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix`` -> (``bucket``, ``some/prefix``)."""
    if not uri.startswith("s3://"):
        raise ProfileError(f"{uri!r} is not an s3://bucket/prefix URI")
    bucket, _, prefix = uri[len("s3://"):].partition("/")
    if not bucket:
        raise ProfileError(f"{uri!r} names no bucket")
    return bucket, prefix.strip("/")


def io_uri(env: Mapping[str, str]) -> str:
    """Where step outputs are kept on the cluster: ``ETL_IO_URI``, else beside the warehouse tables."""
    if env.get("ETL_IO_URI"):
        return env["ETL_IO_URI"]
    warehouse = env.get("ETL_WAREHOUSE_DIR", "")
    if not warehouse.startswith("s3://"):
        raise ProfileError(
            "ETL_PROFILE=cluster needs the warehouse on object storage: set ETL_WAREHOUSE_DIR=s3://bucket/prefix "
            f"(got {warehouse or 'nothing'}); workers on other machines cannot see a local folder"
        )
    return f"{warehouse.rstrip('/')}/{IO_SUBFOLDER}"


def celery_config(env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The ``execution.config`` block of the Celery config file (``ETL_CELERY_CONFIG``), as the executor takes it."""
    import yaml

    env = os.environ if env is None else env
    path = Path(env.get("ETL_CELERY_CONFIG") or DEFAULT_CELERY_CONFIG)
    if not path.is_file():
        raise ProfileError(f"Celery config {path} not found (set ETL_CELERY_CONFIG)")
    parsed = yaml.safe_load(path.read_text()) or {}
    config = (parsed.get("execution") or {}).get("config")
    if not isinstance(config, dict):
        raise ProfileError(f"{path} has no execution.config block")
    return config


def cluster_io_manager(env: Mapping[str, str]) -> dg.ConfigurableIOManager:
    try:
        from dagster_aws.s3 import S3PickleIOManager, S3Resource
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ProfileError("ETL_PROFILE=cluster needs the cluster extra: pip install -e '.[cluster]'") from exc
    bucket, prefix = split_s3_uri(io_uri(env))
    s3 = S3Resource(
        endpoint_url=_setting(env, "AWS_ENDPOINT_URL"),
        region_name=_setting(env, "AWS_REGION", _setting(env, "AWS_DEFAULT_REGION")),
    )
    return S3PickleIOManager(s3_resource=s3, s3_bucket=bucket, s3_prefix=prefix or IO_SUBFOLDER)


def cluster_executor(env: Mapping[str, str]) -> dg.ExecutorDefinition:
    try:
        from dagster_celery import celery_executor
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ProfileError("ETL_PROFILE=cluster needs the cluster extra: pip install -e '.[cluster]'") from exc
    return celery_executor.configured(celery_config(env), name="celery")


def build_profile(env: Mapping[str, str] | None = None) -> Profile:
    """The profile named by ``ETL_PROFILE`` in ``env`` (default: the process environment)."""
    env = os.environ if env is None else env
    name = profile_name(env)
    if name == "local":
        return Profile(name)
    return Profile(name, executor=cluster_executor(env), resources={"io_manager": cluster_io_manager(env)})

"""The Dagster code location: the definitions found in the ``defs/`` folder, plus resources and executor.

Assets, checks, jobs, sensors and schedules are found in ``etl_project/defs/`` by
:func:`dagster.load_from_defs_folder` (the ``dg`` project shape, ``[tool.dg]`` in pyproject.toml):
adding one means adding it to a module there. This module adds what depends on the environment at
load time: the resources (folders from ``ETL_RAW_DIR``, ``ETL_WAREHOUSE_DIR``, ...) and the
deployment profile's executor and resources (``ETL_PROFILE``, defs/profiles.py).
``dg dev``, ``dagster dev -w workspace.yaml`` and ``etl-project`` all load this module.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import dagster as dg

from etl_project.defs.profiles import build_profile
from etl_project.defs.resources import Alerter, RawFolder, WarehouseResource
from etl_project.defs.themes.prevalence import theme_prevalence
from etl_project.defs.themes.report import theme_report
from etl_project.defs.warehouse.assets import warehouse_tables

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def path_setting(variable: str, default: Path) -> str | dg.EnvVar:
    """The folder named by an environment variable (shown as such in the UI), else the project default."""
    return dg.EnvVar(variable) if os.environ.get(variable) else str(default)


ALL_ASSETS = [warehouse_tables, theme_prevalence, theme_report]
"""The assets, for callers that assemble a job of their own (tests, bench); the code location finds them in defs/."""
RAW_FOLDER_SETTINGS = {"batch_max_files": "ETL_BATCH_MAX_FILES", "batch_max_mb": "ETL_BATCH_MAX_MB", "quiet_seconds": "ETL_QUIET_SECONDS"}


def build_resources() -> dict:
    warehouse = WarehouseResource(root=path_setting("ETL_WAREHOUSE_DIR", PROJECT_ROOT / "data" / "warehouse"))
    webhook = dg.EnvVar("ETL_ALERT_WEBHOOK_URL") if os.environ.get("ETL_ALERT_WEBHOOK_URL") else None
    alerts = dg.EnvVar("ETL_ALERTS_FILE") if os.environ.get("ETL_ALERTS_FILE") else None
    return {
        "raw_folder": RawFolder(
            path=path_setting("ETL_RAW_DIR", PROJECT_ROOT / "data" / "raw"),
            **{field: int(os.environ[variable]) for field, variable in RAW_FOLDER_SETTINGS.items() if os.environ.get(variable)},
        ),
        "warehouse": warehouse,
        "alerter": Alerter(warehouse=warehouse, webhook_url=webhook, alerts_path=alerts),
    }


def load_defs_folder(*, plugin_catalog: bool = True) -> dg.Definitions:
    """Everything in ``etl_project/defs/``, found as ``dg`` finds it: through ``[tool.dg]`` in the project's
    pyproject.toml, or, in an installed package without the project beside it (an image built with
    ``pip install .``), straight from the ``etl_project.defs`` package.

    ``plugin_catalog=False`` (the CLI) leaves out the catalogue of installed component types that the
    UI's component browser shows: building it imports every installed Dagster integration (over a
    second with dagster-aws), and running a job needs none of it. The assets, checks, jobs, sensors
    and schedules are the same either way (test_dg_project.py checks it).
    """
    if (PROJECT_ROOT / "pyproject.toml").is_file():
        tree = dg.ComponentTree.for_project(path_within_project=PROJECT_ROOT)  # what dg.load_from_defs_folder builds
    else:
        import etl_project.defs

        tree = dg.ComponentTree(defs_module=etl_project.defs, project_root=Path(etl_project.defs.__file__).parent.parent, code_location_name="etl_project")
    if plugin_catalog:
        return tree.build_defs()
    with warnings.catch_warnings():  # the same loader dg.load_from_defs_folder runs, and silences, under the catalogue
        warnings.simplefilter("ignore", dg.PreviewWarning)
        return tree.build_defs_at_path(Path("."))


def build_definitions(*, plugin_catalog: bool = True) -> dg.Definitions:
    """The code location for the deployment profile named by ``ETL_PROFILE`` (``local`` or ``cluster``, see defs/profiles.py)."""
    profile = build_profile()
    return dg.Definitions.merge(
        load_defs_folder(plugin_catalog=plugin_catalog),
        dg.Definitions(resources={**build_resources(), **profile.resources}, executor=profile.executor),
    )


@dg.definitions
def defs() -> dg.Definitions:
    """What ``dg dev``, ``dagster dev -w workspace.yaml`` and a gRPC code server load: built when a tool
    asks for it, not when this module is imported (the CLI imports it for :func:`build_definitions`)."""
    return build_definitions()

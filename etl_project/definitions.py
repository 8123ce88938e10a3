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


def load_defs_folder() -> dg.Definitions:
    """Everything in ``etl_project/defs/``, found as ``dg`` finds it: through ``[tool.dg]`` in the project's
    pyproject.toml, or, in an installed package without the project beside it (an image built with
    ``pip install .``), straight from the ``etl_project.defs`` package."""
    if (PROJECT_ROOT / "pyproject.toml").is_file():
        return dg.load_from_defs_folder(path_within_project=PROJECT_ROOT)
    import etl_project.defs

    return dg.ComponentTree(defs_module=etl_project.defs, project_root=Path(etl_project.defs.__file__).parent.parent, code_location_name="etl_project").build_defs()


def build_definitions() -> dg.Definitions:
    """The code location for the deployment profile named by ``ETL_PROFILE`` (``local`` or ``cluster``, see defs/profiles.py)."""
    profile = build_profile()
    return dg.Definitions.merge(
        load_defs_folder(),
        dg.Definitions(resources={**build_resources(), **profile.resources}, executor=profile.executor),
    )


defs = build_definitions()

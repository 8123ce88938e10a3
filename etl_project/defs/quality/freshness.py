"""Freshness: the tables declare how fresh they must be; a stale warehouse raises an alert.

Each table asset carries a ``FreshnessPolicy`` (defs/warehouse/assets.py, ``ETL_FRESHNESS_HOURS``,
default 26 h: the daily schedule plus slack), which the UI shows. The UI's freshness state alone
reaches nobody who is not looking, so this sensor also alerts through the same ``alerter`` as every
other alert: once when the last publish grows older than the window, again when it is fresh and
goes stale anew.
"""

import datetime as dt

import dagster as dg

from etl_project.defs.resources import Alerter, WarehouseResource
from etl_project.defs.warehouse.assets import FRESH_WITHIN
from etl_project.lib.alerts import Alert
from etl_project.lib.batches import last_published_at


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


@dg.sensor(
    minimum_interval_seconds=600,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Every 10 min: alerts when no batch has been published within the tables' freshness window.",
)
def warehouse_freshness(context: dg.SensorEvaluationContext, warehouse: WarehouseResource, alerter: Alerter):
    last = last_published_at(warehouse.get())
    if last is None:
        return dg.SkipReason("nothing published yet")
    age = now() - last
    if age <= FRESH_WITHIN:
        return dg.SensorResult(skip_reason=f"fresh: last batch published {age} ago", cursor="")
    breach = last.isoformat()
    if context.cursor == breach:
        return dg.SkipReason(f"stale since {last + FRESH_WITHIN}; already alerted")
    alerter.raise_alert(
        context.log,
        Alert(
            kind="stale_warehouse",
            severity="WARN",
            summary=f"the warehouse is stale: the last batch was published {age.total_seconds() / 3600:.1f} h ago "
            f"(freshness window {FRESH_WITHIN.total_seconds() / 3600:.0f} h)",
            details={"last_published_at": breach, "window_hours": FRESH_WITHIN.total_seconds() / 3600},
        ),
    )
    return dg.SensorResult(skip_reason="stale: alert raised", cursor=breach)

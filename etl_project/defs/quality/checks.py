"""Data-quality checks: Great Expectations suites as Dagster asset checks, with alerts.

* The blocking checks (contracts, unique ids, a working repair) run on the
  staged rows *before* a batch is published, inside ``warehouse_tables``
  (defs/warehouse/assets.py): a failure publishes nothing of the batch.
* ``transcripts`` and ``turns`` get the dataset suites here, on the published
  table (the whole warehouse, not just this batch), after the batch was
  published: they watch the warehouse and alert, they cannot un-publish, so
  they are not blocking. ERROR ones fail their check; WARN ones are reported.

Dagster runs checks per asset, not per partition: a check that took a
partitioned asset as input would be handed every batch. So these checks read
the published tables through the warehouse resource instead.

Every failed expectation raises an alert: non-blocking failures do not fail a
run, so a run-failure sensor would never hear of them.
"""

from collections.abc import Iterator, Sequence

import dagster as dg

from etl_project.defs.resources import Alerter, WarehouseResource
from etl_project.lib.alerts import Alert
from etl_project.lib.expectations import TRANSCRIPTS_SUITE, TURNS_SUITE, Expectation, Outcome, outcomes_anywhere

_SEVERITY = {"ERROR": dg.AssetCheckSeverity.ERROR, "WARN": dg.AssetCheckSeverity.WARN}


def warn_damaged(context, damaged: list[str]) -> None:
    """Damaged files are left out of the whole-table checks (and named), never a reason to fail the run."""
    for path in damaged:
        context.log.warning("left out of the checks, damaged (see `etl-project verify`): %s", path)


def specs(asset: str, suite: Sequence[Expectation], *, blocking: bool) -> list[dg.AssetCheckSpec]:
    return [dg.AssetCheckSpec(e.name, asset=asset, blocking=blocking, description=f"{e.description} ({e.severity})") for e in suite]


def report(context: dg.AssetCheckExecutionContext, alerter: Alerter, asset: str, outcomes: list[Outcome]) -> Iterator[dg.AssetCheckResult]:
    for outcome in outcomes:
        if not outcome.success:
            alerter.raise_alert(
                context.log,
                Alert(
                    kind="check_failed",
                    severity=outcome.severity,
                    summary=f"check {asset}.{outcome.name} failed: {outcome.description}",
                    details={"asset": asset, "check": outcome.name, **outcome.observed},
                    run_id=context.run.run_id,
                ),
            )
        yield dg.AssetCheckResult(
            asset_key=asset,
            check_name=outcome.name,
            passed=outcome.success,
            severity=_SEVERITY[outcome.severity],
            description=outcome.description,
            metadata={k: v if isinstance(v, (int, float, str, bool)) else dg.MetadataValue.json(v) for k, v in outcome.observed.items()},
        )


def run_suite(context: dg.AssetCheckExecutionContext, alerter: Alerter, warehouse: WarehouseResource, table: str) -> Iterator[dg.AssetCheckResult]:
    """``table``'s suite on the whole published table (in a kept worker process of the core when this
    process has one: see :func:`etl_project.lib.expectations.outcomes_anywhere`)."""
    found = outcomes_anywhere(warehouse.get().uri, table)
    if found is None:
        raise dg.Failure(f"{table} has not been written yet")
    outcomes, damaged = found
    warn_damaged(context, damaged)
    yield from report(context, alerter, table, outcomes)


# After theme_prevalence and theme_report when several steps are ready (the in-process executor takes
# the highest priority first): in `etl-project run` the suites run in the core's idle worker process,
# which has imported Great Expectations meanwhile (lib/expectations.py).
AFTER_THE_TABLES = {"dagster/priority": "-1"}


@dg.multi_asset_check(specs=specs("transcripts", TRANSCRIPTS_SUITE, blocking=False), op_tags=AFTER_THE_TABLES)
def transcripts_expectations(
    context: dg.AssetCheckExecutionContext, alerter: Alerter, warehouse: WarehouseResource
) -> Iterator[dg.AssetCheckResult]:
    """The published transcripts table as a whole: ids, residual mojibake, turn counts, word shares, splits."""
    yield from run_suite(context, alerter, warehouse, "transcripts")


@dg.multi_asset_check(specs=specs("turns", TURNS_SUITE, blocking=False), op_tags=AFTER_THE_TABLES)
def turns_expectations(
    context: dg.AssetCheckExecutionContext, alerter: Alerter, warehouse: WarehouseResource
) -> Iterator[dg.AssetCheckResult]:
    """The published turns table: share of empty turns."""
    yield from run_suite(context, alerter, warehouse, "turns")


ALL_CHECKS = [transcripts_expectations, turns_expectations]
CHECK_STEPS = frozenset(check.node_def.name for check in ALL_CHECKS)

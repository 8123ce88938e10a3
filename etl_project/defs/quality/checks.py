"""Data-quality checks: Great Expectations suites as Dagster asset checks, with alerts.

* ``staged_transcripts`` gets the batch suite as *blocking* checks: an ERROR
  there (duplicate ids, mojibake left after repair) stops ``transcripts``,
  ``turns`` and ``theme_flags`` from being written, so a bad batch never reaches
  analysts. Quarantine still records the rejects.
* ``transcripts`` and ``turns`` get the dataset suites on the published table
  (the whole warehouse, not just this batch): failures are reported and
  alerted; WARN ones do not fail anything.

Every failed expectation raises an alert: non-blocking failures do not fail a
run, so a run-failure sensor would never hear of them.
"""

from collections.abc import Iterator, Sequence

import dagster as dg
import polars as pl

from etl_project.defs.resources import Alerter, WarehouseResource
from etl_project.lib.alerts import Alert
from etl_project.lib.expectations import (
    BATCH_SUITE,
    TRANSCRIPTS_SUITE,
    TURNS_SUITE,
    Expectation,
    Outcome,
    transcript_measures,
    turn_measures,
    validate,
)

_SEVERITY = {"ERROR": dg.AssetCheckSeverity.ERROR, "WARN": dg.AssetCheckSeverity.WARN}


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


@dg.multi_asset_check(specs=specs("staged_transcripts", BATCH_SUITE, blocking=True))
def staged_transcripts_expectations(
    context: dg.AssetCheckExecutionContext, alerter: Alerter, staged_transcripts: pl.DataFrame
) -> Iterator[dg.AssetCheckResult]:
    """The batch about to be published: unique ids, no mojibake left."""
    yield from report(context, alerter, "staged_transcripts", validate(transcript_measures(staged_transcripts), BATCH_SUITE))


@dg.multi_asset_check(specs=specs("transcripts", TRANSCRIPTS_SUITE, blocking=False))
def transcripts_expectations(
    context: dg.AssetCheckExecutionContext, alerter: Alerter, warehouse: WarehouseResource
) -> Iterator[dg.AssetCheckResult]:
    """The published transcripts table as a whole: turn counts, word shares, ids, splits."""
    table = warehouse.get().read("transcripts", columns=["transcript_id", "split", "n_turns", "n_words", "n_participant_words", "text"])
    if table is None:
        raise dg.Failure("transcripts has not been written yet")
    yield from report(context, alerter, "transcripts", validate(transcript_measures(table), TRANSCRIPTS_SUITE))


@dg.multi_asset_check(specs=specs("turns", TURNS_SUITE, blocking=False))
def turns_expectations(
    context: dg.AssetCheckExecutionContext, alerter: Alerter, warehouse: WarehouseResource
) -> Iterator[dg.AssetCheckResult]:
    """The published turns table: share of empty turns."""
    table = warehouse.get().read("turns", columns=["transcript_id", "speaker", "n_words"])
    if table is None:
        raise dg.Failure("turns has not been written yet")
    yield from report(context, alerter, "turns", validate(turn_measures(table), TURNS_SUITE))


ALL_CHECKS = [staged_transcripts_expectations, transcripts_expectations, turns_expectations]

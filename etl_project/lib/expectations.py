"""Dataset-level expectations, run with Great Expectations 1.x (suites defined in code).

pandera gates rows and columns (types, allowed values, ids); these suites ask
what pandera is not made for: is the *batch* as a whole plausible? Each
expectation has a severity: ``ERROR`` (the batch must not be published) or
``WARN`` (worth an alert, publish anyway).

These suites watch the *published* tables (they run after a batch is
published, as non-blocking asset checks); the blocking checks run on the
staged rows before anything is published (:mod:`etl_project.lib.pipeline`).

Cheap per-row measurements (participant share of words, empty turns) are computed with polars first, so Great Expectations evaluates
small numeric frames, never the transcript text. GE itself is imported lazily
and its context built once per process: importing it costs seconds, and the
rest of the pipeline does not pay for it. When the calling process keeps the
core's worker processes (``etl-project run``), :func:`table_outcomes` runs in
one of them: :func:`warm_in_worker` starts the import there as soon as the
core is done, while the calling process goes on with the other steps.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import polars as pl

from etl_project.lib.workers import kept_pool
from etl_project.schemas import SPLIT_OF_PREFIX

ERROR, WARN = "ERROR", "WARN"


@dataclass(frozen=True)
class Expectation:
    """One named expectation: which GE expectation, on which column, how strict."""

    name: str
    severity: str
    description: str
    make: Callable[[Any], Any]  # gx.expectations module -> an Expectation instance


@dataclass(frozen=True)
class Outcome:
    name: str
    severity: str
    description: str
    success: bool
    observed: dict[str, Any] = field(default_factory=dict)


def transcript_measures(transcripts: pl.DataFrame) -> pl.DataFrame:
    """One small row per transcript: the quantities the transcript suites judge."""
    return transcripts.select(
        "transcript_id",
        "split",
        "n_turns",
        (pl.col("n_participant_words") / pl.col("n_words").clip(lower_bound=1)).alias("participant_word_share"),
        "residual_mojibake",
    )


def turn_measures(turns: pl.DataFrame) -> pl.DataFrame:
    """One boolean per turn (the turns suite judges nothing else: at 500,000 transcripts the table has
    ~11 million turns, so only ``n_words`` is read)."""
    return turns.select((pl.col("n_words") == 0).alias("is_empty"))


# Ranges seen in real interviews: the 185 sample transcripts have 15-43 turns
# (median 23) and participants speak 24-77 % of the words (mean 48 %); none has
# an empty turn. The bounds leave generous room around that.
TRANSCRIPTS_SUITE: tuple[Expectation, ...] = (
    Expectation(
        "published_ids_unique", ERROR, "transcript_id is unique across the published table",
        lambda gxe: gxe.ExpectColumnValuesToBeUnique(column="transcript_id"),
    ),
    Expectation(
        "residual_mojibake_share", WARN, "at most 1 % of transcripts are marked residual_mojibake (ftfy's badness heuristic still fires after repair)",
        lambda gxe: gxe.ExpectColumnValuesToBeInSet(column="residual_mojibake", value_set=[False], mostly=0.99),
    ),
    Expectation(
        "turns_in_range", WARN, "98 % of transcripts have 6-120 turns (real interviews: 15-43)",
        lambda gxe: gxe.ExpectColumnValuesToBeBetween(column="n_turns", min_value=6, max_value=120, mostly=0.98),
    ),
    Expectation(
        "participant_share_of_words", WARN, "95 % of transcripts give the participant 10-95 % of the words",
        lambda gxe: gxe.ExpectColumnValuesToBeBetween(column="participant_word_share", min_value=0.10, max_value=0.95, mostly=0.95),
    ),
    Expectation(
        "every_split_present", WARN, "the warehouse holds all three splits (workforce, creatives, scientists)",
        lambda gxe: gxe.ExpectColumnDistinctValuesToContainSet(column="split", value_set=sorted(SPLIT_OF_PREFIX.values())),
    ),
)

TURNS_SUITE: tuple[Expectation, ...] = (
    Expectation(
        "empty_turns_share", WARN, "at most 2 % of turns are empty (a bare speaker label)",
        lambda gxe: gxe.ExpectColumnValuesToBeInSet(column="is_empty", value_set=[False], mostly=0.98),
    ),
)


@lru_cache(maxsize=1)
def _batch_definition():
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    source = context.data_sources.add_pandas("etl_project")
    return gx, source.add_dataframe_asset("measures").add_batch_definition_whole_dataframe("whole")


def _plain(value: Any) -> Any:
    """numpy scalars and tuples -> JSON-friendly Python values."""
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value][:10]
    return value


def validate(measures: pl.DataFrame, suite: Sequence[Expectation]) -> list[Outcome]:
    """Run ``suite`` on ``measures`` with Great Expectations; one :class:`Outcome` per expectation."""
    gx, batch_definition = _batch_definition()
    batch = batch_definition.get_batch(batch_parameters={"dataframe": measures.to_pandas()})
    outcomes = []
    for expectation in suite:
        result = batch.validate(expectation.make(gx.expectations))
        keys = ("observed_value", "element_count", "unexpected_count", "unexpected_percent", "partial_unexpected_list", "partial_missing_list")
        observed = {k: _plain(result.result[k]) for k in keys if result.result.get(k) is not None}
        outcomes.append(Outcome(expectation.name, expectation.severity, expectation.description, bool(result.success), observed))
    return outcomes


SUITES: dict[str, tuple[Sequence[Expectation], Callable[[pl.DataFrame], pl.DataFrame], tuple[str, ...]]] = {
    "transcripts": (TRANSCRIPTS_SUITE, transcript_measures, ("transcript_id", "split", "n_turns", "n_words", "n_participant_words", "residual_mojibake")),
    "turns": (TURNS_SUITE, turn_measures, ("n_words",)),
}
"""Per published table: its suite, its measures and the columns they need (nothing else is read)."""


def table_outcomes(warehouse_root: str, table: str) -> tuple[list[Outcome], list[str]] | None:
    """``table``'s suite on the published table as a whole: (outcomes, damaged files left out), or None
    when the table has not been written yet. Runs in any process (the warehouse is named by its root)."""
    from etl_project.lib.warehouse import Warehouse

    suite, measures, columns = SUITES[table]
    damaged: list[str] = []
    frame = Warehouse(warehouse_root).read(table, columns=list(columns), skip_damaged=damaged)
    if frame is None:
        return None
    return validate(measures(frame), suite), damaged


def warm() -> bool:
    """Import Great Expectations and build its context in this process (a worker's set-up)."""
    _batch_definition()
    return True


def _worker_for(warehouse_root: str):
    """The kept worker pool the checks on ``warehouse_root`` run in, or None to run them here: there is
    none, or the warehouse is not a local folder (a worker's environment is the one it was started with,
    so an object store's endpoint or credentials set since would not reach it)."""
    return None if "://" in warehouse_root else kept_pool()


def warm_in_worker(warehouse_root: str) -> None:
    """Start :func:`warm` where the checks on ``warehouse_root`` will run, if that is a worker (without waiting)."""
    if (pool := _worker_for(warehouse_root)) is not None:
        pool.submit(warm)


def outcomes_anywhere(warehouse_root: str, table: str) -> tuple[list[Outcome], list[str]] | None:
    """:func:`table_outcomes` in a kept worker process when this process has one and the warehouse is a
    local folder (:func:`_worker_for`; the path is made absolute, as the worker's working folder may
    differ), else here."""
    pool = _worker_for(warehouse_root)
    if pool is None:
        return table_outcomes(warehouse_root, table)
    try:
        return pool.submit(table_outcomes, str(Path(warehouse_root).resolve()), table).result()
    except BrokenProcessPool:  # the worker died (killed, out of memory): the checks still run, here
        return table_outcomes(warehouse_root, table)


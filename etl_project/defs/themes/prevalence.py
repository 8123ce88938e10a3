"""theme_prevalence: the share of transcripts with each theme, corrected for the method's error rates.

Reads the whole ``theme_flags`` table through the warehouse resource (like ``theme_report``), estimates
each (split, flag) share with probabilistic adjusted classify-and-count and a bootstrap interval
(:mod:`etl_project.lib.prevalence`, with the out-of-fold error rates shipped with the method), checks
the rows against ``ThemePrevalenceModel`` and replaces the table's one file atomically.
"""

import dagster as dg
import polars as pl

from etl_project.defs.metadata import OWNERS, column_schema, preview
from etl_project.defs.resources import WarehouseResource
from etl_project.lib.prevalence import LAYOUT, TABLE, Rates, prevalence_table
from etl_project.lib.themes import PROBABILITY_COLUMNS, THEME_FLAGS, error_rates
from etl_project.lib.warehouse import PART_FILE
from etl_project.schemas import ThemePrevalenceModel

CONTRACT_CHECK = "contract"
CODE_VERSION = "prevalence-1"
"""Bumped when the estimate changes for the same flags (the method's error rates come with the flags' method_version)."""


def dominant_method(flags: pl.DataFrame) -> tuple[str, str, dict[str, int]]:
    """(method, method_version) of most rows (ties: the smallest name), and the rows per version."""
    if flags.height == 0:
        from etl_project.lib.themes import method_version, resolve_method

        return resolve_method(), method_version(), {}
    counts = flags.group_by("method", "method_version").len().sort(["len", "method", "method_version"], descending=[True, False, False])
    method, version = counts.row(0)[:2]
    return method, version, {f"{m} {v}": int(n) for m, v, n in counts.iter_rows()}


@dg.asset(
    group_name="themes",
    deps=["theme_flags"],
    kinds={"polars", "parquet"},
    code_version=CODE_VERSION,
    owners=OWNERS,
    tags={"layer": "themes", "pii": "none"},
    check_specs=[dg.AssetCheckSpec(CONTRACT_CHECK, asset=TABLE, blocking=True, description="The rows satisfy ThemePrevalenceModel; nothing is written otherwise.")],
)
def theme_prevalence(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Per split and flag: transcripts flagged, the raw share, and the share corrected for the method's measured error rates with a 95 % bootstrap interval."""
    wh = warehouse.get()
    damaged: list[str] = []
    flags = wh.read("theme_flags", columns=["split", *THEME_FLAGS, *PROBABILITY_COLUMNS, "method", "method_version"], skip_damaged=damaged)
    for path in damaged:
        context.log.warning("left out of the estimate, damaged (see `etl-project verify`): %s", path)
    if flags is None:
        flags = pl.DataFrame(schema={"split": pl.String, **{f: pl.Boolean for f in THEME_FLAGS}, "method": pl.String, "method_version": pl.String})
    method, version, mix = dominant_method(flags)
    if len(mix) > 1:
        context.log.warning("theme_flags holds rows of %d method versions %s: the error rates of %s are used for all", len(mix), mix, version)
    try:
        rates = error_rates(version)
    except KeyError:  # rows of a version whose error rates were not shipped: no correction, widest interval
        context.log.warning("no error rates shipped for %s: estimated_share = flagged_share, interval [0, 1]", version)
        rates = {flag: Rates(0, 0, 0, 0) for flag in THEME_FLAGS}
    table = prevalence_table(flags, rates, method=method, method_version=version)
    try:
        ThemePrevalenceModel.validate(table, lazy=True)
    except Exception as exc:  # pandera's SchemaErrors: a bug here, never data to publish
        raise dg.Failure(description=f"{TABLE} breaks its contract: {exc}") from exc
    with wh.locked(TABLE):
        path = wh.replace_file_atomically(wh.table_dir(TABLE) / PART_FILE, table.sort(LAYOUT["sort_by"]), TABLE)
    overall = table.filter(pl.col("split") == "all")
    summary = "\n".join(
        ["| flag | flagged share | estimated share (95 % interval) |", "|---|---:|---|"]
        + [
            f"| `{r['flag']}` | {r['flagged_share'] * 100:.0f}% | {r['estimated_share'] * 100:.0f}% ({r['ci_low'] * 100:.0f}-{r['ci_high'] * 100:.0f}%) |"
            for r in overall.iter_rows(named=True)
            if r["flagged_share"] is not None
        ]
    )
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": table.height,
            "dagster/column_schema": column_schema(ThemePrevalenceModel),
            "transcripts": flags.height,
            "method": f"{method} {version}",
            "method_rows": mix,
            "path": str(path),
            "all_transcripts": dg.MetadataValue.md(summary),
            "preview": preview(table),
        },
        check_results=[dg.AssetCheckResult(check_name=CONTRACT_CHECK, passed=True, metadata={"rows_validated": table.height})],
    )

"""theme_report: how often each theme flag is true per split, beside the published comparators.

Reads the whole ``theme_flags`` table from the warehouse (not one batch) and, when present, the
``theme_prevalence`` table (the share corrected for the method's error rates, with its 95 %
interval, drawn as a black tick and whisker on each bar), writes
``<warehouse>/reports/theme_prevalence.png`` and ``theme_prevalence.md`` (each written
aside and renamed into place) and shows the table and the chart in the Dagster UI.
The figure helpers above the asset are plain polars/matplotlib, with no Dagster.
"""


import base64
import io

import dagster as dg
import polars as pl

from etl_project.defs.metadata import OWNERS
from etl_project.defs.resources import WarehouseResource
from etl_project.lib.themes import THEME_FLAGS

SPLIT_ORDER: tuple[str, ...] = ("workforce", "creatives", "scientists", "unknown")
REPORT_DIR = "reports"
CHART_FILE = "theme_prevalence.png"
PAGE_FILE = "theme_prevalence.md"

COMPARATOR_NOTE = "definitions differ; compare, don't force-match"
COMPARATOR_SOURCE = "Anthropic's December 2025 post on this study (AI-assisted analysis of the transcripts)"
# (split, flag) -> (published share, what was published). From data/themes/TAXONOMY.md. The
# published categories are not our flags: "augmentation"/"automation" were the *main* role of
# AI, our collaborates/delegates flags only need the behaviour to be described once, etc.
PUBLISHED_COMPARATORS: dict[tuple[str, str], tuple[float, str]] = {
    ("workforce", "workplace_stigma"): (0.69, "mentioned social stigma"),
    ("workforce", "job_threat_worry"): (0.55, "expressed anxiety about AI's impact on their future"),
    ("workforce", "human_irreplaceable"): (0.41, "felt secure that human skills are irreplaceable"),
    ("workforce", "collaborates_iteratively"): (0.65, "described AI's main role as augmentation"),
    ("workforce", "delegates_whole_tasks"): (0.35, "described AI's main role as automation"),
    ("workforce", "oversight_role_future"): (0.48, "considered moving toward roles overseeing AI"),
    ("creatives", "workplace_stigma"): (0.70, "mentioned managing peer judgment"),
    ("scientists", "reliability_concern"): (0.79, "named trust/reliability as the main barrier"),
}
_COLORS = {"workforce": "#1f77b4", "creatives": "#ff7f0e", "scientists": "#2ca02c", "unknown": "#7f7f7f"}


def prevalence(flags: pl.DataFrame) -> pl.DataFrame:
    """One row per (split, flag): ``split, flag, transcripts, true, share``; splits in SPLIT_ORDER."""
    present = [s for s in SPLIT_ORDER if s in set(flags.get_column("split").to_list())]
    present += sorted(set(flags.get_column("split").to_list()) - set(present))
    long = flags.select("split", *THEME_FLAGS).unpivot(index="split", variable_name="flag", value_name="value")
    out = long.group_by("split", "flag").agg(
        pl.len().cast(pl.Int64).alias("transcripts"), pl.col("value").sum().cast(pl.Int64).alias("true")
    )
    order = pl.DataFrame({"split": present, "_s": list(range(len(present)))}, schema={"split": pl.String, "_s": pl.Int64}).join(
        pl.DataFrame({"flag": list(THEME_FLAGS), "_f": list(range(len(THEME_FLAGS)))}, schema={"flag": pl.String, "_f": pl.Int64}), how="cross"
    )
    return (
        order.join(out, on=["split", "flag"], how="left")
        .with_columns(pl.col("transcripts").fill_null(0), pl.col("true").fill_null(0))
        .with_columns((pl.col("true") / pl.col("transcripts")).fill_nan(0.0).alias("share"))
        .sort("_s", "_f")
        .select("split", "flag", "transcripts", "true", "share")
    )


def comparators_frame() -> pl.DataFrame:
    return pl.DataFrame(
        [{"split": s, "flag": f, "published_share": share, "published": text} for (s, f), (share, text) in PUBLISHED_COMPARATORS.items()],
        schema={"split": pl.String, "flag": pl.String, "published_share": pl.Float64, "published": pl.String},
    )


def _estimates(estimates: pl.DataFrame | None) -> dict[tuple[str, str], tuple[float, float, float]]:
    """(split, flag) -> (estimated_share, ci_low, ci_high) from a theme_prevalence frame."""
    if estimates is None:
        return {}
    return {
        (r["split"], r["flag"]): (r["estimated_share"], r["ci_low"], r["ci_high"])
        for r in estimates.iter_rows(named=True)
        if r["estimated_share"] is not None
    }


def markdown_table(prev: pl.DataFrame, estimates: pl.DataFrame | None = None) -> str:
    """Flags as rows, one column per split (share and count, then the corrected estimate and its
    interval when ``estimates`` is given), then the published comparators."""
    est = _estimates(estimates)
    splits = list(dict.fromkeys(prev.get_column("split").to_list()))
    totals = {s: int(prev.filter(pl.col("split") == s).get_column("transcripts").max() or 0) for s in splits}
    head = "| flag | " + " | ".join(f"{s} (n={totals[s]})" for s in splits) + f" | published comparator ({COMPARATOR_NOTE}) |"
    lines = [head, "|---|" + "---:|" * len(splits) + "---|"]
    cell = {(r["split"], r["flag"]): r for r in prev.iter_rows(named=True)}
    for flag in THEME_FLAGS:
        cells = []
        for s in splits:
            r = cell[(s, flag)]
            cell_text = f"{r['share'] * 100:.0f}% ({r['true']})"
            if (s, flag) in est:
                e, lo, hi = est[(s, flag)]
                cell_text += f"; est. {e * 100:.0f}% [{lo * 100:.0f}-{hi * 100:.0f}]"
            cells.append(cell_text)
        published = [f"{s} {share * 100:.0f}%: {text}" for (s, f), (share, text) in PUBLISHED_COMPARATORS.items() if f == flag]
        lines.append(f"| `{flag}` | " + " | ".join(cells) + " | " + ("; ".join(published) or "") + " |")
    return "\n".join(lines)


def report_page(prev: pl.DataFrame, methods: list[str], estimates: pl.DataFrame | None = None) -> str:
    n = int(prev.group_by("split").agg(pl.col("transcripts").max()).get_column("transcripts").sum())
    return "\n".join(
        [
            "# Theme prevalence by split",
            "",
            f"Share of transcripts with each theme flag true (count in brackets), over the whole `theme_flags` table: "
            f"{n} transcripts; flags by {', '.join(f'`{m}`' for m in methods) or 'no method (empty table)'}. "
            "Quality of the flags (cross-validated precision and recall per flag): `docs/THEMES.md`."
            + (
                " *est.* is the share corrected for the method's measured error rates (probabilistic adjusted classify-and-count, "
                "table `theme_prevalence`) with its 95 % bootstrap interval in brackets: quote that, not the raw share."
                if estimates is not None
                else ""
            ),
            "",
            markdown_table(prev, estimates),
            "",
            f"Published comparators: {COMPARATOR_SOURCE}. **{COMPARATOR_NOTE.capitalize()}**: their categories were "
            "coded differently (e.g. *main* role of AI, not any mention), so a gap is not an error in either.",
            "",
            f"![theme prevalence]({CHART_FILE})",
            "",
        ]
    )


def chart_png(prev: pl.DataFrame, *, title: str, estimates: pl.DataFrame | None = None) -> bytes:
    """Horizontal grouped bars (raw flagged share per split for each flag), the corrected estimate with
    its 95 % interval as a black tick and whisker on each bar (when ``estimates`` is given), and the
    published comparators as markers."""
    est = _estimates(estimates)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    splits = list(dict.fromkeys(prev.get_column("split").to_list()))
    share = {(r["split"], r["flag"]): r["share"] for r in prev.iter_rows(named=True)}
    totals = {s: int(prev.filter(pl.col("split") == s).get_column("transcripts").max() or 0) for s in splits}
    flags = list(THEME_FLAGS)[::-1]  # first flag on top
    fig, ax = plt.subplots(figsize=(11, 9.5), dpi=100)
    height = 0.8 / max(len(splits), 1)
    for i, s in enumerate(splits):
        y = [k + (len(splits) - 1 - i - (len(splits) - 1) / 2) * height for k in range(len(flags))]
        values = [share[(s, f)] * 100 for f in flags]
        bars = ax.barh(y, values, height=height * 0.92, color=_COLORS.get(s, "#999999"), label=f"{s} (n={totals[s]})")
        for bar, v in zip(bars, values):
            ax.text(v + 0.8, bar.get_y() + bar.get_height() / 2, f"{v:.0f}", va="center", fontsize=7.5, color="#333333")
        for k, f in enumerate(flags):
            if (s, f) in est:
                e, lo, hi = est[(s, f)]
                ax.errorbar(e * 100, y[k], xerr=[[max(e - lo, 0) * 100], [max(hi - e, 0) * 100]], fmt="|", color="black",
                            ecolor="black", elinewidth=1.1, capsize=2.5, markersize=8, zorder=4)
            if (s, f) in PUBLISHED_COMPARATORS:
                ax.plot(PUBLISHED_COMPARATORS[(s, f)][0] * 100, y[k], marker="D", markersize=7, color="black",
                        markeredgecolor="white", linestyle="none", zorder=5)
    if est:
        ax.plot([], [], marker="|", markersize=8, color="black", linestyle="-", linewidth=1.1, label="corrected estimate, 95 % interval")
    ax.plot([], [], marker="D", color="black", linestyle="none", label="published comparator (same split)")
    ax.set_yticks(range(len(flags)))
    ax.set_yticklabels([f.replace("_", " ") for f in flags], fontsize=10)
    ax.set_xlim(0, 105)
    ax.set_xlabel("share of transcripts with the flag true (%): bars raw, ticks corrected", fontsize=10)
    ax.xaxis.grid(True, color="#dddddd")
    ax.set_axisbelow(True)
    ax.set_title(title, fontsize=13, loc="left")
    ax.legend(loc="lower right", fontsize=9, frameon=True)
    fig.text(0.01, 0.01, f"Published comparators: {COMPARATOR_SOURCE}; {COMPARATOR_NOTE}.", fontsize=8.5, color="#444444")
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", metadata={"Software": None})
    plt.close(fig)
    return buffer.getvalue()


@dg.asset(
    group_name="themes",
    deps=["theme_flags", "theme_prevalence"],
    kinds={"polars", "markdown"},
    code_version="report-1",
    owners=OWNERS,
    tags={"layer": "report", "pii": "none"},
)
def theme_report(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Prevalence of each theme flag per split over the whole warehouse, beside the published comparators (chart + table)."""
    wh = warehouse.get()
    # only what the counts need: the evidence quotes alone are about 1 GB at 500,000 transcripts
    flags = wh.read("theme_flags", columns=["split", *THEME_FLAGS, "method", "method_version"], skip_damaged=[])
    if flags is None:
        flags = pl.DataFrame(schema={"split": pl.String, **{f: pl.Boolean for f in THEME_FLAGS}, "method": pl.String, "method_version": pl.String})
    methods = sorted({f"{m} {v}" for m, v in flags.select("method", "method_version").unique().iter_rows()})
    prev = prevalence(flags)
    estimates = wh.read("theme_prevalence")
    png = chart_png(prev, title=f"Theme flags by split ({flags.height} transcripts)", estimates=estimates)
    chart_path = wh.write_bytes(f"{REPORT_DIR}/{CHART_FILE}", png)
    page_path = wh.write_bytes(f"{REPORT_DIR}/{PAGE_FILE}", report_page(prev, methods, estimates).encode("utf-8"))
    out_dir = chart_path.parent
    table = markdown_table(prev, estimates)
    context.log.info("theme_report: %d transcripts, written to %s", flags.height, out_dir)
    return dg.MaterializeResult(
        metadata={
            "transcripts": flags.height,
            "methods": ", ".join(methods),
            "prevalence": dg.MetadataValue.md(table + f"\n\nPublished comparators: {COMPARATOR_SOURCE}; **{COMPARATOR_NOTE}**."),
            "chart_path": dg.MetadataValue.path(str(chart_path)),
            "report_path": dg.MetadataValue.path(str(page_path)),
            "chart": dg.MetadataValue.md(f"![theme prevalence](data:image/png;base64,{base64.b64encode(png).decode()})"),
        }
    )

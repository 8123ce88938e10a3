"""Theme prevalence corrected for the flagger's error rates (adjusted classify-and-count), pure numpy.

A flagger with true-positive rate ``TPR`` and false-positive rate ``FPR`` flags, in expectation, a
share ``q = TPR * p + FPR * (1 - p)`` of a set whose true share is ``p``. Inverting it:

    estimated_share = clip((flagged_share - FPR) / (TPR - FPR), 0, 1)

``TPR``/``FPR`` per flag are measured out of fold on the labelled transcripts at training time and
shipped with the method (``etl_project/lib/models/theme_rates.json``), as counts: ``tp`` of ``n_pos``
labelled positives flagged, ``fp`` of ``n_neg`` labelled negatives flagged.

The 95 % interval is a percentile bootstrap that includes the uncertainty of the rates: each of
``draws`` replicates resamples the labelled positives and negatives (a binomial draw of ``tp`` and
``fp``: the same as resampling the out-of-fold predictions with replacement) and the flagged set
(a binomial draw of the flagged count), and recomputes the clipped estimate. The estimate follows
the data: a set whose flagged share moves moves the estimate, unlike the labelled share used as a
constant. When ``TPR - FPR`` is too small to invert (the flagger cannot tell the classes apart),
the correction is undefined and the estimate falls back to the flagged share with the widest
interval [0, 1].
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MIN_SEPARATION = 0.05  # TPR - FPR below this: do not invert
DRAWS = 2000
CONFIDENCE = 0.95


@dataclass(frozen=True)
class Rates:
    """Out-of-fold error counts of one flag's flagger on labelled transcripts."""

    tp: int
    n_pos: int
    fp: int
    n_neg: int

    @property
    def tpr(self) -> float:
        return self.tp / self.n_pos if self.n_pos else float("nan")

    @property
    def fpr(self) -> float:
        return self.fp / self.n_neg if self.n_neg else float("nan")


def adjusted_share(flagged_share, tpr, fpr):
    """``clip((q - FPR) / (TPR - FPR), 0, 1)``, elementwise; ``q`` itself where ``TPR - FPR < MIN_SEPARATION``."""
    q, tpr, fpr = np.asarray(flagged_share, float), np.asarray(tpr, float), np.asarray(fpr, float)
    sep = tpr - fpr
    ok = sep >= MIN_SEPARATION
    out = np.where(ok, (q - fpr) / np.where(ok, sep, 1.0), q)
    return np.clip(out, 0.0, 1.0)


@dataclass(frozen=True)
class Estimate:
    n: int
    flagged: int
    flagged_share: float
    estimated_share: float
    ci_low: float
    ci_high: float


def estimate(flagged: int, n: int, rates: Rates, *, draws: int = DRAWS, confidence: float = CONFIDENCE, rng: np.random.Generator | int | None = 0) -> Estimate:
    """Adjusted share of one flag in one set of ``n`` transcripts of which ``flagged`` were flagged."""
    rng = np.random.default_rng(rng)
    if n <= 0:
        return Estimate(0, 0, float("nan"), float("nan"), float("nan"), float("nan"))
    q = flagged / n
    point = float(adjusted_share(q, rates.tpr, rates.fpr))
    if not rates.n_pos or not rates.n_neg or rates.tpr - rates.fpr < MIN_SEPARATION:
        return Estimate(n, flagged, q, q, 0.0, 1.0)
    tpr_b = rng.binomial(rates.n_pos, rates.tpr, draws) / rates.n_pos
    fpr_b = rng.binomial(rates.n_neg, rates.fpr, draws) / rates.n_neg
    q_b = rng.binomial(n, q, draws) / n
    sep = tpr_b - fpr_b
    boot = np.where(sep >= MIN_SEPARATION, np.clip((q_b - fpr_b) / np.where(sep > 0, sep, 1.0), 0.0, 1.0), q_b)
    alpha = (1 - confidence) / 2
    low, high = np.quantile(boot, [alpha, 1 - alpha])
    return Estimate(n, flagged, q, point, float(min(low, point)), float(max(high, point)))


# --------------------------------------------------------------------------- #
# The theme_prevalence table
# --------------------------------------------------------------------------- #
# How the table is laid out in the warehouse (one unpartitioned file, rebuilt whole on every run).
TABLE = "theme_prevalence"
LAYOUT = {"key": ["split", "flag"], "sort_by": ["split", "flag"], "partition_by": None}
KNOWN_SPLITS: tuple[str, ...] = ("workforce", "creatives", "scientists")
ALL = "all"


def prevalence_table(flags, rates: dict[str, Rates], *, method: str, method_version: str, draws: int = DRAWS, seed: int = 0):
    """``theme_prevalence`` rows from a ``theme_flags`` frame (``split`` and the flag columns).

    One row per (split, flag) for the three known splits, ``unknown`` when present, and ``all``;
    flags in the order of ``rates``. The bootstrap is seeded per row, so the table is reproducible.
    """
    import polars as pl

    flag_names = list(rates)
    present = set(flags.get_column("split").unique().to_list()) if flags.height else set()
    splits = [*KNOWN_SPLITS, *sorted(present - set(KNOWN_SPLITS)), ALL]
    counts = {
        row["split"]: row
        for row in flags.group_by("split").agg(pl.len().alias("_n"), *[pl.col(f).sum().alias(f) for f in flag_names]).iter_rows(named=True)
    }
    total = {"_n": flags.height, **{f: int(flags.get_column(f).sum()) if flags.height else 0 for f in flag_names}}
    rows = []
    for i, split in enumerate(splits):
        c = total if split == ALL else counts.get(split, {"_n": 0, **{f: 0 for f in flag_names}})
        for j, flag in enumerate(flag_names):
            e = estimate(int(c[flag]), int(c["_n"]), rates[flag], draws=draws, rng=np.random.default_rng([seed, i, j]))
            empty = e.n == 0
            rows.append(
                {
                    "split": split,
                    "flag": flag,
                    "n_transcripts": e.n,
                    "flagged": e.flagged,
                    "flagged_share": None if empty else e.flagged_share,
                    "estimated_share": None if empty else e.estimated_share,
                    "ci_low": None if empty else e.ci_low,
                    "ci_high": None if empty else e.ci_high,
                    "method": method,
                    "method_version": method_version,
                }
            )
    schema = {
        "split": pl.String, "flag": pl.String, "n_transcripts": pl.Int64, "flagged": pl.Int64, "flagged_share": pl.Float64,
        "estimated_share": pl.Float64, "ci_low": pl.Float64, "ci_high": pl.Float64, "method": pl.String, "method_version": pl.String,
    }
    return pl.DataFrame(rows, schema=schema, orient="row") if rows else pl.DataFrame(schema=schema)

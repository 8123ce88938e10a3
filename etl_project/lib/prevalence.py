"""Theme prevalence corrected for the flagger's error rates, pure numpy.

Two estimators, both inverting how the flagger errs on labelled transcripts:

* **Probabilistic adjusted classify-and-count (PACC)**, used whenever the method ships calibrated
  probabilities (every shipped method does; ``theme_flags`` carries them as ``p_<flag>``). With
  ``P+`` and ``P-`` the mean calibrated probability among labelled positives and negatives (out of
  fold), a set whose true share is ``p`` has, in expectation, a mean probability
  ``m = P+ * p + P- * (1 - p)``, so ``estimated_share = clip((m - P-) / (P+ - P-), 0, 1)``. It uses every
  transcript's score, not only which side of the threshold it fell: on the labelled transcripts cut in
  halves (``make eval-themes``) its error is lower and its interval narrower than ACC's.
* **Adjusted classify-and-count (ACC)** on the flags alone (below), the fallback.

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

MIN_SEPARATION = 0.05  # TPR - FPR (or P+ - P-) below this: do not invert
SMALL_SET = 30  # sets smaller than this: the widest standard deviation for the set's mean probability
DRAWS = 2000
CONFIDENCE = 0.95


@dataclass(frozen=True)
class Rates:
    """Out-of-fold error counts of one flag's flagger on labelled transcripts."""

    tp: int
    n_pos: int
    fp: int
    n_neg: int

    # PACC: mean and standard deviation of the calibrated probability among the labelled positives and
    # negatives (out of fold); NaN when the method ships no probabilities (then ACC is used)
    pos_mean: float = float("nan")
    pos_sd: float = float("nan")
    neg_mean: float = float("nan")
    neg_sd: float = float("nan")

    @property
    def probabilistic(self) -> bool:
        return bool(self.n_pos and self.n_neg and np.isfinite([self.pos_mean, self.pos_sd, self.neg_mean, self.neg_sd]).all())

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


def estimate(
    flagged: int,
    n: int,
    rates: Rates,
    *,
    mean_p: float | None = None,
    sd_p: float | None = None,
    draws: int = DRAWS,
    confidence: float = CONFIDENCE,
    rng: np.random.Generator | int | None = 0,
) -> Estimate:
    """Corrected share of one flag in one set of ``n`` transcripts of which ``flagged`` were flagged.

    With ``mean_p`` (the set's mean calibrated probability; ``sd_p`` its standard deviation) and
    probabilistic ``rates``: PACC; otherwise ACC on the flagged count.
    """
    rng = np.random.default_rng(rng)
    if n <= 0:
        return Estimate(0, 0, float("nan"), float("nan"), float("nan"), float("nan"))
    q = flagged / n
    if mean_p is not None and rates.probabilistic:
        return _pacc(flagged, n, float(mean_p), sd_p, rates, draws=draws, confidence=confidence, rng=rng)
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


def _pacc(flagged: int, n: int, m: float, sd: float | None, rates: Rates, *, draws: int, confidence: float, rng: np.random.Generator) -> Estimate:
    """PACC and its percentile bootstrap: the three means (labelled positives, labelled negatives, the
    set) are drawn from their sampling distributions (normal, by the central limit theorem; a set of
    fewer than ``SMALL_SET`` transcripts takes the largest standard deviation a mean ``m`` of values in
    [0, 1] can have, so a tiny split gets a wide interval rather than a falsely narrow one)."""
    q = flagged / n
    sep = rates.pos_mean - rates.neg_mean
    if sep < MIN_SEPARATION:
        return Estimate(n, flagged, q, q, 0.0, 1.0)
    point = float(np.clip((m - rates.neg_mean) / sep, 0.0, 1.0))
    bound = float(np.sqrt(max(m * (1 - m), 0.0)))
    sd = bound if n < SMALL_SET or sd is None or not np.isfinite(sd) else float(sd)
    pos_b = rng.normal(rates.pos_mean, rates.pos_sd / np.sqrt(rates.n_pos), draws)
    neg_b = rng.normal(rates.neg_mean, rates.neg_sd / np.sqrt(rates.n_neg), draws)
    m_b = np.clip(rng.normal(m, sd / np.sqrt(n), draws), 0.0, 1.0)
    sep_b = pos_b - neg_b
    boot = np.where(sep_b >= MIN_SEPARATION, np.clip((m_b - neg_b) / np.where(sep_b > 0, sep_b, 1.0), 0.0, 1.0), m_b)
    alpha = (1 - confidence) / 2
    low, high = np.quantile(boot, [alpha, 1 - alpha])
    return Estimate(n, flagged, q, point, float(min(low, point)), float(max(high, point)))


def calibrate(scores, slope: float, intercept: float) -> np.ndarray:
    """Calibrated probabilities ``1 / (1 + exp(-(slope * score + intercept)))`` (Platt scaling; a score of
    -inf, a transcript without participant turns, gives 0 when slope > 0); ``themes.assemble`` applies it."""
    s = np.asarray(scores, float)
    z = slope * s + intercept if slope else np.full(s.shape, intercept)
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-z))


def probability_summary(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    """``pos_mean, pos_sd, neg_mean, neg_sd`` of calibrated probabilities ``p`` for labels ``y`` (the
    PACC fields of :class:`Rates`; training computes them on out-of-fold probabilities)."""
    y, p = np.asarray(y, bool), np.asarray(p, float)
    return {
        "pos_mean": float(p[y].mean()), "pos_sd": float(p[y].std()),
        "neg_mean": float(p[~y].mean()), "neg_sd": float(p[~y].std()),
    }


# --------------------------------------------------------------------------- #
# The theme_prevalence table
# --------------------------------------------------------------------------- #
# How the table is laid out in the warehouse (one unpartitioned file, rebuilt whole on every run).
TABLE = "theme_prevalence"
LAYOUT = {"key": ["split", "flag"], "sort_by": ["split", "flag"], "partition_by": None}
KNOWN_SPLITS: tuple[str, ...] = ("workforce", "creatives", "scientists")
ALL = "all"


PROBABILITY_PREFIX = "p_"
"""``theme_flags`` column of a flag's calibrated probability: ``p_<flag>``."""


def prevalence_table(flags, rates: dict[str, Rates], *, method: str, method_version: str, draws: int = DRAWS, seed: int = 0):
    """``theme_prevalence`` rows from a ``theme_flags`` frame (``split``, the flag columns and, when
    present, their ``p_<flag>`` probabilities: then PACC, else ACC).

    One row per (split, flag) for the three known splits, ``unknown`` when present, and ``all``;
    flags in the order of ``rates``. The bootstrap is seeded per row, so the table is reproducible.
    """
    import polars as pl

    flag_names = list(rates)
    prob = {f: PROBABILITY_PREFIX + f for f in flag_names if PROBABILITY_PREFIX + f in flags.columns}
    present = set(flags.get_column("split").unique().to_list()) if flags.height else set()
    splits = [*KNOWN_SPLITS, *sorted(present - set(KNOWN_SPLITS)), ALL]
    aggs = [
        pl.len().alias("_n"),
        *[pl.col(f).sum().alias(f) for f in flag_names],
        *[pl.col(c).mean().alias(f"_mean_{f}") for f, c in prob.items()],
        *[pl.col(c).std(ddof=0).alias(f"_sd_{f}") for f, c in prob.items()],
    ]
    counts = {row["split"]: row for row in flags.group_by("split").agg(aggs).iter_rows(named=True)}
    total = flags.select(aggs).row(0, named=True) if flags.height else {}
    rows = []
    for i, split in enumerate(splits):
        c = (total if split == ALL else counts.get(split)) or {"_n": 0, **{f: 0 for f in flag_names}}
        for j, flag in enumerate(flag_names):
            e = estimate(
                int(c[flag]), int(c["_n"]), rates[flag], mean_p=c.get(f"_mean_{flag}"), sd_p=c.get(f"_sd_{flag}"),
                draws=draws, rng=np.random.default_rng([seed, i, j]),
            )
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

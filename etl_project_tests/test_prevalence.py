"""Adjusted classify-and-count, plain (ACC) and probabilistic (PACC) (etl_project.lib.prevalence), and the theme_prevalence table and asset."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from etl_project.lib import prevalence as pv
from etl_project.lib.themes import THEME_FLAGS
from etl_project.schemas import ThemePrevalenceModel


@pytest.mark.parametrize(
    ("q", "tpr", "fpr", "expected"),
    [
        (0.5, 0.8, 0.2, 0.5),  # symmetric errors: the share is unchanged
        (0.2, 0.8, 0.2, 0.0),  # every flag a false positive
        (0.8, 0.8, 0.2, 1.0),
        (0.1, 0.8, 0.2, 0.0),  # below FPR: clipped
        (0.95, 0.8, 0.2, 1.0),  # above TPR: clipped
        (0.38, 0.9, 0.1, 0.35),
        (0.3, 0.5, 0.48, 0.3),  # TPR - FPR < 0.05: not inverted
    ],
)
def test_adjusted_share(q, tpr, fpr, expected):
    assert pv.adjusted_share(q, tpr, fpr) == pytest.approx(expected)


def simulate(rng, *, share: float, n: int, tpr: float, fpr: float, n_pos: int, n_neg: int) -> tuple[int, pv.Rates, float]:
    """A set of ``n`` transcripts with true share ``share`` flagged by a flagger of the given rates, and
    the rates as measured on a labelled set of ``n_pos`` positives and ``n_neg`` negatives."""
    truth = rng.random(n) < share
    flagged = np.where(truth, rng.random(n) < tpr, rng.random(n) < fpr)
    rates = pv.Rates(int(rng.binomial(n_pos, tpr)), n_pos, int(rng.binomial(n_neg, fpr)), n_neg)
    return int(flagged.sum()), rates, float(truth.mean())


@pytest.mark.parametrize(
    ("share", "tpr", "fpr"),
    [(0.6, 0.8, 0.1), (0.1, 0.7, 0.05), (0.35, 0.9, 0.4), (0.8, 0.95, 0.6)],
)
def test_estimate_recovers_a_shifted_share(share, tpr, fpr):
    """Labelled set at 25 % prevalence; the new set's share differs; big samples: the estimate is close."""
    rng = np.random.default_rng(1)
    flagged, rates, truth = simulate(rng, share=share, n=20_000, tpr=tpr, fpr=fpr, n_pos=5_000, n_neg=15_000)
    e = pv.estimate(flagged, 20_000, rates, rng=2)
    assert abs(e.estimated_share - truth) < 0.03
    assert abs(e.flagged_share - truth) > abs(e.estimated_share - truth)  # the raw share is biased, the estimate is not
    assert e.ci_low <= truth <= e.ci_high


@pytest.mark.parametrize(
    ("share", "tpr", "fpr", "n_pos", "n_neg", "n"),
    [(0.55, 0.75, 0.2, 90, 300, 250), (0.2, 0.85, 0.1, 60, 400, 400)],
)
def test_interval_covers_the_true_share_at_about_the_nominal_rate(share, tpr, fpr, n_pos, n_neg, n):
    rng = np.random.default_rng(7)
    covered, errors, widths = 0, [], []
    for _ in range(200):
        flagged, rates, truth = simulate(rng, share=share, n=n, tpr=tpr, fpr=fpr, n_pos=n_pos, n_neg=n_neg)
        e = pv.estimate(flagged, n, rates, draws=600, rng=rng)
        covered += e.ci_low <= truth <= e.ci_high
        errors.append(e.estimated_share - truth)
        widths.append(e.ci_high - e.ci_low)
    assert 0.90 <= covered / 200 <= 0.99, covered
    assert abs(np.mean(errors)) < 0.02  # about unbiased
    assert np.mean(widths) < 0.40


def test_the_estimate_follows_the_data_not_the_labelled_share():
    rates = pv.Rates(tp=80, n_pos=100, fp=30, n_neg=300)  # labelled share 25 %
    low, high = pv.estimate(30, 200, rates), pv.estimate(150, 200, rates)
    assert low.estimated_share < 0.15 < 0.6 < high.estimated_share


def test_rates_that_cannot_separate_give_the_flagged_share_and_the_widest_interval():
    e = pv.estimate(40, 100, pv.Rates(tp=50, n_pos=100, fp=48, n_neg=100))
    assert (e.estimated_share, e.ci_low, e.ci_high) == (0.4, 0.0, 1.0)
    empty = pv.estimate(0, 0, pv.Rates(1, 2, 1, 2))
    assert empty.n == 0 and np.isnan(empty.estimated_share)


def _rates() -> dict[str, pv.Rates]:
    return {f: pv.Rates(tp=70 + j, n_pos=100, fp=10 + j, n_neg=200) for j, f in enumerate(THEME_FLAGS)}


def test_prevalence_table_rows_and_contract():
    flags = pl.DataFrame(
        {"split": ["workforce"] * 6 + ["scientists"] * 4, **{f: [i % (j + 2) == 0 for i in range(10)] for j, f in enumerate(THEME_FLAGS)}}
    )
    table = pv.prevalence_table(flags, _rates(), method="tfidf", method_version="tfidf-lr-v1", draws=300)
    ThemePrevalenceModel.validate(table)
    assert table.height == 4 * len(THEME_FLAGS)
    assert table.get_column("split").unique(maintain_order=True).to_list() == ["workforce", "creatives", "scientists", "all"]
    everything = table.filter(pl.col("split") == "all")
    assert everything.get_column("n_transcripts").to_list() == [10] * len(THEME_FLAGS)
    assert everything.get_column("flagged").to_list() == [int(flags.get_column(f).sum()) for f in THEME_FLAGS]
    creatives = table.filter(pl.col("split") == "creatives")
    assert creatives.get_column("n_transcripts").to_list() == [0] * len(THEME_FLAGS) and creatives.get_column("estimated_share").null_count() == len(THEME_FLAGS)
    assert table.equals(pv.prevalence_table(flags, _rates(), method="tfidf", method_version="tfidf-lr-v1", draws=300))  # seeded
    assert set(table.get_column("method_version")) == {"tfidf-lr-v1"}


def test_a_version_without_rates_is_not_corrected():
    flags = pl.DataFrame({"split": ["workforce"] * 4, **{f: [True, True, False, False] for f in THEME_FLAGS}})
    table = pv.prevalence_table(flags, {f: pv.Rates(0, 0, 0, 0) for f in THEME_FLAGS}, method="lexicon", method_version="lexicon-v0", draws=50)
    ThemePrevalenceModel.validate(table)
    row = table.filter(pl.col("split") == "all").row(0, named=True)
    assert (row["estimated_share"], row["ci_low"], row["ci_high"]) == (0.5, 0.0, 1.0)


def test_unknown_split_gets_its_own_rows():
    flags = pl.DataFrame({"split": ["unknown", "workforce"], **{f: [True, False] for f in THEME_FLAGS}})
    table = pv.prevalence_table(flags, _rates(), method="lexicon", method_version="lexicon-v1.2", draws=100)
    assert table.get_column("split").unique(maintain_order=True).to_list() == ["workforce", "creatives", "scientists", "unknown", "all"]


def test_shipped_rates_exist_for_every_shipped_method():
    from etl_project.lib import themes

    for name in themes.METHODS:
        rates = themes.error_rates(themes.method_version(name))
        assert set(rates) == set(THEME_FLAGS)
        for r in rates.values():
            assert r.n_pos > 0 and r.n_neg > 0 and r.tpr > r.fpr


def test_theme_prevalence_asset_writes_a_valid_table(tmp_path: Path):
    """The asset on a warehouse written by a full run: one file, the contract holds, counts match theme_flags."""
    from etl_project_tests.conftest import SIMPLE_DIALOG, materialize_all, md_transcript

    raw, warehouse = tmp_path / "raw", tmp_path / "warehouse"
    raw.mkdir()
    for i, tid in enumerate(("work_0001", "work_0002", "creativity_0003", "science_0004")):
        (raw / f"{tid}.md").write_text(md_transcript(tid, SIMPLE_DIALOG, dialog_number=i + 1))
    materialize_all(raw, warehouse)
    table = pl.read_parquet(warehouse / "theme_prevalence" / "part-0.parquet")
    ThemePrevalenceModel.validate(table)
    flags = pl.read_parquet(warehouse / "theme_flags" / "**" / "*.parquet", hive_partitioning=True)
    everything = table.filter(pl.col("split") == "all").sort("flag")
    assert everything.get_column("n_transcripts").unique().to_list() == [4]
    assert dict(zip(everything["flag"], everything["flagged"])) == {f: int(flags.get_column(f).sum()) for f in THEME_FLAGS}
    assert table.get_column("method_version").unique().to_list() == flags.get_column("method_version").unique().to_list()
    # the published estimate is PACC on the published probabilities, with the method's shipped rates
    from etl_project.lib.themes import error_rates

    version = flags.get_column("method_version").unique().item()
    assert all(c in flags.columns for c in (f"p_{f}" for f in THEME_FLAGS))
    expected = pv.prevalence_table(flags, error_rates(version), method=flags["method"][0], method_version=version)
    from polars.testing import assert_frame_equal

    assert_frame_equal(table.sort("split", "flag"), expected.sort("split", "flag"), check_exact=False, abs_tol=1e-9)
    without_probabilities = pv.prevalence_table(flags.drop(f"p_{f}" for f in THEME_FLAGS), error_rates(version), method=flags["method"][0], method_version=version)
    assert not table.sort("split", "flag").equals(without_probabilities.sort("split", "flag"))  # ACC would differ


# --------------------------------------------------------------------------- #
# PACC: the estimate from calibrated probabilities (what theme_prevalence uses for every shipped method)
# --------------------------------------------------------------------------- #
def simulate_scores(rng, *, share: float, n: int, separation: float, n_pos: int, n_neg: int) -> tuple[np.ndarray, pv.Rates, float]:
    """Transcript scores ~ N(+separation/2, 1) for positives and N(-separation/2, 1) for negatives, calibrated
    by Platt scaling fitted on a labelled set at 25 % prevalence (``n_pos`` + ``n_neg``); the new set of ``n``
    has true share ``share``. Returns the new set's probabilities, the rates measured on the labelled set,
    and the true share."""
    from etl_project.evaluation.theme_train import fit_calibration

    y_lab = np.r_[np.ones(n_pos, bool), np.zeros(n_neg, bool)]
    s_lab = rng.normal(np.where(y_lab, separation / 2, -separation / 2), 1.0)
    slope, intercept = fit_calibration(y_lab, s_lab)
    p_lab = pv.calibrate(s_lab, slope, intercept)
    rates = pv.Rates(0, n_pos, 0, n_neg, **pv.probability_summary(y_lab, p_lab))
    truth = rng.random(n) < share
    p_set = pv.calibrate(rng.normal(np.where(truth, separation / 2, -separation / 2), 1.0), slope, intercept)
    return p_set, rates, float(truth.mean())


@pytest.mark.parametrize("share", [0.05, 0.3, 0.6, 0.9])
def test_pacc_recovers_a_shifted_share(share):
    """Calibrated on 25 % prevalence, the mean probability of a set at another share is biased toward 25 %;
    PACC removes the bias."""
    rng = np.random.default_rng(3)
    p_set, rates, truth = simulate_scores(rng, share=share, n=20_000, separation=2.0, n_pos=5_000, n_neg=15_000)
    e = pv.estimate(0, 20_000, rates, mean_p=p_set.mean(), sd_p=p_set.std(), rng=4)
    assert abs(e.estimated_share - truth) < 0.03
    assert abs(p_set.mean() - truth) > 2 * abs(e.estimated_share - truth)  # the plain mean probability is off
    assert e.ci_low <= truth <= e.ci_high


@pytest.mark.parametrize(("share", "n_pos", "n_neg", "n"), [(0.55, 90, 300, 250), (0.15, 60, 400, 400)])
def test_pacc_interval_covers_at_about_the_nominal_rate(share, n_pos, n_neg, n):
    """Repeated draws of both the labelled set and the new set: the 95 % interval holds the true share at
    about the nominal rate, the estimate is about unbiased, and the interval is narrower than ACC's on the
    same flagger (its flags at the score 0)."""
    rng = np.random.default_rng(11)
    covered, errors, widths, acc_widths = 0, [], [], []
    for _ in range(200):
        p_set, rates, truth = simulate_scores(rng, share=share, n=n, separation=1.6, n_pos=n_pos, n_neg=n_neg)
        e = pv.estimate(0, n, rates, mean_p=p_set.mean(), sd_p=p_set.std(), draws=600, rng=rng)
        covered += e.ci_low <= truth <= e.ci_high
        errors.append(e.estimated_share - truth)
        widths.append(e.ci_high - e.ci_low)
    assert 0.90 <= covered / 200 <= 0.99, covered
    assert abs(np.mean(errors)) < 0.02
    assert np.mean(widths) < 0.30


def test_pacc_on_a_two_valued_probability_is_acc():
    """The lexicon's probability is its precision when flagged and the positives' share among the unflagged:
    then PACC and ACC give the same point estimate."""
    tp, n_pos, fp, n_neg = 70, 100, 30, 300
    ppv, fomr = tp / (tp + fp), (n_pos - tp) / (n_pos - tp + n_neg - fp)
    y = np.r_[np.ones(n_pos, bool), np.zeros(n_neg, bool)]
    flag = np.r_[np.arange(n_pos) < tp, np.arange(n_neg) < fp]
    rates = pv.Rates(tp, n_pos, fp, n_neg, **pv.probability_summary(y, np.where(flag, ppv, fomr)))
    flagged, n = 90, 200
    m = (flagged * ppv + (n - flagged) * fomr) / n
    assert pv.estimate(flagged, n, rates, mean_p=m, sd_p=0.3).estimated_share == pytest.approx(pv.estimate(flagged, n, pv.Rates(tp, n_pos, fp, n_neg)).estimated_share)


def test_a_tiny_split_gets_a_wide_interval():
    rates = pv.Rates(0, 100, 0, 300, pos_mean=0.7, pos_sd=0.2, neg_mean=0.2, neg_sd=0.2)
    tiny, big = pv.estimate(1, 3, rates, mean_p=0.5, sd_p=0.0), pv.estimate(100, 300, rates, mean_p=0.5, sd_p=0.0)
    assert tiny.estimated_share == big.estimated_share == pytest.approx(0.6)
    assert tiny.ci_high - tiny.ci_low > 0.5 > big.ci_high - big.ci_low


def test_prevalence_table_uses_the_probabilities():
    """With p_<flag> columns the table is PACC on them: the same flags with other probabilities move the estimate."""
    rates = {f: pv.Rates(tp=70, n_pos=100, fp=20, n_neg=200, pos_mean=0.7, pos_sd=0.2, neg_mean=0.2, neg_sd=0.2) for f in THEME_FLAGS}
    flags = pl.DataFrame({"split": ["workforce"] * 100, **{f: [i < 40 for i in range(100)] for f in THEME_FLAGS}})
    low = flags.with_columns(pl.lit(0.3).alias(f"p_{f}") for f in THEME_FLAGS)
    high = flags.with_columns(pl.lit(0.6).alias(f"p_{f}") for f in THEME_FLAGS)
    est = {name: pv.prevalence_table(frame, rates, method="m", method_version="v", draws=200).filter(pl.col("split") == "all")["estimated_share"].to_list() for name, frame in (("low", low), ("high", high))}
    assert est["low"] == pytest.approx([0.2] * len(THEME_FLAGS)) and est["high"] == pytest.approx([0.8] * len(THEME_FLAGS))
    table = pv.prevalence_table(low, rates, method="m", method_version="v", draws=200)
    ThemePrevalenceModel.validate(table)
    assert table.filter(pl.col("split") == "all")["flagged"].to_list() == [40] * len(THEME_FLAGS)

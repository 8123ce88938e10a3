"""The theme-flag evaluation: folds, the no-leak guarantee, metrics, the report's shape."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest

from etl_project.evaluation import theme_eval as te
from etl_project.lib.themes import THEME_FLAGS
from etl_project_tests.conftest import DEV_LABELS, SAMPLE_RAW

N = len(THEME_FLAGS)


# --------------------------------------------------------------------------- #
# Small synthetic development sets
# --------------------------------------------------------------------------- #
def synthetic_dev(n: int = 30, seed: int = 0) -> te.DevSet:
    """``n`` transcripts with random labels; each transcript's answers carry its own unique word twice."""
    rng = np.random.default_rng(seed)
    ids = tuple(f"t{i:03d}" for i in range(n))
    labels = rng.random((n, N)) < 0.4
    rows, evidence = [], {}
    for t, y in zip(ids, labels):
        word = "zq" + "".join(chr(97 + int(c)) for c in rng.integers(0, 26, 8))
        turns = [
            ("interviewer", "How does AI fit into your work?"),
            ("participant", f"I mostly talk about {word} and my week."),
            ("interviewer", "Tell me more."),
            ("participant", f"Again {word}, nothing else to add."),
        ]
        rows += [{"transcript_id": t, "split": "workforce", "turn_index": i, "speaker": s, "text": x} for i, (s, x) in enumerate(turns)]
        evidence.update({(t, f): 1 for f, v in zip(THEME_FLAGS, y) if v})
    frame = pl.DataFrame(rows, schema={"transcript_id": pl.String, "split": pl.String, "turn_index": pl.Int32, "speaker": pl.String, "text": pl.String})
    return te.DevSet(ids=ids, turns=frame, labels=labels, evidence_turns=evidence)


class Memoriser:
    """A planted leak: perfect on every transcript whose labels it was fitted on, all-false elsewhere."""

    name = "memoriser"

    def __init__(self):
        self.seen_train: list[set[str]] = []
        self.seen_test: list[set[str]] = []

    def fit(self, train: te.DevSet):
        assert train.labels is not None and train.labels.shape == (len(train.ids), N)
        memory = dict(zip(train.ids, train.labels))
        self.seen_train.append(set(train.ids))

        def predict(test: te.DevSet) -> np.ndarray:
            assert test.labels is None and test.evidence_turns is None  # the predictor never gets labels
            assert set(test.turns.get_column("transcript_id").unique().to_list()) <= set(test.ids)
            self.seen_test.append(set(test.ids))
            return np.array([memory.get(t, np.zeros(N, dtype=bool)) for t in test.ids], dtype=bool).reshape(-1, N)

        return predict


# --------------------------------------------------------------------------- #
# Folds and the no-leak guarantee
# --------------------------------------------------------------------------- #
def test_folds_are_disjoint_cover_every_transcript_and_are_seeded():
    ids = [f"x{i}" for i in range(47)]
    folds = te.transcript_folds(ids, 5, seed=3)
    flat = [t for f in folds for t in f]
    assert len(flat) == len(set(flat)) == 47 and set(flat) == set(ids)
    assert sorted(len(f) for f in folds) == [9, 9, 9, 10, 10]
    assert te.transcript_folds(ids, 5, seed=3) == folds
    assert te.transcript_folds(ids, 5, seed=4) != folds
    with pytest.raises(ValueError):
        te.transcript_folds(ids, 1, seed=0)


def test_cv_never_fits_on_a_held_out_transcript():
    dev = synthetic_dev(40)
    proc = Memoriser()
    result = te.cross_validate(proc, dev, k=5, seed=1)
    assert len(proc.seen_train) == len(proc.seen_test) == 5
    for train, test in zip(proc.seen_train, proc.seen_test):
        assert not train & test and train | test == set(dev.ids)
    # the memoriser would be perfect had it seen the held-out labels: it scores what all-false scores
    assert result.metrics["macro_f1"] == 0.0 and not result.predictions.any()
    assert sorted(set(result.fold_of.tolist())) == [0, 1, 2, 3, 4]
    # ... while fitted on everything it is perfect, so the zero above is the harness, not the procedure
    assert (proc.fit(dev)(dev.without_labels()) == dev.labels).all()


def test_trained_model_is_fitted_on_the_training_fold_only():
    """Each transcript's answers hold a unique word and the labels are random: a model that had seen a
    transcript's labels separates it perfectly; cross-validated, the unseen words carry nothing and the
    procedure scores no better than always answering "true"."""
    pytest.importorskip("sklearn")
    from etl_project.evaluation.theme_train import TrainConfig

    dev = synthetic_dev(40, seed=2)
    proc = te.TrainedProcedure("tfidf", TrainConfig(version="test", inner_folds=3, min_df_unigram=1, min_df_bigram=1, C=100.0))
    leaked, _ = proc.fit(dev)(dev.without_labels())  # (flags, scores)
    assert te.evaluate(dev.labels, leaked)["macro_f1"] > 0.9  # fitted on the very transcripts it scores
    held_out = te.cross_validate(proc, dev, k=4, seed=0)
    always = te.evaluate(dev.labels, np.ones_like(dev.labels))["macro_f1"]
    assert held_out.metrics["macro_f1"] <= always + 0.05


# --------------------------------------------------------------------------- #
# Metrics
# --------------------------------------------------------------------------- #
def test_flag_metrics_on_a_worked_example():
    y = np.array([1, 1, 1, 0, 0, 0, 0, 0, 0, 0], dtype=bool)
    p = np.array([1, 1, 0, 1, 0, 0, 0, 0, 0, 0], dtype=bool)
    m = te.flag_metrics(y, p)
    assert (m["tp"], m["fp"], m["fn"]) == (2, 1, 1)
    assert m["precision"] == pytest.approx(2 / 3) and m["recall"] == pytest.approx(2 / 3) and m["f1"] == pytest.approx(2 / 3)
    # observed agreement 0.8, chance 0.3*0.3 + 0.7*0.7 = 0.58
    assert m["kappa"] == pytest.approx((0.8 - 0.58) / (1 - 0.58))
    assert m["always_true_f1"] == pytest.approx(2 * 0.3 / 1.3)
    assert te.flag_metrics(y, y)["kappa"] == pytest.approx(1.0)
    assert te.flag_metrics(y, np.ones_like(y))["f1"] == pytest.approx(m["always_true_f1"])


# --------------------------------------------------------------------------- #
# The real development set and the report
# --------------------------------------------------------------------------- #
@pytest.fixture(scope="module")
def dev() -> te.DevSet:
    return te.load_dev_set(SAMPLE_RAW, DEV_LABELS)


def test_dev_set_matches_the_labels_and_the_pipeline_turns(dev):
    labels = [json.loads(line) for line in DEV_LABELS.read_text().splitlines()]
    assert len(dev.ids) == len(labels) == 180
    assert dev.labels.shape == (180, N) and int(dev.labels.sum()) == sum(sum(r["flags"].values()) for r in labels)
    speaker = {(r["transcript_id"], r["turn_index"]): r["speaker"] for r in dev.turns.select("transcript_id", "turn_index", "speaker").iter_rows(named=True)}
    assert all(speaker[key] == "participant" for key in dev.evidence_turns.items() for key in [(key[0][0], key[1])])


def test_report_shape_and_markdown(dev):
    from etl_project.evaluation.theme_report_md import render_markdown

    report = te.run(dev, None, k=5, seed=0, candidates=[te.LexiconProcedure()], cost=False, log=lambda *_: None)
    lex = report["procedures"]["lexicon"]["cv"]
    assert set(lex["per_flag"]) == set(THEME_FLAGS)
    assert lex["macro_f1"] == pytest.approx(np.mean([m["f1"] for m in lex["per_flag"].values()]))
    assert len(lex["fold_macro_f1"]) == 5
    for m in lex["per_flag"].values():
        assert {"precision", "recall", "f1", "kappa", "always_true_f1", "true", "predicted"} <= set(m)
        assert 0 <= m["f1"] <= 1 and -1 <= m["kappa"] <= 1 and m["true"] > 0
    # nothing is fitted, so cross-validated = whole-sample figures
    whole = te.evaluate(dev.labels, te.flags_matrix(te.flag_themes(dev.turns, method="lexicon"), dev.ids))
    assert lex["macro_f1"] == pytest.approx(whole["macro_f1"])
    prev = report["procedures"]["lexicon"]["prevalence"]
    assert 0 <= prev["coverage"] <= 1 and prev["mean_abs_error_estimate"] < prev["mean_abs_error_labelled_share_constant"] + 0.1
    json.dumps(report)  # JSON-able
    md = render_markdown(report)
    assert "| `job_threat_worry` |" in md and "always-true F1" in md and "kappa" in md
    assert f"{lex['macro_f1']:.3f}" in md


def test_the_choice_rule_takes_the_most_accurate_method_within_the_budget():
    def entry(f1, cpu):
        return {"cv_on_492": {"macro_f1": f1}, "cost": {"x20": {"cpu_per_1000_s": cpu}}}

    results = {"lexicon": entry(0.65, 0.2), "cheap": entry(0.70, 0.34), "dear": entry(0.72, 0.8)}
    # the lexicon measured 0.2 on a loaded machine, 0.13 quiet: "cheap" scales to 0.221 <= 0.23
    assert te.choose(results) == ("cheap", "dear")
    results["cheap"]["cost"]["x20"]["cpu_per_1000_s"] = 0.4
    assert te.choose(results) == ("lexicon", "dear")
    results["cheap"]["cost"]["vs_lexicon"] = {"ratio": 1.7}  # measured in turns with the lexicon: it decides
    assert te.choose(results) == ("cheap", "dear")

"""Evaluation of every theme method: cross-validation, the held-apart score, cost and prevalence.

``make eval-themes`` (``python -m etl_project.evaluation.theme_eval``) writes ``docs/THEMES.md`` and
``docs/themes_eval.json``. For each candidate *procedure* (``fit(train) -> predict(turns)``):

* **CV over all 672**: 5 folds by transcript (seeded), fitted on four folds' turns and labels,
  predicting the fifth from its turns alone; the figures pool the held-out predictions, and are also
  reported restricted to the 180 sample transcripts and to the 492 held-apart ones;
* **the held-apart 492**: fitted on the 180 sample transcripts only, scored on the 492 labelled after
  the lexicon was written (the only honest figure for the lexicon, whose rules were read off the 180);
* **cost**: ``flag_themes`` seconds per 1,000 transcripts (wall and CPU, median of repeats) on the
  672 transcripts' turns and on 20 copies of them (13,440 transcripts);
* **prevalence**: the shipped estimate, probabilistic adjusted classify-and-count (:mod:`etl_project.lib.prevalence`;
  plain ACC on the flags beside it), on sets whose theme mix is shifted away from the labelled one,
  against the coders' share.

Nothing is fitted on, or tuned with, a held-out transcript: the harness hands ``fit`` a
:class:`DevSet` of the training transcripts only and the predictor the held-out turns without labels
(``etl_project_tests/test_theme_eval.py`` plants a label-memorising procedure to prove it).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Protocol

import numpy as np
import polars as pl

from etl_project.evaluation.theme_data import (  # noqa: F401  (re-exported for callers of v1)
    DEFAULT_LABELS,
    DEFAULT_RAW,
    N_FLAGS,
    PROJECT_ROOT,
    DevSet,
    load_all,
    load_dev_set,
    pipeline_turns,
)
from etl_project.lib import prevalence, themes
from etl_project.lib.theme_taxonomy import THEME_FLAGS
from etl_project.lib.themes import flag_themes

DEFAULT_OUT = PROJECT_ROOT / "docs"


# --------------------------------------------------------------------------- #
# Metrics
# --------------------------------------------------------------------------- #
def flag_metrics(y: np.ndarray, p: np.ndarray) -> dict:
    """Precision, recall, F1, Cohen's kappa and the always-true F1 for one flag."""
    y, p = np.asarray(y, dtype=bool), np.asarray(p, dtype=bool)
    n = len(y)
    tp, fp, fn = int(np.sum(y & p)), int(np.sum(~y & p)), int(np.sum(y & ~p))
    tn = n - tp - fp - fn
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 1.0
    observed = (tp + tn) / n if n else 1.0
    expected = ((tp + fp) * (tp + fn) + (tn + fn) * (tn + fp)) / (n * n) if n else 1.0
    kappa = (observed - expected) / (1 - expected) if expected < 1 else (1.0 if observed == 1 else 0.0)
    positives = int(y.sum())
    always = 2 * positives / (positives + n) if n else 0.0  # P = prevalence, R = 1
    return {
        "n": n, "true": positives, "predicted": int(p.sum()), "tp": tp, "fp": fp, "fn": fn,
        "precision": precision, "recall": recall, "f1": f1, "kappa": kappa, "always_true_f1": always,
    }


def evaluate(labels: np.ndarray, predictions: np.ndarray) -> dict:
    per_flag = {f: flag_metrics(labels[:, j], predictions[:, j]) for j, f in enumerate(THEME_FLAGS)}
    return {
        "per_flag": per_flag,
        "macro_f1": float(np.mean([m["f1"] for m in per_flag.values()])),
        "macro_kappa": float(np.mean([m["kappa"] for m in per_flag.values()])),
        "macro_always_true_f1": float(np.mean([m["always_true_f1"] for m in per_flag.values()])),
    }


# --------------------------------------------------------------------------- #
# Cross-validation harness
# --------------------------------------------------------------------------- #
Predictor = Callable[[DevSet], "np.ndarray | tuple[np.ndarray, np.ndarray]"]
"""Held-out flags ``(n, 14)`` bool, or ``(flags, scores)`` with the transcripts' scores ``(n, 14)`` float (a method
without scores: its flags are its scores)."""


def _split_prediction(predicted) -> tuple[np.ndarray, np.ndarray]:
    flags, scores = predicted if isinstance(predicted, tuple) else (predicted, None)
    flags = np.asarray(flags, dtype=bool)
    return flags, flags.astype(float) if scores is None else np.asarray(scores, dtype=float)


class Procedure(Protocol):
    name: str

    def fit(self, train: DevSet) -> Predictor: ...


def transcript_folds(ids, k: int, seed: int) -> list[tuple[str, ...]]:
    """``k`` disjoint folds of transcript ids covering all of them (seeded shuffle, dealt round-robin)."""
    ids = sorted(ids)
    if not 2 <= k <= len(ids):
        raise ValueError(f"need 2 <= k <= {len(ids)}, got {k}")
    order = np.random.default_rng(seed).permutation(len(ids))
    return [tuple(sorted(ids[i] for i in order[f::k])) for f in range(k)]


@dataclass
class CVResult:
    procedure: str
    predictions: np.ndarray  # (n, 14), held-out predictions pooled over folds
    scores: np.ndarray  # (n, 14), their transcript scores (the flags as 0/1 for a method without scores)
    fold_of: np.ndarray  # (n,) fold index of every transcript
    metrics: dict
    fold_macro_f1: list[float]
    seconds: float
    notes: dict = field(default_factory=dict)


def cross_validate(procedure: Procedure, dev: DevSet, *, k: int = 5, seed: int = 0) -> CVResult:
    """Fit on k-1 folds, predict the held-out one from its turns alone; pool the predictions."""
    started = time.perf_counter()
    position = {t: i for i, t in enumerate(dev.ids)}
    predictions = np.zeros((len(dev.ids), N_FLAGS), dtype=bool)
    scores = np.zeros((len(dev.ids), N_FLAGS))
    fold_of = np.full(len(dev.ids), -1)
    fold_macro = []
    for f, held_out in enumerate(transcript_folds(dev.ids, k, seed)):
        held = set(held_out)
        predict = procedure.fit(dev.subset([t for t in dev.ids if t not in held]))
        test = dev.subset(held_out)
        predicted, scored = _split_prediction(predict(test.without_labels()))
        if predicted.shape != (len(held_out), N_FLAGS):
            raise ValueError(f"{procedure.name}: predicted shape {predicted.shape}, want {(len(held_out), N_FLAGS)}")
        rows = [position[t] for t in test.ids]
        predictions[rows] = predicted
        scores[rows] = scored
        fold_of[rows] = f
        fold_macro.append(evaluate(test.labels, predicted)["macro_f1"])
    return CVResult(procedure.name, predictions, scores, fold_of, evaluate(dev.labels, predictions), fold_macro, time.perf_counter() - started)


def flags_matrix(flags: pl.DataFrame, ids) -> np.ndarray:
    """(len(ids), 14) bool from a ``flag_themes`` frame, in ``ids`` order (absent ids: all false)."""
    frame = pl.DataFrame({"transcript_id": list(ids)}, schema={"transcript_id": pl.String}).join(
        flags.select("transcript_id", *THEME_FLAGS), on="transcript_id", how="left", maintain_order="left"
    )
    return frame.select(pl.col(f).fill_null(False) for f in THEME_FLAGS).to_numpy().astype(bool)


class LexiconProcedure:
    """The rule lexicon: nothing to fit."""

    name = "lexicon"

    def fit(self, train: DevSet) -> Predictor:
        return lambda test: flags_matrix(flag_themes(test.turns, method="lexicon"), test.ids)


class TrainedProcedure:
    """A per-turn TF-IDF + logistic-regression model (:mod:`etl_project.evaluation.theme_train`)."""

    def __init__(self, name: str, cfg):
        self.name, self.cfg = name, cfg

    def fit(self, train: DevSet) -> Predictor:
        from etl_project.evaluation.theme_train import fit_model
        from etl_project.lib import theme_model, theme_terms

        model = fit_model(train, self.cfg)

        def predict(test: DevSet) -> np.ndarray:
            participant = (
                test.turns.filter(pl.col("speaker") == "participant")
                .select("transcript_id", pl.col("turn_index").cast(pl.Int32), "text")
                .sort("transcript_id", "turn_index")
            )
            if isinstance(model, theme_terms.TermModel):
                evidence, scores = theme_terms.term_evidence(model, participant, return_scores=True)
            elif type(model).__name__ == "EncoderModel":
                from etl_project.lib import theme_encoder

                evidence, scores = theme_encoder.encoder_evidence(model, participant, return_scores=True)
            else:
                evidence, scores = theme_model.model_evidence(model, participant, return_scores=True)
            flags = themes.assemble(
                pl.DataFrame({"transcript_id": list(test.ids), "split": ["x"] * len(test.ids)}), evidence, self.name, model.version
            )
            score_matrix = (
                pl.DataFrame({"transcript_id": list(test.ids)}, schema={"transcript_id": pl.String})
                .join(scores, on="transcript_id", how="left", maintain_order="left")
                .select(pl.col(c).fill_null(float("-inf")) for c in theme_model.SCORE_COLUMNS)
                .to_numpy()
            )
            return flags_matrix(flags, test.ids), score_matrix

        return predict


def procedures() -> list:
    from etl_project.evaluation.theme_train import SHIPPED

    return [LexiconProcedure(), *(TrainedProcedure(name, cfg) for name, (_, cfg) in SHIPPED.items())]


# --------------------------------------------------------------------------- #
# Cost
# --------------------------------------------------------------------------- #
def flagging_cost(turns: pl.DataFrame, method: str, *, copies: int = 1, repeats: int = 3, warm: bool = True) -> dict:
    """Median wall and CPU seconds of ``flag_themes(method=...)`` on ``copies`` copies of ``turns`` (after a warm-up)."""
    big = turns if copies == 1 else pl.concat([turns.with_columns(pl.col("transcript_id") + f"_c{i}") for i in range(copies)])
    if warm:
        flag_themes(turns.head(5000), method=method)
    walls, cpus = [], []
    for _ in range(repeats):
        w, c = time.perf_counter(), time.process_time()
        flag_themes(big, method=method)
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    n = big.get_column("transcript_id").n_unique()
    wall, cpu = statistics.median(walls), statistics.median(cpus)
    return {
        "transcripts": n,
        "participant_turns": big.filter(pl.col("speaker") == "participant").height,
        "repeats": repeats,
        "wall_s": wall,
        "cpu_s": cpu,
        "wall_per_1000_s": wall / n * 1000,
        "cpu_per_1000_s": cpu / n * 1000,
        "wall_linear_50000_s": wall / n * 50_000,
        "cores": os.cpu_count(),
        "load_average_1min": os.getloadavg()[0],
    }


def cost_vs_lexicon(turns: pl.DataFrame, method: str, *, copies: int = 20, repeats: int = 3) -> dict:
    """CPU seconds of ``method`` and of the lexicon on ``copies`` copies of ``turns``, measured in turns
    (lexicon, method, lexicon, method, ...) so that both see the same load on shared cores; the ratio of medians."""
    big = pl.concat([turns.with_columns(pl.col("transcript_id") + f"_c{i}") for i in range(copies)])
    for name in ("lexicon", method):
        flag_themes(turns.head(5000), method=name)
    cpu: dict[str, list[float]] = {"lexicon": [], method: []}
    for _ in range(repeats):
        for name in ("lexicon", method):
            c = time.process_time()
            flag_themes(big, method=name)
            cpu[name].append(time.process_time() - c)
    return {"copies": copies, "repeats": repeats, "lexicon_cpu_s": cpu["lexicon"], "method_cpu_s": cpu[method],
            "ratio": statistics.median(cpu[method]) / statistics.median(cpu["lexicon"])}


ENCODER_COST_TRANSCRIPTS = 40


def encoder_cost(turns: pl.DataFrame, method: str, *, transcripts: int = ENCODER_COST_TRANSCRIPTS) -> dict:
    """:func:`flagging_cost` of a sentence-encoder method on its first ``transcripts`` transcripts, once, with the
    process's embedding cache set aside (the encoder runs on every turn, as it would on new interviews)."""
    from etl_project.lib import theme_encoder

    ids = turns.get_column("transcript_id").unique().sort().head(transcripts)
    kept = dict(theme_encoder._CACHE)
    theme_encoder._CACHE.clear()
    try:
        flag_themes(turns.head(50), method=method)  # warm-up: loads the weights
        theme_encoder._CACHE.clear()
        return flagging_cost(turns.filter(pl.col("transcript_id").is_in(ids.implode())), method, repeats=1, warm=False)
    finally:
        theme_encoder._CACHE.clear()
        theme_encoder._CACHE.update(kept)


# --------------------------------------------------------------------------- #
# Prevalence on shifted theme mixes
# --------------------------------------------------------------------------- #
SHIFT = 0.10  # how far each synthetic set's share of a flag is moved from the labelled share, either way


def shifted_prevalence(
    labels: np.ndarray, predictions: np.ndarray, scores: np.ndarray | None = None, *, set_size: int = 150, repeats: int = 25, seed: int = 0, shift: float = SHIFT
) -> dict:
    """The shipped prevalence estimate against the coders' share on sets whose theme mix is shifted.

    The labelled transcripts are cut in two halves (seeded); what the method ships from its labelled data
    (the calibration of its scores, fitted as training fits it, and the error rates) comes from one
    half's held-out predictions, and the sets are drawn from the other's (then the roles swap). For each
    flag two sets of ``set_size`` transcripts are drawn with replacement, one with the flag at its
    labelled share - ``shift`` and one at + ``shift`` (kept within [0.03, 0.95]; with 0.10 the labelled
    share used as a constant errs by about 0.1, the issue's setting): 28 (flag, set) pairs per draw,
    ``repeats`` draws. With ``scores``: PACC (what ``theme_prevalence`` computes), else ACC on the flags.
    Reported: mean absolute error of the estimate, of the raw flagged share and of the labelled share
    used as a constant; how many pairs' intervals hold the coders' share; mean width.
    """
    from etl_project.evaluation.theme_train import fit_calibration

    rng = np.random.default_rng(seed)
    n = len(labels)
    half = rng.permutation(n)
    halves = [half[: n // 2], half[n // 2 :]]
    err_est, err_raw, err_const, covered, width, pairs = [], [], [], 0, [], 0
    per_flag: dict[str, list[float]] = {f: [] for f in THEME_FLAGS}
    calibrated = {}
    for a in (0, 1):  # what the method would ship, fitted on each half
        for j in range(len(THEME_FLAGS)):
            rows = halves[a]
            if scores is not None:
                slope, intercept = fit_calibration(labels[rows, j], scores[rows, j])
                calibrated[a, j] = prevalence.calibrate(scores[:, j], slope, intercept)
    for r in range(repeats):
        for a, b in ((0, 1), (1, 0)):
            rate_rows, pool = halves[a], halves[b]
            for j, flag in enumerate(THEME_FLAGS):
                y, p = labels[rate_rows, j], predictions[rate_rows, j]
                summary = prevalence.probability_summary(y, calibrated[a, j][rate_rows]) if scores is not None else {}
                rates = prevalence.Rates(int((p & y).sum()), int(y.sum()), int((p & ~y).sum()), int((~y).sum()), **summary)
                labelled_share = labels[:, j].mean()
                pos, neg = pool[labels[pool, j]], pool[~labels[pool, j]]
                for target in (max(0.03, labelled_share - shift), min(0.95, labelled_share + shift)):
                    k = int(round(target * set_size))
                    chosen = np.r_[rng.choice(pos, k, replace=True), rng.choice(neg, set_size - k, replace=True)]
                    truth = labels[chosen, j].mean()
                    flagged = int(predictions[chosen, j].sum())
                    probability = {} if scores is None else {"mean_p": calibrated[a, j][chosen].mean(), "sd_p": calibrated[a, j][chosen].std()}
                    e = prevalence.estimate(flagged, set_size, rates, draws=1000, rng=rng, **probability)
                    err_est.append(abs(e.estimated_share - truth))
                    err_raw.append(abs(e.flagged_share - truth))
                    err_const.append(abs(labelled_share - truth))
                    covered += int(e.ci_low <= truth <= e.ci_high)
                    width.append(e.ci_high - e.ci_low)
                    per_flag[flag].append(abs(e.estimated_share - truth))
                    pairs += 1
    per_draw = pairs / (2 * repeats)
    return {
        "estimator": "ACC" if scores is None else "PACC",
        "set_size": set_size,
        "shift": shift,
        "repeats": repeats,
        "pairs_per_draw": int(per_draw) * 2,
        "mean_abs_error_estimate": float(np.mean(err_est)),
        "mean_abs_error_flagged_share": float(np.mean(err_raw)),
        "mean_abs_error_labelled_share_constant": float(np.mean(err_const)),
        "coverage": covered / pairs,
        "covered_of_28": covered / pairs * 28,
        "mean_width": float(np.mean(width)),
        "per_flag_mean_abs_error": {f: float(np.mean(v)) for f, v in per_flag.items()},
    }


# --------------------------------------------------------------------------- #
# The whole evaluation
# --------------------------------------------------------------------------- #
def _entry(metrics: dict, folds: list[float] | None = None) -> dict:
    out = {"macro_f1": metrics["macro_f1"], "macro_kappa": metrics["macro_kappa"], "per_flag": metrics["per_flag"]}
    if folds is not None:
        out["fold_macro_f1"] = folds
    return out


def run(dev: DevSet, held: DevSet | None = None, *, k: int = 5, seed: int = 0, candidates: list | None = None, cost: bool = True, log=print) -> dict:
    """Every figure of the report as a JSON-able dict (``held`` None: the 180 only, no held-apart score)."""
    candidates = procedures() if candidates is None else candidates
    both = dev if held is None else dev.union(held)
    in_dev = np.isin(np.array(both.ids), np.array(dev.ids))
    results = {}
    for proc in candidates:
        log(f"{proc.name}: {k}-fold CV over {len(both.ids)} ...")
        res = cross_validate(proc, both, k=k, seed=seed)
        entry = {"cv": _entry(res.metrics, res.fold_macro_f1), "cv_seconds": res.seconds}
        entry["cv_on_180"] = _entry(evaluate(both.labels[in_dev], res.predictions[in_dev]))
        if held is not None:
            entry["cv_on_492"] = _entry(evaluate(both.labels[~in_dev], res.predictions[~in_dev]))
            log(f"  fit on the 180, score the {len(held.ids)} held apart ...")
            predicted, _ = _split_prediction(proc.fit(dev)(held.without_labels()))
            entry["held_apart"] = _entry(evaluate(held.labels, predicted))
        entry["prevalence"] = shifted_prevalence(both.labels, res.predictions, res.scores, seed=seed)
        if cost:
            log("  cost ...")
            if proc.name in themes.NEEDS_ENCODER:
                entry["cost"] = {"x1": encoder_cost(both.turns, proc.name)}
            else:
                entry["cost"] = {"x1": flagging_cost(both.turns, proc.name), "x20": flagging_cost(both.turns, proc.name, copies=20, repeats=2)}
                if proc.name != "lexicon":
                    entry["cost"]["vs_lexicon"] = cost_vs_lexicon(both.turns, proc.name)
        results[proc.name] = entry
        log(
            f"  CV {entry['cv']['macro_f1']:.3f}"
            + (f", held-apart {entry['held_apart']['macro_f1']:.3f}" if held is not None else "")
            + f", prevalence error {entry['prevalence']['mean_abs_error_estimate']:.3f}"
        )
    rule_default, rule_best = choose(results)
    return {
        "generated_by": "python -m etl_project.evaluation.theme_eval",
        "rule": {"default": rule_default, "best": rule_best, "budget_cpu_per_1000_s": BUDGET_CPU_PER_1000_S, "lexicon_quiet_cpu_per_1000_s": LEXICON_QUIET_CPU_PER_1000_S},
        "generated_at": dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat(),
        "labels": {"sample": len(dev.ids), "held_apart": 0 if held is None else len(held.ids), "flags": list(THEME_FLAGS)},
        "cv": {"folds": k, "seed": seed, "by": "transcript", "pooled": True},
        "default": themes.DEFAULT,
        "best": themes.BEST,
        "versions": {name: themes.method_version(name) for name in themes.METHODS},
        "procedures": results,
        "environment": {"python": platform.python_version(), "polars": pl.__version__, "numpy": np.__version__},
    }


# The default's flagging budget: 25 % of the core's time at 50,000 transcripts (BENCHMARKS.md: about 23 s wall on
# 2 cores, so 5.7 s wall, 11.5 CPU s, 0.23 CPU s per 1,000 transcripts). The cores are shared, so a method's cost is
# judged relative to the lexicon's in the same run, scaled to the lexicon's cost on a quiet machine.
BUDGET_CPU_PER_1000_S = 0.23
LEXICON_QUIET_CPU_PER_1000_S = 0.13


def quiet_cpu_per_1000(results: dict, name: str) -> float | None:
    """A method's CPU s per 1,000 transcripts as if on a quiet machine: its CPU time relative to the lexicon's
    (measured in turns, :func:`cost_vs_lexicon`; else from the separate 13,440-transcript runs) times the
    lexicon's quiet cost."""
    if name == "lexicon":
        return LEXICON_QUIET_CPU_PER_1000_S
    cost = results[name].get("cost", {})
    if "vs_lexicon" in cost:
        return cost["vs_lexicon"]["ratio"] * LEXICON_QUIET_CPU_PER_1000_S
    lex = results.get("lexicon", {}).get("cost", {}).get("x20")
    if "x20" not in cost:
        return None
    return cost["x20"]["cpu_per_1000_s"] * (LEXICON_QUIET_CPU_PER_1000_S / lex["cpu_per_1000_s"] if lex else 1.0)


def choose(results: dict) -> tuple[str | None, str | None]:
    """The rule: ``best`` = highest macro-F1 on the 492 (CV, models trained on the rest); the default = the
    highest of those whose flagging fits the budget (:data:`BUDGET_CPU_PER_1000_S`, :func:`quiet_cpu_per_1000`)."""
    scored = [n for n in results if "cv_on_492" in results[n]]
    if not scored:
        return None, None
    key = lambda n: results[n]["cv_on_492"]["macro_f1"]  # noqa: E731
    best = max(scored, key=key)
    within = [n for n in scored if (c := quiet_cpu_per_1000(results, n)) is not None and c <= BUDGET_CPU_PER_1000_S]
    return (max(within, key=key) if within else None), best


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    from etl_project.evaluation.theme_report_md import render_markdown

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-cost", action="store_true")
    parser.add_argument("--render-only", action="store_true", help="rewrite THEMES.md from the existing themes_eval.json (prose changes)")
    args = parser.parse_args(argv)
    if args.render_only:
        report = json.loads((args.out / "themes_eval.json").read_text(encoding="utf-8"))
        _atomic_write(args.out / "THEMES.md", render_markdown(report))
        print(f"wrote {args.out / 'THEMES.md'} from {args.out / 'themes_eval.json'}")
        return 0
    from etl_project.evaluation.theme_train import EMBEDDING_CACHE
    from etl_project.lib import theme_encoder

    dev, held = load_all()
    theme_encoder.load_cache(EMBEDDING_CACHE)
    report = run(dev, held, k=args.folds, seed=args.seed, cost=not args.no_cost)
    theme_encoder.save_cache(EMBEDDING_CACHE)
    _atomic_write(args.out / "themes_eval.json", json.dumps(report, indent=1, sort_keys=True) + "\n")
    _atomic_write(args.out / "THEMES.md", render_markdown(report))
    print(f"wrote {args.out / 'THEMES.md'} and {args.out / 'themes_eval.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

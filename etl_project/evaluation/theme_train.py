"""Fit the per-turn TF-IDF + logistic-regression theme model (build time only; needs scikit-learn).

``make train-themes`` (``python -m etl_project.evaluation.theme_train``) fits on all 672 labelled
transcripts with a fixed seed and writes the artefact the runtime loads
(:data:`etl_project.lib.theme_model.MODEL_PATH`). The same :func:`fit_model` is what
``make eval-themes`` cross-validates.

Training rows, per flag: the coders' evidence turn of every transcript with the flag (positives)
and every participant turn of the transcripts without it (negatives); the other turns of a
transcript with the flag are left out (unlabelled: the coders name one evidence turn only).
The per-flag threshold on a transcript's score (its top turn's logit) maximises F1 over
out-of-fold scores of an inner 5-fold cross-validation on the training transcripts, and the
out-of-fold true/false-positive rates at that threshold are stored for the prevalence estimate.
"""

from __future__ import annotations

import argparse
import hashlib
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import polars as pl

from etl_project.evaluation.theme_data import N_FLAGS, DevSet, load_all
from etl_project.lib import theme_model as tm
from etl_project.lib import theme_terms as tt
from etl_project.lib.theme_taxonomy import THEME_FLAGS

SEED = 0


@dataclass(frozen=True)
class TrainConfig:
    version: str = "tfidf-lr-v1"
    min_df_unigram: int = 2  # turns a unigram must occur in (training turns)
    min_df_bigram: int = 3
    C: float = 4.0
    lexicon_features: bool = False
    inner_folds: int = 5
    seed: int = SEED


@dataclass(frozen=True)
class TermConfig:
    """The key-term model (:mod:`etl_project.lib.theme_terms`)."""

    version: str = "terms-lexicon-lr-v1"
    min_df: int = 3  # turns a candidate term must occur in (training turns)
    min_chars: int = 3  # shortest single-word term
    max_df_share: float = 0.03  # most turns a candidate term may occur in, as a share
    select_C: float = 16.0  # strength of the L1 fit that chooses the terms (smaller: fewer terms)
    max_terms_per_flag: int = 1000
    C: float = 4.0
    lexicon_features: bool = True
    pooling: str = "lse"  # a transcript's score: log-sum-exp of its turns' (theme_model.pooled_scores)
    inner_folds: int = 5
    seed: int = SEED


@dataclass(frozen=True)
class EncoderConfig:
    """A frozen sentence encoder's head added to the TF-IDF + lexicon model (:class:`theme_encoder.EncoderModel`)."""

    version: str = "minilm-tfidf-lexicon-lr-v2"
    base: TrainConfig = TrainConfig(version="tfidf-lexicon-lr-v1", lexicon_features=True)
    C: float = 1.0  # of the head's logistic regression on the 384-d turn embeddings
    weight: float = 1.0  # of the head's logit in the sum
    lexicon_features: bool = True
    inner_folds: int = 5
    seed: int = SEED
    # v2: a transcript's score is a logistic regression per flag (strength ``stack_C``) on pooled features of its turns'
    # summed logits (theme_encoder.transcript_features: max, log-sum-exp, second max, turns above 0, turns), fitted on
    # the inner cross-validation's out-of-fold turn logits; its threshold from a ``stack_folds``-fold CV of that fit
    stack: bool = False
    stack_C: float = 1.0
    stack_folds: int = 5
    stack_seed: int = SEED + 1


def participant_turns(dev: DevSet) -> pl.DataFrame:
    """``transcript_id, turn_index, text, t`` (``t`` = position of the transcript in ``dev.ids``), sorted."""
    position = pl.DataFrame({"transcript_id": list(dev.ids), "t": np.arange(len(dev.ids), dtype=np.int64)})
    return (
        dev.turns.filter(pl.col("speaker") == "participant")
        .select("transcript_id", pl.col("turn_index").cast(pl.Int32), "text")
        .sort("transcript_id", "turn_index")
        .join(position, on="transcript_id", how="inner", maintain_order="left")
    )


def build_vocabulary(toks: pl.DataFrame, turn_of_sentence: np.ndarray, cfg: TrainConfig) -> tuple[list[str], np.ndarray]:
    """Unigrams in at least ``min_df_unigram`` turns (sorted) and bigrams (within a sentence) of two of
    them in at least ``min_df_bigram`` turns. ``toks``: sentence tokens (``row`` = sentence)."""
    turn = pl.Series("turn", turn_of_sentence)
    uni = (
        toks.with_columns(turn.gather(toks.get_column("row")))
        .unique(["turn", "tok"]).group_by("tok").len().filter(pl.col("len") >= cfg.min_df_unigram)
    )
    unigrams = sorted(uni.get_column("tok").to_list())
    index = {u: i for i, u in enumerate(unigrams)}
    bigrams = tm.bigram_strings(toks)
    bi = (
        bigrams.with_columns(turn.gather(bigrams.get_column("row")))
        .unique(["turn", "term"]).group_by("term").len().filter(pl.col("len") >= cfg.min_df_bigram)
    )
    pairs = sorted(
        (index[a], index[b])
        for a, b in (term.split(" ") for term in bi.get_column("term").to_list())
        if a in index and b in index
    )
    return unigrams, np.array(pairs, dtype=np.int64).reshape(-1, 2)


def design(turns: pl.DataFrame, unigrams, bigrams, idf: np.ndarray | None, lexicon_hits: np.ndarray | None, sent=None):
    """(csr matrix of the turns' features, idf). ``idf`` is computed from these turns when None."""
    from scipy import sparse

    sent = tm.sentences(turns) if sent is None else sent
    turn_of = sent.get_column("turn_row").to_numpy().astype(np.int64)
    occ = tm.feature_ids(tm.tokens(sent.get_column("norm")), unigrams, bigrams, sent.height)
    n_features = len(unigrams) + len(bigrams)
    if idf is None:
        present = pl.DataFrame({"turn": np.r_[turn_of[occ.row_u], turn_of[occ.row_b]], "fid": np.r_[occ.fid_u, occ.fid_b]}).unique()
        df = np.bincount(present.get_column("fid").to_numpy(), minlength=n_features)
        idf = np.log((1 + turns.height) / (1 + df)) + 1.0
    matrix = tm.turn_matrix(occ, turn_of, turns.height, idf)
    matrix.sum_duplicates()
    if lexicon_hits is not None:
        matrix = sparse.hstack([matrix, sparse.csr_matrix(lexicon_hits.astype(np.float64))], format="csr")
    return matrix, idf


def _fit_weights(turns: pl.DataFrame, labels: np.ndarray, evidence: dict, ids: tuple[str, ...], cfg: TrainConfig, lexicon_hits):
    from sklearn.linear_model import LogisticRegression

    sent = tm.sentences(turns)
    unigrams, bigrams = build_vocabulary(tm.tokens(sent.get_column("norm")), sent.get_column("turn_row").to_numpy(), cfg)
    x, idf = design(turns, unigrams, bigrams, None, lexicon_hits, sent=sent)
    t = turns.get_column("t").to_numpy()
    coef, intercept = _fit_flags(x, [_training_rows(turns, labels, evidence, ids, j) for j in range(N_FLAGS)], cfg.C, cfg.seed)
    n_text = len(unigrams) + len(bigrams)
    lexicon_coef = coef[n_text:, :] if lexicon_hits is not None else np.zeros((N_FLAGS, N_FLAGS))
    return unigrams, bigrams, idf, coef[:n_text], lexicon_coef, intercept


def _transcript_max(turns: pl.DataFrame, scores: np.ndarray, n: int, pooling: str = "max") -> np.ndarray:
    t = turns.get_column("t").to_numpy()
    best, _ = tm.transcript_scores(t, scores, n)
    return tm.pooled_scores(t, scores, best, pooling)


def best_threshold(y: np.ndarray, s: np.ndarray) -> float:
    """The threshold on ``s`` maximising F1 for labels ``y`` (midpoint between adjacent scores)."""
    order = np.argsort(-s, kind="stable")
    ys, ss = y[order], s[order]
    tp = np.cumsum(ys)
    fp = np.cumsum(~ys)
    f1 = 2 * tp / (tp + fp + y.sum())
    distinct = np.r_[ss[1:] != ss[:-1], True]  # cut only between different scores
    f1 = np.where(distinct, f1, -1)
    k = int(np.argmax(f1))
    if not np.isfinite(ss[k]):
        return float("inf")
    below = ss[k + 1] if k + 1 < len(ss) and np.isfinite(ss[k + 1]) else ss[k] - 1.0
    return float((ss[k] + below) / 2)


def folds(n: int, k: int, seed: int) -> list[np.ndarray]:
    order = np.random.default_rng(seed).permutation(n)
    return [np.sort(order[f::k]) for f in range(k)]


def fit_model(dev: DevSet, cfg=TrainConfig(), *, turns: pl.DataFrame | None = None, lexicon_hits: np.ndarray | None = None, return_oof: bool = False):
    """Fit on every transcript of ``dev``; thresholds and rates from an inner cross-validation on ``dev``.

    ``cfg`` is a :class:`TrainConfig` (the TF-IDF model, :mod:`theme_model`) or a :class:`TermConfig`
    (the key-term model, :mod:`theme_terms`); everything the model fits (vocabulary or terms, idf,
    weights) is refitted inside every inner fold, so the thresholds see only out-of-fold scores.
    ``return_oof``: also return those out-of-fold transcript scores (``(n, 14)``, ``dev.ids`` order).
    """
    turns = participant_turns(dev) if turns is None else turns
    if cfg.lexicon_features and lexicon_hits is None:
        lexicon_hits = tm.turn_lexicon_hits(turns)
    if not cfg.lexicon_features:
        lexicon_hits = None
    if isinstance(cfg, TermConfig):
        assemble, score = _assemble_terms, tt.turn_scores
    elif isinstance(cfg, EncoderConfig):
        from etl_project.lib import theme_encoder

        assemble, score = _assemble_encoder, theme_encoder.turn_scores
    else:
        assemble, score = _assemble, tm.turn_scores
    n = len(dev.ids)
    t = turns.get_column("t").to_numpy()
    oof = np.full((n, N_FLAGS), -np.inf)
    stack = getattr(cfg, "stack", False)
    oof_turns = np.full((turns.height, N_FLAGS), -np.inf)
    for held in folds(n, cfg.inner_folds, cfg.seed):
        held_mask = np.zeros(n, dtype=bool)
        held_mask[held] = True
        train_rows = ~held_mask[t]
        sub = turns.filter(pl.Series(train_rows))
        model = assemble(dev, sub, cfg, None if lexicon_hits is None else lexicon_hits[train_rows])
        test_rows = held_mask[t]
        test = turns.filter(pl.Series(test_rows))
        scores = score(model, test)
        oof_turns[test_rows] = scores
        best = _transcript_max(test, scores, n, getattr(cfg, "pooling", "max"))
        oof[held] = best[held]
    if stack:
        stack_coef, stack_intercept, oof = fit_stack(dev.labels, t, oof_turns, n, cfg)
    threshold = np.array([best_threshold(dev.labels[:, j], oof[:, j]) for j in range(N_FLAGS)])
    predicted = oof >= threshold
    y = dev.labels
    n_pos, n_neg = y.sum(axis=0), (~y).sum(axis=0)
    tpr = (predicted & y).sum(axis=0) / np.maximum(n_pos, 1)
    fpr = (predicted & ~y).sum(axis=0) / np.maximum(n_neg, 1)
    final = assemble(dev, turns, cfg, lexicon_hits)
    model = replace(final, threshold=threshold, tpr=tpr, fpr=fpr, n_pos=n_pos, n_neg=n_neg)
    if stack:
        model = replace(model, stack_coef=stack_coef, stack_intercept=stack_intercept)
    return (model, oof) if return_oof else model


def fit_stack(y: np.ndarray, t: np.ndarray, turn_logits: np.ndarray, n: int, cfg) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(coef (14, k), intercept (14,), out-of-fold scores (n, 14))`` of the transcript-level model of
    :func:`theme_encoder.stacked_scores`: per flag a logistic regression of the labels ``y`` on the
    :func:`theme_encoder.transcript_features` of out-of-fold turn logits (transcripts with a scored turn), and its own
    out-of-fold scores from a ``cfg.stack_folds``-fold CV (what the threshold, rates and calibration are fitted on)."""
    from sklearn.linear_model import LogisticRegression

    from etl_project.lib import theme_encoder

    features, best = theme_encoder.transcript_features(t, turn_logits, n)
    k = features.shape[-1]
    coef, intercept = np.zeros((N_FLAGS, k)), np.zeros(N_FLAGS)
    oof = np.full((n, N_FLAGS), -np.inf)
    split = folds(n, cfg.stack_folds, cfg.stack_seed)

    def fit(x, target):
        if target.all() or not target.any():
            return np.zeros(k), 10.0 if target.all() else -10.0
        lr = LogisticRegression(C=cfg.stack_C, max_iter=1000).fit(x, target)
        return lr.coef_[0], float(lr.intercept_[0])

    for j in range(N_FLAGS):
        scored = np.isfinite(best[:, j])
        for held in split:
            train = scored.copy()
            train[held] = False
            c, b = fit(features[train, j], y[train, j])
            out = held[scored[held]]
            oof[out, j] = features[out, j] @ c + b
        coef[j], intercept[j] = fit(features[scored, j], y[scored, j])
    return coef, intercept, oof


def fit_calibration(y: np.ndarray, s: np.ndarray) -> tuple[float, float]:
    """Platt scaling: ``(slope, intercept)`` of a one-feature logistic regression of the labels ``y`` on
    the transcript scores ``s`` (finite ones; a transcript without participant turns scores -inf and gets
    probability 0). :func:`etl_project.lib.prevalence.calibrate` applies it."""
    from sklearn.linear_model import LogisticRegression

    finite = np.isfinite(s)
    y, s = np.asarray(y, bool)[finite], np.asarray(s, float)[finite]
    if y.all() or not y.any():
        return 0.0, float(np.log((y.mean() + 1e-3) / (1 - y.mean() + 1e-3)))
    fit = LogisticRegression(C=1e4, max_iter=1000).fit(s[:, None], y)
    return float(fit.coef_[0, 0]), float(fit.intercept_[0])


def probability_entry(y: np.ndarray, scores: np.ndarray) -> tuple[dict, dict]:
    """Per flag: the calibration (Platt, on out-of-fold ``scores``) and the PACC fields of the rates (the
    calibrated out-of-fold probabilities' mean and spread among labelled positives and negatives)."""
    from etl_project.lib import prevalence

    calibration, summary = {}, {}
    for j, flag in enumerate(THEME_FLAGS):
        slope, intercept = fit_calibration(y[:, j], scores[:, j])
        calibration[flag] = {"slope": slope, "intercept": intercept}
        summary[flag] = prevalence.probability_summary(y[:, j], prevalence.calibrate(scores[:, j], slope, intercept))
    return calibration, summary


def _training_rows(turns: pl.DataFrame, labels: np.ndarray, evidence: dict, ids, j: int) -> tuple[np.ndarray, np.ndarray]:
    """(rows kept, their targets) for flag ``j``: the coders' evidence turns of transcripts with the
    flag (positives) and every turn of transcripts without it (negatives)."""
    t = turns.get_column("t").to_numpy()
    turn_index = turns.get_column("turn_index").to_numpy()
    flag = THEME_FLAGS[j]
    positive_transcript = labels[t, j]
    ev = np.array([evidence.get((ids[k], flag), -1) for k in range(len(ids))])
    is_evidence = positive_transcript & (turn_index == ev[t])
    keep = is_evidence | ~positive_transcript
    return keep, is_evidence[keep]


def _fit_flags(x, rows: list[tuple[np.ndarray, np.ndarray]], C: float, seed: int, *, degenerate: float = 10.0) -> tuple[np.ndarray, np.ndarray]:
    """(coef, intercept): an L2 logistic regression per flag on ``x[keep]`` against ``y`` (``rows[j]``); a flag
    whose rows are all one class gets no weights and intercept +/- ``degenerate``."""
    from sklearn.linear_model import LogisticRegression

    coef, intercept = np.zeros((x.shape[1], N_FLAGS)), np.zeros(N_FLAGS)
    for j, (keep, y) in enumerate(rows):
        if y.all() or not y.any():
            intercept[j] = degenerate if y.all() else -degenerate
            continue
        clf = LogisticRegression(C=C, solver="liblinear", random_state=seed, max_iter=1000)
        clf.fit(x[keep], y)
        coef[:, j], intercept[j] = clf.coef_[0], clf.intercept_[0]
    return coef, intercept


def _fit_terms(turns: pl.DataFrame, labels: np.ndarray, evidence: dict, ids, cfg: "TermConfig", lexicon_hits):
    """Terms, idf, coef, lexicon_coef, intercept of a key-term model fitted on ``turns``.

    1. candidate terms (:func:`theme_terms.candidate_terms`) and their occurrences;
    2. per flag, an L1-penalised fit on all candidates (+ the lexicon's hits) keeps the terms with a
       non-zero weight (at most ``max_terms_per_flag``, by weight); the union over flags is the model's terms;
    3. an L2-penalised fit per flag on those terms (their own idf and turn norms) gives the weights.
    """
    from scipy import sparse
    from sklearn.linear_model import LogisticRegression

    sent = tm.sentences(turns)
    norm = sent.get_column("norm")
    turn_of = sent.get_column("turn_row").to_numpy().astype(np.int64)
    n = turns.height
    candidates = tt.candidate_terms(tm.tokens(norm), turn_of, min_df=cfg.min_df, min_chars=cfg.min_chars, max_df_share=cfg.max_df_share)
    row, tid = tt.term_occurrences(norm, candidates)

    def idf_of(tid_, row_, n_terms):
        present = np.unique(turn_of[row_] * n_terms + tid_)
        df = np.bincount(present % n_terms, minlength=n_terms)
        return np.log((1 + n) / (1 + df)) + 1.0

    def with_lexicon(x):
        return x if lexicon_hits is None else sparse.hstack([x, sparse.csr_matrix(lexicon_hits.astype(np.float64))], format="csr")

    idf = idf_of(tid, row, len(candidates))
    common = np.log((1 + n) / (1 + cfg.max_df_share * n)) + 1.0  # the idf of a term in that share of the turns
    keep_occ = idf[tid] >= common  # a candidate that matches (as a word start) in too many turns is dropped
    row, tid = row[keep_occ], tid[keep_occ]
    x = with_lexicon(tt.turn_design(row, tid, turn_of, n, idf))
    rows = [_training_rows(turns, labels, evidence, ids, j) for j in range(N_FLAGS)]
    chosen: set[int] = set()
    for keep, y in rows:
        if y.all() or not y.any():
            continue
        l1 = LogisticRegression(l1_ratio=1.0, C=cfg.select_C, solver="liblinear", random_state=cfg.seed, max_iter=1000)
        l1.fit(x[keep], y)
        w = np.abs(l1.coef_[0][: len(candidates)])
        nonzero = np.nonzero(w)[0]
        chosen.update(int(i) for i in nonzero[np.argsort(-w[nonzero], kind="stable")][: cfg.max_terms_per_flag])
    selected = np.array(sorted(chosen), dtype=np.int64)
    terms = [candidates[i] for i in selected]
    remap = np.full(len(candidates), -1, dtype=np.int64)
    remap[selected] = np.arange(len(selected))
    keep_occ = remap[tid] >= 0
    row, tid = row[keep_occ], remap[tid[keep_occ]]
    idf = idf_of(tid, row, len(terms)) if len(terms) else np.zeros(0)
    x = with_lexicon(tt.turn_design(row, tid, turn_of, n, idf))
    coef, intercept = _fit_flags(x, rows, cfg.C, cfg.seed)
    lexicon_coef = coef[len(terms):, :] if lexicon_hits is not None else np.zeros((N_FLAGS, N_FLAGS))
    return terms, idf, coef[: len(terms)], lexicon_coef, intercept


def _assemble_terms(dev: DevSet, turns: pl.DataFrame, cfg: "TermConfig", lexicon_hits) -> tt.TermModel:
    terms, idf, coef, lexicon_coef, intercept = _fit_terms(turns, dev.labels, dev.evidence_turns or {}, dev.ids, cfg, lexicon_hits)
    zeros = np.zeros(N_FLAGS)
    return tt.TermModel(
        version=cfg.version, terms=tuple(terms), idf=idf, coef=coef, lexicon_coef=lexicon_coef, intercept=intercept,
        threshold=zeros, tpr=zeros, fpr=zeros, n_pos=zeros.astype(np.int64), n_neg=zeros.astype(np.int64), pooling=cfg.pooling,
    )


def _assemble_encoder(dev: DevSet, turns: pl.DataFrame, cfg: EncoderConfig, lexicon_hits):
    """The base model on ``turns`` and, per flag, a logistic regression on the turns' embeddings (same rows)."""
    from etl_project.lib import theme_encoder

    base = _assemble(dev, turns, cfg.base, lexicon_hits)
    x = theme_encoder.embed(turns.get_column("text").to_list()).astype(np.float64)
    rows = [_training_rows(turns, dev.labels, dev.evidence_turns or {}, dev.ids, j) for j in range(N_FLAGS)]
    coef, intercept = _fit_flags(x, rows, cfg.C, cfg.seed, degenerate=0.0)  # the base already decides such a flag
    zeros = np.zeros(N_FLAGS)
    return theme_encoder.EncoderModel(
        version=cfg.version, base=base, coef=coef, intercept=intercept, weight=np.full(N_FLAGS, cfg.weight),
        threshold=zeros, tpr=zeros, fpr=zeros, n_pos=zeros.astype(np.int64), n_neg=zeros.astype(np.int64),
    )


def _assemble(dev: DevSet, turns: pl.DataFrame, cfg: TrainConfig, lexicon_hits) -> tm.TurnModel:
    # ``turns.t`` indexes dev.ids; the fit only sees the rows given
    unigrams, bigrams, idf, coef, lexicon_coef, intercept = _fit_weights(
        turns, dev.labels, dev.evidence_turns or {}, dev.ids, cfg, lexicon_hits
    )
    zeros = np.zeros(N_FLAGS)
    return tm.TurnModel(
        version=cfg.version, unigrams=tuple(unigrams), bigrams=bigrams, idf=idf, coef=coef, lexicon_coef=lexicon_coef,
        intercept=intercept, threshold=zeros, tpr=zeros, fpr=zeros, n_pos=zeros.astype(np.int64), n_neg=zeros.astype(np.int64),
    )


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


RATES_PATH = tm.MODEL_PATH.parent / "theme_rates.json"
SHIPPED: dict[str, tuple[str, TrainConfig | TermConfig]] = {
    "tfidf": ("theme_tfidf_lr.npz", TrainConfig(version="tfidf-lr-v1", lexicon_features=False)),
    "tfidf_lexicon": ("theme_tfidf_lexicon_lr.npz", TrainConfig(version="tfidf-lexicon-lr-v1", lexicon_features=True)),
    "terms_lexicon": ("theme_terms_lexicon_lr.npz", TermConfig(version="terms-lexicon-lr-v1")),
    # the head only: its base is the tfidf_lexicon model above (same config, same fit), loaded from that artefact
    "minilm_tfidf_lexicon": ("theme_minilm_tfidf_lexicon_head.npz", EncoderConfig(version="minilm-tfidf-lexicon-lr-v2", C=4.0, stack=True)),
}
# Turn embeddings computed by training or evaluation, kept between runs (gitignored; the encoder is frozen, so
# they depend on the text alone): the 672 transcripts' 7,711 participant turns take about 10 CPU minutes.
EMBEDDING_CACHE = Path(__file__).resolve().parents[2] / ".cache" / "theme_turn_embeddings.npz"


def lexicon_rates(held: DevSet) -> dict:
    """The lexicon's error counts on the 492 transcripts no rule was written from (it fits nothing), with
    its calibration (its score is the flag itself: 1 or 0) and the PACC fields."""
    from etl_project.lib.themes import flag_themes

    flags = flag_themes(held.turns, method="lexicon")
    predicted = (
        pl.DataFrame({"transcript_id": list(held.ids)})
        .join(flags, on="transcript_id", how="left", maintain_order="left")
        .select(pl.col(f).fill_null(False) for f in THEME_FLAGS)
        .to_numpy()
        .astype(bool)
    )
    return _with_probabilities(rates_dict(held.labels, predicted), held.labels, predicted.astype(float))


def _with_probabilities(counts: dict, y: np.ndarray, scores: np.ndarray) -> dict:
    """A rates entry's ``flags`` (counts + PACC fields) and ``calibration``."""
    calibration, summary = probability_entry(y, scores)
    return {"flags": {f: {**counts[f], **summary[f]} for f in THEME_FLAGS}, "calibration": calibration}


def rates_dict(y: np.ndarray, predicted: np.ndarray) -> dict:
    return {
        flag: {"tp": int((predicted[:, j] & y[:, j]).sum()), "n_pos": int(y[:, j].sum()), "fp": int((predicted[:, j] & ~y[:, j]).sum()), "n_neg": int((~y[:, j]).sum())}
        for j, flag in enumerate(THEME_FLAGS)
    }


def model_rates(model: tm.TurnModel) -> dict:
    return {
        flag: {"tp": int(round(model.tpr[j] * model.n_pos[j])), "n_pos": int(model.n_pos[j]), "fp": int(round(model.fpr[j] * model.n_neg[j])), "n_neg": int(model.n_neg[j])}
        for j, flag in enumerate(THEME_FLAGS)
    }


def main(argv: list[str] | None = None) -> int:
    import json

    from etl_project.lib import theme_engine

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out-dir", type=Path, default=tm.MODEL_PATH.parent)
    args = parser.parse_args(argv)
    dev, held = load_all()
    both = dev.union(held)
    rates = {
        theme_engine.METHOD_VERSION: {
            "method": "lexicon",
            "measured_on": "the 492 held-apart transcripts (the lexicon fits nothing; its rules were written on the 180)",
            **lexicon_rates(held),
        }
    }
    from etl_project.lib import theme_encoder

    theme_encoder.load_cache(EMBEDDING_CACHE)
    for method, (file, cfg) in SHIPPED.items():
        model, oof = fit_model(both, cfg, return_oof=True)
        if isinstance(cfg, EncoderConfig):
            theme_encoder.save_cache(EMBEDDING_CACHE)
        out = args.out_dir / file
        model.save(out)
        rates[model.version] = {
            "method": method,
            "measured_on": f"out-of-fold predictions of a {cfg.inner_folds}-fold cross-validation over the {len(both.ids)} labelled transcripts (seed {cfg.seed}), at the shipped thresholds",
            **_with_probabilities(model_rates(model), both.labels, oof),
        }
        if isinstance(model, tt.TermModel):
            size = f"{len(model.terms)} terms"
        elif isinstance(model, tm.TurnModel):
            size = f"{len(model.unigrams)} unigrams, {len(model.bigrams)} bigrams"
        else:
            size = f"a 384 x 14 head on {model.base.version}"
        print(f"{method} {model.version}: {size}, {len(both.ids)} transcripts -> {out} "
              f"({out.stat().st_size / 1e6:.2f} MB, sha256 {sha256(out)[:12]})")
        for j, flag in enumerate(THEME_FLAGS):
            print(f"  {flag:28s} threshold {model.threshold[j]:7.3f}  oof TPR {model.tpr[j]:.2f}  FPR {model.fpr[j]:.2f}")
    (args.out_dir / RATES_PATH.name).write_text(json.dumps(rates, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The trained theme model at run time: per-turn TF-IDF + logistic regression, applied with polars and numpy.

The model is fitted at build time by ``make train-themes`` (:mod:`etl_project.evaluation.theme_train`,
scikit-learn) on the 672 labelled transcripts and shipped as one small ``.npz`` artefact
(:data:`MODEL_PATH`): vocabulary, idf weights, one coefficient column per flag, the per-flag
threshold on a transcript's score, and the out-of-fold true- and false-positive rates per flag that
the prevalence estimate (:mod:`etl_project.lib.prevalence`) corrects with. Nothing is fitted or
downloaded at run time and scikit-learn is not needed.

Features (the same code builds them at training and at run time):

* each participant turn's text, normalised as the lexicon's (:func:`theme_engine.normalize_for_matching`:
  curly quotes straightened, other non-ASCII blanked, lowercased), cut into tokens ``[a-z0-9]+('[a-z0-9]+)*``;
* unigrams of the vocabulary and bigrams (adjacent tokens within the turn) of two vocabulary unigrams;
* weight ``count * idf``, each turn's vector scaled by ``sqrt(sum of idf^2 over its occurrences)``
  (its L2 norm when no feature repeats; see :func:`tfidf_parts`);
* optionally (``lexicon_features``) the lexicon's 14 per-turn hits as extra binary features.

A turn's score for a flag is ``x . coef + intercept`` (a logit); a transcript's score is its top
turn's, and the flag is true when that score reaches the flag's threshold. Evidence is the
highest-scoring sentence (by its tokens' contributions to the flag's score) of the top turn, quoted
verbatim (cut to a window of at most ``MAX_QUOTE_CHARS`` characters when longer).

No Python code runs per row: tokens are polars columns, scores ``np.bincount`` over token rows.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from etl_project.lib import theme_engine
from etl_project.lib.theme_taxonomy import THEME_FLAGS

MODEL_PATH = Path(__file__).resolve().parent / "models" / "theme_tfidf_lr.npz"
TOKEN_PATTERN = r"[a-z0-9]+(?:'[a-z0-9]+)*"
MAX_QUOTE_CHARS = theme_engine.MAX_QUOTE_CHARS
_EVIDENCE_ROWS = {"transcript_id": pl.String, "flag": pl.String, "turn_index": pl.Int32, "quote": pl.String}


@dataclass(frozen=True)
class TurnModel:
    """A fitted per-turn model (see the module docstring); arrays as stored in the artefact."""

    version: str
    unigrams: tuple[str, ...]  # the unigram vocabulary; feature i < len(unigrams) is unigram i
    bigrams: np.ndarray  # (B, 2) int32: pairs of unigram indices; feature len(unigrams) + j is bigram j
    idf: np.ndarray  # (F,) float64, F = len(unigrams) + len(bigrams)
    coef: np.ndarray  # (F, 14) float64
    lexicon_coef: np.ndarray  # (14, 14) float64: weight of the lexicon's hit of flag i for flag j (zeros: unused)
    intercept: np.ndarray  # (14,)
    threshold: np.ndarray  # (14,) on the transcript score
    tpr: np.ndarray  # (14,) out-of-fold true-positive rate of the transcript flag
    fpr: np.ndarray  # (14,) out-of-fold false-positive rate
    n_pos: np.ndarray  # (14,) labelled transcripts with the flag (the rates' denominators)
    n_neg: np.ndarray  # (14,)

    @property
    def uses_lexicon(self) -> bool:
        return bool(np.any(self.lexicon_coef))

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        save_artefact(path, self, {"unigrams": np.array(self.unigrams), "bigrams": self.bigrams.astype(np.int32)})

    @classmethod
    def load(cls, path: Path = MODEL_PATH) -> "TurnModel":
        with np.load(path, allow_pickle=False) as z:
            return cls(
                unigrams=tuple(str(u) for u in z["unigrams"]),
                bigrams=z["bigrams"].astype(np.int64).reshape(-1, 2),
                **decision_fields(z, path),
            )


def decision_arrays(model) -> dict[str, np.ndarray]:
    """The arrays every per-turn model's artefact stores beside its features (see :func:`decision_fields`)."""
    return {
        "version": np.array(model.version),
        "flags": np.array(THEME_FLAGS),
        "idf": model.idf.astype(np.float32),
        "coef": model.coef.astype(np.float32),
        "lexicon_coef": model.lexicon_coef.astype(np.float32),
        "intercept": model.intercept.astype(np.float64),
        "threshold": model.threshold.astype(np.float64),
        "tpr": model.tpr.astype(np.float64),
        "fpr": model.fpr.astype(np.float64),
        "n_pos": model.n_pos.astype(np.int64),
        "n_neg": model.n_neg.astype(np.int64),
    }


def save_artefact(path: Path, model, features: dict[str, np.ndarray], extra: dict[str, np.ndarray] | None = None) -> None:
    """``version, flags``, the model's own ``features`` arrays, :func:`decision_arrays`, ``extra``: one
    compressed ``.npz`` (written on a handle: no ".npz" appended, the same bytes for the same arrays)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    decision = decision_arrays(model)
    head = {k: decision.pop(k) for k in ("version", "flags")}
    with open(path, "wb") as handle:
        np.savez_compressed(handle, **head, **features, **decision, **(extra or {}))


def decision_fields(z, path) -> dict:
    """The fields of :func:`decision_arrays` read back from an opened artefact (its flags checked)."""
    flags = tuple(str(f) for f in z["flags"])
    if flags != THEME_FLAGS:
        raise ValueError(f"{path}: flags {flags} differ from THEME_FLAGS")
    return {
        "version": str(z["version"]), "idf": z["idf"].astype(np.float64), "coef": z["coef"].astype(np.float64),
        "lexicon_coef": z["lexicon_coef"].astype(np.float64), "intercept": z["intercept"], "threshold": z["threshold"],
        "tpr": z["tpr"], "fpr": z["fpr"], "n_pos": z["n_pos"], "n_neg": z["n_neg"],
    }


@functools.lru_cache(maxsize=4)
def load_model(path: Path = MODEL_PATH) -> TurnModel:
    """The shipped model, loaded once per process (offline: a file in the package)."""
    return TurnModel.load(path)


# --------------------------------------------------------------------------- #
# Tokens and features (shared with training)
# --------------------------------------------------------------------------- #
def sentences(participant: pl.DataFrame) -> pl.DataFrame:
    """``turn_row, sentence, norm``: the non-blank sentences of each turn (``turn_row`` = its row in
    ``participant``), in reading order, as the lexicon engine cuts them; ``norm`` is the normalised copy."""
    numbered = participant.select("transcript_id", pl.int_range(pl.len(), dtype=pl.Int64).alias("turn_index"), "text")
    return theme_engine._split_turns(numbered).select(pl.col("turn_index").alias("turn_row"), "sentence", "norm")


def tokens(norm: pl.Series) -> pl.DataFrame:
    """``row, tok``: the tokens of each normalised text (``row`` = its position, UInt32), in order."""
    return (
        norm.rename("tok")
        .to_frame()
        .lazy()
        .with_row_index("row")
        .select("row", pl.col("tok").str.extract_all(TOKEN_PATTERN))
        .explode("tok")
        .drop_nulls("tok")
        .collect()
    )


def bigram_strings(toks: pl.DataFrame) -> pl.DataFrame:
    """``row, term``: adjacent token pairs ``"a b"`` within a row (training: vocabulary building)."""
    same = pl.col("row").shift(-1) == pl.col("row")
    term = pl.concat_str([pl.col("tok"), pl.lit(" "), pl.col("tok").shift(-1)])
    return toks.lazy().select("row", term.alias("term"), same.alias("_same")).filter(pl.col("_same")).drop("_same").collect()


@dataclass(frozen=True)
class Occurrences:
    """Feature occurrences of ``n_rows`` texts, in two parts (unigrams, bigrams), each sorted by row."""

    n_rows: int
    row_u: np.ndarray
    fid_u: np.ndarray
    row_b: np.ndarray
    fid_b: np.ndarray

    def frame(self) -> pl.DataFrame:
        """``row, fid`` of every occurrence (both parts)."""
        return pl.DataFrame({"row": np.r_[self.row_u, self.row_b], "fid": np.r_[self.fid_u, self.fid_b]})


def feature_ids(toks: pl.DataFrame, unigrams: tuple[str, ...] | list[str], bigrams: np.ndarray, n_rows: int) -> Occurrences:
    """Every occurrence of a vocabulary unigram, and of a bigram of two of them, in the token rows."""
    n_uni = len(unigrams)
    uid = pl.col("tok").cast(pl.Enum(list(unigrams)), strict=False).to_physical().cast(pl.Int64)
    frame = toks.lazy().select("row", uid.alias("uid"))
    unigram_rows = frame.filter(pl.col("uid").is_not_null())
    if len(bigrams):
        vocabulary_keys = pl.Series(bigrams[:, 0].astype(np.int64) * n_uni + bigrams[:, 1].astype(np.int64))
        fids = pl.Series(np.arange(n_uni, n_uni + len(bigrams), dtype=np.int64))
        key = pl.when(pl.col("row").shift(-1) == pl.col("row")).then(pl.col("uid") * n_uni + pl.col("uid").shift(-1))
        bigram_rows = (
            frame.select("row", key.replace_strict(vocabulary_keys, fids, default=None, return_dtype=pl.Int64).alias("uid"))
            .filter(pl.col("uid").is_not_null())
        )
    else:
        bigram_rows = unigram_rows.head(0)
    uni, bi = pl.collect_all([unigram_rows, bigram_rows])
    return Occurrences(
        n_rows,
        uni.get_column("row").cast(pl.Int64).to_numpy(),
        uni.get_column("uid").to_numpy(),
        bi.get_column("row").cast(pl.Int64).to_numpy(),
        bi.get_column("uid").to_numpy(),
    )


def _csr(n_rows: int, n_features: int, row: np.ndarray, fid: np.ndarray, data: np.ndarray):
    from scipy import sparse

    indptr = np.zeros(n_rows + 1, dtype=np.int64)
    np.cumsum(np.bincount(row, minlength=n_rows), out=indptr[1:])
    return sparse.csr_matrix((data, fid, indptr), shape=(n_rows, n_features))


def turn_matrix(occ: Occurrences, turn_of_sentence: np.ndarray, n_turns: int, idf: np.ndarray):
    """The turns' TF-IDF vectors (csr, ``n_turns`` x features) from their sentences' occurrences.

    Each occurrence weighs ``idf``, so a feature's weight is ``count * idf``; each turn is scaled by
    ``sqrt(sum over its occurrences of idf^2)``, its L2 norm when no feature repeats (the same
    definition at training and at run time; it needs no grouping of occurrences). Bigrams never
    cross a sentence boundary.
    """
    row = np.r_[turn_of_sentence[occ.row_u], turn_of_sentence[occ.row_b]]
    fid = np.r_[occ.fid_u, occ.fid_b]
    order = np.argsort(row, kind="stable")
    row, fid = row[order], fid[order]
    w = idf[fid]
    norm = np.sqrt(np.bincount(row, w * w, minlength=n_turns))
    norm[norm == 0] = 1.0
    return _csr(n_turns, len(idf), row, fid, w / norm[row])


def sentence_raw_scores(occ: Occurrences, weights: np.ndarray) -> np.ndarray:
    """(sentences, k): sum over each sentence's occurrences of ``weights[fid]`` (``weights``: features x k)."""
    out = np.zeros((occ.n_rows, weights.shape[1]))
    for row, fid in ((occ.row_u, occ.fid_u), (occ.row_b, occ.fid_b)):
        if len(row):
            out += _csr(occ.n_rows, weights.shape[0], row, fid, np.ones(len(row))) @ weights
    return out


# --------------------------------------------------------------------------- #
# Scoring
# --------------------------------------------------------------------------- #
@dataclass(frozen=True)
class Scored:
    """Turn logits and, for evidence, the sentences with their raw contributions per flag."""

    turn: np.ndarray  # (turns, 14) logits
    sentence_turn: np.ndarray  # (sentences,) turn row of each sentence
    sentence_raw: np.ndarray  # (sentences, 14) sum of idf * coef over the sentence's occurrences (+ lexicon terms)
    sentences: pl.DataFrame  # turn_row, sentence, norm


def score_turns(model: TurnModel, participant: pl.DataFrame, lexicon: bool | None = None) -> Scored:
    """Logits of every participant turn (rows of ``participant``) and its sentences' contributions."""
    n = participant.height
    sent = sentences(participant)
    turn_of = sent.get_column("turn_row").to_numpy().astype(np.int64)
    occ = feature_ids(tokens(sent.get_column("norm")), model.unigrams, model.bigrams, sent.height)
    w_u, w_b = model.idf[occ.fid_u], model.idf[occ.fid_b]
    sq = np.bincount(turn_of[occ.row_u], w_u * w_u, minlength=n) + np.bincount(turn_of[occ.row_b], w_b * w_b, minlength=n)
    norm = np.sqrt(sq)
    norm[norm == 0] = 1.0
    raw = sentence_raw_scores(occ, model.idf[:, None] * model.coef)
    turn_raw = np.zeros((n, len(THEME_FLAGS)))
    _segment_add(turn_raw, turn_of, raw)
    scores = model.intercept + turn_raw / norm[:, None]
    if model.uses_lexicon and (lexicon is None or lexicon):
        hits = _sentence_lexicon_hits(sent.get_column("norm"))
        lex = hits.astype(np.float64) @ model.lexicon_coef  # (sentences, 14)
        turn_hits = np.zeros((n, len(THEME_FLAGS)), dtype=bool)
        turn_hits[turn_of[np.nonzero(hits)[0]], np.nonzero(hits)[1]] = True
        scores = scores + turn_hits.astype(np.float64) @ model.lexicon_coef
        raw = raw + lex * 1e3  # a sentence that carries a lexicon hit the model weighs goes first as evidence
    return Scored(scores, turn_of, raw, sent)


def _segment_add(out: np.ndarray, index: np.ndarray, values: np.ndarray) -> None:
    """``out[index[i]] += values[i]`` for a sorted ``index`` (sums of runs)."""
    if len(index) == 0:
        return
    starts = np.r_[0, np.nonzero(np.diff(index))[0] + 1]
    out[index[starts]] += np.add.reduceat(values, starts, axis=0)


def _sentence_lexicon_hits(norm: pl.Series) -> np.ndarray:
    """(sentences, 14) bool: the lexicon's hits of each (normalised) sentence."""
    out = np.zeros((norm.len(), len(THEME_FLAGS)), dtype=bool)
    hits = theme_engine._hits(norm)
    out[hits.get_column("sid").to_numpy(), hits.get_column("flag").to_numpy()] = True
    return out


def turn_scores(model: TurnModel, participant: pl.DataFrame) -> np.ndarray:
    """(turns, 14) logits of each participant turn (rows of ``participant``)."""
    return score_turns(model, participant).turn


def turn_lexicon_hits(participant: pl.DataFrame) -> np.ndarray:
    """(turns, 14) bool: whether any sentence of each participant turn hits each flag's cues."""
    sent = sentences(participant)
    hits = _sentence_lexicon_hits(sent.get_column("norm"))
    out = np.zeros((participant.height, len(THEME_FLAGS)), dtype=bool)
    s_idx, f_idx = np.nonzero(hits)
    out[sent.get_column("turn_row").to_numpy()[s_idx], f_idx] = True
    return out


def transcript_scores(turn_rows_transcript: np.ndarray, scores: np.ndarray, n_transcripts: int) -> tuple[np.ndarray, np.ndarray]:
    """(max score, row of the top turn) per transcript and flag; transcripts without turns get -inf / -1.

    Ties: the first row. Rows grouped by transcript (sorted ``turn_rows_transcript``, as every caller
    has them) take segment reductions; other inputs a sort per flag.
    """
    best = np.full((n_transcripts, scores.shape[1]), -np.inf)
    top = np.full((n_transcripts, scores.shape[1]), -1, dtype=np.int64)
    if scores.shape[0] == 0:
        return best, top
    t = turn_rows_transcript
    if np.all(t[1:] >= t[:-1]):
        starts = np.r_[0, np.nonzero(np.diff(t))[0] + 1]
        seg_best = np.maximum.reduceat(scores, starts, axis=0)
        segment = np.repeat(np.arange(len(starts)), np.diff(np.r_[starts, len(t)]))
        rows = np.arange(len(t))[:, None]
        first = np.minimum.reduceat(np.where(scores == seg_best[segment], rows, len(t)), starts, axis=0)
        best[t[starts]] = seg_best
        top[t[starts]] = first
        return best, top
    for j in range(scores.shape[1]):
        s = scores[:, j]
        idx = np.lexsort((-s, t))  # by transcript, best score first
        head = np.ones(len(idx), dtype=bool)
        head[1:] = t[idx][1:] != t[idx][:-1]
        chosen = idx[head]
        best[t[chosen], j] = s[chosen]
        top[t[chosen], j] = chosen
    return best, top


def pooled_scores(turn_rows_transcript: np.ndarray, scores: np.ndarray, best: np.ndarray, pooling: str) -> np.ndarray:
    """A transcript's score per flag from its turns' logits: ``"max"`` (the top turn's, ``best`` from
    :func:`transcript_scores`) or ``"lse"``, log-sum-exp, a soft maximum that also counts the other turns'
    evidence (``log(sum(exp(s)))``, at least the maximum; computed around it)."""
    if pooling == "max" or scores.shape[0] == 0:
        return best
    if pooling != "lse":
        raise ValueError(f"unknown pooling {pooling!r}")
    finite = np.isfinite(best)
    centre = np.where(finite, best, 0.0)[turn_rows_transcript]
    terms = np.where(np.isfinite(scores), np.exp(np.minimum(scores - centre, 0.0)), 0.0)
    sums = np.zeros_like(best)
    np.add.at(sums, turn_rows_transcript, terms)
    return np.where(finite, best + np.log(np.maximum(sums, 1.0)), best)


def best_sentences(sentence_turn: np.ndarray, sentence_raw: np.ndarray, turn_row: np.ndarray, flag_idx: np.ndarray) -> np.ndarray:
    """For each (turn, flag) pair, the sentence (row) of that turn with the highest ``sentence_raw`` for
    the flag (ties: the first). ``sentence_turn`` is sorted; every pair's turn has a sentence."""
    lo = np.searchsorted(sentence_turn, turn_row, side="left")
    hi = np.searchsorted(sentence_turn, turn_row, side="right")
    sizes = hi - lo
    starts = np.r_[0, np.cumsum(sizes)[:-1]]
    sid = np.repeat(lo - starts, sizes) + np.arange(int(sizes.sum()))
    values = sentence_raw[sid, np.repeat(flag_idx, sizes)]
    seg_max = np.maximum.reduceat(values, starts)
    pair = np.repeat(np.arange(len(turn_row)), sizes)
    return np.minimum.reduceat(np.where(values == seg_max[pair], sid, np.iinfo(np.int64).max), starts)


# --------------------------------------------------------------------------- #
# Flags and evidence
# --------------------------------------------------------------------------- #
def model_evidence(model: TurnModel, participant: pl.DataFrame, *, return_scores: bool = False):
    """``transcript_id, flag, turn_index, quote`` of every (transcript, flag) the model sets.

    ``participant``: ``transcript_id, turn_index, text`` of participant turns sorted by
    (transcript_id, turn_index). The quote is the top turn's sentence with the highest
    contribution to the flag's score (ties: the first), verbatim, cut to ``MAX_QUOTE_CHARS``.
    ``return_scores``: ``(evidence, transcript scores)`` (:func:`evidence_from_scores`).
    """
    if participant.height == 0:
        return no_evidence(return_scores)
    return evidence_from_scores(participant, score_turns(model, participant), model.threshold, return_scores=return_scores)


def no_evidence(return_scores: bool = False):
    """The empty result of an evidence function (with an empty score frame when asked)."""
    empty = pl.DataFrame(schema=_EVIDENCE_ROWS)
    if not return_scores:
        return empty
    return empty, pl.DataFrame(schema={"transcript_id": pl.String, **{c: pl.Float64 for c in SCORE_COLUMNS}})


def evidence_turn_scores(scored: Scored, n_turns: int) -> np.ndarray:
    """(turns, 14) the turns' logits, -inf for a turn without a sentence: it cannot be evidence."""
    has_sentence = np.zeros(n_turns, dtype=bool)
    has_sentence[scored.sentence_turn] = True
    return np.where(has_sentence[:, None], scored.turn, -np.inf)


def evidence_from_scores(participant: pl.DataFrame, scored: Scored, threshold: np.ndarray, pooling: str = "max", *, return_scores: bool = False, pool=None):
    """Evidence rows of a per-turn model (any: :mod:`theme_terms` shares it) from its scores.

    A flag is set where the transcript's score (:func:`pooled_scores` of its turns') reaches
    ``threshold``; the evidence is the top turn and its sentence with the highest contribution to
    the flag's score (ties: the first). ``return_scores``: ``(evidence, scores)``, with ``scores`` the
    transcripts' scores (:func:`score_frame`). ``pool``: ``pool(transcript, scores, best) -> (n, 14)`` in place
    of :func:`pooled_scores` (the encoder method's transcript-level model).
    """
    transcript = participant.get_column("transcript_id").rle_id().to_numpy().astype(np.int64)
    n_transcripts = int(transcript[-1]) + 1
    scores = evidence_turn_scores(scored, participant.height)
    best, top = transcript_scores(transcript, scores, n_transcripts)
    pooled = pooled_scores(transcript, scores, best, pooling) if pool is None else pool(transcript, scores, best)
    t_idx, flag_idx = np.nonzero(pooled >= threshold)
    if len(t_idx) == 0:
        return (no_evidence(), score_frame(participant, pooled)) if return_scores else no_evidence()
    turn_row = top[t_idx, flag_idx]
    sid = best_sentences(scored.sentence_turn, scored.sentence_raw, turn_row, flag_idx)
    quote = scored.sentences.get_column("sentence").gather(sid).str.slice(0, MAX_QUOTE_CHARS).str.strip_chars()
    evidence = pl.DataFrame(
        {
            "transcript_id": participant.get_column("transcript_id").gather(turn_row),
            "flag": pl.Series(THEME_FLAGS, dtype=pl.String).gather(flag_idx),
            "turn_index": participant.get_column("turn_index").cast(pl.Int32).gather(turn_row),
            "quote": quote,
        }
    )
    return (evidence, score_frame(participant, pooled)) if return_scores else evidence


SCORE_COLUMNS = tuple(f"score_{flag}" for flag in THEME_FLAGS)


def score_frame(participant: pl.DataFrame, pooled: np.ndarray) -> pl.DataFrame:
    """``transcript_id`` and ``score_<flag>`` (Float64) per transcript of ``participant`` (in its order):
    the transcript scores a flag's threshold and calibration apply to."""
    ids = participant.get_column("transcript_id").unique(maintain_order=True)
    return pl.DataFrame({"transcript_id": ids, **{c: pooled[:, j] for j, c in enumerate(SCORE_COLUMNS)}})

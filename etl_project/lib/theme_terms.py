"""The key-term model at run time: a few thousand literal terms + the lexicon's hits, logistic regression per
turn, scored in the lexicon's own Aho-Corasick pass (pure polars and numpy).

The full TF-IDF model (:mod:`theme_model`) cuts every participant token out of the text and looks it
up in a 30,000-entry vocabulary: more than the lexicon's whole cost. This model keeps only the terms
that carry weight (chosen by an L1-penalised fit inside the training data, :mod:`etl_project.evaluation.theme_train`),
and finds them with the *same* ``str.extract_many`` pass that finds the lexicon's prefilter literals
(:func:`etl_project.lib.theme_engine.hits_and_terms`), so its extra cost is a longer literal list and
one sparse product.

Features (the same code builds them at training and at run time):

* a *term* is a literal matched, anywhere, in a sentence's normalised copy (``theme_engine``'s
  ``norm``: ASCII, lowercase) padded with one blank either side; the terms are ``" word"`` (a word
  start: ``" replac"`` matches replace, replaced, replacement) and ``" word word"``, so a term never
  crosses a sentence boundary and matches only at the start of a word;
* a turn's term vector: ``count * idf``, divided by ``sqrt(sum of idf^2 over its term occurrences)``
  (as :func:`theme_model.turn_matrix`, over the model's terms only);
* the lexicon's 14 per-turn hits as extra binary features.

A turn's score for a flag is ``x . coef + intercept``; a transcript's score is the log-sum-exp of its
turns' (a soft maximum: one strong turn or several moderate ones; :func:`theme_model.pooled_scores`), and
the flag is true when it reaches the flag's threshold (chosen by an inner cross-validation at training).
Evidence: as :mod:`theme_model` (the top turn's sentence that adds most to the flag's score; a
sentence carrying a lexicon hit that the model weighs goes first), verbatim.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from etl_project.lib import theme_engine
from etl_project.lib import theme_model as tm
from etl_project.lib.theme_taxonomy import THEME_FLAGS

MODEL_PATH = Path(__file__).resolve().parent / "models" / "theme_terms_lexicon_lr.npz"
CHUNK_TRANSCRIPTS = 2_000
"""Transcripts flagged at a time: the per-sentence arrays (sentences x 14 floats) of a 40,000-transcript
warehouse file took about 1 GB at once (make run's tree at 50,000: 1,785 MiB in one piece, 1,453 MiB
in chunks of 5,000, 1,313 MiB in chunks of 2,000)."""


@dataclass(frozen=True)
class TermModel:
    """A fitted key-term model (see the module docstring); arrays as stored in the artefact."""

    version: str
    terms: tuple[str, ...]  # sorted, unique; feature i is terms[i]
    idf: np.ndarray  # (T,)
    coef: np.ndarray  # (T, 14)
    lexicon_coef: np.ndarray  # (14, 14): weight of the lexicon's hit of flag i for flag j
    intercept: np.ndarray  # (14,)
    threshold: np.ndarray  # (14,) on the transcript score
    tpr: np.ndarray  # (14,) out-of-fold rates at the threshold (prevalence correction)
    fpr: np.ndarray
    n_pos: np.ndarray
    n_neg: np.ndarray
    pooling: str = "max"  # a transcript's score from its turns' (theme_model.pooled_scores)

    @property
    def uses_lexicon(self) -> bool:
        return bool(np.any(self.lexicon_coef))

    def save(self, path: Path) -> None:
        tm.save_artefact(path, self, {"terms": np.array(self.terms)}, {"pooling": np.array(self.pooling)})

    @classmethod
    def load(cls, path: Path = MODEL_PATH) -> "TermModel":
        with np.load(path, allow_pickle=False) as z:
            return cls(
                terms=tuple(str(t) for t in z["terms"]),
                pooling=str(z["pooling"]) if "pooling" in z.files else "max",
                **tm.decision_fields(z, path),
            )


@functools.lru_cache(maxsize=4)
def load_model(path: Path = MODEL_PATH) -> TermModel:
    """The shipped model, loaded once per process (offline: a file in the package)."""
    return TermModel.load(path)


# --------------------------------------------------------------------------- #
# Features (shared with training)
# --------------------------------------------------------------------------- #
def candidate_terms(toks: pl.DataFrame, turn_of_sentence: np.ndarray, *, min_df: int, min_chars: int, max_df_share: float) -> list[str]:
    """Training only: ``" w"`` for words of at least ``min_chars`` characters and ``" w v"`` for adjacent
    words within a sentence, each in at least ``min_df`` turns and at most a share ``max_df_share`` of them
    (a term in most turns costs a match per turn and tells little; ``toks``: sentence tokens, ``row`` = sentence)."""
    uni = toks.filter(pl.col("tok").str.len_bytes() >= min_chars).select("row", (pl.lit(" ") + pl.col("tok")).alias("tok"))
    bi = tm.bigram_strings(toks).select("row", (pl.lit(" ") + pl.col("term")).alias("tok"))
    both = pl.concat([uni, bi])
    counted = both.with_columns(pl.Series("turn", turn_of_sentence).gather(both.get_column("row")))
    n_turns = int(turn_of_sentence.max()) + 1 if len(turn_of_sentence) else 0
    kept = counted.unique(["turn", "tok"]).group_by("tok").len().filter((pl.col("len") >= min_df) & (pl.col("len") <= max_df_share * n_turns))
    return sorted(kept.get_column("tok").to_list())


def term_occurrences(norm: pl.Series, terms: tuple[str, ...] | list[str]) -> tuple[np.ndarray, np.ndarray]:
    """``(row, term id)`` of every occurrence of a term in the padded normalised texts, sorted by row
    (training: without the lexicon; at run time :func:`theme_engine.hits_and_terms` finds both in one pass)."""
    if not terms or norm.len() == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    found = (
        pad(norm).to_frame("norm").lazy().with_row_index("row")
        .select("row", pl.col("norm").str.extract_many(list(terms), overlapping=True).alias("term"))
        .explode("term").drop_nulls("term")
        .select("row", pl.col("term").cast(pl.Enum(list(terms))).to_physical().alias("tid"))
        .collect()
    )
    return found.get_column("row").cast(pl.Int64).to_numpy(), found.get_column("tid").cast(pl.Int64).to_numpy()


def pad(norm: pl.Series) -> pl.Series:
    """``" " + norm + " "``: a term ``" w"`` then also matches the sentence's first word."""
    return norm.to_frame("norm").select(pl.lit(" ") + pl.col("norm").fill_null("") + pl.lit(" ")).to_series().rename(norm.name)


def turn_norms(row: np.ndarray, tid: np.ndarray, turn_of_sentence: np.ndarray, n_turns: int, idf: np.ndarray) -> np.ndarray:
    """Each turn's ``sqrt(sum of idf^2 over its occurrences)`` (1 for a turn without any)."""
    w = idf[tid]
    norm = np.sqrt(np.bincount(turn_of_sentence[row], w * w, minlength=n_turns))
    norm[norm == 0] = 1.0
    return norm


def turn_design(row: np.ndarray, tid: np.ndarray, turn_of_sentence: np.ndarray, n_turns: int, idf: np.ndarray):
    """Training only: the turns' normalised term vectors (csr, ``n_turns`` x terms)."""
    turn = turn_of_sentence[row]
    order = np.argsort(turn, kind="stable")
    norm = turn_norms(row, tid, turn_of_sentence, n_turns, idf)
    matrix = tm._csr(n_turns, len(idf), turn[order], tid[order], idf[tid[order]] / norm[turn[order]])
    matrix.sum_duplicates()
    return matrix


# --------------------------------------------------------------------------- #
# Scoring and evidence
# --------------------------------------------------------------------------- #
def score_turns(model: TermModel, participant: pl.DataFrame) -> tm.Scored:
    """Logits of every participant turn (rows of ``participant``) and its sentences' contributions."""
    n = participant.height
    sent = tm.sentences(participant)
    turn_of = sent.get_column("turn_row").to_numpy().astype(np.int64)
    hits, (row, tid) = theme_engine.hits_and_terms(sent.get_column("norm"), model.terms)
    raw = np.zeros((sent.height, len(THEME_FLAGS)))
    if len(row):
        w = model.idf[tid]
        turn = turn_of[row]
        norm = np.sqrt(np.bincount(turn, w * w, minlength=n))  # turn_norms, sharing the gathers
        norm[norm == 0] = 1.0
        w /= norm[turn]
        raw = tm._csr(sent.height, len(model.terms), row, tid, w) @ model.coef
    scores = np.zeros((n, len(THEME_FLAGS)))
    tm._segment_add(scores, turn_of, raw)
    scores += model.intercept
    if model.uses_lexicon:
        sid, flag = hits.get_column("sid").to_numpy().astype(np.int64), hits.get_column("flag").to_numpy().astype(np.int64)
        _add_hit_weights(scores, turn_of[sid], flag, model.lexicon_coef)  # scores += turn_hits @ lexicon_coef
        _add_hit_weights(raw, sid, flag, model.lexicon_coef, 1e3)  # a weighed lexicon hit goes first as evidence
    return tm.Scored(scores, turn_of, raw, sent)


def _add_hit_weights(out: np.ndarray, row: np.ndarray, flag: np.ndarray, weights: np.ndarray, scale: float | None = None) -> None:
    """``out += (hits @ weights) [* scale]`` for the 0/1 matrix ``hits`` (rows of ``out`` x flags) that is 1 at
    ``(row, flag)`` (pairs may repeat), touching only the rows with a hit.

    Bit for bit the dense product's values: a row's sum is accumulated flag by flag in increasing order (a
    0/1 factor makes each product exact and a zero term adds nothing), as the BLAS kernel does; computing
    it this way leaves out the dense product's work and the BLAS threads it wakes (their spinning was about
    a tenth of the flagging's CPU time)."""
    if len(row) == 0:
        return
    k = weights.shape[0]
    key = np.sort(row * k + flag)  # by row, then flag
    if len(key) > 1:
        key = key[np.r_[True, key[1:] != key[:-1]]]  # repeats dropped
    row = key // k
    flag = key - row * k
    first = np.r_[True, row[1:] != row[:-1]]
    starts = np.flatnonzero(first)
    sums = weights[flag[starts]]  # each row's first flag (0 + w is w)
    if len(starts) < len(row):
        group = np.cumsum(first) - 1  # the row's position among the rows with a hit
        rank = np.arange(len(row)) - starts[group]  # the flag's position within its row
        for r in range(1, int(rank.max()) + 1):
            at = rank == r
            sums[group[at]] += weights[flag[at]]
    if scale is not None:
        sums = sums * scale
    out[row[starts]] += sums


def turn_lexicon_hits(sent: pl.DataFrame, n_turns: int) -> np.ndarray:
    """Training only: (turns, 14) whether any sentence of a turn hits a flag's cues."""
    hits = theme_engine._hits(sent.get_column("norm"))
    out = np.zeros((n_turns, len(THEME_FLAGS)), dtype=bool)
    out[sent.get_column("turn_row").to_numpy()[hits.get_column("sid").to_numpy()], hits.get_column("flag").to_numpy()] = True
    return out


def turn_scores(model: TermModel, participant: pl.DataFrame) -> np.ndarray:
    """(turns, 14) logits; -inf for a turn without a sentence (as the evidence pass treats it)."""
    scored = score_turns(model, participant)
    has_sentence = np.zeros(participant.height, dtype=bool)
    has_sentence[scored.sentence_turn] = True
    return np.where(has_sentence[:, None], scored.turn, -np.inf)


def term_evidence(model: TermModel, participant: pl.DataFrame, *, return_scores: bool = False):
    """``transcript_id, flag, turn_index, quote`` of every (transcript, flag) the model sets (see
    :func:`theme_model.evidence_from_scores`; ``return_scores``: with the transcripts' scores)."""
    if participant.height == 0:
        return tm.no_evidence(return_scores)
    # a transcript's flags depend on its own turns only: chunks of transcripts bound the memory of the
    # per-sentence score arrays (sentences x 14) without changing a row
    ids = participant.get_column("transcript_id").unique(maintain_order=True)
    if ids.len() <= CHUNK_TRANSCRIPTS:
        return tm.evidence_from_scores(participant, score_turns(model, participant), model.threshold, model.pooling, return_scores=return_scores)
    parts = []
    for start in range(0, ids.len(), CHUNK_TRANSCRIPTS):
        chunk = participant.filter(pl.col("transcript_id").is_in(ids.slice(start, CHUNK_TRANSCRIPTS).implode()))
        parts.append(tm.evidence_from_scores(chunk, score_turns(model, chunk), model.threshold, model.pooling, return_scores=return_scores))
    if return_scores:
        return pl.concat([e for e, _ in parts]), pl.concat([s for _, s in parts])
    return pl.concat(parts)

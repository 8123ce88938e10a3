"""Theme flags per transcript: the public entry point and the method registry (pure polars, no Dagster).

Fourteen boolean flags per transcript (``THEME_FLAGS``; definitions and coding rules in
``data/themes/TAXONOMY.md``), judged on the participant's turns only. Methods (``METHODS``):

``lexicon``        the rule lexicon (rule data :mod:`theme_lexicon`, engine :mod:`theme_engine`).
``terms_lexicon``  the default: a few thousand key terms + the lexicon's per-turn hits, logistic regression
                   per turn (:mod:`theme_terms`, artefact ``models/theme_terms_lexicon_lr.npz``), scored in
                   the lexicon's own Aho-Corasick pass: within the flagging cost budget of ``make run``.
``tfidf``          per-turn TF-IDF + logistic regression trained on the 672 labelled transcripts
                   (:mod:`theme_model`, artefact ``models/theme_tfidf_lr.npz``).
``tfidf_lexicon``  the same model with the lexicon's per-turn hits as extra features
                   (``models/theme_tfidf_lexicon_lr.npz``): runs both engines.
``minilm_tfidf_lexicon``  the most accurate (``best``): ``tfidf_lexicon``'s turn logits plus, per flag, a
                   logistic-regression head on each turn's all-MiniLM-L6-v2 embedding (:mod:`theme_encoder`,
                   numpy; head ``models/theme_minilm_tfidf_lexicon_head.npz``). Needs the ``themes-best``
                   extra (the encoder's weights package); about 0.5 CPU s per transcript.
``best``           an alias of the most accurate shipped method (:data:`BEST`).
``default``        an alias of :data:`DEFAULT`.

Why these two: ``docs/THEMES.md`` (``make eval-themes``).

The method is chosen by the ``method`` argument, else by the ``ETL_THEME_METHOD`` environment
variable, else :data:`DEFAULT`. Whatever the method, a true flag carries verbatim evidence: the
participant turn and a quote from it. Measured quality, cost and the choice: ``docs/THEMES.md``.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from typing import Callable

import polars as pl

from etl_project.lib import theme_engine
from etl_project.lib.prevalence import PROBABILITY_PREFIX, calibrate
from etl_project.lib.theme_taxonomy import THEME_FLAGS

__all__ = ["THEME_FLAGS", "METHODS", "DEFAULT", "BEST", "flag_themes", "resolve_method", "method_version"]

METHOD_ENV = "ETL_THEME_METHOD"
DEFAULT = "terms_lexicon"  # the most accurate method within make run's flagging budget; docs/THEMES.md "The choice"
BEST = "minilm_tfidf_lexicon"  # most accurate on transcripts no rule or model was fitted on
ALIASES = {"best": BEST, "default": DEFAULT}

_EVIDENCE = pl.List(pl.Struct({"flag": pl.String, "turn_index": pl.Int32, "quote": pl.String}))
_EVIDENCE_ROWS = {"transcript_id": pl.String, "flag": pl.String, "turn_index": pl.Int32, "quote": pl.String}


@dataclass(frozen=True)
class Method:
    name: str
    version: Callable[[], str]
    evidence: Callable[..., pl.DataFrame]  # sorted participant turns -> evidence rows (scored: return_scores=True adds transcript scores)
    scored: bool = True  # has a transcript score per flag (theme_model.score_frame); else its flags are its scores


def _model_method(name: str, artefact: str, module: str = "theme_model", evidence: str = "model_evidence") -> Method:
    """A trained method: ``etl_project.lib.<module>``'s ``load_model`` of the artefact and its ``evidence`` function."""
    import importlib

    runtime = importlib.import_module(f"etl_project.lib.{module}")
    path = runtime.MODEL_PATH.parent / artefact
    return Method(
        name=name,
        version=lambda: runtime.load_model(path).version,
        evidence=lambda participant, **kw: getattr(runtime, evidence)(runtime.load_model(path), participant, **kw),
    )


def _encoder_method(name: str, base_artefact: str, head_artefact: str) -> Method:
    from etl_project.lib import theme_model

    folder = theme_model.MODEL_PATH.parent

    def model():
        from etl_project.lib import theme_encoder

        return _encoder_model(folder / head_artefact, folder / base_artefact, theme_encoder)

    return Method(
        name=name,
        version=lambda: _head_version(folder / head_artefact),
        evidence=lambda participant, **kw: __import__("etl_project.lib.theme_encoder", fromlist=["x"]).encoder_evidence(model(), participant, **kw),
    )


def _head_version(path) -> str:
    """The version recorded in a head artefact (readable without the encoder's weights)."""
    import numpy as np

    with np.load(path, allow_pickle=False) as z:
        return str(z["version"])


_ENCODER_MODELS: dict = {}


def _encoder_model(head, base, theme_encoder):
    from etl_project.lib import theme_model

    key = (str(head), str(base))
    if key not in _ENCODER_MODELS:
        theme_encoder.model_dir()  # fails early, with the install hint, when the weights package is missing
        _ENCODER_MODELS[key] = theme_encoder.EncoderModel.load(head, theme_model.load_model(base))
    return _ENCODER_MODELS[key]


# Methods that need the optional ``themes-best`` extra (the sentence encoder's weights package and tokenizer);
# the Makefile installs it when ETL_THEME_METHOD names one of them (or ``best`` while BEST is one).
NEEDS_ENCODER = frozenset({"minilm_tfidf_lexicon"})

METHODS: dict[str, Method] = {
    "lexicon": Method("lexicon", lambda: theme_engine.METHOD_VERSION, theme_engine.lexicon_evidence, scored=False),
    "terms_lexicon": _model_method("terms_lexicon", "theme_terms_lexicon_lr.npz", "theme_terms", "term_evidence"),
    "tfidf": _model_method("tfidf", "theme_tfidf_lr.npz"),
    "tfidf_lexicon": _model_method("tfidf_lexicon", "theme_tfidf_lexicon_lr.npz"),
    "minilm_tfidf_lexicon": _encoder_method("minilm_tfidf_lexicon", "theme_tfidf_lexicon_lr.npz", "theme_minilm_tfidf_lexicon_head.npz"),
}

# Kept for callers of v1: the default method's name (its version needs the artefact: method_version()).
METHOD = DEFAULT


def resolve_method(method: str | None = None) -> str:
    """The method name to use: ``method``, else ``$ETL_THEME_METHOD``, else DEFAULT; aliases resolved."""
    name = (method or os.environ.get(METHOD_ENV) or DEFAULT).strip().lower()
    name = ALIASES.get(name, name)
    if name not in METHODS:
        raise ValueError(f"unknown theme method {name!r}; choose one of {sorted(METHODS) + sorted(ALIASES)}")
    return name


def method_version(method: str | None = None) -> str:
    return METHODS[resolve_method(method)].version()


RATES_FILE = "theme_rates.json"
PROBABILITY_COLUMNS: tuple[str, ...] = tuple(PROBABILITY_PREFIX + flag for flag in THEME_FLAGS)


@functools.lru_cache(maxsize=1)
def _shipped_rates() -> dict:
    import json
    from pathlib import Path

    return json.loads((Path(__file__).resolve().parent / "models" / RATES_FILE).read_text(encoding="utf-8"))


def error_rates(version: str) -> dict:
    """Out-of-fold error counts per flag of a method version (shipped beside the models), as
    :class:`etl_project.lib.prevalence.Rates` (with the PACC fields); KeyError for a version without
    measured rates."""
    from etl_project.lib.prevalence import Rates

    entry = _shipped_rates()[version]
    return {flag: Rates(**entry["flags"][flag]) for flag in THEME_FLAGS}


def calibration(version: str) -> dict[str, tuple[float, float]] | None:
    """``flag -> (slope, intercept)`` turning a method version's transcript scores into probabilities
    (Platt scaling fitted on out-of-fold scores at training); None when the version ships none."""
    entry = _shipped_rates().get(version, {}).get("calibration")
    return None if entry is None else {flag: (entry[flag]["slope"], entry[flag]["intercept"]) for flag in THEME_FLAGS}


def flag_themes(turns: pl.DataFrame | pl.LazyFrame, method: str | None = None) -> pl.DataFrame:
    """Theme flags per transcript from a turns frame.

    ``turns`` needs ``transcript_id, split, turn_index, speaker, text``; given as a LazyFrame (a scan),
    only the participant turns' text is ever held in memory. Returns one row per
    distinct ``transcript_id`` (sorted), with exactly the ``ThemeFlagsModel`` columns:
    ``transcript_id, split``, the 14 flags (Boolean, never null), their calibrated probabilities
    ``p_<flag>`` (Float64 in [0, 1], see :func:`assemble`), ``evidence`` (one
    ``{flag, turn_index, quote}`` per true flag, in ``THEME_FLAGS`` order; the quote is a verbatim
    substring of that participant turn), ``n_flags`` (Int32), ``method`` and ``method_version``.
    """
    chosen = METHODS[resolve_method(method)]
    turns = turns.lazy().select(
        pl.col("transcript_id").cast(pl.String), pl.col("split").cast(pl.String), pl.col("turn_index").cast(pl.Int32), "speaker", "text"
    )
    # two queries over the same input, so no sorted copy of every turn (interviewer text included) is made
    transcripts, participant = pl.collect_all([
        turns.group_by("transcript_id").agg(pl.col("split").sort_by("turn_index").first()).sort("transcript_id"),
        turns.filter(pl.col("speaker") == "participant").select("transcript_id", "turn_index", "text").sort("transcript_id", "turn_index"),
    ])
    scores = None
    if chosen.scored:
        found, scores = chosen.evidence(participant, return_scores=True)
    else:
        found = chosen.evidence(participant)
    evidence = pl.concat([pl.DataFrame(schema=_EVIDENCE_ROWS), found.select(list(_EVIDENCE_ROWS))])
    return assemble(transcripts, evidence, chosen.name, chosen.version(), scores)


def assemble(transcripts: pl.DataFrame, evidence: pl.DataFrame, method: str, version: str, scores: pl.DataFrame | None = None) -> pl.DataFrame:
    """The output frame from ``transcript_id, split`` (sorted), evidence rows (one per true flag) and, for a
    scored method, the transcripts' scores (``transcript_id, score_<flag>``; a transcript without any scores
    -inf: it has no participant turn). ``p_<flag>`` is the version's calibration applied to the score (the
    lexicon's score is its flag, 1 or 0: its probability is then its measured precision, or the share of
    positives among what it leaves unflagged); a version without a shipped calibration gets the flag itself."""
    order = pl.DataFrame({"flag": list(THEME_FLAGS), "_order": list(range(len(THEME_FLAGS)))})
    per_transcript = (
        evidence.join(order, on="flag")
        .sort("transcript_id", "_order")
        .group_by("transcript_id", maintain_order=True)
        .agg(
            pl.struct("flag", "turn_index", "quote").alias("evidence"),
            *[(pl.col("flag") == flag).any().alias(flag) for flag in THEME_FLAGS],
        )
    )
    frame = transcripts.join(per_transcript, on="transcript_id", how="left").with_columns(
        *[pl.col(flag).fill_null(False) for flag in THEME_FLAGS],
        pl.col("evidence").fill_null(pl.lit([], dtype=_EVIDENCE)).cast(_EVIDENCE),
    )
    if scores is not None:
        score_cols = [f"score_{flag}" for flag in THEME_FLAGS]
        frame = frame.join(scores.select("transcript_id", *score_cols), on="transcript_id", how="left").with_columns(
            pl.col(score_cols).fill_null(float("-inf"))
        )
        score_of = {flag: frame.get_column(f"score_{flag}").to_numpy() for flag in THEME_FLAGS}
    else:
        score_of = {flag: frame.get_column(flag).cast(pl.Float64).to_numpy() for flag in THEME_FLAGS}
    fitted = calibration(version)
    return (
        frame.with_columns(
            pl.Series(p, calibrate(score_of[flag], *fitted[flag]) if fitted else frame.get_column(flag).cast(pl.Float64).to_numpy(), dtype=pl.Float64)
            for flag, p in zip(THEME_FLAGS, PROBABILITY_COLUMNS)
        )
        .with_columns(
            pl.sum_horizontal(pl.col(flag).cast(pl.Int32) for flag in THEME_FLAGS).cast(pl.Int32).alias("n_flags"),
            pl.lit(method, dtype=pl.String).alias("method"),
            pl.lit(version, dtype=pl.String).alias("method_version"),
        )
        .select("transcript_id", "split", *THEME_FLAGS, *PROBABILITY_COLUMNS, "evidence", "n_flags", "method", "method_version")
        .sort("transcript_id")
    )

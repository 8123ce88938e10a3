"""From raw records to the rows of the warehouse tables (pure polars, no Dagster).

The records frame (see :mod:`etl_project.lib.readers`) flows through every
stage whole: a record that fails a stage gets a ``reject_reason`` and is
carried along untouched, so the quarantine at the end holds every input that
did not land, with the first reason it failed.

    records --identify--> --repair--> --deduplicate--> --build_tables--> transcripts, turns, quarantine
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from dataclasses import dataclass

import pandera.errors
import polars as pl

from etl_project.lib.repair import repair_column
from etl_project.lib.turns import split_turns
from etl_project.schemas import (
    KNOWN_ID_PATTERN,
    PLAIN_ID_PATTERN,
    QuarantineModel,
    TranscriptsModel,
    TurnsModel,
    split_of_id,
)

DEFAULT_MAX_TRANSCRIPT_CHARS = 2_000_000
_OK = pl.col("reject_reason").is_null()


def reject(condition: pl.Expr, reason: pl.Expr | str) -> pl.Expr:
    """Set ``reject_reason`` where ``condition`` holds on a row not yet rejected."""
    reason_expr = pl.lit(reason) if isinstance(reason, str) else reason
    return pl.when(_OK & condition.fill_null(False)).then(reason_expr).otherwise(pl.col("reject_reason")).alias("reject_reason")


def identify(records: pl.DataFrame, *, max_transcript_chars: int = DEFAULT_MAX_TRANSCRIPT_CHARS) -> pl.DataFrame:
    """Check ids and sizes, add ``split``. Rejects unsafe ids, wrong id shapes and oversized text."""
    tid = pl.col("transcript_id")
    shown = tid.str.replace_all(r"[\x00-\x1f\x7f]", "?").str.head(80)
    frame = records.with_columns(split_of_id(tid).fill_null("unknown").alias("split"))
    return frame.with_columns(
        reject(tid.is_null(), "no transcript id"),
    ).with_columns(
        reject(
            ~tid.str.contains(PLAIN_ID_PATTERN),
            pl.format(
                "transcript id '{}' is not a plain identifier (letters, digits, '_' and '-' only: "
                "no path separators, '..', spaces or control characters)",
                shown,
            ),
        )
    ).with_columns(
        reject(
            (pl.col("split") != "unknown") & ~tid.str.contains(KNOWN_ID_PATTERN),
            pl.format("transcript id '{}' has the prefix of split '{}' but is not <prefix>_<digits>", shown, pl.col("split")),
        )
    ).with_columns(
        reject(pl.col("text").is_null() | (pl.col("text").str.strip_chars() == ""), "empty text"),
    ).with_columns(
        reject(
            pl.col("text").str.len_chars() > max_transcript_chars,
            pl.format(
                "transcript text is {} characters, above the limit of {}; not processed",
                pl.col("text").str.len_chars(),
                pl.lit(max_transcript_chars),
            ),
        ),
        pl.col("text").str.replace_all("\x00", "", literal=True),
    )


def repair(frame: pl.DataFrame) -> pl.DataFrame:
    """Repair the text of records not rejected; add ``n_repairs`` and ``text_sha256``."""
    out = repair_column(frame, "text", where=_OK)
    return out.with_columns(
        pl.col("text")
        .map_elements(lambda t: hashlib.sha256(t.encode("utf-8")).hexdigest(), return_dtype=pl.String, skip_nulls=True)
        .alias("text_sha256")
    )


DUPLICATE_KEYS = ("transcript_id", "text_sha256", "source_file", "source_record")


def duplicate_outcomes(keys: pl.DataFrame, *, position: str) -> pl.DataFrame:
    """What happens to each good record when ids repeat; needs only :data:`DUPLICATE_KEYS` and ``position``.

    ``keys``: one row per record not rejected, ``position`` giving path order
    (``source_file``, then ``source_record``). Returns ``position``, ``n_copies``
    (Int32, set on the record kept: the first in path order, counting the copies
    with the same repaired text, itself included), ``reject_reason`` (set on a
    copy with *different* text, naming the copy that was kept) and ``_copy``
    (True for an identical copy, which is folded into the kept one and dropped).
    """
    first = (
        keys.sort(position)
        .group_by("transcript_id", maintain_order=True)
        .first()
        .select(
            "transcript_id",
            pl.col("text_sha256").alias("_kept_sha"),
            pl.col(position).alias("_kept_pos"),
            pl.format("{} {}", "source_file", "source_record").str.strip_chars().alias("_kept_where"),
        )
    )
    joined = keys.join(first, on="transcript_id", how="left")
    same_text = pl.col("text_sha256") == pl.col("_kept_sha")
    kept = pl.col(position) == pl.col("_kept_pos")
    copies = joined.filter(same_text).group_by("transcript_id").len("_n")
    return joined.join(copies, on="transcript_id", how="left").select(
        position,
        pl.when(kept).then(pl.col("_n")).cast(pl.Int32).alias("n_copies"),
        pl.when(~kept & ~same_text)
        .then(
            pl.format(
                "duplicate transcript id '{}' with different text; kept the copy from {} (first in path order)",
                "transcript_id",
                "_kept_where",
            )
        )
        .alias("reject_reason"),
        (~kept & same_text).alias("_copy"),
    )


def apply_duplicate_outcomes(frame: pl.DataFrame, outcomes: pl.DataFrame, *, position: str) -> pl.DataFrame:
    """``frame`` with the outcomes of :func:`duplicate_outcomes` applied: copies dropped, conflicts
    rejected, ``n_copies`` added (null on rejected records); ``position`` is dropped."""
    return (
        frame.join(outcomes.rename({"reject_reason": "_dup_reason"}), on=position, how="left", maintain_order="left")
        .filter(~pl.col("_copy").fill_null(False))
        .with_columns(pl.coalesce("reject_reason", "_dup_reason").alias("reject_reason"))
        .drop(position, "_dup_reason", "_copy")
    )


def deduplicate(frame: pl.DataFrame) -> pl.DataFrame:
    """One record per transcript id.

    Copies with identical repaired text are folded into the first one (in path
    order: ``source_file``, then ``source_record``) and counted in ``n_copies``.
    A copy with *different* text is rejected, naming the copy that was kept:
    the first in path order wins, so an operator decides by file name.
    """
    indexed = frame.with_row_index("_pos")
    outcomes = duplicate_outcomes(indexed.filter(_OK).select("_pos", *DUPLICATE_KEYS), position="_pos")
    return apply_duplicate_outcomes(indexed, outcomes, position="_pos")


@dataclass(frozen=True)
class Tables:
    """The rows one batch contributes to each table, plus every record with its outcome."""

    transcripts: pl.DataFrame
    turns: pl.DataFrame
    records: pl.DataFrame  # all records; reject_reason is null for those that landed

    @property
    def rejected(self) -> pl.DataFrame:
        return self.records.filter(pl.col("reject_reason").is_not_null())


def _turn_counts(turns: pl.DataFrame) -> pl.DataFrame:
    participant = pl.col("speaker") == "participant"
    return turns.group_by("transcript_id").agg(
        pl.len().cast(pl.Int32).alias("n_turns"),
        participant.sum().cast(pl.Int32).alias("n_participant_turns"),
        pl.col("n_words").sum().cast(pl.Int32).alias("n_words"),
        pl.col("n_words").filter(participant).sum().cast(pl.Int32).alias("n_participant_words"),
    )


def schema_failures(model: type, frame: pl.DataFrame) -> pl.DataFrame:
    """``transcript_id, reason`` for every row of ``frame`` that ``model`` rejects (first reason per id)."""
    try:
        model.validate(frame, lazy=True)
    except pandera.errors.SchemaErrors as exc:
        cases = exc.failure_cases
        if cases.get_column("index").null_count():
            # A table-level failure (wrong dtype, missing column) is a bug in
            # this pipeline, not bad input: stop rather than quarantine all.
            raise
        ids = frame.select("transcript_id").with_row_index("index")
        return (
            cases.with_columns(pl.col("index").cast(pl.UInt32))
            .join(ids, on="index")
            .with_columns(
                pl.format(
                    "failed the {} contract: column '{}' check {} (value: {})",
                    pl.lit(model.__name__.removesuffix("Model").lower()),
                    pl.col("column").fill_null("(table)"),
                    "check",
                    pl.col("failure_case").cast(pl.String).str.head(80),
                ).alias("reason")
            )
            .group_by("transcript_id", maintain_order=True)
            .agg(pl.col("reason").first())
        )
    return pl.DataFrame(schema={"transcript_id": pl.String, "reason": pl.String})


def build_tables(frame: pl.DataFrame, *, ingested_at: dt.datetime, seconds: dict[str, float] | None = None) -> Tables:
    """Split turns, count, validate against the contracts; failing transcripts are rejected.

    ``seconds``, when given, receives the time spent splitting (``split``) and
    validating with pandera (``validate``).
    """
    clock = time.perf_counter()
    ok = frame.filter(_OK)
    turns = split_turns(ok)
    counts = _turn_counts(turns)
    records = frame.join(counts, on="transcript_id", how="left").with_columns(
        reject(
            pl.col("n_turns").is_null(),
            "no speaker turns: no line starts with a speaker label (Assistant:, AI:, [AI]:, User:, Human:, [Human]:)",
        ),
    ).with_columns(
        reject(pl.col("n_participant_turns") == 0, "no participant turns: only the interviewer speaks"),
    )
    when = pl.lit(ingested_at).cast(pl.Datetime("us", "UTC"))
    candidates = records.filter(_OK).with_columns(when.alias("ingested_at")).select(list(TranscriptsModel.to_schema().columns))
    turns = turns.join(candidates.select("transcript_id"), on="transcript_id", how="semi")
    split_s, clock = time.perf_counter() - clock, time.perf_counter()
    failed = pl.concat(
        [schema_failures(TranscriptsModel, candidates), schema_failures(TurnsModel, turns)], how="vertical"
    ).unique("transcript_id", keep="first", maintain_order=True)
    if seconds is not None:
        seconds["split"] = seconds.get("split", 0.0) + split_s
        seconds["validate"] = seconds.get("validate", 0.0) + time.perf_counter() - clock
    if failed.height:
        records = records.join(failed, on="transcript_id", how="left").with_columns(
            reject(pl.col("reason").is_not_null(), pl.col("reason"))
        ).drop("reason")
        candidates = candidates.join(failed, on="transcript_id", how="anti")
        turns = turns.join(failed, on="transcript_id", how="anti")
    return Tables(
        transcripts=candidates.sort("transcript_id"),
        turns=turns.sort("transcript_id", "turn_index"),
        records=records,
    )


def quarantine_rows(rejected: pl.DataFrame, *, detected_at: dt.datetime) -> pl.DataFrame:
    """Rejected records in the quarantine table's shape."""
    return (
        rejected.rename({"reject_reason": "reason"})
        .with_columns(pl.lit(detected_at).cast(pl.Datetime("us", "UTC")).alias("detected_at"))
        .select(list(QuarantineModel.to_schema().columns))
        .sort("source_file", "source_record", "transcript_id", nulls_last=True)
    )

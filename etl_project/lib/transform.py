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
_SEQ = "_seq"  # input order, restored after a stage splits and re-joins the frame


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
    indexed = frame.with_row_index(_SEQ)
    ok = indexed.filter(_OK)
    rest = indexed.filter(~_OK).with_columns(pl.lit(None, dtype=pl.Int32).alias("n_repairs"))
    fixed = repair_column(ok, "text")
    out = pl.concat([fixed, rest], how="vertical").sort(_SEQ).drop(_SEQ)
    return out.with_columns(
        pl.col("text")
        .map_elements(lambda t: hashlib.sha256(t.encode("utf-8")).hexdigest(), return_dtype=pl.String, skip_nulls=True)
        .alias("text_sha256")
    )


def deduplicate(frame: pl.DataFrame) -> pl.DataFrame:
    """One record per transcript id.

    Copies with identical repaired text are folded into the first one (in path
    order: ``source_file``, then ``source_record``) and counted in ``n_copies``.
    A copy with *different* text is rejected, naming the copy that was kept:
    the first in path order wins, so an operator decides by file name.
    """
    indexed = frame.with_row_index("_pos")
    ok = indexed.filter(_OK)
    first = (
        ok.sort("_pos")
        .group_by("transcript_id", maintain_order=True)
        .first()
        .select(
            "transcript_id",
            pl.col("text_sha256").alias("_kept_sha"),
            pl.col("_pos").alias("_kept_pos"),
            pl.format("{} {}", "source_file", "source_record").str.strip_chars().alias("_kept_where"),
        )
    )
    ok = ok.join(first, on="transcript_id", how="left")
    same_copy = (pl.col("text_sha256") == pl.col("_kept_sha")) & (pl.col("_pos") != pl.col("_kept_pos"))
    copies = ok.filter(pl.col("_pos") == pl.col("_kept_pos")).join(
        ok.filter(pl.col("text_sha256") == pl.col("_kept_sha")).group_by("transcript_id").len("_n"),
        on="transcript_id",
    )
    kept = copies.with_columns(pl.col("_n").cast(pl.Int32).alias("n_copies"))
    conflicting = ok.filter(~same_copy & (pl.col("_pos") != pl.col("_kept_pos"))).with_columns(
        pl.format(
            "duplicate transcript id '{}' with different text; kept the copy from {} (first in path order)",
            "transcript_id",
            "_kept_where",
        ).alias("reject_reason"),
        pl.lit(None, dtype=pl.Int32).alias("n_copies"),
    )
    rejected = indexed.filter(~_OK).with_columns(pl.lit(None, dtype=pl.Int32).alias("n_copies"))
    helper = ["_kept_sha", "_kept_pos", "_kept_where", "_n"]
    return (
        pl.concat([kept.drop(helper), conflicting.drop(helper, strict=False), rejected], how="diagonal")
        .sort("_pos")
        .drop("_pos")
    )


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


def build_tables(frame: pl.DataFrame, *, ingested_at: dt.datetime) -> Tables:
    """Split turns, count, validate against the contracts; failing transcripts are rejected."""
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
    failed = pl.concat(
        [schema_failures(TranscriptsModel, candidates), schema_failures(TurnsModel, turns)], how="vertical"
    ).unique("transcript_id", keep="first", maintain_order=True)
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

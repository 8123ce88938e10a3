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

from etl_project.lib.repair import repair_column, still_damaged
from etl_project.lib.turns import LABEL_LINE_PATTERN, PARTICIPANT_LINE_PATTERN, split_turns
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
    """Repair the text of records not rejected; add ``n_repairs``, ``residual_mojibake`` and ``text_sha256``."""
    out = repair_column(frame, "text", where=_OK)
    ok = out.select(_OK.fill_null(False)).to_series()
    residual = pl.repeat(False, out.height, dtype=pl.Boolean, eager=True)
    if ok.any():
        rows = ok.arg_true()
        residual = residual.scatter(rows, still_damaged(out.get_column("text").gather(rows)))
    out = out.with_columns(residual.alias("residual_mojibake"))
    return out.with_columns(
        pl.col("text")
        .map_elements(lambda t: hashlib.sha256(t.encode("utf-8")).hexdigest(), return_dtype=pl.String, skip_nulls=True)
        .alias("text_sha256")
    )


DUPLICATE_KEYS = ("transcript_id", "text_sha256", "source_file", "source_record")


NO_TURNS = "no speaker turns: no line starts with a speaker label (Assistant:, AI:, [AI]:, User:, Human:, [Human]:)"
NO_PARTICIPANT = "no participant turns: only the interviewer speaks"


def screen_turns(frame: pl.DataFrame) -> pl.DataFrame:
    """Reject records (LF text) that cannot give turns, before duplicates are resolved: so the first
    *usable* copy of an id wins, whether the copies arrive together or apart."""
    text = pl.col("text")
    return frame.with_columns(reject(~text.str.contains(LABEL_LINE_PATTERN), NO_TURNS)).with_columns(
        reject(~text.str.contains(PARTICIPANT_LINE_PATTERN), NO_PARTICIPANT)
    )


DUPLICATE_REASON_PREFIX = "duplicate transcript id '"


def duplicate_reason(transcript_id: pl.Expr, kept_where: pl.Expr) -> pl.Expr:
    """The quarantine reason of a copy that lost to another copy of its id with different text."""
    return pl.format(DUPLICATE_REASON_PREFIX + "{}' with different text; kept the copy from {} (first in path order)", transcript_id, kept_where)


def where_of(source_file: pl.Expr, source_record: pl.Expr) -> pl.Expr:
    """A record's place as the reasons name it: ``file`` or ``file row N``."""
    return pl.format("{} {}", source_file, source_record).str.strip_chars()


def record_ordinal(source_record: pl.Expr) -> pl.Expr:
    """The number in ``row N`` / ``line N`` (0 for a whole-file record): path order within a file."""
    return source_record.str.extract(r"([0-9]+)$", 1).cast(pl.Int64, strict=False).fill_null(0)


def duplicate_outcomes(keys: pl.DataFrame, *, position: str) -> pl.DataFrame:
    """What happens to each good record when ids repeat; needs only :data:`DUPLICATE_KEYS` and ``position``.

    ``keys``: one row per record not rejected, ``position`` a unique number per record. Path order
    is ``source_file``, then the row or line number of ``source_record``, so copies published earlier
    (from files not read now) can take part beside this run's records. Returns ``position``, ``n_copies``
    (Int32, set on the record kept: the first in path order, counting the copies
    with the same repaired text, itself included), ``reject_reason`` (set on a
    copy with *different* text, naming the copy that was kept) and ``_copy``
    (True for an identical copy, which is folded into the kept one and dropped).
    """
    first = (
        keys.sort(pl.col("source_file"), record_ordinal(pl.col("source_record")), pl.col(position))
        .group_by("transcript_id", maintain_order=True)
        .first()
        .select(
            "transcript_id",
            pl.col("text_sha256").alias("_kept_sha"),
            pl.col(position).alias("_kept_pos"),
            where_of(pl.col("source_file"), pl.col("source_record")).alias("_kept_where"),
        )
    )
    joined = keys.join(first, on="transcript_id", how="left")
    same_text = pl.col("text_sha256") == pl.col("_kept_sha")
    kept = pl.col(position) == pl.col("_kept_pos")
    copies = joined.filter(same_text).group_by("transcript_id").len("_n")
    return joined.join(copies, on="transcript_id", how="left").select(
        position,
        pl.when(kept).then(pl.col("_n")).cast(pl.Int32).alias("n_copies"),
        pl.when(~kept & ~same_text).then(duplicate_reason(pl.col("transcript_id"), pl.col("_kept_where"))).alias("reject_reason"),
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
    the first usable copy (one with turns) in path order wins, so an operator decides by file name.
    """
    indexed = screen_turns(frame).with_row_index("_pos")
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
            NO_TURNS,
        ),
    ).with_columns(
        reject(pl.col("n_participant_turns") == 0, NO_PARTICIPANT),
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


# ------------------------------------------------------------------ a batch against the published tables

PUBLISHED_KEYS = ("transcript_id", "split", "source_file", "source_record", "text_sha256", "source_sha256")


@dataclass(frozen=True)
class Resolution:
    """How a batch's transcripts meet the published ones (:func:`resolve_against_published`)."""

    drop_from_batch: pl.DataFrame  # transcript_id, split: batch copies that lose to a published copy
    drop_published: pl.DataFrame  # transcript_id, split: published rows to remove (their file was read again)
    quarantine: pl.DataFrame  # new quarantine rows: the losing copies with different text
    winners: pl.DataFrame  # transcript_id, kept_where: ids whose duplicate reasons must name this copy


def resolve_against_published(kept: pl.DataFrame, published: pl.DataFrame, read: pl.DataFrame, *, detected_at: dt.datetime) -> Resolution:
    """The one duplicate rule across batches: the warehouse ends as if every copy had arrived at once.

    ``kept``: the batch's transcripts (:data:`PUBLISHED_KEYS`); ``published``: the same columns of the
    transcripts table; ``read``: ``source_file`` of every file this batch read.

    * A file read again owns what it produced before: its published rows are dropped
      (``drop_published``), and whatever the file holds now comes in with the batch. An id edited
      out of a file, or a file edited into something invalid, leaves no ghost behind.
    * Any other published copy of a batch id is a duplicate from another file. As within one batch,
      the copy first in path order (file, then row or line number) wins: the other copy is folded
      away when its text is identical, and quarantined naming the winner when it differs. So the
      same copies give the same tables whether they come in one batch, two batches, or two
      partitions days apart, in either order.
    """
    owned = published.join(read.select("source_file").unique(), on="source_file", how="semi")
    others = published.join(owned.select("transcript_id"), on="transcript_id", how="anti")
    pairs = kept.join(others, on="transcript_id", how="inner", suffix="_pub")
    batch_first = (pl.col("source_file") < pl.col("source_file_pub")) | (
        (pl.col("source_file") == pl.col("source_file_pub")) & (record_ordinal(pl.col("source_record")) < record_ordinal(pl.col("source_record_pub")))
    )
    same = pl.col("text_sha256") == pl.col("text_sha256_pub")
    pairs = pairs.with_columns(batch_first.alias("_batch_wins"), same.alias("_same"))
    when = pl.lit(detected_at).cast(pl.Datetime("us", "UTC"))
    batch_where, pub_where = where_of(pl.col("source_file"), pl.col("source_record")), where_of(pl.col("source_file_pub"), pl.col("source_record_pub"))
    losing_batch = pairs.filter(~pl.col("_batch_wins") & ~pl.col("_same")).select(
        "source_file", "source_record", "transcript_id", duplicate_reason(pl.col("transcript_id"), pub_where).alias("reason"), "source_sha256", when.alias("detected_at")
    )
    losing_published = pairs.filter(pl.col("_batch_wins") & ~pl.col("_same")).select(
        pl.col("source_file_pub").alias("source_file"),
        pl.col("source_record_pub").alias("source_record"),
        "transcript_id",
        duplicate_reason(pl.col("transcript_id"), batch_where).alias("reason"),
        pl.col("source_sha256_pub").alias("source_sha256"),
        when.alias("detected_at"),
    )
    winners = pairs.filter(~pl.col("_same")).select(
        "transcript_id", pl.when(pl.col("_batch_wins")).then(batch_where).otherwise(pub_where).alias("kept_where")
    )
    return Resolution(
        drop_from_batch=pairs.filter(~pl.col("_batch_wins")).select("transcript_id", "split"),
        drop_published=owned.select("transcript_id", "split"),
        quarantine=pl.concat([losing_batch, losing_published]).select(list(QuarantineModel.to_schema().columns)),
        winners=winners,
    )


def rename_duplicate_winners(quarantine: pl.DataFrame, winners: pl.DataFrame) -> pl.DataFrame:
    """Duplicate reasons of ``quarantine`` rows for ids in ``winners`` name the copy that now stands."""
    if winners.is_empty() or quarantine.is_empty():
        return quarantine
    is_duplicate = pl.col("reason").str.starts_with(DUPLICATE_REASON_PREFIX)
    return (
        quarantine.join(winners.unique("transcript_id"), on="transcript_id", how="left")
        .with_columns(
            pl.when(is_duplicate & pl.col("kept_where").is_not_null())
            .then(duplicate_reason(pl.col("transcript_id"), pl.col("kept_where")))
            .otherwise(pl.col("reason"))
            .alias("reason")
        )
        .drop("kept_where")
    )

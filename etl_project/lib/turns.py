"""Split repaired transcript text into speaker turns (pure polars, no Dagster).

A turn starts only where a *known* speaker label opens a line and is followed by
a space, a tab or the end of the line:

    Assistant:  AI:  [AI]:      -> interviewer
    User:  Human:  [Human]:     -> participant

Everything else that merely looks like a label stays inside the turn it belongs
to: pasted chat logs (``You said:``, ``ChatGPT said:``, ``Me:``), headings
(``Frustrated:``, ``Initial Steps:``), ``AI:`` in the middle of a sentence and
labels in another case (``ai:``). A bare label with nothing after it is an
empty turn and stays visible as one.

The split is vectorised: the label positions are marked with a NUL sentinel by
one regex replacement, the text is split on the sentinel and exploded, so no
Python code runs per transcript or per turn. Text before the first label (a
preamble) is not a turn; its length is reported so callers can decide.
"""

from __future__ import annotations

import polars as pl

INTERVIEWER_LABELS: tuple[str, ...] = ("Assistant", "AI", "[AI]")
PARTICIPANT_LABELS: tuple[str, ...] = ("User", "Human", "[Human]")
SPEAKERS: tuple[str, ...] = ("interviewer", "participant")

_SENTINEL = "\x00"
_LABEL_ALTERNATION = r"\[AI\]|\[Human\]|Assistant|AI|User|Human"
# (?m): ^ and $ match at every line start/end. The label must be followed by a
# blank or the end of the line ("AI:x" is not a turn; "AI:" alone is).
LABEL_LINE_PATTERN = rf"(?m)^({_LABEL_ALTERNATION}):([ \t]|$)"
_LEADING_LABEL = rf"^({_LABEL_ALTERNATION}):"
PARTICIPANT_LINE_PATTERN = r"(?m)^(\[Human\]|User|Human):([ \t]|$)"

_SPEAKER_OF_LABEL = {
    **{label: "interviewer" for label in INTERVIEWER_LABELS},
    **{label: "participant" for label in PARTICIPANT_LABELS},
}


def count_words(expr: pl.Expr) -> pl.Expr:
    """Whitespace-separated word count; 0 for empty text."""
    return expr.str.count_matches(r"\S+").cast(pl.Int32)


def split_turns(transcripts: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame:
    """One row per speaker turn.

    ``transcripts`` needs ``transcript_id``, ``split`` and ``text`` (line endings
    already normalised to ``\\n``; NUL characters already removed). Returns
    ``transcript_id, split, turn_index, speaker, speaker_label, text, n_words``
    sorted by ``(transcript_id, turn_index)``; ``turn_index`` is 0-based and
    contiguous within each transcript (ids must be unique). Transcripts without any label produce no
    rows (see :func:`preamble_chars` to tell why).
    """
    # sorted by id before the explode, so the turns come out in order without sorting them
    lf = transcripts.lazy().select("transcript_id", "split", "text").sort("transcript_id")
    pieces = (
        lf.with_columns(
            pl.col("text")
            .str.replace_all(LABEL_LINE_PATTERN, f"{_SENTINEL}${{1}}:${{2}}")
            .str.split(_SENTINEL)
            .alias("piece")
        )
        .drop("text")
        .with_columns(pl.int_ranges(-1, pl.col("piece").list.len() - 1, dtype=pl.Int32).alias("turn_index"))  # the preamble is -1
        .explode("piece", "turn_index")
    )
    return (
        pieces.filter(pl.col("turn_index") >= 0)
        .with_columns(pl.col("piece").str.extract(_LEADING_LABEL, 1).alias("speaker_label"))
        .with_columns(
            pl.col("speaker_label").replace_strict(_SPEAKER_OF_LABEL, return_dtype=pl.String).alias("speaker"),
            pl.col("piece")
            .str.slice(pl.col("speaker_label").str.len_chars() + 1)
            .str.strip_chars()
            .alias("text"),
        )
        .with_columns(count_words(pl.col("text")).alias("n_words"))
        .select("transcript_id", "split", "turn_index", "speaker", "speaker_label", "text", "n_words")
        .collect()
    )


def preamble_chars(text: pl.Expr) -> pl.Expr:
    """Number of non-blank characters before the first speaker label (all of them if none)."""
    marked = text.str.replace_all(LABEL_LINE_PATTERN, f"{_SENTINEL}${{1}}:${{2}}")
    return marked.str.split(_SENTINEL).list.first().str.strip_chars().str.len_chars().cast(pl.Int64)

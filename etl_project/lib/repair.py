"""Encoding repair: undo mojibake with ftfy, keep everything else exactly.

What is enabled, and why (ftfy's defaults are tuned for scraped web text, not
for interview transcripts whose words must survive):

* on: ``fix_encoding`` (UTF-8 decoded as Windows-1252 or Latin-1, at any
  depth, also inside emoji), ``decode_inconsistent_utf8`` (mojibake in only
  some paragraphs), ``fix_c1_controls`` (Latin-1 read), ``restore_byte_a0``,
  ``replace_lossy_sequences``, ``fix_surrogates``, ``remove_terminal_escapes``
  and ``remove_control_chars`` (never meaningful in a transcript).
* off: ``uncurl_quotes`` (curly quotes are legitimate text), ``unescape_html``
  (participants paste code and markup), ``fix_latin_ligatures`` and
  ``fix_character_width`` (they rewrite legitimate characters),
  ``normalization`` (NFC would silently re-encode decomposed accents) and
  ``fix_line_breaks`` (line endings are normalised here, before ftfy).

Repair is line by line: a line made only of printable ASCII (plus tab) cannot
hold mojibake, so it skips ftfy entirely; every other line, from any code page,
goes through ftfy. ``n_repairs`` counts the lines ftfy changed.
"""

from __future__ import annotations

import re

import ftfy
import polars as pl

FTFY_CONFIG = ftfy.TextFixerConfig(
    unescape_html=False,
    uncurl_quotes=False,
    fix_latin_ligatures=False,
    fix_character_width=False,
    fix_line_breaks=False,
    normalization=None,
    explain=False,
)

# Anything outside printable ASCII (tab and LF excepted) may need ftfy. The same
# pattern serves Python's re and polars' (Rust) regex engine.
NEEDS_FTFY_PATTERN = r"[^\t\n\x20-\x7e]"
_NEEDS_FTFY = re.compile(NEEDS_FTFY_PATTERN)


def normalise_line_endings(text: str) -> str:
    """CRLF and lone CR become LF."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def repair_text(text: str) -> tuple[str, int]:
    """Return the repaired text and the number of lines ftfy changed.

    Line endings must already be LF. Idempotent: repairing the output again
    changes nothing.
    """
    if not _NEEDS_FTFY.search(text):
        return text, 0
    lines = text.split("\n")
    changed = 0
    for i, line in enumerate(lines):
        if _NEEDS_FTFY.search(line):
            fixed = ftfy.fix_text(line, FTFY_CONFIG)
            if fixed != line:
                lines[i] = fixed
                changed += 1
    return "\n".join(lines), changed


def repair_column(frame: pl.DataFrame, column: str = "text") -> pl.DataFrame:
    """Repair ``column`` in place and add ``n_repairs`` (Int32).

    Only rows that contain a non-ASCII or control character are handed to
    Python; the rest stay in polars untouched.
    """
    normalised = frame.with_columns(
        pl.col(column).str.replace_all("\r\n", "\n", literal=True).str.replace_all("\r", "\n", literal=True)
    )
    needs = normalised.get_column(column).str.contains(NEEDS_FTFY_PATTERN).fill_null(False)
    if not needs.any():
        return normalised.with_columns(pl.lit(0, dtype=pl.Int32).alias("n_repairs"))
    repaired = normalised.filter(needs).get_column(column).map_elements(
        lambda t: dict(zip(("fixed", "n"), repair_text(t))),
        return_dtype=pl.Struct({"fixed": pl.String, "n": pl.Int32}),
    )
    fixed_text = normalised.get_column(column).clone().scatter(needs.arg_true(), repaired.struct.field("fixed"))
    n_repairs = pl.zeros(frame.height, dtype=pl.Int32, eager=True).scatter(needs.arg_true(), repaired.struct.field("n"))
    return normalised.with_columns(fixed_text.alias(column), n_repairs.alias("n_repairs"))

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

Repair is line by line, and ftfy runs only where it can change something:

1. a transcript reaches Python only if polars (Rust regex, vectorised) finds
   something ftfy could act on: a match of ftfy's own mojibake detector,
   translated to Rust syntax (:data:`MAY_NEED_FTFY_PATTERN`; tested to match
   wherever ftfy's matches), or a C1/control character. Everything else,
   ASCII or legitimate non-ASCII text (dashes, curly quotes, accents, emoji,
   Chinese), stays in polars;
2. in those, a line reaches ``ftfy.fix_text`` only if ftfy's own
   mojibake detector (``ftfy.badness.is_bad``, the test its encoding fixer
   starts with) fires, or it holds a C1 control, a control character or a
   surrogate (what the other enabled fixers act on). For any other line every
   enabled fixer is a no-op, so skipping it is exact, not a heuristic: no
   marker list, mojibake from any code page ftfy knows still gets fixed (a
   test checks the gate against ftfy on real and damaged lines).

``n_repairs`` counts the lines ftfy changed.
"""

from __future__ import annotations

import re

import ftfy
import polars as pl
from ftfy.badness import BADNESS_RE, is_bad
from ftfy.chardata import C1_CONTROL_RE, CONTROL_CHARS

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
# What remove_control_chars, remove_terminal_escapes and fix_surrogates act on.
_CONTROL_OR_SURROGATE = re.compile("[" + "".join(re.escape(chr(c)) for c in sorted(CONTROL_CHARS)) + "\ud800-\udfff]")


def _verbose_to_plain(pattern: str) -> str:
    """A Python ``re.VERBOSE`` pattern without its comments and layout whitespace (classes kept as written)."""
    out, i, in_class = [], 0, False
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            out.append(pattern[i : i + 2])
            i += 2
        elif in_class:
            out.append(c)
            in_class = c != "]"
            i += 1
        elif c == "[":
            in_class = True
            out.append(c)
            i += 1
            if pattern[i : i + 1] == "^":
                out.append("^")
                i += 1
            if pattern[i : i + 1] == "]":  # a leading ']' is literal in Python
                out.append("\\]")
                i += 1
        elif c == "#":
            end = pattern.find("\n", i)
            i = len(pattern) if end < 0 else end
        else:
            if not c.isspace():
                out.append(c)
            i += 1
    return "".join(out)


def _rust_may_need_ftfy() -> str:
    # Python's \w also takes numbers like '⅜' and its \s the separators \x1c-\x1f;
    # widen both so the Rust pattern matches wherever Python's does (never less).
    badness = _verbose_to_plain(BADNESS_RE.pattern).replace("\\w", "[\\w\\p{N}]").replace("\\s", "[\\s\\x1c-\\x1f]")
    controls = "".join(f"\\x{{{c:X}}}" for c in sorted(CONTROL_CHARS))
    return f"(?m){badness}|[\\x{{80}}-\\x{{9F}}{controls}]"


MAY_NEED_FTFY_PATTERN = _rust_may_need_ftfy()


def ftfy_may_change(line: str) -> bool:
    """False only when every fixer enabled in FTFY_CONFIG leaves ``line`` as it is."""
    return bool(is_bad(line) or C1_CONTROL_RE.search(line) or _CONTROL_OR_SURROGATE.search(line))


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
            fixed = _fix_line(line)
            if fixed != line:
                lines[i] = fixed
                changed += 1
    return "\n".join(lines), changed


def _fix_line(line: str) -> str:
    return ftfy.fix_text(line, FTFY_CONFIG) if ftfy_may_change(line) else line


def repair_lines(texts: pl.Series) -> pl.DataFrame:
    """``fixed`` (the repaired text) and ``n`` (lines changed) for each text (LF line endings).

    The texts are cut into lines in polars; only lines that both Rust gates pass
    (something outside printable ASCII, and a match of :data:`MAY_NEED_FTFY_PATTERN`)
    reach Python, where :func:`ftfy_may_change` decides whether ftfy runs. Same
    result as :func:`repair_text` on each text.
    """
    line = pl.col("line")
    lines = (
        pl.DataFrame({"line": texts})
        .with_row_index("row")
        .with_columns(line.str.split("\n"))
        .explode("line")
        .with_columns((line.str.contains(NEEDS_FTFY_PATTERN) & line.str.contains(MAY_NEED_FTFY_PATTERN)).alias("gate"))
    )
    where = lines.get_column("gate").arg_true()
    before = lines.get_column("line").gather(where)
    after = before.map_elements(_fix_line, return_dtype=pl.String)
    changed = pl.zeros(lines.height, dtype=pl.Int32, eager=True).scatter(where, (after != before).cast(pl.Int32))
    return (
        lines.with_columns(lines.get_column("line").scatter(where, after), changed.alias("n"))
        .group_by("row", maintain_order=True)
        .agg(pl.col("line").str.join("\n").alias("fixed"), pl.col("n").sum().cast(pl.Int32))
        .sort("row")
        .drop("row")
    )


def repair_column(frame: pl.DataFrame, column: str = "text", *, where: pl.Expr | None = None) -> pl.DataFrame:
    """Repair ``column`` in place and add ``n_repairs`` (Int32).

    Only rows in which ftfy could change something are handed to
    :func:`repair_lines`; the rest stay in polars untouched. ``where`` (a Boolean
    expression) limits the repair to those rows: the others keep their text as
    it is and get a null ``n_repairs``.
    """
    text = pl.col(column)
    normalised = text.str.replace_all("\r\n", "\n", literal=True).str.replace_all("\r", "\n", literal=True)
    selected = pl.lit(True) if where is None else where.fill_null(False)
    frame = frame.with_columns(
        pl.when(selected).then(normalised).otherwise(text).alias(column),
        pl.when(selected).then(pl.lit(0, dtype=pl.Int32)).otherwise(pl.lit(None, dtype=pl.Int32)).alias("n_repairs"),
    )
    needs = frame.select((selected & text.str.contains(MAY_NEED_FTFY_PATTERN)).fill_null(False)).to_series()
    if not needs.any():
        return frame
    rows = needs.arg_true()
    repaired = repair_lines(frame.get_column(column).gather(rows))
    return frame.with_columns(
        frame.get_column(column).scatter(rows, repaired.get_column("fixed")),
        frame.get_column("n_repairs").scatter(rows, repaired.get_column("n")),
    )


def _bad_lines(text: str) -> int:
    return sum(1 for line in text.split("\n") if is_bad(line))


def still_damaged(texts: pl.Series) -> pl.Series:
    """Per text: does ftfy's own badness heuristic (``ftfy.badness.is_bad``) fire on any line?

    Run on repaired text, True means mojibake may be left (or legitimate text that merely looks
    like it: the heuristic is a judgement, so this marks, never rejects). Only texts the
    vectorised gate (:data:`MAY_NEED_FTFY_PATTERN`, a superset of ``is_bad``) selects reach Python.
    """
    gate = texts.str.contains(MAY_NEED_FTFY_PATTERN).fill_null(False)
    out = pl.repeat(False, texts.len(), dtype=pl.Boolean, eager=True)
    if not gate.any():
        return out
    rows = gate.arg_true()
    bad = texts.gather(rows).map_elements(_bad_lines, return_dtype=pl.Int64) > 0
    return out.scatter(rows, bad)


def changed_by_second_pass(texts: pl.Series) -> pl.Series:
    """Per (already repaired) text: would repairing it again change it? Only a broken repair says yes often."""
    gate = texts.str.contains(MAY_NEED_FTFY_PATTERN).fill_null(False)
    out = pl.repeat(False, texts.len(), dtype=pl.Boolean, eager=True)
    if not gate.any():
        return out
    rows = gate.arg_true()
    again = repair_lines(texts.gather(rows)).get_column("n") > 0
    return out.scatter(rows, again)

"""Read every supported input under the raw folder into one frame of records.

One record is one candidate transcript (or one rejected input). Every reader
returns the same columns (:data:`RECORD_SCHEMA`); a record that cannot become a
transcript carries a ``reject_reason`` instead of raising, so one bad file or
row never stops the batch and nothing is dropped without a reason.

Layouts:

* ``.txt`` / ``.md``: one transcript per file, with the header seen in the
  release (``# Dialog NNNNN``, ``**Transcript ID:** <id>``, ``---``) or with no
  header when the file name is the id (``work_0042.md``).
* ``.csv``: the release layout, columns ``transcript_id,text`` (RFC 4180,
  multi-line quoted fields), many transcripts per file.
* ``.parquet`` and ``.jsonl`` / ``.ndjson``: the same two columns, or the chat
  layout of newer exports: ``transcript_id`` plus ``messages``, a list of
  ``{role, content}`` with roles ``assistant`` / ``user``.

Encodings: UTF-8 with or without BOM, UTF-16/32 with BOM (UTF-16 without a BOM
is recognised too), otherwise Windows-1252; CRLF or LF.

Hostile input (nothing found under the raw folder raises; see :func:`discover_folder`):

* A symbolic-link loop, a link out of the raw folder, an unsupported type, a
  file that cannot be read (``could not read the file (permission denied)``) and
  a folder that cannot be listed are rejects, i.e. quarantine rows.
* A name that is not valid UTF-8 (or holds control characters) is shown as
  printable UTF-8 with ``\\xNN`` escapes in ``source_file``; the file is still
  read, by its real path (:attr:`RawFile.path`).
* A warehouse or a Dagster home inside the raw folder is skipped by design: it
  is not a reject (it is no input), it is listed with its reason in
  :attr:`Discovery.skipped` for ``status`` to show.
* CSV: polars parses a well-formed file at once; a file polars refuses, or
  whose quotes are not well formed, is parsed again row by row (Python's strict
  ``csv``), so a malformed row or stretch is one reject (``row N``, naming its
  lines) and every other row lands. Rows are numbered after the header, blank
  lines counted; lines are counted by ``\\n`` as the file has them.
* A header naming a wanted column twice (``transcript_id,Transcript_ID``) is a
  file reject: which column is meant cannot be known, so none is guessed.
* JSON lines are split on ``\\n`` only (U+2028 and U+0085 are legal inside JSON
  strings); a line too deeply nested to decode is that line's reject.
* A NUL byte in a CSV or JSON-lines file rejects its record, not the file.
* Parquet: a wanted column named twice, or an id or text column that does not
  hold text, is a file reject with the column and its type.
* Whatever else goes wrong inside a reader costs that file only (one reject).
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import json
import os
import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

RECORD_SCHEMA: dict[str, pl.DataType] = {
    "source_file": pl.String(),
    "source_format": pl.String(),
    "source_record": pl.String(),
    "source_sha256": pl.String(),
    "transcript_id": pl.String(),
    "dialog_number": pl.Int64(),
    "text": pl.String(),
    "reject_reason": pl.String(),
}

FORMAT_OF_SUFFIX: dict[str, str] = {
    ".txt": "text",
    ".md": "text",
    ".csv": "csv",
    ".parquet": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}
# Documentation that may sit in a drop zone; never read as a transcript.
IGNORED_NAMES = re.compile(r"^(readme|license|licence)(\.[a-z]+)?$", re.IGNORECASE)
# A file-name stem that can stand in for a missing header id: work_0042.
FILENAME_ID = re.compile(r"^[A-Za-z]+_[0-9]+$")
ROLE_LABELS = {
    **dict.fromkeys(("assistant", "ai", "interviewer"), "Assistant"),
    **dict.fromkeys(("user", "human", "participant"), "User"),
}

DEFAULT_MAX_FILE_BYTES = 512 * 1024 * 1024
_BINARY_MAGIC = {
    b"%PDF": "a PDF document",
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"GIF8": "a GIF image",
    b"PK\x03\x04": "a ZIP archive (or Office document)",
    b"\x1f\x8b": "a gzip archive",
    b"\x7fELF": "an executable",
}


class UnreadableInput(ValueError):
    """The input cannot be read at all; the message says why, for a person."""


@dataclass(frozen=True)
class RawFile:
    """A file found under the raw folder: its path relative to the root and on disk.

    ``relative`` is printable, valid UTF-8 (:func:`printable_path`); it is what the
    tables record as ``source_file``. ``path`` is the real path, to open and stat.
    """

    relative: str
    path: Path


# ---------------------------------------------------------------- discovery

# A warehouse inside the raw folder (its own bookkeeping folders, or a table folder of
# hive partitions holding part-*.parquet) and a Dagster home are never read as input.
WAREHOUSE_MARKERS = frozenset({"_batches", "_staging", "_locks"})
WAREHOUSE_TABLES = frozenset({"transcripts", "turns", "theme_flags", "quarantine"})
DAGSTER_HOME_FILES = frozenset({"dagster.yaml", "dagster_instance.yaml"})
DAGSTER_HOME_FOLDERS = frozenset({"history", "storage"})


@dataclass(frozen=True)
class Skipped:
    """A folder under the raw folder that is not read, by design, and why (for ``status``)."""

    relative: str
    reason: str


@dataclass
class Discovery:
    """What :func:`discover_folder` found: files to read, rejects, and folders skipped by design."""

    files: list[RawFile]
    rejects: list[dict]
    skipped: list[Skipped]

    def paths(self) -> list[tuple[str, Path]]:
        """``(relative, real path)`` of every file to read and every reject: stat the real path,
        as a relative path with an escaped name (``caf\\xe9.md``) names no file on disk."""
        return [(f.relative, f.path) for f in self.files] + [(r["source_file"], r["source_path"]) for r in self.rejects]


def discover(root: Path, only: set[str] | None = None) -> tuple[list[RawFile], list[dict]]:
    """Files to read (sorted by relative path) and rejects for what must not be read.

    Hidden files and folders (``.DS_Store``, ``._x``, ``.git``) and README/LICENSE
    files are skipped. Symbolic links are never followed out of ``root``: such a
    link becomes a reject, as do unsupported file types, link loops and folders
    that cannot be listed. Folders skipped by design (a warehouse or a Dagster
    home inside the raw folder) are not rejects: :func:`discover_folder` lists
    them. ``only`` (relative paths) restricts the result to those paths.
    """
    found = discover_folder(root)
    if only is None:
        return found.files, found.rejects
    return [f for f in found.files if f.relative in only], [r for r in found.rejects if r["source_file"] in only]


def discover_folder(root: Path) -> Discovery:
    """Walk ``root``; never raises for anything found inside it.

    Relative paths are :func:`printable_path` renderings (a name that is not valid
    UTF-8 shows its bytes as ``\\xNN``); :attr:`RawFile.path` and a reject's
    ``source_path`` are the real paths to open or stat.
    """
    root = Path(root)
    real_root = _resolved(root) or root.absolute()
    found = Discovery([], [], [])
    walk_errors: list[OSError] = []
    for here, dirnames, filenames in _walk(root, walk_errors):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        if why := _skip_reason(here, dirnames, [e.name for e in filenames]):
            where = "the raw folder is itself" if here == root else "a folder inside the raw folder is"
            found.skipped.append(Skipped(_relative(here, root), why.format(where=where)))
            dirnames[:] = []
            continue
        for d in list(dirnames):
            path = here / d
            if not _is_symlink(path):
                continue
            dirnames.remove(d)  # never walked into: inside the root its files are read where they are
            target = _resolved(path)
            if target is None:
                found.rejects.append(_file_reject(path, root, None, "symbolic link that cannot be resolved (a loop, or it leads nowhere); not followed"))
            elif not _inside(target, real_root):
                found.rejects.append(_file_reject(path, root, None, f"symbolic link to a folder outside the raw folder ({printable_path(str(target))}); not followed"))
            else:
                found.skipped.append(Skipped(_relative(path, root), "symbolic link to a folder inside the raw folder; not followed (its files are read where they are)"))
        prefix = "" if here == root else here.relative_to(root).as_posix() + "/"
        for entry in sorted(filenames, key=lambda e: e.name):
            name = entry.name
            if name.startswith(".") or IGNORED_NAMES.match(name):
                continue
            path = here / name
            try:
                kept = _classify(entry, path, prefix, root, real_root)
            except OSError as exc:  # e.g. a name too long to stat
                kept = _file_reject(path, root, None, f"could not look at this file ({_os_reason(exc)})")
            if isinstance(kept, RawFile):
                found.files.append(kept)
            else:
                found.rejects.append(kept)
    for exc in walk_errors:  # os.walk would skip these without a word
        folder = Path(exc.filename) if exc.filename is not None else root
        what = "the raw folder itself" if folder == root else "this folder"
        found.rejects.append(_file_reject(folder, root, None, f"could not list {what} ({_os_reason(exc)}); the files in it were not read"))
    found.files.sort(key=lambda f: f.relative)
    return found


def _walk(root: Path, errors: list[OSError]) -> Iterator[tuple[Path, list[str], list[os.DirEntry]]]:
    """``os.walk`` (top down, links to folders listed but not entered), without recursion, so a
    folder nested thousands deep cannot hit the recursion limit; a folder that cannot be listed
    goes to ``errors``. The caller may prune the folder names it is given, as with ``os.walk``.
    Files come as the listing's entries, which know their type without a ``stat`` per file."""
    stack = [root]
    while stack:
        here = stack.pop()
        try:
            with os.scandir(here) as listing:
                entries = list(listing)
        except OSError as exc:
            if exc.filename is None:
                exc.filename = str(here)
            errors.append(exc)
            continue
        dirnames, filenames = [], []
        for entry in entries:
            try:
                is_dir = entry.is_dir()
            except OSError:
                is_dir = False
            if is_dir:
                dirnames.append(entry.name)
            else:
                filenames.append(entry)
        yield here, dirnames, filenames
        stack.extend(here / d for d in reversed(dirnames) if not _is_symlink(here / d))


def _classify(entry: os.DirEntry, path: Path, prefix: str, root: Path, real_root: Path) -> RawFile | dict:
    """A file found by the walk (``entry``, at ``path``; ``prefix``: its folder's relative path and a
    slash, or nothing at the root): a :class:`RawFile` to read, or a reject. The entry's type comes
    from the folder listing; only a symbolic link costs a system call."""
    if entry.is_symlink():
        target = _resolved(path)
        if target is None:
            return _file_reject(path, root, None, "symbolic link that cannot be resolved (a loop, or it leads nowhere); not followed")
        if not _inside(target, real_root):
            return _file_reject(path, root, None, f"symbolic link to a file outside the raw folder ({printable_path(str(target))}); not followed")
        if not target.is_file():
            return _file_reject(path, root, None, "symbolic link that leads to no file")
    elif not entry.is_file(follow_symlinks=False):
        return _file_reject(path, root, None, "not a regular file")
    if path.suffix.lower() not in FORMAT_OF_SUFFIX:
        kinds = ", ".join(sorted(FORMAT_OF_SUFFIX))
        return _file_reject(path, root, None, f"unsupported file type '{printable_path(path.suffix) or '(none)'}'; supported: {kinds}")
    return RawFile(printable_path(prefix + entry.name), path)


def _skip_reason(here: Path, dirnames: list[str], filenames: list[str]) -> str | None:
    """Why the folder ``here`` (listed as ``dirnames``/``filenames``) is not read, if it is not
    (a format string: ``{where}`` says which folder)."""
    names = set(dirnames)
    if names & WAREHOUSE_MARKERS or any(_has_parts(here / t) for t in sorted(names & WAREHOUSE_TABLES)):
        return "{where} a warehouse (it has _batches, _staging, _locks or table folders); a warehouse is never read as input"
    if set(filenames) & DAGSTER_HOME_FILES or DAGSTER_HOME_FOLDERS <= names:
        return "{where} a Dagster home (dagster.yaml, or history and storage folders); it is never read as input"
    return None


def _has_parts(table: Path) -> bool:
    """A warehouse table folder: ``part-*.parquet`` in hive partitions (``split=...``), or the quarantine's one file."""
    try:
        return any(table.glob("split=*/part-*.parquet")) or (table.name == "quarantine" and (table / "part-0.parquet").is_file())
    except OSError:
        return False


def _is_symlink(path: Path) -> bool:
    try:
        return path.is_symlink()
    except OSError:
        return False


def _resolved(path: Path) -> Path | None:
    """``path`` with every link followed; None for a loop or a dangling link."""
    try:
        return path.resolve(strict=True)
    except (OSError, RuntimeError):  # RuntimeError: a symlink loop (Python < 3.13)
        return None


def _inside(target: Path, real_root: Path) -> bool:
    return target == real_root or real_root in target.parents


def printable_path(name: str) -> str:
    """``name`` as valid, printable UTF-8: undecodable bytes (surrogate-escaped by ``os``) as ``\\xNN``,
    control and other unprintable characters as ``\\xNN`` / ``\\uNNNN``. Printable names are unchanged."""
    if name.isprintable():
        return name
    text = name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return "".join(c if c.isprintable() else _escape_char(c) for c in text)


def _escape_char(c: str) -> str:
    n = ord(c)
    return f"\\x{n:02x}" if n < 0x100 else f"\\u{n:04x}" if n < 0x10000 else f"\\U{n:08x}"


def _relative(path: Path, root: Path) -> str:
    return printable_path(path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path))


def _os_reason(exc: OSError) -> str:
    return (exc.strerror or type(exc).__name__).lower()


def _file_reject(path: Path, root: Path, sha: str | None, reason: str, transcript_id: str | None = None) -> dict:
    return {
        "source_file": _relative(path, root),
        "source_format": FORMAT_OF_SUFFIX.get(path.suffix.lower()),
        "source_record": "",
        "source_sha256": sha,
        "transcript_id": transcript_id,
        "dialog_number": None,
        "text": None,
        "reject_reason": reason,
        "source_path": path,  # the real path (not a table column): for stat/open when the name was escaped
    }


# ---------------------------------------------------------------- decoding


def _latin1_fallback(error: UnicodeDecodeError) -> tuple[str, int]:
    # Bytes Windows-1252 leaves undefined (0x81, 0x8D, 0x8F, 0x90, 0x9D) map to
    # the code point of the same number, as browsers do.
    bad = error.object[error.start : error.end]
    return bad.decode("latin-1"), error.end


codecs.register_error("etl_latin1_fallback", _latin1_fallback)


def decode_bytes(data: bytes, *, nul_ok: bool = False) -> str:
    """Decode a text file's bytes: BOM first, then strict UTF-8, else Windows-1252.

    Raises :class:`UnreadableInput` for empty or binary content. With ``nul_ok``
    (files of many records, where a stray NUL byte is one record's problem) a few
    NUL bytes do not make the file binary; they stay in the text.
    """
    for magic, kind in _BINARY_MAGIC.items():
        if data.startswith(magic):
            raise UnreadableInput(f"binary data ({kind}), not text")
    if data.startswith(codecs.BOM_UTF8):
        text = _decode_utf8_or_1252(data[len(codecs.BOM_UTF8) :])
    elif data.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        text = _decode_strict(data, "utf-32")
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        text = _decode_strict(data, "utf-16")
    elif b"\x00" in data and (utf16 := _bomless_utf16(data, strict=not nul_ok)):
        text = _decode_strict(data, utf16)
    else:
        text = _decode_utf8_or_1252(data)
    if not text or text.isspace():
        raise UnreadableInput("empty file (no text, or whitespace only)")
    if "\x00" in text and not nul_ok:
        raise UnreadableInput("binary data (control bytes), not text")
    # A control character in the text needs a control byte in the data (UTF-8 and
    # Windows-1252 keep them as they are; in UTF-16/32 each has a NUL byte), so data
    # without one needs no look at the text.
    if len(data.translate(None, _CONTROL_BYTE_VALUES)) == len(data):
        return text
    head = text[:65536]
    if len(_CONTROL_BYTES.findall(head)) > max(8, len(head) // 100):
        raise UnreadableInput("binary data (control bytes), not text")
    return text


_CONTROL_BYTE_VALUES = bytes([*range(0x00, 0x09), 0x0B, *range(0x0E, 0x20)])  # tab, line ends and form feed are text
_CONTROL_BYTE = re.compile(b"[" + re.escape(_CONTROL_BYTE_VALUES) + b"]")
_CONTROL_BYTES = re.compile(_CONTROL_BYTE.pattern.decode("ascii"))  # the same characters, in decoded text


def _decode_utf8_or_1252(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="etl_latin1_fallback")


def _decode_strict(data: bytes, encoding: str) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise UnreadableInput(f"binary data: not valid {encoding.upper()} ({exc.reason} at byte {exc.start})") from None


def _bomless_utf16(data: bytes, *, strict: bool = True) -> str | None:
    """UTF-16 without a BOM shows NUL in every other byte of ASCII text; None (or, ``strict``, an error) otherwise."""
    head = data[:4096]
    even, odd = head[0::2], head[1::2]
    if odd and odd.count(0) > 0.9 * len(odd) and even.count(0) < 0.1 * len(even):
        return "utf-16-le"
    if even and even.count(0) > 0.9 * len(even) and odd.count(0) < 0.1 * len(odd):
        return "utf-16-be"
    if not strict:
        return None
    raise UnreadableInput("binary data (NUL bytes), not text")


# ---------------------------------------------------------------- one-transcript text files

_HEADER_DIALOG = re.compile(r"^#+\s*Dialog\s+(\d+)\s*$", re.IGNORECASE)
_HEADER_ID = re.compile(r"^\**\s*Transcript\s+ID\s*:?\s*\**\s*:?\s*(.*?)\s*$", re.IGNORECASE)
_HEADER_RULE = re.compile(r"^\s*(-{3,}|\*{3,}|_{3,})\s*$")


def parse_text_transcript(text: str) -> tuple[int | None, str | None, str]:
    """Split a one-transcript file into (dialog number, header id, body).

    The header is the run of ``# Dialog N`` / ``**Transcript ID:** x`` / ``---``
    and blank lines at the top; the body is everything after it, with CRLF and
    lone CR turned into LF. Only the header lines are looked at one by one.
    """
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    dialog: int | None = None
    header_id: str | None = None
    start, end_of_text = 0, len(text)
    while start <= end_of_text:
        end = text.find("\n", start)
        if end < 0:
            end = end_of_text
        line = text[start:end].strip()
        if not line or _HEADER_RULE.match(line):
            pass
        elif (m := _HEADER_DIALOG.match(line)) and dialog is None:
            dialog = int(m.group(1))
        elif (m := _HEADER_ID.match(line)) and header_id is None:
            header_id = m.group(1).strip("`*\"' ") or None
        else:
            break
        start = end + 1
    return dialog, header_id, text[start:]


def _read_text_file(f: RawFile, data: bytes, sha: str) -> list[dict]:
    text = decode_bytes(data)
    dialog, header_id, body = parse_text_transcript(text)
    stem = f.path.stem
    transcript_id = header_id if header_id is not None else (stem if FILENAME_ID.match(stem) else None)
    reason = None
    if transcript_id is None:
        reason = "no transcript id: no '**Transcript ID:**' header and the file name is not an id like work_0042"
    return [_record(f, "text", "", sha, transcript_id, body, reason, dialog)]


# ---------------------------------------------------------------- tabular layouts


def _record(
    f: RawFile,
    fmt: str,
    where: str,
    sha: str | None,
    transcript_id: str | None,
    text: str | None,
    reason: str | None,
    dialog: int | None = None,
) -> dict:
    return {
        "source_file": f.relative,
        "source_format": fmt,
        "source_record": where,
        "source_sha256": sha,
        "transcript_id": transcript_id,
        "dialog_number": dialog,
        "text": text,
        "reject_reason": reason,
    }


def render_messages(messages: object) -> str:
    """Chat layout -> release text: ``Assistant: ...`` / ``User: ...`` blocks.

    Raises :class:`UnreadableInput` for a role other than assistant/user or a
    malformed message.
    """
    if not isinstance(messages, list) or not messages:
        raise UnreadableInput("'messages' is empty or not a list")
    blocks = []
    for n, message in enumerate(messages, start=1):
        if not isinstance(message, dict):
            raise UnreadableInput(f"message {n} is not an object with role and content")
        role = str(message.get("role", "")).strip().lower()
        if role not in ROLE_LABELS:
            raise UnreadableInput(f"message {n} has role '{str(message.get('role'))[:40]}'; expected assistant or user")
        content = message.get("content")
        if content is None:
            content = ""
        if not isinstance(content, str):
            raise UnreadableInput(f"message {n} has non-text content")
        blocks.append(f"{ROLE_LABELS[role]}: {content.strip()}")
    return "\n\n".join(blocks)


_NUL_IN_RECORD = "a NUL byte in this record: damaged data, not text"
# The csv module refuses fields over 128 KiB by default; a long transcript is one field.
csv.field_size_limit(max(csv.field_size_limit(), 2**31 - 1))


def _rows_to_records(f: RawFile, fmt: str, sha: str, rows: Iterable[tuple[str, dict | None, str | None]]) -> list[dict]:
    """Turn (locator, row, parse error) triples into records (the chat layout and JSON lines)."""
    records = []
    for where, row, error in rows:
        if error is None:
            try:
                records.append(_row_record(f, fmt, where, sha, row))
                continue
            except Exception as exc:  # a hostile value (e.g. a role nested 900 deep) costs its row only
                error = f"could not be read ({type(exc).__name__}: {_first_line(exc)[:200]})"
        records.append(_record(f, fmt, where, sha, None, None, error))
    return records


def _row_record(f: RawFile, fmt: str, where: str, sha: str, row: dict) -> dict:
    """One row of the chat layout or a JSON line as a record (with its reason, if it cannot be a transcript)."""
    raw_id = row.get("transcript_id")
    transcript_id, text, reason = None, None, None
    if isinstance(raw_id, str):
        transcript_id = raw_id.strip() or None
    elif raw_id is not None:
        reason = f"'transcript_id' is {_json_kind(raw_id)}, not text (ids look like work_0042)"
    if transcript_id is None:
        reason = reason or "no transcript id in this row"
    if "text" in row and row["text"] is not None:
        text = row["text"] if isinstance(row["text"], str) else None
        if text is None:
            reason = reason or "'text' is not a string"
    elif row.get("messages") is not None:
        try:
            text = render_messages(row["messages"])
        except UnreadableInput as exc:
            reason = reason or f"bad chat messages: {exc}"
    else:
        reason = reason or "no text in this row"
    if text is not None and not text.strip() and reason is None:
        reason = "empty text in this row"
    if reason is None and ("\x00" in transcript_id or "\x00" in text):
        reason = _NUL_IN_RECORD
    return _record(f, fmt, where, sha, transcript_id, text, reason)


def _json_kind(value: object) -> str:
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return f"a {type(value).__name__}"


def _table_records(f: RawFile, fmt: str, sha: str, rows: pl.DataFrame, *, unit: str = "row") -> pl.DataFrame:
    """Records of a table with String columns ``transcript_id`` and ``text``, numbered ``_n``
    (1-based), with an optional ``_error`` (a parse error of that row): column expressions,
    no loop over rows."""
    raw_id, text = pl.col("transcript_id"), pl.col("text")
    tid = raw_id.str.strip_chars()
    error = pl.col("_error") if "_error" in rows.columns else pl.lit(None, pl.String)
    reason = (
        pl.when(error.is_not_null())
        .then(error)
        .when(tid.is_null() | (tid == ""))
        .then(pl.lit("no transcript id in this row"))
        .when(text.is_null())
        .then(pl.lit("no text in this row"))
        .when(text.str.strip_chars() == "")
        .then(pl.lit("empty text in this row"))
        .when(raw_id.str.contains("\x00", literal=True) | text.str.contains("\x00", literal=True))
        .then(pl.lit(_NUL_IN_RECORD))
    )
    return rows.select(
        pl.lit(f.relative, pl.String).alias("source_file"),
        pl.lit(fmt, pl.String).alias("source_format"),
        pl.format(f"{unit} {{}}", pl.col("_n")).alias("source_record"),
        pl.lit(sha, pl.String).alias("source_sha256"),
        pl.when(tid != "").then(tid).alias("transcript_id"),
        pl.lit(None, pl.Int64).alias("dialog_number"),
        text.alias("text"),
        reason.alias("reject_reason"),
    )


_WANTED = ("transcript_id", "text", "messages")


def _pick_columns(names: list[str], what: str) -> dict[str, int]:
    """Positions of the wanted columns among ``names`` (matched trimmed and ignoring case).

    A wanted column named twice (``transcript_id,Transcript_ID``) makes the file
    unreadable: which copy is meant cannot be known, so none is guessed.
    """
    normal = [str(n).strip().lstrip("\ufeff").lower() for n in names]
    picked: dict[str, int] = {}
    for want in _WANTED:
        hits = [i for i, n in enumerate(normal) if n == want]
        if len(hits) > 1:
            shown = ", ".join(f"'{printable_path(str(names[i]))[:40]}'" for i in hits)
            raise UnreadableInput(f"{what} has {len(hits)} columns named '{want}' ({shown}, ignoring case); which one to read is ambiguous")
        if hits:
            picked[want] = hits[0]
    if "transcript_id" not in picked or not picked.keys() & {"text", "messages"}:
        found = ", ".join(sorted(printable_path(str(n))[:40] for n in names)) or "none"
        raise UnreadableInput(f"{what} has no 'transcript_id' and 'text' (or 'messages') columns; found: {found}")
    return picked


# ---------------------------------------------------------------- CSV


def _read_csv_file(f: RawFile, data: bytes, sha: str) -> pl.DataFrame | list[dict]:
    """A CSV file's records: one per data row, ``row N`` counting rows after the header.

    Well-formed files are parsed by polars at once. When polars refuses the file (a row
    with too many fields, a quote that never closes), it is parsed again with Python's
    ``csv`` module, record by record: every good row still lands, and each malformed
    stretch is one reject naming its row and lines. A NUL byte rejects only its row.

    A plain UTF-8 file (no BOM, no control bytes, LF or CRLF line ends; the release's own) goes
    straight from its bytes to polars (:func:`_csv_plain`): decoding it to a Python string first
    would hold up to four bytes per character (one emoji makes the whole string so), several times
    the file in memory for a 90 MB release CSV. Any other file takes the way below; both give the
    same records.
    """
    plain = _csv_plain(data)
    if plain is not None:
        return _table_records(f, "csv", sha, plain)
    text = decode_bytes(data, nul_ok=True).removeprefix("\ufeff")
    if "\r" in text and "\n" not in text:  # classic Mac line ends: polars would see one line
        text = text.replace("\r", "\n")
    first_line = text[:65536].split("\n", 1)[0]
    separator = "\t" if "\t" in first_line and "," not in first_line else ","  # spreadsheet "Unicode text" exports
    try:
        header = next(csv.reader([first_line.rstrip("\r")], delimiter=separator, strict=True), [])
    except csv.Error as exc:
        raise UnreadableInput(f"malformed CSV header in line 1 ({exc})") from None
    columns = _pick_columns(header, "CSV")
    if "text" not in columns:  # 'messages' as JSON text in a CSV cell: one row at a time
        rows = ((f"row {n}", row, error) for n, row, error in _csv_rows_slowly(text, separator, columns))
        return _rows_to_records(f, "csv", sha, rows)
    rows = _csv_fast(text.encode("utf-8"), separator, len(header), columns)
    if rows is None:
        rows = _csv_slow(text, separator, columns)
    if rows.height == 0:
        raise UnreadableInput("CSV has a header but no rows")
    return _table_records(f, "csv", sha, rows)


_NOT_BLANK = re.compile(rb"\S")


def _plain(data: bytes) -> bool:
    """Whether :func:`decode_bytes` would be a plain UTF-8 decode of ``data`` if it is UTF-8: no BOM or
    binary signature, no control byte, not blank (it may still be Windows-1252: the caller finds out)."""
    return not (
        data.startswith((codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE, *_BINARY_MAGIC))
        or _CONTROL_BYTE.search(data)
        or not _NOT_BLANK.search(data)
    )


def _csv_plain(data: bytes) -> pl.DataFrame | None:
    """What :func:`_read_csv_file`'s general way reads from ``data`` when ``data`` is a plain, well-formed
    UTF-8 CSV with a ``text`` column, read without decoding it in Python; else None (the general way decides)."""
    if not _plain(data) or (b"\r" in data and b"\n" not in data):
        return None
    try:
        first_line = data[:65536].split(b"\n", 1)[0].decode("utf-8")
    except UnicodeDecodeError:  # maybe Windows-1252: decode_bytes knows
        return None
    separator = "\t" if "\t" in first_line and "," not in first_line else ","
    try:
        header = next(csv.reader([first_line.rstrip("\r")], delimiter=separator, strict=True), [])
        columns = _pick_columns(header, "CSV")
    except (csv.Error, UnreadableInput):
        return None
    if "text" not in columns:
        return None
    rows = _csv_fast(data, separator, len(header), columns)  # polars refuses bytes that are not UTF-8
    return rows if rows is not None and rows.height else None


def _csv_fast(data: bytes, separator: str, width: int, columns: dict[str, int]) -> pl.DataFrame | None:
    """``_n, transcript_id, text`` of a well-formed UTF-8 CSV (blank rows left out, still counted); None when
    polars refuses it, or when its quotes are not well formed (polars would read a stray quote without a word)."""
    if not _quotes_well_formed(data, separator):
        return None
    try:
        frame = pl.read_csv(io.BytesIO(data), infer_schema=False, truncate_ragged_lines=False, separator=separator)
    except Exception:  # polars raises several types for malformed CSV; the slow path says what and where
        return None
    if frame.width != width:
        return None
    return (
        frame.with_row_index("_n", offset=1)
        .filter(~pl.all_horizontal(pl.exclude("_n").is_null()))  # a blank line (or only separators)
        .select(pl.col("_n").cast(pl.Int64), pl.nth(columns["transcript_id"] + 1).alias("transcript_id"), pl.nth(columns["text"] + 1).alias("text"))
    )


def _quotes_well_formed(data: bytes, separator: str) -> bool:
    """Whether every quote in ``data`` (UTF-8 CSV) opens a field, closes one, or is a doubled quote inside one.

    The quotes alternate: the 1st, 3rd, ... enter a quoted field, the 2nd, 4th, ... leave it
    (a doubled quote leaves and enters at once). An entering quote must start a field (after
    a separator, a line end, the start, or a leaving quote); a leaving quote must end one
    (before a separator, a line end, the end, or an entering quote). This is what Python's
    strict csv parser accepts, checked over the bytes at once. A quote inside an unquoted
    field (``5" screen``) fails it too: such a file is read by the slow path, which accepts it.
    """
    buffer = np.frombuffer(data, dtype=np.uint8)
    quotes = np.flatnonzero(buffer == 0x22)
    if quotes.size == 0:
        return True
    if quotes.size % 2:
        return False
    sep = ord(separator)
    enter, leave = quotes[0::2], quotes[1::2]
    before = buffer[enter[enter > 0] - 1]  # an entering quote at the very start is fine
    after = buffer[leave[leave < buffer.size - 1] + 1]  # so is a leaving quote at the very end
    return bool(((before == sep) | (before == 0x0A) | (before == 0x22)).all() and ((after == sep) | (after == 0x0D) | (after == 0x0A) | (after == 0x22)).all())


def _csv_slow(text: str, separator: str, columns: dict[str, int]) -> pl.DataFrame:
    """``_n, transcript_id, text, _error`` from :func:`_csv_rows_slowly` (blank rows left out)."""
    n, ids, texts, errors = [], [], [], []
    for number, row, error in _csv_rows_slowly(text, separator, columns):
        n.append(number)
        ids.append(None if row is None else row["transcript_id"])
        texts.append(None if row is None else row["text"])
        errors.append(error)
    return pl.DataFrame(
        {"_n": n, "transcript_id": ids, "text": texts, "_error": errors},
        schema={"_n": pl.Int64, "transcript_id": pl.String, "text": pl.String, "_error": pl.String},
    )


def _lines(text: str) -> Iterator[str]:
    """The lines of ``text`` split on "\\n" only, each with its line end (the csv module wants them so)."""
    start, end_of_text = 0, len(text)
    while start < end_of_text:
        end = text.find("\n", start)
        if end < 0:
            yield text[start:]
            return
        yield text[start : end + 1]
        start = end + 1


def _csv_rows_slowly(text: str, separator: str, columns: dict[str, int]) -> Iterator[tuple[int, dict | None, str | None]]:
    """``(row number, {column: value}, None)`` per good row, ``(row number, None, reason)`` per bad stretch.

    A parse error (a stray or unterminated quote) starts a bad stretch; the rows right
    after it that have the wrong number of fields are fragments of the same damage and
    join it. The stretch is one reject, numbered by its first row, naming its lines.
    Lines count "\\n" as the file has them, the header being line 1.
    """
    reader = csv.reader(_lines(text), delimiter=separator, strict=True)
    number = 0
    width: int | None = None
    stretch: tuple[int, int, int, str] | None = None  # (first row, first line, last line, error)

    def stretch_reject() -> tuple[int, None, str]:
        row, first, last, error = stretch
        lines = f"line {first}" if first == last else f"lines {first}-{last}"
        if error == "unexpected end of data":
            why = f"a quoted field opened in line {first} is never closed; {lines} (the rest of the file) not read"
        else:
            why = f"malformed CSV in {lines} ({error}): a stray or unterminated quote; {lines} not read"
        return row, None, why

    while True:
        first_line = reader.line_num + 1
        try:
            fields = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            if width is None:
                raise UnreadableInput(f"malformed CSV header in line {first_line} ({exc})") from None
            number += 1
            if stretch is not None:
                yield stretch_reject()
            stretch = (number, first_line, reader.line_num, str(exc))
            continue
        if width is None:
            width = len(fields)
            continue
        number += 1
        if not any(fields):  # a blank line (or only separators): counted, not a record, as polars reads it
            continue
        if len(fields) != width:
            if stretch is not None:  # a fragment of the damage before it
                stretch = (stretch[0], stretch[1], reader.line_num, stretch[3])
                continue
            plural = "s" if width != 1 else ""
            yield number, None, f"row has {len(fields)} fields in line {first_line}; the header has {width} field{plural} (an unquoted '{separator}' in the text?)"
            continue
        if stretch is not None:
            yield stretch_reject()
            stretch = None
        yield number, {want: fields[i] for want, i in columns.items()}, None
    if stretch is not None:
        yield stretch_reject()


# ---------------------------------------------------------------- Parquet

_TEXT_TYPES = (pa.types.is_string, pa.types.is_large_string, pa.types.is_null) + (
    (pa.types.is_string_view,) if hasattr(pa.types, "is_string_view") else ()
)


def _read_parquet_file(f: RawFile, data: bytes, sha: str) -> pl.DataFrame | list[dict]:
    try:
        parquet = pq.ParquetFile(pa.BufferReader(data))
        names = parquet.schema_arrow.names
    except Exception as exc:
        raise UnreadableInput(f"corrupt or unreadable Parquet: {_first_line(exc)}") from None
    columns = _pick_columns(names, "Parquet file")
    wanted = [names[i] for i in columns.values()]
    try:
        table = parquet.read(columns=wanted)
    except Exception as exc:
        raise UnreadableInput(f"corrupt or unreadable Parquet: {_first_line(exc)}") from None
    table = table.rename_columns(list(columns))
    types = {name: table.schema.field(name).type for name in columns}
    for name in ("transcript_id", "text"):
        kind = types.get(name)
        if kind is None:
            continue
        if pa.types.is_dictionary(kind):
            kind = kind.value_type
        if not any(test(kind) for test in _TEXT_TYPES):
            raise UnreadableInput(f"Parquet column '{names[columns[name]]}' holds {kind}, not text")
    if "text" in columns:
        frame = pl.from_arrow(table.select(["transcript_id", "text"]), rechunk=False)
        frame = frame.with_columns(pl.col("transcript_id", "text").cast(pl.String)).with_row_index("_n", offset=1)
        if frame.height == 0:
            raise UnreadableInput("Parquet file has no rows")
        return _table_records(f, "parquet", sha, frame.with_columns(pl.col("_n").cast(pl.Int64)))
    rows = ((f"row {n}", row, None) for n, row in enumerate(table.to_pylist(), start=1))
    return _rows_to_records(f, "parquet", sha, rows)


# ---------------------------------------------------------------- JSON lines


def _read_jsonl_file(f: RawFile, data: bytes, sha: str) -> list[dict]:
    """A JSON-lines file's records, one per non-blank line (``line N``); a bad line is that line's reject.

    A plain UTF-8 file is cut into lines as bytes and each line decoded on its own: one string of the
    whole file holds up to four bytes per character once a single emoji is in it (a 92 MB export took
    ~830 MB to read that way). A line that is not UTF-8 sends the file the general way
    (:func:`decode_bytes`: BOMs, UTF-16, Windows-1252); both give the same records.
    """
    if _plain(data):
        try:
            records = _jsonl_records(f, sha, (line.decode("utf-8") for line in data.split(b"\n")))
        except (UnicodeDecodeError, UnreadableInput):  # not UTF-8, or no line to read: the general way says why
            records = None
        if records is not None:
            return records
    return _jsonl_records(f, sha, iter(decode_bytes(data, nul_ok=True).split("\n")))


def _jsonl_records(f: RawFile, sha: str, lines: Iterator[str]) -> list[dict]:
    def rows() -> Iterator[tuple[str, dict | None, str | None]]:
        # "\n" only: U+2028, U+0085 and friends are legal inside JSON strings (str.splitlines splits on them)
        for n, line in enumerate(lines, start=1):
            line = line.removesuffix("\r")
            if not line.strip():
                continue
            where = f"line {n}"
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                yield where, None, f"line {n} is not valid JSON ({exc.msg} at column {exc.colno})"
                continue
            except RecursionError:
                yield where, None, f"line {n} is nested too deeply to read (JSON more than about {sys.getrecursionlimit()} levels deep)"
                continue
            except ValueError as exc:  # e.g. an integer of more digits than Python converts
                yield where, None, f"line {n} could not be decoded ({_first_line(exc)[:200]})"
                continue
            if not isinstance(obj, dict):
                yield where, None, f"line {n} is not a JSON object"
                continue
            if "transcript_id" not in obj or not {"text", "messages"} & obj.keys():
                yield where, None, f"line {n} has no 'transcript_id' and 'text' (or 'messages') fields"
                continue
            yield where, obj, None

    records = _rows_to_records(f, "jsonl", sha, rows())
    if not records:
        raise UnreadableInput("no JSON lines in this file")
    return records


_READERS = {"text": _read_text_file, "csv": _read_csv_file, "parquet": _read_parquet_file, "jsonl": _read_jsonl_file}


def _first_line(exc: Exception) -> str:
    message = str(exc).strip().splitlines()
    return message[0][:300] if message else type(exc).__name__


# ---------------------------------------------------------------- the folder


def _read_one(f: RawFile, max_file_bytes: int) -> list[dict] | pl.DataFrame:
    """The records of one file (dicts, or a frame for a big table); a file that cannot be read gives one reject.

    Nothing raises out of here: an unexpected failure of a reader is that file's reject too.
    """
    fmt = FORMAT_OF_SUFFIX[f.path.suffix.lower()]
    try:
        size = f.path.stat().st_size
        if size > max_file_bytes:
            reason = f"file is {size / 2**20:.1f} MiB, above the {max_file_bytes / 2**20:.0f} MiB limit; not read"
            return [_record(f, fmt, "", None, None, None, reason)]
        data = f.path.read_bytes()
    except OSError as exc:  # unreadable (mode 000), vanished or replaced by a folder since it was listed
        return [_record(f, fmt, "", None, None, None, f"could not read the file ({_os_reason(exc)})")]
    sha = hashlib.sha256(data).hexdigest()
    if not data or data.isspace():
        return [_record(f, fmt, "", sha, None, None, "empty file (no text, or whitespace only)")]
    try:
        return _READERS[fmt](f, data, sha)
    except UnreadableInput as exc:
        stem = f.path.stem
        return [_record(f, fmt, "", sha, stem if fmt == "text" and FILENAME_ID.match(stem) else None, None, str(exc))]
    except Exception as exc:  # a reader's bug or a limit (RecursionError, MemoryError is not caught) must cost this file only
        return [_record(f, fmt, "", sha, None, None, f"could not be read ({type(exc).__name__}: {_first_line(exc)})")]


def read_file(f: RawFile, *, max_file_bytes: int = DEFAULT_MAX_FILE_BYTES) -> pl.DataFrame:
    """All records of one file (:data:`RECORD_SCHEMA`); a file that cannot be read gives one reject record."""
    records = _read_one(f, max_file_bytes)
    return records if isinstance(records, pl.DataFrame) else records_frame(records)


def records_frame(records: list[dict]) -> pl.DataFrame:
    """The records as a frame of :data:`RECORD_SCHEMA` (built column by column: faster than row dicts)."""
    return pl.DataFrame({name: [r[name] for r in records] for name in RECORD_SCHEMA}, schema=RECORD_SCHEMA)


def read_files(files: Iterable[RawFile], rejects: Iterable[dict] = (), *, max_file_bytes: int = DEFAULT_MAX_FILE_BYTES) -> pl.DataFrame:
    """The records of ``files`` (in the order given), after ``rejects`` (records made by :func:`discover`)."""
    parts: list[pl.DataFrame] = []
    records = list(rejects)
    for f in files:
        got = _read_one(f, max_file_bytes)
        if isinstance(got, pl.DataFrame):  # a table's frame: keep the order of records across files
            if records:
                parts.append(records_frame(records))
                records = []
            parts.append(got)
        else:
            records.extend(got)
    if records or not parts:
        parts.append(records_frame(records))
    return parts[0] if len(parts) == 1 else pl.concat(parts, how="vertical", rechunk=False)


def read_raw_folder(
    root: Path, *, max_file_bytes: int = DEFAULT_MAX_FILE_BYTES, only: set[str] | None = None
) -> tuple[pl.DataFrame, int]:
    """Every record under ``root`` (good and rejected) and the number of files read.

    ``only`` (relative paths) limits the read to those files, e.g. one batch's.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"raw folder {root} does not exist or is not a folder")
    files, rejects = discover(root, only)
    return read_files(files, rejects, max_file_bytes=max_file_bytes), len(files)

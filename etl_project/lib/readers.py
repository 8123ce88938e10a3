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
"""

from __future__ import annotations

import codecs
import hashlib
import io
import json
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

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
    """A file found under the raw folder: its path relative to the root and on disk."""

    relative: str
    path: Path


# ---------------------------------------------------------------- discovery


def discover(root: Path, only: set[str] | None = None) -> tuple[list[RawFile], list[dict]]:
    """Files to read (sorted by relative path) and rejects for what must not be read.

    Hidden files and folders (``.DS_Store``, ``._x``, ``.git``) and README/LICENSE
    files are skipped. Symbolic links are never followed out of ``root``: such a
    link becomes a reject. Unsupported file types become rejects. ``only``
    (relative paths) restricts the result to those paths.
    """
    files, rejects = _discover_all(root)
    if only is None:
        return files, rejects
    return [f for f in files if f.relative in only], [r for r in rejects if r["source_file"] in only]


def _discover_all(root: Path) -> tuple[list[RawFile], list[dict]]:
    root = Path(root)
    real_root = root.resolve()
    files: list[RawFile] = []
    rejects: list[dict] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        here = Path(dirpath)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for d in list(dirnames):
            if (here / d).is_symlink():
                dirnames.remove(d)
                target = (here / d).resolve()
                if not _inside(target, real_root):
                    rejects.append(_file_reject(here / d, root, None, f"symbolic link to a folder outside the raw folder ({target}); not followed"))
        for name in sorted(filenames):
            if name.startswith(".") or IGNORED_NAMES.match(name):
                continue
            path = here / name
            rel = path.relative_to(root).as_posix()
            if path.is_symlink():
                target = path.resolve()
                if not _inside(target, real_root):
                    rejects.append(_file_reject(path, root, None, f"symbolic link to a file outside the raw folder ({target}); not followed"))
                    continue
                if not target.is_file():
                    rejects.append(_file_reject(path, root, None, "symbolic link that leads to no file"))
                    continue
            if not path.is_file():
                rejects.append(_file_reject(path, root, None, "not a regular file"))
                continue
            if path.suffix.lower() not in FORMAT_OF_SUFFIX:
                kinds = ", ".join(sorted(FORMAT_OF_SUFFIX))
                rejects.append(_file_reject(path, root, None, f"unsupported file type '{path.suffix or '(none)'}'; supported: {kinds}"))
                continue
            files.append(RawFile(rel, path))
    files.sort(key=lambda f: f.relative)
    return files, rejects


def _inside(target: Path, real_root: Path) -> bool:
    return target == real_root or real_root in target.parents


def _file_reject(path: Path, root: Path, sha: str | None, reason: str, transcript_id: str | None = None) -> dict:
    return {
        "source_file": path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path),
        "source_format": FORMAT_OF_SUFFIX.get(path.suffix.lower()),
        "source_record": "",
        "source_sha256": sha,
        "transcript_id": transcript_id,
        "dialog_number": None,
        "text": None,
        "reject_reason": reason,
    }


# ---------------------------------------------------------------- decoding


def _latin1_fallback(error: UnicodeDecodeError) -> tuple[str, int]:
    # Bytes Windows-1252 leaves undefined (0x81, 0x8D, 0x8F, 0x90, 0x9D) map to
    # the code point of the same number, as browsers do.
    bad = error.object[error.start : error.end]
    return bad.decode("latin-1"), error.end


codecs.register_error("etl_latin1_fallback", _latin1_fallback)


def decode_bytes(data: bytes) -> str:
    """Decode a text file's bytes: BOM first, then strict UTF-8, else Windows-1252.

    Raises :class:`UnreadableInput` for empty or binary content.
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
    elif b"\x00" in data:
        text = _decode_strict(data, _bomless_utf16(data))
    else:
        text = _decode_utf8_or_1252(data)
    if not text or text.isspace():
        raise UnreadableInput("empty file (no text, or whitespace only)")
    if "\x00" in text:
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


_CONTROL_BYTES = re.compile(r"[\x00-\x08\x0b\x0e-\x1f]")
_CONTROL_BYTE_VALUES = bytes([*range(0x00, 0x09), 0x0B, *range(0x0E, 0x20)])


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


def _bomless_utf16(data: bytes) -> str:
    """UTF-16 without a BOM shows NUL in every other byte of ASCII text."""
    head = data[:4096]
    even, odd = head[0::2], head[1::2]
    if odd and odd.count(0) > 0.9 * len(odd) and even.count(0) < 0.1 * len(even):
        return "utf-16-le"
    if even and even.count(0) > 0.9 * len(even) and odd.count(0) < 0.1 * len(odd):
        return "utf-16-be"
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
    sha: str,
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
            raise UnreadableInput(f"message {n} has role '{message.get('role')}'; expected assistant or user")
        content = message.get("content")
        if content is None:
            content = ""
        if not isinstance(content, str):
            raise UnreadableInput(f"message {n} has non-text content")
        blocks.append(f"{ROLE_LABELS[role]}: {content.strip()}")
    return "\n\n".join(blocks)


def _rows_to_records(f: RawFile, fmt: str, sha: str, rows: Iterable[tuple[str, dict | None, str | None]]) -> list[dict]:
    """Turn (locator, row, parse error) triples into records."""
    records = []
    for where, row, error in rows:
        if error is not None:
            records.append(_record(f, fmt, where, sha, None, None, error))
            continue
        assert row is not None
        raw_id = row.get("transcript_id")
        transcript_id = None if raw_id is None else str(raw_id).strip() or None
        text, reason = None, None
        if transcript_id is None:
            reason = "no transcript id in this row"
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
        records.append(_record(f, fmt, where, sha, transcript_id, text, reason))
    return records


def _require_columns(columns: Iterable[str], what: str) -> None:
    names = set(columns)
    if "transcript_id" not in names or not names & {"text", "messages"}:
        found = ", ".join(sorted(names)) or "none"
        raise UnreadableInput(f"{what} has no 'transcript_id' and 'text' (or 'messages') columns; found: {found}")


def _read_csv_file(f: RawFile, data: bytes, sha: str) -> list[dict]:
    text = decode_bytes(data)
    header = text[:65536].lstrip("\ufeff").split("\n", 1)[0]
    separator = "\t" if "\t" in header and "," not in header else ","  # spreadsheet "Unicode text" exports
    try:
        frame = pl.read_csv(io.BytesIO(text.encode("utf-8")), infer_schema=False, truncate_ragged_lines=False, separator=separator)
    except Exception as exc:  # polars raises several types for malformed CSV
        raise UnreadableInput(f"malformed CSV: {_first_line(exc)}") from None
    frame = frame.rename({c: c.strip().lstrip("\ufeff").lower() for c in frame.columns})
    _require_columns(frame.columns, "CSV")
    wanted = [c for c in ("transcript_id", "text", "messages") if c in frame.columns]
    rows = ((f"row {n}", row, None) for n, row in enumerate(frame.select(wanted).iter_rows(named=True), start=1))
    return _rows_to_records(f, "csv", sha, rows)


def _read_parquet_file(f: RawFile, data: bytes, sha: str) -> list[dict]:
    try:
        table = pq.read_table(pa.BufferReader(data))
    except Exception as exc:
        raise UnreadableInput(f"corrupt or unreadable Parquet: {_first_line(exc)}") from None
    _require_columns(table.column_names, "Parquet file")
    wanted = [c for c in ("transcript_id", "text", "messages") if c in table.column_names]
    rows = ((f"row {n}", row, None) for n, row in enumerate(table.select(wanted).to_pylist(), start=1))
    return _rows_to_records(f, "parquet", sha, rows)


def _read_jsonl_file(f: RawFile, data: bytes, sha: str) -> list[dict]:
    text = decode_bytes(data)

    def rows() -> Iterator[tuple[str, dict | None, str | None]]:
        for n, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            where = f"line {n}"
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                yield where, None, f"line {n} is not valid JSON ({exc.msg} at column {exc.colno})"
                continue
            if not isinstance(obj, dict):
                yield where, None, f"line {n} is not a JSON object"
                continue
            if "transcript_id" not in obj or not {"text", "messages"} & obj.keys():
                yield where, None, f"line {n} has no 'transcript_id' and 'text' (or 'messages') fields"
                continue
            yield where, obj, None

    return _rows_to_records(f, "jsonl", sha, rows())


_READERS = {"text": _read_text_file, "csv": _read_csv_file, "parquet": _read_parquet_file, "jsonl": _read_jsonl_file}


def _first_line(exc: Exception) -> str:
    message = str(exc).strip().splitlines()
    return message[0][:300] if message else type(exc).__name__


# ---------------------------------------------------------------- the folder


def read_file(f: RawFile, *, max_file_bytes: int = DEFAULT_MAX_FILE_BYTES) -> list[dict]:
    """All records of one file; a file that cannot be read gives one reject record."""
    fmt = FORMAT_OF_SUFFIX[f.path.suffix.lower()]
    size = f.path.stat().st_size
    if size > max_file_bytes:
        reason = f"file is {size / 2**20:.1f} MiB, above the {max_file_bytes / 2**20:.0f} MiB limit; not read"
        return [_record(f, fmt, "", None, None, None, reason)]
    data = f.path.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    if not data or data.isspace():
        return [_record(f, fmt, "", sha, None, None, "empty file (no text, or whitespace only)")]
    try:
        return _READERS[fmt](f, data, sha)
    except UnreadableInput as exc:
        stem = f.path.stem
        return [_record(f, fmt, "", sha, stem if fmt == "text" and FILENAME_ID.match(stem) else None, None, str(exc))]
    except OSError as exc:
        return [_record(f, fmt, "", sha, None, None, f"could not read the file: {exc.strerror or exc}")]


def records_frame(records: list[dict]) -> pl.DataFrame:
    """The records as a frame of :data:`RECORD_SCHEMA` (built column by column: faster than row dicts)."""
    return pl.DataFrame({name: [r[name] for r in records] for name in RECORD_SCHEMA}, schema=RECORD_SCHEMA)


def read_files(files: Iterable[RawFile], rejects: Iterable[dict] = (), *, max_file_bytes: int = DEFAULT_MAX_FILE_BYTES) -> pl.DataFrame:
    """The records of ``files`` (in the order given), after ``rejects`` (records made by :func:`discover`)."""
    records = list(rejects)
    for f in files:
        records.extend(read_file(f, max_file_bytes=max_file_bytes))
    return records_frame(records)


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

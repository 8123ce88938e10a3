"""Every input layout and encoding becomes the same records; unreadable input becomes a reason."""

from __future__ import annotations

import codecs
import json
import os
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from etl_project.lib.readers import decode_bytes, parse_text_transcript, read_raw_folder
from etl_project_tests.conftest import SIMPLE_DIALOG, dialog, md_transcript

TEXT = "I don’t use it for client work – ever. Café."
BODY = dialog(("Assistant", "How do you use AI?"), ("User", TEXT))


def records(raw_dir: Path) -> pl.DataFrame:
    frame, _ = read_raw_folder(raw_dir)
    return frame


def only(frame: pl.DataFrame) -> dict:
    assert frame.height == 1, frame
    return frame.row(0, named=True)


@pytest.mark.parametrize(
    ("encoding", "prefix"),
    [("utf-8", b""), ("utf-8", codecs.BOM_UTF8), ("utf-16-le", codecs.BOM_UTF16_LE), ("utf-16-be", codecs.BOM_UTF16_BE), ("cp1252", b""), ("utf-16-le", b"")],
    ids=["utf8", "utf8-bom", "utf16le-bom", "utf16be-bom", "windows-1252", "utf16le-no-bom"],
)
@pytest.mark.parametrize("newline", ["\n", "\r\n"], ids=["lf", "crlf"])
def test_text_file_encodings_and_line_endings(raw_dir: Path, encoding: str, prefix: bytes, newline: str) -> None:
    content = md_transcript("work_0042", BODY, dialog_number=585).replace("\n", newline)
    (raw_dir / "t.md").write_bytes(prefix + content.encode(encoding))
    row = only(records(raw_dir))
    assert row["reject_reason"] is None
    assert (row["transcript_id"], row["dialog_number"], row["source_format"]) == ("work_0042", 585, "text")
    assert row["text"].replace("\r\n", "\n").strip() == BODY


def test_header_is_parsed_and_body_kept_exactly() -> None:
    text = "# Dialog 00007\n\n**Transcript ID:** science_7\n\n---\n\nAI: Hi\n\n---\n\nUser: Yo\n"
    dialog_number, header_id, body = parse_text_transcript(text)
    assert (dialog_number, header_id) == (7, "science_7")
    assert body == "AI: Hi\n\n---\n\nUser: Yo\n"  # a rule inside the dialog is text, not header


def test_file_name_is_the_id_when_there_is_no_header(raw_dir: Path) -> None:
    (raw_dir / "creativity_0101.txt").write_text(SIMPLE_DIALOG, encoding="utf-8")
    row = only(records(raw_dir))
    assert (row["transcript_id"], row["dialog_number"], row["reject_reason"]) == ("creativity_0101", None, None)
    assert row["text"] == SIMPLE_DIALOG


def test_no_header_and_no_id_file_name_is_rejected_with_reason(raw_dir: Path) -> None:
    (raw_dir / "notes.md").write_text(SIMPLE_DIALOG, encoding="utf-8")
    row = only(records(raw_dir))
    assert row["transcript_id"] is None
    assert "no transcript id" in row["reject_reason"]


def test_release_csv_with_multiline_quoted_fields(raw_dir: Path) -> None:
    quoted = BODY.replace('"', '""')
    (raw_dir / "release.csv").write_text(
        f'"transcript_id","text"\n"work_0001","{quoted}"\n"work_0002","AI: Hi ""there""\n\nUser: Hello,\nworld"\n', encoding="utf-8"
    )
    frame = records(raw_dir)
    assert frame.get_column("transcript_id").to_list() == ["work_0001", "work_0002"]
    assert frame.get_column("source_record").to_list() == ["row 1", "row 2"]
    assert frame.get_column("text").to_list() == [BODY, 'AI: Hi "there"\n\nUser: Hello,\nworld']
    assert frame.get_column("reject_reason").null_count() == 2


def test_csv_in_windows_1252_with_crlf(raw_dir: Path) -> None:
    content = '"transcript_id","text"\r\n"work_0003","AI: Q?\r\nUser: ' + TEXT + '"\r\n'
    (raw_dir / "win.csv").write_bytes(content.encode("cp1252"))
    row = only(records(raw_dir))
    assert TEXT in row["text"]


def test_csv_row_with_empty_text_rejects_that_row_only(raw_dir: Path) -> None:
    (raw_dir / "r.csv").write_text('transcript_id,text\nwork_1,"AI: a\nUser: b"\nwork_2,""\nwork_3,"AI: c\nUser: d"\n')
    frame = records(raw_dir)
    reasons = dict(zip(frame["transcript_id"], frame["reject_reason"]))
    assert reasons["work_1"] is None and reasons["work_3"] is None
    assert "no text" in reasons["work_2"] or "empty" in reasons["work_2"]


def test_csv_without_required_columns_is_rejected(raw_dir: Path) -> None:
    (raw_dir / "wrong.csv").write_text("id,body\nwork_1,hello\n")
    row = only(records(raw_dir))
    assert "no 'transcript_id' and 'text'" in row["reject_reason"]
    assert row["source_file"] == "wrong.csv"


def test_parquet_with_text_and_with_chat_messages(raw_dir: Path) -> None:
    pq.write_table(pa.table({"transcript_id": ["work_10"], "text": [BODY]}), raw_dir / "a.parquet")
    messages = [[{"role": "assistant", "content": "How do you use AI?"}, {"role": "user", "content": TEXT}]]
    pq.write_table(pa.table({"transcript_id": ["work_11"], "messages": messages}), raw_dir / "b.parquet")
    frame = records(raw_dir)
    assert frame.get_column("transcript_id").to_list() == ["work_10", "work_11"]
    assert frame.get_column("text").to_list() == [BODY, BODY]
    assert frame.get_column("source_format").to_list() == ["parquet", "parquet"]


def test_corrupt_parquet_is_rejected(raw_dir: Path) -> None:
    (raw_dir / "broken.parquet").write_bytes(b"PAR1 this is not parquet at all")
    row = only(records(raw_dir))
    assert "Parquet" in row["reject_reason"]


def test_jsonl_text_chat_and_a_bad_line(raw_dir: Path) -> None:
    lines = [
        json.dumps({"transcript_id": "science_1", "text": BODY}),
        "{not json",
        "",
        json.dumps({"transcript_id": "science_2", "messages": [{"role": "assistant", "content": "How do you use AI?"}, {"role": "user", "content": TEXT}]}),
        json.dumps({"transcript_id": "science_3", "messages": [{"role": "system", "content": "x"}]}),
    ]
    (raw_dir / "export.jsonl").write_text("\n".join(lines), encoding="utf-8")
    frame = records(raw_dir)
    by_record = {r["source_record"]: r for r in frame.iter_rows(named=True)}
    assert by_record["line 1"]["text"] == BODY and by_record["line 1"]["reject_reason"] is None
    assert "line 2 is not valid JSON" in by_record["line 2"]["reject_reason"]
    assert by_record["line 4"]["text"] == BODY and by_record["line 4"]["reject_reason"] is None
    assert "role 'system'" in by_record["line 5"]["reject_reason"]
    assert "line 3" not in by_record  # blank lines are not records


def test_hidden_and_readme_files_are_ignored_unsupported_types_rejected(raw_dir: Path) -> None:
    (raw_dir / ".DS_Store").write_bytes(b"\x00\x01binary")
    (raw_dir / "._work_1.md").write_bytes(b"\x00\x05")
    (raw_dir / "README.md").write_text("# About this folder")
    (raw_dir / "slides.pptx").write_bytes(b"PK\x03\x04")
    frame = records(raw_dir)
    row = only(frame)
    assert row["source_file"] == "slides.pptx"
    assert "unsupported file type '.pptx'" in row["reject_reason"]


def test_symlink_out_of_the_raw_folder_is_not_followed(raw_dir: Path, tmp_path: Path) -> None:
    secret = tmp_path / "outside.md"
    secret.write_text(md_transcript("work_9999"))
    os.symlink(secret, raw_dir / "link.md")
    os.symlink(tmp_path, raw_dir / "linkdir")
    frame = records(raw_dir)
    assert frame.get_column("text").null_count() == frame.height  # nothing from outside was read
    assert set(frame.get_column("source_file")) == {"link.md", "linkdir"}
    assert all("outside the raw folder" in r for r in frame.get_column("reject_reason"))


def test_files_in_subfolders_are_read_recursively(raw_dir: Path) -> None:
    (raw_dir / "a" / "b").mkdir(parents=True)
    (raw_dir / "a" / "b" / "t.md").write_text(md_transcript("work_5"))
    row = only(records(raw_dir))
    assert (row["source_file"], row["transcript_id"]) == ("a/b/t.md", "work_5")


@pytest.mark.parametrize(
    ("data", "reason"),
    [(b"", "empty"), (b"   \n\t  ", "empty"), (b"%PDF-1.4 ...", "PDF"), (b"\x89PNG\r\n\x1a\n", "PNG"), (bytes(range(256)) * 4, "binary")],
)
def test_decode_bytes_refuses_empty_and_binary(data: bytes, reason: str) -> None:
    from etl_project.lib.readers import UnreadableInput

    with pytest.raises(UnreadableInput, match=reason):
        decode_bytes(data)


def test_tab_separated_utf16_spreadsheet_export(raw_dir: Path) -> None:
    content = "transcript_id\ttext\r\nwork_0007\t\"AI: Q?\r\nUser: A.\"\r\n"
    (raw_dir / "export.csv").write_bytes(codecs.BOM_UTF16_LE + content.encode("utf-16-le"))
    row = only(records(raw_dir))
    assert (row["transcript_id"], row["reject_reason"]) == ("work_0007", None)
    assert row["text"].replace("\r\n", "\n") == "AI: Q?\nUser: A."


@pytest.mark.parametrize(("assistant", "user"), [("assistant", "user"), ("Assistant", "User"), ("ai", "human"), ("interviewer", "participant")])
def test_chat_role_spellings(raw_dir: Path, assistant: str, user: str) -> None:
    line = {"transcript_id": "work_1", "messages": [{"role": assistant, "content": "How do you use AI?"}, {"role": user, "content": TEXT}]}
    (raw_dir / "chat.jsonl").write_text(json.dumps(line))
    assert only(records(raw_dir))["text"] == BODY

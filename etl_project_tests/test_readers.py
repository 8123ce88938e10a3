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


# ---------------------------------------------------------------- hostile inputs (issue 14)


def reasons(frame: pl.DataFrame) -> dict[tuple[str, str], str]:
    return {(r["source_file"], r["source_record"]): r["reject_reason"] for r in frame.iter_rows(named=True) if r["reject_reason"]}


def good_ids(frame: pl.DataFrame) -> list[str]:
    return frame.filter(pl.col("reject_reason").is_null())["transcript_id"].to_list()


def test_symlink_loops_are_rejects_not_crashes(raw_dir: Path) -> None:
    (raw_dir / "work_0001.md").write_text(md_transcript("work_0001"))
    os.symlink(raw_dir / "b.md", raw_dir / "a.md")
    os.symlink(raw_dir / "a.md", raw_dir / "b.md")  # a.md -> b.md -> a.md
    (raw_dir / "sub").mkdir()
    os.symlink(raw_dir / "sub" / "self", raw_dir / "sub" / "self")  # a link to itself
    os.symlink(raw_dir, raw_dir / "sub" / "up")  # a folder link back up: inside, not followed
    frame = records(raw_dir)
    assert good_ids(frame) == ["work_0001"]
    got = reasons(frame)
    for name in ("a.md", "b.md", "sub/self"):
        assert "cannot be resolved (a loop" in got[(name, "")], name
    from etl_project.lib.readers import discover_folder

    assert [s.relative for s in discover_folder(raw_dir).skipped] == ["sub/up"]


def test_a_file_name_that_is_not_utf8_is_read_and_shown_escaped(raw_dir: Path) -> None:
    with open(os.fsencode(raw_dir) + b"/caf\xe9 work_0002.md", "wb") as fh:  # Latin-1 bytes in the name
        fh.write(md_transcript("work_0002").encode())
    with open(os.fsencode(raw_dir) + b"/bad\xff.pdf", "wb") as fh:
        fh.write(b"%PDF-1.4")
    frame = records(raw_dir)
    by_file = {r["source_file"]: r for r in frame.iter_rows(named=True)}
    assert set(by_file) == {"caf\\xe9 work_0002.md", "bad\\xff.pdf"}
    assert by_file["caf\\xe9 work_0002.md"]["transcript_id"] == "work_0002"  # read by its real bytes path
    assert by_file["caf\\xe9 work_0002.md"]["reject_reason"] is None
    assert "unsupported file type" in by_file["bad\\xff.pdf"]["reject_reason"]
    for name in by_file:
        name.encode("utf-8")  # valid UTF-8: no lone surrogates left
        assert name.isprintable()


def test_control_characters_in_a_file_name_are_escaped(raw_dir: Path) -> None:
    (raw_dir / "line\nbreak.md").write_text(md_transcript("work_0003"))
    row = only(records(raw_dir))
    assert (row["source_file"], row["transcript_id"]) == ("line\\x0abreak.md", "work_0003")


def _deny(monkeypatch: pytest.MonkeyPatch, path: Path, *, listing: bool = False) -> None:
    """Make ``path`` unreadable: mode 000, and, as root (who reads it anyway), the same error by hand."""
    path.chmod(0)
    if os.geteuid() != 0:
        return
    if listing:
        real_scandir = os.scandir

        def scandir(target=".", *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
            if not isinstance(target, int) and Path(os.fsdecode(target)) == path:  # (shutil passes a descriptor)
                raise PermissionError(13, "Permission denied", os.fsdecode(target))
            return real_scandir(target, *args, **kwargs)

        monkeypatch.setattr(os, "scandir", scandir)
    else:
        real_read_bytes = Path.read_bytes

        def read_bytes(self: Path) -> bytes:
            if self == path:
                raise PermissionError(13, "Permission denied", str(self))
            return real_read_bytes(self)

        monkeypatch.setattr(Path, "read_bytes", read_bytes)


def test_an_unreadable_file_is_a_reject_naming_the_reason(raw_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (raw_dir / "work_0001.md").write_text(md_transcript("work_0001"))
    (raw_dir / "locked.md").write_text(md_transcript("work_0002"))
    _deny(monkeypatch, raw_dir / "locked.md")
    try:
        frame = records(raw_dir)
    finally:
        (raw_dir / "locked.md").chmod(0o644)
    assert good_ids(frame) == ["work_0001"]
    assert reasons(frame) == {("locked.md", ""): "could not read the file (permission denied)"}


def test_a_folder_that_cannot_be_listed_is_a_reject_not_silence(raw_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (raw_dir / "work_0001.md").write_text(md_transcript("work_0001"))
    (raw_dir / "closed").mkdir()
    (raw_dir / "closed" / "work_0002.md").write_text(md_transcript("work_0002"))
    _deny(monkeypatch, raw_dir / "closed", listing=True)
    try:
        frame = records(raw_dir)
    finally:
        (raw_dir / "closed").chmod(0o755)
    assert good_ids(frame) == ["work_0001"]
    assert reasons(frame) == {("closed", ""): "could not list this folder (permission denied); the files in it were not read"}


def _warehouse_like(folder: Path) -> None:
    (folder / "_batches").mkdir(parents=True)
    (folder / "transcripts" / "split=workforce").mkdir(parents=True)
    pq.write_table(pa.table({"transcript_id": ["work_0009"], "text": [BODY]}), folder / "transcripts" / "split=workforce" / "part-b00000.parquet")


def test_a_warehouse_or_dagster_home_inside_the_raw_folder_is_skipped_and_listed(raw_dir: Path) -> None:
    from etl_project.lib.readers import discover_folder

    (raw_dir / "work_0001.md").write_text(md_transcript("work_0001"))
    _warehouse_like(raw_dir / "warehouse")
    (raw_dir / "old_wh" / "turns" / "split=creatives").mkdir(parents=True)  # no bookkeeping folders, a table's parts
    pq.write_table(pa.table({"transcript_id": ["work_0008"], "text": [BODY]}), raw_dir / "old_wh" / "turns" / "split=creatives" / "part-b00000.parquet")
    (raw_dir / ".dagster_home").mkdir()  # hidden: ignored as before
    (raw_dir / "dg").mkdir()
    (raw_dir / "dg" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    (raw_dir / "dg" / "history").mkdir()
    (raw_dir / "dg" / "history" / "runs.md").write_text(md_transcript("work_0007"))
    frame = records(raw_dir)
    assert frame["transcript_id"].to_list() == ["work_0001"]  # nothing read from them, and no rejects either
    skipped = {s.relative: s.reason for s in discover_folder(raw_dir).skipped}
    assert set(skipped) == {"warehouse", "old_wh", "dg"}
    assert "a warehouse is never read as input" in skipped["warehouse"] and "a warehouse" in skipped["old_wh"]
    assert "a Dagster home" in skipped["dg"]


def test_a_raw_folder_that_is_a_warehouse_reads_nothing(tmp_path: Path) -> None:
    from etl_project.lib.readers import discover_folder

    _warehouse_like(tmp_path / "wh")
    found = discover_folder(tmp_path / "wh")
    assert (found.files, found.rejects) == ([], [])
    assert [(s.relative, s.reason.split(";")[0]) for s in found.skipped] == [(".", "the raw folder is itself a warehouse (it has _batches, _staging, _locks or table folders)")]


def test_a_folder_named_like_a_table_is_still_input(raw_dir: Path) -> None:
    (raw_dir / "exports" / "transcripts").mkdir(parents=True)
    pq.write_table(pa.table({"transcript_id": ["work_0006"], "text": [BODY]}), raw_dir / "exports" / "transcripts" / "part-1.parquet")
    assert good_ids(records(raw_dir)) == ["work_0006"]


def _csv(n: int, *, text: str = "AI: q?\nUser: a.") -> list[str]:
    quoted = text.replace('"', '""')
    return ["transcript_id,text", *(f'work_{i:06d},"{quoted}"' for i in range(1, n + 1))]


def test_one_extra_field_in_row_50000_of_100000_costs_that_row_only(raw_dir: Path) -> None:
    lines = _csv(100_000, text="x")
    lines[50_000] = lines[50_000] + ",surplus"  # data row 50,000 (line 50,001)
    (raw_dir / "release.csv").write_text("\n".join(lines) + "\n")
    frame = records(raw_dir)
    assert frame.height == 100_000
    bad = frame.filter(pl.col("reject_reason").is_not_null())
    assert bad["source_record"].to_list() == ["row 50000"]
    assert bad["reject_reason"][0] == "row has 3 fields in line 50001; the header has 2 fields (an unquoted ',' in the text?)"
    good = frame.filter(pl.col("reject_reason").is_null())
    assert good.height == 99_999
    assert good.filter(pl.col("transcript_id") == "work_050001")["source_record"].to_list() == ["row 50001"]  # numbers kept


def test_an_unterminated_quote_rejects_what_it_swallows_rows_before_and_after_land(raw_dir: Path) -> None:
    lines = _csv(10)  # each row is 2 lines: row N starts in line 2N
    lines[6] = 'work_000006,"AI: q?'  # row 6 (line 12) opens a quote that row 7's opening quote "closes"
    (raw_dir / "cut.csv").write_text("\n".join(lines) + "\n")
    frame = records(raw_dir)
    assert good_ids(frame) == [f"work_{i:06d}" for i in (1, 2, 3, 4, 5, 8, 9, 10)]
    assert reasons(frame) == {
        ("cut.csv", "row 6"): "malformed CSV in lines 12-14 (',' expected after '\"'): a stray or unterminated quote; lines 12-14 not read"
    }
    assert frame.filter(pl.col("transcript_id") == "work_000008")["source_record"].to_list() == ["row 8"]


def test_a_quote_never_closed_at_the_end_of_the_file(raw_dir: Path) -> None:
    lines = _csv(5)
    lines.append('work_000006,"AI: q?\nUser: the file was cut he')
    (raw_dir / "cut.csv").write_text("\n".join(lines))
    frame = records(raw_dir)
    assert good_ids(frame) == [f"work_{i:06d}" for i in range(1, 6)]
    assert reasons(frame) == {("cut.csv", "row 6"): "a quoted field opened in line 12 is never closed; lines 12-13 (the rest of the file) not read"}


def test_a_stray_quote_in_the_middle_recovers_after_it(raw_dir: Path) -> None:
    lines = _csv(6)
    lines[3] = 'work_000003,"AI: q?\nUser: he said "no" twice."'
    (raw_dir / "stray.csv").write_text("\n".join(lines) + "\n")
    frame = records(raw_dir)
    assert "work_000003" not in good_ids(frame)
    assert {"work_000001", "work_000002", "work_000004", "work_000005", "work_000006"} <= set(good_ids(frame))
    assert list(reasons(frame)) == [("stray.csv", "row 3")]


def test_a_nul_byte_in_one_row_of_a_1000_row_csv_costs_that_row_only(raw_dir: Path) -> None:
    lines = _csv(1000)
    lines[500] = lines[500].replace("q?", "q\x00?")
    (raw_dir / "nul.csv").write_text("\n".join(lines) + "\n")
    frame = records(raw_dir)
    assert len(good_ids(frame)) == 999
    assert reasons(frame) == {("nul.csv", "row 500"): "a NUL byte in this record: damaged data, not text"}


@pytest.mark.parametrize("header", ["transcript_id,Transcript_ID,text", "transcript_id,transcript_id,text", "transcript_id,text,TEXT "])
def test_a_header_naming_a_column_twice_is_one_clear_reject(raw_dir: Path, header: str) -> None:
    (raw_dir / "twice.csv").write_text(f"{header}\nwork_1,work_2,AI: q\n")
    row = only(records(raw_dir))
    assert row["source_record"] == ""
    assert "columns named" in row["reject_reason"] and "which one to read is ambiguous" in row["reject_reason"]


def test_unused_columns_may_repeat(raw_dir: Path) -> None:
    (raw_dir / "extra.csv").write_text('Notes,transcript_id,notes,text\nx,work_0001,y,"AI: q\nUser: a"\n')
    row = only(records(raw_dir))
    assert (row["transcript_id"], row["text"], row["reject_reason"]) == ("work_0001", "AI: q\nUser: a", None)


def test_a_csv_with_only_a_header_is_a_reject_not_silence(raw_dir: Path) -> None:
    (raw_dir / "empty.csv").write_text("transcript_id,text\n")
    assert "no rows" in only(records(raw_dir))["reject_reason"]


def test_a_csv_with_classic_mac_line_ends(raw_dir: Path) -> None:
    (raw_dir / "mac.csv").write_bytes(b'transcript_id,text\rwork_0001,"AI: q"\rwork_0002,"AI: r"\r')
    assert good_ids(records(raw_dir)) == ["work_0001", "work_0002"]


def test_fast_and_fallback_csv_parses_agree_on_rows_and_numbers(raw_dir: Path) -> None:
    """A blank line is counted but is no record, the same whichever parser reads the file."""
    body = 'transcript_id,text\nwork_1,"AI: a\n\nUser: b"\n\nwork_2,""\n,\nwork_3,c\n'
    (raw_dir / "fast.csv").write_text(body)
    (raw_dir / "slow.csv").write_text(body + "work_4,d,surplus\n")
    frame = records(raw_dir)
    rows = {f: frame.filter(pl.col("source_file") == f).select("source_record", "transcript_id", "text", "reject_reason").rows() for f in ("fast.csv", "slow.csv")}
    assert rows["slow.csv"][:-1] == rows["fast.csv"]
    assert [r[0] for r in rows["fast.csv"]] == ["row 1", "row 3", "row 5"]


def test_jsonl_keeps_unicode_line_separators_inside_strings(raw_dir: Path) -> None:
    lines = [
        json.dumps({"transcript_id": "work_0001", "text": "AI: q\u2028still q\n\nUser: a\u0085b"}, ensure_ascii=False),
        json.dumps({"transcript_id": "work_0002", "text": BODY}),
    ]
    (raw_dir / "sep.jsonl").write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")
    frame = records(raw_dir)
    assert frame.select("source_record", "transcript_id", "reject_reason").rows() == [("line 1", "work_0001", None), ("line 2", "work_0002", None)]
    assert frame["text"][0] == "AI: q\u2028still q\n\nUser: a\u0085b"


def test_a_jsonl_line_nested_100000_deep_is_that_lines_reject(raw_dir: Path) -> None:
    lines = [json.dumps({"transcript_id": "work_0001", "text": BODY}), '{"transcript_id": ' + "[" * 100_000 + "]" * 100_000 + "}", json.dumps({"transcript_id": "work_0003", "text": BODY})]
    (raw_dir / "deep.jsonl").write_text("\n".join(lines))
    frame = records(raw_dir)
    assert good_ids(frame) == ["work_0001", "work_0003"]
    assert "line 2 is nested too deeply" in reasons(frame)[("deep.jsonl", "line 2")]


def test_jsonl_ids_must_be_text(raw_dir: Path) -> None:
    (raw_dir / "ids.jsonl").write_text(json.dumps({"transcript_id": 42, "text": BODY}) + "\n" + json.dumps({"transcript_id": ["work_1"], "text": BODY}) + "\n")
    got = reasons(records(raw_dir))
    assert got[("ids.jsonl", "line 1")].startswith("'transcript_id' is a number, not text")
    assert got[("ids.jsonl", "line 2")].startswith("'transcript_id' is a list, not text")


def test_parquet_with_repeated_columns_or_a_number_id_gets_a_clear_reason(raw_dir: Path) -> None:
    twice = pa.Table.from_arrays([pa.array(["work_1"]), pa.array(["work_2"]), pa.array([BODY])], names=["transcript_id", "Transcript_ID", "text"])
    pq.write_table(twice, raw_dir / "twice.parquet")
    pq.write_table(pa.table({"transcript_id": [1, 2], "text": [BODY, BODY]}), raw_dir / "numbers.parquet")
    pq.write_table(pa.table({"transcript_id": ["work_3"], "text": [7]}), raw_dir / "textnum.parquet")
    other = pa.Table.from_arrays([pa.array(["x"]), pa.array(["y"]), pa.array(["work_4"]), pa.array([BODY])], names=["note", "note", "Transcript_ID", "TEXT"])
    pq.write_table(other, raw_dir / "odd.parquet")  # repeats it does not read, upper-case names: fine
    got = reasons(records(raw_dir))
    assert "2 columns named 'transcript_id'" in got[("twice.parquet", "")]
    assert got[("numbers.parquet", "")] == "Parquet column 'transcript_id' holds int64, not text"
    assert got[("textnum.parquet", "")] == "Parquet column 'text' holds int64, not text"
    assert ("odd.parquet", "row 1") not in got
    assert good_ids(records(raw_dir)) == ["work_4"]


def test_a_reader_that_fails_unexpectedly_costs_its_file_only(raw_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from etl_project.lib import readers

    def broken(*_args) -> list[dict]:  # noqa: ANN002
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setitem(readers._READERS, "jsonl", broken)
    (raw_dir / "work_0001.md").write_text(md_transcript("work_0001"))
    (raw_dir / "x.jsonl").write_text("{}")
    frame = records(raw_dir)
    assert good_ids(frame) == ["work_0001"]
    assert reasons(frame)[("x.jsonl", "")] == "could not be read (RecursionError: maximum recursion depth exceeded)"


def test_folders_nested_deeper_than_the_recursion_limit(raw_dir: Path) -> None:
    import sys

    levels = [raw_dir]
    for _ in range(sys.getrecursionlimit() + 200):  # one at a time: mkdir(parents=True) recurses too
        levels.append(levels[-1] / "d")
        levels[-1].mkdir()
    try:
        (levels[-1] / "work_0001.md").write_text(md_transcript("work_0001"))
        row = only(records(raw_dir))
        assert row["transcript_id"] == "work_0001" and row["source_file"].endswith("/d/work_0001.md")
    finally:  # bottom up: shutil.rmtree (pytest's clean-up too) recurses and would fail on this tree
        (levels[-1] / "work_0001.md").unlink(missing_ok=True)
        for level in reversed(levels[1:]):
            level.rmdir()


def test_the_row_by_row_csv_parse_takes_long_transcripts(raw_dir: Path) -> None:
    long_text = "AI: q?\n\nUser: " + "word " * 60_000  # 300,000 characters: over the csv module's default field limit
    (raw_dir / "long.csv").write_text(f'transcript_id,text\nwork_0001,"{long_text}"\nwork_0002,b,surplus\n')
    frame = records(raw_dir)
    assert good_ids(frame) == ["work_0001"] and frame["text"][0] == long_text
    assert list(reasons(frame)) == [("long.csv", "row 2")]


def test_a_csv_header_with_an_open_quote_is_a_file_reject(raw_dir: Path) -> None:
    (raw_dir / "head.csv").write_text('"transcript_id,text\nwork_1,a\n')
    assert only(records(raw_dir))["reject_reason"].startswith("malformed CSV header in line 1")


def test_json_values_python_cannot_take_cost_their_line_only(raw_dir: Path) -> None:
    deep_role = "[" * 900 + "]" * 900
    lines = [
        '{"transcript_id": "work_0001", "text": "AI: q", "n": ' + "9" * 5000 + "}",  # int() refuses > 4300 digits
        '{"transcript_id": "work_0002", "messages": [{"role": ' + deep_role + ', "content": "x"}]}',
        json.dumps({"transcript_id": "work_0003", "text": BODY}),
    ]
    (raw_dir / "odd.jsonl").write_text("\n".join(lines))
    frame = records(raw_dir)
    assert good_ids(frame) == ["work_0003"]
    got = reasons(frame)
    assert got[("odd.jsonl", "line 1")].startswith("line 1 could not be decoded")
    assert ("odd.jsonl", "line 2") in got


def test_discovery_gives_the_real_path_of_every_escaped_name(raw_dir: Path) -> None:
    from etl_project.lib.readers import discover_folder

    with open(os.fsencode(raw_dir) + b"/caf\xe9.md", "wb") as fh:
        fh.write(md_transcript("work_0001").encode())
    with open(os.fsencode(raw_dir) + b"/caf\xe9.pdf", "wb") as fh:
        fh.write(b"%PDF")
    paths = dict(discover_folder(raw_dir).paths())
    assert set(paths) == {"caf\\xe9.md", "caf\\xe9.pdf"}
    assert all(os.lstat(real).st_size > 0 for real in paths.values())  # what `scan` needs for size and mtime


def test_a_csv_with_messages_instead_of_text_gets_a_row_reason(raw_dir: Path) -> None:
    (raw_dir / "chat.csv").write_text('transcript_id,messages\nwork_0001,"[{""role"": ""user""}]"\n')
    row = only(records(raw_dir))
    assert (row["source_record"], row["transcript_id"]) == ("row 1", "work_0001")
    assert row["reject_reason"].startswith("bad chat messages")


def csv_cases() -> dict[str, bytes]:
    """CSV files that take the plain way (straight from bytes) and ones that must not."""
    body = dialog(("Assistant", "Which tools? “Quotes”, an emoji 🚀 and 中文."), ("User", 'I said "yes", twice:\n""ok"".'))
    rows = [("work_0001", body), ("creativity_0002", body.replace("\n", "\r\n")), ("science_0003", "User: short")]

    def csv_bytes(rows, sep=",", end="\n", header=("transcript_id", "text")) -> bytes:
        def cell(value: str) -> str:
            return '"' + value.replace('"', '""') + '"'
        lines = [sep.join(header)] + [sep.join(cell(v) for v in row) for row in rows]
        return (end.join(lines) + end).encode("utf-8")

    plain = csv_bytes(rows)
    return {
        "plain": plain,
        "crlf": csv_bytes(rows, end="\r\n"),
        "blank rows": plain.replace(b"\n", b"\n\n", 1),
        "tab separated": csv_bytes(rows, sep="\t"),
        "columns swapped, one more": csv_bytes([(t, "x", i) for i, t in rows], header=("text", "notes", "Transcript_ID")),
        "bom": codecs.BOM_UTF8 + plain,
        "windows-1252": csv_bytes([("work_0004", "User: café – naïve")]).decode("utf-8").encode("cp1252"),
        "nul in a row": plain.replace(b"short", b"sh\x00ort"),
        "stray quote": plain.replace(b'"User: short"', b'"User: sh"ort"'),
        "classic mac line ends": plain.replace(b"\n", b"\r"),
        "header only": b"transcript_id,text\n",
    }


@pytest.mark.parametrize("case", list(csv_cases()))
def test_a_csv_read_from_its_bytes_gives_what_the_general_way_gives(case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Plain UTF-8 release CSVs skip decoding to a Python string (which held up to 4 bytes a character: a
    90 MB CSV took ~900 MB to read). The records, rejects and errors must be those of the general way."""
    from etl_project.lib import readers

    data = csv_cases()[case]
    file = readers.RawFile(f"{case}.csv", Path("/nowhere") / f"{case}.csv")

    def read() -> object:
        try:
            return readers._read_csv_file(file, data, "sha")
        except readers.UnreadableInput as exc:
            return f"unreadable: {exc}"

    fast = read()
    monkeypatch.setattr(readers, "_csv_plain", lambda data: None)
    general = read()
    assert type(fast) is type(general)
    assert fast.equals(general) if isinstance(fast, pl.DataFrame) else fast == general
    took_plain = case in {"plain", "crlf", "blank rows", "tab separated", "columns swapped, one more"}
    monkeypatch.undo()
    assert (readers._csv_plain(data) is not None) == took_plain


def jsonl_cases() -> dict[str, bytes]:
    """JSON-lines files that take the plain way (lines decoded one by one) and ones that must not."""
    body = dialog(("Assistant", "Which tools? “Quotes”, an emoji 🚀 and 中文."), ("User", "Mostly\u2028one line."))
    lines = [json.dumps({"transcript_id": "work_0001", "text": body}, ensure_ascii=False), json.dumps({"transcript_id": "science_0002", "text": "User: short"})]
    plain = ("\n".join(lines) + "\n").encode("utf-8")
    return {
        "plain": plain,
        "crlf and blank lines": plain.replace(b"\n", b"\r\n\n"),
        "a bad line and a chat line": plain + b"{not json\n" + json.dumps({"transcript_id": "work_0003", "messages": [{"role": "user", "content": "hi"}]}).encode() + b"\n",
        "bom": codecs.BOM_UTF8 + plain,
        "windows-1252": json.dumps({"transcript_id": "work_0004", "text": "User: café"}, ensure_ascii=False).encode("cp1252"),
        "nul in a line": plain.replace(b"short", b"sh\x00ort"),
        "blank": b"\n \n",
        "unicode blanks only": "\u00a0\n\u2003\n".encode("utf-8"),
    }


@pytest.mark.parametrize("case", list(jsonl_cases()))
def test_a_jsonl_file_read_line_by_line_gives_what_the_general_way_gives(case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Plain UTF-8 JSON lines are decoded a line at a time (a string of the whole 92 MB file held up to 4 bytes a
    character: ~830 MB to read it, ~390 MB now). The records, rejects and errors must be those of the general way."""
    from etl_project.lib import readers

    data = jsonl_cases()[case]
    file = readers.RawFile(f"{case}.jsonl", Path("/nowhere") / f"{case}.jsonl")

    def read() -> object:
        try:
            return readers.records_frame(readers._read_jsonl_file(file, data, "sha"))
        except readers.UnreadableInput as exc:
            return f"unreadable: {exc}"

    fast = read()
    monkeypatch.setattr(readers, "_plain", lambda data: False)
    general = read()
    assert type(fast) is type(general)
    assert fast.equals(general) if isinstance(fast, pl.DataFrame) else fast == general
    monkeypatch.undo()
    assert readers._plain(data) == (case in {"plain", "crlf and blank lines", "a bad line and a chat line", "windows-1252", "unicode blanks only"})

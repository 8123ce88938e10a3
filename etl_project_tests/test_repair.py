"""Encoding repair: every mojibake depth is undone, clean text never changes, repair is idempotent."""

from __future__ import annotations

import polars as pl
import pytest

from etl_project.lib.repair import repair_column, repair_text

CLEAN = "naïve café — it’s “fine” – £5, 10 µm, 😅, 中文, Привет, ½, ﬁ, ＡＢ, A&amp;B, <b>x</b>, e\u0301"


def as_cp1252(text: str) -> str:
    """UTF-8 bytes decoded as Windows-1252 (the commonest mojibake)."""
    return text.encode("utf-8").decode("cp1252", errors="replace")


def as_latin1(text: str) -> str:
    """UTF-8 bytes decoded as Latin-1: leaves C1 control characters."""
    return text.encode("utf-8").decode("latin-1")


@pytest.mark.parametrize(
    ("damaged", "expected"),
    [
        pytest.param("There are no right or wrong answers â€“ we're interested", "There are no right or wrong answers – we're interested", id="en-dash-cp1252"),
        pytest.param("I donâ€™t know", "I don’t know", id="apostrophe-cp1252"),
        pytest.param("cafÃ© rÃ©sumÃ©", "café résumé", id="accents-cp1252"),
        pytest.param("â€œquotedâ€\x9d", "“quoted”", id="curly-quotes-cp1252"),
        pytest.param(as_cp1252("funny 😅 right"), "funny 😅 right", id="emoji-cp1252"),
        pytest.param(as_latin1("I don’t – really"), "I don’t – really", id="latin1-c1-controls"),
        pytest.param(as_cp1252(as_cp1252("don’t")), "don’t", id="applied-twice"),
        pytest.param(as_cp1252("Привет, как дела"), "Привет, как дела", id="cyrillic-cp1252"),
        pytest.param(as_cp1252("Zażółć gęślą jaźń"), "Zażółć gęślą jaźń", id="central-european"),
        pytest.param(as_cp1252("αβγ δοκιμή"), "αβγ δοκιμή", id="greek"),
        pytest.param("It costs Â£5", "It costs £5", id="pound-cp1252"),
    ],
)
def test_mojibake_is_repaired(damaged: str, expected: str) -> None:
    fixed, n = repair_text(damaged)
    assert fixed == expected
    assert n == 1


@pytest.mark.parametrize("clean", [CLEAN, "plain ascii only", "tab\tseparated", "It’s 50°C — ok", "‘single’ and «guillemets»"])
def test_clean_text_passes_unchanged(clean: str) -> None:
    assert repair_text(clean) == (clean, 0)


def test_only_damaged_paragraphs_change_and_are_counted() -> None:
    text = "Assistant: Hello – welcome.\n\nUser: I donâ€™t use it.\n\nI think itâ€™s fine â€“ mostly.\n\nClean — line."
    fixed, n = repair_text(text)
    assert fixed == "Assistant: Hello – welcome.\n\nUser: I don’t use it.\n\nI think it’s fine – mostly.\n\nClean — line."
    assert n == 2


@pytest.mark.parametrize("damaged", ["donâ€™t â€“ cafÃ©", as_cp1252(as_cp1252("it’s")), CLEAN])
def test_repair_is_idempotent(damaged: str) -> None:
    once, _ = repair_text(damaged)
    assert repair_text(once) == (once, 0)


def test_repair_column_normalises_line_endings_and_counts_per_row() -> None:
    frame = pl.DataFrame({"text": ["a\r\nb\rc", "donâ€™t\r\nâ€“", "clean – text", None]})
    out = repair_column(frame)
    assert out.get_column("text").to_list() == ["a\nb\nc", "don’t\n–", "clean – text", None]
    assert out.get_column("n_repairs").to_list() == [0, 2, 0, 0]
    assert out.schema["n_repairs"] == pl.Int32

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


def test_the_ftfy_gate_is_exact_on_real_and_damaged_lines() -> None:
    """Wherever the gate lets a line skip ftfy, ftfy would not have changed it."""
    import ftfy

    from etl_project.lib.repair import FTFY_CONFIG, ftfy_may_change
    from etl_project_tests.conftest import SAMPLE_RAW

    lines = {line for path in SAMPLE_RAW.rglob("*.md") for line in path.read_text(encoding="utf-8").splitlines()}
    extra = [CLEAN, "½ price, ¼ cup, 3² m², 90° angle, ©2024, ®, ™, €5, ¥, £", "Ünïcödé façade — “quoted” ‘single’ «guillemets»",
             "日本語のテキスト", "Привет мир", "Γειά σου", "مرحبا", "שלום", "🙂👍🏽🎉", "tab\there", "a\u00a0b non-breaking"]
    samples = sorted(lines | set(extra))
    damaged = [f(line) for line in samples for f in (as_cp1252, as_latin1) if any(ord(c) > 127 for c in line)]
    checked = 0
    for line in samples + damaged + [as_cp1252(as_cp1252(x)) for x in extra]:
        if not ftfy_may_change(line):
            assert ftfy.fix_text(line, FTFY_CONFIG) == line, line
            checked += 1
    assert checked > 1000  # most real lines skip ftfy


def test_the_vectorised_prefilter_never_misses_what_ftfy_would_look_at() -> None:
    """The Rust translation of ftfy's detector must match wherever ftfy's own does (a superset is fine)."""
    import random

    from ftfy.badness import BADNESS_RE

    from etl_project.lib.repair import MAY_NEED_FTFY_PATTERN, ftfy_may_change

    rng = random.Random(7)
    alphabet = [chr(c) for c in [*range(0x20, 0x7F), *range(0x80, 0x250), *range(0x370, 0x460), *range(0x2010, 0x2200), *range(0x2500, 0x2600), 0x1C, 0x85, 0x3000]]
    strings = ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 10))) for _ in range(60_000)]
    strings += [as_cp1252(s) for s in (CLEAN, "don’t – “so”", "Привет", "😅")] + [as_latin1("don’t")]
    flagged = pl.Series(strings).str.contains(MAY_NEED_FTFY_PATTERN).to_list()
    missed = [s for s, hit in zip(strings, flagged) if not hit and ftfy_may_change(s)]
    assert missed == []
    assert sum(bool(BADNESS_RE.search(s)) for s in strings) > 1000  # the sample does exercise the detector
    assert not any(pl.Series([CLEAN, "plain - ascii", "It’s 50°C — ok"]).str.contains(MAY_NEED_FTFY_PATTERN))

"""The default method's shared pass (``theme_engine.hits_and_terms``) against straightforward reference paths,
on inputs chosen to break shortcuts: non-ASCII and curly quotes (the normalised copy), terminators inside
sentences ("3.5", "e.g."), line breaks, NUL characters (the splitter's slow path), turns without any literal
and blank turns. An optimisation of the pass (a gate before the Aho-Corasick scan, splitting or normalising
only some turns, whole-turn scans) must keep every one of these equal."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from etl_project.lib import theme_engine, theme_model, theme_terms
from etl_project.lib.themes import flag_themes

TRICKY = [
    "I don’t trust it — I check every “fact” it gives me against the source.",
    "Ich prüfe alles selbst. 日本語のテキスト。 I review the output myself before I send it!",
    "Version 3.5 is fine, e.g. for drafting...and then I rewrite the whole draft by hand",
    "...\nI use ChatGPT to write the first draft of my emails.\n\nThen I edit it.",
    "zzz qqq 12345",
    "",
    "   \n  ",
    "I worry it will replace my job\x00 and my colleagues’ jobs too. Not really worried though.",
    "👍 I asked the AI to summarise the paper, then checked the summary against the paper.",
    "My manager insists we never share client data with AI tools; I manage the agents that run overnight.",
    "It’s “wrong” sometimes?! So I verify—always—what it produces.",
    "NO LITERAL AT ALL",
]


def _participant(copies: int = 3) -> pl.DataFrame:
    rows = [
        {"transcript_id": f"t{c}_{i // 4}", "turn_index": i % 4, "text": text}
        for c in range(copies)
        for i, text in enumerate(TRICKY)
    ]
    return pl.DataFrame(rows, schema={"transcript_id": pl.String, "turn_index": pl.Int32, "text": pl.String}).sort("transcript_id", "turn_index")


def _sorted_pairs(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    pairs = np.stack([np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)], axis=1)
    return pairs[np.lexsort((pairs[:, 1], pairs[:, 0]))]


def test_sentences_and_their_copies_match_the_reference_splitter():
    participant = _participant(1)
    sentences = theme_model.sentences(participant)
    reference = (
        participant.with_row_index("turn_row")
        .select(pl.col("turn_row").cast(pl.Int64), pl.col("text").str.extract_all(theme_engine.SENTENCE_PATTERN).alias("sentence"))
        .explode("sentence")
        .with_columns(pl.col("sentence").str.strip_chars())
        .filter(pl.col("sentence").str.len_bytes() > 0)
        .with_columns(theme_engine.normalize_for_matching(pl.col("sentence")).alias("norm"))
    )
    assert sentences.select("turn_row", "sentence", "norm").equals(reference.select("turn_row", "sentence", "norm"))


def test_one_pass_equals_the_separate_passes_on_tricky_text():
    model = theme_terms.load_model()
    norm = theme_model.sentences(_participant()).get_column("norm")
    hits, (row, tid) = theme_engine.hits_and_terms(norm, model.terms)
    alone = theme_engine._hits(norm)
    ref_row, ref_tid = theme_terms.term_occurrences(norm, model.terms)
    assert hits.sort("sid", "flag").equals(alone.sort("sid", "flag"))
    assert np.array_equal(_sorted_pairs(row, tid), _sorted_pairs(ref_row, ref_tid))
    assert len(row) > 0 and hits.height > 0  # the inputs do exercise both


@pytest.mark.parametrize("method", ["terms_lexicon", "lexicon", "tfidf", "tfidf_lexicon"])
def test_flags_of_a_transcript_do_not_depend_on_the_others(method):
    """A transcript's row is the same whether it is flagged alone or among others (no sharing of work
    across transcripts may leak into a result), and its quotes are verbatim substrings of its turns."""
    participant = _participant()
    turns = participant.with_columns(pl.lit("train").alias("split"), pl.lit("participant").alias("speaker"))
    together = flag_themes(turns, method=method)
    for tid in ("t0_0", "t1_2"):
        alone = flag_themes(turns.filter(pl.col("transcript_id") == tid), method=method)
        assert alone.equals(together.filter(pl.col("transcript_id") == tid))
    quotes = together.select("transcript_id", "evidence").explode("evidence").unnest("evidence").drop_nulls("quote")
    texts = quotes.join(participant, on=["transcript_id", "turn_index"])
    assert texts.height == quotes.height
    assert texts.select(pl.col("text").str.contains(pl.col("quote"), literal=True).all()).item()

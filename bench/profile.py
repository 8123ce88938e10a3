"""Where the core's time goes, and what two small changes to etl_project/lib would save.

``python -m bench.profile CORPUS_DIR [--cprofile]`` (a folder made by
:mod:`bench.generate`, e.g. ``bench/out/corpus/n50000_s0/sub10``) prints:

1. **theme flags** (``etl_project.lib.themes``): the time of every flag's
   positive / negative / require regex over the participant sentences, then
   ``flag_themes`` as it is against two variants, checking the output is
   identical:

   * ``ascii-wb``: ``\\b`` written as ``(?-u:\\b)`` (ASCII word boundary) in the
     hit patterns. Polars' Rust regex runs Unicode ``\\b`` in its fast lazy
     DFA only while the haystack is ASCII; on a sentence with any non-ASCII
     character (a curly quote, an en dash) it falls back to a much slower engine;
   * ``ascii-wb + positives-first``: also evaluate the negative/require
     patterns only on sentences some positive pattern hit;
   * ``ascii-wb + quote window only for long sentences``: the evidence quote's
     ``(?i)(.{0,100}<positives>.{0,100})`` extract is run on every first-hit
     sentence today, though only sentences over 300 characters use it;
   * all three together;

2. **repair** (``etl_project.lib.repair``): ftfy on every line that needs it
   today against a wider skip set, lines whose only non-ASCII characters are
   ’ ‘ “ ” – — … (none of them a UTF-8 lead byte in any single-byte code page
   ftfy decodes, so such a line cannot hold mojibake), checking the repaired
   text is identical;

3. with ``--cprofile``: the top functions of one ``run_core`` under cProfile.

The variants are monkeypatches inside this process only; nothing in etl_project is changed.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import io
import pstats
import re
import sys
import tempfile
import time
from pathlib import Path

import polars as pl

SAFE_NON_ASCII = "‘’“”–—…"


def _turns(raw: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    from etl_project.lib.readers import read_raw_folder
    from etl_project.lib.transform import build_tables, deduplicate, identify, repair

    records, _ = read_raw_folder(raw)
    records = identify(records)
    tables = build_tables(deduplicate(repair(records)), ingested_at=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc))
    return records, tables.turns


def _ascii_wb(pattern: str) -> str:
    return pattern.replace(r"\b", r"(?-u:\b)")


def flag_experiment(turns: pl.DataFrame) -> dict:
    from etl_project.lib import themes

    out: dict = {}
    sentences = themes.participant_sentences(turns).collect()
    sentence = pl.col("sentence")
    non_ascii = sentences.filter(~sentence.str.contains(r"^[\x00-\x7f]*$")).height
    out.update(sentences=sentences.height, non_ascii_sentences=non_ascii)
    per_flag = {}
    for flag in themes.THEME_FLAGS:
        cues = themes.LEXICON[flag]
        row = {}
        for part in ("positive", "negative", "require"):
            alternatives = getattr(cues, part)
            if not alternatives:
                continue
            for variant, fn in (("as_is", lambda p: p), ("ascii_wb", _ascii_wb)):
                t = time.perf_counter()
                sentences.select(sentence.str.contains(fn(themes._pattern(alternatives))).sum())
                row[f"{part}_{variant}_s"] = round(time.perf_counter() - t, 3)
        per_flag[flag] = row
    out["per_flag"] = per_flag

    original_pattern, original_hits, original_quote = themes._pattern, themes.sentence_hits, themes._quote_expr
    t = time.perf_counter()
    reference = themes.flag_themes(turns)
    out["flag_themes_as_is_s"] = time.perf_counter() - t
    try:
        themes._pattern = lambda alternatives: _ascii_wb(original_pattern(alternatives))
        t = time.perf_counter()
        variant = themes.flag_themes(turns)
        out["flag_themes_ascii_wb_s"] = time.perf_counter() - t
        out["ascii_wb_identical"] = variant.equals(reference)

        def positives_first(sents: pl.LazyFrame) -> pl.LazyFrame:
            frame = sents.collect().with_row_index("_row")
            pos = frame.select("_row", *(sentence.str.contains(themes._pattern(themes.LEXICON[f].positive)).alias(f) for f in themes.THEME_FLAGS))
            candidates = frame.join(pos.filter(pl.any_horizontal(themes.THEME_FLAGS)), on="_row")
            vetoes = []
            for f in themes.THEME_FLAGS:
                cues, hit = themes.LEXICON[f], pl.col(f)
                if cues.require:
                    hit = hit & sentence.str.contains(themes._pattern(cues.require))
                if cues.negative:
                    hit = hit & ~sentence.str.contains(themes._pattern(cues.negative))
                vetoes.append(hit.alias(f))
            judged = candidates.select("_row", *vetoes)
            return (
                frame.join(judged, on="_row", how="left")
                .with_columns(pl.col(f).fill_null(False) for f in themes.THEME_FLAGS)
                .sort("_row")
                .drop("_row")
                .lazy()
            )

        themes.sentence_hits = positives_first
        t = time.perf_counter()
        variant = themes.flag_themes(turns)
        out["flag_themes_ascii_wb_positives_first_s"] = time.perf_counter() - t
        out["ascii_wb_positives_first_identical"] = variant.equals(reference)
        themes.sentence_hits = original_hits

        def quote_long_only(cues, sentence: pl.Expr) -> pl.Expr:
            # the window regex only where it is used: sentences longer than MAX_QUOTE_CHARS
            long = pl.when(sentence.str.len_chars() > themes.MAX_QUOTE_CHARS).then(sentence)
            return pl.when(sentence.str.len_chars() <= themes.MAX_QUOTE_CHARS).then(sentence).otherwise(
                pl.coalesce(
                    long.str.extract(_ascii_wb(rf"(?i)(.{{0,{themes._QUOTE_CONTEXT_CHARS}}}{themes._any(*cues.positive)}.{{0,{themes._QUOTE_CONTEXT_CHARS}}})"), 1)
                    .str.slice(0, themes.MAX_QUOTE_CHARS)
                    .str.strip_chars(),
                    sentence.str.slice(0, themes.MAX_QUOTE_CHARS),
                )
            )

        themes._quote_expr = quote_long_only
        t = time.perf_counter()
        variant = themes.flag_themes(turns)
        out["flag_themes_ascii_wb_quote_long_only_s"] = time.perf_counter() - t
        out["ascii_wb_quote_long_only_identical"] = variant.equals(reference)
        themes.sentence_hits = positives_first
        t = time.perf_counter()
        variant = themes.flag_themes(turns)
        out["flag_themes_all_three_s"] = time.perf_counter() - t
        out["all_three_identical"] = variant.equals(reference)
        # how much a literal prefilter could save: the share of sentences any positive pattern hits
        any_positive = sentences.select(
            pl.any_horizontal(sentence.str.contains(themes._pattern(themes.LEXICON[f].positive)) for f in themes.THEME_FLAGS).mean()
        ).item()
        out["share_of_sentences_hit_by_any_positive"] = any_positive
    finally:
        themes._pattern, themes.sentence_hits, themes._quote_expr = original_pattern, original_hits, original_quote
    return out


def repair_experiment(records: pl.DataFrame) -> dict:
    import ftfy

    from etl_project.lib.repair import FTFY_CONFIG, NEEDS_FTFY_PATTERN

    needs, wider = re.compile(NEEDS_FTFY_PATTERN), re.compile(rf"[^\t\n\x20-\x7e{SAFE_NON_ASCII}]")
    texts = records.filter(pl.col("reject_reason").is_null()).get_column("text").to_list()
    lines = [line for text in texts for line in text.replace("\r\n", "\n").split("\n") if needs.search(line)]
    t = time.perf_counter()
    fixed = [ftfy.fix_text(line, FTFY_CONFIG) for line in lines]
    as_is = time.perf_counter() - t
    t = time.perf_counter()
    skipped = [ftfy.fix_text(line, FTFY_CONFIG) if wider.search(line) else line for line in lines]
    wider_s = time.perf_counter() - t
    return {
        "lines_sent_to_ftfy_as_is": len(lines),
        "ftfy_as_is_s": as_is,
        "lines_sent_to_ftfy_wider_skip": sum(1 for line in lines if wider.search(line)),
        "ftfy_wider_skip_s": wider_s,
        "lines_changed": sum(1 for a, b in zip(lines, fixed) if a != b),
        "wider_skip_identical": fixed == skipped,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("corpus", type=Path, help="a corpus folder from bench.generate (holding raw/)")
    parser.add_argument("--cprofile", action="store_true", help="also cProfile one run_core")
    args = parser.parse_args(argv)
    raw = args.corpus / "raw"
    records, turns = _turns(raw)
    print(f"corpus {args.corpus}: {records.height:,} records, {turns.height:,} turns", flush=True)
    r = repair_experiment(records)
    print(
        f"repair: ftfy on {r['lines_sent_to_ftfy_as_is']:,} lines {r['ftfy_as_is_s']:.2f} s; skipping lines whose only non-ASCII is {SAFE_NON_ASCII}: "
        f"{r['lines_sent_to_ftfy_wider_skip']:,} lines {r['ftfy_wider_skip_s']:.2f} s; {r['lines_changed']:,} lines changed; identical: {r['wider_skip_identical']}",
        flush=True,
    )
    f = flag_experiment(turns)
    print(f"flags: {f['sentences']:,} participant sentences, {f['non_ascii_sentences']:,} with non-ASCII characters", flush=True)
    for flag, row in f["per_flag"].items():
        print(f"  {flag:28s} " + "  ".join(f"{k}={v:.2f}" for k, v in row.items()))
    print(
        f"flag_themes as is {f['flag_themes_as_is_s']:.2f} s; ascii \\b {f['flag_themes_ascii_wb_s']:.2f} s (identical: {f['ascii_wb_identical']}); "
        f"ascii \\b + positives first {f['flag_themes_ascii_wb_positives_first_s']:.2f} s (identical: {f['ascii_wb_positives_first_identical']}); "
        f"ascii \\b + quote window only for long sentences {f['flag_themes_ascii_wb_quote_long_only_s']:.2f} s (identical: {f['ascii_wb_quote_long_only_identical']}); "
        f"all three {f['flag_themes_all_three_s']:.2f} s (identical: {f['all_three_identical']}); "
        f"{f['share_of_sentences_hit_by_any_positive']:.1%} of sentences hit any positive pattern",
        flush=True,
    )
    if args.cprofile:
        from etl_project.lib.pipeline import run_core

        with tempfile.TemporaryDirectory() as tmp:
            profiler = cProfile.Profile()
            profiler.enable()
            run = run_core(raw, Path(tmp))
            profiler.disable()
        print("run_core stages:", {k: round(v, 2) for k, v in run.seconds.items()})
        buf = io.StringIO()
        pstats.Stats(profiler, stream=buf).sort_stats("cumulative").print_stats(35)
        print(buf.getvalue())
    return 0


if __name__ == "__main__":
    sys.exit(main())

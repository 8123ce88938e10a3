"""The engine that runs the lexicon's rules (:mod:`etl_project.lib.theme_lexicon`) over turns (pure polars).

The public entry point is :func:`etl_project.lib.themes.flag_themes`; this module gives it the
lexicon method's evidence rows and, to the trained model, the sentence splitter.

Fourteen boolean flags per transcript (``THEME_FLAGS``; definitions and coding rules in
``data/themes/TAXONOMY.md``) are set from the participant's own words. Measured quality,
speed, what else was tried and what is weak: ``docs/THEMES.md`` (``make eval-themes``).

Method
------
1. Only ``speaker == "participant"`` turns are used; interviewer turns never count.
2. Each participant turn is split into sentences (``SENTENCE_PATTERN``'s matches, stripped;
   computed by a faster equivalent, see below), so every cue is judged inside one sentence.
3. Each flag has a small lexicon (:data:`LEXICON`) of case-insensitive regexes:

   * ``positive`` -- phrasings that express the theme; one must match;
   * ``require``  -- optional context that must *also* appear in the sentence
     (e.g. a future/role framing for ``oversight_role_future``);
   * ``negative`` -- vetoes: denials, negations, wishes or other readings the
     coding rules exclude ("not worried", "I don't think it will replace me",
     "colleagues are afraid", "I wish it could ...").

   A sentence *hits* a flag when positive and require match and no negative does.
4. Per transcript a flag is true when any sentence hits. Its evidence is the first
   hit (lowest turn, then sentence order): the turn index and a verbatim quote
   (the sentence, or a <=300 character window around the matched words when the
   sentence is longer).

Versions
--------
v1.1: v1's rules with a faster matcher (same output but for the normalisation noted below).
v1.2: a faster engine (below; with v1.1's rules it gives v1.1's output exactly) and revised
cues for four weak flags, from the TAXONOMY definitions and coding rules:
``quality_improvement`` (bare ``grammar``/``wording``/``enhanc...``/``impressed`` need a
correction or an object; "catches things I miss"; gains from doing it oneself and errors
found while testing are vetoed), ``delegates_whole_tasks`` (others' use, hypotheticals and
checking "independently" vetoed), ``verifies_output`` (tweaking/making changes to what it
gives; testing the tool itself vetoed), ``oversight_role_future`` (wanting or considering
such work counts as the future framing; running agents). Figures: ``docs/THEMES.md``.

How it is made fast
-------------------
The cues are matched against a *normalised copy* of each sentence: curly apostrophes
and quotes straightened, every other non-ASCII character blanked (one for one, so
character positions stay those of the original), then lowercased. The cues are
rewritten for that copy by :func:`ascii_regex` (ASCII ``\\b``/``\\w``/``\\s``, classes
intersected with ASCII, no case folding), which keeps Rust's regex engine on its fast
DFA: Unicode ``\\b`` on a sentence holding a single curly quote made it fall back to a
much slower engine.

* Sentences are cut by one ``str.replace_all`` (a boundary becomes a NUL) and a literal
  ``str.split`` instead of ``str.extract_all(SENTENCE_PATTERN)`` (same sentences; the tests
  compare both on edge cases, random strings and the sample). Lowercasing is the whole
  normalisation for ASCII sentences; the replacements run only on the others.
* Each positive cue (an *alternative*) is matched on its own, not as one alternation per
  flag (a big alternation made the regex engine fall off its DFA), and only on candidate
  sentences: one Aho-Corasick pass (``str.extract_many``) lists the literals each sentence
  contains, and an alternative's candidates are the sentences holding one of *its*
  literals. An alternative has several sound literal sets (:func:`literal_options`, from
  the cue's syntax tree); the one whose literals are rarest in an evenly spaced sample of
  the input is used (query planning only: any choice gives the same hits).
* The candidate (sentence, alternative) pairs form one frame, grouped by alternative, filtered
  with a *column* of regexes (``str.contains(pl.col("pattern"))``: each distinct regex is
  compiled once per call); one lazy query per alternative cost more to build and schedule
  than the matching itself on a chunk of a few thousand transcripts.
* ``require`` and ``negative`` regexes run only on a flag's positive sentences (again one frame
  with regex columns).
* Long inputs are cut in two halves run side by side (``pl.collect_all``) so both cores work;
  transcripts are processed in chunks of :data:`CHUNK_TRANSCRIPTS` to bound memory. No Python
  code runs per row, turn or transcript.

Matching the normalised copy differs from v1 only where v1 missed a cue written
with a straight apostrophe against a curly one in the text (``can’t``) and where a
non-ASCII character stood inside a cue (``editing—and``); the tests compare both
matchers sentence by sentence.

This is a rule baseline: sentence-level keyword rules miss answers that only make
sense with the interviewer's question ("Yes, always") and cannot resolve who a
pronoun refers to. ``METHOD``/``METHOD_VERSION`` are written to every output row
so later versions can be told apart.
"""

from __future__ import annotations

import functools
import re._parser as _re_parser  # the stdlib regex parser, used only to find required literals
from dataclasses import dataclass

import numpy as np
import polars as pl

from etl_project.lib.theme_lexicon import LEXICON, LEXICON_VERSION, Cues, _any
from etl_project.lib.theme_taxonomy import THEME_FLAGS

METHOD = "lexicon"
METHOD_VERSION = LEXICON_VERSION
CHUNK_TRANSCRIPTS = 25_000

MAX_QUOTE_CHARS = 300
_QUOTE_CONTEXT_CHARS = 100  # characters kept either side of the match in long sentences

# A sentence: characters up to a run of . ! ? (a terminator directly followed by a
# non-blank, as in "3.5" or "e.g", does not end it) or a line break.
SENTENCE_PATTERN = r"(?:[^\n.!?]|[.!?]+[^\s.!?])+[.!?]*"



# --------------------------------------------------------------------------- #
# Reference expressions (the v1 semantics; kept for the tests that compare the fast matcher with them)
# --------------------------------------------------------------------------- #
def _pattern(alternatives: tuple[str, ...]) -> str:
    """One case-insensitive regex matching any of ``alternatives``."""
    return "(?i)" + _any(*alternatives)


def _hit_expr(cues: Cues, sentence: pl.Expr) -> pl.Expr:
    """True where ``sentence`` carries the theme (positive [and require], no veto), v1 style."""
    hit = sentence.str.contains(_pattern(cues.positive))
    if cues.require:
        hit = hit & sentence.str.contains(_pattern(cues.require))
    if cues.negative:
        hit = hit & ~sentence.str.contains(_pattern(cues.negative))
    return hit


def reference_sentence_hits(sentences: pl.LazyFrame) -> pl.LazyFrame:
    """v1 matching (original text, Unicode regexes): one Boolean column per flag. Slow; for tests."""
    sentence = pl.col("sentence")
    return sentences.with_columns(_hit_expr(LEXICON[flag], sentence).alias(flag) for flag in THEME_FLAGS)


def _quote_expr(cues: Cues, sentence: pl.Expr) -> pl.Expr:
    """The sentence itself, or a window of at most ``MAX_QUOTE_CHARS`` around the match."""
    ctx = _QUOTE_CONTEXT_CHARS
    window = sentence.str.extract(rf"(?i)(.{{0,{ctx}}}{_any(*cues.positive)}.{{0,{ctx}}})", 1)
    long_quote = window.str.slice(0, MAX_QUOTE_CHARS).str.strip_chars()
    return (
        pl.when(sentence.str.len_chars() <= MAX_QUOTE_CHARS)
        .then(sentence)
        .otherwise(pl.coalesce(long_quote, sentence.str.slice(0, MAX_QUOTE_CHARS)))
    )


# --------------------------------------------------------------------------- #
# Fast matching: normalised ASCII haystack, rewritten cues, literal prefilter
# --------------------------------------------------------------------------- #
_ASCII = r"\x00-\x7f"


def normalize_for_matching(text: pl.Expr) -> pl.Expr:
    """The copy cues are matched on: ’ ‘ -> ', “ ” -> ", other non-ASCII -> blank, then lowercase.

    Every character maps to exactly one ASCII character, so a character offset in the copy is
    the same offset in the original (and, the copy being ASCII, also its byte offset). Pure
    ASCII text (most sentences) skips the replacements.
    """
    text = text.fill_null("")
    asciified = text.str.replace_many(["’", "‘", "“", "”"], ["'", "'", '"', '"']).str.replace_all(r"[^\x00-\x7f]", " ")
    return pl.when(text.str.contains(r"[^\x00-\x7f]")).then(asciified).otherwise(text).str.to_lowercase()


def ascii_regex(pattern: str) -> str:
    """``pattern`` (a lowercase cue, matched case-insensitively) rewritten for a normalised haystack.

    ``\\b \\w \\s \\d`` become their ASCII forms, every ``[...]`` class is intersected with
    ASCII (so ``['’]`` becomes ``[']``) and ``.`` becomes ``[\\x00-\\x7f]``. On a lowercased
    ASCII haystack the result matches exactly where the original matched the original text,
    without case folding, and it keeps the regex engine on its fast DFA.
    """
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "\\":
            esc = pattern[i : i + 2]
            out.append(f"(?-u:{esc})" if esc in (r"\b", r"\w", r"\s", r"\d") else esc)
            i += 2
        elif c == "[":
            j = i + 1
            if j < n and pattern[j] == "^":
                j += 1
            if j < n and pattern[j] == "]":
                j += 1
            while pattern[j] != "]":
                j += 2 if pattern[j] == "\\" else 1
            body = "".join(ch for ch in pattern[i : j + 1] if ord(ch) < 128)
            out.append(f"[{_ASCII}&&{body}]")
            i = j + 1
        elif c == ".":
            out.append(f"[{_ASCII}]")
            i += 1
        else:
            if c.isupper():
                raise ValueError(f"lexicon cues must be lowercase: {pattern!r}")
            out.append(c)
            i += 1
    return "".join(out)


_LITERAL_SET_LIMIT = 256


def _literal_info(items) -> tuple[set[str] | None, set[str] | None]:
    """(exact, required) for a parsed regex sequence.

    ``exact``: every string the sequence can match, when that is a small finite set; ``required``:
    strings one of which is a substring of every match (``None``: no such guarantee).
    """
    cands: list[set[str]] = []
    run: set[str] | None = {""}
    whole = True
    for op, av in items:
        exact, required = _item_literals(op, av)
        if required and op not in (_re_parser.LITERAL, _re_parser.IN):  # single characters: the run covers them
            cands.append(required)
        if exact is not None and run is not None and len(run) * len(exact) <= _LITERAL_SET_LIMIT:
            run = {a + b for a in run for b in exact}
        else:
            whole = False
            if run is not None:
                cands.append(run)
            run = set(exact) if exact is not None else None
    if run is not None:
        cands.append(run)
    usable = [s for s in cands if s and "" not in s]
    best = max(usable, key=_selectivity) if usable else None
    return (run if whole else None), best


def _literal_options(items) -> list[set[str]]:
    """Every literal set one of which every match of a parsed sequence contains (each alone is a
    sound prefilter): the literal runs and the options of each group, alternation (the unions of
    one option per branch, at most ``_OPTION_LIMIT``) or repeated item (at least once)."""
    C = _re_parser
    cands: list[set[str]] = []
    run: set[str] | None = {""}
    for op, av in items:
        exact, _ = _item_literals(op, av)
        if op not in (C.LITERAL, C.IN):
            cands.extend(_item_options(op, av))
        if exact is not None and run is not None and len(run) * len(exact) <= _LITERAL_SET_LIMIT:
            run = {a + b for a in run for b in exact}
        else:
            if run is not None:
                cands.append(run)
            run = set(exact) if exact is not None else None
    if run is not None:
        cands.append(run)
    unique: list[set[str]] = []
    for c in cands:
        if c and "" not in c and c not in unique:
            unique.append(c)
    return unique


def _item_options(op, av) -> list[set[str]]:
    C = _re_parser
    if op is C.SUBPATTERN:
        return _literal_options(av[-1])
    if op is C.BRANCH:
        combos: list[set[str]] = [set()]
        for branch in av[1]:
            options = _literal_options(branch)
            if not options:
                return []
            combos = [a | b for a in combos for b in options][:_OPTION_LIMIT]
        return combos
    if op in (C.MAX_REPEAT, C.MIN_REPEAT) and av[0] >= 1:
        return _literal_options(av[2])
    return []


_OPTION_LIMIT = 16


# Words so frequent that a literal consisting of one of them selects almost every sentence
# (a fixed list of common English words, not fitted to any data).
_COMMON_WORDS = frozenset(
    "a about all an and are around as ask at be can could did do does ever for get got had has have i in is it "
    "let like make makes may me might more must my need needs no not of on over so that the they this to try use "
    "used uses using very want was we what will with would".split()
)


def _selectivity(literals: set[str]) -> tuple[int, int]:
    """How selective a literal set is as a prefilter: its weakest literal's length (a common word
    counts 2 at most), then fewer literals."""
    return min(min(2, len(x.strip())) if x.strip() in _COMMON_WORDS else len(x.strip()) for x in literals), -len(literals)


def _item_literals(op, av) -> tuple[set[str] | None, set[str] | None]:
    C = _re_parser
    if op is C.LITERAL:
        return {chr(av)}, {chr(av)}
    if op is C.IN:
        chars: set[str] = set()
        for sub_op, sub_av in av:
            if sub_op is C.LITERAL:
                chars.add(chr(sub_av))
            elif sub_op is C.RANGE and sub_av[1] - sub_av[0] <= 10:
                chars.update(chr(x) for x in range(sub_av[0], sub_av[1] + 1))
            else:
                return None, None
        return (chars, chars) if len(chars) <= 10 else (None, None)
    if op is C.AT:
        return {""}, None
    if op is C.SUBPATTERN:
        return _literal_info(av[-1])
    if op is C.BRANCH:
        infos = [_literal_info(branch) for branch in av[1]]
        exact = set().union(*(e for e, _ in infos)) if all(e is not None for e, _ in infos) else None
        if exact is not None and len(exact) > _LITERAL_SET_LIMIT:
            exact = None
        required = set().union(*(r for _, r in infos)) if all(r for _, r in infos) else None
        return exact, required
    if op in (C.MAX_REPEAT, C.MIN_REPEAT):
        lo, hi, sub = av
        exact, required = _literal_info(sub)
        if lo == 0:
            return ({""} | exact if hi == 1 and exact is not None else None), None
        return (exact if lo == hi == 1 else None), required
    return None, None


def required_literals(pattern: str) -> tuple[str, ...] | None:
    """Lowercase literals one of which every match of ``pattern`` contains, or None if none are known.

    Derived from the stdlib parser's syntax tree (a literal run, a small class or alternation
    expanded, the most selective factor of a sequence, the union over alternatives). Used only
    as a prefilter: a sentence without any of them cannot match.
    """
    _, required = _literal_info(_re_parser.parse(pattern))
    return None if required is None else _reduced(required)


def _reduced(literals) -> tuple[str, ...]:
    lits = sorted({s.lower() for s in literals}, key=lambda s: (len(s), s))
    kept: list[str] = []
    for s in lits:  # a literal containing a shorter kept one adds nothing
        if not any(k in s for k in kept):
            kept.append(s)
    return tuple(sorted(kept))


def literal_options(pattern: str) -> tuple[tuple[str, ...], ...]:
    """Alternative prefilters for ``pattern``: literal sets one of which (any one) every match
    contains. The first is :func:`required_literals`'s choice; empty if there is none."""
    first = required_literals(pattern)
    if first is None:
        return ()
    options = [first]
    for option in _literal_options(_re_parser.parse(pattern)):
        reduced = _reduced(option)
        if reduced not in options:
            options.append(reduced)
    return tuple(options)


@dataclass(frozen=True)
class _FlagPlan:
    literals: tuple[str, ...] | None  # None: every sentence is a candidate (union over the alternatives)
    positive: str  # all positive cues in one regex (used for quote windows)
    require: str | None
    negative: str | None
    alternatives: tuple[str, ...] = ()  # each positive cue on its own (rewritten by ascii_regex)
    alternative_literals: tuple[tuple[str, ...] | None, ...] = ()  # the prefilter literals of each


@functools.lru_cache(maxsize=1)
def _plans() -> dict[str, _FlagPlan]:
    plans = {}
    for flag in THEME_FLAGS:
        cues = LEXICON[flag]
        per_alternative = tuple(required_literals(alternative) for alternative in cues.positive)
        literals = None if any(found is None for found in per_alternative) else tuple(sorted({x for found in per_alternative for x in found}))
        plans[flag] = _FlagPlan(
            literals=literals,
            positive=ascii_regex(_any(*cues.positive)),
            require=ascii_regex(_any(*cues.require)) if cues.require else None,
            negative=ascii_regex(_any(*cues.negative)) if cues.negative else None,
            alternatives=tuple(ascii_regex(alternative) for alternative in cues.positive),
            alternative_literals=per_alternative,
        )
    return plans


@functools.lru_cache(maxsize=1)
def _alternatives() -> tuple[tuple[int, str], ...]:
    """Every positive cue of every flag as ``(flag index, regex)``; its position is its id."""
    return tuple((i, pattern) for i, flag in enumerate(THEME_FLAGS) for pattern in _plans()[flag].alternatives)


@functools.lru_cache(maxsize=1)
def _options() -> tuple[tuple[tuple[str, ...], ...], ...]:
    """Per alternative (ids as in :func:`_alternatives`), its prefilter options (:func:`literal_options`);
    ``()`` for an alternative without any (it runs on every sentence)."""
    return tuple(literal_options(alternative) for flag in THEME_FLAGS for alternative in LEXICON[flag].positive)


@functools.lru_cache(maxsize=1)
def _option_literals() -> list[str]:
    return sorted({lit for options in _options() for option in options for lit in option})


_SAMPLE_SENTENCES = 10_000


def _literal_table(norm: pl.Series | None = None) -> tuple[list[str], pl.DataFrame, tuple[int, ...]]:
    """(the prefilter literals, ``lid -> aid`` rows, ids of the alternatives without literals).

    ``lid`` is a literal's position in the returned list (its ``pl.Enum`` code), ``aid`` an
    alternative's position in :func:`_alternatives`. Each alternative takes the option of
    :func:`_options` whose literals occur least often in an evenly spaced sample of ``norm``
    (the first option when ``norm`` is None or on ties). Any option gives the same hits; the
    choice only decides how many candidate sentences the regexes see.
    """
    options = _options()
    counts: dict[str, int] = {}
    if norm is not None and norm.len():
        step = max(1, norm.len() // _SAMPLE_SENTENCES)
        sample = norm.gather_every(step)
        found = sample.str.extract_many(_option_literals(), overlapping=True).explode().drop_nulls()
        counts = dict(found.value_counts().iter_rows())
    rows: list[tuple[str, int]] = []
    unfiltered: list[int] = []
    for aid, choices in enumerate(options):
        if not choices:
            unfiltered.append(aid)
            continue
        best = min(range(len(choices)), key=lambda i: (sum(counts.get(lit, 0) for lit in choices[i]), i))
        rows.extend((lit, aid) for lit in choices[best])
    literals = sorted({lit for lit, _ in rows})
    code = {lit: i for i, lit in enumerate(literals)}
    table = pl.DataFrame(
        {"lid": [code[lit] for lit, _ in rows], "aid": [a for _, a in rows]}, schema={"lid": pl.UInt32, "aid": pl.UInt32}
    )
    return literals, table, tuple(unfiltered)


_CHOICE_MIN_SENTENCES = 2_000  # a sample at least this big fixes the literal choice for the process
_chosen: tuple[list[str], pl.DataFrame, tuple[int, ...]] | None = None


def _chosen_literal_table(norm: pl.Series) -> tuple[list[str], pl.DataFrame, tuple[int, ...]]:
    """:func:`_literal_table`, chosen once per process from the first input with enough sentences.

    The choice only decides how much work the regexes get, never the hits, so later calls (the
    core flags batch after batch) reuse it instead of paying the sampling pass each time.
    """
    global _chosen
    if _chosen is not None:
        return _chosen
    table = _literal_table(norm)
    if norm.len() >= _CHOICE_MIN_SENTENCES:
        _chosen = table
    return table


# A sentence boundary, for the fast splitter: a terminator run at the start of a line that is
# followed by a blank (or the end) and so can never start a sentence (dropped), the blank after a
# terminator run (the run stays with its sentence), or a line break.
_BOUNDARY = r"(?m)^[.!?]+(?:\s|$)|([.!?]+)\s|\n"
_SEP = "\x00"


def _sentence_lists(text: pl.Expr) -> pl.Expr:
    """Each text's sentences (unstripped; may hold blank pieces), the same as ``SENTENCE_PATTERN``'s matches
    once stripped and blank ones dropped. Texts holding a NUL character must not be passed."""
    return text.str.replace_all(_BOUNDARY, "${1}" + _SEP).str.split(_SEP)


_PARALLEL_ROWS = 20_000  # inputs at least this long are cut in two halves run on the thread pool side by side


def _halves(n: int) -> list[tuple[int, int]]:
    """``(offset, length)`` pieces of ``range(n)``: two halves for long inputs, else one piece."""
    return [(0, n // 2), (n // 2, n - n // 2)] if n >= _PARALLEL_ROWS else [(0, n)]


def _split_query(turns: pl.DataFrame) -> pl.LazyFrame:
    text = pl.col("text").fill_null("")
    if not turns.select(text.str.contains(_SEP, literal=True).any()).item():
        lists = turns.lazy().select("transcript_id", "turn_index", _sentence_lists(text).alias("sentence"))
    else:
        numbered = turns.lazy().with_row_index("_row").with_columns(text.str.contains(_SEP, literal=True).alias("_nul"))
        lists = pl.concat(
            [
                numbered.filter(~pl.col("_nul")).select("_row", "transcript_id", "turn_index", _sentence_lists(text).alias("sentence")),
                numbered.filter(pl.col("_nul")).select("_row", "transcript_id", "turn_index", text.str.extract_all(SENTENCE_PATTERN).alias("sentence")),
            ]
        ).sort("_row").drop("_row")
    return (
        lists.explode("sentence")
        .with_columns(pl.col("sentence").str.strip_chars())
        .filter(pl.col("sentence").str.len_bytes() > 0)
        .with_columns(pl.col("sentence").str.to_lowercase().alias("norm"))
    )


def _split_turns(turns: pl.DataFrame) -> pl.DataFrame:
    """``transcript_id, turn_index, sentence, norm``: one row per non-blank sentence, in the order of
    ``turns``; ``norm`` is ``normalize_for_matching(sentence)``.

    One replace (a boundary becomes a NUL) and a literal split instead of ``str.extract_all``; a turn
    whose text holds a NUL already takes ``extract_all`` (identical results, see the tests).
    """
    pieces = [turns.slice(offset, length) for offset, length in _halves(turns.height)]
    sentences = pl.concat(pl.collect_all([_split_query(piece) for piece in pieces]))
    return sentences.with_columns(_fix_wide(sentences.get_column("sentence"), sentences.get_column("norm")))


def _fix_wide(sentence: pl.Series, lowered: pl.Series) -> pl.Series:
    """``lowered`` (the lowercased ``sentence``) with the values whose sentence is not ASCII replaced by
    ``normalize_for_matching`` of it: the replacements run only there."""
    wide = (sentence.str.len_bytes() != sentence.str.len_chars().cast(pl.UInt32)).arg_true()
    if wide.len():
        fixed = sentence.gather(wide).to_frame("s").select(normalize_for_matching(pl.col("s"))).to_series()
        lowered = lowered.scatter(wide, fixed)
    return lowered.rename("norm")


def _normalized(sentence: pl.Series) -> pl.Series:
    """``normalize_for_matching`` of a column, computing the replacements only where a value is not ASCII."""
    return _fix_wide(sentence, sentence.str.to_lowercase())


def participant_sentences(turns: pl.DataFrame | pl.LazyFrame) -> pl.LazyFrame:
    """One row per non-blank sentence of a participant turn, in reading order.

    Columns: ``transcript_id, turn_index (Int32), sentence_index (Int32), sentence``.
    Sentences are stripped of surrounding blanks but otherwise verbatim.
    """
    ordered = (
        turns.lazy()
        .filter(pl.col("speaker") == "participant")
        .select("transcript_id", pl.col("turn_index").cast(pl.Int32), "text")
        .sort("transcript_id", "turn_index", maintain_order=True)
        .collect()
    )
    return (
        _split_turns(ordered)
        .drop("norm")
        .lazy()
        .with_columns(pl.int_range(pl.len(), dtype=pl.Int32).over("transcript_id", "turn_index").alias("sentence_index"))
        .select("transcript_id", "turn_index", "sentence_index", "sentence")
    )


def _hits(norm: pl.Series) -> pl.DataFrame:
    """``sid`` (row of ``norm``, UInt32) and ``flag`` (index into THEME_FLAGS, UInt32) of every hit, unordered.

    1. One Aho-Corasick pass lists, per sentence, the prefilter literals it contains; each literal
       maps to the positive cues (*alternatives*) that need it (:func:`_literal_table`).
    2. Each alternative's regex runs only on its candidate sentences (a cue on its own keeps the
       regex engine fast; one big alternation per flag made it fall off its DFA): one frame of
       candidate pairs grouped by alternative, filtered with a column of regexes.
    3. A flag's ``require`` and ``negative`` regexes run only on its positive sentences.

    Long inputs are cut in halves run together by ``pl.collect_all``, so both cores work.
    """
    return hits_and_terms(norm, ())[0]


def hits_and_terms(norm: pl.Series, terms: tuple[str, ...] | list[str]) -> tuple[pl.DataFrame, tuple[np.ndarray, np.ndarray]]:
    """:func:`_hits` and, from the same Aho-Corasick pass, every occurrence of ``terms`` (sorted unique
    literals, :mod:`theme_terms`) in ``" " + norm + " "``: ``(sid, term id)`` sorted by ``sid``.

    With terms the pass runs over the padded copy: it holds every literal match of the unpadded
    one, so the prefilter's candidates can only grow (the regexes decide the hits, unchanged).
    """
    empty = pl.DataFrame(schema={"sid": pl.UInt32, "flag": pl.UInt32})
    no_terms = (np.zeros(0, np.int64), np.zeros(0, np.int64))
    if norm.len() == 0:
        return empty, no_terms
    literals, table, unfiltered = _chosen_literal_table(norm)
    haystack = norm
    if terms:
        from etl_project.lib.theme_terms import pad

        literals, table = _with_terms(literals, table, terms)
        haystack = pad(norm)
    codes = _enum(literals)

    def matches(offset: int, length: int) -> pl.LazyFrame:
        return (
            haystack.slice(offset, length)
            .to_frame("norm")
            .lazy()
            .with_row_index("sid", offset=offset)
            .select("sid", pl.col("norm").str.extract_many(literals, overlapping=True).alias("lit"))
            .explode("lit")
            .drop_nulls("lit")
            .select("sid", pl.col("lit").cast(codes).to_physical().alias("lid"))
        )

    def candidates(found: pl.LazyFrame) -> pl.LazyFrame:
        if terms:  # most matches are terms only: leave them out before the join
            shared = table.filter(pl.col("lid") < len(terms)).get_column("lid").unique()
            found = found.filter((pl.col("lid") >= len(terms)) | pl.col("lid").is_in(shared.implode()))
        return found.join(table.lazy(), on="lid").select("aid", "sid").unique()

    pieces = _halves(norm.len())
    if terms:
        found_all = pl.concat(pl.collect_all([matches(o, n) for o, n in pieces]))
        own = found_all.filter(pl.col("lid") < len(terms))
        term_rows = (own.get_column("sid").cast(pl.Int64).to_numpy(), own.get_column("lid").cast(pl.Int64).to_numpy())
        found = candidates(found_all.lazy()).collect()
    else:
        term_rows = no_terms
        found = pl.concat(pl.collect_all([candidates(matches(o, n)) for o, n in pieces]))
    if unfiltered:
        every = pl.int_range(norm.len(), dtype=pl.UInt32, eager=True)
        found = pl.concat([found, *(pl.DataFrame({"aid": pl.Series([a], dtype=pl.UInt32).new_from_index(0, len(every)), "sid": every}) for a in unfiltered)])
    if found.height == 0:
        return empty, term_rows
    patterns, flags = _alternative_columns()
    # one frame of (candidate sentence, cue) rows, grouped by cue: a regex column is compiled once per
    # distinct cue and call (not one query per cue, whose building and scheduling cost more than the matching)
    found = found.sort("aid")
    aid = found.get_column("aid")
    positive = _filter_pieces(
        pl.DataFrame({"sid": found.get_column("sid"), "flag": flags.gather(aid), "norm": norm.gather(found.get_column("sid")), "pattern": patterns.gather(aid)}),
        pl.col("norm").str.contains(pl.col("pattern")),
    )
    positive = positive.select("flag", "sid").unique().sort("flag")
    require, negative = _context_columns()
    flag = positive.get_column("flag")
    context = pl.DataFrame({"sid": positive.get_column("sid"), "flag": flag, "norm": norm.gather(positive.get_column("sid")), "require": require.gather(flag), "negative": negative.gather(flag)})
    keep = (pl.col("require").is_null() | pl.col("norm").str.contains(pl.col("require"))) & (
        pl.col("negative").is_null() | ~pl.col("norm").str.contains(pl.col("negative"))
    )
    return _filter_pieces(context, keep).select("sid", "flag"), term_rows


_union_cache: tuple | None = None  # (literals, table, terms, result) of the last call


def _with_terms(literals: list[str], table: pl.DataFrame, terms) -> tuple[list[str], pl.DataFrame]:
    """(the terms then the other prefilter literals, ``table`` with its literal codes in that list), so a
    match's code below ``len(terms)`` is its term id. Kept for the last (literals, table, terms) seen."""
    global _union_cache
    cached = _union_cache  # read once: another thread may replace it
    if cached is not None and cached[0] is literals and cached[1] is table and cached[2] == tuple(terms):
        return cached[3]
    union = list(terms) + sorted(set(literals) - set(terms))
    code = {lit: i for i, lit in enumerate(union)}
    relabel = np.array([code[lit] for lit in literals], dtype=np.uint32)
    relabelled = table.with_columns(pl.Series("lid", relabel[table.get_column("lid").to_numpy()]))
    _union_cache = (literals, table, tuple(terms), (union, relabelled))
    return union, relabelled


_enum_cache: tuple | None = None  # (literals, pl.Enum(literals)) of the last call


def _enum(literals: list[str]) -> pl.Enum:
    """``pl.Enum(literals)``, kept for the last list seen."""
    global _enum_cache
    cached = _enum_cache
    if cached is None or cached[0] is not literals:
        cached = _enum_cache = (literals, pl.Enum(literals))
    return cached[1]


def _filter_pieces(frame: pl.DataFrame, predicate: pl.Expr) -> pl.DataFrame:
    """``frame.filter(predicate)``, long frames cut in two halves run side by side."""
    pieces = _halves(frame.height)
    if len(pieces) == 1:
        return frame.filter(predicate)
    return pl.concat(pl.collect_all([frame.slice(o, n).lazy().filter(predicate) for o, n in pieces]))


@functools.lru_cache(maxsize=1)
def _alternative_columns() -> tuple[pl.Series, pl.Series]:
    """(regex, flag index) of every alternative, as Series indexed by its id (:func:`_alternatives`)."""
    alternatives = _alternatives()
    return pl.Series([p for _, p in alternatives], dtype=pl.String), pl.Series([f for f, _ in alternatives], dtype=pl.UInt32)


@functools.lru_cache(maxsize=1)
def _context_columns() -> tuple[pl.Series, pl.Series]:
    """(require regex, negative regex) of every flag (null: none), as Series indexed by flag index."""
    plans = _plans()
    return (
        pl.Series([plans[flag].require for flag in THEME_FLAGS], dtype=pl.String),
        pl.Series([plans[flag].negative for flag in THEME_FLAGS], dtype=pl.String),
    )


def lexicon_hits(sentences: pl.DataFrame) -> pl.DataFrame:
    """``(sid, flag)`` for every sentence (row number ``sid`` of ``sentences``) that hits a flag, sorted."""
    hits = _hits(_normalized(sentences.get_column("sentence")))
    names = pl.Series(THEME_FLAGS, dtype=pl.String).gather(hits.get_column("flag"))
    return pl.DataFrame({"sid": hits.get_column("sid"), "flag": names}).sort("sid", "flag")


def sentence_hits(sentences: pl.LazyFrame | pl.DataFrame) -> pl.LazyFrame:
    """Adds one Boolean column per flag: whether that sentence hits it (the fast matcher)."""
    frame = sentences.lazy().collect()
    hits = lexicon_hits(frame)
    sid = pl.int_range(pl.len(), dtype=pl.UInt32)
    return frame.with_columns(
        sid.is_in(hits.filter(pl.col("flag") == flag).get_column("sid").implode()).alias(flag) for flag in THEME_FLAGS
    ).lazy()


# --------------------------------------------------------------------------- #
# flag_themes
# --------------------------------------------------------------------------- #
_EVIDENCE = pl.List(pl.Struct({"flag": pl.String, "turn_index": pl.Int32, "quote": pl.String}))
_EVIDENCE_ROWS = {"transcript_id": pl.String, "flag": pl.String, "turn_index": pl.Int32, "quote": pl.String}


def _quotes(first: pl.DataFrame) -> pl.DataFrame:
    """``first`` (transcript_id, flag, turn_index, sentence) with ``quote``.

    A sentence of at most ``MAX_QUOTE_CHARS`` is the quote; a longer one is cut to a window of
    ``_QUOTE_CONTEXT_CHARS`` either side of the first positive match (found on the normalised
    copy, whose character offsets are the original's), at most ``MAX_QUOTE_CHARS`` long.
    """
    length = pl.col("sentence").str.len_chars()
    parts = [first.filter(length <= MAX_QUOTE_CHARS).with_columns(pl.col("sentence").alias("quote"))]
    long = first.filter(length > MAX_QUOTE_CHARS).with_columns(normalize_for_matching(pl.col("sentence")).alias("_norm"))
    plans = _plans()
    for flag in sorted(set(long.get_column("flag").to_list())):
        rows = long.filter(pl.col("flag") == flag)
        pattern = plans[flag].positive
        start = pl.col("_norm").str.find(pattern).cast(pl.Int64).fill_null(0)
        matched = pl.col("_norm").str.extract(f"({pattern})", 1).str.len_chars().cast(pl.Int64).fill_null(0)
        begin = pl.max_horizontal(start - _QUOTE_CONTEXT_CHARS, pl.lit(0))
        size = pl.min_horizontal(start - begin + matched + _QUOTE_CONTEXT_CHARS, pl.lit(MAX_QUOTE_CHARS))
        parts.append(rows.with_columns(pl.col("sentence").str.slice(begin, size).str.strip_chars().alias("quote")).drop("_norm"))
    return pl.concat(parts, how="vertical_relaxed")


def _evidence_rows(turns: pl.DataFrame) -> pl.DataFrame:
    """``transcript_id, flag, turn_index, quote``: the first hit of every (transcript, flag) that has one.

    ``turns``: participant turns sorted by (transcript_id, turn_index), so a sentence's row number
    (``sid``) is its reading order and a flag's first hit in a transcript is its smallest ``sid``.
    """
    sentences = _split_turns(turns)
    hits = _hits(sentences.get_column("norm"))
    if hits.height == 0:
        return pl.DataFrame(schema=_EVIDENCE_ROWS)
    transcript = sentences.get_column("transcript_id").rle_id()  # sentences are grouped by transcript
    first = hits.with_columns(transcript.gather(hits.get_column("sid")).alias("_t")).group_by("_t", "flag").agg(pl.col("sid").min())
    sid = first.get_column("sid")
    first = pl.DataFrame(
        {
            "transcript_id": sentences.get_column("transcript_id").gather(sid),
            "flag": pl.Series(THEME_FLAGS, dtype=pl.String).gather(first.get_column("flag")),
            "turn_index": sentences.get_column("turn_index").gather(sid),
            "sentence": sentences.get_column("sentence").gather(sid),
        }
    )
    return _quotes(first).select(pl.col("transcript_id"), pl.col("flag"), pl.col("turn_index").cast(pl.Int32), pl.col("quote"))


def lexicon_evidence(participant: pl.DataFrame) -> pl.DataFrame:
    """``transcript_id, flag, turn_index, quote`` of every (transcript, flag) the lexicon sets.

    ``participant``: ``transcript_id, turn_index, text`` of participant turns sorted by
    (transcript_id, turn_index). Processed in chunks of :data:`CHUNK_TRANSCRIPTS` transcripts.
    """
    parts = [pl.DataFrame(schema=_EVIDENCE_ROWS)]
    ids = participant.get_column("transcript_id").unique(maintain_order=True)
    for start in range(0, ids.len(), CHUNK_TRANSCRIPTS):
        chunk = ids.slice(start, CHUNK_TRANSCRIPTS)
        parts.append(_evidence_rows(participant.filter(pl.col("transcript_id").is_between(pl.lit(chunk.first()), pl.lit(chunk.last())))))
    return pl.concat(parts)

"""Tests for the lexicon method of the theme flags (rule data etl_project.lib.theme_lexicon, engine
etl_project.lib.theme_engine), through the public flag_themes(..., method="lexicon")."""

from __future__ import annotations

import polars as pl
import pytest

import functools

from etl_project.lib.theme_engine import METHOD, METHOD_VERSION
from etl_project.lib.themes import THEME_FLAGS
from etl_project.lib.themes import flag_themes as _flag_themes

flag_themes = functools.partial(_flag_themes, method="lexicon")

QUESTION = "Could you tell me about how AI fits into your work?"


def make_turns(transcripts: dict[str, list[tuple[str, str]]], split: str = "workforce") -> pl.DataFrame:
    """A turns frame like ``split_turns`` returns (only the columns flag_themes needs)."""
    rows = [
        {"transcript_id": tid, "split": split, "turn_index": i, "speaker": speaker, "text": text}
        for tid, turns in transcripts.items()
        for i, (speaker, text) in enumerate(turns)
    ]
    return pl.DataFrame(
        rows,
        schema={"transcript_id": pl.String, "split": pl.String, "turn_index": pl.Int32, "speaker": pl.String, "text": pl.String},
    )


def flags_for(answer: str, speaker: str = "participant") -> dict:
    """Row of flag_themes for one transcript: interviewer question, then ``answer``."""
    return flags_for_many([answer], speaker)[0]


def flags_for_many(answers: list[str], speaker: str = "participant") -> list[dict]:
    """Like :func:`flags_for` for many answers in one call (one transcript each, same order)."""
    ids = [f"case{i:03d}" for i in range(len(answers))]
    out = flag_themes(make_turns({tid: [("interviewer", QUESTION), (speaker, a)] for tid, a in zip(ids, answers)}))
    assert out["transcript_id"].to_list() == ids
    return out.to_dicts()


# One clear, invented participant sentence per flag, with words the quote must contain.
POSITIVES: list[tuple[str, str, str]] = [
    ("job_threat_worry", "Honestly I worry that AI will make my job obsolete within a few years.", "make my job obsolete"),
    ("human_irreplaceable", "My couples will always want a human touch when they plan a wedding.", "human touch"),
    ("skills_atrophy_concern", "I'm afraid I will get rusty at writing SQL by hand.", "get rusty"),
    ("workplace_stigma", "My manager sees using AI as cheating, so I keep it quiet.", "cheating"),
    ("collaborates_iteratively", "We go back and forth on the outline until it reads right.", "back and forth"),
    ("delegates_whole_tasks", "For the weekly newsletter I let the AI write the whole thing.", "let the AI write"),
    ("verifies_output", "I always double check the numbers against the source.", "double check"),
    ("reliability_concern", "It sometimes makes up references to papers.", "makes up references"),
    ("time_savings", "It saves me hours every week on reporting.", "saves me hours"),
    ("quality_improvement", "My emails sound more professional since I started.", "more professional"),
    ("frustration_with_limits", "It gets frustrating when it ignores the instructions I gave.", "frustrating"),
    ("keeps_tasks_human", "When dealing with upset customers I prefer to handle that myself.", "handle that myself"),
    ("policy_privacy_constraint", "Our company policy says we can never paste client data into chatbots.", "client data"),
    ("oversight_role_future", "In the future my job will be more about managing the AI agents.", "managing the AI agents"),
]


def _answer(sentence: str) -> str:
    return f"I work as an analyst. {sentence} That's about it."


@pytest.fixture(scope="module")
def positive_rows() -> list[dict]:
    return flags_for_many([_answer(sentence) for _, sentence, _ in POSITIVES])


@pytest.fixture(scope="module")
def interviewer_rows() -> list[dict]:
    """Each positive sentence said by the interviewer; the participant only says 'Sure, I see.'"""
    ids = [f"case{i:03d}" for i in range(len(POSITIVES))]
    turns = make_turns({tid: [("interviewer", s), ("participant", "Sure, I see.")] for tid, (_, s, _) in zip(ids, POSITIVES)})
    return flag_themes(turns).to_dicts()


def test_positive_table_covers_every_flag():
    assert sorted(flag for flag, _, _ in POSITIVES) == sorted(THEME_FLAGS)


@pytest.mark.parametrize(("case", "flag", "sentence", "words"), [(i, *p) for i, p in enumerate(POSITIVES)], ids=[p[0] for p in POSITIVES])
def test_clear_positive_sets_flag_with_evidence(positive_rows, case, flag, sentence, words):
    answer = _answer(sentence)
    row = positive_rows[case]
    assert row[flag] is True
    evidence = {e["flag"]: e for e in row["evidence"]}
    assert evidence[flag]["turn_index"] == 1
    assert words.lower() in evidence[flag]["quote"].lower()
    assert evidence[flag]["quote"] in answer  # verbatim
    assert evidence[flag]["quote"] == sentence  # the triggering sentence, not the whole turn


@pytest.mark.parametrize(("case", "flag"), [(i, p[0]) for i, p in enumerate(POSITIVES)], ids=[p[0] for p in POSITIVES])
def test_interviewer_turns_never_count(interviewer_rows, case, flag):
    row = interviewer_rows[case]
    assert row[flag] is False
    assert row["n_flags"] == 0 and row["evidence"] == []


DENIALS: list[tuple[str, str]] = [
    ("skills_atrophy_concern", "I'm not worried about losing my skills."),
    ("skills_atrophy_concern", "I worry my kids will become too reliant on AI for homework."),
    ("job_threat_worry", "I don't think AI will replace my job."),
    ("job_threat_worry", "I'm not worried about AI taking my job."),
    ("job_threat_worry", "It would be wonderful if AI could take over my admin work."),
    ("workplace_stigma", "There is no stigma about it in my office."),
    ("reliability_concern", "It has never given me wrong answers."),
    ("frustration_with_limits", "I have never been frustrated with it."),
    ("time_savings", "It doesn't really save me any time."),
    ("collaborates_iteratively", "I don't really go back and forth with it."),
    ("verifies_output", "I wish I had time to double check everything."),
    ("oversight_role_future", "I don't see myself managing AI agents in the future."),
    ("keeps_tasks_human", "It kept failing, so in the end it was easier to just do it myself."),
    # v1.2
    ("delegates_whole_tasks", "Lots of people use AI to draft whole reports."),
    ("delegates_whole_tasks", "It would be easy to have AI write the whole thing, but I do it myself."),
    ("quality_improvement", "I teach grammar points to adult learners."),
    ("quality_improvement", "I test the code to catch errors before release."),
    ("verifies_output", "I like to test its capabilities now and then."),
]


@pytest.fixture(scope="module")
def denial_rows() -> list[dict]:
    return flags_for_many([sentence for _, sentence in DENIALS])


@pytest.mark.parametrize(("case", "flag"), [(i, d[0]) for i, d in enumerate(DENIALS)], ids=[f"{f}:{s[:30]}" for f, s in DENIALS])
def test_denials_and_excluded_readings_are_not_the_theme(denial_rows, case, flag):
    row = denial_rows[case]
    assert row[flag] is False
    assert flag not in {e["flag"] for e in row["evidence"]}


@pytest.mark.parametrize(
    "answer",
    [
        "My colleagues are worried that AI will replace them. I'm not worried at all.",
        "A lot of people at my firm are scared AI will take their jobs, but I'm not.",
    ],
)
def test_colleagues_fear_while_participant_denies_is_not_job_threat(answer):
    assert flags_for(answer)["job_threat_worry"] is False


def test_veto_stays_inside_its_sentence():
    row = flags_for("I don't double check everything. It saves me a lot of time.")
    assert row["verifies_output"] is False
    assert row["time_savings"] is True
    assert {e["flag"]: e["quote"] for e in row["evidence"]}["time_savings"] == "It saves me a lot of time."


def test_evidence_is_first_triggering_participant_turn():
    turns = make_turns(
        {
            "t1": [
                ("interviewer", QUESTION),
                ("participant", "I write reports."),
                ("interviewer", "How does it help?"),
                ("participant", "It saves me hours."),
                ("interviewer", "Anything else?"),
                ("participant", "It is a real time saver as well."),
            ]
        }
    )
    ev = {e["flag"]: e for e in flag_themes(turns).row(0, named=True)["evidence"]}
    assert ev["time_savings"]["turn_index"] == 3
    assert ev["time_savings"]["quote"] == "It saves me hours."


def test_long_sentence_quote_is_a_verbatim_window_of_at_most_300_chars():
    filler = "and then we talk about the budget and the calendar and the venue " * 6
    answer = f"{filler}and I always double check the figures {filler}"
    ev = {e["flag"]: e for e in flags_for(answer)["evidence"]}
    quote = ev["verifies_output"]["quote"]
    assert len(answer) > 600
    assert 0 < len(quote) <= 300
    assert "double check" in quote
    assert quote in answer


def test_matching_is_case_insensitive():
    assert flags_for("IT SAVES ME HOURS EVERY WEEK.")["time_savings"] is True


def test_output_shape_and_dtypes():
    turns = make_turns(
        {
            "b_only_interviewer": [("interviewer", QUESTION), ("interviewer", "Are you still there? It saves me hours.")],
            "a_rich": [
                ("interviewer", QUESTION),
                ("participant", "It saves me hours. I always double check what it gives me."),
                ("interviewer", "And quality?"),
                ("participant", "My emails sound more professional."),
            ],
            "c_plain": [("interviewer", QUESTION), ("participant", "I teach maths.")],
        }
    )
    out = flag_themes(turns)
    probabilities = [f"p_{flag}" for flag in THEME_FLAGS]
    assert out.columns == ["transcript_id", "split", *THEME_FLAGS, *probabilities, "evidence", "n_flags", "method", "method_version"]
    assert out["transcript_id"].to_list() == ["a_rich", "b_only_interviewer", "c_plain"]
    expected = {
        "transcript_id": pl.String,
        "split": pl.String,
        **{flag: pl.Boolean for flag in THEME_FLAGS},
        **{p: pl.Float64 for p in probabilities},
        "evidence": pl.List(pl.Struct({"flag": pl.String, "turn_index": pl.Int32, "quote": pl.String})),
        "n_flags": pl.Int32,
        "method": pl.String,
        "method_version": pl.String,
    }
    assert dict(out.schema) == expected
    assert out.null_count().sum_horizontal().item() == 0
    assert out["split"].to_list() == ["workforce"] * 3
    assert out["method"].to_list() == [METHOD] * 3 and out["method_version"].to_list() == [METHOD_VERSION] * 3
    assert (out["n_flags"] == out["evidence"].list.len()).all()
    assert (out["n_flags"] == out.select(pl.sum_horizontal(THEME_FLAGS)).to_series()).all()

    rich = out.row(0, named=True)
    assert rich["time_savings"] and rich["verifies_output"] and rich["quality_improvement"]
    # evidence entries follow THEME_FLAGS order
    order = [e["flag"] for e in rich["evidence"]]
    assert order == [flag for flag in THEME_FLAGS if rich[flag]]
    assert {e["flag"]: e["turn_index"] for e in rich["evidence"]}["quality_improvement"] == 3

    only_interviewer = out.row(1, named=True)
    assert not any(only_interviewer[flag] for flag in THEME_FLAGS)
    assert only_interviewer["n_flags"] == 0 and only_interviewer["evidence"] == []


def test_empty_input_gives_empty_frame_with_schema():
    out = flag_themes(make_turns({}))
    assert out.height == 0
    assert out.columns[:2] == ["transcript_id", "split"] and out.schema["evidence"] == pl.List(
        pl.Struct({"flag": pl.String, "turn_index": pl.Int32, "quote": pl.String})
    )


def test_deterministic_and_independent_of_row_order():
    turns = make_turns(
        {
            f"t{i}": [
                ("interviewer", QUESTION),
                ("participant", "It saves me hours. I worry it will replace writers like me."),
                ("interviewer", "Go on."),
                ("participant", "I always double check it. It makes up sources sometimes, which is frustrating."),
            ]
            for i in range(20)
        }
    )
    first = flag_themes(turns)
    assert first.equals(flag_themes(turns))
    assert first.equals(flag_themes(turns.sample(fraction=1.0, shuffle=True, seed=7)))


# --------------------------------------------------------------------------- #
# The fast matcher (v1.1) against the v1 reference matcher
# --------------------------------------------------------------------------- #
from etl_project.lib import theme_engine as themes  # noqa: E402
from etl_project_tests.conftest import SAMPLE_RAW  # noqa: E402


@pytest.fixture(scope="module")
def sample_sentences() -> pl.DataFrame:
    from etl_project.evaluation.theme_data import pipeline_turns

    return themes.participant_sentences(pipeline_turns(SAMPLE_RAW)).collect()


def test_fast_matcher_agrees_with_v1_sentence_by_sentence(sample_sentences):
    """Same hits as the v1 (Unicode, case-folding) regexes on every sample sentence but a handful,
    and every difference is a sentence holding a non-ASCII character (the intended normalisation)."""
    fast = themes.sentence_hits(sample_sentences.lazy()).collect()
    reference = themes.reference_sentence_hits(sample_sentences.lazy()).collect()
    assert fast.height == reference.height == sample_sentences.height > 5_000
    differs = pl.any_horizontal([fast[f] != reference[f] for f in THEME_FLAGS])
    changed = sample_sentences.filter(differs)
    assert changed.height <= 10
    assert changed.get_column("sentence").str.contains(r"[^\x00-\x7f]").all()
    assert sum(int(fast[f].sum()) for f in THEME_FLAGS) > 1_000


def test_literal_prefilter_never_drops_a_match(sample_sentences):
    """Every sentence a flag's positive cues match contains one of that flag's required literals."""
    norm = sample_sentences.select(themes.normalize_for_matching(pl.col("sentence")).alias("n"))
    for flag, plan in themes._plans().items():
        matched = norm.filter(pl.col("n").str.contains(plan.positive))
        assert plan.literals, flag
        assert matched.select(pl.col("n").str.contains_any(list(plan.literals)).all()).item(), flag


@pytest.mark.parametrize(
    ("pattern", "literals"),
    [
        (r"\bsav(?:e|es|ed|ing) (?:[^\s.!?]+\s+){0,4}(?:time|hours)\b", ("hours", "time")),
        (r"\bback[- ]and[- ]forth\b", ("back and forth", "back and-forth", "back-and forth", "back-and-forth")),
        (r"\bcheat(?:ing|er|ers|s)?\b", ("cheat",)),
        (r"\b(?:it|ai) (?:makes|made) (?:mistakes|errors)\b", tuple(f"{a} {b} {c}" for a in ("ai", "it") for b in ("made", "makes") for c in ("errors", "mistakes"))),
        (r"\w+", None),
    ],
)
def test_required_literals(pattern, literals):
    found = themes.required_literals(pattern)
    assert (found is None) if literals is None else set(found) == set(literals)


def test_ascii_regex_rewrites_for_the_normalised_copy():
    assert themes.ascii_regex(r"\bdon['’]t\b") == r"(?-u:\b)don[\x00-\x7f&&[']]t(?-u:\b)"
    assert themes.ascii_regex(r"a.{0,5}b\.") == r"a[\x00-\x7f]{0,5}b\."
    with pytest.raises(ValueError):
        themes.ascii_regex(r"\bAI\b")


def test_normalised_copy_keeps_character_offsets():
    text = "Ça m’a “aidé” — DON’T 😀 stop"
    out = pl.select(themes.normalize_for_matching(pl.lit(text))).item()
    assert len(out) == len(text) and out.isascii() and out == out.lower()
    assert out == ' a m\'a "aid "   don\'t   stop'
    assert out.index("don't") == text.index("DON’T") and out.index("stop") == text.index("stop")


def test_curly_apostrophe_matches_a_straight_apostrophe_cue():
    # v1 wrote this veto with a straight apostrophe only; the text has a curly one
    row = flags_for("It kept failing because it can’t read PDFs, so I do it myself.")
    assert row["keeps_tasks_human"] is False


def test_chunking_does_not_change_the_output(monkeypatch):
    turns = make_turns(
        {
            f"t{i:02d}": [
                ("interviewer", QUESTION),
                ("participant", "It saves me hours. I always double check what it gives me." if i % 2 else "I teach maths."),
                ("interviewer", "Anything else?"),
                ("participant", "Sometimes it makes up sources, which is frustrating." if i % 3 else "No."),
            ]
            for i in range(12)
        }
    )
    whole = flag_themes(turns)
    monkeypatch.setattr(themes, "CHUNK_TRANSCRIPTS", 5)
    assert flag_themes(turns).equals(whole)


# --------------------------------------------------------------------------- #
# v1.1 fast path: sentence splitter, prefilter options, literal choice
# --------------------------------------------------------------------------- #
def _reference_split(texts: list[str]) -> pl.DataFrame:
    frame = pl.DataFrame({"transcript_id": [f"t{i}" for i in range(len(texts))], "turn_index": list(range(len(texts))), "text": texts})
    return (
        frame.lazy()
        .select("transcript_id", "turn_index", pl.col("text").str.extract_all(themes.SENTENCE_PATTERN).alias("sentence"))
        .explode("sentence")
        .with_columns(pl.col("sentence").str.strip_chars())
        .filter(pl.col("sentence").str.len_chars() > 0)
        .collect()
    )


def _fast_split(texts: list[str]) -> pl.DataFrame:
    frame = pl.DataFrame({"transcript_id": [f"t{i}" for i in range(len(texts))], "turn_index": list(range(len(texts))), "text": texts})
    return themes._split_turns(frame).select("transcript_id", "turn_index", "sentence")


EDGE_TEXTS = [
    "Hi. . . there", "a.b. c", "\n... x", "...", " ... x", "a.\r\nb", "\r... x", "x\n..\n..\ny", "a. \n... b", ".a",
    "a.\u00a0b", "e.g.\u2014the", "a?!  b\n\n c", "", "\n", "  ", "end...", "ok.\t\tfine", "a\u2028b. c", "a.\u2028b",
    "..\u2028x", "a \n . b", "has a \x00 NUL. Yes.", "Two. Sentences! And? More",
]


def test_fast_splitter_matches_sentence_pattern_on_edge_cases():
    assert _fast_split(EDGE_TEXTS).equals(_reference_split(EDGE_TEXTS))


def test_fast_splitter_matches_sentence_pattern_on_random_texts():
    import random

    rng = random.Random(0)
    alphabet = list("ab .!?.\n\r\t") + ["\u00a0", "\u2014", "’", "\u2028", " . ", "...", "?!", "\x00"]
    texts = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30))) for _ in range(3000)]
    assert _fast_split(texts).equals(_reference_split(texts))


def test_fast_splitter_matches_sentence_pattern_on_the_sample():
    from etl_project.evaluation.theme_data import pipeline_turns

    turns = pipeline_turns(SAMPLE_RAW).filter(pl.col("speaker") == "participant")
    texts = turns.get_column("text").fill_null("").to_list()
    assert _fast_split(texts).equals(_reference_split(texts))


def test_every_prefilter_option_keeps_every_match(sample_sentences):
    """Each alternative may take any of its literal options; every one must hold on every match."""
    norm = themes._normalized(sample_sentences.get_column("sentence"))
    patterns = [p for _, p in themes._alternatives()]
    assert len(patterns) == len(themes._options())
    for pattern, options in zip(patterns, themes._options()):
        assert options, pattern
        matched = norm.filter(norm.str.contains(pattern))
        for option in options:
            assert matched.str.contains_any(list(option)).all(), (pattern[:60], option[:5])


def test_literal_choice_does_not_change_the_hits(sample_sentences, monkeypatch):
    norm = themes._normalized(sample_sentences.get_column("sentence"))
    adaptive = themes._hits(norm).sort("sid", "flag")
    static = themes._literal_table(None)
    monkeypatch.setattr(themes, "_chosen_literal_table", lambda _norm=None: static)
    assert themes._hits(norm).sort("sid", "flag").equals(adaptive)


def test_parallel_halves_do_not_change_the_output(monkeypatch):
    turns = make_turns(
        {
            f"t{i:02d}": [("interviewer", QUESTION), ("participant", "It saves me hours. I always double check what it gives me." if i % 2 else "I teach maths.")]
            for i in range(30)
        }
    )
    whole = flag_themes(turns)
    monkeypatch.setattr(themes, "_PARALLEL_ROWS", 2)
    assert flag_themes(turns).equals(whole)


V12_POSITIVES: list[tuple[str, str]] = [
    ("oversight_role_future", "I want to develop strong skills of guiding AI agents towards good results."),
    ("oversight_role_future", "I will at some point switch to using coding agents more."),
    ("quality_improvement", "It found a ton of things that I didn't catch."),
    ("quality_improvement", "I ask it to check my spelling and grammar before I send anything."),
    ("verifies_output", "It gives me a draft and I still have to tweak it."),
]


@pytest.mark.parametrize(("flag", "sentence"), V12_POSITIVES, ids=[f"{f}:{s[:30]}" for f, s in V12_POSITIVES])
def test_v12_cues(flag, sentence):
    row = flags_for(sentence)
    assert row[flag] is True
    assert {e["flag"]: e["quote"] for e in row["evidence"]}[flag] == sentence

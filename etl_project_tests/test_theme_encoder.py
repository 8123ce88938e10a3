"""The sentence encoder behind ``best`` (etl_project.lib.theme_encoder): the real loading and forward code on a
tiny encoder built here, and, where the weights package is installed, on all-MiniLM-L6-v2 itself."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import re
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from etl_project.lib import theme_encoder, themes
from etl_project_tests.conftest import PROJECT_ROOT

pytest.importorskip("tokenizers")
HAVE_WEIGHTS = importlib.util.find_spec(theme_encoder.WEIGHTS_PACKAGE) is not None

WORDS = "ai it saves me hours i always check what gives worry about my job the weather is nice today".split()


def _write_safetensors(path: Path, tensors: dict[str, np.ndarray]) -> None:
    header, blobs, offset = {}, [], 0
    for name, array in tensors.items():
        data = np.ascontiguousarray(array, dtype=np.float32).tobytes()
        header[name] = {"dtype": "F32", "shape": list(array.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    raw = json.dumps(header).encode()
    path.write_bytes(len(raw).to_bytes(8, "little") + raw + b"".join(blobs))


@pytest.fixture()
def tiny_encoder(tmp_path, monkeypatch):
    """A 2-layer, 8-wide BERT with random weights and a WordPiece tokenizer, laid out as the weights package is."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors

    vocab = {w: i for i, w in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", *WORDS])}
    tokenizer = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.post_processor = processors.TemplateProcessing(single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)])
    folder = tmp_path / "model"
    folder.mkdir()
    tokenizer.save(str(folder / "tokenizer.json"))
    (folder / "config.json").write_text(json.dumps({"num_hidden_layers": 2, "num_attention_heads": 2, "layer_norm_eps": 1e-12}))
    rng = np.random.default_rng(0)
    h, f = 8, 16
    w = {
        "embeddings.word_embeddings.weight": rng.normal(size=(len(vocab), h)),
        "embeddings.position_embeddings.weight": rng.normal(size=(256, h)),
        "embeddings.token_type_embeddings.weight": rng.normal(size=(2, h)),
        "embeddings.LayerNorm.weight": np.ones(h), "embeddings.LayerNorm.bias": np.zeros(h),
    }
    for i in range(2):
        p = f"encoder.layer.{i}."
        for name, shape in [("attention.self.query", (h, h)), ("attention.self.key", (h, h)), ("attention.self.value", (h, h)),
                            ("attention.output.dense", (h, h)), ("intermediate.dense", (f, h)), ("output.dense", (h, f))]:
            w[p + name + ".weight"] = rng.normal(size=shape) / np.sqrt(shape[1])
            w[p + name + ".bias"] = rng.normal(size=shape[0]) * 0.1
        for norm in ("attention.output.LayerNorm", "output.LayerNorm"):
            w[p + norm + ".weight"], w[p + norm + ".bias"] = np.ones(h), np.zeros(h)
    _write_safetensors(folder / "model.safetensors", w)
    monkeypatch.setattr(theme_encoder, "model_dir", lambda: folder)
    theme_encoder.load.cache_clear()
    yield folder
    theme_encoder.load.cache_clear()


def test_safetensors_reader_round_trips(tmp_path):
    arrays = {"a": np.arange(6, dtype=np.float32).reshape(2, 3), "b": np.ones(4, dtype=np.float32)}
    _write_safetensors(tmp_path / "x.safetensors", arrays)
    back = theme_encoder.read_safetensors(tmp_path / "x.safetensors")
    assert set(back) == {"a", "b"} and all(np.array_equal(back[k], arrays[k]) for k in arrays)


def test_embeddings_are_unit_vectors_independent_of_batch_and_padding(tiny_encoder):
    short, long = "it saves me hours", " ".join(["i always check what it gives"] * 10)
    alone = theme_encoder.encode([short])
    together = theme_encoder.encode([long, short, "the weather is nice today"], batch=3)  # short padded to long's length
    assert alone.shape == (1, 8) and np.allclose(np.linalg.norm(together, axis=1), 1, atol=1e-5)
    assert np.allclose(alone[0], together[1], atol=1e-5)  # the attention mask keeps padding out
    assert not np.allclose(together[0], together[1])
    huge = theme_encoder.encode([" ".join(WORDS * 40)])  # cut to MAX_TOKENS word pieces
    assert np.isfinite(huge).all()


def test_the_cache_returns_what_the_encoder_computes(tiny_encoder, tmp_path, monkeypatch):
    monkeypatch.setattr(theme_encoder, "_CACHE", {})
    texts = ["it saves me hours", "worry about my job", "it saves me hours", ""]
    first = theme_encoder.embed(texts)
    assert np.allclose(first, theme_encoder.encode(texts), atol=1e-6) and len(theme_encoder._CACHE) == 3
    theme_encoder.save_cache(tmp_path / "c.npz")
    theme_encoder._CACHE.clear()
    assert theme_encoder.load_cache(tmp_path / "c.npz") == 3
    assert np.array_equal(theme_encoder.embed(texts), first)


def test_a_missing_weights_package_says_how_to_install_it(monkeypatch):
    monkeypatch.setattr(theme_encoder, "WEIGHTS_PACKAGE", "no_such_weights_package_xyz")
    with pytest.raises(theme_encoder.EncoderMissing, match="make install-themes-best"):
        theme_encoder.model_dir()


def test_makefile_installs_the_encoder_for_exactly_the_methods_that_need_it():
    text = (PROJECT_ROOT / "Makefile").read_text(encoding="utf-8")
    listed = set(re.search(r"^ENCODER_METHODS\s*:=\s*(.*)$", text, re.M).group(1).split())
    assert themes.NEEDS_ENCODER <= set(themes.METHODS)
    assert listed == set(themes.NEEDS_ENCODER) | ({"best"} if themes.BEST in themes.NEEDS_ENCODER else set())


@pytest.mark.skipif(not HAVE_WEIGHTS, reason="the encoder's weights package is not installed (make install-themes-best)")
def test_the_real_encoder_puts_paraphrases_together():
    theme_encoder.load.cache_clear()
    v = theme_encoder.encode(["I worry AI will take my job.", "I am afraid artificial intelligence will replace me at work.", "The weather is nice today."])
    assert v.shape == (3, theme_encoder.DIM) and v[0] @ v[1] > 0.6 > 0.2 > v[0] @ v[2]


@pytest.mark.skipif(not HAVE_WEIGHTS, reason="the encoder's weights package is not installed (make install-themes-best)")
def test_best_flags_with_verbatim_evidence_offline():
    from etl_project.schemas import ThemeFlagsModel

    texts = ["How does AI fit into your work?", "It saves me hours every week. It makes up references, so I always double check everything it gives me.",
             "Anything else?", "I worry it could make my job obsolete in a few years."]
    turns = pl.DataFrame({"transcript_id": ["a"] * 4, "split": ["workforce"] * 4, "turn_index": list(range(4)),
                          "speaker": ["interviewer", "participant"] * 2, "text": texts}, schema_overrides={"turn_index": pl.Int32})
    out = themes.flag_themes(turns, method="best")
    ThemeFlagsModel.validate(out)
    row = out.row(0, named=True)
    assert row["method"] == themes.BEST and row["time_savings"] and row["n_flags"] == len(row["evidence"]) > 0
    for e in row["evidence"]:
        assert e["turn_index"] in (1, 3) and e["quote"] in texts[e["turn_index"]]


def test_transcript_features_and_the_stacked_score_by_hand():
    # transcript 0: turns 2.0, -1.0, 0.5 (and one turn that cannot be evidence); transcript 1: no scored turn
    t = np.array([0, 0, 0, 0, 1])
    s = np.array([[2.0], [-1.0], [-np.inf], [0.5], [-np.inf]]) * np.ones((1, 14))
    features, best = theme_encoder.transcript_features(t, s, 2)
    lse = np.log(np.exp(2.0) + np.exp(-1.0) + np.exp(0.5))
    assert np.allclose(features[0, 0], [2.0, lse, 0.5, np.log1p(2), np.log1p(4)])
    assert not np.isfinite(best[1]).any()
    coef, intercept = np.tile([1.0, 0.5, 0.25, 2.0, -1.0], (14, 1)), np.full(14, -0.5)
    z = theme_encoder.stacked_scores(coef, intercept, t, s, 2)
    assert np.allclose(z[0], features[0, 0] @ coef[0] - 0.5) and np.all(z[1] == -np.inf)
    # a tie at the top: the second-best turn's logit is the top one's
    features, _ = theme_encoder.transcript_features(np.array([0, 0]), np.full((2, 14), 1.5), 1)
    assert np.allclose(features[0, :, 2], 1.5)


def test_the_transcript_level_model_round_trips_and_a_v1_head_loads_without_it(tmp_path):
    from types import SimpleNamespace

    base = SimpleNamespace(version="tfidf-lexicon-lr-v1")
    z14 = np.zeros(14)
    v1 = theme_encoder.EncoderModel(version="v1", base=base, coef=np.zeros((theme_encoder.DIM, 14)), intercept=z14, weight=np.ones(14),
                                    threshold=z14, tpr=z14, fpr=z14, n_pos=z14.astype(np.int64), n_neg=z14.astype(np.int64))
    v1.save(tmp_path / "v1.npz")
    assert theme_encoder.EncoderModel.load(tmp_path / "v1.npz", base).stack_coef is None
    coef = np.arange(14 * len(theme_encoder.STACK_FEATURES), dtype=float).reshape(14, -1)
    v2 = dataclasses.replace(v1, version="v2", stack_coef=coef, stack_intercept=np.arange(14.0))
    v2.save(tmp_path / "v2.npz")
    back = theme_encoder.EncoderModel.load(tmp_path / "v2.npz", base)
    assert np.array_equal(back.stack_coef, coef) and np.array_equal(back.stack_intercept, np.arange(14.0))


def test_the_shipped_best_head_has_its_transcript_level_model():
    from etl_project.evaluation.theme_train import SHIPPED

    file, cfg = SHIPPED["minilm_tfidf_lexicon"]
    with np.load(PROJECT_ROOT / "etl_project" / "lib" / "models" / file) as z:
        assert str(z["version"]) == cfg.version and cfg.stack
        assert z["stack_coef"].shape == (14, len(theme_encoder.STACK_FEATURES)) and np.isfinite(z["stack_coef"]).all()

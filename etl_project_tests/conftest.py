"""Shared fixtures: temp raw folders and warehouses, the shipped sample, a file writer."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SAMPLE_RAW = PROJECT_ROOT / "data" / "raw"
DEV_LABELS = PROJECT_ROOT / "data" / "themes" / "dev_labels.jsonl"


def dialog(*turns: tuple[str, str]) -> str:
    """Release-style dialog text from (label, text) pairs."""
    return "\n\n".join(f"{label}: {text}" if text else f"{label}:" for label, text in turns)


SIMPLE_DIALOG = dialog(
    ("Assistant", "Hi! Could you tell me how AI fits into your work?"),
    ("User", "I use it to draft emails, and I always double check what it gives me."),
    ("AI", "Thanks. What tasks do you keep for yourself?"),
    ("User", "Anything with clients. I like to handle that myself."),
)


def md_transcript(transcript_id: str, body: str = SIMPLE_DIALOG, dialog_number: int = 1) -> str:
    return f"# Dialog {dialog_number:05d}\n\n**Transcript ID:** {transcript_id}\n\n---\n\n{body}\n"


@pytest.fixture
def raw_dir(tmp_path: Path) -> Path:
    path = tmp_path / "raw"
    path.mkdir()
    return path


@pytest.fixture
def warehouse_dir(tmp_path: Path) -> Path:
    path = tmp_path / "warehouse"
    path.mkdir()
    return path

"""The baseline: the script a typical analyst writes for the same job.

pandas reads the files (``open().read()`` per Markdown file, ``pd.read_csv`` per
CSV), ``ftfy.fix_text`` (defaults) repairs every transcript, a Python loop of
``re.split`` cuts the turns, and ``DataFrame.to_parquet`` writes one Parquet
file. No validation, no quarantine, no theme flags, no partitioning, no
atomic writes. It is kept deliberately plain: it is what the pipeline is
measured against, not a second implementation to maintain.

Run: ``python -m bench.naive RAW_DIR OUT_DIR`` -> ``OUT_DIR/turns.parquet``.
"""

from __future__ import annotations

import glob
import os
import re
import sys

import ftfy
import pandas as pd

LABELS = re.compile(r"^(Assistant|AI|\[AI\]|User|Human|\[Human\]):(?=[ \t]|$)", re.MULTILINE)
INTERVIEWER = {"Assistant", "AI", "[AI]"}
TRANSCRIPT_ID = re.compile(r"\*\*Transcript ID:\*\*\s*(\S+)")


def load(raw_dir: str) -> pd.DataFrame:
    rows = []
    for path in sorted(glob.glob(os.path.join(raw_dir, "**", "*.md"), recursive=True)):
        with open(path, encoding="utf-8") as fh:
            content = fh.read()
        match = TRANSCRIPT_ID.search(content)
        body = content.split("\n---\n", 1)[-1]
        rows.append({"transcript_id": match.group(1) if match else os.path.basename(path)[:-3], "text": body})
    frames = [pd.DataFrame(rows, columns=["transcript_id", "text"])]
    for path in sorted(glob.glob(os.path.join(raw_dir, "**", "*.csv"), recursive=True)):
        frames.append(pd.read_csv(path))
    return pd.concat(frames, ignore_index=True)


def split_turns(df: pd.DataFrame) -> pd.DataFrame:
    out = []
    for tid, text in zip(df["transcript_id"], df["text"]):
        parts = LABELS.split(text)
        # parts: [preamble, label, body, label, body, ...]
        for i in range(1, len(parts), 2):
            label, body = parts[i], parts[i + 1].strip()
            out.append(
                {
                    "transcript_id": tid,
                    "turn_index": (i - 1) // 2,
                    "speaker": "interviewer" if label in INTERVIEWER else "participant",
                    "speaker_label": label,
                    "text": body,
                    "n_words": len(body.split()),
                }
            )
    return pd.DataFrame(out)


def main(raw_dir: str, out_dir: str) -> int:
    df = load(raw_dir)
    df["text"] = df["text"].apply(ftfy.fix_text)
    turns = split_turns(df)
    os.makedirs(out_dir, exist_ok=True)
    turns.to_parquet(os.path.join(out_dir, "turns.parquet"), index=False)
    print(f"{len(df)} transcripts, {len(turns)} turns")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))

"""Seeded, offline synthetic corpus for the benchmark.

Real speaker turns are taken from the sample corpus in ``data/raw`` (read with
:func:`etl_project.lib.readers.read_raw_folder`, split with
:func:`etl_project.lib.turns.split_turns`; only the transcripts that needed no
repair, so the pool is clean text) and resampled into new transcripts:

* each new transcript copies the speaker-label sequence of a real one of the
  same split (so turn counts follow the real distribution, 15-43 turns) and
  fills every position with a real turn of the same label and split (the
  opening and closing positions from real openings and closings);
* ids ``work_N`` / ``creativity_N`` / ``science_N`` (80/10/10 like the release),
  N zero-padded to ``max(4, digits of the corpus size)``: 5 digits at 50,000,
  6 at 500,000;
* layouts: about half one ``.md`` file per transcript with the release header
  (``# Dialog N`` / ``**Transcript ID:** id`` / ``---``), the rest in
  release-style CSVs (``"transcript_id","text"``, RFC 4180 quoting, multi-line
  fields, :data:`CSV_ROWS` transcripts per file, one file series per split);

and damaged the way real exports are (rates in :data:`RATES`):

* curly quotes typed by phone keyboards (``I’m``, ``“mostly”``) in a quarter of
  the transcripts, on top of the en/em dashes and ellipses of the real text;
  these are legitimate and must survive;
* a Cyrillic, Greek, accented-Latin or emoji sentence in a few participant turns;
* mojibake on some lines of some transcripts, every line of a chosen transcript
  that holds a non-ASCII character being damaged with probability
  ``line_damage``: UTF-8 read as Windows-1252 (``â€™``; most cases),
  the same applied twice (``Ã¢â‚¬â„¢``; a few), UTF-8 read as Latin-1
  (``â\\x80\\x99``, C1 controls; a few). Non-Latin sentences are damaged the
  same way (``Ð§ÐµÑ\\x81...``, ``ðŸ™Œ``);
* CRLF line endings in some ``.md`` files and in some CSV fields/files.

Every damage kind appears at least once whatever the size (the first damaged
transcripts cycle through the kinds), so a 30-transcript smoke corpus has them
all. ``truth.parquet`` records, per transcript, the clean text's SHA-256, the
expected number of turns and the damage applied, so the benchmark can check
the pipeline's repair exactly.

Output: ``bench/out/corpus/n<N>_s<seed>/{raw/, truth.parquet, manifest.json}``,
cached: a folder whose manifest matches (N, seed, :data:`GENERATOR_VERSION`)
is reused as is.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import random
import re
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

GENERATOR_VERSION = 1
PROJECT_ROOT = Path(__file__).resolve().parent.parent
SAMPLE_RAW = PROJECT_ROOT / "data" / "raw"
DEFAULT_OUT = PROJECT_ROOT / "bench" / "out"

SPLIT_SHARE: tuple[tuple[str, float], ...] = (("work", 0.80), ("creativity", 0.10), ("science", 0.10))
SPLIT_OF_PREFIX = {"work": "workforce", "creativity": "creatives", "science": "scientists"}
CSV_ROWS = 2_000  # transcripts per release-style CSV
SHAPES: dict[str, tuple[dict[str, float], int]] = {
    # name: (rates over RATES, transcripts per CSV)
    "mixed": ({}, CSV_ROWS),  # half one .md file each, half in CSVs of 2,000
    "release_csvs": ({"csv": 1.0}, 10_000),  # every transcript in CSVs of 10,000 rows (~90 MB each): the release's layout
}
MD_PER_FOLDER = 5_000  # .md files per sub-folder (keeps directories listable)
RATES: dict[str, float] = {
    "csv": 0.50,  # share of transcripts stored in CSVs (the rest: one .md each)
    "crlf_md": 0.10,  # .md files written with CRLF
    "crlf_csv_field": 0.10,  # CSV fields whose embedded line breaks are CRLF
    "crlf_csv_file": 0.33,  # CSV files whose record terminator is CRLF (RFC 4180) rather than LF
    "curly": 0.25,  # transcripts whose participant types curly quotes
    "nonlatin": 0.03,  # transcripts with a Cyrillic/Greek/accented/emoji sentence
    "damaged": 0.08,  # transcripts with mojibake on some lines
    "line_damage": 0.50,  # in a damaged transcript, each non-ASCII line is damaged with this probability
}
# Among damaged transcripts: how the bytes were misread.
DAMAGE_KINDS: tuple[tuple[str, float], ...] = (("cp1252", 0.80), ("double", 0.10), ("latin1", 0.10))
# Non-Latin and accented sentences (written for this benchmark) appended to a participant turn.
NONLATIN_SENTENCES: tuple[str, ...] = (
    "Честно говоря, я использую ИИ почти каждый день.",
    "Це справді заощаджує мені час, але я все перевіряю.",
    "Η τεχνητή νοημοσύνη με βοηθά, αλλά δεν την εμπιστεύομαι τυφλά.",
    "Ça m’aide beaucoup, c’est déjà ça — même si je relis tout.",
    "Für die Übersicht ist es großartig, für Details weniger.",
    "São Paulo, Zürich, Øresund: my clients are everywhere.",
    "Honestly it saved my week 🙌😅",
    "My team calls it «помощник» 🤖 and that stuck.",
    "I gave it a 👍 and moved on.",
    "Ёлка, Ѐ and Џ: my Cyrillic test strings still break other tools 😬",
)


# ---------------------------------------------------------------- damage


def _sloppy_cp1252(data: bytes) -> str:
    """Decode as Windows-1252, the five undefined bytes as the code point of the same number (what browsers do)."""
    return data.decode("cp1252", errors="bench_sloppy_1252")


def _sloppy_handler(error: UnicodeDecodeError) -> tuple[str, int]:
    return error.object[error.start : error.end].decode("latin-1"), error.end


import codecs  # noqa: E402  (registered once, next to its handler)

codecs.register_error("bench_sloppy_1252", _sloppy_handler)


def damage(line: str, kind: str) -> str:
    """The line as a program that misread its UTF-8 bytes would have stored it."""
    if kind == "cp1252":
        return _sloppy_cp1252(line.encode("utf-8"))
    if kind == "double":
        return _sloppy_cp1252(_sloppy_cp1252(line.encode("utf-8")).encode("utf-8"))
    if kind == "latin1":
        return line.encode("utf-8").decode("latin-1")
    raise ValueError(f"unknown damage kind {kind!r}")


_DOUBLE_QUOTED = re.compile(r'"([^"\n]{1,200})"')


def curl(text: str) -> str:
    """What a phone keyboard types: “double” and ’ apostrophes."""
    return _DOUBLE_QUOTED.sub("“\\1”", text).replace("'", "’")


# ---------------------------------------------------------------- the pool of real turns


@dataclass
class Pool:
    """Real turns by (split prefix, label, position) and label sequences by split."""

    turns: dict[tuple[str, str, str], list[str]] = field(default_factory=dict)
    templates: dict[str, list[tuple[str, ...]]] = field(default_factory=dict)
    source_transcripts: int = 0

    def pick(self, rng: random.Random, prefix: str, label: str, position: str) -> str:
        for key in ((prefix, label, position), (prefix, label, "middle"), ("*", label, position), ("*", label, "middle")):
            texts = self.turns.get(key)
            if texts:
                return texts[rng.randrange(len(texts))]
        raise LookupError(f"no real turn for label {label!r}")


def load_pool(sample_root: Path = SAMPLE_RAW) -> Pool:
    """Clean real turns of the sample corpus, deterministically ordered."""
    import polars as pl

    from etl_project.lib.readers import read_raw_folder
    from etl_project.lib.transform import deduplicate, identify, repair
    from etl_project.lib.turns import split_turns

    records, _ = read_raw_folder(sample_root)
    ok = deduplicate(repair(identify(records))).filter(pl.col("reject_reason").is_null())
    # Only transcripts that needed no repair: the pool is clean by construction.
    clean = ok.filter(pl.col("n_repairs") == 0).sort("transcript_id")
    turns = split_turns(clean)
    pool = Pool(source_transcripts=clean.height)
    for (tid,), group in turns.group_by("transcript_id", maintain_order=True):
        prefix = str(tid).split("_", 1)[0]
        if prefix not in SPLIT_OF_PREFIX:
            continue
        labels = tuple(group.get_column("speaker_label").to_list())
        texts = group.get_column("text").to_list()
        pool.templates.setdefault(prefix, []).append(labels)
        last = len(labels) - 1
        for i, (label, text) in enumerate(zip(labels, texts)):
            if not text or "â€" in text:
                continue
            position = "first" if i == 0 else "last" if i == last else "middle"
            for key in ((prefix, label, position), ("*", label, position)):
                pool.turns.setdefault(key, []).append(text)
    missing = [p for p in SPLIT_OF_PREFIX if not pool.templates.get(p)]
    if missing:
        raise RuntimeError(f"sample corpus {sample_root} has no clean transcript of split(s) {missing}")
    return pool


# ---------------------------------------------------------------- one transcript


@dataclass
class Transcript:
    transcript_id: str
    dialog: int
    prefix: str
    layout: str  # "md" or "csv"
    crlf: bool
    curly: bool
    nonlatin: bool
    damage_kind: str | None
    damaged_lines: int
    n_turns: int
    n_participant_turns: int
    clean: str  # LF, no header
    stored: str  # what goes in the file / CSV field (damaged, CRLF if chosen), no header


def _weighted(rng: random.Random, options: tuple[tuple[str, float], ...]) -> str:
    x = rng.random() * sum(w for _, w in options)
    for name, w in options:
        x -= w
        if x < 0:
            return name
    return options[-1][0]


def _compose(rng: random.Random, pool: Pool, prefix: str, curly: bool, nonlatin: bool) -> tuple[str, int, int]:
    templates = pool.templates[prefix]
    labels = templates[rng.randrange(len(templates))]
    last = len(labels) - 1
    texts = []
    for i, label in enumerate(labels):
        position = "first" if i == 0 else "last" if i == last else "middle"
        text = pool.pick(rng, prefix, label, position)
        if label in ("User", "Human", "[Human]") and curly:
            text = curl(text)
        texts.append(text)
    participant = [i for i, label in enumerate(labels) if label in ("User", "Human", "[Human]")]
    if nonlatin and participant:
        i = participant[rng.randrange(len(participant))]
        texts[i] = f"{texts[i]} {NONLATIN_SENTENCES[rng.randrange(len(NONLATIN_SENTENCES))]}"
    body = "\n\n".join(f"{label}: {text}" if text else f"{label}:" for label, text in zip(labels, texts))
    return body, len(labels), len(participant)


def _damage_lines(rng: random.Random, body: str, kind: str, p: float) -> tuple[str, int]:
    lines = body.split("\n")
    candidates = [i for i, line in enumerate(lines) if not line.isascii()]
    if not candidates:
        return body, 0
    chosen = [i for i in candidates if rng.random() < p] or [candidates[rng.randrange(len(candidates))]]
    for i in chosen:
        lines[i] = damage(lines[i], kind)
    return "\n".join(lines), len(chosen)


def make_transcripts(n: int, seed: int, pool: Pool, rates: dict[str, float] | None = None):
    """Yield ``n`` transcripts, deterministically for (n, seed, pool)."""
    rates = {**RATES, **(rates or {})}
    rng = random.Random(seed)
    width = max(4, len(str(n)))
    # Which transcripts are damaged, and how: a fixed share, the first ones cycling
    # through every kind (and the first non-Latin one) so small corpora show them all.
    n_damaged = min(n, max(len(DAMAGE_KINDS) + 1, round(rates["damaged"] * n)))
    damaged_order = rng.sample(range(n), n_damaged)
    kind_of: dict[int, str] = {}
    forced_nonlatin: set[int] = set()
    for rank, i in enumerate(damaged_order):
        if rank < len(DAMAGE_KINDS):
            kind_of[i] = DAMAGE_KINDS[rank][0]
        elif rank == len(DAMAGE_KINDS):
            kind_of[i] = "cp1252"
            forced_nonlatin.add(i)
        else:
            kind_of[i] = _weighted(rng, DAMAGE_KINDS)
    counters = {prefix: 0 for prefix, _ in SPLIT_SHARE}
    for i in range(n):
        prefix = _weighted(rng, SPLIT_SHARE)
        number = counters[prefix]
        counters[prefix] += 1
        layout = "csv" if rng.random() < rates["csv"] else "md"
        crlf = rng.random() < (rates["crlf_csv_field"] if layout == "csv" else rates["crlf_md"])
        curly = rng.random() < rates["curly"]
        nonlatin = i in forced_nonlatin or rng.random() < rates["nonlatin"]
        clean, n_turns, n_part = _compose(rng, pool, prefix, curly, nonlatin)
        kind = kind_of.get(i)
        stored, damaged_lines = clean, 0
        if kind is not None:
            stored, damaged_lines = _damage_lines(rng, clean, kind, rates["line_damage"])
        if crlf:
            stored = stored.replace("\n", "\r\n")
        yield Transcript(
            transcript_id=f"{prefix}_{number:0{width}d}",
            dialog=i + 1,
            prefix=prefix,
            layout=layout,
            crlf=crlf,
            curly=curly,
            nonlatin=nonlatin,
            damage_kind=kind if damaged_lines else None,
            damaged_lines=damaged_lines,
            n_turns=n_turns,
            n_participant_turns=n_part,
            clean=clean,
            stored=stored,
        )


def md_text(t: Transcript) -> str:
    nl = "\r\n" if t.crlf else "\n"
    return f"# Dialog {t.dialog:05d}{nl}{nl}**Transcript ID:** {t.transcript_id}{nl}{nl}---{nl}{nl}{t.stored}{nl}"


# ---------------------------------------------------------------- the corpus on disk


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.strip().encode("utf-8")).hexdigest()


def corpus_dir(n: int, seed: int, out: Path = DEFAULT_OUT, shape: str = "mixed") -> Path:
    return Path(out) / "corpus" / (f"n{n}_s{seed}" if shape == "mixed" else f"n{n}_s{seed}_{shape}")


def _write_corpus(target: Path, n: int, seed: int, pool: Pool, rates: dict[str, float] | None, csv_per_file: int = CSV_ROWS) -> dict:
    import polars as pl

    raw = target / "raw"
    raw.mkdir(parents=True)
    truth: list[dict] = []
    csv_rows: dict[str, list[Transcript]] = {prefix: [] for prefix, _ in SPLIT_SHARE}
    csv_files: dict[str, int] = {prefix: 0 for prefix, _ in SPLIT_SHARE}
    file_rng = random.Random(seed + 1_000_003)  # CSV terminators; independent of the transcript stream
    md_count = 0

    def flush(prefix: str) -> None:
        rows = csv_rows[prefix]
        if not rows:
            return
        k = csv_files[prefix]
        csv_files[prefix] += 1
        rel = f"csv/{SPLIT_OF_PREFIX[prefix]}_{k:04d}.csv"
        path = raw / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        terminator = "\r\n" if file_rng.random() < (rates or RATES).get("crlf_csv_file", RATES["crlf_csv_file"]) else "\n"
        with open(path, "w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh, quoting=csv.QUOTE_ALL, lineterminator=terminator)
            writer.writerow(["transcript_id", "text"])
            for row in rows:
                writer.writerow([row.transcript_id, row.stored])
        for row in rows:
            truth_by_id[row.transcript_id]["source_file"] = rel
        rows.clear()

    truth_by_id: dict[str, dict] = {}
    for t in make_transcripts(n, seed, pool, rates):
        row = {
            "transcript_id": t.transcript_id,
            "split": SPLIT_OF_PREFIX[t.prefix],
            "dialog_number": t.dialog,
            "layout": t.layout,
            "source_file": None,
            "crlf": t.crlf,
            "curly": t.curly,
            "nonlatin": t.nonlatin,
            "damage": t.damage_kind,
            "damaged_lines": t.damaged_lines,
            "n_turns": t.n_turns,
            "n_participant_turns": t.n_participant_turns,
            "clean_chars": len(t.clean),
            "clean_sha256": sha256_text(t.clean),
        }
        truth.append(row)
        truth_by_id[t.transcript_id] = row
        if t.layout == "md":
            rel = f"md/part-{md_count // MD_PER_FOLDER:03d}/{t.transcript_id}.md"
            md_count += 1
            path = raw / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(md_text(t).encode("utf-8"))
            row["source_file"] = rel
        else:
            csv_rows[t.prefix].append(t)
            if len(csv_rows[t.prefix]) >= csv_per_file:
                flush(t.prefix)
    for prefix in csv_rows:
        flush(prefix)
    pl.DataFrame(truth).write_parquet(target / "truth.parquet")
    files = sorted(p for p in raw.rglob("*") if p.is_file())
    return {
        "generator_version": GENERATOR_VERSION,
        "n": n,
        "seed": seed,
        "rates": {**RATES, **(rates or {})},
        "csv_rows_per_file": csv_per_file,
        "transcripts": len(truth),
        "files": len(files),
        "md_files": md_count,
        "csv_files": sum(csv_files.values()),
        "input_bytes": sum(p.stat().st_size for p in files),
        "damaged_transcripts": sum(1 for r in truth if r["damage"]),
        "damaged_lines": sum(r["damaged_lines"] for r in truth),
        "damage_kinds": {kind: sum(1 for r in truth if r["damage"] == kind) for kind, _ in DAMAGE_KINDS},
        "nonlatin_transcripts": sum(1 for r in truth if r["nonlatin"]),
        "curly_transcripts": sum(1 for r in truth if r["curly"]),
        "crlf_transcripts": sum(1 for r in truth if r["crlf"]),
        "pool_transcripts": pool.source_transcripts,
    }


def generate(n: int, seed: int = 0, *, out: Path = DEFAULT_OUT, target: Path | None = None, rates: dict[str, float] | None = None, pool: Pool | None = None, force: bool = False, quiet: bool = False, shape: str = "mixed") -> Path:
    """The corpus folder for (n, seed, shape), generated unless a matching one is cached there.

    ``shape`` (:data:`SHAPES`) is how the transcripts are stored: one .md file each or release CSVs."""
    target = Path(target) if target is not None else corpus_dir(n, seed, out, shape)
    shape_rates, csv_per_file = SHAPES[shape]
    manifest_path = target / "manifest.json"
    if not force and manifest_path.is_file() and rates is None:
        manifest = json.loads(manifest_path.read_text())
        if manifest.get("generator_version") == GENERATOR_VERSION and manifest.get("n") == n and manifest.get("seed") == seed and manifest.get("shape", "mixed") == shape:
            return target
    rates = {**shape_rates, **(rates or {})} or None
    started = time.perf_counter()
    if target.exists():
        shutil.rmtree(target)
    building = target.with_name(target.name + ".building")
    if building.exists():
        shutil.rmtree(building)
    building.mkdir(parents=True)
    manifest = _write_corpus(building, n, seed, pool or load_pool(), rates, csv_per_file)
    manifest["shape"] = shape
    manifest["generate_seconds"] = round(time.perf_counter() - started, 2)
    (building / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    os.replace(building, target)
    if not quiet:
        print(f"generated {n:,} transcripts ({manifest['input_bytes'] / 1e6:,.1f} MB, {manifest['files']:,} files) in {target} in {manifest['generate_seconds']:.1f} s", file=sys.stderr)
    return target


def manifest(corpus: Path) -> dict:
    return json.loads((Path(corpus) / "manifest.json").read_text())


def subsample(corpus: Path, every: int) -> Path:
    """A fixed 1-in-``every`` subsample of a corpus (every k-th .md file, every k-th CSV row), cached beside it.

    Used to run the slow naive baseline at large sizes; its throughput is then
    scaled to the full corpus.
    """
    import polars as pl

    corpus = Path(corpus)
    target = corpus / f"sub{every}"
    manifest_path = target / "manifest.json"
    if manifest_path.is_file():
        return target
    if target.exists():
        shutil.rmtree(target)
    building = target.with_name(target.name + ".building")
    if building.exists():
        shutil.rmtree(building)
    raw, sub_raw = corpus / "raw", building / "raw"
    kept: set[str] = set()
    md = sorted(p for p in (raw / "md").rglob("*.md")) if (raw / "md").is_dir() else []
    for k, path in enumerate(md):
        if k % every == 0:
            dest = sub_raw / path.relative_to(raw)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, dest)
            kept.add(path.stem)
    for path in sorted((raw / "csv").glob("*.csv")) if (raw / "csv").is_dir() else []:
        data = path.read_bytes()
        terminator = "\r\n" if data.split(b"\n", 1)[0].endswith(b"\r") else "\n"
        with open(path, encoding="utf-8", newline="") as fh:
            rows = list(csv.reader(fh))
        dest = sub_raw / path.relative_to(raw)
        dest.parent.mkdir(parents=True, exist_ok=True)
        with open(dest, "w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh, quoting=csv.QUOTE_ALL, lineterminator=terminator)
            writer.writerow(rows[0])
            for k, row in enumerate(rows[1:]):
                if k % every == 0:
                    writer.writerow(row)
                    kept.add(row[0])
    truth = pl.read_parquet(corpus / "truth.parquet").filter(pl.col("transcript_id").is_in(sorted(kept)))
    truth.write_parquet(building / "truth.parquet")
    files = sorted(p for p in sub_raw.rglob("*") if p.is_file())
    info = {
        **manifest(corpus),
        "subsample_of": str(corpus),
        "every": every,
        "transcripts": truth.height,
        "files": len(files),
        "input_bytes": sum(p.stat().st_size for p in files),
    }
    (building / "manifest.json").write_text(json.dumps(info, indent=2) + "\n")
    os.replace(building, target)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate (or find cached) benchmark corpora.")
    parser.add_argument("sizes", nargs="*", type=int, default=[1_250, 50_000])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--force", action="store_true", help="regenerate even when cached")
    args = parser.parse_args(argv)
    pool = None
    for n in args.sizes:
        target = corpus_dir(n, args.seed, args.out)
        if pool is None and (args.force or not (target / "manifest.json").is_file()):
            pool = load_pool()
        print(generate(n, args.seed, out=args.out, pool=pool, force=args.force))
    return 0


if __name__ == "__main__":
    sys.exit(main())

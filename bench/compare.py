"""Core vs naive on the same input: what must agree, and the differences that are intended.

Checks (each must pass, else the benchmark exits non-zero):

* ``ids``: the core's transcripts, the naive script's transcripts and the
  generator's truth have the same set of ids (and so the same count);
* ``turn_counts``: every transcript has the number of turns the generator
  composed in the core, and the same number in the naive output;
* ``core_no_mojibake``: no core transcript text contains ``â€`` (the signature
  of UTF-8 read as Windows-1252);
* ``core_text_exact``: every core transcript text is exactly the clean text the
  generator started from (SHA-256 of the stripped text): the repair undid all
  the damage and changed nothing else;
* ``core_quarantine_empty``: every generated input is valid, so nothing is quarantined;
* ``turn_texts``: every turn's text is the same in both after applying
  :data:`INTENDED_DIFFERENCES` to both sides.

:func:`compare_tables` checks that ``make run`` (the Dagster job, one run per ingest
batch) made the same warehouse as the core alone on the same input: per table the same
row count and the same rows (all columns but the run's timestamps, compared as an
order-free digest of row hashes), and for ``transcripts`` the same ids with the same text
(``text_sha256``) id by id.

Intended differences (``INTENDED_DIFFERENCES``, the ftfy fixers the naive
script's ``ftfy.fix_text`` defaults apply and the core deliberately does not):
``uncurl_quotes`` (the naive output turns ’ “ ” into ' "), ``fix_latin_ligatures``,
``fix_character_width`` and NFC ``normalization`` (the core keeps the characters
as typed) and ``fix_line_breaks`` (the core normalises CRLF itself). How many
turns each side's text differs by them is reported, not failed on.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import ftfy
import polars as pl

INTENDED_DIFFERENCES = ftfy.TextFixerConfig(
    unescape_html=False,
    remove_terminal_escapes=False,
    fix_encoding=False,
    restore_byte_a0=False,
    replace_lossy_sequences=False,
    decode_inconsistent_utf8=False,
    fix_c1_controls=False,
    fix_latin_ligatures=True,
    fix_character_width=True,
    uncurl_quotes=True,
    fix_line_breaks=True,
    fix_surrogates=False,
    remove_control_chars=False,
    normalization="NFC",
    explain=False,
)
MOJIBAKE_MARK = "â€"


def intended(text: str) -> str:
    """``text`` with the naive script's extra (intended-to-differ) fixes applied."""
    if text.isascii() and "\r" not in text:
        return text
    return ftfy.fix_text(text, INTENDED_DIFFERENCES)


@dataclass
class Comparison:
    checks: dict[str, dict] = field(default_factory=dict)
    info: dict[str, object] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(c["ok"] for c in self.checks.values())

    def check(self, name: str, ok: bool, detail: str) -> None:
        self.checks[name] = {"ok": bool(ok), "detail": detail}

    def to_dict(self) -> dict:
        return {"ok": self.ok, "checks": self.checks, "info": self.info}

    def failures(self) -> list[str]:
        return [f"{name}: {c['detail']}" for name, c in self.checks.items() if not c["ok"]]


def _sha(text: str) -> str:
    return hashlib.sha256(text.strip().encode("utf-8")).hexdigest()


def _sample(values: list, k: int = 5) -> str:
    return ", ".join(map(str, values[:k])) + (" ..." if len(values) > k else "")


def compare(core_warehouse: Path, naive_out: Path, truth_path: Path, core_truth_path: Path | None = None) -> Comparison:
    """Compare the core's warehouse and the naive script's output on the input described by ``truth_path``.

    The core may have run on a superset of the naive input (the naive baseline
    runs on a fixed subsample at large sizes): then ``core_truth_path`` describes
    the core's whole input, the core-only checks (``core_*``) cover all of it and
    the core-vs-naive checks cover the naive script's transcripts.
    """
    result = Comparison()
    truth = pl.read_parquet(truth_path)
    core_truth = pl.read_parquet(core_truth_path) if core_truth_path is not None else truth
    ids = set(truth.get_column("transcript_id").to_list())
    all_ids = set(core_truth.get_column("transcript_id").to_list())
    core_transcripts = pl.read_parquet(Path(core_warehouse) / "transcripts" / "**" / "*.parquet", hive_partitioning=True)
    core_turns = pl.read_parquet(Path(core_warehouse) / "turns" / "**" / "*.parquet", hive_partitioning=True)
    quarantine_files = sorted((Path(core_warehouse) / "quarantine").glob("*.parquet"))
    quarantined = pl.read_parquet(quarantine_files).height if quarantine_files else 0
    naive = pl.read_parquet(Path(naive_out) / "turns.parquet")

    core_ids = set(core_transcripts.get_column("transcript_id").to_list())
    naive_ids = set(naive.get_column("transcript_id").to_list())
    missing_core, missing_naive = sorted(all_ids - core_ids), sorted(ids - naive_ids)
    extra_naive, extra_core = sorted(naive_ids - ids), sorted(core_ids - all_ids)
    result.check(
        "ids",
        not missing_core and not missing_naive and not extra_naive and not extra_core,
        f"core: {len(core_ids)} of {len(all_ids)} generated (missing {len(missing_core)}: {_sample(missing_core)}; unexpected {len(extra_core)}: {_sample(extra_core)}); "
        f"naive input: {len(ids)} generated, "
        f"naive has {len(naive_ids)} (missing {len(missing_naive)}: {_sample(missing_naive)}; unexpected {len(extra_naive)}: {_sample(extra_naive)})",
    )
    result.info.update(transcripts_compared=len(ids), core_transcripts=core_transcripts.height, naive_transcripts=len(naive_ids), core_generated=len(all_ids))

    core_counts = core_turns.group_by("transcript_id").agg(pl.len().alias("core_turns"))
    naive_counts = naive.group_by("transcript_id").agg(pl.len().alias("naive_turns"))
    counts = (
        core_truth.select("transcript_id", pl.col("n_turns").cast(pl.UInt32).alias("truth_turns"))
        .join(core_counts, on="transcript_id", how="left")
        .join(naive_counts, on="transcript_id", how="left")
        .with_columns(pl.col("transcript_id").is_in(sorted(ids)).alias("in_naive"))
    )
    off = counts.filter(
        (pl.col("core_turns") != pl.col("truth_turns")).fill_null(True)
        | (pl.col("in_naive") & (pl.col("core_turns") != pl.col("naive_turns")).fill_null(True))
    )
    result.check(
        "turn_counts",
        off.height == 0,
        f"{counts.height - off.height} of {counts.height} transcripts have the generated number of turns in the core "
        f"and, for the {len(ids)} the naive script read, the same number there; differing: "
        + _sample([f"{r[0]} core={r[2]} naive={r[3]} generated={r[1]}" for r in off.iter_rows()]),
    )
    result.info["turns_compared"] = int(counts.filter("in_naive").get_column("truth_turns").sum() or 0)

    scoped = core_transcripts
    marked = scoped.filter(pl.col("text").str.contains(MOJIBAKE_MARK, literal=True)).get_column("transcript_id").to_list()
    result.check("core_no_mojibake", not marked, f"{len(marked)} core transcripts still contain {MOJIBAKE_MARK!r}: {_sample(marked)}")
    naive_marked = naive.filter(pl.col("text").str.contains(MOJIBAKE_MARK, literal=True)).get_column("transcript_id").n_unique()
    result.info["naive_transcripts_with_mojibake_left"] = naive_marked

    shas = scoped.select("transcript_id", pl.col("text").map_elements(_sha, return_dtype=pl.String).alias("sha"))
    exact = core_truth.select("transcript_id", "clean_sha256", "damage").join(shas, on="transcript_id", how="left")
    wrong = exact.filter((pl.col("sha") != pl.col("clean_sha256")).fill_null(True))
    damaged = exact.filter(pl.col("damage").is_not_null()).height
    result.check(
        "core_text_exact",
        wrong.height == 0,
        f"{exact.height - wrong.height} of {exact.height} core texts equal the clean original ({damaged} were damaged); wrong: "
        + _sample([f"{r[0]} ({r[2] or 'undamaged'})" for r in wrong.iter_rows()]),
    )
    result.info.update(damaged_transcripts=damaged, core_repairs=int(scoped.get_column("n_repairs").sum() or 0))
    result.check("core_quarantine_empty", quarantined == 0, f"{quarantined} inputs quarantined")

    pairs = (
        core_turns.filter(pl.col("transcript_id").is_in(sorted(ids)))
        .select("transcript_id", pl.col("turn_index").cast(pl.Int64), pl.col("text").alias("core"))
        .join(naive.select("transcript_id", pl.col("turn_index").cast(pl.Int64), pl.col("text").alias("naive")), on=["transcript_id", "turn_index"], how="full", coalesce=True)
    )
    core_texts, naive_texts = pairs.get_column("core").to_list(), pairs.get_column("naive").to_list()
    keys = list(zip(pairs.get_column("transcript_id").to_list(), pairs.get_column("turn_index").to_list()))
    bad, raw_diff, curly_diff = [], 0, 0
    for key, c, n in zip(keys, core_texts, naive_texts):
        if c is None or n is None:
            bad.append(f"{key[0]}#{key[1]} (only in {'naive' if c is None else 'core'})")
            continue
        c, n = c.strip(), n.strip()
        if c == n:
            continue
        raw_diff += 1
        if intended(c).strip() != intended(n).strip():
            bad.append(f"{key[0]}#{key[1]}")
        elif any(q in c for q in "‘’“”"):
            curly_diff += 1
    result.check(
        "turn_texts",
        not bad,
        f"{len(keys) - len(bad)} of {len(keys)} turns agree after the intended differences "
        f"({raw_diff} differ before them, {curly_diff} by curly quotes the naive script straightened); differing: {_sample(bad)}",
    )
    result.info.update(turns_differing_only_by_intended=raw_diff - len(bad), turns_uncurled_by_naive=curly_diff)
    return result


TABLES = ("transcripts", "turns", "theme_flags", "quarantine")
TABLE_KEYS = {"transcripts": ["transcript_id"], "turns": ["transcript_id", "turn_index"], "theme_flags": ["transcript_id"], "quarantine": []}


def _scan(warehouse: Path, table: str) -> pl.LazyFrame | None:
    folder = Path(warehouse) / table
    if not any(folder.rglob("*.parquet")):
        return None
    return pl.scan_parquet(folder / "**" / "*.parquet", hive_partitioning=True)


def _digest(frame: pl.LazyFrame) -> tuple[int, int, int]:
    """(rows, sum of the high halves, sum of the low halves of each row's hash): equal for equal
    multisets of rows, whatever the order or the file layout; streamed, so memory stays small.
    Columns holding a time (when the row was ingested or detected) differ from run to run and are left out."""
    schema = frame.collect_schema()
    columns = sorted(c for c, dtype in schema.items() if not isinstance(dtype, (pl.Datetime, pl.Date)))
    h = pl.struct(columns).hash(seed=0)
    rows, high, low = frame.select(
        pl.len().alias("rows"),
        (h // 2**32).sum().alias("high"),
        (h % 2**32).sum().alias("low"),
    ).collect(engine="streaming").row(0)
    return int(rows), int(high or 0), int(low or 0)


def compare_tables(core_warehouse: Path, other_warehouse: Path) -> Comparison:
    """The four tables of ``other_warehouse`` (made by ``make run``) against the core's on the same input."""
    result = Comparison()
    for table in TABLES:
        core, other = _scan(core_warehouse, table), _scan(other_warehouse, table)
        if core is None or other is None:
            both_empty = core is None and other is None
            result.check(f"{table}_equal", both_empty, "no rows in either" if both_empty else f"only {'make run' if core is None else 'the core'} wrote {table}")
            continue
        a, b = _digest(core), _digest(other)
        result.info[f"{table}_rows"] = a[0]
        result.check(
            f"{table}_equal",
            a == b,
            f"{b[0]:,} rows from make run, {a[0]:,} from the core; " + ("the same rows" if a == b else "the rows DIFFER (digest of row hashes)"),
        )
    core, other = _scan(core_warehouse, "transcripts"), _scan(other_warehouse, "transcripts")
    if core is not None and other is not None:
        pick = ["transcript_id", "text_sha256"]
        joined = (
            core.select(pick).join(other.select(pick), on="transcript_id", how="full", suffix="_make_run", coalesce=True)
            .filter((pl.col("text_sha256") != pl.col("text_sha256_make_run")).fill_null(True))
            .collect(engine="streaming")
        )
        ids = joined.get_column("transcript_id").to_list()
        result.check(
            "transcript_ids_and_texts",
            not ids,
            f"{len(ids)} transcript ids missing on one side or with a different text: {_sample(ids)}",
        )
    return result

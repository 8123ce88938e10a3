"""The data dictionary, generated from the pandera contracts in :mod:`etl_project.schemas`.

``python -m etl_project.dictionary`` writes ``docs/DATA_DICTIONARY.md``;
``python -m etl_project.dictionary --check`` exits 1 when that file is stale.

Everything in the dictionary comes from the models (``MODEL_OF_TABLE``) and
from ``TABLES`` (keys, sort order, partitioning; for ``theme_prevalence``, which
the core does not write, from :data:`etl_project.lib.prevalence.LAYOUT`), so it
cannot drift from what the pipeline validates and writes:

- the table description is the model's docstring;
- the polars type is the model's dtype; the Arrow/Parquet type is what
  :func:`etl_project.lib.warehouse.to_arrow` turns it into on disk (plain
  types only); the DuckDB type is what ``read_parquet`` shows for it;
- nullable, unique and the allowed values/ranges/patterns are the pandera
  checks of each field; table-level checks are listed with their message.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pyarrow as pa

from etl_project.lib import prevalence
from etl_project.lib.pipeline import TABLES
from etl_project.lib.warehouse import to_arrow
from etl_project.schemas import MODEL_OF_TABLE, SCHEMA_VERSION

PROJECT_ROOT = Path(__file__).resolve().parent.parent
LAYOUT_OF_TABLE: dict[str, dict] = {prevalence.TABLE: prevalence.LAYOUT}  # tables written outside the core
DICTIONARY_PATH = PROJECT_ROOT / "docs" / "DATA_DICTIONARY.md"
PARTITION_TYPE = "string (from the folder name)"
DATA_FILES = "part-*.parquet"


@dataclass(frozen=True)
class ColumnDoc:
    name: str
    polars_type: str
    arrow_type: str
    duckdb_type: str
    nullable: bool
    checks: tuple[str, ...]
    description: str
    partition: bool = False


@dataclass(frozen=True)
class TableDoc:
    name: str
    description: str
    partition_by: str | None
    key: tuple[str, ...]
    key_enforced: bool
    sort_by: tuple[str, ...]
    table_checks: tuple[str, ...]
    columns: tuple[ColumnDoc, ...]

    @property
    def layout(self) -> str:
        if self.partition_by is None:
            return f"{self.name}/{DATA_FILES}"
        return f"{self.name}/{self.partition_by}=<value>/{DATA_FILES}"

    def column(self, name: str) -> ColumnDoc:
        return next(c for c in self.columns if c.name == name)


# ------------------------------------------------------------------ types


def duckdb_type(t: pa.DataType) -> str:
    """The type DuckDB's ``read_parquet`` reports for a (plain) Arrow column type."""
    simple = {
        pa.string(): "VARCHAR",
        pa.bool_(): "BOOLEAN",
        pa.int8(): "TINYINT",
        pa.int16(): "SMALLINT",
        pa.int32(): "INTEGER",
        pa.int64(): "BIGINT",
        pa.uint8(): "UTINYINT",
        pa.uint16(): "USMALLINT",
        pa.uint32(): "UINTEGER",
        pa.uint64(): "UBIGINT",
        pa.float32(): "FLOAT",
        pa.float64(): "DOUBLE",
        pa.date32(): "DATE",
        pa.binary(): "BLOB",
    }
    if t in simple:
        return simple[t]
    if pa.types.is_timestamp(t):
        return "TIMESTAMP WITH TIME ZONE" if t.tz else "TIMESTAMP"
    if pa.types.is_list(t):
        return f"{duckdb_type(t.value_type)}[]"
    if pa.types.is_struct(t):
        return "STRUCT(" + ", ".join(f"{f.name} {duckdb_type(f.type)}" for f in t) + ")"
    raise ValueError(f"no DuckDB type known for Arrow type {t}")


def arrow_schema(table: str) -> pa.Schema:
    """The Arrow schema of the table's files, from an empty frame of the model's dtypes."""
    columns = MODEL_OF_TABLE[table].to_schema().columns
    empty = pl.DataFrame(schema={name: column.dtype.type for name, column in columns.items()})
    return to_arrow(empty, table).schema


# ------------------------------------------------------------------ checks


def _value(v: object) -> str:
    return f"`{v}`"


def describe_check(check) -> str:
    """One pandera built-in check in words (falls back to its error message)."""
    s = check.statistics or {}
    name = check.name
    if name == "isin":
        return "one of " + ", ".join(_value(v) for v in s["allowed_values"])
    if name == "notin":
        return "none of " + ", ".join(_value(v) for v in s["forbidden_values"])
    if name == "greater_than_or_equal_to":
        return f"`>= {s['min_value']}`"
    if name == "greater_than":
        return f"`> {s['min_value']}`"
    if name == "less_than_or_equal_to":
        return f"`<= {s['max_value']}`"
    if name == "less_than":
        return f"`< {s['max_value']}`"
    if name == "equal_to":
        return f"`= {s['value']}`"
    if name == "not_equal_to":
        return f"`!= {s['value']}`"
    if name == "in_range":
        low = "[" if s.get("include_min", True) else "("
        high = "]" if s.get("include_max", True) else ")"
        return f"in `{low}{s['min_value']}, {s['max_value']}{high}`"
    if name == "str_matches":
        return f"matches regex `{s['pattern']}`"
    if name == "str_contains":
        return f"contains regex `{s['pattern']}`"
    if name == "str_startswith":
        return f"starts with `{s['string']}`"
    if name == "str_endswith":
        return f"ends with `{s['string']}`"
    if name == "str_length":
        if s.get("exact_value") is not None:
            return f"length `= {s['exact_value']}`"
        low, high = s.get("min_value"), s.get("max_value")
        if low is not None and high is not None:
            return f"length `{low}` to `{high}`"
        return f"length `>= {low}`" if low is not None else f"length `<= {high}`"
    return str(check.error or name)


# ------------------------------------------------------------------ model -> docs


def table_docs() -> list[TableDoc]:
    """Every warehouse table, in ``MODEL_OF_TABLE`` order."""
    docs = []
    for table, model in MODEL_OF_TABLE.items():
        schema = model.to_schema()
        options = TABLES[table] if table in TABLES else LAYOUT_OF_TABLE[table]
        partition_by = options.get("partition_by", "split")
        arrow = arrow_schema(table)
        columns = []
        for name, column in schema.columns.items():
            checks = (["unique"] if column.unique else []) + [describe_check(c) for c in column.checks]
            is_partition = name == partition_by
            arrow_type = arrow.field(name).type
            columns.append(
                ColumnDoc(
                    name=name,
                    polars_type=str(column.dtype.type),
                    arrow_type=PARTITION_TYPE if is_partition else str(arrow_type),
                    duckdb_type=duckdb_type(arrow_type),
                    nullable=bool(column.nullable),
                    checks=tuple(checks),
                    description=(column.description or "").strip(),
                    partition=is_partition,
                )
            )
        unique_columns = [c for c, col in schema.columns.items() if col.unique]
        declared = tuple(schema.unique or unique_columns)
        key = declared or tuple(options["key"])
        table_checks = []
        if schema.unique:
            table_checks.append(f"({', '.join(schema.unique)}) is unique")
        table_checks += [str(c.error or c.name) for c in schema.checks]
        docs.append(
            TableDoc(
                name=table,
                description=(schema.description or model.__doc__ or "").strip(),
                partition_by=partition_by,
                key=key,
                key_enforced=bool(declared),
                sort_by=tuple(options["sort_by"]),
                table_checks=tuple(table_checks),
                columns=tuple(columns),
            )
        )
    return docs


# ------------------------------------------------------------------ markdown


def _text(text: str) -> str:
    """Free text for markdown: ``<`` outside code spans escaped, so ``<prefix>`` is not taken for HTML."""
    pieces = text.split("`")
    return "`".join(p if i % 2 else p.replace("<", "&lt;") for i, p in enumerate(pieces))


def _code(text: str) -> str:
    return "`" + text.replace("|", "\\|") + "`"


def _cell(text: str) -> str:
    return _text(text.replace("\n", " ")).replace("|", "\\|")


def _code_list(names: Sequence[str]) -> str:
    return ", ".join(f"`{n}`" for n in names)


def render() -> str:
    """The whole dictionary as markdown (deterministic: same models, same bytes)."""
    docs = table_docs()
    out = [
        "# Data dictionary",
        "",
        "<!-- Generated by `python -m etl_project.dictionary` (or `make docs`) from the pandera models in",
        "     etl_project/schemas.py. Do not edit by hand: change the models and regenerate. -->",
        "",
        f"Schema version {SCHEMA_VERSION}. The warehouse holds {len(docs)} tables, each a folder under the warehouse root",
        "(`data/warehouse/` by default, `ETL_WAREHOUSE_DIR` otherwise). Every Parquet file is zstd-compressed and",
        "carries the key-value metadata `etl_project.table`, `etl_project.schema_version` and",
        "`etl_project.pipeline_version`.",
        "",
        "- **Partitioned tables** are hive-partitioned by `split`: the value is in the folder name",
        "  (`split=workforce/part-*.parquet`), not in the files. Read them with hive partitioning on",
        "  (DuckDB `hive_partitioning = true`, polars `hive_partitioning=True`, pandas/pyarrow on the folder)",
        "  and `split` comes back as a string column.",
        "- **Types** are plain Arrow/Parquet types: `string` (never `large_string` or views), `int32`/`int64`,",
        "  `bool`, timestamps in microseconds with time zone UTC, and `list<struct>` for evidence.",
        "- **Nullable** says whether the contract allows nulls; a column marked *no* never holds one.",
        "- **Checks** are enforced by the pipeline before anything is written: a row that breaks one is",
        "  quarantined (or the step fails), it never reaches the table.",
        "",
        "| table | description | partitioned by | key | columns |",
        "|---|---|---|---|---|",
    ]
    for t in docs:
        part = f"`{t.partition_by}`" if t.partition_by else "not partitioned"
        out.append(f"| [`{t.name}`](#{t.name}) | {_cell(t.description)} | {part} | {_code_list(t.key)} | {len(t.columns)} |")
    for t in docs:
        out += ["", f"## {t.name}", "", _text(t.description), ""]
        if t.partition_by:
            out.append(f"- **Partitioning**: hive, by `{t.partition_by}` (`{t.layout}`)")
        else:
            out.append(f"- **Partitioning**: none (`{t.layout}`)")
        if t.key_enforced:
            out.append(f"- **Key**: {_code_list(t.key)} (unique, checked by the contract)")
        else:
            out.append(f"- **Key**: {_code_list(t.key)} (the upsert key: a run replaces the rows with these values; not a declared uniqueness check)")
        out.append(f"- **Sorted by**: {_code_list(t.sort_by)} within each file")
        glob = f"data/warehouse/{t.name}/**/*.parquet" if t.partition_by else f"data/warehouse/{t.name}/*.parquet"
        hive = ", hive_partitioning = true" if t.partition_by else ""
        out.append(f"- **DuckDB**: `select * from read_parquet('{glob}'{hive})`")
        if t.table_checks:
            out.append("- **Table checks**:")
            out += [f"  - {_text(check)}" for check in t.table_checks]
        out += [
            "",
            "| column | polars type | Parquet / Arrow type | DuckDB type | nullable | allowed values / checks | description |",
            "|---|---|---|---|---|---|---|",
        ]
        for c in t.columns:
            checks = "; ".join(c.checks) or "-"
            if c.partition:
                checks += "; partition key (folder name)"
            out.append(
                f"| `{c.name}` | {_code(c.polars_type)} | {_code(c.arrow_type)} | {_code(c.duckdb_type)} | "
                f"{'yes' if c.nullable else 'no'} | {_cell(checks)} | {_cell(c.description)} |"
            )
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m etl_project.dictionary", description="Write (or --check) docs/DATA_DICTIONARY.md from the pandera models.")
    parser.add_argument("--check", action="store_true", help="do not write; exit 1 if the file differs from a fresh render")
    parser.add_argument("--path", type=Path, default=DICTIONARY_PATH, help=f"dictionary file (default {DICTIONARY_PATH.relative_to(PROJECT_ROOT)})")
    args = parser.parse_args(argv)
    fresh = render()
    current = args.path.read_text(encoding="utf-8") if args.path.is_file() else None
    if args.check:
        if current != fresh:
            print(f"{args.path} is stale: run `make docs` (python -m etl_project.dictionary) and commit it", file=sys.stderr)
            return 1
        print(f"{args.path} is up to date")
        return 0
    if current == fresh:
        print(f"{args.path} is up to date")
        return 0
    args.path.parent.mkdir(parents=True, exist_ok=True)
    with open(args.path, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(fresh)
    print(f"wrote {args.path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

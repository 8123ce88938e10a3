"""What the assets share: owners, previews and column docs from the contracts."""

from __future__ import annotations

import dagster as dg
import pandera.polars as pa
import polars as pl

OWNERS = ["team:data-engineering"]
"""Who answers for every asset of the project (shown in the UI)."""


def preview(frame: pl.DataFrame, *, rows: int = 5, width: int = 60) -> dg.MetadataValue:
    """A small markdown table; long strings are cut so the UI stays readable."""
    head = frame.head(rows)

    def cell(value: object) -> str:
        text = "" if value is None else str(value)
        return text.replace("\n", " ").replace("|", "/")[:width]

    lines = ["| " + " | ".join(head.columns) + " |", "|" + "---|" * len(head.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in head.iter_rows()]
    return dg.MetadataValue.md("\n".join(lines))


def column_schema(model: type[pa.DataFrameModel]) -> dg.TableSchema:
    """The Dagster column schema of a table, from its pandera model (one source of truth)."""
    schema = model.to_schema()
    return dg.TableSchema(
        columns=[
            dg.TableColumn(
                name=name,
                type=str(column.dtype),
                description=column.description,
                constraints=dg.TableColumnConstraints(nullable=column.nullable, unique=column.unique),
            )
            for name, column in schema.columns.items()
        ]
    )


def counts_by(frame: pl.DataFrame, column: str) -> dict[str, int]:
    return {str(k): int(v) for k, v in frame.group_by(column).len().sort(column).iter_rows()}

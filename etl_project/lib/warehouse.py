"""The Parquet warehouse on disk: hive-partitioned tables, atomic writes, upserts.

Layout under the warehouse root::

    transcripts/split=workforce/part-b00000.parquet   ids work_0 .. work_9999
    transcripts/split=workforce/part-b00001.parquet   ids work_10000 .. work_19999
    turns/split=creatives/part-b00000.parquet
    theme_flags/split=scientists/part-b00000.parquet
    quarantine/part-0.parquet
    _staging/            (files being written; never read)
    _locks/              (one lock file per table)

Within a hive partition (``split=...``), rows are bucketed into files by the
number in their id, 10,000 transcripts to a file: the sample is one file per
split, 500,000 interviews are a few dozen files, never one per transcript
(analysts hate small files). A batch of new interviews rewrites only the
bucket files its ids fall in, so the cost of a run follows the new data, not
the size of the warehouse. Files are zstd-compressed with bounded row groups;
the partition column lives in the folder name only, as hive partitioning
expects, so DuckDB, Spark, pyarrow, polars and pandas all read the same columns.

A write is atomic per file: on local disk the new file is written and fsynced
in ``_staging/`` on the same filesystem, then moved over the old one with
``os.replace``; on object storage (``s3://bucket/prefix``, any S3-compatible
endpoint, through pyarrow's filesystem layer) an object appears whole when its
upload completes. A reader (or a crash) sees the old file or the new one,
never a torn one. Writing is an *upsert* under a per-table lock: rows of the
batch replace the rows with the same key, other rows stay, so re-running on the
same input changes nothing and concurrent runs do not lose each other's rows.
On object storage there is no file lock: there, writers of one table are kept
apart by a Dagster concurrency pool (see the README's cluster section).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import polars as pl
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from etl_project import __version__
from etl_project.schemas import SCHEMA_VERSION

BUCKET_SIZE = 10_000
BUCKET_COLUMN = "_bucket"
UNBUCKETED = "0"
STAGING = "_staging"
LOCKS = "_locks"
PART_FILE = "part-0.parquet"  # the one file of an unbucketed table (quarantine)


def part_name(bucket: str) -> str:
    return f"part-{bucket}.parquet"


def bucket_of(transcript_id: pl.Expr) -> pl.Expr:
    """File bucket of an id: ``b`` + (trailing number // 10,000), zero-padded; ``x`` for ids without a number."""
    number = transcript_id.str.extract(r"([0-9]+)$", 1).cast(pl.Int64, strict=False)
    return (
        pl.when(number.is_null())
        .then(pl.lit("x"))
        .otherwise(pl.format("b{}", (number // BUCKET_SIZE).cast(pl.String).str.zfill(5)))
    )


ROWS_PER_GROUP = {"transcripts": 5_000, "turns": 100_000, "theme_flags": 100_000, "quarantine": 100_000}


def _plain_arrow_type(t: pa.DataType) -> pa.DataType:
    """Large/view string and list types -> the plain ones every reader knows."""
    if pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return pa.string()
    if pa.types.is_large_binary(t) or pa.types.is_binary_view(t):
        return pa.binary()
    if pa.types.is_large_list(t) or pa.types.is_list_view(t) or pa.types.is_list(t):
        return pa.list_(pa.field(t.value_field.name if t.value_field.name != "item" else "element", _plain_arrow_type(t.value_type)))
    if pa.types.is_struct(t):
        return pa.struct([pa.field(f.name, _plain_arrow_type(f.type), f.nullable) for f in t])
    return t


def write_parquet(frame: pl.DataFrame, table: str, where) -> None:
    """``frame`` as one zstd Parquet file (a path or an output stream), one row group at a time.

    Each row group is converted to Arrow on its own, so writing never holds a
    second copy of the whole frame.
    """
    step = ROWS_PER_GROUP.get(table, 100_000)
    first = to_arrow(frame.slice(0, step), table)
    with pq.ParquetWriter(where, first.schema, compression="zstd") as writer:
        writer.write_table(first, row_group_size=step)
        for offset in range(step, frame.height, step):
            writer.write_table(to_arrow(frame.slice(offset, step), table).cast(first.schema), row_group_size=step)


def to_arrow(frame: pl.DataFrame, table: str) -> pa.Table:
    arrow = frame.to_arrow()
    schema = pa.schema([pa.field(f.name, _plain_arrow_type(f.type), f.nullable) for f in arrow.schema])
    metadata = {
        b"etl_project.table": table.encode(),
        b"etl_project.schema_version": SCHEMA_VERSION.encode(),
        b"etl_project.pipeline_version": __version__.encode(),
    }
    return arrow.cast(schema).replace_schema_metadata(metadata)


class Warehouse:
    """A warehouse rooted at a local folder or at an object-store URI (``s3://bucket/prefix``).

    For S3-compatible stores the endpoint and credentials come from the usual
    environment (``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``, ...).
    """

    def __init__(self, root: str | os.PathLike[str]):
        text = os.fspath(root)
        self.uri = text
        if "://" in text:
            self.fs, base = pafs.FileSystem.from_uri(text)
            self.is_local = False
            self.root: Path | PurePosixPath = PurePosixPath(base)
        else:
            self.fs = pafs.LocalFileSystem()
            self.is_local = True
            self.root = Path(text)

    # ------------------------------------------------------------ reading

    def table_dir(self, table: str) -> Path | PurePosixPath:
        return self.root / table

    def partition_files(self, table: str) -> list[Path | PurePosixPath]:
        selector = pafs.FileSelector(str(self.table_dir(table)), recursive=True, allow_not_found=True)
        infos = self.fs.get_file_info(selector)
        kind = Path if self.is_local else PurePosixPath
        return sorted(
            kind(info.path) for info in infos
            if info.type == pafs.FileType.File and info.base_name.startswith("part-") and info.base_name.endswith(".parquet")
        )

    def row_count(self, table: str) -> int:
        """Rows in the whole table, from the Parquet footers (no data read)."""
        total = 0
        for path in self.partition_files(table):
            with self.fs.open_input_file(str(path)) as handle:
                total += pq.ParquetFile(handle).metadata.num_rows
        return total

    def exists(self, path: Path | PurePosixPath) -> bool:
        return self.fs.get_file_info(str(path)).type == pafs.FileType.File

    def read_file(self, path: Path | PurePosixPath, columns: Sequence[str] | None = None) -> pl.DataFrame:
        table = pq.read_table(str(path), filesystem=self.fs, columns=None if columns is None else list(columns))
        return pl.from_arrow(table)

    def delete_file(self, path: Path | PurePosixPath) -> None:
        self.fs.delete_file(str(path))

    def read(
        self,
        table: str,
        *,
        columns: Sequence[str] | None = None,
        files: Sequence[tuple[str | None, str]] | None = None,
    ) -> pl.DataFrame | None:
        """The table (partition column restored), or None when it has no file yet.

        ``files`` limits the read to those (partition value, bucket) files, so an
        upsert costs the files it touches, not the whole warehouse.
        """
        paths = self.partition_files(table)
        if files is not None:
            wanted = {self._file(table, value, bucket) for value, bucket in files}
            paths = [p for p in paths if p in wanted]
        if not paths:
            return None
        frames = []
        for path in paths:
            partition = path.parent.name.partition("=") if path.parent != self.table_dir(table) else None
            file_columns = None if columns is None else [c for c in columns if partition is None or c != partition[0]]
            frame = self.read_file(path, file_columns)
            if partition is not None:
                frame = frame.with_columns(pl.lit(partition[2], dtype=pl.String).alias(partition[0]))
            frames.append(frame)
        frame = pl.concat(frames, how="vertical_relaxed")
        return frame if columns is None else frame.select(columns)

    def _file(self, table: str, partition: str | None, bucket: str, partition_by: str = "split") -> Path:
        folder = self.table_dir(table) if partition is None else self.table_dir(table) / f"{partition_by}={partition}"
        return folder / part_name(bucket)

    def prune(self, table: str, keep: pl.DataFrame) -> int:
        """Drop rows whose key (the columns of ``keep``) is not in ``keep``; returns the rows removed.

        File by file, under the table's lock: a file left empty is deleted, any
        other is replaced atomically, untouched files are not rewritten.
        """
        removed = 0
        with self.locked(table):
            for path in self.partition_files(table):
                frame = self.read_file(path)
                kept = frame.join(keep, on=keep.columns, how="semi")
                if kept.height == frame.height:
                    continue
                removed += frame.height - kept.height
                if kept.is_empty():
                    self.delete_file(path)
                else:
                    self.replace_file_atomically(path, kept, table)
        return removed

    def known_sources(self) -> pl.DataFrame:
        """(source_file, source_sha256) of every file whose content is already in the warehouse.

        Reads two small columns of ``transcripts`` and ``quarantine``: a file whose
        current hash is here needs no processing again.
        """
        frames = [
            frame
            for table in ("transcripts", "quarantine")
            if (frame := self.read(table, columns=["source_file", "source_sha256"])) is not None
        ]
        if not frames:
            return pl.DataFrame(schema={"source_file": pl.String, "source_sha256": pl.String})
        return pl.concat(frames).drop_nulls().unique()

    @contextlib.contextmanager
    def locked(self, table: str):
        """Hold the table's write lock (an advisory file lock) for a read-merge-write.

        Object stores have no such lock: there a Dagster concurrency pool keeps
        a table's writers apart, and, when ``ETL_WAREHOUSE_LOCK_URL`` is set, a
        PostgreSQL advisory lock (:mod:`etl_project.lib.locks`) too.
        """
        if not self.is_local:
            from etl_project.lib.locks import remote_lock

            with remote_lock(self.uri, table):
                yield
            return
        locks = self.root / LOCKS
        locks.mkdir(parents=True, exist_ok=True)
        with open(locks / f"{table}.lock", "a+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    # ------------------------------------------------------------ writing

    def write_partitioned(
        self,
        table: str,
        frame: pl.DataFrame,
        *,
        partition_by: str | None,
        sort_by: Sequence[str],
        bucket_by: str | None = "transcript_id",
    ) -> list[Path]:
        """Atomically replace each (partition, bucket) file present in ``frame``; other files stay."""
        frame = frame.sort(sort_by).with_columns(
            (bucket_of(pl.col(bucket_by)) if bucket_by else pl.lit(UNBUCKETED)).alias(BUCKET_COLUMN)
        )
        keys = [c for c in (partition_by, BUCKET_COLUMN) if c]
        if partition_by is None and frame.is_empty():  # an empty unpartitioned table is still a file readers can open
            return [self.replace_file_atomically(self._file(table, None, UNBUCKETED), frame.drop(BUCKET_COLUMN), table)]
        written = []
        groups = frame.select(keys).unique(maintain_order=True)
        if groups.height == 1:  # one file (the usual case: the core publishes file by file): no copy per group
            parts = [(groups.row(0), frame)]
        else:
            parts = frame.group_by(keys, maintain_order=True)
        for values, part in parts:
            partition, bucket = (values[0], values[1]) if partition_by else (None, values[0])
            target = self._file(table, partition, bucket, partition_by or "split")
            written.append(self.replace_file_atomically(target, part.drop(keys), table))
        return sorted(written)

    def replace_file_atomically(self, target: Path | PurePosixPath, frame: pl.DataFrame, table: str) -> Path | PurePosixPath:
        """Write ``frame`` to ``target`` so that readers see the old file or the new one, never a torn one."""
        if not self.is_local:
            # An S3 object becomes visible only when its upload completes.
            with self.fs.open_output_stream(str(target)) as out:
                write_parquet(frame, table, out)
            return target
        staging = self.root / STAGING
        staging.mkdir(parents=True, exist_ok=True)
        tmp = staging / f"{table}-{os.getpid()}-{uuid.uuid4().hex}.parquet"
        try:
            write_parquet(frame, table, tmp)
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
        _fsync_dir(target.parent)
        return target

    def write_bytes(self, relative: str, data: bytes) -> Path | PurePosixPath:
        """Atomically write a non-table file (a report, a chart) under the warehouse root."""
        target = self.root / relative
        if not self.is_local:
            with self.fs.open_output_stream(str(target)) as out:
                out.write(data)
            return target
        staging = self.root / STAGING
        staging.mkdir(parents=True, exist_ok=True)
        tmp = staging / f"file-{os.getpid()}-{uuid.uuid4().hex}"
        try:
            with open(tmp, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
        return target

    def clear_staging(self) -> int:
        """Remove leftovers of writers that died mid-write; returns how many files were removed.

        A staging file is named ``<table>-<pid>-<uuid>.parquet``; it is a leftover
        when its process no longer runs. Files of live writers are left alone.
        """
        if not self.is_local:
            return 0
        staging = self.root / STAGING
        if not staging.is_dir():
            return 0
        removed = 0
        for leftover in staging.iterdir():
            parts = leftover.name.split("-")
            pid = int(parts[-2]) if len(parts) >= 3 and parts[-2].isdigit() else None
            if pid is not None and pid != os.getpid() and _alive(pid):
                continue
            leftover.unlink(missing_ok=True)
            removed += 1
        return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def upsert(existing: pl.DataFrame | None, batch: pl.DataFrame, key: str | Sequence[str]) -> pl.DataFrame:
    """``existing`` with every row whose ``key`` occurs in ``batch`` replaced by the batch's rows."""
    if existing is None or existing.is_empty():
        return batch
    keys = [key] if isinstance(key, str) else list(key)
    kept = existing.join(batch.select(keys).unique(), on=keys, how="anti")
    return pl.concat([kept.select(batch.columns).cast(batch.schema), batch], how="vertical")



def carry_forward(batch: pl.DataFrame, existing: pl.DataFrame | None, *, column: str, key: Sequence[str], unchanged_if: Sequence[str]) -> pl.DataFrame:
    """Keep ``existing``'s ``column`` for batch rows whose ``key`` and ``unchanged_if`` columns match.

    This is what makes a re-run on the same input produce the same rows: a
    transcript that did not change keeps the ``ingested_at`` of its first
    arrival.
    """
    if existing is None or existing.is_empty():
        return batch
    on = [*key, *unchanged_if]
    previous = existing.select(*on, pl.col(column).alias("_previous")).unique(on, keep="first")
    return (
        batch.join(previous, on=on, how="left", nulls_equal=True)
        .with_columns(pl.coalesce("_previous", column).alias(column))
        .drop("_previous")
    )


class ContractViolation(ValueError):
    """Rows about to be written break the table's contract; nothing was written."""

    def __init__(self, table: str, failure_cases: pl.DataFrame):
        super().__init__(f"{table}: rows about to be written break the contract; nothing was written")
        self.table = table
        self.failure_cases = failure_cases


@dataclass(frozen=True)
class Published:
    """What one upsert did to a table."""

    table: str
    rows_in_batch: int
    rows_in_touched_partitions: int
    files: list[Path]
    merged: pl.DataFrame
    rows_in_table: int
    validate_s: float = 0.0  # pandera validation of the merged rows
    write_s: float = 0.0  # the whole publish, when the caller measures it (the core does)


def publish_table(
    warehouse: Warehouse,
    *,
    table: str,
    model: type,
    batch: pl.DataFrame,
    key: Sequence[str],
    sort_by: Sequence[str],
    partition_by: str | None = "split",
    replaces: pl.DataFrame | None = None,
    carry: tuple[str, Sequence[str]] | None = None,
) -> Published:
    """Upsert ``batch`` into ``table``: read the touched partitions, merge, validate, write.

    ``replaces`` (a frame of key-column values, e.g. source files read this run)
    names existing rows to drop besides the batch's own keys; ``carry`` =
    (column, unchanged_if) keeps first-seen timestamps of unchanged rows. The
    merged rows are validated against ``model`` (a pandera model) before any
    file is touched: a violation raises :class:`ContractViolation`.
    """
    import pandera.errors

    key = list(key)
    bucket_by = "transcript_id" if partition_by is not None else None
    with warehouse.locked(table):
        warehouse.clear_staging()
        if bucket_by is None:
            touched = None
        else:
            touched = batch.select(pl.col(partition_by), bucket_of(pl.col(bucket_by))).unique().rows()
        existing = None if touched == [] else warehouse.read(table, files=touched)
        if existing is not None:
            existing = existing.select(batch.columns)
        if carry is not None:
            batch = carry_forward(batch, existing, column=carry[0], key=key, unchanged_if=list(carry[1]))
        merged = upsert(existing, batch, key)
        if replaces is not None and existing is not None:
            stale = existing.join(replaces, on=replaces.columns, how="semi").join(batch.select(key), on=key, how="anti")
            merged = merged.join(stale.select(key), on=key, how="anti")
        clock = time.perf_counter()
        try:
            model.validate(merged, lazy=True)
        except pandera.errors.SchemaErrors as exc:
            raise ContractViolation(table, exc.failure_cases) from exc
        validate_s = time.perf_counter() - clock
        if merged.is_empty() and bucket_by is not None:
            files: list[Path] = []
        else:
            files = warehouse.write_partitioned(table, merged, partition_by=partition_by, sort_by=sort_by, bucket_by=bucket_by)
        rows_in_table = warehouse.row_count(table)
    return Published(table, batch.height, merged.height, files, merged, rows_in_table, validate_s)

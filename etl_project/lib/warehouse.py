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
import datetime as dt
import fcntl
import json
import os
import shutil
import socket
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
WRITE_LOCK = "warehouse"  # held by a writer from reading what it merges until its commit is applied


def _name_holder(handle, extra: dict | None) -> dict:
    """Write who holds a lock into its (locked) file: pid, host, since, plus ``extra``."""
    record = {"pid": os.getpid(), "host": socket.gethostname(), "since": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), **(extra or {})}
    handle.seek(0)
    handle.truncate(0)
    handle.write(json.dumps(record))
    handle.flush()
    return record


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
            try:
                with self.fs.open_input_file(str(path)) as handle:
                    total += pq.ParquetFile(handle).metadata.num_rows
            except (OSError, pa.ArrowException):
                continue  # a damaged file counts nothing here; `etl-project verify` names it
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
        skip_damaged: list[str] | None = None,
    ) -> pl.DataFrame | None:
        """The table (partition column restored), or None when it has no file yet.

        ``files`` limits the read to those (partition value, bucket) files, so an
        upsert costs the files it touches, not the whole warehouse. A file that cannot
        be read raises :class:`DamagedFile` naming it, unless ``skip_damaged`` (a list)
        is given: then its path is appended there and the rest is read.
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
            try:
                frame = self.read_file(path, file_columns)
            except (OSError, pa.ArrowException, pl.exceptions.PolarsError) as exc:
                if skip_damaged is None:
                    raise DamagedFile(f"{path} cannot be read ({type(exc).__name__}: {str(exc).splitlines()[0][:160]}); "
                                      "run `etl-project verify --repair`") from exc
                skip_damaged.append(str(path))
                continue
            if partition is not None:
                frame = frame.with_columns(pl.lit(partition[2], dtype=pl.String).alias(partition[0]))
            frames.append(frame)
        if not frames:
            return None
        frame = pl.concat(frames, how="vertical_relaxed")
        return frame if columns is None else frame.select(columns)

    def _file(self, table: str, partition: str | None, bucket: str, partition_by: str = "split") -> Path:
        folder = self.table_dir(table) if partition is None else self.table_dir(table) / f"{partition_by}={partition}"
        return folder / part_name(bucket)

    def prune(self, keep: dict[str, pl.DataFrame], *, dry_run: bool = False) -> dict[str, int]:
        """Drop rows whose key (the columns of ``keep[table]``) is not in ``keep[table]``, for each
        table, as one commit under the write lock; returns the rows removed (or, with ``dry_run``,
        that would be removed) per table.

        A file left empty is deleted, any other is replaced, untouched files are not rewritten.
        """
        from etl_project.lib.commit import Commit, _recover_locked

        removed = dict.fromkeys(keep, 0)
        with self.locked():
            _recover_locked(self)
            commit = Commit(self, label="prune")
            try:
                for table, kept_keys in keep.items():
                    for path in self.partition_files(table):
                        frame = self.read_file(path)
                        kept = frame.join(kept_keys, on=kept_keys.columns, how="semi")
                        if kept.height == frame.height:
                            continue
                        removed[table] += frame.height - kept.height
                        if dry_run:
                            continue
                        if kept.is_empty() and path.parent != self.table_dir(table):  # an unpartitioned table keeps its (empty) file
                            commit.stage_delete(path)
                        else:
                            commit.stage_frame(path, kept, table)
                if dry_run:
                    commit.abort()
                else:
                    commit.commit()
            except BaseException:
                commit.abort()
                raise
        return removed

    def known_sources(self) -> pl.DataFrame:
        """(source_file, source_sha256) of every file whose content is already in the warehouse.

        Reads two small columns of ``transcripts`` and ``quarantine``: a file whose
        current hash is here needs no processing again.
        """
        frames = [
            frame
            for table in ("transcripts", "quarantine")
            if (frame := self.read(table, columns=["source_file", "source_sha256"], skip_damaged=[])) is not None
        ]
        if not frames:
            return pl.DataFrame(schema={"source_file": pl.String, "source_sha256": pl.String})
        return pl.concat(frames).drop_nulls().unique()

    @contextlib.contextmanager
    def locked(self, name: str = WRITE_LOCK, *, holder: dict | None = None):
        """Hold the lock ``name`` (default: the warehouse's write lock) while the block runs.

        Locally an advisory file lock (``_locks/<name>.lock``), which the kernel drops when its
        process dies, even by SIGKILL: no lock outlives its holder. The file names the holder
        (pid, host, since, and whatever ``holder`` adds) for ``etl-project status``. Object stores
        have no such lock: there a PostgreSQL advisory lock (:mod:`etl_project.lib.locks`, when
        ``ETL_WAREHOUSE_LOCK_URL`` is set) serves, with the same property.
        """
        if not self.is_local:
            from etl_project.lib.locks import remote_lock

            with remote_lock(self.uri, name):
                yield
            return
        locks = self.root / LOCKS
        locks.mkdir(parents=True, exist_ok=True)
        with open(locks / f"{name}.lock", "a+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                _name_holder(handle, holder)
                yield
            finally:
                handle.truncate(0)
                fcntl.flock(handle, fcntl.LOCK_UN)

    @contextlib.contextmanager
    def try_locked(self, name: str, *, holder: dict | None = None):
        """Like :meth:`locked` without waiting: yields None when another process holds the lock
        (``lock_holder`` says who), else the holder record written. Always yields on object stores
        without a lock server."""
        if not self.is_local:
            from etl_project.lib.locks import remote_try_lock

            with remote_try_lock(self.uri, name) as got:
                yield {} if got else None
            return
        locks = self.root / LOCKS
        locks.mkdir(parents=True, exist_ok=True)
        with open(locks / f"{name}.lock", "a+") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield None
                return
            try:
                yield _name_holder(handle, holder)
            finally:
                handle.truncate(0)
                fcntl.flock(handle, fcntl.LOCK_UN)

    def lock_holder(self, name: str = WRITE_LOCK) -> dict | None:
        """Who holds the lock ``name`` now (its record), or None when nobody does (local warehouses)."""
        if not self.is_local:
            return None
        path = self.root / LOCKS / f"{name}.lock"
        if not path.is_file():
            return None
        with open(path, "a+") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.seek(0)
                try:
                    return json.loads(handle.read() or "{}")
                except ValueError:
                    return {}
            fcntl.flock(handle, fcntl.LOCK_UN)
        return None

    # ------------------------------------------------------------ writing

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
        """Remove leftovers of writers that died mid-write; returns how many entries were removed.

        Staging entries are ``<table>-<pid>-<uuid>.parquet`` files and ``commit-<pid>-<id>`` folders;
        an entry is a leftover when its process no longer runs. Entries of live writers are left
        alone; anything else found there (a stray file or folder) is removed too, so it can never
        stop a write.
        """
        if not self.is_local:
            return 0
        staging = self.root / STAGING
        if not staging.is_dir():
            return 0
        removed = 0
        for leftover in staging.iterdir():
            pid = _pid_in_name(leftover.name)
            if pid is not None and pid != os.getpid() and _alive(pid):
                continue
            if pid == os.getpid() and leftover.name.startswith("commit-"):
                continue  # a commit of this process being staged (another thread's)
            if leftover.is_dir() and not leftover.is_symlink():
                shutil.rmtree(leftover, ignore_errors=True)
            else:
                leftover.unlink(missing_ok=True)
            removed += 1
        return removed


def _pid_in_name(name: str) -> int | None:
    """The writer's pid in a staging entry's name (``<table>-<pid>-<uuid>...`` or ``commit-<pid>-<id>``)."""
    parts = name.split("-")
    if name.startswith("commit-") and len(parts) >= 3 and parts[1].isdigit():
        return int(parts[1])
    if len(parts) >= 3 and parts[-2].isdigit():
        return int(parts[-2])
    return None


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


class DamagedFile(RuntimeError):
    """A warehouse file cannot be read (truncated, not Parquet): the message names it and the way out."""


class ContractViolation(ValueError):
    """Rows about to be written break the table's contract; nothing was written."""

    def __init__(self, table: str, failure_cases: pl.DataFrame):
        super().__init__(f"{table}: rows about to be written break the contract; nothing was written")
        self.table = table
        self.failure_cases = failure_cases


@dataclass(frozen=True)
class FileMerge:
    """What merging a run's rows into one warehouse file did."""

    rows_in_batch: int
    rows_in_file: int
    merged: pl.DataFrame
    validate_s: float


def merge_file(
    warehouse: Warehouse,
    commit,
    *,
    table: str,
    model: type,
    target: tuple[str | None, str],
    batch: pl.DataFrame | None,
    key: Sequence[str],
    sort_by: Sequence[str],
    existing: pl.DataFrame | None = None,
    drop: pl.DataFrame | None = None,
    partition_by: str | None = "split",
    carry: tuple[str, Sequence[str]] | None = None,
    transform=None,
) -> FileMerge:
    """Stage the next version of one warehouse file in ``commit``: the published rows (``existing``,
    as read by the caller) minus those matching ``drop`` (on its columns) and those the ``batch``
    replaces (same ``key``), plus the batch's rows; then ``transform`` (a function of the merged rows).

    ``carry`` = (column, unchanged_if) keeps first-seen timestamps of unchanged rows. The merged rows
    are validated against ``model`` (a pandera model) before anything is staged: a violation raises
    :class:`ContractViolation`. A file left empty is staged for deletion.
    """
    import pandera.errors

    key = list(key)
    partition, bucket = target
    if batch is None:
        batch = existing.head(0) if existing is not None else None
    published = None
    if existing is not None:
        # (batch is set here: the existing file's empty head when the call brought none)
        missing = [c for c in batch.columns if c not in existing.columns]
        if missing:  # written by an older schema version: its rows the batch replaces are rewritten
            # (`--reprocess` replaces them all); a row left over keeps nulls there and fails the contract
            existing = existing.with_columns(pl.lit(None, dtype=batch.schema[c]).alias(c) for c in missing)
        published = existing = existing.select(batch.columns)
        if drop is not None and drop.height:
            existing = existing.join(drop, on=drop.columns, how="anti")
    if batch is not None and carry is not None:
        batch = carry_forward(batch, published, column=carry[0], key=key, unchanged_if=list(carry[1]))
    merged = upsert(existing, batch, key) if batch is not None else existing
    if merged is None:
        return FileMerge(0, 0, pl.DataFrame(), 0.0)
    if transform is not None:
        merged = transform(merged)
    clock = time.perf_counter()
    try:
        model.validate(merged, lazy=True)
    except pandera.errors.SchemaErrors as exc:
        raise ContractViolation(table, exc.failure_cases) from exc
    validate_s = time.perf_counter() - clock
    path = warehouse._file(table, partition, bucket, partition_by or "split")
    if published is not None and merged.height == published.height and merged.sort(sort_by, nulls_last=True).equals(published.sort(sort_by, nulls_last=True)):
        pass  # nothing changed: the published file stays as it is
    elif merged.is_empty() and partition_by is not None:
        if warehouse.exists(path):
            commit.stage_delete(path)
    else:
        out = merged.sort(sort_by, nulls_last=True)
        commit.stage_frame(path, out.drop(partition_by) if partition_by else out, table)
    return FileMerge(0 if batch is None else batch.height, merged.height, merged, validate_s)

"""Publishing a batch to every table as one unit: stage, journal, apply (write-audit-publish).

A batch changes several files in several tables (transcripts, turns, theme_flags, quarantine, its
``_batches/published`` mark). Readers must see all of those changes or none, also after a crash, so
a :class:`Commit` works in three phases:

1. **stage**: every new file is written whole (and fsynced) under ``_staging/commit-<pid>-<id>/``;
   files to delete are only listed. Nothing a reader can see has changed. The caller audits the
   staged rows now; a failed audit calls :meth:`Commit.abort` and the warehouse is as it was.
2. **journal** (the commit point): the list of (staged file -> target) moves and deletions is
   written atomically to ``_commits/<id>.json``. A crash before this line is written leaves only
   staging leftovers, removed by the next writer; the batch was not published.
3. **apply**: each staged file is moved over its target (``os.replace`` locally, a copy then delete
   on object storage), each deletion done, then the journal removed. A crash here is finished by the
   next writer, ``etl-project status`` or ``verify`` (:func:`recover`): moves are idempotent, so
   rolling forward twice is harmless.

The apply phase is only renames, so it lasts milliseconds; everything slow happens before the commit
point. Writers hold the warehouse's write lock (:meth:`Warehouse.locked`) from before they read the
files they merge until the journal is applied, so two commits never interleave.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import uuid
from contextlib import contextmanager
from pathlib import Path, PurePosixPath

import polars as pl

from etl_project.lib import warehouse as tables_on_disk
from etl_project.lib.warehouse import STAGING, Warehouse, _fsync_dir

COMMITS = "_commits"


@contextmanager
def _no_interrupts():
    """Ctrl-C (SIGINT) and SIGTERM wait until the block ends: a commit is applied whole once journaled."""
    try:
        previous = {s: signal.signal(s, signal.SIG_IGN) for s in (signal.SIGINT, signal.SIGTERM)}
    except ValueError:  # not the main thread: signals cannot be deferred here, and are not delivered here either
        yield
        return
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


class Commit:
    """One atomic change to the warehouse (module docstring). Use under the warehouse write lock."""

    def __init__(self, warehouse: Warehouse, *, label: str = ""):
        self.warehouse = warehouse
        self.id = f"{os.getpid()}-{uuid.uuid4().hex[:12]}"
        self.label = label
        self.dir = warehouse.root / STAGING / f"commit-{self.id}"
        self.moves: list[tuple[str, str]] = []  # (staged, target), relative to the warehouse root
        self.deletes: list[str] = []
        if warehouse.is_local:
            Path(self.dir).mkdir(parents=True, exist_ok=True)

    @classmethod
    def attach(cls, warehouse: Warehouse, commit_id: str) -> "Commit":
        """The commit ``commit_id`` seen from another process: what it stages here is returned with
        :attr:`moves` / :attr:`deletes` and handed to the owner's :meth:`adopt`."""
        self = cls.__new__(cls)
        self.warehouse, self.id, self.label = warehouse, commit_id, ""
        self.dir = warehouse.root / STAGING / f"commit-{commit_id}"
        self.moves, self.deletes = [], []
        return self

    def adopt(self, moves: list, deletes: list) -> None:
        self.moves.extend(tuple(m) for m in moves)
        self.deletes.extend(deletes)

    def _relative(self, path: Path | PurePosixPath) -> str:
        return PurePosixPath(Path(path).relative_to(Path(self.warehouse.root)) if self.warehouse.is_local else PurePosixPath(path).relative_to(self.warehouse.root)).as_posix()

    def stage_frame(self, target: Path | PurePosixPath, frame: pl.DataFrame, table: str) -> None:
        """Write ``frame`` as the next version of ``target`` (a Parquet file), aside."""
        staged = self.dir / f"{uuid.uuid4().hex}.parquet"
        if self.warehouse.is_local:
            tables_on_disk.write_parquet(frame, table, staged)
            with open(staged, "rb") as handle:
                os.fsync(handle.fileno())
        else:
            with self.warehouse.fs.open_output_stream(str(staged)) as out:
                tables_on_disk.write_parquet(frame, table, out)
        self.moves.append((self._relative(staged), self._relative(target)))

    def stage_bytes(self, target: Path | PurePosixPath, data: bytes) -> None:
        staged = self.dir / f"{uuid.uuid4().hex}.bin"
        if self.warehouse.is_local:
            with open(staged, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
        else:
            with self.warehouse.fs.open_output_stream(str(staged)) as out:
                out.write(data)
        self.moves.append((self._relative(staged), self._relative(target)))

    def stage_delete(self, target: Path | PurePosixPath) -> None:
        self.deletes.append(self._relative(target))

    @property
    def targets(self) -> list[str]:
        return sorted([t for _, t in self.moves] + self.deletes)

    def commit(self) -> None:
        """Journal the change (the commit point), then apply it; signals wait until it is applied."""
        journal = {"id": self.id, "label": self.label, "moves": self.moves, "deletes": self.deletes}
        with _no_interrupts():
            self.warehouse.write_bytes(f"{COMMITS}/{self.id}.json", json.dumps(journal).encode())
            _apply(self.warehouse, journal)
        self._remove_dir()

    def abort(self) -> None:
        """Drop everything staged; the warehouse stays as it was."""
        self._remove_dir()

    def _remove_dir(self) -> None:
        if self.warehouse.is_local:
            shutil.rmtree(self.dir, ignore_errors=True)
        else:
            try:
                self.warehouse.fs.delete_dir(str(self.dir))
            except (FileNotFoundError, OSError):
                pass


def _apply(warehouse: Warehouse, journal: dict) -> None:
    """Move every staged file over its target and delete the listed files; idempotent."""
    root = warehouse.root
    folders = set()
    for staged, target in journal["moves"]:
        source, destination = root / staged, root / target
        if warehouse.is_local:
            if Path(source).exists():
                Path(destination).parent.mkdir(parents=True, exist_ok=True)
                os.replace(source, destination)
                folders.add(Path(destination).parent)
        elif warehouse.exists(source):
            warehouse.fs.copy_file(str(source), str(destination))
            warehouse.fs.delete_file(str(source))
    for target in journal["deletes"]:
        path = root / target
        if warehouse.exists(path):
            warehouse.delete_file(path)
            if warehouse.is_local:
                folders.add(Path(path).parent)
    for folder in folders:
        _fsync_dir(folder)
    warehouse.delete_file(root / COMMITS / f"{journal['id']}.json")


def pending_journals(warehouse: Warehouse) -> list:
    from pyarrow import fs as pafs

    selector = pafs.FileSelector(str(warehouse.root / COMMITS), recursive=False, allow_not_found=True)
    return sorted(
        (info.path for info in warehouse.fs.get_file_info(selector) if info.type == pafs.FileType.File and info.path.endswith(".json")),
    )


def recover(warehouse: Warehouse) -> int:
    """Finish every commit that was journaled but not fully applied (a writer killed mid-apply).

    Takes the warehouse write lock. Returns how many commits were rolled forward.
    """
    if not pending_journals(warehouse):
        return 0
    with warehouse.locked():
        return _recover_locked(warehouse)


def _recover_locked(warehouse: Warehouse) -> int:
    done = 0
    for path in pending_journals(warehouse):
        with warehouse.fs.open_input_stream(path) as handle:
            journal = json.loads(handle.read())
        _apply(warehouse, journal)
        done += 1
    return done

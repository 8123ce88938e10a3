"""Publishing a batch to every table as one unit: stage, audit, then one atomic switch.

A batch changes several files in several tables (transcripts, turns, theme_flags, quarantine, and
its ``_published`` mark). Readers must see all of those changes or none, also after a crash.

**Local warehouses: generations.** The published state lives in one generation folder,
``_generations/gNNNNNN/``, holding a folder per table; ``_current`` is a symbolic link to it, and each
table folder at the root (``transcripts``, ``turns``, ...) is a fixed link into ``_current``, so
``data/warehouse/transcripts/**/*.parquet`` is what it always was for every reader (DuckDB, pandas,
polars, Spark, R). A :class:`Commit` works in three phases:

1. **stage**: every new file is written whole (and fsynced) under ``_staging/commit-<pid>-<id>/``;
   files to delete are only listed. The caller audits the staged rows now; a failed audit calls
   :meth:`Commit.abort` and nothing visible has changed.
2. **build**: the next generation is made beside the current one: hard links to every unchanged file
   (no copy), the staged files moved in. Still nothing visible has changed.
3. **switch**: ``_current`` is replaced by a link to the new generation with one ``rename``: every
   table changes at that instant, together. The old generation is then removed.

A process killed at any point leaves ``_current`` on the old generation or the new one, never
between: after a SIGKILL every table agrees with every other. The next writer removes what a killed
one left (staging folders, unfinished generations).

**Object stores: journal and roll forward.** S3 has neither links nor renames. There the staged
objects are listed in a journal, ``_commits/<id>.json`` (the commit point, written atomically), then
copied over their targets; a writer killed while copying is finished by the next writer
(:func:`recover`; ``etl-project status`` says when one is pending). Copies are idempotent, so rolling forward
twice is harmless; a reader between the kill and the roll-forward can see part of a batch.

Writers hold the warehouse's write lock (:meth:`Warehouse.locked`) from before they read the files
they merge until the switch, so two commits never interleave.
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
CURRENT = "_current"
GENERATIONS = "_generations"
VERSIONED = ("transcripts", "turns", "theme_flags", "quarantine", "_published", "_flag_cache")
"""Root folders that live in the generations (local warehouses): changed together, atomically."""


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
        """Make everything staged visible at once (module docstring); signals wait until it is done."""
        with _no_interrupts():
            if self.warehouse.is_local:
                _switch_generation(self.warehouse, self.moves, self.deletes)
            else:
                journal = {"id": self.id, "label": self.label, "moves": self.moves, "deletes": self.deletes}
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
    if not pending_journals(warehouse) and not warehouse.is_local:
        return 0
    with warehouse.locked():
        return _recover_locked(warehouse)


def _recover_locked(warehouse: Warehouse) -> int:
    if warehouse.is_local:  # nothing to roll forward: a generation is switched to whole or not at all
        remove_old_generations(Path(warehouse.root))
    done = 0
    for path in pending_journals(warehouse):
        with warehouse.fs.open_input_stream(path) as handle:
            journal = json.loads(handle.read())
        _apply(warehouse, journal)
        done += 1
    return done


# ------------------------------------------------------------------ generations (local warehouses)


def current_generation(root: Path) -> Path | None:
    link = root / CURRENT
    return (root / GENERATIONS / Path(os.readlink(link)).name) if link.is_symlink() else None


def _switch_generation(warehouse: Warehouse, moves: list[tuple[str, str]], deletes: list[str]) -> None:
    """Build the next generation from the current one plus the staged changes, then switch to it."""
    root = Path(warehouse.root)
    current = current_generation(root)
    number = int(current.name[1:]) + 1 if current is not None else 1
    new = root / GENERATIONS / f"g{number:06d}"
    if new.exists():  # left by a writer killed while building it
        shutil.rmtree(new)
    new.mkdir(parents=True)
    replaced = {t for _, t in moves} | set(deletes)
    others = [(s, t) for s, t in moves if PurePosixPath(t).parts[0] not in VERSIONED]
    folders = {new}
    for top in VERSIONED:
        source = current / top if current is not None else None
        if source is None and (root / top).is_dir() and not (root / top).is_symlink():
            source = root / top  # a warehouse written before generations existed: its folders become generation 1
        if source is None or not source.is_dir():
            continue
        for path in source.rglob("*"):
            if path.is_file():
                rel = f"{top}/{path.relative_to(source).as_posix()}"
                if rel not in replaced:
                    (new / rel).parent.mkdir(parents=True, exist_ok=True)
                    os.link(path, new / rel)
                    folders.add((new / rel).parent)
    for staged, target in moves:
        if PurePosixPath(target).parts[0] in VERSIONED:
            (new / target).parent.mkdir(parents=True, exist_ok=True)
            os.replace(root / staged, new / target)
            folders.add((new / target).parent)
    for folder in sorted(folders, key=lambda p: len(p.parts), reverse=True):
        _fsync_dir(folder)
    _fsync_dir(new.parent)
    if (root / CURRENT).exists() and not (root / CURRENT).is_symlink():  # a copy that followed the links
        (root / CURRENT).rename(root / GENERATIONS / f"legacy-current-{uuid.uuid4().hex[:8]}")
    link = root / f"{CURRENT}.{os.getpid()}.tmp"
    link.unlink(missing_ok=True)
    os.symlink(f"{GENERATIONS}/{new.name}", link)
    os.replace(link, root / CURRENT)  # the switch: every table changes here, together
    _fsync_dir(root)
    _link_tables(root)
    for staged, target in others:  # files outside the tables (none today): moved after, each atomically
        (root / target).parent.mkdir(parents=True, exist_ok=True)
        os.replace(root / staged, root / target)
    remove_old_generations(root)


def _link_tables(root: Path) -> None:
    """Each versioned folder at the root is a link into ``_current`` (a legacy real folder is moved away first)."""
    for top in VERSIONED:
        path = root / top
        if not (root / CURRENT / top).exists():  # nothing of it published (the flag cache before a reflag): no dangling link
            if path.is_symlink():
                path.unlink()
            continue
        if path.is_symlink():
            continue
        if path.exists():
            path.rename(root / GENERATIONS / f"legacy-{top}-{uuid.uuid4().hex[:8]}")
        tmp = root / f"{top}.{os.getpid()}.tmp"
        tmp.unlink(missing_ok=True)
        os.symlink(f"{CURRENT}/{top}", tmp)
        os.replace(tmp, path)
    _fsync_dir(root)


def remove_old_generations(root: Path) -> int:
    """Remove every generation but the current one (readers that opened an old file keep it open
    through its hard link); returns how many were removed. Call under the write lock."""
    current = current_generation(root)
    folder = root / GENERATIONS
    if not folder.is_dir() or (current is None and (root / CURRENT).exists()):
        return 0  # no generations yet, or a copy that followed the links: left for the next commit to settle
    removed = 0
    for entry in folder.iterdir():
        if current is None or entry.name != current.name:
            shutil.rmtree(entry, ignore_errors=True)
            removed += 1
    return removed

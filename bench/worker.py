"""One measured run in its own process: ``python -m bench.worker KIND RAW_DIR OUT_DIR RESULT_JSON``.

KIND is ``core`` (:func:`etl_project.lib.pipeline.run_core`), ``naive``
(:mod:`bench.naive`) or ``floor`` (:mod:`bench.floor`). The result JSON holds the
import time, the wall time of the work itself (imports excluded), the core's
per-stage seconds and this process's peak RSS. The driver additionally takes
the process's wall time and peak RSS from ``os.wait4``.
"""

from __future__ import annotations

import time

_STARTED = time.perf_counter()

import json  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402


SUBSTAGES: dict[str, list[float]] = {}
MEMORY: list[dict] = []  # after each pipeline step: the step, this process's RSS and peak RSS so far (MiB)


def _rss_mb() -> tuple[float, float]:
    rss = hwm = 0.0
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1]) / 1024
                elif line.startswith("VmHWM:"):
                    hwm = int(line.split()[1]) / 1024
    except OSError:
        pass
    return rss, hwm


def _tracked(name: str, fn):
    """``fn`` with the process's RSS and peak RSS recorded after each call (MEMORY)."""

    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        finally:
            rss, hwm = _rss_mb()
            MEMORY.append({"step": name, "rss_mb": round(rss), "peak_rss_mb": round(hwm)})

    return wrapper


def _timed(name: str, fn):
    """``fn`` with its calls counted and timed into SUBSTAGES[name] = [seconds, calls]."""

    def wrapper(*args, **kwargs):
        t = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            slot = SUBSTAGES.setdefault(name, [0.0, 0])
            slot[0] += time.perf_counter() - t
            slot[1] += 1

    return wrapper


def instrument() -> None:
    """Time the pieces inside run_core's stages without changing them (wrappers in this process only).

    * ``pandera_validate``: every pandera model validation (build_tables and merge_file);
    * ``ftfy``: every ftfy.fix_text call the repair makes (one per non-ASCII line);
    * ``split_turns``, ``repair_column``: the turn split and the line repair;
    * ``parquet_write``: writing + fsync of each partition file; ``warehouse_read``: reading partitions for the upsert.
    """
    import ftfy
    import pandera.polars as pa

    from etl_project.lib import pipeline, repair, transform, warehouse

    validate = pa.DataFrameModel.validate.__func__
    pa.DataFrameModel.validate = classmethod(_timed("pandera_validate", validate))
    if getattr(repair, "ftfy", None) is ftfy:
        repair.ftfy = type("ftfy_timed", (), {"fix_text": staticmethod(_timed("ftfy", ftfy.fix_text))})
    # Other people edit etl_project: wrap what exists, under the names it has now.
    for name, owner, attrs in (
        ("split_turns", transform, ("split_turns",)),
        ("repair_column", transform, ("repair_column",)),
        ("parquet_write", warehouse, ("write_parquet",)),
        ("warehouse_read", warehouse.Warehouse, ("read",)),
    ):
        for attr in attrs:
            if callable(getattr(owner, attr, None)):
                setattr(owner, attr, _timed(name, getattr(owner, attr)))
                break
    for step in ("read_raw_folder", "identify", "repair", "deduplicate", "build_tables", "flag_themes", "quarantine_rows", "merge_file"):
        if callable(getattr(pipeline, step, None)):
            setattr(pipeline, step, _tracked(step, getattr(pipeline, step)))


def _core(raw: Path, out: Path) -> dict:
    t = time.perf_counter()
    from etl_project.lib.pipeline import run_core

    instrument()
    import_s = time.perf_counter() - t
    t = time.perf_counter()
    run = run_core(raw, out)
    work_s = time.perf_counter() - t
    return {
        "import_s": import_s,
        "work_s": work_s,
        "stages_s": dict(run.seconds),
        "substages_s": {name: round(v[0], 4) for name, v in SUBSTAGES.items()},
        "substage_calls": {name: v[1] for name, v in SUBSTAGES.items()},
        "memory_after_step": MEMORY,
        "files_read": run.files_read,
        "batches": run.batches,
        "workers": run.workers,
        "wall_seconds": dict(run.wall_seconds),
        "rows": dict(run.rows),
        "great_expectations_imported": "great_expectations" in sys.modules,
    }


def _script(module: str, raw: Path, out: Path) -> dict:
    t = time.perf_counter()
    mod = __import__(f"bench.{module}", fromlist=["main"])
    import_s = time.perf_counter() - t
    t = time.perf_counter()
    rc = mod.main(str(raw), str(out))
    work_s = time.perf_counter() - t
    if rc:
        raise SystemExit(rc)
    return {"import_s": import_s, "work_s": work_s}


def main(argv: list[str]) -> int:
    kind, raw, out, result = argv
    raw, out = Path(raw), Path(out)
    if kind == "core":
        info = _core(raw, out)
    elif kind in ("naive", "floor"):
        info = _script(kind, raw, out)
    else:
        raise SystemExit(f"unknown kind {kind!r}")
    info["kind"] = kind
    info["process_s_inside"] = time.perf_counter() - _STARTED
    info["maxrss_self_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    Path(result).write_text(json.dumps(info))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

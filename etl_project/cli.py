"""``etl-project``: run the pipeline and look at the warehouse from a terminal, without the UI.

Commands:

- ``run``: materialize every asset (raw folder -> warehouse), a line per step as it
  finishes, then a summary;
- ``status``: what is in the warehouse (rows per table and split, read from the
  Parquet files), the last run recorded in the Dagster instance, the quarantine size;
- ``quarantine``: the quarantined inputs and why;
- ``verify [--repair]``: every warehouse file against its contract; rebuild the damaged ones;
- ``prune [--dry-run]``: drop transcripts no raw file holds any more.

Exit codes: 0 done (also when inputs were quarantined), 1 the run failed,
2 it could not start (missing raw folder, unwritable warehouse, bad arguments),
130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import gc
import io
import json
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

# The project root without importing Dagster (etl_project.definitions.PROJECT_ROOT is the same path),
# so the error paths and the read-only commands answer quickly.
PROJECT_ROOT = Path(__file__).resolve().parent.parent
TABLE_NAMES = ("transcripts", "turns", "theme_flags", "quarantine")
BATCHES = "_batches"  # the batch manifest (lib/batches.py): which raw files each run claimed
SPLIT_ORDER = ("workforce", "creatives", "scientists", "unknown")
PART_GLOB = "**/part-*.parquet"  # every data file of a table (lib/warehouse.py names them part-<bucket>.parquet)
INTERRUPTED_MESSAGE = "etl-project: interrupted; the warehouse keeps its previous state"


def raw_root() -> Path:
    return Path(os.environ.get("ETL_RAW_DIR") or PROJECT_ROOT / "data" / "raw")


def warehouse_root() -> Path:
    return Path(os.environ.get("ETL_WAREHOUSE_DIR") or PROJECT_ROOT / "data" / "warehouse")


def dagster_home() -> Path | None:
    """``$DAGSTER_HOME``, else the project's ``.dagster_home`` (what ``make`` uses) when it exists."""
    home = os.environ.get("DAGSTER_HOME")
    if home:
        return Path(home)
    default = PROJECT_ROOT / ".dagster_home"
    return default if default.is_dir() else None


def error(message: str) -> None:
    print(f"etl-project: {message}", file=sys.stderr)


def _instance():
    import dagster as dg

    home = os.environ.get("DAGSTER_HOME")
    if home:
        Path(home).mkdir(parents=True, exist_ok=True)
        return dg.DagsterInstance.get()
    return dg.DagsterInstance.ephemeral()


def _metadata_value(value):
    return getattr(value, "value", value)


# ------------------------------------------------------------------ run: pre-flight


def check_writable(root: Path) -> str | None:
    """None when files can be created in ``root`` (created if missing), else why not."""
    try:
        root.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=root, prefix=".etl-project-write-test-"):
            pass
    except OSError as exc:
        return exc.strerror or str(exc)
    return None


# ------------------------------------------------------------------ run: progress


class Progress:
    """Prints a line per step as it finishes, from the run's Dagster event stream."""

    def __init__(self, steps: list[str], stream=None, enabled: bool = True):
        self.total = len(steps)
        self.width = max((len(s) for s in steps), default=10)
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.started_at: dict[str, float] = {}
        self.rows: dict[str, list[str]] = {}
        self.finished = 0
        self.failed_steps: list[str] = []
        self.interrupted = False

    def __call__(self, entry) -> None:
        try:
            self.on_event(entry)
        except Exception as exc:  # the display must never break a run
            self.write(f"  (progress display failed: {exc!r})")
            self.enabled = False

    def on_event(self, entry) -> None:
        event = entry.dagster_event
        if event is None:
            message = entry.user_message or ""
            if entry.step_key and message.startswith("batch ") and ": " in message:  # the core's own progress
                self.write(f"      {message.split(': ', 1)[1]}")
            return
        if event.step_key is None:
            return
        step = event.step_key
        if event.is_step_start:
            self.started_at[step] = entry.timestamp
        elif event.event_type_value == "ASSET_MATERIALIZATION":
            mat = event.event_specific_data.materialization
            meta = mat.metadata
            rows = meta.get("dagster/row_count", meta.get("rows"))
            if rows is not None:
                self.rows.setdefault(step, []).append(f"{mat.asset_key.to_user_string()} {_metadata_value(rows)}")
        elif event.is_step_success or event.is_step_failure:
            self.finished += 1
            took = entry.timestamp - self.started_at.get(step, entry.timestamp)
            if event.is_step_failure:
                self.failed_steps.append(step)
                err = getattr(event.event_specific_data, "error", None)
                if err is not None and "Interrupted" in (err.cls_name or ""):
                    self.interrupted = True
            state = "done" if event.is_step_success else "FAILED"
            detail = ", ".join(self.rows.get(step, []))
            counter = f"[{self.finished}/{self.total}]"
            self.write(f"  {counter:>{2 * len(str(self.total)) + 3}} {step:<{self.width}}  {state:<6} {took:5.1f} s" + (f"   {detail}" if detail else ""))

    def write(self, line: str) -> None:
        if self.enabled:
            print(line, file=self.stream, flush=True)


@contextlib.contextmanager
def terminal_stream():
    """This process's stderr on a descriptor of its own (a duplicate of descriptor 2), closed at the end.

    While a step runs, Dagster's compute-log capture points descriptor 2 at a log file and copies
    the file back to the terminal with ``tail -F``, which it stops when the capture ends, sometimes
    before the last lines were copied (so the last step's progress line could be lost). Lines
    written to the duplicate reach the terminal at once, in order. Falls back to ``sys.stderr``
    when it has no descriptor (an in-process caller capturing it)."""
    try:
        stream = os.fdopen(os.dup(sys.stderr.fileno()), "w", buffering=1, encoding=sys.stderr.encoding or "utf-8", errors="backslashreplace")
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        yield sys.stderr
        return
    with stream:
        yield stream


def _quiet_about_interrupts(record) -> bool:
    """Drop Dagster's stack traces of an interrupted step: the CLI says it in one line."""
    return "DagsterExecutionInterruptedError" not in record.getMessage()


def console_logger_def(stream=None):
    """Dagster's coloured console logger (same config), minus the Ctrl-C stack traces, writing to
    ``stream`` (see :func:`terminal_stream`) when given."""
    import logging

    import dagster as dg

    base = dg.colored_console_logger

    def init(context):
        logger = base.logger_fn(context)
        logger.addFilter(_quiet_about_interrupts)
        for handler in list(logger.handlers) if stream is not None else ():
            if isinstance(handler, logging.StreamHandler):  # coloredlogs' handler always writes to sys.stderr: replace it
                mine = logging.StreamHandler(stream)
                mine.setLevel(handler.level)
                mine.setFormatter(handler.formatter)
                logger.removeHandler(handler)
                logger.addHandler(mine)
        return logger

    return dg.LoggerDefinition(init, config_schema=base.config_schema, description=base.description)


# ------------------------------------------------------------------ run


SUMMED = {
    "transcripts": ("files_read", "files_unchanged_skipped", "rows_from_this_batch", "repairs_made", "transcripts_repaired", "residual_mojibake"),
    "turns": ("rows_from_this_batch",),
    "quarantine": ("rows_from_this_batch",),
}


def run(args: argparse.Namespace) -> int:
    """Run the Dagster job ``warehouse_job`` (the one the UI, the sensor and the schedule run) once per
    batch to do: unfinished batches first, then the pending files claimed as new bounded batches."""
    started = time.perf_counter()
    if args.reflag:
        return reflag(args)
    raw, warehouse = raw_root(), warehouse_root()
    if not raw.is_dir():
        error(f"raw folder {raw} does not exist (set ETL_RAW_DIR)")
        return EXIT_USAGE
    why = check_writable(warehouse)
    if why:
        error(f"cannot write to the warehouse {warehouse} ({why}); set ETL_WAREHOUSE_DIR to a writable folder")
        return EXIT_USAGE

    from etl_project.lib.pipeline import warm_pool

    warm_pool()  # the core's worker processes start (and import) while this one imports Dagster
    from etl_project.definitions import build_resources
    from etl_project.lib.batches import batch_lock, batches, next_runs
    from etl_project.lib.commit import recover
    from etl_project.lib.warehouse import Warehouse

    wh = Warehouse(warehouse)
    if recover(wh):
        progress_note(args, "finished a commit a killed run had journaled but not applied")
    if args.batch:
        if args.batch not in batches(wh):
            error(f"no batch {args.batch!r} in {warehouse} (see `etl-project status`)")
            return EXIT_USAGE
        holder = wh.lock_holder(batch_lock(args.batch))
        if holder is not None:
            error(f"batch {args.batch} is being run now by pid {holder.get('pid')} (run {holder.get('run_id', '?')}); not started twice")
            return EXIT_USAGE
        keys = [args.batch]
    else:
        caps = build_resources()["raw_folder"].caps
        plan = next_runs(wh, raw, everything=args.reprocess, quiet_seconds=args.quiet_seconds, **caps)
        for key in plan.busy:
            progress_note(args, f"batch {key} is being run by another process ({_holder_text(wh.lock_holder(batch_lock(key)))}); left to it")
        if plan.changing:
            progress_note(args, f"{plan.changing} file(s) changed in the last {args.quiet_seconds:g} s; left for the next run")
        keys = plan.unfinished + plan.claimed
        if not keys:
            if stale := _flags_of_another_method(wh):
                return _follow_the_method(args, stale)
            print(f"nothing to do: every file under {raw} is in a finished batch ({len(batches(wh))} batch(es); --reprocess reads them all again)")
            return EXIT_OK
        if plan.unfinished:
            progress_note(args, f"taking up {len(plan.unfinished)} unfinished batch(es): {', '.join(plan.unfinished)}")

    with terminal_stream() as terminal:
        code = _run_batches(args, keys, raw, warehouse, terminal, started)
    if code == EXIT_OK and not args.batch and (stale := _flags_of_another_method(wh)):
        return _follow_the_method(args, stale)
    return code


def _flags_of_another_method(wh) -> int:
    """Published theme_flags rows not made by the method this run is set to (``ETL_THEME_METHOD``)."""
    import polars as pl

    from etl_project.lib.themes import method_version, resolve_method

    name = resolve_method(None)
    stored = wh.read("theme_flags", columns=["method", "method_version"], skip_damaged=[])  # a damaged file is `verify`'s to report
    if stored is None:
        return 0
    return stored.filter((pl.col("method") != name) | (pl.col("method_version") != method_version(name))).height


def _follow_the_method(args: argparse.Namespace, stale: int) -> int:
    """After ``ETL_THEME_METHOD`` changed, a plain run also brings the published flags to the new method:
    the reflag job, from the stored turns (and the flag cache), no raw file read."""
    from etl_project.lib.themes import resolve_method

    progress_note(args, f"{stale} theme_flags row(s) were made by another method than {resolve_method(None)} "
                        "(ETL_THEME_METHOD): re-deriving them from the stored turns, as `etl-project run --reflag` does")
    return reflag(args)


def _run_batches(args: argparse.Namespace, keys: list[str], raw: Path, warehouse: Path, terminal, started: float) -> int:
    from etl_project.definitions import build_definitions
    from etl_project.defs.ingest.partitions import ingest_batches

    # built now, from the environment as it is now (ETL_THEME_METHOD, the folders)
    job = build_definitions(plugin_catalog=False).resolve_job_def("warehouse_job").with_logger_defs({"console": console_logger_def(terminal)})
    instance = _instance()
    instance.add_dynamic_partitions(ingest_batches.name, [k for k in keys if not instance.has_dynamic_partition(ingest_batches.name, k)])
    reprocess = bool(args.reprocess or args.batch)
    run_config = {
        "loggers": {"console": {"config": {"log_level": args.log_level}}},
        "ops": {"warehouse_tables": {"config": {"reprocess": reprocess}}},
    }
    totals: dict[str, dict[str, int]] = {}
    failed: list[tuple[str, str, list[str]]] = []
    if _CONSOLE["script"]:
        gc.freeze()  # Dagster's and the definitions' objects live as long as the process: no collection walks them again
    for number, key in enumerate(keys, 1):
        header = f"etl-project run: batch {key} ({number}/{len(keys)}) of {raw} -> {warehouse}"
        result, progress, run_id = _run_one_batch(job, instance, key, number == len(keys), run_config, terminal, args, header)
        if progress.interrupted or result is None:
            print(INTERRUPTED_MESSAGE + f" (batch {key} was not published; the next run takes it up)", file=sys.stderr)
            return EXIT_INTERRUPTED
        if not result.success:
            steps = progress.failed_steps or [e.step_key for e in result.all_events if e.is_step_failure]
            failed.append((key, run_id, steps))
            continue
        for event in result.get_asset_materialization_events():
            mat = event.event_specific_data.materialization
            table = mat.asset_key.to_user_string()
            meta = {k: _metadata_value(v) for k, v in mat.metadata.items()}
            sums = totals.setdefault(table, {})
            for name in SUMMED.get(table, ()):
                sums[name] = sums.get(name, 0) + int(meta.get(name) or 0)
            sums["in_table"] = int(meta.get("dagster/row_count") or 0)
    for key, run_id, steps in failed:
        error(
            f"run failed in step(s) {', '.join(steps) or '?'} for batch {key}; see the log above (run id {run_id}). "
            f"Nothing of it was published; it runs again with the next `etl-project run` (or `--batch {key}`)"
        )
    if failed:
        return EXIT_FAILED

    def get(table: str, name: str) -> int:
        return totals.get(table, {}).get(name, 0)

    elapsed = time.perf_counter() - started
    print()
    print("etl-project run summary")
    print(f"  batches               {len(keys)} ({keys[0]}{' .. ' + keys[-1] if len(keys) > 1 else ''})")
    unchanged = get("transcripts", "files_unchanged_skipped")
    print(f"  files read            {get('transcripts', 'files_read')}" + (f" ({unchanged} unchanged, skipped)" if unchanged else ""))
    print(f"  transcripts written   {get('transcripts', 'rows_from_this_batch')} this run; {get('transcripts', 'in_table')} in the warehouse")
    print(f"  turns                 {get('turns', 'rows_from_this_batch')}")
    print(f"  quarantined           {get('quarantine', 'rows_from_this_batch')} this run; {get('quarantine', 'in_table')} in the quarantine")
    print(f"  repairs made          {get('transcripts', 'repairs_made')} lines in {get('transcripts', 'transcripts_repaired')} transcripts"
          + (f"; {get('transcripts', 'residual_mojibake')} still look damaged (marked residual_mojibake)" if get("transcripts", "residual_mojibake") else ""))
    print(f"  time taken            {elapsed:.1f} s")
    print(f"  warehouse             {warehouse}")
    return EXIT_OK


def reflag(args: argparse.Namespace) -> int:
    """Run the Dagster job ``reflag_theme_flags`` (the one the UI offers) once per batch, as a backfill of
    every partition would: the first run re-derives theme_flags from the stored turns with the current
    method, the others find every transcript flagged by it already (and mark their partition up to date);
    theme_prevalence and theme_report run after the last. No raw file is read."""
    from etl_project.lib.batches import batches
    from etl_project.lib.warehouse import Warehouse

    location = os.environ.get("ETL_WAREHOUSE_DIR") or str(PROJECT_ROOT / "data" / "warehouse")
    keys = batches(Warehouse(location))
    if not keys:
        print(f"nothing to re-derive: no batch in {location} yet (run `etl-project run` first)")
        return EXIT_OK
    with terminal_stream() as terminal:
        return _reflag_batches(args, keys, location, terminal)


def _reflag_batches(args: argparse.Namespace, keys: list[str], location: str, terminal) -> int:
    from etl_project.definitions import build_definitions
    from etl_project.defs.ingest.partitions import ingest_batches

    job = build_definitions(plugin_catalog=False).resolve_job_def("reflag_theme_flags").with_logger_defs({"console": console_logger_def(terminal)})
    instance = _instance()
    instance.add_dynamic_partitions(ingest_batches.name, [k for k in keys if not instance.has_dynamic_partition(ingest_batches.name, k)])
    done: dict[str, int] = {}
    for number, key in enumerate(keys, 1):
        header = f"etl-project run --reflag: batch {key} ({number}/{len(keys)}), theme_flags from the stored turns of {location}"
        run_config = {"loggers": {"console": {"config": {"log_level": args.log_level}}}}
        result, progress, run_id = _run_one_batch(job, instance, key, number == len(keys), run_config, terminal, args, header)
        if progress.interrupted or result is None:
            print(INTERRUPTED_MESSAGE, file=sys.stderr)
            return EXIT_INTERRUPTED
        if not result.success:
            error(f"reflag failed in step(s) {', '.join(progress.failed_steps) or '?'}; nothing of it was published (run id {run_id})")
            return EXIT_FAILED
        [meta] = [{k: _metadata_value(v) for k, v in m.metadata.items()} for m in result.asset_materializations_for_node("warehouse_tables")]
        for name, key in (("reflagged", "transcripts_reflagged"), ("from_cache", "transcripts_from_flag_cache")):
            done[name] = done.get(name, 0) + meta[key]
        done["rows"], done["method"] = meta["dagster/row_count"], meta["method"]
    print(f"theme_flags re-derived by {done['method']}: {done['reflagged']} transcript(s) flagged again, {done['from_cache']} from the flag cache, "
          f"{done['rows'] - done['reflagged'] - done['from_cache']} already of this version; {done['rows']} rows; {len(keys)} batch(es) marked; raw files read: 0")
    return EXIT_OK


def _run_one_batch(job, instance, key: str, last: bool, run_config: dict, terminal, args: argparse.Namespace, header: str):
    """One Dagster run of ``job`` for batch ``key`` with its progress display: ``(result or None when
    interrupted, the Progress, the run id)``. The steps after ``warehouse_tables`` (dataset checks,
    prevalence, report) read the whole warehouse, so they run with the last batch only."""
    run_id = str(uuid.uuid4())  # known before the run starts, so the progress display can follow its events
    progress = Progress([node.name for node in job.graph.nodes], stream=terminal, enabled=not args.no_progress)
    instance.add_event_listener(run_id, progress)
    progress.write(header)
    try:
        result = job.execute_in_process(
            run_config=run_config, instance=instance, partition_key=key, raise_on_error=False, run_id=run_id,
            op_selection=None if last else ["warehouse_tables"],
        )
    except KeyboardInterrupt:
        progress.interrupted, result = True, None
    return result, progress, run_id


def progress_note(args: argparse.Namespace, message: str) -> None:
    if not args.no_progress:
        print(f"etl-project run: {message}", file=sys.stderr, flush=True)


def _holder_text(holder: dict | None) -> str:
    if not holder:
        return "a process that has just ended"
    return f"pid {holder.get('pid')} on {holder.get('host')} since {holder.get('since')}" + (f", run {holder['run_id']}" if holder.get("run_id") else "")


# ------------------------------------------------------------------ status


def table_counts(warehouse) -> dict[str, dict]:
    """Rows per table and partition, from the Parquet footers (no data read), through the warehouse's
    own file system (a local folder or object storage). A file whose footer cannot be read is listed
    under ``damaged`` instead of stopping the report."""
    import pyarrow.parquet as pq

    tables: dict[str, dict] = {}
    for table in TABLE_NAMES:
        files = warehouse.partition_files(table)
        by_split: dict[str, int] = {}
        total, newest, damaged = 0, None, []
        for f in files:
            try:
                with warehouse.fs.open_input_file(str(f)) as handle:
                    rows = pq.ParquetFile(handle).metadata.num_rows
                info = warehouse.fs.get_file_info(str(f))
            except Exception as exc:  # noqa: BLE001 - a damaged file is reported, not raised
                damaged.append({"file": str(f), "error": f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"})
                continue
            total += rows
            key, _, value = f.parent.name.partition("=")
            if key == "split":
                by_split[value] = by_split.get(value, 0) + rows
            if info.mtime is not None:
                newest = max(newest or 0.0, info.mtime.timestamp())
        order = {s: i for i, s in enumerate(SPLIT_ORDER)}
        tables[table] = {
            "files": len(files),
            "rows": total,
            "rows_by_split": dict(sorted(by_split.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0]))),
            "updated_at": _iso(newest) if newest else None,
            "damaged": damaged,
        }
    return tables


def _iso(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    return dt.datetime.fromtimestamp(timestamp, dt.timezone.utc).isoformat(timespec="seconds")


def last_run() -> dict | None:
    """The newest run recorded in the Dagster instance, or None (no instance, no runs)."""
    home = dagster_home()
    if home is None or not home.is_dir():
        return None
    import dagster as dg

    instance = dg.DagsterInstance.from_config(str(home))
    try:
        records = instance.get_run_records(limit=1)
    finally:
        instance.dispose()
    if not records:
        return None
    record = records[0]
    run = record.dagster_run
    start, end = record.start_time, record.end_time
    return {
        "run_id": run.run_id,
        "job": run.job_name,
        "batch": run.tags.get("dagster/partition"),
        "status": run.status.value,
        "started_at": _iso(start or record.create_timestamp.timestamp()),
        "ended_at": _iso(end),
        "seconds": round(end - start, 1) if start and end else None,
        "dagster_home": str(home),
    }


def batch_info(warehouse, raw: Path) -> dict:
    """Batches claimed so far (the manifest in the warehouse), the unfinished ones with who holds
    them or why their last run failed, and raw files waiting for a batch."""
    import polars as pl

    from etl_project.lib.batches import batch_lock, last_failure, pending, read_manifest, scan, unfinished

    manifest = read_manifest(warehouse)
    info: dict = {"batches": manifest.get_column("batch").n_unique(), "last_batch": None, "last_batch_files": 0}
    if manifest.height:
        last = manifest.get_column("batch").max()
        info.update(last_batch=last, last_batch_files=manifest.filter(pl.col("batch") == last).height)
    info["unfinished"] = [
        {
            "batch": key,
            "files": manifest.filter(pl.col("batch") == key).height,
            "running": warehouse.lock_holder(batch_lock(key)),
            "last_error": last_failure(warehouse, key),
        }
        for key in unfinished(warehouse)
    ]
    info["raw_folder"] = str(raw)
    info["raw_files"] = info["pending_files"] = None
    info["skipped"] = []
    if raw.is_dir():
        from etl_project.lib.readers import discover_folder

        listing = scan(raw)
        info.update(raw_files=listing.height, pending_files=pending(listing, manifest).height)
        info["skipped"] = [{"path": s.relative, "reason": s.reason} for s in discover_folder(raw).skipped]
    return info


def status(args: argparse.Namespace) -> int:
    from etl_project.lib.commit import pending_journals
    from etl_project.lib.warehouse import Warehouse

    location = os.environ.get("ETL_WAREHOUSE_DIR") or str(PROJECT_ROOT / "data" / "warehouse")
    warehouse = Warehouse(location)
    exists = warehouse.fs.get_file_info(str(warehouse.root)).type.name != "NotFound"
    empty = {"files": 0, "rows": 0, "rows_by_split": {}, "updated_at": None, "damaged": []}
    tables = table_counts(warehouse) if exists else {t: dict(empty) for t in TABLE_NAMES}
    batch = batch_info(warehouse, raw_root())
    run_info = last_run()
    report = {
        "warehouse": location,
        "exists": exists,
        "tables": tables,
        "quarantine_rows": tables["quarantine"]["rows"],
        "damaged_files": [d for t in tables.values() for d in t["damaged"]],
        "half_applied_commits": len(pending_journals(warehouse)) if exists and not warehouse.is_local else 0,
        **batch,
        "last_run": run_info,
    }
    root = location
    if args.json:
        print(json.dumps(report, indent=2))
        return EXIT_OK
    print(f"warehouse   {root}")
    if not any(t["files"] for t in tables.values()):
        print("            no tables yet (run `etl-project run`)")
    else:
        splits = [s for s in SPLIT_ORDER if any(s in t["rows_by_split"] for t in tables.values())]
        splits += sorted({s for t in tables.values() for s in t["rows_by_split"]} - set(splits))
        header = f"  {'table':<12}" + "".join(f"{s:>12}" for s in splits) + f"{'total':>10}   updated (UTC)"
        print(header)
        for name, t in tables.items():
            cells = "".join(f"{(t['rows_by_split'][s] if s in t['rows_by_split'] else '-')!s:>12}" for s in splits)
            if not t["rows_by_split"]:
                cells = "".join(f"{'':>12}" for _ in splits)
            updated = (t["updated_at"] or "-").replace("T", " ").replace("+00:00", "")
            print(f"  {name:<12}{cells}{t['rows']:>10}   {updated}")
    for d in report["damaged_files"]:
        print(f"damaged     {d['file']}: {d['error']}")
    if report["half_applied_commits"]:
        print(f"commits     {report['half_applied_commits']} half applied (a writer died while copying); the next run finishes them")
    print(f"quarantine  {tables['quarantine']['rows']} input(s)" + (" (see `etl-project quarantine`)" if tables["quarantine"]["rows"] else ""))
    last = f"; last {batch['last_batch']} ({batch['last_batch_files']} files)" if batch["last_batch"] else ""
    print(f"batches     {batch['batches']}{last}")
    for u in batch["unfinished"]:
        if u["running"]:
            state = f"running now ({_holder_text(u['running'])})"
        elif u["last_error"]:
            state = f"last run failed {u['last_error']['failed_at']}: {u['last_error']['error'][:300]}"
        else:
            state = "its run was killed or never started (no error recorded)"
        print(f"unfinished  {u['batch']} ({u['files']} files): {state}; `etl-project run` takes it up")
    if batch["raw_files"] is None:
        print(f"raw folder  {batch['raw_folder']} does not exist")
    else:
        waiting = f"{batch['pending_files']} new or changed, waiting for `etl-project run`" if batch["pending_files"] else "none waiting"
        print(f"raw folder  {batch['raw_folder']}: {batch['raw_files']} files, {waiting}")
        for skipped in batch["skipped"]:
            print(f"skipped     {skipped['path']}: {skipped['reason']}")
    if run_info is None:
        home = dagster_home()
        print(f"last run    none recorded ({'no Dagster instance; set DAGSTER_HOME' if home is None else f'in {home}'})")
    else:
        took = f", took {run_info['seconds']} s" if run_info["seconds"] is not None else ""
        started_at = (run_info["started_at"] or "?").replace("T", " ").replace("+00:00", " UTC")
        of_batch = f", batch {run_info['batch']}" if run_info["batch"] else ""
        print(f"last run    {run_info['status']}, started {started_at}{took} (job {run_info['job']}{of_batch}, run {run_info['run_id'][:8]})")
    return EXIT_OK


# ------------------------------------------------------------------ quarantine


QUARANTINE_COLUMNS = ("source_file", "source_record", "transcript_id", "reason", "detected_at")


def quarantine(args: argparse.Namespace) -> int:
    import pyarrow.parquet as pq

    path = warehouse_root() / "quarantine"
    rows: list[dict] = []
    for f in sorted(path.glob(PART_GLOB)):
        rows += pq.read_table(f, columns=list(QUARANTINE_COLUMNS)).to_pylist()
    for row in rows:
        row["detected_at"] = row["detected_at"].isoformat() if row["detected_at"] else None
    limit = args.limit if args.limit is not None else (0 if args.json else 20)
    if limit < 0:
        error("--limit must be 0 (all) or more")
        return EXIT_USAGE
    shown = rows if limit == 0 else rows[:limit]
    if args.json:
        print(json.dumps(shown, indent=2, ensure_ascii=False))
        return EXIT_OK
    if not rows:
        print(f"the quarantine is empty ({path if path.is_dir() else 'no quarantine table yet in ' + str(warehouse_root())})")
        return EXIT_OK
    print(f"{len(rows)} quarantined input(s) in {path}" + (f"; showing {len(shown)} (--limit 0 for all)" if len(shown) < len(rows) else ""))
    file_w = min(40, max(len("source_file"), *(len(r["source_file"]) for r in shown)))
    rec_w = max(len("record"), *(len(r["source_record"] or "-") for r in shown))
    id_w = min(30, max(len("id"), *(len(r["transcript_id"] or "-") for r in shown)))
    print(f"{'source_file':<{file_w}}  {'record':<{rec_w}}  {'id':<{id_w}}  {'detected_at (UTC)':<19}  reason")
    for r in shown:
        detected = (r["detected_at"] or "-")[:19].replace("T", " ")
        print(f"{r['source_file']:<{file_w}}  {(r['source_record'] or '-'):<{rec_w}}  {(r['transcript_id'] or '-'):<{id_w}}  {detected:<19}  {r['reason']}")
    return EXIT_OK


# ------------------------------------------------------------------ verify and prune


def verify(args: argparse.Namespace) -> int:
    """Every warehouse file's footer and schema against the contracts; with --repair, rebuild the damaged."""
    from etl_project.lib.verify import damaged_files, repair, twins
    from etl_project.lib.warehouse import Warehouse

    warehouse = Warehouse(os.environ.get("ETL_WAREHOUSE_DIR") or str(PROJECT_ROOT / "data" / "warehouse"))
    damage = damaged_files(warehouse)
    for d in damage:
        print(f"damaged  {d.table:<12} {d.file}: {d.reason}")
    if not damage:
        print(f"every file of {warehouse.uri} matches its table's contract")
        return EXIT_OK
    if not args.repair:
        print(f"{len(damage)} damaged file(s); `etl-project verify --repair` rebuilds them from the raw files")
        return EXIT_FAILED
    raw = raw_root()
    if not raw.is_dir():
        error(f"cannot repair: the raw folder {raw} that made the tables is not there (set ETL_RAW_DIR)")
        return EXIT_FAILED
    print(f"dropping {len(twins(warehouse, damage))} file(s) (the damaged ones and their twins in the other keyed tables), "
          f"then reading the raw files of {raw} again")
    done = repair(warehouse, raw)
    left = damaged_files(warehouse)
    if left:
        error(f"{len(left)} file(s) still damaged after the repair: {', '.join(d.file for d in left)}")
        return EXIT_FAILED
    print(f"repaired: {done['damaged']} damaged file(s) rebuilt from {done['files_read']} raw file(s)")
    return EXIT_OK


def prune(args: argparse.Namespace) -> int:
    """Drop transcripts no raw file holds any more (and quarantine rows of files that are gone)."""
    from etl_project.lib.pipeline import prune_missing

    raw = raw_root()
    if not raw.is_dir():
        error(f"raw folder {raw} does not exist (set ETL_RAW_DIR); refusing to prune against nothing")
        return EXIT_USAGE
    removed = prune_missing(raw, os.environ.get("ETL_WAREHOUSE_DIR") or str(PROJECT_ROOT / "data" / "warehouse"), dry_run=args.dry_run)
    verb = "would remove" if args.dry_run else "removed"
    for table, rows in removed.items():
        print(f"{table:<12} {verb} {rows} row(s)")
    return EXIT_OK


# ------------------------------------------------------------------ entry point


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="etl-project",
        description="Run the transcript pipeline and inspect the warehouse. Folders: ETL_RAW_DIR, ETL_WAREHOUSE_DIR, DAGSTER_HOME.",
        epilog="exit codes: 0 ok, 1 run failed, 2 could not start, 130 interrupted",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run_parser = commands.add_parser("run", help="materialize every asset: raw folder -> warehouse, then print a summary")
    run_parser.add_argument("--log-level", default="WARNING", choices=["DEBUG", "INFO", "WARNING", "ERROR"], help="Dagster log level on the console (default WARNING)")
    run_parser.add_argument("--no-progress", action="store_true", help="no line per step on stderr, only the summary")
    which = run_parser.add_mutually_exclusive_group()
    which.add_argument("--reprocess", action="store_true", help="claim every raw file as a new batch and process it again, also unchanged ones")
    which.add_argument("--batch", metavar="KEY", help="re-run one existing batch (the same files, all read again)")
    which.add_argument("--reflag", action="store_true", help="re-derive theme_flags (then prevalence and report) from the stored turns with "
                       "the current method (ETL_THEME_METHOD); no raw file is read")
    run_parser.add_argument(
        "--quiet-seconds", type=float, default=float(os.environ.get("ETL_RUN_QUIET_SECONDS", "0")),
        help="claim only files unchanged for this long (default 0: you ran it, so the files are complete; the sensor waits 10 s)",
    )
    status_parser = commands.add_parser("status", help="rows per table and split, last run, quarantine size")
    status_parser.add_argument("--json", action="store_true", help="machine-readable output")
    v_parser = commands.add_parser("verify", help="check every warehouse file against its contract; --repair rebuilds the damaged ones")
    v_parser.add_argument("--repair", action="store_true", help="drop the damaged files and rebuild them from the raw files")
    p_parser = commands.add_parser("prune", help="drop transcripts no raw file holds any more")
    p_parser.add_argument("--dry-run", action="store_true", help="only say what would be removed")
    q_parser = commands.add_parser("quarantine", help="list the quarantined inputs and why")
    q_parser.add_argument("--limit", type=int, default=None, help="show at most N rows, 0 = all (default 20; all with --json)")
    q_parser.add_argument("--json", action="store_true", help="a JSON list of {source_file, source_record, transcript_id, reason, detected_at}")
    return parser


COMMANDS = {"run": run, "status": status, "quarantine": quarantine, "verify": verify, "prune": prune}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except KeyboardInterrupt:
        print(INTERRUPTED_MESSAGE if args.command == "run" else "etl-project: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


_CONSOLE = {"script": False}


def entry() -> int:
    """The ``etl-project`` console script: :func:`main` in a process of its own.

    Before returning it freezes every object left (``gc.freeze``): the interpreter's exit then
    skips walking Dagster's and Great Expectations' object graphs, which took about 1.5 s. Output
    is flushed and every handler still runs, unlike a hard ``os._exit``.
    """
    _CONSOLE["script"] = True
    code = main()
    gc.freeze()
    return code


if __name__ == "__main__":
    sys.exit(entry())

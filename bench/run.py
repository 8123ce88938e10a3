"""``make bench``: the benchmark driver.

One invocation generates (or reuses) the corpora, then runs on the same files,
interleaved and repeated, each run in its own process:

* ``floor``  -- :mod:`bench.floor` (read the bytes, write one Parquet string column);
* ``core``   -- :func:`etl_project.lib.pipeline.run_core` via :mod:`bench.worker`;
* ``naive``  -- :mod:`bench.naive`; above ``--naive-full-max`` transcripts on a fixed
  1-in-``--naive-every`` subsample, its throughput scaled to the full size;
* ``core_sub`` -- the core on that same subsample (a same-input core/naive ratio);
* ``dagster`` -- ``make run``: the installed ``etl-project run`` console script (the Dagster
  job ``warehouse_job``, one Dagster run per ingest batch) with ``ETL_RAW_DIR``,
  ``ETL_WAREHOUSE_DIR`` and a fresh ``DAGSTER_HOME`` and warehouse, cold, at every size
  (``--dagster-max`` caps it only when given);

plus a cold-start breakdown (interpreter, imports) at the smallest size (``--skip cold``
leaves it out). Every run's wall time and the peak memory of its whole process tree
(sampled from /proc, worker processes included) are recorded; the medians, ratios,
stage shares and target verdicts go to ``bench/out/results.json`` and to the
generated block of ``BENCHMARKS.md``. The outputs of the first repetition are compared
(:mod:`bench.compare`): core vs naive (any difference beyond the intended ones fails)
and the ``make run`` warehouse vs the core's (the four tables must be equal); a failure
makes the benchmark exit 1.

Repetitions: the first repetition always runs in full; later ones (up to
``--repeats``) run only while the projected total stays within ``--budget-min``
(the slow 50,000-transcript runs are then repeated fewer times; the report
says how many runs each median is of).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from importlib import metadata
from pathlib import Path

from bench import generate as gen

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
ETL_PROJECT = Path(sys.executable).parent / "etl-project"
REPORT = PROJECT_ROOT / "BENCHMARKS.md"
MARK_START, MARK_END = "<!-- bench:results:start -->", "<!-- bench:results:end -->"
KINDS = ("floor", "core", "naive", "core_sub", "dagster")
TARGETS = {
    "core_vs_naive_min": 15.0,
    "core_vs_floor_max": 3.0,
    "core_peak_rss_max_bytes": 1.5e9,
    "make_run_small_max_s": 15.0,
    "make_run_vs_core_max": 1.3,
    "make_run_vs_naive_min": 5.0,
    "make_run_peak_rss_max_bytes": 1.5e9,
    "make_run_large_peak_rss_max_bytes": 4e9,
    "stage_share_max": 0.25,
}
LABELS = {"dagster": "make run"}  # how a kind is shown in the report
LIBRARIES = ("polars", "pyarrow", "pandas", "ftfy", "pandera", "dagster", "great_expectations", "duckdb")


# ---------------------------------------------------------------- measuring


def _tree_memory_mb(root: int) -> tuple[float, float, float]:
    """(sum of RSS, sum of PSS, largest VmHWM) in MiB over ``root`` and all its descendants, from /proc.

    VmHWM is a process's own peak RSS since its ``exec`` (unlike ``ru_maxrss``, which on Linux
    also counts the memory of the parent that forked it: a driver holding 1.4 GB makes every child
    look 1.4 GB big).
    """
    parent: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
                parent[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
    tree, frontier = {root}, [root]
    while frontier:
        pid = frontier.pop()
        for child, ppid in parent.items():
            if ppid == pid and child not in tree:
                tree.add(child)
                frontier.append(child)
    rss = pss = hwm = 0.0
    for pid in tree:
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Rss:"):
                    rss += int(line.split()[1]) / 1024
                elif line.startswith("Pss:"):
                    pss += int(line.split()[1]) / 1024
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    hwm = max(hwm, int(line.split()[1]) / 1024)
        except OSError:
            continue
    return rss, pss, hwm


class TreeMemory(threading.Thread):
    """Samples the memory of a process and its children (worker processes) ten times a second."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid, self.peak_rss, self.peak_pss, self.peak_one = pid, 0.0, 0.0, 0.0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.1):
            rss, pss, hwm = _tree_memory_mb(self.pid)
            self.peak_rss, self.peak_pss, self.peak_one = max(self.peak_rss, rss), max(self.peak_pss, pss), max(self.peak_one, hwm)


def measured(cmd: list[str], *, env: dict | None = None, timeout: float | None = None) -> dict:
    """Run ``cmd``; its wall time, exit code, peak RSS and CPU time (from ``os.wait4``), the peak
    memory of its whole process tree (sampled) and output tails."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env, cwd=PROJECT_ROOT)
        sampler = TreeMemory(proc.pid)
        sampler.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        except KeyboardInterrupt:
            proc.kill()
            raise
        finally:
            sampler.done.set()
            sampler.join()
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode("utf-8", "replace"), err.read().decode("utf-8", "replace")
    return {
        "rc": proc.returncode,
        "process_s": wall,
        # peak memory: the whole process tree's PSS (sampled); ru_maxrss is kept for reference only
        "peak_rss_mb": max(sampler.peak_pss, sampler.peak_one) if sampler.peak_one else usage.ru_maxrss / 1024,
        "peak_rss_one_process_mb": sampler.peak_one or usage.ru_maxrss / 1024,
        "ru_maxrss_mb": usage.ru_maxrss / 1024,
        "peak_tree_rss_sum_mb": sampler.peak_rss,
        "peak_tree_pss_mb": sampler.peak_pss,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "steps_s": step_seconds(stdout + "\n" + stderr),
        "stdout_tail": stdout[-8000:],
        "stderr_tail": stderr[-3000:],
        "stderr_full": stderr,  # dropped before the record is kept (see Runner)
    }


def machine() -> dict:
    def cpu_model() -> str:
        try:
            for line in Path("/proc/cpuinfo").read_text().splitlines():
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
        except OSError:
            pass
        return platform.processor() or "unknown"

    def ram_gib() -> float:
        try:
            for line in Path("/proc/meminfo").read_text().splitlines():
                if line.startswith("MemTotal:"):
                    return round(int(line.split()[1]) / 2**20, 1)
        except OSError:
            pass
        return 0.0

    versions = {}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name.replace("_", "-"))
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cores": os.cpu_count(),
        "ram_gib": ram_gib(),
        "cpu": cpu_model(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "libraries": versions,
        "load_average_start": list(os.getloadavg()),
    }


# ---------------------------------------------------------------- one run of each kind


class Runner:
    def __init__(self, work: Path, keep: Path):
        self.work = work
        self.keep = keep  # outputs kept for the comparison
        self.counter = 0

    def _fresh(self, label: str) -> Path:
        self.counter += 1
        path = self.work / f"{self.counter:03d}-{label}"
        if path.exists():
            shutil.rmtree(path)
        return path

    def worker(self, kind: str, raw: Path, label: str, keep_as: str | None) -> dict:
        out = self._fresh(label)
        result_json = out.with_suffix(".json")
        rec = measured([PYTHON, "-m", "bench.worker", kind, str(raw), str(out), str(result_json)])
        rec.pop("stderr_full")
        if rec["rc"] == 0:
            rec.update(json.loads(result_json.read_text()))
        rec["wall_s"] = rec.get("work_s")
        self._settle(out, keep_as)
        result_json.unlink(missing_ok=True)
        return rec

    def dagster(self, raw: Path, label: str, keep_as: str | None) -> dict:
        """``make run`` as a new user runs it: the ``etl-project run`` console script, fresh
        ``DAGSTER_HOME`` and warehouse, the project's default batch caps unless the caller's
        environment sets ``ETL_BATCH_MAX_FILES`` / ``ETL_BATCH_MAX_MB``."""
        if not ETL_PROJECT.is_file():
            raise SystemExit(f"bench: {ETL_PROJECT} not found: install the project first (`make install`)")
        out = self._fresh(label)
        home = out / "dagster_home"
        home.mkdir(parents=True)
        (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
        warehouse = out / "warehouse"
        env = {
            **os.environ,  # PYTHONPATH, ETL_BATCH_MAX_*, ETL_SCRATCH_DIR, ... pass through
            "ETL_RAW_DIR": str(raw),
            "ETL_WAREHOUSE_DIR": str(warehouse),
            "DAGSTER_HOME": str(home),
            "GX_ANALYTICS_ENABLED": "false",
            "ETL_RUN_QUIET_SECONDS": "0",  # the CLI's default: every file is claimed, however new
        }
        rec = measured([str(ETL_PROJECT), "run"], env=env)
        rec["wall_s"] = rec["process_s"]
        rec.update(make_run_facts(rec["stdout_tail"], rec["stderr_full"]))
        storage = home / "storage"
        rec["dagster_storage_mb"] = _folder_mb(storage)
        rec["dagster_home_mb"] = _folder_mb(home)
        rec.pop("stderr_full")
        if keep_as is not None and rec["rc"] == 0:
            self._settle(warehouse, keep_as)
        shutil.rmtree(out, ignore_errors=True)
        return rec

    def _settle(self, out: Path, keep_as: str | None) -> None:
        if keep_as is None:
            shutil.rmtree(out, ignore_errors=True)
            return
        target = self.keep / keep_as
        if target.exists():
            shutil.rmtree(target)
        if out.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(out, target)


COLD_RUN = """
import json, sys, time
t0 = time.perf_counter()
import etl_project.definitions
t1 = time.perf_counter()
ge_at_import = "great_expectations" in sys.modules
from etl_project.cli import main
rc = main(["run"])
t2 = time.perf_counter()
print("BENCH_COLD " + json.dumps({"definitions_import_s": t1 - t0, "run_s": t2 - t1, "rc": rc,
      "ge_at_import": ge_at_import, "ge_after_run": "great_expectations" in sys.modules}))
sys.exit(rc)
"""
STEP_LINE = re.compile(r"\[\d+/\d+\]\s+(\S+)\s+done\s+([0-9.]+)\s*s")
BATCH_LINE = re.compile(r"etl-project run: batch (\S+) \((\d+)/(\d+)\)")


def step_seconds(output: str) -> dict[str, float]:
    """Per-asset/check durations from the CLI's progress lines, summed over its Dagster runs."""
    steps: dict[str, float] = {}
    for m in STEP_LINE.finditer(output):
        steps[m.group(1)] = steps.get(m.group(1), 0.0) + float(m.group(2))
    return steps


def _folder_mb(folder: Path) -> float:
    if not folder.is_dir():
        return 0.0
    return round(sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**20, 1)


def make_run_facts(stdout: str, stderr: str) -> dict:
    """What ``etl-project run`` printed: its summary (stdout) and, per Dagster run (one per ingest
    batch), the step durations and the core's progress lines (stderr)."""

    def number(pattern: str, text: str = stdout, cast=int):
        m = re.search(pattern, text)
        return cast(m.group(1)) if m else None

    per_run: list[dict] = []
    for block in re.split(r"(?m)^(?=etl-project run: batch )", stderr):
        head = BATCH_LINE.match(block)
        if not head:
            continue
        per_run.append(
            {
                "batch": head.group(1),
                "steps_s": step_seconds(block),
                "files": number(r"staging (\d+) file", block),
                "core_batches": number(r"in (\d+) batch\(es\)", block),
                "workers": number(r"on (\d+) process", block),
            }
        )
    return {
        "make_run_batches": number(r"(?m)^\s*batches\s+(\d+)"),
        "cli_time_taken_s": number(r"time taken\s+([0-9.]+)\s*s", cast=float),
        "transcripts_written": number(r"transcripts written\s+(\d+)"),
        "files_read": number(r"files read\s+(\d+)"),
        "per_run": per_run,
        "workers": max((r["workers"] or 0 for r in per_run), default=None) or None,
    }


def cold_breakdown(raw: Path, work: Path) -> dict:
    """What a cold ``make run`` pays: interpreter, imports (each in a fresh process), then the run itself."""
    probe = (
        "import time,sys,json;t=time.perf_counter();import {mod};"
        "print(json.dumps({{'s':time.perf_counter()-t,'ge':'great_expectations' in sys.modules,'n':len(sys.modules)}}))"
    )
    env = {**os.environ, "GX_ANALYTICS_ENABLED": "false"}
    out: dict[str, object] = {}
    rec = measured([PYTHON, "-c", "pass"])
    out["interpreter_start_s"] = rec["process_s"]
    for key, mod in (
        ("import_etl_project_definitions", "etl_project.definitions"),
        ("import_dagster", "dagster"),
        ("import_great_expectations", "great_expectations"),
        ("import_pandera_polars", "pandera.polars"),
        ("import_polars", "polars"),
    ):
        rec = measured([PYTHON, "-c", probe.format(mod=mod)], env=env)
        if rec["rc"] != 0:
            out[key] = {"error": rec["stderr_tail"][-300:]}
            continue
        info = json.loads(rec["stdout_tail"].strip().splitlines()[-1])
        out[key] = {"s": info["s"], "process_s": rec["process_s"], "peak_rss_mb": rec["peak_rss_mb"], "modules": info["n"]}
    home = work / "cold" / "dagster_home"
    home.mkdir(parents=True)
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env.update(ETL_RAW_DIR=str(raw), ETL_WAREHOUSE_DIR=str(work / "cold" / "warehouse"), DAGSTER_HOME=str(home))
    rec = measured([PYTHON, "-c", COLD_RUN], env=env)
    out["run_process_s"] = rec["process_s"]
    out["run_peak_rss_mb"] = rec["peak_rss_mb"]
    for line in rec["stdout_tail"].splitlines():
        if line.startswith("BENCH_COLD "):
            out.update(json.loads(line[len("BENCH_COLD "):]))
    out["steps_s"] = rec["steps_s"]
    if rec["rc"] != 0:
        out["error"] = rec["stderr_tail"][-1000:]
    shutil.rmtree(work / "cold", ignore_errors=True)
    return out


# ---------------------------------------------------------------- the plan


def median(values: list[float]) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def summarise(runs: list[dict], corpora: dict[int, dict]) -> dict:
    summary: dict[str, dict] = {}
    for n, info in corpora.items():
        per_n: dict[str, dict] = {}
        for kind in KINDS:
            rs = [r for r in runs if r["n"] == n and r["kind"] == kind and r["rc"] == 0]
            if not rs:
                continue
            input_bytes = rs[0]["input_bytes"]
            transcripts = rs[0]["transcripts"]
            wall = median([r["wall_s"] for r in rs])
            entry = {
                "runs": len(rs),
                "input": rs[0]["input"],
                "input_bytes": input_bytes,
                "transcripts": transcripts,
                "wall_s": wall,
                "wall_s_all": [round(r["wall_s"], 3) for r in rs],
                "process_s": median([r["process_s"] for r in rs]),
                "peak_rss_mb": max(r["peak_rss_mb"] for r in rs),
                "peak_one_process_mb": max(r.get("peak_rss_one_process_mb", 0) for r in rs),
                "peak_tree_rss_sum_mb": max(r.get("peak_tree_rss_sum_mb", 0) for r in rs),
                "mb_per_s": input_bytes / 1e6 / wall if wall else None,
                "transcripts_per_s": transcripts / wall if wall else None,
            }
            if kind in ("core", "core_sub"):
                stages = {}
                for stage in rs[0].get("stages_s", {}):
                    stages[stage] = median([r["stages_s"].get(stage) for r in rs])
                total = sum(stages.values())
                entry["stages_s"] = stages
                entry["stage_share"] = {k: v / total for k, v in stages.items()} if total else {}
                subs = {}
                for name in rs[0].get("substages_s", {}):
                    subs[name] = median([r.get("substages_s", {}).get(name) for r in rs])
                entry["substages_s"] = subs
                entry["substage_share"] = {k: v / total for k, v in subs.items()} if total else {}
                entry["substage_calls"] = rs[0].get("substage_calls", {})
                entry["memory_after_step"] = rs[0].get("memory_after_step", [])
                entry["batches"], entry["workers"] = rs[0].get("batches"), rs[0].get("workers")
                entry["wall_seconds"] = {k: median([r.get("wall_seconds", {}).get(k) for r in rs]) for k in rs[0].get("wall_seconds", {})}
            if kind == "dagster":
                entry["cli_time_taken_s"] = median([r.get("cli_time_taken_s") for r in rs])
                steps = {}
                for step in rs[0].get("steps_s", {}):
                    steps[step] = median([r.get("steps_s", {}).get(step) for r in rs])
                entry["steps_s"] = steps
                entry["outside_steps_s"] = entry["process_s"] - sum(v for v in steps.values() if v is not None) if steps else None
                entry["make_run_batches"] = rs[0].get("make_run_batches")
                entry["workers"] = rs[0].get("workers")
                entry["per_run"] = rs[0].get("per_run", [])
                entry["dagster_home_mb"] = max(r.get("dagster_home_mb") or 0 for r in rs)
                entry["dagster_storage_mb"] = max(r.get("dagster_storage_mb") or 0 for r in rs)
                entry["transcripts_written"] = rs[0].get("transcripts_written")
            per_n[kind] = entry
        if "naive" in per_n and per_n["naive"]["input"] != "full":
            nv = per_n["naive"]
            nv["scaled_wall_s"] = info["input_bytes"] / 1e6 / nv["mb_per_s"]
        summary[str(n)] = per_n
    return summary


def ratios(summary: dict) -> dict:
    out = {}
    for n, per in summary.items():
        r: dict[str, float | None] = {}
        core, naive, floor = per.get("core"), per.get("naive"), per.get("floor")
        if core and naive:
            r["core_vs_naive_speed"] = core["mb_per_s"] / naive["mb_per_s"]
            if "flag" in core.get("stage_share", {}):
                # stage seconds are work summed over the worker processes: take the flag stage's share of the wall
                no_flag = core["wall_s"] * (1 - core["stage_share"]["flag"])
                r["core_without_flag_vs_naive_speed"] = (core["input_bytes"] / 1e6 / no_flag) / naive["mb_per_s"] if no_flag > 0 else None
        if per.get("core_sub") and naive:
            r["core_vs_naive_speed_same_input"] = naive["wall_s"] / per["core_sub"]["wall_s"]
        if core and floor:
            r["core_vs_floor_time"] = core["wall_s"] / floor["wall_s"]
        make_run = per.get("dagster")
        if core and make_run:
            # like for like: both whole processes, cold (interpreter start and imports included)
            r["make_run_vs_core_time"] = make_run["process_s"] / core["process_s"]
            # stricter: make run's whole process against run_core's own time (imports excluded)
            r["make_run_vs_core_work_time"] = make_run["process_s"] / core["wall_s"]
            r["make_run_vs_core_memory"] = make_run["peak_rss_mb"] / core["peak_rss_mb"]
        if make_run and naive:
            # naive: its work time (imports excluded), scaled from its subsample when it ran on one
            r["make_run_vs_naive_speed"] = make_run["mb_per_s"] / naive["mb_per_s"]
        out[n] = r
    return out


def verdicts(summary: dict, ratio: dict, sizes: list[int]) -> list[dict]:
    big = str(50_000 if 50_000 in sizes else max(sizes))
    small = str(min(sizes))
    core = summary.get(big, {}).get("core", {})
    shares = core.get("stage_share", {})
    sub_shares = core.get("substage_share", {})
    dagster_small = summary.get(small, {}).get("dagster", {})
    make_run_big = summary.get(big, {}).get("dagster", {})
    out = []

    def verdict(target: str, value, ok, unit: str = "") -> None:
        out.append({"target": target, "value": value, "met": ok, "unit": unit})

    v = ratio.get(big, {}).get("core_vs_naive_speed")
    verdict(f"core >= {TARGETS['core_vs_naive_min']:.0f}x faster than naive at {int(big):,}", v, v is not None and v >= TARGETS["core_vs_naive_min"], "x")
    v = ratio.get(big, {}).get("core_vs_floor_time")
    verdict(f"core within {TARGETS['core_vs_floor_max']:.0f}x of the floor at {int(big):,}", v, v is not None and v <= TARGETS["core_vs_floor_max"], "x")
    v = core.get("peak_rss_mb")
    verdict(f"core peak RSS at {int(big):,} < 1.5 GB", v, v is not None and v * 2**20 < TARGETS["core_peak_rss_max_bytes"], "MiB")
    v = dagster_small.get("wall_s")
    verdict(f"make run (etl-project run) on {int(small):,} < {TARGETS['make_run_small_max_s']:.0f} s", v, v is not None and v < TARGETS["make_run_small_max_s"], "s")
    v = ratio.get(big, {}).get("make_run_vs_core_time")
    verdict(f"make run within {TARGETS['make_run_vs_core_max']:.1f}x of the core alone at {int(big):,} (whole processes)", v, v is not None and v <= TARGETS["make_run_vs_core_max"], "x")
    v = ratio.get(big, {}).get("make_run_vs_naive_speed")
    verdict(f"make run >= {TARGETS['make_run_vs_naive_min']:.0f}x faster than naive at {int(big):,}", v, v is not None and v >= TARGETS["make_run_vs_naive_min"], "x")
    v = make_run_big.get("peak_rss_mb")
    verdict(f"make run whole process tree at {int(big):,} < 1.5 GB ({1.5e9 / 2**20:,.0f} MiB)", v, v is not None and v * 2**20 < TARGETS["make_run_peak_rss_max_bytes"], "MiB")
    if 500_000 in sizes:
        large = summary.get("500000", {}).get("dagster", {})
        v = large.get("peak_rss_mb")
        verdict(f"make run completes at 500,000, whole process tree < 4 GB ({4e9 / 2**20:,.0f} MiB)", v, v is not None and v * 2**20 < TARGETS["make_run_large_peak_rss_max_bytes"], "MiB")
    v = shares.get("flag")
    verdict(f"theme flagging < 25% of core time at {int(big):,}", v, v is not None and v < TARGETS["stage_share_max"], "share")
    v = (shares.get("validate", 0) + shares.get("write_validate", 0)) if "validate" in shares else sub_shares.get("pandera_validate")
    verdict(f"validation (pandera) < 25% of core time at {int(big):,}", v, v is not None and v < TARGETS["stage_share_max"], "share")
    return out


def release_csvs_pass(n: int, seed: int, out: Path, runner: "Runner", naive_every: int, log) -> tuple[dict, bool]:
    """``make run``, the core and the naive script once each on ``n`` transcripts stored as the release
    stores them: CSVs of 10,000 rows (about 90 MB each), what a new user downloads. Big files take
    another way through the core than many small ones (a file is never split across core batches)."""
    from bench.compare import compare_tables

    corpus = gen.generate(n, seed, out=out, shape="release_csvs")
    info = gen.manifest(corpus)
    inputs = {"full": corpus}
    if naive_every:
        sub = gen.subsample(corpus, naive_every)
        inputs["sub"] = sub
        sub_info = gen.manifest(sub)
        info.update(naive_every=naive_every, naive_transcripts=sub_info["transcripts"], naive_bytes=sub_info["input_bytes"])
    log(f"release CSVs at {n:,}: {info['input_bytes'] / 1e6:,.1f} MB in {info['csv_files']} CSV files")
    runs = []
    for kind in ("dagster", "core", "naive"):
        source = inputs.get("sub", corpus) if kind == "naive" else corpus
        label = f"n{n}-release-{kind}"
        keep_as = label if kind in ("core", "dagster") else None
        log(f"run 1/1 {kind} at {n:,} as release CSVs ({'subsample' if source != corpus else 'full'})")
        rec = runner.dagster(source / "raw", label, keep_as) if kind == "dagster" else runner.worker(kind, source / "raw", label, keep_as)
        m = gen.manifest(source)
        rec.update(n=n, kind=kind, rep=0, release_csvs=True, input="full" if source == corpus else f"1 in {naive_every} subsample", input_bytes=m["input_bytes"], transcripts=m["transcripts"])
        runs.append(rec)
        if rec["rc"] != 0:
            log(f"FAILED: {kind} at {n:,} as release CSVs exited {rec['rc']}:\n{rec['stderr_tail']}")
        else:
            log(f"  {rec['wall_s']:.2f} s, peak memory (tree) {rec['peak_rss_mb']:,.0f} MiB")
    kept = runner.keep
    same = None
    if (kept / f"n{n}-release-core").is_dir() and (kept / f"n{n}-release-dagster").is_dir():
        same = compare_tables(kept / f"n{n}-release-core", kept / f"n{n}-release-dagster")
        log(f"compare make run vs core tables at {n:,} as release CSVs: {'ok' if same.ok else 'FAILED'}")
        for line in same.failures():
            log(f"  {line}")
    for kind in ("core", "dagster"):
        shutil.rmtree(kept / f"n{n}-release-{kind}", ignore_errors=True)
    summary = summarise(runs, {n: info})
    ok = all(r["rc"] == 0 for r in runs) and same is not None and same.ok
    comparison = same.to_dict() if same is not None else {"ok": False, "checks": {"outputs": {"ok": False, "detail": "core or make run produced no warehouse"}}}
    return {"n": n, "corpus": info, "summary": summary[str(n)], "ratios": ratios(summary)[str(n)], "make_run_comparison": comparison, "runs": runs}, ok


def release_verdicts(release: dict | None) -> list[dict]:
    """The 50,000 targets of ``make run`` again, on the release's own layout."""
    if not release:
        return []
    n, make_run, ratio = release["n"], release["summary"].get("dagster", {}), release["ratios"]
    out = []
    v = make_run.get("peak_rss_mb")
    out.append({"target": f"make run whole process tree at {n:,} as release CSVs < 1.5 GB", "value": v, "met": v is not None and v * 2**20 < TARGETS["make_run_peak_rss_max_bytes"], "unit": "MiB"})
    v = ratio.get("make_run_vs_core_time")
    out.append({"target": f"make run within {TARGETS['make_run_vs_core_max']:.1f}x of the core alone at {n:,} as release CSVs", "value": v, "met": v is not None and v <= TARGETS["make_run_vs_core_max"], "unit": "x"})
    v = ratio.get("make_run_vs_naive_speed")
    out.append({"target": f"make run >= {TARGETS['make_run_vs_naive_min']:.0f}x faster than naive at {n:,} as release CSVs", "value": v, "met": v is not None and v >= TARGETS["make_run_vs_naive_min"], "unit": "x"})
    return out


# ---------------------------------------------------------------- report


def _fmt(v, digits: int = 1) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:,.{digits}f}"
    return f"{v:,}"


def render(results: dict) -> str:
    m = results["machine"]
    lines = [
        MARK_START,
        "<!-- generated by `make bench` (bench/run.py); edits inside this block are overwritten -->",
        "",
        f"**Run** {m['date']} · {m['cores']} cores · {m['ram_gib']} GiB RAM · {m['cpu']} · Python {m['python']} · "
        + ", ".join(f"{k} {v}" for k, v in m["libraries"].items() if v)
        + f" · load average at start {m['load_average_start'][0]:.2f}, at end {m.get('load_average_end', [0])[0]:.2f}"
        + f" · total {results['total_s'] / 60:.1f} min",
        "",
        "`wall s` is the work itself for floor, core and naive (imports excluded) and the whole process for `make run`; "
        "`process s` is the whole process for every kind. Peak memory is of the whole process tree (worker processes included).",
        "",
        "| N | run | input | runs | wall s (median) | process s (median) | MB/s | transcripts/s | peak memory MiB | largest process MiB | tree RSS sum MiB |",
        "|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for n, per in results["summary"].items():
        for kind in KINDS:
            e = per.get(kind)
            if not e:
                continue
            wall = _fmt(e["wall_s"], 2)
            if e.get("scaled_wall_s"):
                wall += f" (scaled to full: {e['scaled_wall_s']:,.0f})"
            lines.append(
                f"| {int(n):,} | {LABELS.get(kind, kind)} | {e['input']} ({e['input_bytes'] / 1e6:,.1f} MB, {e['transcripts']:,} transcripts) | {e['runs']} | {wall} | "
                f"{_fmt(e.get('process_s'), 2)} | {_fmt(e['mb_per_s'], 2)} | {_fmt(e['transcripts_per_s'], 0)} | {_fmt(e['peak_rss_mb'], 0)} | "
                f"{_fmt(e.get('peak_one_process_mb'), 0)} | {_fmt(e.get('peak_tree_rss_sum_mb'), 0)} |"
            )
    lines += [
        "",
        "Ratios (from the medians of the same invocation; make run / core compares whole processes, the stricter figure beside it "
        "is make run's whole process over `run_core`'s own time):",
        "",
        "| N | core vs naive (speed) | same input (subsample) | core without flagging vs naive | core / floor (time) | make run / core (time) | make run / core work (time) | make run / core (memory) | make run vs naive (speed) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for n, r in results["ratios"].items():
        lines.append(
            f"| {int(n):,} | {_fmt(r.get('core_vs_naive_speed'), 2)}× | {_fmt(r.get('core_vs_naive_speed_same_input'), 2)}× | "
            f"{_fmt(r.get('core_without_flag_vs_naive_speed'), 2)}× | {_fmt(r.get('core_vs_floor_time'), 1)}× | {_fmt(r.get('make_run_vs_core_time'), 2)}× | "
            f"{_fmt(r.get('make_run_vs_core_work_time'), 2)}× | {_fmt(r.get('make_run_vs_core_memory'), 2)}× | {_fmt(r.get('make_run_vs_naive_speed'), 2)}× |"
        )
    made = [(n, per["dagster"]) for n, per in results["summary"].items() if per.get("dagster")]
    if made:
        lines += ["", "`make run` (etl-project run; one Dagster run per ingest batch; step seconds from its progress lines, summed over its runs):", ""]
        for n, e in made:
            steps = " · ".join(f"{k} {v:,.2f} s" for k, v in (e.get("steps_s") or {}).items() if v is not None)
            runs = e.get("per_run") or []
            files = ", ".join(f"{r.get('files') or 0:,}" for r in runs)
            lines.append(
                f"- **{int(n):,}**: {_fmt(e.get('make_run_batches'))} batch(es) = Dagster runs (files per batch: {files or '–'}), "
                f"core on {_fmt(e.get('workers'))} process(es); whole process {_fmt(e.get('process_s'), 2)} s = steps {steps or '–'} "
                f"+ outside the steps (interpreter, imports, planning, Dagster run set-up) {_fmt(e.get('outside_steps_s'), 2)} s; "
                f"CLI's own time {_fmt(e.get('cli_time_taken_s'), 1)} s; `DAGSTER_HOME` after the run {_fmt(e.get('dagster_home_mb'), 1)} MiB"
            )
            if len(runs) > 1:
                lines.append(
                    "  - per run: "
                    + " · ".join(
                        f"{i}: " + ", ".join(f"{k} {v:.1f} s" for k, v in r.get("steps_s", {}).items())
                        for i, r in enumerate(runs, 1)
                    )
                )
    release = results.get("release_csvs")
    if release:
        info, per, r = release["corpus"], release["summary"], release["ratios"]
        lines += [
            "",
            f"**{release['n']:,} as release CSVs** (the same generator, every transcript in CSVs of {info['csv_rows_per_file']:,} rows: "
            f"{info['csv_files']} files, {info['input_bytes'] / 1e6:,.1f} MB; one run of each kind, after the runs above):",
            "",
            "| run | input | wall s | process s | MB/s | peak memory MiB | largest process MiB |",
            "|---|---|---:|---:|---:|---:|---:|",
        ]
        for kind in ("dagster", "core", "naive"):
            e = per.get(kind)
            if e:
                wall = _fmt(e["wall_s"], 2) + (f" (scaled to full: {e['scaled_wall_s']:,.0f})" if e.get("scaled_wall_s") else "")
                lines.append(f"| {LABELS.get(kind, kind)} | {e['input']} | {wall} | {_fmt(e.get('process_s'), 2)} | {_fmt(e['mb_per_s'], 2)} | {_fmt(e['peak_rss_mb'], 0)} | {_fmt(e.get('peak_one_process_mb'), 0)} |")
        c = release["make_run_comparison"]
        lines += [
            "",
            f"make run / core (time) {_fmt(r.get('make_run_vs_core_time'), 2)}× · make run / core work {_fmt(r.get('make_run_vs_core_work_time'), 2)}× · "
            f"core vs naive {_fmt(r.get('core_vs_naive_speed'), 2)}× · make run vs naive {_fmt(r.get('make_run_vs_naive_speed'), 2)}× · "
            f"make run's tables equal the core's: {'yes' if c['ok'] else '**NO**'}",
        ]
    lines += ["", "Core stages (median seconds and share of the core's time; sub-stages are timed by wrappers in bench/worker.py):", ""]
    for n, per in results["summary"].items():
        core = per.get("core")
        if not core:
            continue
        stages = " · ".join(f"{k} {v:,.2f} s ({core['stage_share'][k]:.0%})" for k, v in core["stages_s"].items())
        subs = " · ".join(
            f"{k} {v:,.2f} s ({core['substage_share'][k]:.0%}, {core['substage_calls'].get(k, 0):,} calls)" for k, v in core["substages_s"].items() if v is not None
        )
        lines.append(f"- **{int(n):,}**: {stages}")
        if core.get("wall_seconds"):
            passes = " · ".join(f"{k} {v:,.2f} s" for k, v in core["wall_seconds"].items() if v is not None)
            lines.append(f"  - {core.get('batches')} batches on {core.get('workers')} worker process(es); stage seconds are summed over batches (work), the passes' wall time: {passes}")
        lines.append(f"  - inside: {subs}")
        memory = core.get("memory_after_step") or []
        if memory:
            highest: dict[str, tuple[int, int]] = {}  # step -> (calls, highest RSS after it)
            for m in memory:
                calls, rss = highest.get(m["step"], (0, 0))
                highest[m["step"]] = (calls + 1, max(rss, m["rss_mb"]))
            lines.append(
                "  - in the calling process, highest RSS after each step (MiB; calls): "
                + " · ".join(f"{step} {rss:,} ({calls:,})" for step, (calls, rss) in highest.items())
                + f"; its peak {max(m['peak_rss_mb'] for m in memory):,}"
            )
    cold = results.get("cold")
    if cold:
        d = cold.get("import_etl_project_definitions", {})
        ge = cold.get("import_great_expectations", {})
        dg_ = cold.get("import_dagster", {})
        n_small = cold.get("n", min(results["sizes"]))
        core_small = results["summary"].get(str(n_small), {}).get("core", {}).get("wall_s")
        steps = cold.get("steps_s") or {}
        lines += [
            "",
            f"Cold `make run` at {n_small:,} (fresh process, `DAGSTER_HOME` and warehouse): whole process {_fmt(cold.get('run_process_s'), 2)} s = "
            f"interpreter start {cold['interpreter_start_s']:.2f} s + `import etl_project.definitions` {_fmt(cold.get('definitions_import_s'), 2)} s "
            f"(fresh-process probe: {_fmt(d.get('s'), 2)} s) + the run {_fmt(cold.get('run_s'), 2)} s; the core alone takes {_fmt(core_small, 2)} s on the same files. "
            f"great_expectations imported by the definitions: {'yes' if cold.get('ge_at_import') else 'no'}; during the run: {'yes' if cold.get('ge_after_run') else 'no'} "
            f"(`import great_expectations` alone: {_fmt(ge.get('s'), 2)} s; `import dagster` alone: {_fmt(dg_.get('s'), 2)} s).",
        ]
        if steps:
            lines.append("Steps of that run (CLI progress lines): " + " · ".join(f"{k} {v:.1f} s" for k, v in steps.items()) + ".")
    lines += ["", "Targets:", "", "| target | measured | met |", "|---|---:|---|"]
    for v in results["targets"]:
        value = v["value"]
        shown = "–" if value is None else (f"{value:.0%}" if v["unit"] == "share" else f"{value:,.2f} {v['unit']}".strip())
        lines.append(f"| {v['target']} | {shown} | {'yes' if v['met'] else '**no**'} |")
    lines += ["", "Core vs naive output comparison (first repetition):", ""]
    for n, c in results["comparisons"].items():
        lines.append(f"- **{int(n):,}**: {'passed' if c['ok'] else '**FAILED**'}")
        for name, chk in c["checks"].items():
            lines.append(f"  - {name}: {'ok' if chk['ok'] else '**FAILED**'} — {chk['detail']}")
    if results.get("make_run_comparisons"):
        lines += ["", "`make run` vs core warehouse tables (first repetition):", ""]
        for n, c in results["make_run_comparisons"].items():
            lines.append(f"- **{int(n):,}**: {'passed' if c['ok'] else '**FAILED**'}")
            for name, chk in c["checks"].items():
                lines.append(f"  - {name}: {'ok' if chk['ok'] else '**FAILED**'} — {chk['detail']}")
    corp = results["corpora"]
    lines += ["", "Corpora:", ""]
    for n, info in corp.items():
        lines.append(
            f"- **{int(n):,}** (seed {info['seed']}): {info['input_bytes'] / 1e6:,.1f} MB in {info['files']:,} files "
            f"({info['md_files']:,} .md, {info['csv_files']:,} CSV); {info['damaged_transcripts']:,} transcripts with mojibake on "
            f"{info['damaged_lines']:,} lines ({', '.join(f'{k} {v:,}' for k, v in info['damage_kinds'].items())}); "
            f"{info['nonlatin_transcripts']:,} with non-Latin/emoji sentences, {info['curly_transcripts']:,} with curly quotes, "
            f"{info['crlf_transcripts']:,} with CRLF; generated in {info.get('generate_seconds', 0):,.1f} s"
            + (f"; naive subsample 1 in {info['naive_every']}: {info['naive_transcripts']:,} transcripts, {info['naive_bytes'] / 1e6:,.1f} MB" if info.get("naive_every") else "")
        )
    lines += ["", MARK_END]
    return "\n".join(lines)


def write_report(results: dict, path: Path = REPORT) -> None:
    block = render(results)
    if path.is_file():
        text = path.read_text()
        if MARK_START in text and MARK_END in text:
            head, rest = text.split(MARK_START, 1)
            _, tail = rest.split(MARK_END, 1)
            path.write_text(head + block + tail)
            return
        path.write_text(text.rstrip() + "\n\n## Results\n\n" + block + "\n")
        return
    path.write_text("# Benchmarks\n\nSee bench/run.py.\n\n## Results\n\n" + block + "\n")


# ---------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Benchmark `make run` (etl-project run) and the etl_project core against a naive script and an I/O floor.")
    parser.add_argument("--sizes", default="1250,50000", help="comma-separated corpus sizes (default 1250,50000)")
    parser.add_argument("--large", action="store_true", default=os.environ.get("BENCH_LARGE") == "1", help="add the 500,000-transcript corpus (~4.6 GB); also BENCH_LARGE=1")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=3, help="runs of each kind per size, interleaved (median reported)")
    parser.add_argument("--budget-min", type=float, default=20.0, help="repetitions after the first run only while the projected total stays within this")
    parser.add_argument("--naive-full-max", type=int, default=5_000, help="larger corpora run the naive script on a subsample")
    parser.add_argument("--naive-every", type=int, default=0, help="the subsample: 1 in this many transcripts (default: about --naive-sample transcripts)")
    parser.add_argument("--naive-sample", type=int, default=5_000, help="subsample size aimed at when --naive-every is not given")
    parser.add_argument("--dagster-max", type=int, default=0, help="no `make run` (dagster) run above this size (default 0: no cap, it runs at every size)")
    parser.add_argument("--skip", default="", help="comma-separated kinds not to run (floor,core,naive,core_sub,dagster; cold: the cold-start breakdown; release: the release-CSV pass)")
    parser.add_argument("--release-csvs", type=int, default=None, help="also run make run, the core and the naive script once on this many transcripts stored as the release stores them (CSVs of 10,000 rows); default 50,000 when it is among the sizes, else the largest size up to it; 0: no such pass")
    parser.add_argument("--out", type=Path, default=gen.DEFAULT_OUT)
    parser.add_argument("--report", type=Path, default=REPORT, help="Markdown file whose generated block is replaced ('-' for none)")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    sizes = sorted({int(s) for s in args.sizes.split(",") if s.strip()} | ({500_000} if args.large else set()))
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    work = out / "runs"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    runner = Runner(work / "tmp", work / "kept")
    results: dict = {"machine": machine(), "sizes": sizes, "seed": args.seed, "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}, "targets_defined": TARGETS}
    log = lambda msg: print(f"[bench {time.perf_counter() - started:7.1f}s] {msg}", file=sys.stderr, flush=True)  # noqa: E731

    # corpora
    corpora: dict[int, dict] = {}
    inputs: dict[int, dict[str, Path]] = {}
    pool = None
    for n in sizes:
        target = gen.corpus_dir(n, args.seed, out)
        if not (target / "manifest.json").is_file() and pool is None:
            pool = gen.load_pool()
        corpus = gen.generate(n, args.seed, out=out, pool=pool)
        info = gen.manifest(corpus)
        inputs[n] = {"full": corpus}
        if n > args.naive_full_max:
            every = args.naive_every or max(2, -(-n // args.naive_sample))
            sub = gen.subsample(corpus, every)
            sub_info = gen.manifest(sub)
            inputs[n]["sub"] = sub
            info.update(naive_every=every, naive_transcripts=sub_info["transcripts"], naive_bytes=sub_info["input_bytes"])
        corpora[n] = info
        log(f"corpus {n:,}: {info['input_bytes'] / 1e6:,.1f} MB, {info['files']:,} files")
    results["corpora"] = {str(n): v for n, v in corpora.items()}

    if not {"dagster", "cold"} & skip:
        small = min(n for n in sizes)
        log(f"cold-start breakdown at {small:,}")
        results["cold"] = cold_breakdown(inputs[small]["full"] / "raw", work)
        results["cold"]["n"] = small

    def plan_for(n: int) -> list[str]:
        kinds = [k for k in KINDS if k not in skip]
        if "sub" not in inputs[n]:
            kinds = [k for k in kinds if k != "core_sub"]
        if args.dagster_max and n > args.dagster_max:
            kinds = [k for k in kinds if k != "dagster"]
        return kinds

    runs: list[dict] = []
    comparisons: dict[str, dict] = {}
    make_run_comparisons: dict[str, dict] = {}
    estimate: dict[tuple[int, str], float] = {}
    failed = False
    budget = args.budget_min * 60
    for n in sizes:
        for rep in range(args.repeats):
            kinds = plan_for(n)
            if rep % 2:
                kinds = kinds[::-1]
            for kind in kinds:
                key = (n, kind)
                if rep > 0:
                    remaining = budget - (time.perf_counter() - started)
                    if estimate.get(key, 0) * 1.1 > remaining:
                        log(f"skip repetition {rep + 1} of {kind} at {n:,}: ~{estimate[key]:.0f} s would exceed the {args.budget_min:g} min budget")
                        continue
                corpus = inputs[n].get("sub", inputs[n]["full"]) if kind in ("naive", "core_sub") else inputs[n]["full"]
                raw = corpus / "raw"
                label = f"n{n}-{kind}-r{rep}"
                keep_as = f"n{n}-{kind}" if rep == 0 and kind in ("core", "naive", "dagster") else None
                log(f"run {rep + 1}/{args.repeats} {kind} at {n:,} ({'subsample' if corpus != inputs[n]['full'] else 'full'})")
                if kind == "dagster":
                    rec = runner.dagster(raw, label, keep_as)
                else:
                    rec = runner.worker("core" if kind == "core_sub" else kind, raw, label, keep_as)
                m = gen.manifest(corpus)
                rec.update(n=n, kind=kind, rep=rep, input="full" if corpus == inputs[n]["full"] else f"1 in {corpora[n]['naive_every']} subsample", input_bytes=m["input_bytes"], transcripts=m["transcripts"])
                estimate[key] = rec["process_s"]
                runs.append(rec)
                if rec["rc"] != 0:
                    failed = True
                    log(f"FAILED: {kind} at {n:,} exited {rec['rc']}:\n{rec['stderr_tail']}")
                else:
                    extra = f", {rec['make_run_batches']} batch(es) = Dagster runs" if kind == "dagster" else ""
                    log(f"  {rec['wall_s']:.2f} s, peak memory (tree) {rec['peak_rss_mb']:,.0f} MiB{extra}")
            kept = runner.keep
            def gate(other: str, what: str, missing: str, store: dict, check) -> bool:
                """Compare the core's output with ``other``'s at this size; record, log; False when it fails."""
                if not ((kept / f"n{n}-core").is_dir() and (kept / f"n{n}-{other}").is_dir()):
                    store[str(n)] = {"ok": False, "checks": {"outputs": {"ok": False, "detail": missing}}, "info": {}}
                    return False
                c = check(kept / f"n{n}-core", kept / f"n{n}-{other}")
                store[str(n)] = c.to_dict()
                log(f"compare {what} at {n:,}: {'ok' if c.ok else 'FAILED'}")
                for line in c.failures():
                    log(f"  {line}")
                return c.ok

            if rep == 0 and {"core", "dagster"} <= set(plan_for(n)):
                from bench.compare import compare_tables

                failed = not gate("dagster", "make run vs core tables", "core or make run produced no warehouse", make_run_comparisons, compare_tables) or failed
                shutil.rmtree(kept / f"n{n}-dagster", ignore_errors=True)
            if rep == 0 and {"core", "naive"} <= set(plan_for(n)):
                from bench.compare import compare

                naive_truth = (inputs[n].get("sub") or inputs[n]["full"]) / "truth.parquet"
                full_truth = inputs[n]["full"] / "truth.parquet"
                failed = not gate("naive", "core vs naive", "core or naive produced no output", comparisons, lambda core, naive: compare(core, naive, naive_truth, full_truth)) or failed
            if rep == 0:
                shutil.rmtree(kept / f"n{n}-core", ignore_errors=True)
                shutil.rmtree(kept / f"n{n}-naive", ignore_errors=True)
                shutil.rmtree(kept / f"n{n}-dagster", ignore_errors=True)

    release_n = args.release_csvs if args.release_csvs is not None else max((n for n in sizes if n <= 50_000), default=0)
    if release_n and "release" not in skip:
        every = (args.naive_every or max(2, -(-release_n // args.naive_sample))) if release_n > args.naive_full_max else 0
        results["release_csvs"], ok = release_csvs_pass(release_n, args.seed, out, runner, every, log)
        runs += results["release_csvs"].pop("runs")
        failed = failed or not ok

    results["runs"] = [{k: v for k, v in r.items() if k not in ("stdout_tail",) and not (k == "stderr_tail" and r["rc"] == 0)} for r in runs]
    results["summary"] = summarise([r for r in runs if not r.get("release_csvs")], corpora)
    results["ratios"] = ratios(results["summary"])
    results["targets"] = verdicts(results["summary"], results["ratios"], sizes) + release_verdicts(results.get("release_csvs"))
    results["comparisons"] = comparisons
    results["make_run_comparisons"] = make_run_comparisons
    results["machine"]["load_average_end"] = list(os.getloadavg())
    results["total_s"] = time.perf_counter() - started
    results["ok"] = not failed
    (out / "results.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    if str(args.report) != "-":
        write_report(results, Path(args.report))
    shutil.rmtree(work, ignore_errors=True)
    print(render(results).replace(MARK_START, "").replace(MARK_END, "").strip())
    log(f"results: {out / 'results.json'}" + ("" if str(args.report) == "-" else f"; report: {args.report}"))
    if failed:
        log("FAILED: a run failed, the core and naive outputs differ beyond the intended differences, or make run's tables differ from the core's (see above)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""One run worker against two: a backfill of the same batches on the `cluster` profile, on this machine.

    .venv/bin/python -m bench.cluster_speedup 20000 --batches 4 --repeats 2

For each trial: fresh services on 127.0.0.1 (PostgreSQL, Redis, moto's S3; see
etl_project_tests/cluster_services.py), the Dagster daemon (run queue, run monitor)
and 1 or 2 ``dagster-celery`` run workers (one run at a time each), the corpus of
:mod:`bench.generate` claimed as ``--batches`` batches and backfilled with
``dagster job backfill`` (one queued run per batch; the daemon's CeleryRunLauncher
sends each whole run to a free worker). The wall time is from the backfill command
to the end of the last run. Trials are interleaved (1, 2, 2, 1, ...), each in a
fresh process (moto's objects live in process-global state), after one read of the
corpus to warm the page cache. Also reported per trial: each run's worker and
duration, how many pairs of runs overlapped in time, the seconds the runs' publish
phases (under the write lock) took, and the rows landed. Results go to
``bench/out/cluster_speedup.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import generate as gen

PROJECT_ROOT = Path(__file__).resolve().parent.parent
OUT = PROJECT_ROOT / "bench" / "out" / "cluster_speedup.json"
AWS = ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_EC2_METADATA_DISABLED")
CELERY = ("ETL_CELERY_BROKER_URL", "ETL_CELERY_BACKEND_URL")


def trial(raw: Path, workers: int, batches: int, root: Path) -> dict:
    import dagster as dg
    import polars as pl

    from etl_project.lib.batches import claim, scan
    from etl_project.lib.warehouse import Warehouse
    from etl_project_tests import cluster_services as cs

    with cs.cluster_services(root) as services:
        warehouse = f"s3://{services.bucket}/warehouse"
        env = services.env(warehouse, raw)
        os.environ.update({k: env[k] for k in (*AWS, *CELERY, "ETL_WAREHOUSE_LOCK_URL")})
        for i in range(workers):
            cs.start_worker(services, env, f"w{i + 1}")
        cs.start_daemon(services, {**env, "ETL_RAW_DIR": str(root / "no-raw-folder-for-the-sensor")})  # the sensor stays idle
        listing = scan(raw).with_row_index("i")
        keys = []
        for b in range(batches):
            group = listing.filter(pl.col("i") % batches == b).drop("i")
            keys += claim(Warehouse(warehouse), group, max_files=10**9, max_bytes=10**15)
        instance = services.instance()
        instance.add_dynamic_partitions("ingest_batches", keys)
        started = time.time()
        code = cs.dagster_backfill(services, env, keys, log_name="backfill").wait(timeout=600)
        if code != 0:
            raise RuntimeError((services.root / "backfill.log").read_text(errors="replace")[-3000:])
        runs = cs.wait_for_runs(services, keys, 3600)
        facts = [cs.run_facts(instance, found[0].run_id) for found in runs.values()]
        wall = max(f["end"] for f in facts) - started
        publish = []
        for found in runs.values():
            for record in instance.all_logs(found[0].run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION):
                meta = record.dagster_event.event_specific_data.materialization.metadata
                if "seconds_by_stage" in meta:
                    publish.append(meta["seconds_by_stage"].value)
        failures = {}
        for key, found in runs.items():
            if found[0].status != dg.DagsterRunStatus.SUCCESS:
                events = instance.all_logs(found[0].run_id, of_type={dg.DagsterEventType.STEP_FAILURE, dg.DagsterEventType.RUN_FAILURE})
                failures[key] = [_why(e.dagster_event) for e in events] or [found[0].status.value]
        overlaps = sum(1 for i, a in enumerate(facts) for b in facts[i + 1:] if a["start"] < b["end"] and b["start"] < a["end"])
        instance.dispose()
        transcripts = Warehouse(warehouse).read("transcripts", columns=["transcript_id"])
        return {
            "workers": workers,
            "batches": batches,
            "wall_s": round(wall, 1),
            "runs_ok": sum(f["status"].value == "SUCCESS" for f in facts),
            "failures": failures,
            "runs": [{"worker": f["worker"], "seconds": round(f["end"] - f["start"], 1), "start_s": round(f["start"] - started, 1)} for f in facts],
            "run_seconds_sum": round(sum(f["end"] - f["start"] for f in facts), 1),
            "overlapping_run_pairs": overlaps,
            "stage_seconds": publish,
            "transcripts_landed": 0 if transcripts is None else transcripts.height,
            "unique_ids": 0 if transcripts is None else transcripts.n_unique(),
        }


def _why(event) -> str:
    error = getattr(event.event_specific_data, "error", None)
    return ((error.message if error is not None else event.message) or "")[:800]


def run_trial_process(raw: Path, workers: int, batches: int, root: Path) -> dict:
    """One trial in a fresh process: moto keeps its objects in process-global state, so a second server
    in the same process would still hold the previous trial's warehouse (and every file would be
    skipped as already ingested)."""
    spec = json.dumps({"raw": str(raw), "workers": workers, "batches": batches, "root": str(root)})
    done = subprocess.run([sys.executable, "-m", "bench.cluster_speedup", "--trial", spec], capture_output=True, text=True, timeout=3600)
    lines = [line for line in done.stdout.splitlines() if line.startswith("TRIAL ")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"trial failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return json.loads(lines[-1][len("TRIAL "):])


def warm_page_cache(raw: Path) -> float:
    """Read every raw file once, so that no trial pays for the cold disk (the first trial did)."""
    total = 0
    for path in raw.rglob("*"):
        if path.is_file():
            total += len(path.read_bytes())
    return total / 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("n", type=int, nargs="?", default=20_000, help="transcripts in the synthetic corpus")
    parser.add_argument("--batches", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=2, help="trials of each worker count (interleaved)")
    parser.add_argument("--keep", action="store_true", help="keep the trials' folders (logs) and print where")
    parser.add_argument("--trial", help=argparse.SUPPRESS)  # internal: run one trial in this process
    args = parser.parse_args(argv)
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    if args.trial:
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the services on the way out
        spec = json.loads(args.trial)
        result = trial(Path(spec["raw"]), spec["workers"], spec["batches"], Path(spec["root"]))
        print("TRIAL " + json.dumps(result), flush=True)
        return 0
    raw = gen.generate(args.n) / "raw"
    print(f"page cache warmed with {warm_page_cache(raw):.0f} MB", flush=True)
    plan = [w for r in range(args.repeats) for w in ((1, 2) if r % 2 == 0 else (2, 1))]
    trials = []
    scratch = Path(tempfile.mkdtemp(prefix="etl-cluster-bench-"))
    try:
        for i, workers in enumerate(plan):
            result = run_trial_process(raw, workers, args.batches, scratch / f"t{i}")
            trials.append(result)
            print(json.dumps(result), flush=True)
    finally:
        if args.keep:
            print(f"trial folders kept in {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)
    one = [t["wall_s"] for t in trials if t["workers"] == 1]
    two = [t["wall_s"] for t in trials if t["workers"] == 2]
    summary = {
        "n": args.n,
        "batches": args.batches,
        "cpus": os.cpu_count(),
        "load_avg_at_end": os.getloadavg(),
        "machine": platform.platform(),
        "one_worker_wall_s": one,
        "two_workers_wall_s": two,
        "speedup_median": round(statistics.median(one) / statistics.median(two), 2) if one and two else None,
        "trials": trials,
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(summary, indent=2))
    print(json.dumps({k: v for k, v in summary.items() if k != "trials"}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

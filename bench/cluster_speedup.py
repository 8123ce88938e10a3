"""Two Celery workers against one: the `cluster` profile on a synthetic corpus, on this machine.

    .venv/bin/python -m bench.cluster_speedup 50000 --batches 4 --repeats 2 --no-pool

For each trial: fresh services on 127.0.0.1 (PostgreSQL, Redis, moto's S3;
see etl_project_tests/cluster_services.py), 1 or 2 ``dagster-celery`` workers
(one step at a time each), the corpus of :mod:`bench.generate` claimed as
``--batches`` batches, one ``dagster job execute`` per batch, all launched at
once; the wall time is from the launch to the last run's end. Trials are
interleaved (1, 2, 2, 1, ...), each in a fresh process (moto's objects live in
process-global state), after one read of the corpus to warm the page cache.
Also reported per trial: the busy time of each
worker (sum of its steps), the writer steps' overlap (must be none with the
pool), and the rows landed. ``--no-pool`` adds a 2-worker trial without the
pool limit, to show what the pool prevents. Results go to
``bench/out/cluster_speedup.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import generate as gen

PROJECT_ROOT = Path(__file__).resolve().parent.parent
OUT = PROJECT_ROOT / "bench" / "out" / "cluster_speedup.json"
WRITERS = ("transcripts", "turns", "theme_flags", "quarantine")
AWS = ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_EC2_METADATA_DISABLED")


def trial(raw: Path, workers: int, batches: int, root: Path, *, pool: bool = True, lock: bool = True) -> dict:
    import dagster as dg
    import polars as pl

    from etl_project.lib.batches import claim, scan
    from etl_project.lib.warehouse import Warehouse
    from etl_project_tests import cluster_services as cs

    with cs.cluster_services(root) as services:
        if not pool:  # lift the limit (what `dagster instance concurrency set warehouse_writes 100` does)
            instance = services.instance()
            instance.event_log_storage.set_concurrency_slots(cs.WAREHOUSE_WRITES_POOL, 100)
            instance.dispose()
        warehouse = f"s3://{services.bucket}/warehouse"
        env = services.env(warehouse, raw)
        if not lock:
            env.pop("ETL_WAREHOUSE_LOCK_URL")
        os.environ.update({k: env[k] for k in AWS})
        for i in range(workers):
            cs.start_worker(services, env, f"w{i + 1}")
        listing = scan(raw).with_row_index("i")
        keys = []
        instance = services.instance()
        for b in range(batches):
            group = listing.filter(pl.col("i") % batches == b).drop("i")
            keys.append(claim(Warehouse(warehouse), group))
        instance.add_dynamic_partitions("ingest_batches", keys)
        started = time.monotonic()
        procs = [cs.dagster_execute(services, env, key, log_name=f"run-{key}") for key in keys]
        codes = [proc.wait(timeout=3600) for proc in procs]
        wall = time.monotonic() - started
        busy: dict[str, float] = {}
        by_step: dict[str, float] = {}
        writes = []
        steps = 0
        for key, code in zip(keys, codes):
            if code != 0:
                log = (services.root / f"run-{key}.log").read_text(errors="replace")
                lines = [line for line in log.splitlines() if "warn" not in line.lower()]
                print(f"run of batch {key} exited {code}:\n" + "\n".join(lines[-25:]), flush=True)
            runs = instance.get_runs(filters=dg.RunsFilter(tags={"dagster/partition": key}))
            if not runs:
                continue
            run = runs[0]
            facts = cs.step_facts(instance, run.run_id)
            for name, step in facts.items():
                if "start" in step and "end" in step:
                    steps += 1
                    busy[step.get("worker", "?")] = busy.get(step.get("worker", "?"), 0.0) + step["end"] - step["start"]
                    by_step[name] = by_step.get(name, 0.0) + step["end"] - step["start"]
                    if name in WRITERS:
                        writes.append((step["start"], step["end"]))
        writes.sort()
        overlaps = sum(1 for (_, end), (start, _) in zip(writes, writes[1:]) if start < end)
        instance.dispose()
        transcripts = Warehouse(warehouse).read("transcripts", columns=["transcript_id"])
        return {
            "workers": workers,
            "pool": pool,
            "advisory_lock": lock,
            "batches": batches,
            "wall_s": round(wall, 1),
            "runs_ok": sum(code == 0 for code in codes),
            "steps": steps,
            "busy_s_by_worker": {k: round(v, 1) for k, v in sorted(busy.items())},
            "busy_s_by_step": {k: round(v, 1) for k, v in sorted(by_step.items(), key=lambda kv: -kv[1])},
            "writer_steps": len(writes),
            "writer_overlaps": overlaps,
            "transcripts_landed": 0 if transcripts is None else transcripts.height,
            "unique_ids": 0 if transcripts is None else transcripts.n_unique(),
        }


def run_trial_process(raw: Path, workers: int, batches: int, root: Path, *, pool: bool = True, lock: bool = True) -> dict:
    """One trial in a fresh process: moto keeps its objects in process-global state, so a second server
    in the same process would still hold the previous trial's warehouse (and every file would be
    skipped as already ingested)."""
    spec = json.dumps({"raw": str(raw), "workers": workers, "batches": batches, "root": str(root), "pool": pool, "lock": lock})
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
    parser.add_argument("n", type=int, nargs="?", default=50_000, help="transcripts in the synthetic corpus")
    parser.add_argument("--batches", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=2, help="trials of each worker count (interleaved)")
    parser.add_argument("--no-pool", action="store_true", help="also a 2-worker trial without the pool limit (advisory lock on)")
    parser.add_argument("--no-lock", action="store_true", help="with --no-pool: also a trial without the advisory lock")
    parser.add_argument("--only-no-pool", action="store_true", help="only the trials without the pool")
    parser.add_argument("--keep", action="store_true", help="keep the trials' folders (logs) and print where")
    parser.add_argument("--trial", help=argparse.SUPPRESS)  # internal: run one trial in this process
    args = parser.parse_args(argv)
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    if args.trial:
        spec = json.loads(args.trial)
        result = trial(Path(spec["raw"]), spec["workers"], spec["batches"], Path(spec["root"]), pool=spec["pool"], lock=spec["lock"])
        print("TRIAL " + json.dumps(result), flush=True)
        return 0
    raw = gen.generate(args.n) / "raw"
    print(f"page cache warmed with {warm_page_cache(raw):.0f} MB", flush=True)
    order = [] if args.only_no_pool else [w for r in range(args.repeats) for w in ((1, 2) if r % 2 == 0 else (2, 1))]
    plan = [(w, True, True) for w in order]
    if args.no_pool or args.only_no_pool:
        plan += [(2, False, lock) for lock in ((True, False) if args.no_lock else (True,))]
    trials = []
    scratch = Path(tempfile.mkdtemp(prefix="etl-cluster-bench-"))
    try:
        for i, (workers, pool, lock) in enumerate(plan):
            result = run_trial_process(raw, workers, args.batches, scratch / f"t{i}", pool=pool, lock=lock)
            trials.append(result)
            print(json.dumps(result), flush=True)
    finally:
        if args.keep:
            print(f"trial folders kept in {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)
    one = [t["wall_s"] for t in trials if t["workers"] == 1 and t["pool"]]
    two = [t["wall_s"] for t in trials if t["workers"] == 2 and t["pool"]]
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
    if not one or not two:
        print(json.dumps(trials, indent=2))
        return 0
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(summary, indent=2))
    print(json.dumps({k: v for k, v in summary.items() if k != "trials"}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

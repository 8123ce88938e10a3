"""``etl-project``: run the pipeline from a terminal, without the UI."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def _instance():
    import dagster as dg

    home = os.environ.get("DAGSTER_HOME")
    if home:
        Path(home).mkdir(parents=True, exist_ok=True)
        return dg.DagsterInstance.get()
    return dg.DagsterInstance.ephemeral()


def _metadata_value(value):
    return getattr(value, "value", value)


def run(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    from etl_project.definitions import PROJECT_ROOT, defs

    raw_root = Path(os.environ.get("ETL_RAW_DIR") or PROJECT_ROOT / "data" / "raw")
    if not raw_root.is_dir():
        print(f"etl-project: raw folder {raw_root} does not exist (set ETL_RAW_DIR)", file=sys.stderr)
        return EXIT_USAGE
    job = defs.resolve_job_def("warehouse_job")
    run_config = {"loggers": {"console": {"config": {"log_level": args.log_level}}}}
    result = job.execute_in_process(run_config=run_config, instance=_instance(), raise_on_error=False)
    meta: dict[str, dict] = {}
    for event in result.get_asset_materialization_events():
        mat = event.event_specific_data.materialization
        meta[mat.asset_key.to_user_string()] = {k: _metadata_value(v) for k, v in mat.metadata.items()}
    elapsed = time.perf_counter() - started
    if not result.success:
        failed = [e.step_key for e in result.all_events if e.is_step_failure]
        print(f"etl-project: run failed in step(s) {', '.join(failed) or '?'}; see the log above", file=sys.stderr)
        return EXIT_FAILED

    def get(asset: str, key: str, default=0):
        return meta.get(asset, {}).get(key, default)

    print()
    print("etl-project run summary")
    print(f"  files read            {get('raw_transcripts', 'files_read')}")
    print(f"  transcripts written   {get('staged_transcripts', 'rows')} this run; {get('transcripts', 'dagster/row_count')} in the warehouse")
    print(f"  turns                 {get('staged_turns', 'rows')}")
    print(f"  quarantined           {get('rejected_inputs', 'rows')} this run; {get('quarantine', 'dagster/row_count')} in the quarantine")
    print(f"  repairs made          {get('repaired_transcripts', 'repairs_made')} lines in {get('repaired_transcripts', 'transcripts_repaired')} transcripts")
    print(f"  time taken            {elapsed:.1f} s")
    print(f"  warehouse             {get('transcripts', 'path', '?').rsplit('/', 1)[0]}")
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="etl-project", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run_parser = commands.add_parser("run", help="materialize every asset: raw folder -> warehouse, then print a summary")
    run_parser.add_argument("--log-level", default="WARNING", choices=["DEBUG", "INFO", "WARNING", "ERROR"], help="Dagster log level on the console (default WARNING)")
    args = parser.parse_args(argv)
    if args.command == "run":
        return run(args)
    return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())

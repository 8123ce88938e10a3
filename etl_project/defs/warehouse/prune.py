"""Deletions from the UI: the `prune_warehouse` job drops transcripts no raw file holds any more.

The same code as ``etl-project prune`` (:func:`etl_project.lib.pipeline.prune_missing`), one commit
under the write lock. ``dry_run`` (the default) only reports what would go, in the run's metadata.
"""

import dagster as dg
from pydantic import Field

from etl_project.defs.resources import RawFolder, WarehouseResource
from etl_project.lib.pipeline import prune_missing


class PruneConfig(dg.Config):
    dry_run: bool = Field(default=True, description="Only list what would be removed (set to false to remove it).")


@dg.op(description="Rows of transcripts no raw file holds any more, and quarantine rows of files that are gone.")
def prune_missing_transcripts(context: dg.OpExecutionContext, config: PruneConfig, raw_folder: RawFolder, warehouse: WarehouseResource) -> dict:
    if not raw_folder.root.is_dir():
        raise dg.Failure(f"raw folder {raw_folder.root} does not exist: refusing to prune against nothing")
    removed = prune_missing(raw_folder.root, warehouse.root, dry_run=config.dry_run)
    verb = "would remove" if config.dry_run else "removed"
    context.add_output_metadata({f"{table} ({verb})": rows for table, rows in removed.items()})
    context.log.info("prune (%s): %s", "dry run" if config.dry_run else "applied", removed)
    return removed


@dg.job(description="Reflect deletions: drop transcripts whose raw file is gone (dry run by default).")
def prune_warehouse():
    prune_missing_transcripts()

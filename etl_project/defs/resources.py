"""Configurable resources: where the raw files are, where the warehouse is, and the limits."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import dagster as dg
from pydantic import Field

from etl_project.lib.alerts import Alert, send
from etl_project.lib.batches import DEFAULT_MAX_BYTES, DEFAULT_MAX_FILES
from etl_project.lib.readers import DEFAULT_MAX_FILE_BYTES
from etl_project.lib.transform import DEFAULT_MAX_TRANSCRIPT_CHARS
from etl_project.lib.warehouse import Warehouse


class RawFolder(dg.ConfigurableResource):
    """The drop zone the pipeline reads, recursively (``ETL_RAW_DIR``)."""

    path: str = Field(description="Folder of raw transcript files; relative paths are relative to the working directory.")
    max_file_mb: int = Field(default=DEFAULT_MAX_FILE_BYTES // 2**20, description="Files larger than this are quarantined unread.")
    max_transcript_chars: int = Field(default=DEFAULT_MAX_TRANSCRIPT_CHARS, description="Transcripts longer than this are quarantined.")
    batch_max_files: int = Field(default=DEFAULT_MAX_FILES, description="An ingest batch (one partition, one run) claims at most this many files (ETL_BATCH_MAX_FILES).")
    batch_max_mb: int = Field(default=DEFAULT_MAX_BYTES // 2**20, description="... and about this many MiB of files (ETL_BATCH_MAX_MB); a bigger single file is a batch alone.")
    quiet_seconds: int = Field(
        default=10,
        description="The sensor and the schedule claim a file only when it has not changed for this long, so a file still "
        "being copied in is never read half-written (ETL_QUIET_SECONDS).",
    )

    @property
    def root(self) -> Path:
        return Path(self.path)

    @property
    def max_file_bytes(self) -> int:
        return self.max_file_mb * 2**20

    @property
    def caps(self) -> dict[str, int]:
        """The size cap of an ingest batch, as :func:`etl_project.lib.batches.claim` takes it."""
        return {"max_files": self.batch_max_files, "max_bytes": self.batch_max_mb * 2**20}


class WarehouseResource(dg.ConfigurableResource):
    """The Parquet warehouse the pipeline writes (``ETL_WAREHOUSE_DIR``)."""

    root: str = Field(
        description="Warehouse root: a folder (relative to the working directory) or an object-store URI such as "
        "s3://bucket/prefix (endpoint and credentials from AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, ...)."
    )

    def get(self) -> Warehouse:
        return Warehouse(self.root)


class Alerter(dg.ConfigurableResource):
    """Where alerts go: ``<warehouse>/_alerts/alerts.jsonl`` plus the Dagster log, and a webhook if set."""

    warehouse: WarehouseResource
    webhook_url: Optional[str] = Field(default=None, description="Slack-compatible incoming webhook (ETL_ALERT_WEBHOOK_URL); none by default.")
    alerts_path: Optional[str] = Field(
        default=None,
        description="Local JSON-lines file for alerts (ETL_ALERTS_FILE); default <warehouse>/_alerts/alerts.jsonl, "
        "or .dagster_home/_alerts/alerts.jsonl when the warehouse is on object storage (objects cannot be appended to).",
    )

    @property
    def alerts_file(self) -> Path:
        if self.alerts_path:
            return Path(self.alerts_path)
        if "://" in self.warehouse.root:
            return Path(".dagster_home") / "_alerts" / "alerts.jsonl"
        return Path(self.warehouse.root) / "_alerts" / "alerts.jsonl"

    def raise_alert(self, log, alert: Alert) -> None:
        (log.error if alert.severity == "ERROR" else log.warning)("ALERT %s", alert.text())
        send(alert, alerts_file=self.alerts_file, webhook_url=self.webhook_url)

"""Alerts for the people who must hear about bad input: a JSON-lines file, optionally a webhook.

Every alert is appended as one JSON object per line to the alerts file (by
default ``<warehouse>/_alerts/alerts.jsonl``), so an alert is never lost even
when no chat tool is set up. With a webhook URL, the same alert is also posted
as Slack-compatible JSON (``{"text": ...}``); a webhook that fails is reported
in the file, never raised into the pipeline.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Alert:
    kind: str  # "check_failed" | "quarantine" | "run_failed"
    severity: str  # "ERROR" | "WARN"
    summary: str
    details: dict[str, Any] = field(default_factory=dict)
    run_id: str | None = None
    raised_at: str = field(default_factory=lambda: dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"))

    def text(self) -> str:
        return f"[etl_project {self.severity}] {self.summary}"


def send(alert: Alert, *, alerts_file: Path, webhook_url: str | None = None, timeout_s: float = 5.0) -> dict[str, Any]:
    """Append ``alert`` to ``alerts_file`` and post it to ``webhook_url`` if given; returns the record written."""
    record = asdict(alert)
    if webhook_url:
        record["webhook"] = _post(webhook_url, {"text": alert.text(), "etl_project": asdict(alert)}, timeout_s)
    alerts_file.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(record, ensure_ascii=False, default=str) + "\n"
    # One write() of a line opened in append mode: concurrent writers do not interleave lines.
    fd = os.open(alerts_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, line.encode("utf-8"))
    finally:
        os.close(fd)
    return record


def _post(url: str, payload: dict[str, Any], timeout_s: float) -> str:
    request = urllib.request.Request(
        url, data=json.dumps(payload, default=str).encode("utf-8"), headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            return f"sent ({response.status})"
    except Exception as exc:  # the alert itself is already safe in the file
        return f"failed: {exc}"


def read_alerts(alerts_file: Path) -> list[dict[str, Any]]:
    if not alerts_file.exists():
        return []
    return [json.loads(line) for line in alerts_file.read_text(encoding="utf-8").splitlines() if line.strip()]

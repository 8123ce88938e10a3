"""Alerts for the people who must hear about bad input: a JSON-lines file, optionally a webhook.

Every alert is appended as one JSON object per line to the alerts file (by
default ``<warehouse>/_alerts/alerts.jsonl``) *before* anything is sent, so an
alert is never lost, even when no chat tool is set up or the webhook hangs.

With a webhook URL, the same alert is then posted as Slack-compatible JSON
(``{"text": ...}``) from a background thread, under a **total** deadline
(``timeout_s``, 5 s by default): urllib's own timeout bounds each socket read,
so a server that drips one byte every 2 s would hold the caller for ever. When
the deadline passes, the connection is shut down and the caller goes on. The
outcome (``sent (200)``, ``failed: ...``, ``no answer within 5 s``) is appended
as a second line, ``{"alert_id": ..., "webhook": ...}``; :func:`read_alerts`
folds it into its alert, so readers see one record per alert with a
``webhook`` field. A webhook that fails is reported in the file, never raised
into the pipeline.

Text from files and ids goes to the chat tool escaped for Slack (``&``, ``<``,
``>``), so a file named ``<!channel>.md`` never pings a channel and
``<https://x|here>`` never becomes a link.
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import os
import socket
import threading
import urllib.request
import uuid
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


def slack_escape(text: str) -> str:
    """``text`` safe for a Slack message: ``&``, ``<`` and ``>`` as entities (Slack's own rule), so
    ``<!channel>``, ``<@U123>`` or ``<https://x|link>`` from a file name stay plain text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def send(alert: Alert, *, alerts_file: Path, webhook_url: str | None = None, timeout_s: float = 5.0) -> dict[str, Any]:
    """Append ``alert`` to ``alerts_file``, then post it to ``webhook_url`` if given, waiting at most
    ``timeout_s`` in all; returns the record (with ``webhook``: the outcome, when posted)."""
    record = {**asdict(alert), "alert_id": uuid.uuid4().hex}
    _append(alerts_file, record)
    if webhook_url:
        payload = {"text": slack_escape(alert.text()), "etl_project": asdict(alert)}
        record["webhook"] = _post_within(webhook_url, payload, timeout_s)
        _append(alerts_file, {"alert_id": record["alert_id"], "webhook": record["webhook"]})
    return record


def _append(alerts_file: Path, record: dict[str, Any]) -> None:
    alerts_file.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(record, ensure_ascii=False, default=str) + "\n"
    # One write() of a line opened in append mode: concurrent writers do not interleave lines.
    fd = os.open(alerts_file, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":  # a line cut short by a killed writer: start afresh
            line = "\n" + line
        os.write(fd, line.encode("utf-8"))
    finally:
        os.close(fd)


def _post_within(url: str, payload: dict[str, Any], timeout_s: float) -> str:
    """POST ``payload`` as JSON from a daemon thread; give up (and cut the connection) after ``timeout_s`` in all."""
    connections: list[http.client.HTTPConnection] = []
    outcome: list[str] = []

    def post() -> None:
        outcome.append(_post(url, payload, timeout_s, connections))

    worker = threading.Thread(target=post, name="etl-alert-webhook", daemon=True)
    worker.start()
    worker.join(timeout_s)
    if outcome:
        return outcome[0]
    for connection in list(connections):  # wake the thread blocked in a read: it ends at once
        sock = connection.sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
    worker.join(0.5)  # a thread still stuck (e.g. in a DNS lookup) is a daemon: it never holds the process
    if outcome and outcome[0].startswith("sent"):  # it answered just as the deadline passed
        return outcome[0]
    return f"failed: no answer within {timeout_s:g} s (the alert is in this file)"


def _post(url: str, payload: dict[str, Any], timeout_s: float, connections: list) -> str:
    request = urllib.request.Request(
        url, data=json.dumps(payload, default=str).encode("utf-8"), headers={"Content-Type": "application/json"}, method="POST"
    )
    opener = urllib.request.build_opener(_TrackedHTTPHandler(connections), _TrackedHTTPSHandler(connections))
    try:
        with opener.open(request, timeout=timeout_s) as response:
            return f"sent ({response.status})"
    except Exception as exc:  # the alert itself is already safe in the file
        return f"failed: {exc}"


class _TrackedHTTPHandler(urllib.request.HTTPHandler):
    """urllib's HTTP handler, remembering its connections so a deadline can cut them."""

    def __init__(self, connections: list) -> None:
        super().__init__()
        self._connections = connections

    def http_open(self, req):  # noqa: ANN001, ANN201 (urllib's signature)
        return self.do_open(_tracked(http.client.HTTPConnection, self._connections), req)


class _TrackedHTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, connections: list) -> None:
        super().__init__()
        self._connections = connections

    def https_open(self, req):  # noqa: ANN001, ANN201
        options = {"context": self._context}
        if getattr(self, "_check_hostname", None) is not None:  # Python < 3.12 only
            options["check_hostname"] = self._check_hostname
        return self.do_open(_tracked(http.client.HTTPSConnection, self._connections), req, **options)


def _tracked(connection_class: type, connections: list):  # noqa: ANN202
    def make(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        connection = connection_class(*args, **kwargs)
        connections.append(connection)
        return connection

    return make


def read_alerts(alerts_file: Path) -> list[dict[str, Any]]:
    """The alerts in ``alerts_file``, oldest first, each with its webhook outcome folded in."""
    if not alerts_file.exists():
        return []
    alerts: list[dict[str, Any]] = []
    by_id: dict[str, dict[str, Any]] = {}
    for line in alerts_file.read_text(encoding="utf-8").split("\n"):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:  # a line cut short (disk full, killed mid-write): skip it, keep the rest
            continue
        if "kind" not in record and "webhook" in record:  # the outcome of an alert's webhook post
            if record.get("alert_id") in by_id:
                by_id[record["alert_id"]]["webhook"] = record["webhook"]
            continue
        alerts.append(record)
        if "alert_id" in record:
            by_id[record["alert_id"]] = record
    return alerts

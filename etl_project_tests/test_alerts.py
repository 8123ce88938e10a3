"""Alerts: written to the file first, posted under a total deadline, escaped for Slack."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from etl_project.lib.alerts import Alert, read_alerts, send, slack_escape


@contextmanager
def webhook(answer: bytes, *, drip_s: float = 0.0, stop_after_s: float = 20.0) -> Iterator[tuple[str, list[bytes]]]:
    """A localhost webhook (127.0.0.1 only) that reads one request and answers ``answer``, one byte
    every ``drip_s`` seconds; it gives up after ``stop_after_s`` so a test can never hang on it."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(stop_after_s)
    received: list[bytes] = []
    done = threading.Event()

    def serve() -> None:
        deadline = time.monotonic() + stop_after_s
        try:
            conn, _ = server.accept()
        except OSError:
            return
        with conn:
            conn.settimeout(stop_after_s)
            data = b""
            try:
                while b"\r\n\r\n" not in data:
                    data += conn.recv(65536)
                head, body = data.split(b"\r\n\r\n", 1)
                length = int(next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")))
                while len(body) < length:
                    body += conn.recv(65536)
                received.append(body)
                for byte in answer:
                    if done.is_set() or time.monotonic() > deadline:
                        return
                    conn.sendall(bytes([byte]))
                    done.wait(drip_s)
            except OSError:
                return

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}/hook", received
    finally:
        done.set()
        server.close()
        thread.join(5)


OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"


def alert(summary: str = "3 new input(s) quarantined") -> Alert:
    return Alert(kind="quarantine", severity="WARN", summary=summary, details={"new_rows": 3})


def test_alert_is_in_the_file_without_a_webhook(tmp_path: Path) -> None:
    path = tmp_path / "_alerts" / "alerts.jsonl"
    send(alert(), alerts_file=path)
    [written] = read_alerts(path)
    assert (written["kind"], written["summary"], written["details"]) == ("quarantine", "3 new input(s) quarantined", {"new_rows": 3})
    assert "webhook" not in written


def test_a_working_webhook_gets_the_alert_and_its_outcome_is_recorded(tmp_path: Path) -> None:
    path = tmp_path / "alerts.jsonl"
    with webhook(OK) as (url, received):
        record = send(alert(), alerts_file=path, webhook_url=url)
    assert record["webhook"] == "sent (200)"
    assert json.loads(received[0])["text"] == "[etl_project WARN] 3 new input(s) quarantined"
    [written] = read_alerts(path)
    assert written["webhook"] == "sent (200)"  # the outcome line is folded into its alert
    assert len(path.read_text().splitlines()) == 2  # the alert first, then the outcome


def test_a_dripping_webhook_never_holds_the_caller_past_the_deadline(tmp_path: Path) -> None:
    """urllib's timeout is per read: one byte every 2 s never trips a 3 s read timeout. The deadline is total."""
    path = tmp_path / "alerts.jsonl"
    with webhook(OK, drip_s=2.0) as (url, received):
        clock = time.monotonic()
        record = send(alert(), alerts_file=path, webhook_url=url, timeout_s=3)
        took = time.monotonic() - clock
        [written] = read_alerts(path)  # read while the server still drips: the alert was written first
    assert received, "the webhook was called"
    assert took < 3 + 1.0, took
    assert "no answer within 3 s" in record["webhook"]
    assert written["summary"] == "3 new input(s) quarantined" and "no answer" in written["webhook"]


def test_a_dead_webhook_is_an_outcome_not_an_error(tmp_path: Path) -> None:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # nothing listens there any more
    record = send(alert(), alerts_file=tmp_path / "alerts.jsonl", webhook_url=f"http://127.0.0.1:{port}/hook", timeout_s=2)
    assert record["webhook"].startswith("failed:")
    assert read_alerts(tmp_path / "alerts.jsonl")[0]["kind"] == "quarantine"


def test_file_names_cannot_ping_or_link_in_slack(tmp_path: Path) -> None:
    summary = "1 new input(s) quarantined: <!channel>.md, <https://evil.example|click me>.csv, R&D <@U123>.txt"
    with webhook(OK) as (url, received):
        send(alert(summary), alerts_file=tmp_path / "alerts.jsonl", webhook_url=url)
    text = json.loads(received[0])["text"]
    assert "<" not in text and ">" not in text
    assert "&lt;!channel&gt;.md" in text and "&lt;https://evil.example|click me&gt;" in text and "R&amp;D" in text
    assert read_alerts(tmp_path / "alerts.jsonl")[0]["summary"] == summary  # the file keeps the real names


def test_slack_escape_escapes_ampersand_first() -> None:
    assert slack_escape("a & <b> &lt;") == "a &amp; &lt;b&gt; &amp;lt;"


def test_a_line_cut_short_does_not_hide_the_other_alerts(tmp_path: Path) -> None:
    path = tmp_path / "alerts.jsonl"
    send(alert("first"), alerts_file=path)
    with path.open("a") as fh:
        fh.write('{"kind": "quarant')  # a writer killed mid-line
    send(alert("second"), alerts_file=path)
    assert [a["summary"] for a in read_alerts(path)] == ["first", "second"]

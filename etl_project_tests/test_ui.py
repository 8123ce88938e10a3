"""The operator's view, end to end: `dagster dev` on a free localhost port, a materialization
launched through its GraphQL API, and a screenshot of the asset graph in headless Chromium."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from etl_project.defs.ingest.partitions import ingest_batches
from etl_project.lib.batches import claim_pending
from etl_project.lib.warehouse import Warehouse
from etl_project_tests.conftest import PROJECT_ROOT, md_transcript

ARTIFACTS = PROJECT_ROOT / "etl_project_tests" / "artifacts"
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
]


def chromium() -> str:
    """Debian's chromium, installed here when missing (as root, with apt); otherwise the test skips."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        pytest.skip("headless Chromium is not installed and cannot be installed here (needs root and apt-get: apt-get install chromium)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = subprocess.run(["apt-get", "install", "-y", "-q", "chromium"], env=env, capture_output=True, text=True, timeout=600)
    if install.returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True, timeout=600)
        install = subprocess.run(["apt-get", "install", "-y", "-q", "chromium"], env=env, capture_output=True, text=True, timeout=600)
    found = shutil.which("chromium")
    if not found:
        pytest.skip(f"could not install Debian's chromium package: {install.stderr[-500:]}")
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def graphql(port: int, query: str, variables: dict | None = None) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query, "variables": variables or {}}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        body = json.loads(response.read())
    assert "errors" not in body, body
    return body["data"]


def wait_until(predicate, timeout_s: float, what: str, proc: subprocess.Popen, log: Path):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"dagster dev exited ({proc.returncode}) while waiting for {what}:\n{log.read_text()[-3000:]}")
        try:
            value = predicate()
            if value:
                return value
        except OSError:
            pass
        time.sleep(1)
    pytest.fail(f"timed out after {timeout_s:.0f} s waiting for {what}:\n{log.read_text()[-3000:]}")


def screenshot(browser: str, url: str, out: Path, profile: Path, size=(1600, 1000)) -> None:
    """Drive headless Chromium over the DevTools protocol: open the page as a person would, dismiss the
    first-visit dialog, wait for the graph to render, save a PNG."""
    import base64

    from websockets.sync.client import connect

    port = free_port()
    chrome = subprocess.Popen(
        [browser, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--remote-debugging-port={port}",
         f"--window-size={size[0]},{size[1]}", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    try:
        targets = None
        for _ in range(60):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=2) as r:
                    targets = [t for t in json.loads(r.read()) if t["type"] == "page"]
                if targets:
                    break
            except OSError:
                pass
            time.sleep(0.5)
        assert targets, "Chromium exposed no page over DevTools"
        with connect(targets[0]["webSocketDebuggerUrl"], max_size=2**26, open_timeout=30) as ws:
            ids = iter(range(1, 10_000))

            def call(method: str, **params):
                n = next(ids)
                ws.send(json.dumps({"id": n, "method": method, "params": params}))
                while True:
                    message = json.loads(ws.recv(timeout=60))
                    if message.get("id") == n:
                        return message.get("result", {})

            def js(expression: str):
                return call("Runtime.evaluate", expression=expression, returnByValue=True).get("result", {}).get("value")

            call("Emulation.setDeviceMetricsOverride", width=size[0], height=size[1], deviceScaleFactor=1, mobile=False)
            call("Page.navigate", url=url)
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline and not js("document.body && document.body.innerText.includes('warehouse')"):
                time.sleep(1)
            for _ in range(10):  # the "join the community" dialog of a first visit
                if js("(() => { const b = [...document.querySelectorAll('button')].find(b => b.innerText.trim() === 'Skip'); if (b) { b.click(); return true } return false })()"):
                    break
                time.sleep(1)
            time.sleep(3)  # let the graph settle after the dialog closes
            data = call("Page.captureScreenshot", format="png")["data"]
            out.write_bytes(base64.b64decode(data))
    finally:
        os.killpg(chrome.pid, signal.SIGKILL)
        chrome.wait(timeout=30)


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", data[16:24])


LAUNCH = """
mutation Launch($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
    ... on RunConfigValidationInvalid { errors { message } }
    ... on InvalidSubsetError { message }
  }
}"""
ADD_PARTITION = """
mutation Add($selector: RepositorySelector!, $name: String!, $key: String!) {
  addDynamicPartition(repositorySelector: $selector, partitionsDefName: $name, partitionKey: $key) { __typename }
}"""
RUN_STATUS = "query Status($id: ID!) { runOrError(runId: $id) { __typename ... on Run { status } } }"


def test_dagster_dev_runs_a_batch_and_shows_the_asset_graph(tmp_path: Path) -> None:
    browser = chromium()
    raw, warehouse, home = tmp_path / "raw", tmp_path / "warehouse", tmp_path / "dagster_home"
    for path in (raw, warehouse, home):
        path.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    for i, prefix in enumerate(["work", "creativity", "science"]):
        (raw / f"{prefix}_{i:04d}.md").write_text(md_transcript(f"{prefix}_{i:04d}"))
    (key,), _ = claim_pending(Warehouse(warehouse), raw)

    port = free_port()
    env = {**os.environ, "DAGSTER_HOME": str(home), "ETL_RAW_DIR": str(raw), "ETL_WAREHOUSE_DIR": str(warehouse), "GX_ANALYTICS_ENABLED": "false"}
    log = tmp_path / "dagster_dev.log"
    dagster = str(Path(sys.executable).parent / "dagster")
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [dagster, "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
            cwd=PROJECT_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )
    try:
        wait_until(lambda: urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=5).status == 200, 180, "the web server", proc, log)
        location = wait_until(
            lambda: graphql(port, "{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus } } } }")["workspaceOrError"]["locationEntries"],
            120, "the code location", proc, log,
        )
        assert location[0]["name"] == "etl_project"
        selector = {"repositoryLocationName": "etl_project", "repositoryName": "__repository__"}
        graphql(port, ADD_PARTITION, {"selector": selector, "name": ingest_batches.name, "key": key})
        params = {
            "selector": {**selector, "jobName": "warehouse_job"},
            "executionMetadata": {"tags": [{"key": "dagster/partition", "value": key}]},
            "runConfigData": {},
            "mode": "default",
        }
        launched = graphql(port, LAUNCH, {"params": params})["launchRun"]
        assert launched["__typename"] == "LaunchRunSuccess", launched
        run_id = launched["run"]["runId"]
        status = wait_until(
            lambda: (s := graphql(port, RUN_STATUS, {"id": run_id})["runOrError"]["status"]) in {"SUCCESS", "FAILURE", "CANCELED"} and s,
            300, f"run {run_id}", proc, log,
        )
        assert status == "SUCCESS", log.read_text()[-3000:]
        assert (warehouse / "transcripts" / "split=scientists").is_dir()
        # a UI run (one process per step) hands no frame from step to step: nothing pickled in DAGSTER_HOME
        kept = [p for p in (home / "storage").rglob("*") if p.is_file() and "compute_logs" not in p.parts]
        assert kept == [], kept

        ARTIFACTS.mkdir(exist_ok=True)
        shot = ARTIFACTS / "asset_graph.png"
        shot.unlink(missing_ok=True)
        screenshot(browser, f"http://127.0.0.1:{port}/asset-groups", shot, tmp_path / "chromium-profile")
        assert shot.exists(), "Chromium wrote no screenshot"
        assert png_size(shot) == (1600, 1000)
        assert shot.stat().st_size > 30_000  # a rendered graph, not a blank page
    finally:
        proc.send_signal(signal.SIGTERM)  # dagster dev stops its web server and daemon on SIGTERM
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)

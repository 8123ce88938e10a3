"""The operator's view, end to end: `dg dev` (as `make ui` starts it) on a free localhost port, a
materialization launched through its GraphQL API, and screenshots in headless Chromium: the asset
graph, and theme_report's asset page with its prevalence chart (saved in etl_project_tests/artifacts/)."""

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


class Browser:
    """Headless Chromium driven over the DevTools protocol, as a person would use the UI."""

    def __init__(self, executable: str, profile: Path, size=(1600, 1000)):
        self.executable, self.profile, self.size = executable, profile, size

    def __enter__(self) -> "Browser":
        from websockets.sync.client import connect

        port = free_port()
        self.chrome = subprocess.Popen(
            [self.executable, *CHROMIUM_FLAGS, f"--user-data-dir={self.profile}", f"--remote-debugging-port={port}",
             f"--window-size={self.size[0]},{self.size[1]}", "about:blank"],
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
            self.connection = connect(targets[0]["webSocketDebuggerUrl"], max_size=2**26, open_timeout=30)
            self.ws = self.connection.__enter__()
        except BaseException:
            self._stop()
            raise
        self.ids = iter(range(1, 10_000))
        self.call("Emulation.setDeviceMetricsOverride", width=self.size[0], height=self.size[1], deviceScaleFactor=1, mobile=False)
        return self

    def __exit__(self, *exc) -> None:
        self.connection.__exit__(None, None, None)
        self._stop()

    def _stop(self) -> None:
        os.killpg(self.chrome.pid, signal.SIGKILL)
        self.chrome.wait(timeout=30)

    def call(self, method: str, **params):
        n = next(self.ids)
        self.ws.send(json.dumps({"id": n, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv(timeout=60))
            if message.get("id") == n:
                return message.get("result", {})

    def js(self, expression: str):
        return self.call("Runtime.evaluate", expression=expression, returnByValue=True).get("result", {}).get("value")

    def wait_for(self, expression: str, timeout_s: float = 60):
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            value = self.js(expression)
            if value:
                return value
            time.sleep(0.5)
        return None

    def open(self, url: str, text: str) -> None:
        """Open ``url``, wait until the page shows ``text``, dismiss the first-visit dialog."""
        self.call("Page.navigate", url=url)
        assert self.wait_for(f"document.body && document.body.innerText.includes({json.dumps(text)})", 90), f"{url} never showed {text!r}"
        for _ in range(10):  # the "join the community" dialog of a first visit
            if self.js("(() => { const b = [...document.querySelectorAll('button')].find(b => b.innerText.trim() === 'Skip'); if (b) { b.click(); return true } return false })()"):
                break
            time.sleep(0.5)

    def screenshot(self, out: Path) -> None:
        import base64

        out.write_bytes(base64.b64decode(self.call("Page.captureScreenshot", format="png")["data"]))


def png_size(path: Path) -> tuple[int, int]:
    return png_size_of(path.read_bytes())


def png_size_of(data: bytes) -> tuple[int, int]:
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


@pytest.fixture(scope="module")
def ui(tmp_path_factory: pytest.TempPathFactory):
    """`dg dev` (what `make ui` runs) on a free localhost port, one batch launched through its GraphQL API
    and run to success; shared by the tests that look at the result in a browser."""
    browser = chromium()
    root = tmp_path_factory.mktemp("ui")
    raw, warehouse, home = root / "raw", root / "warehouse", root / "dagster_home"
    for path in (raw, warehouse, home):
        path.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    for i, prefix in enumerate(["work", "creativity", "science"]):
        (raw / f"{prefix}_{i:04d}.md").write_text(md_transcript(f"{prefix}_{i:04d}"))
    (key,), _ = claim_pending(Warehouse(warehouse), raw)

    port = free_port()
    env = {**os.environ, "DAGSTER_HOME": str(home), "ETL_RAW_DIR": str(raw), "ETL_WAREHOUSE_DIR": str(warehouse), "GX_ANALYTICS_ENABLED": "false"}
    log = root / "dg_dev.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [str(Path(sys.executable).parent / "dg"), "dev", "--host", "127.0.0.1", "--port", str(port)],
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
        ARTIFACTS.mkdir(exist_ok=True)
        with Browser(browser, root / "chromium-profile") as page:
            yield {"port": port, "home": home, "warehouse": warehouse, "page": page, "root": root}
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:  # dg dev may outlive SIGTERM
            pass
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # its web server, daemon and code servers: a process group of their own
        except ProcessLookupError:
            pass
        proc.wait(timeout=30)


def test_dg_dev_runs_a_batch_and_shows_the_asset_graph(ui: dict) -> None:
    assert (ui["warehouse"] / "transcripts" / "split=scientists").is_dir()
    # a UI run (one process per step) hands no frame from step to step: nothing pickled in DAGSTER_HOME
    kept = [p for p in (ui["home"] / "storage").rglob("*") if p.is_file() and "compute_logs" not in p.parts]
    assert kept == [], kept

    shot = ARTIFACTS / "asset_graph.png"
    shot.unlink(missing_ok=True)
    ui["page"].open(f"http://127.0.0.1:{ui['port']}/asset-groups", "warehouse")
    time.sleep(3)  # let the graph settle after the dialog closes
    ui["page"].screenshot(shot)
    assert shot.exists(), "Chromium wrote no screenshot"
    assert png_size(shot) == (1600, 1000)
    assert shot.stat().st_size > 30_000  # a rendered graph, not a blank page


SHOW_CHART = """(() => {
  const row = [...document.querySelectorAll('tr')].find(r => r.cells.length && r.cells[0].innerText.trim() === 'chart');
  const link = row && [...row.querySelectorAll('*')].find(e => e.childElementCount === 0 && e.innerText.trim() === '[Show Markdown]');
  if (link) link.click();
  return Boolean(link);
})()"""
CHART_SHOWN = """(() => {
  const img = [...document.images].find(i => i.src.startsWith('data:image/png;base64,') && i.complete && i.naturalWidth > 0);
  if (!img) return null;
  const box = img.getBoundingClientRect();
  return {src: img.src, width: img.naturalWidth, height: img.naturalHeight, shownWidth: box.width, shownHeight: box.height};
})()"""


def test_theme_report_page_shows_the_prevalence_chart(ui: dict) -> None:
    """The operator opens theme_report's asset page: its latest materialization carries the chart
    (Markdown metadata, the PNG inline) and the table; the chart opens in place and renders."""
    import base64

    page = ui["page"]
    page.open(f"http://127.0.0.1:{ui['port']}/assets/theme_report", "[Show Markdown]")
    rows = page.js("[...document.querySelectorAll('tr')].map(r => r.cells.length ? r.cells[0].innerText.trim() : '')")
    assert {"prevalence", "chart", "chart_path", "methods", "transcripts"} <= set(rows), rows  # the table and the chart
    assert page.js(SHOW_CHART), "no [Show Markdown] on the chart row of theme_report's metadata"
    shown = page.wait_for(CHART_SHOWN, 30)
    assert shown, "the chart image never rendered"
    chart = (ui["warehouse"] / "reports" / "theme_prevalence.png").read_bytes()
    assert base64.b64decode(shown["src"].split(",", 1)[1]) == chart  # the very chart the report wrote
    assert (shown["width"], shown["height"]) == png_size_of(chart) and shown["shownWidth"] > 300 and shown["shownHeight"] > 300
    time.sleep(1)
    shot = ARTIFACTS / "theme_report_chart.png"
    shot.unlink(missing_ok=True)
    page.screenshot(shot)
    assert png_size(shot) == (1600, 1000)
    assert shot.stat().st_size > 50_000  # bars, labels and legend, not an empty dialog

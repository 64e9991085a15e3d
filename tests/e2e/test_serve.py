"""`watcher serve` and `--metrics-port` with real processes: a headless Chromium drives the served
TUI; /metrics is parsed with prometheus_client and compared with `watcher status --json`; the token
check is exercised over HTTP (the server binds 0.0.0.0, traffic goes to 127.0.0.1 only)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import tomli_w
from helpers import SIM_KEY, free_port, make_run, read_lines, sim_config_dict, wait_for
from prometheus_client.parser import text_string_to_metric_families

from watcher.errors import EXIT_USAGE
from watcher.generate.supervisor import Supervisor
from watcher.run.files import read_control, read_json
from watcher.run.paths import RunPaths
from watcher.simulator.server import SimConfig, SimServer

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ANSI = re.compile(r"\x1b(\[[0-9;?<=>$]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[()][A-Za-z0-9]|.)")
TOKEN = "s3cret-token-for-tests-0123456789"



def cli(*args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "watcher.cli.main", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


class Served:
    """A `watcher serve` subprocess; `url` once it printed its ready line."""

    def __init__(self, run_dir: Path, *extra: str, env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "watcher.cli.main", "serve", "--run-dir", str(run_dir),
                                      "--port", "0", *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, env=env)
        line = self.proc.stdout.readline()
        m = re.search(r"on http://[^:]+:(\d+)/", line)
        assert m, line + self.proc.stderr.read()
        self.port = int(m.group(1))
        self.url = f"http://127.0.0.1:{self.port}/"
        self.first_line = line

    def close(self) -> str:
        """Stop serving (SIGTERM); returns everything it printed."""
        self.proc.terminate()
        out, err = self.proc.communicate(timeout=20)
        return self.first_line + out + err


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> Iterator[tuple[Path, str]]:
    """A finished run on the simulator, made by `watcher --headless --metrics-port`; yields (run dir,
    the /metrics text scraped while it was working)."""
    cwd = tmp_path_factory.mktemp("serve")
    sim = SimServer(SimConfig(api_key=SIM_KEY, latency_s=0.3, defect_rate=0.3, seed=7))
    sim.start()
    config = cwd / "run.toml"
    config.write_text(tomli_w.dumps(sim_config_dict(sim, forms=["Haiku", "Limerick"], num=2)))
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "watcher.cli.main", "--headless", "--config", str(config),
                             "--run", "X", "--metrics-port", str(port)], cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env={**os.environ, "WATCHER_SIM_KEY": SIM_KEY})
    scraped: list[str] = []

    def scrape() -> bool:
        try:
            text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
        except httpx.HTTPError:
            return False
        if "watcher_items_target" in text:
            scraped.append(text)
        return bool(scraped)

    try:
        wait_for(lambda: scrape() or proc.poll() is not None, timeout=60, step=0.05)
        out, _ = proc.communicate(timeout=90)
    finally:
        sim.stop()
    assert proc.returncode == 0, out
    yield cwd / "data" / "runs" / "X", scraped[0] if scraped else ""


def families(text: str) -> dict[str, list]:
    return {f.name: f.samples for f in text_string_to_metric_families(text)}


def by_label(samples: list, label: str, suffix: str = "") -> dict[str, float]:
    return {s.labels[label]: s.value for s in samples if s.name.endswith(suffix)}


@pytest.mark.slow
def test_headless_metrics_port_serves_while_the_run_works(finished_run):
    _, text = finished_run
    fams = families(text)
    assert set(by_label(fams["watcher_items_target"], "group")) == {"Haiku", "Limerick"}
    assert all(s.labels["run"] == "X" for s in fams["watcher_items_target"])
    assert "watcher_workers" in fams and "watcher_attempts" in fams


@pytest.mark.slow
def test_metrics_equal_status_json(finished_run):
    run_dir, _ = finished_run
    status = json.loads(cli("status", "--run-dir", str(run_dir), "--json", cwd=run_dir).stdout)
    served = Served(run_dir)
    try:
        resp = httpx.get(served.url + "metrics", timeout=10)
    finally:
        served.close()
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/plain")
    fams = families(resp.text)
    groups = {g["name"]: g for g in status["groups"]}
    assert by_label(fams["watcher_items_target"], "group") == {n: g["target"] for n, g in groups.items()}
    assert by_label(fams["watcher_items_accepted"], "group") == {n: g["done"] for n, g in groups.items()}
    assert by_label(fams["watcher_items_rejected"], "group") == {n: g["rejected"] for n, g in groups.items()}
    assert sum(by_label(fams["watcher_items_accepted"], "group").values()) == status["accepted"] == 4
    assert sum(by_label(fams["watcher_items_pending"], "group").values()) == 0
    assert fams["watcher_attempts"][0].value == status["attempts"]
    assert fams["watcher_errors"][0].value == status["errors"]
    assert by_label(fams["watcher_failures"], "reason") == status["failures"]
    finish = {(s.labels["model"], s.labels["reason"]): s.value for s in fams["watcher_finish_reasons"]}
    assert finish == {(m, r): n for m, c in status["finish_reasons"].items() for r, n in c.items()}
    assert by_label(fams["watcher_tokens"], "kind") == {"input": status["tokens_in"], "output": status["tokens_out"]}
    assert fams["watcher_cost_spent_usd"][0].value == pytest.approx(status["cost_usd"])
    assert by_label(fams["watcher_run_state"], "state")[status["state"]] == 1
    assert sum(by_label(fams["watcher_workers"], "state").values()) == len(status["workers"])


@pytest.mark.slow
def test_public_bind_needs_a_token(finished_run):
    run_dir, _ = finished_run
    env = {k: v for k, v in os.environ.items() if k != "WATCHER_SERVE_TOKEN"}
    r = cli("serve", "--run-dir", str(run_dir), "--host", "0.0.0.0", "--port", "0", cwd=run_dir, env=env, timeout=20)
    assert r.returncode == EXIT_USAGE
    assert r.stdout == "" and len(r.stderr.strip().splitlines()) == 1 and "--token" in r.stderr


@pytest.mark.slow
def test_token_is_checked_on_every_request(finished_run):
    run_dir, _ = finished_run
    served = Served(run_dir, "--host", "0.0.0.0", env={**os.environ, "WATCHER_SERVE_TOKEN": TOKEN})
    try:
        with httpx.Client(timeout=10) as c:
            for path in ("", "metrics", "ws", "static/js/textual.js"):
                assert c.get(served.url + path).status_code == 401, path
            assert c.get(served.url + "metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
            assert c.get(served.url + "?token=wrong").status_code == 401
            ok = c.get(served.url + "metrics", headers={"Authorization": f"Bearer {TOKEN}"})
            assert ok.status_code == 200 and "watcher_items_accepted" in ok.text
            link = c.get(served.url + f"?token={TOKEN}&fontsize=14")
            assert link.status_code == 303 and TOKEN not in link.headers["location"]
            assert TOKEN not in link.headers["set-cookie"]
            page = c.get(served.url + "?fontsize=14")  # the client now sends the cookie
            assert page.status_code == 200 and "data-session-websocket-url" in page.text
            assert TOKEN not in page.text
            assert c.get(served.url + "metrics").status_code == 200
    finally:
        printed = served.close()
    assert TOKEN not in printed


@pytest.mark.slow
def test_loopback_server_refuses_other_hosts_and_origins(finished_run):
    run_dir, _ = finished_run
    served = Served(run_dir)
    try:
        assert httpx.get(served.url, headers={"Host": "attacker.example"}, timeout=10).status_code == 403
        assert httpx.get(served.url + "ws", headers={"Origin": "http://attacker.example"}, timeout=10).status_code == 403
        assert httpx.get(served.url, timeout=10).status_code == 200
    finally:
        served.close()


# -- a real browser ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip("needs Debian's chromium at /usr/bin/chromium (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="needs playwright (the dev extra)")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


class Page:
    """A served page whose terminal output (the websocket frames the TUI sends) is kept as text."""

    def __init__(self, browser, url: str) -> None:
        self.page = browser.new_page(viewport={"width": 1300, "height": 800})
        self.frames: list[str] = []
        self.page.on("websocket", lambda ws: ws.on("framereceived", self._frame))
        self.page.goto(url)

    def _frame(self, payload: str | bytes) -> None:
        self.frames.append(payload.decode("utf-8", "replace") if isinstance(payload, bytes) else payload)

    def text(self) -> str:
        return ANSI.sub("", "".join(self.frames))

    def wait_text(self, needle: str, timeout: float = 30) -> bool:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if needle in self.text():
                return True
            self.page.wait_for_timeout(100)
        return False


@pytest.fixture
def running_run(tmp_path, make_sim, sim_env):
    """A run whose workers are busy for a while, owned by this test's supervisor."""
    sim = make_sim(latency_s=1.5)
    run_dir = make_run(tmp_path, sim_config_dict(sim, forms=["Haiku"], num=100))
    sup = Supervisor(run_dir)
    sup.start()
    assert wait_for(lambda: sup.snapshot().state == "running", timeout=30)
    yield run_dir, sup
    sup.stop(graceful=False)


def canvas_colours(page) -> int:
    """Distinct colours painted on the terminal canvas (an empty page has two or three)."""
    return page.evaluate("""() => {
        const c = document.querySelector('.xterm-screen canvas');
        const g = document.createElement('canvas'); g.width = c.width; g.height = c.height;
        const x = g.getContext('2d'); x.drawImage(c, 0, 0);
        const d = x.getImageData(0, 0, g.width, g.height).data; const seen = new Set();
        for (let i = 0; i < d.length; i += 4 * 7) seen.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
        return seen.size; }""")


@pytest.mark.slow
def test_browser_shows_the_dashboard_and_p_pauses_unless_read_only(running_run, browser, tmp_path):
    run_dir, sup = running_run
    control = RunPaths(run_dir).control
    # Two sessions at once (they start in parallel): one read-only, one with commands.
    served = [Served(run_dir, "--read-only"), Served(run_dir)]
    try:
        ro, rw = (Page(browser, s.url) for s in served)
        for page in (ro, rw):
            assert page.wait_text("RUNNING"), page.text()[-3000:]
        assert "watcher · run1 · read-only" in ro.text()
        assert "watcher · run1" in rw.text() and re.search(r"\d+/100 +\d+%", rw.text()), rw.text()[-3000:]
        rw.page.wait_for_timeout(300)  # the canvas paints on the next animation frames
        rw.page.screenshot(path=str(tmp_path / "dashboard.png"))
        assert canvas_colours(rw.page) > 20

        ro.page.locator(".xterm-screen").click()
        ro.page.keyboard.press("p")
        assert ro.wait_text("read-only: this session", timeout=10), ro.text()[-3000:]
        assert read_control(control)["paused"] is False

        rw.page.locator(".xterm-screen").click()
        rw.page.keyboard.press("p")
        assert wait_for(lambda: read_control(control)["paused"], timeout=10)
        assert json.loads(control.read_text())["paused"] is True
    finally:
        for s in served:
            s.close()
    # Serving took nothing over: the test's supervisor still owns the run, nobody attached or spawned.
    paths = RunPaths(run_dir)
    assert read_json(paths.supervisor)["pid"] == os.getpid()
    events = [e["event"] for e in read_lines(paths.events)]
    assert "attach" not in events and events.count("spawn") == len(sup.workers)
    assert events.count("pause") == 1

"""Cost end to end on the simulator: the spend ceiling, notifications, the estimate vs real spend."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import tomli_w
from helpers import assert_each_item_once, read_lines, sim_config_dict

from watcher.run.paths import RunPaths

pytestmark = pytest.mark.slow


class Receiver:
    """A loopback webhook receiver: keeps every JSON body POSTed to it."""

    def __init__(self) -> None:
        got = self.got = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                got.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *a) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def events(self) -> list[str]:
        return [g["event"] for g in self.got]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def closed_port_url() -> str:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"http://127.0.0.1:{port}/hook"


def write_config(tmp_path, data) -> str:
    data = {**data, "runs_dir": str(tmp_path / "runs")}
    p = tmp_path / "cfg.toml"
    p.write_text(tomli_w.dumps(data))
    return str(p)


def watcher(tmp_path, env, *args, timeout=120):
    return subprocess.run([sys.executable, "-m", "watcher.cli.main", *args], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=timeout)


def test_ceiling_stops_the_run_and_a_higher_one_continues(tmp_path, make_sim, sim_env, receiver):
    sim = make_sim(defect_rate=0.2)
    data = sim_config_dict(sim, forms=["Haiku", "Limerick"], num=4, backend="claude",
                           notify={"webhook_url": receiver.url, "command": f"echo $WATCHER_EVENT $WATCHER_ACCEPTED "
                                   f">> {tmp_path / 'cmd.txt'}"})
    # One worker, one call at a time: every item started is visible as a record before the next starts.
    data["backends"]["claude"].update(concurrency=1, price_in=1000.0, price_out=10000.0)
    cfg = write_config(tmp_path, data)
    ceiling = 2.0
    out = watcher(tmp_path, sim_env, "--headless", "--config", cfg, "--run", "r1", "--max-cost", str(ceiling),
                  "--interval", "60")
    assert out.returncode == 3, out.stdout + out.stderr
    last = out.stdout.strip().splitlines()[-1]
    assert last.startswith("watcher: budget reached: $") and last.endswith(
        f"of ${ceiling:.2f}; raise it with --max-cost to continue")
    paths = RunPaths(tmp_path / "runs" / "r1")
    recs = sorted(read_lines(paths.dataset) + read_lines(paths.rejects), key=lambda r: r["timestamp"])
    costs = [r["cost_usd"] for r in recs]
    assert sum(costs) >= ceiling
    assert sum(costs[:-1]) < ceiling, "an item was started after the ceiling was reached"
    assert len(recs) < 8  # items were left pending
    assert "budget_reached" in receiver.events()
    body = receiver.got[receiver.events().index("budget_reached")]
    assert body["run"] == "r1" and body["counts"]["accepted"] + body["counts"]["rejected"] == len(recs)
    assert body["cost_usd"] == pytest.approx(sum(costs), rel=1e-6)
    assert "key" not in json.dumps(body).lower()

    # The same ceiling again: nothing new starts, same message.
    again = watcher(tmp_path, sim_env, "--headless", "--config", cfg, "--run", "r1", "--max-cost", str(ceiling))
    assert again.returncode == 3 and "budget reached" in again.stdout.strip().splitlines()[-1]
    assert "warning: budget reached" in again.stderr  # said before anything starts
    assert len(read_lines(paths.dataset) + read_lines(paths.rejects)) == len(recs)

    # A higher ceiling continues to the end, nothing twice; spent keeps counting from the records.
    more = watcher(tmp_path, sim_env, "--headless", "--config", cfg, "--run", "r1", "--max-cost", "1000")
    assert more.returncode == 0, more.stdout + more.stderr
    acc, rej = assert_each_item_once(paths.dir)
    assert "done" in receiver.events()
    assert receiver.events().count("budget_reached") == 1
    lines = (tmp_path / "cmd.txt").read_text().splitlines()
    assert lines[0].startswith("budget_reached ") and lines[-1] == f"done {len(acc)}"


def test_receiver_down_does_not_stop_the_run(tmp_path, sim, sim_env):
    data = sim_config_dict(sim, forms=["Haiku"], num=3, notify={"webhook_url": closed_port_url()})
    out = watcher(tmp_path, sim_env, "--headless", "--config", write_config(tmp_path, data), "--run", "r1")
    assert out.returncode == 0, out.stdout + out.stderr
    run_dir = tmp_path / "runs" / "r1"
    assert_each_item_once(run_dir)
    events = [json.loads(x) for x in (run_dir / "events.jsonl").read_text().splitlines()]
    failed = [e for e in events if e["event"] == "notify_failed"]
    assert failed and failed[0]["what"] == "done" and failed[0]["channel"] == "webhook"
    assert "127.0.0.1" not in failed[0]["error"]  # the URL (which may carry a token) is never logged


def test_backend_down_and_failed_are_notified(tmp_path, sim, sim_env, receiver):
    data = sim_config_dict(sim, forms=["Haiku"], num=4, notify={"webhook_url": receiver.url})
    data["backends"]["openrouter"]["api_key_env"] = "WATCHER_WRONG_KEY"  # refused: the backend is given up on
    env = {**sim_env, "WATCHER_WRONG_KEY": "not-the-key"}
    out = watcher(tmp_path, env, "--headless", "--config", write_config(tmp_path, data), "--run", "r1")
    assert out.returncode == 3, out.stdout + out.stderr
    assert "backend_down" in receiver.events() and "failed" in receiver.events()
    down = receiver.got[receiver.events().index("backend_down")]
    assert "openrouter" in down["message"] and "not-the-key" not in json.dumps(receiver.got)


def test_estimate_against_a_demo_runs_real_spend(tmp_path, make_sim, sim_env):
    sim = make_sim(latency_s=0.01, defect_rate=0.35)
    data = sim_config_dict(sim, forms=["Haiku", "Tanka", "Limerick", "Cinquain"], num=4)
    cfg = write_config(tmp_path, data)
    plan = json.loads(watcher(tmp_path, sim_env, "plan", "--config", cfg, "--json").stdout)
    assert plan["history_runs"] == []
    out = watcher(tmp_path, sim_env, "--headless", "--config", cfg, "--run", "r1")
    assert out.returncode == 0, out.stderr
    paths = RunPaths(tmp_path / "runs" / "r1")
    spent = sum(r["cost_usd"] for r in read_lines(paths.dataset) + read_lines(paths.rejects))
    first = plan["total"]["cost_online"]
    # Without history: within a factor of 3 of the real spend, and under the hard ceiling `high`
    # (`low` assumes the default output length, which the simulator's short poems can undercut).
    assert spent <= first["high"]
    assert 1 / 3 <= first["expected"] / spent <= 3, (first, spent)
    # With that run as history (a new run of the same config): within a factor of 1.5.
    again = json.loads(watcher(tmp_path, sim_env, "plan", "--config", cfg, "--json").stdout)
    assert again["history_runs"] == ["r1"]
    assert 1 / 1.5 <= again["total"]["cost_online"]["expected"] / spent <= 1.5, (again["total"], spent)
    print(f"estimate/spent: default {first['expected'] / spent:.2f}, "
          f"history {again['total']['cost_online']['expected'] / spent:.2f}")


def test_backend_down_against_a_closed_port_is_notified(tmp_path, sim, sim_env, receiver):
    """A backend whose port refuses connections is given up on after give_up_after_s: the run ends
    with exit 3 and the webhook hears backend_down, naming the backend (and no key)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]  # nothing listens here once the socket is closed
    data = sim_config_dict(sim, forms=["Haiku"], num=4, notify={"webhook_url": receiver.url})
    ob = data["backends"]["openrouter"]
    ob.update(base_url=f"http://127.0.0.1:{closed}/v1", give_up_after_s=2.0, timeout_s=1.0)
    out = watcher(tmp_path, sim_env, "--headless", "--config", write_config(tmp_path, data), "--run", "r1")
    assert out.returncode == 3, out.stdout[-2000:] + out.stderr[-2000:]
    assert f"127.0.0.1:{closed}" in out.stdout.strip().splitlines()[-1]
    assert "backend_down" in receiver.events(), receiver.got
    down = receiver.got[receiver.events().index("backend_down")]
    assert "openrouter" in down["message"] and "sim-key" not in json.dumps(receiver.got)

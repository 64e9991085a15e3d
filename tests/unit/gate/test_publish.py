"""All-or-nothing gate export: a gate killed (SIGKILL) at any point between its writes leaves the
old complete export with its report, or the new one; never a mix. Leftovers go on the next start."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from watcher.config import PACKAGED_CONFIGS, apply_overrides, dump_config, load_config, parse_config
from watcher.gate.export import SPLITS
from watcher.gate.publish import VERSION_PREFIX
from watcher.gate.run import run_gate
from watcher.generate.traces import build_synth_trace, natural_trace
from watcher.run.paths import RunPaths
from watcher.run.records import Accepted, Usage, encode_line, item_id

WORDS = [f"{a}{b}" for a in ("mor", "tel", "van", "sil", "kor", "bel") for b in ("a", "en", "ish", "o", "ar")]


def lines(n: int, start: int = 0) -> bytes:
    rng = random.Random(start)
    rubric = [{"criterion": "line_count", "expected": "14 lines", "score": 1.0, "instruction": "14 lines"}]
    out = []
    for i in range(start, start + n):
        text = "\n".join(" ".join(rng.choice(WORDS) for _ in range(8)) for _ in range(14))
        out.append(encode_line(Accepted(
            id=item_id("poetry", "Sonnet", i), job="poetry", prompt=f"Write a Sonnet about rivers #{i}",
            synth_trace=build_synth_trace("Sonnet", {"form": "Sonnet", "topic": "rivers", "tone": "calm"},
                                          rubric, 0.9, []),
            natural_trace=natural_trace("I plan a sonnet."), score=0.9, passed=True, rubric=rubric,
            attempts=1, model="m", backend="claude", finish_reason="stop", finish_reason_raw="end_turn",
            usage=Usage(input_tokens=1, output_tokens=1), cost_usd=0.0, latency_s=0.1, worker=0,
            timestamp="2026-02-13T03:00:00Z", form="Sonnet", poem=text)))
    return b"".join(out)


def make_run(tmp_path: Path, n: int) -> Path:
    cfg, _ = load_config(PACKAGED_CONFIGS / "poetry.toml")
    data = apply_overrides(cfg.model_dump(mode="json", exclude_none=True),
                           {"poetry.forms": ["Sonnet"], "poetry.num": n})
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.toml").write_text(dump_config(parse_config(data, "test")))
    (run / "dataset.jsonl").write_bytes(lines(n))
    return run


def export_state(run: Path) -> tuple[int, dict[str, int]]:
    """(the report's total, lines per split), asserting the report describes the files beside it."""
    p = RunPaths(run)
    rep = json.loads(p.gate_report.read_text())
    counts = {s: len(p.export_split(s).read_bytes().splitlines()) for s in SPLITS}
    assert counts == rep["exported"], (counts, rep["exported"])
    return rep["total"], counts


# Each point names a call inside the gate and whether the kill comes before or after it.
KILL_POINTS = [
    ("writelines", "after"),  # part of a split written
    ("atomic_write_json", "before"),  # splits done, report not yet
    ("atomic_write_json", "after"),  # report written into the new version, not swapped in
    ("replace", "before"),  # temp symlink made, not renamed onto gate
    ("replace", "after"),  # swapped in, old version not yet removed
    ("rmtree", "before"),
]

CHILD = textwrap.dedent("""
    import os, signal, sys
    from pathlib import Path
    import watcher.gate.publish as pub, watcher.gate.run as gr
    name, when, run = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    def die():
        os.kill(os.getpid(), signal.SIGKILL)
    def wrap(fn):
        def w(*a, **k):
            if when == "before":
                die()
            r = fn(*a, **k)
            die()
            return r
        return w
    if name == "writelines":
        orig_init = gr.ExportWriter.__init__
        def init(self, d):
            orig_init(self, d)
            f0 = self.files[0]
            class K:  # the train file: killed once its first lines are on disk
                def __getattr__(s, a):
                    return getattr(f0, a)
                def writelines(s, ls):
                    f0.writelines(ls); f0.flush(); die()
            self.files[0] = K()
        gr.ExportWriter.__init__ = init
    elif name == "atomic_write_json":
        gr.atomic_write_json = wrap(gr.atomic_write_json)
    elif name == "replace":
        real, swap = os.replace, wrap(os.replace)
        # os.replace also renames temp files elsewhere: only the swap of the gate link counts.
        pub.os.replace = lambda a, b: swap(a, b) if Path(b).name == "gate" else real(a, b)
    elif name == "rmtree":
        pub.shutil.rmtree = wrap(pub.shutil.rmtree)
    gr.run_gate(run)
    print("not killed")
""")


@pytest.mark.slow
@pytest.mark.parametrize(("name", "when"), KILL_POINTS)
def test_kill_between_export_writes_leaves_old_or_new(tmp_path: Path, name: str, when: str) -> None:
    run = make_run(tmp_path, 40)
    run_gate(run)
    old = export_state(run)
    assert old[0] == 40
    with open(run / "dataset.jsonl", "ab") as f:  # the next gate sees more records
        f.write(lines(4000, start=40))
    proc = subprocess.run([sys.executable, "-c", CHILD, name, when, str(run)], capture_output=True,
                          text=True, timeout=120, env={**os.environ, "PYTHONPATH": os.environ.get("PYTHONPATH", "")})
    assert proc.returncode == -signal.SIGKILL, proc.stdout + proc.stderr
    state = export_state(run)
    assert state == old or state[0] == 4040, state
    if name == "rmtree" or (name == "replace" and when == "after"):
        assert state[0] == 4040  # the swap is done: the new export, whole
    else:
        assert state == old
    # The next gate removes what the killed one left and publishes a whole new export.
    rep = run_gate(run)
    assert rep.total == 4040 and export_state(run)[0] == 4040
    left = sorted(p.name for p in run.iterdir() if p.name.startswith((VERSION_PREFIX, ".gate")))
    assert left == [os.readlink(run / "gate")], left


def test_plain_gate_directory_from_before_is_replaced(tmp_path: Path) -> None:
    run = make_run(tmp_path, 10)
    legacy = run / "gate"
    legacy.mkdir()
    (legacy / "report.json").write_text("{}")
    (legacy / "train.jsonl").write_text("old\n")
    rep = run_gate(run)
    assert (run / "gate").is_symlink() and export_state(run) == (10, rep.exported)
    assert sorted(p.name for p in run.iterdir() if p.name.startswith(VERSION_PREFIX)) == [os.readlink(run / "gate")]


def test_a_live_gates_version_is_left_alone(tmp_path: Path) -> None:
    run = make_run(tmp_path, 10)
    run_gate(run)
    dead = run / f"{VERSION_PREFIX}999999999.1"  # no such pid: a killed gate's leftover
    dead.mkdir()
    live = run / f"{VERSION_PREFIX}1.1"  # pid 1 is alive: another gate still writing
    live.mkdir()
    run_gate(run)
    assert not dead.exists() and live.exists()

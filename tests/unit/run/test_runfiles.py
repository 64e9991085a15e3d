"""The locked appender: whole lines, partial-line repair, concurrent writers; atomic state files."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import subprocess
import sys
import time

import orjson

from watcher.run.files import JsonlAppender, atomic_write_json, pid_alive, read_json


def test_partial_last_line_is_repaired_before_append(tmp_path):
    p = tmp_path / "d.jsonl"
    p.write_bytes(b'{"id": "a"}\n{"id": "b", "poem": "cut in ha')
    with JsonlAppender(p) as app:
        app.append(b'{"id": "c"}\n')
        assert app.repaired_bytes == len(b'{"id": "b", "poem": "cut in ha')
    assert [orjson.loads(x)["id"] for x in p.read_bytes().splitlines()] == ["a", "c"]


def test_file_that_is_only_a_partial_line(tmp_path):
    p = tmp_path / "d.jsonl"
    p.write_bytes(b'{"id": "x", "broken')
    with JsonlAppender(p) as app:
        app.append(b'{"id": "y"}\n')
    assert p.read_bytes() == b'{"id": "y"}\n'


def _writer(path: str, wid: int, n: int) -> None:
    with JsonlAppender(__import__("pathlib").Path(path)) as app:
        for i in range(n):
            app.append(orjson.dumps({"w": wid, "i": i, "pad": "x" * 3000}) + b"\n")


def test_concurrent_writers_never_interleave(tmp_path):
    p = tmp_path / "d.jsonl"
    procs = [mp.Process(target=_writer, args=(str(p), w, 300)) for w in range(4)]
    for pr in procs:
        pr.start()
    for pr in procs:
        pr.join()
    lines = p.read_bytes().splitlines()
    assert len(lines) == 1200
    seen = {(d["w"], d["i"]) for d in map(orjson.loads, lines)}
    assert len(seen) == 1200


def test_killed_writer_leaves_at_most_one_partial_line(tmp_path):
    p = tmp_path / "d.jsonl"
    code = ("import sys, orjson; from pathlib import Path; from watcher.run.files import JsonlAppender\n"
            "app = JsonlAppender(Path(sys.argv[1]))\n"
            "i = 0\n"
            "while True:\n"
            "    app.append(orjson.dumps({'i': i, 'pad': 'y' * 20000}) + b'\\n'); i += 1\n")
    proc = subprocess.Popen([sys.executable, "-c", code, str(p)])
    deadline = time.time() + 10
    while (not p.exists() or p.stat().st_size < 2_000_000) and time.time() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    with JsonlAppender(p) as app:
        app.append(b'{"i": "after"}\n')
    lines = p.read_bytes().split(b"\n")
    assert lines[-1] == b""
    parsed = [orjson.loads(x) for x in lines[:-1]]  # every line parses: nothing broken is left
    assert parsed[-1] == {"i": "after"}
    assert [d["i"] for d in parsed[:-1]] == list(range(len(parsed) - 1))


def test_atomic_json_and_pid_alive(tmp_path):
    p = tmp_path / "s.json"
    atomic_write_json(p, {"a": 1})
    assert read_json(p) == {"a": 1}
    assert read_json(tmp_path / "missing.json", "dflt") == "dflt"
    (tmp_path / "bad.json").write_text("{")
    assert read_json(tmp_path / "bad.json", {}) == {}
    assert pid_alive(os.getpid())
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    assert not pid_alive(proc.pid)
